/* The periodic and final "stats" record: every counter of the backend and
 * the pipeline, so nothing is dropped without a number saying so. */
#ifndef TW_STATS_H
#define TW_STATS_H
#include <stdint.h>
#include "capture/engine.h"
#include "capture/run.h"
#include "events/pipeline.h"
#include "outputs/output.h"
#include "outputs/types.h"
#include "outputs/status.h"
#include "util/line.h"
#include "capture/sampling.h"

struct tw_verdict;
struct tw_jb;

/* More members of the "stats" object from parts that keep their own
 * counters (aggregation, shutdown, the outputs of main's sink table): fn
 * writes them with tw_jb_*, in the order added. */
typedef void (*tw_stats_section_fn)(void *arg, struct tw_jb *b);
#define TW_STATS_MAX_SECTIONS 16

/* Everything the record counts, wired by main. */
struct tw_stats_src {
	struct tw_engine *eng;
	const struct tw_pipeline *pl;
	const struct tw_event_writer *writer;
	const struct tw_output *out;
	const struct tw_out_types *types;   /* NULL: no filter (lines_not_selected counts the writer's only) */
	struct tw_status *status;           /* live: events_per_s from its last tick (NULL: not written) */
	const struct tw_verdict *verdict;   /* NULL: --no-verdicts */
	const struct tw_sampling *sampling; /* flow sampling in force (NULL: 1) */
	struct tw_line_sink line;           /* where the record goes */
	struct {
		tw_stats_section_fn fn;
		void *arg;
	} sections[TW_STATS_MAX_SECTIONS];
	int nsections;
};

/* 0, or -1 when all TW_STATS_MAX_SECTIONS are taken (a build-time bound). */
int tw_stats_add_section(struct tw_stats_src *s, tw_stats_section_fn fn, void *arg);

/* ts_ns: wall-clock time of the record; replay may be NULL (live). */
void tw_stats_write(const struct tw_stats_src *s, uint64_t ts_ns, const struct tw_replay_totals *replay, int final);
#endif
