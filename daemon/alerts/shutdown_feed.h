/* Feeds the shutdown detector (shutdown.h) from an engine's per-client-
 * prefix counters: every `interval` of the run's clock (capture time on
 * replay) it closes the counters' epoch, turns the cumulative counts into
 * per-interval samples (deltas scaled to one interval, distinct clients
 * from the sketch), labels each prefix with its region, hands them to the
 * detector in key order (so every engine gives the same output), and
 * reports our own blind spots as gaps: an interval in which the backend
 * saw no packet at all (a capture that stopped, not a network: a cut-off
 * network still shows its clients' packets), a poll that came late (live:
 * the daemon stalled; replay: the capture had nothing for two intervals),
 * and counters that went backwards.  Baselines and open alerts are saved
 * to the state directory every state.interval, at the end, and at the tick
 * a shutdown alert is raised or resolved (a crash then neither raises it
 * again nor forgets its resolution).
 *
 * The same polls, and nothing else, make the per-prefix traffic summaries
 * (docs/schema.md "prefix_summary"): with summary_s set, every summary_s
 * of the run's clock (at the first poll on or after each boundary, and at
 * the end) one "prefix_summary" line per counted prefix, in key order, to
 * the summary line sink: its packets, bytes and answered flows over the
 * window, the most distinct clients of one poll interval and the port
 * classes' shares.  Aggregates of a prefix only, never a client. */
#ifndef TW_SHUTDOWN_FEED_H
#define TW_SHUTDOWN_FEED_H
#include <stdint.h>
#include "capture/engine.h"
#include "regions.h"
#include "alerts/shutdown.h"
#include "util/line.h"

struct tw_sdfeed_stats {
	uint64_t polls, samples, gaps_no_packets, gaps_late, counter_resets, prefixes_unlabelled, state_saves,
	        state_errors;
	uint64_t summaries;               /* prefix_summary lines written */
	uint64_t summaries_dropped;       /* lines that did not fit their buffer (never expected) */
	uint64_t summary_prefixes_missed; /* prefixes with counts in a window that the closing poll lacked */
};

struct tw_sdfeed_opts {
	uint32_t interval_s;         /* as the detector's (shutdown.interval) */
	const char *state_dir;       /* NULL: baselines are not kept */
	uint32_t state_interval_s;   /* seconds between saves (state.interval) */
	int replay;                  /* the clock is a capture's: a late poll is a capture gap */
	uint32_t summary_s;          /* shutdown.summary_interval: seconds between prefix summaries, 0 = none */
	struct tw_line_sink summary; /* where prefix_summary lines go (main: the log, then NATS) */
};

/* The feed does not own e, sd or r.  NULL on out of memory. */
struct tw_sdfeed *tw_sdfeed_new(struct tw_engine *e, struct tw_shutdown *sd, const struct tw_regions *r,
                                const struct tw_sdfeed_opts *o);
/* A pipeline tick (arg: the feed). */
void tw_sdfeed_tick(void *feed, uint64_t now_wall_ns, int final);
void tw_sdfeed_get_stats(const struct tw_sdfeed *f, struct tw_sdfeed_stats *st);
void tw_sdfeed_free(struct tw_sdfeed *f);
/* The "shutdown" member of the stats record (a pipeline stats writer). */
struct tw_jb;
void tw_sdfeed_stats_json(void *feed, struct tw_jb *b);
/* Linear-counting estimate of distinct clients from a 256-bit sketch. */
double tw_sketch_estimate(const uint64_t w[TW_PFX_SKETCH_WORDS]);
/* How many counting prefixes (/v4_len, /v6_len) the client networks span,
 * saturating at 2^40: more than TW_PFX_MAX means some may go uncounted. */
uint64_t tw_sdfeed_span(const struct tw_regions *r, int v4_len, int v6_len);
#endif
