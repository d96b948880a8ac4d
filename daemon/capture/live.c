/* Live: the BPF programs are attached; poll the ring buffer, sweep ended
 * flows once a second, write stats, and on SIGINT/SIGTERM take everything
 * off the links before the last drain. */
#include "capture/run.h"
#include "capture/engine_bpf.h"
#include "capture/linkwatch.h"
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

volatile sig_atomic_t tw_stop;
volatile sig_atomic_t tw_hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		tw_hup = 1;
	else
		tw_stop = 1;
}

void tw_run_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int tw_live_run(struct tw_engine *e, const struct tw_run_hooks *h, struct tw_link *links, int nlinks,
                const struct tw_timeouts *t, unsigned stats_interval_s, struct tw_linkwatch *lw)
{
	uint64_t next_sweep = mono_ns() + 1000000000ull;
	uint64_t next_stats = stats_interval_s ? mono_ns() + stats_interval_s * 1000000000ull : UINT64_MAX;
	int rc = 0;

	while (!tw_stop) {
		int n = e->poll(e, 200);
		if (n < 0 && n != -4 /* EINTR */) {
			fprintf(stderr, "tamperwatchd: ring buffer poll failed (%d)\n", n);
			rc = 1;
			break;
		}
		if (lw)
			tw_linkwatch_poll(lw);
		h->flush(h->arg);
		if (tw_hup) {
			tw_hup = 0;
			h->reopen(h->arg);
		}
		uint64_t now = mono_ns();
		if (now >= next_sweep) {
			tw_sweep(e, now, t, 0);
			h->tick(h->arg, now, 0);
			next_sweep = now + 1000000000ull;
		}
		if (now >= next_stats) {
			h->stats(h->arg, wall_ns(), NULL, 0);
			next_stats = now + stats_interval_s * 1000000000ull;
		}
	}
	for (int i = 0; i < nlinks; i++)
		tw_link_detach(&links[i], tw_engine_bpf_prog_fd(e, 1));
	if (e->detach)
		e->detach(e);
	e->poll(e, 0);
	uint64_t end = mono_ns();
	tw_sweep(e, end, t, 1);
	h->tick(h->arg, end, 1);
	h->stats(h->arg, wall_ns(), NULL, 1);
	return rc;
}
