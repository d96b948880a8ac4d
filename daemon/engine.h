/* A backend that owns a flow table: the userspace classifier (replay), the
 * BPF program driven by BPF_PROG_TEST_RUN (replay) or attached to links
 * (live).  Everything above it (sweeping, output) is shared. */
#ifndef TW_ENGINE_H
#define TW_ENGINE_H
#include <stdint.h>
#include <tamperwatch/event.h>
#include "pcap_in.h"
#include "pipeline.h"

typedef int (*tw_flow_cb)(void *arg, const struct tw_flow_key *k, const struct tw_flow *f);

struct tw_engine {
	const char *name;
	struct tw_pipeline *pl;
	/* replay: account one frame taken at f->ts_ns; events go to pl */
	int (*process)(struct tw_engine *e, const struct tw_frame *f);
	/* visit every flow; cb returning non-zero stops the walk */
	int (*for_each_flow)(struct tw_engine *e, tw_flow_cb cb, void *arg);
	int (*remove_flow)(struct tw_engine *e, const struct tw_flow_key *k);
	/* counters summed over CPUs; lost_per_cpu may be NULL */
	void (*counters)(struct tw_engine *e, uint64_t out[TW_CNT_MAX], uint64_t *lost_per_cpu, int max_cpu, int *ncpu);
	void (*destroy)(struct tw_engine *e);
	uint64_t flows_active;   /* flows the last sweep walked (status snapshot) */
};

struct tw_engine *tw_engine_user_new(struct tw_pipeline *pl, uint32_t max_flows, char *err, size_t errlen);
#endif
