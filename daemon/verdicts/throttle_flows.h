/* The rate series of the flows being watched for throttling: the periodic
 * flow_rate snapshots of each busy TCP flow, kept until the flow ends, then
 * classified (verdicts/throttle.h) and, for policing or shaping, written as
 * a per-flow tamper record with method "throttling".  Bounded: a flow that
 * finds the table full is not kept, and counted. */
#ifndef TW_THROTTLE_FLOWS_H
#define TW_THROTTLE_FLOWS_H
#include <stdint.h>
#include <tamperwatch/event.h>
#include "verdicts/throttle.h"
#include "util/line.h"

struct tw_pipeline;
struct tw_tamper;
struct tw_jb;
struct tw_thr_flows;

struct tw_thr_flows_stats {
	uint64_t flows;      /* flows whose series was kept */
	uint64_t dropped;    /* flows not kept: table full or out of memory */
	uint64_t judged;     /* ended flows classified */
	uint64_t by_kind[5]; /* enum tw_thr_kind */
};

struct tw_thr_flows *tw_thr_flows_new(uint32_t max_flows);
void tw_thr_flows_free(struct tw_thr_flows *t);
/* A TW_EV_FLOW_RATE snapshot. */
void tw_thr_flows_sample(struct tw_thr_flows *t, const struct tw_event *e);
/* A TW_EV_FLOW_END: classify the flow's series with its last snapshot and
 * forget it.  Returns 1 with *v filled when the flow had a series. */
int tw_thr_flows_end(struct tw_thr_flows *t, const struct tw_event *e, const struct tw_thr_cfg *c,
                     struct tw_thr_verdict *v);
const struct tw_thr_flows_stats *tw_thr_flows_stats(const struct tw_thr_flows *t);
/* The tamper record of a policed or shaped flow (README "Throttling");
 * head writes the record's common fields (verdict.c); the line goes to sink. */
typedef void (*tw_record_head_fn)(const struct tw_pipeline *pl, struct tw_jb *b, const struct tw_event *e,
                                  const char *type);
void tw_thr_write_tamper(const struct tw_pipeline *pl, const struct tw_line_sink *sink, tw_record_head_fn head,
                         const struct tw_event *e, const char *sni, const char *host, const struct tw_thr_verdict *v,
                         struct tw_tamper *out);
#endif
