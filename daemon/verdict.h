/* Per-flow tampering verdicts: joins a flow's events (request, RSTs, first
 * response, DNS answers) and, when the flow ends, decides whether the
 * evidence shows tampering, which method, which signature, which anomalies
 * and with what confidence.  Rules and weights: README "Verdicts". */
#ifndef TW_VERDICT_H
#define TW_VERDICT_H
#include <stdint.h>
#include <tamperwatch/event.h>

struct tw_pipeline;
struct tw_fp_db;
struct tw_verdict;

struct tw_verdict_stats {
	uint64_t verdicts[8];          /* by method (enum in verdict.c order) */
	uint64_t flows_dropped;        /* flow contexts not kept: table full */
	uint64_t suppressed_benign;    /* RSTs that matched the server's own pattern */
};

struct tw_verdict *tw_verdict_new(struct tw_pipeline *pl, const struct tw_fp_db *fp, uint32_t max_flows);
void tw_verdict_event(struct tw_verdict *v, const struct tw_event *e);
const struct tw_verdict_stats *tw_verdict_stats(const struct tw_verdict *v);
void tw_verdict_free(struct tw_verdict *v);
#endif
