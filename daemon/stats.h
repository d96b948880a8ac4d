/* The periodic and final "stats" record: every counter of the backend and
 * the pipeline, so nothing is dropped without a number saying so. */
#ifndef TW_STATS_H
#define TW_STATS_H
#include <stdint.h>
#include "capture/engine.h"
#include "capture/pcap_in.h"

struct tw_replay_totals {
	uint64_t files;
	uint64_t frames;
	uint64_t skipped_truncated_l2;
	uint64_t skipped_unsupported_l3;
	uint64_t out_of_order;
	uint64_t read_errors;
	uint64_t clipped_frames; /* longer than TW_PCAP_MAX_FRAME: cut to it */
};

/* Name of the untracked-packet reason TW_CNT_PARSE_BASE + i ("not_ip", ...), NULL if none. */
const char *tw_stats_parse_name(int i);
/* More members of the "stats" object from parts that keep their own
 * counters (the Alertmanager sink, ...): fn writes them with tw_jb_*.
 * Process-wide (one daemon per process).  0, or -1 when all
 * TW_STATS_MAX_SECTIONS are taken (a build-time bound). */
#define TW_STATS_MAX_SECTIONS 8
struct tw_jb;
typedef void (*tw_stats_section_fn)(void *arg, struct tw_jb *b);
int tw_stats_add_section(tw_stats_section_fn fn, void *arg);
void tw_stats_remove_section(void *arg);

/* ts_ns: wall-clock time of the record; replay may be NULL (live). */
void tw_stats_write(struct tw_engine *e, uint64_t ts_ns, const struct tw_replay_totals *replay, int final);
#endif
