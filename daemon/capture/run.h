/* The two ways the daemon runs: live on links, or replaying captures. */
#ifndef TW_RUN_H
#define TW_RUN_H
#include <signal.h>
#include "capture/attach.h"
#include "capture/engine.h"
#include "stats.h"
#include "capture/sweep.h"

extern volatile sig_atomic_t tw_stop; /* SIGINT/SIGTERM */
extern volatile sig_atomic_t tw_hup;  /* SIGHUP: reopen outputs */

/* Returns 0, or 1 when some input had a fault (reported, the rest processed). */
int tw_replay_run(struct tw_engine *e, char *const *files, int nfiles, const struct tw_timeouts *t,
                  struct tw_replay_totals *tot);
struct tw_linkwatch;
/* lw: polled after every ring-buffer poll (NULL: links not watched). */
int tw_live_run(struct tw_engine *e, struct tw_link *links, int nlinks, const struct tw_timeouts *t,
                unsigned stats_interval_s, struct tw_linkwatch *lw);
#endif
