/* The periodic and final "stats" record: every counter of the backend and
 * the pipeline, so nothing is dropped without a number saying so. */
#ifndef TW_STATS_H
#define TW_STATS_H
#include <stdint.h>
#include "engine.h"
#include "pcap_in.h"

struct tw_replay_totals {
	uint64_t files;
	uint64_t frames;
	uint64_t skipped_truncated_l2;
	uint64_t skipped_unsupported_l3;
	uint64_t out_of_order;
	uint64_t read_errors;
};

/* ts_ns: wall-clock time of the record; replay may be NULL (live). */
void tw_stats_write(struct tw_engine *e, uint64_t ts_ns, const struct tw_replay_totals *replay, int final);
#endif
