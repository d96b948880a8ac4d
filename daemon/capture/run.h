/* The two ways the daemon runs: live on links, or replaying captures. */
#ifndef TW_RUN_H
#define TW_RUN_H
#include <signal.h>
#include "capture/attach.h"
#include "capture/engine.h"
#include "capture/sweep.h"

struct tw_replay_totals {
	uint64_t files;
	uint64_t frames;
	uint64_t skipped_truncated_l2;
	uint64_t skipped_unsupported_l3;
	uint64_t out_of_order;
	uint64_t read_errors;
	uint64_t clipped_frames; /* longer than TW_PCAP_MAX_FRAME: cut to it */
};

/* What a run loop drives above capture, wired by main (capture knows
 * nothing above it): the time-driven work, the stats record, the outputs. */
struct tw_run_hooks {
	void *arg;
	/* after each sweep, once a second of the run's clock (monotonic live,
	 * capture time on replay), and at the end (final = 1) */
	void (*tick)(void *arg, uint64_t now_ns, int final);
	/* the stats record at wall time ts_ns; tot: replay totals (NULL live) */
	void (*stats)(void *arg, uint64_t ts_ns, const struct tw_replay_totals *tot, int final);
	/* live: after every ring-buffer poll */
	void (*flush)(void *arg);
	/* live: on SIGHUP (reopen the output files) */
	void (*reopen)(void *arg);
};

extern volatile sig_atomic_t tw_stop; /* SIGINT/SIGTERM */
extern volatile sig_atomic_t tw_hup;  /* SIGHUP: reopen outputs */
/* SIGINT/SIGTERM set tw_stop, SIGHUP tw_hup; SIGPIPE ignored (the daemon
 * and the hub alike). */
void tw_run_signals(void);

/* Returns 0, or 1 when some input had a fault (reported, the rest processed). */
int tw_replay_run(struct tw_engine *e, const struct tw_run_hooks *h, char *const *files, int nfiles,
                  const struct tw_timeouts *t, struct tw_replay_totals *tot);
struct tw_linkwatch;
/* lw: polled after every ring-buffer poll (NULL: links not watched). */
int tw_live_run(struct tw_engine *e, const struct tw_run_hooks *h, struct tw_link *links, int nlinks,
                const struct tw_timeouts *t, unsigned stats_interval_s, struct tw_linkwatch *lw);
#endif
