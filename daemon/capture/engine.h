/* A backend that owns a flow table: the userspace classifier (replay), the
 * BPF program driven by BPF_PROG_TEST_RUN (replay) or attached to links
 * (live).  Everything above it (sweeping, output) is shared. */
#ifndef TW_ENGINE_H
#define TW_ENGINE_H
#include <stdint.h>
#include <tamperwatch/event.h>
#include "capture/pcap_in.h"
#include <tamperwatch/prefix.h>
#include <tamperwatch/maps.h>

struct tw_regions;

/* Per-client-prefix counters (shutdown detection): off unless on = 1.
 * Must be known when the engine is made (the BPF program prunes the
 * counting code at load when off). */
struct tw_prefix_opts {
	int on;
	int v4_len, v6_len; /* counting prefix lengths (24, 48) */
};

/* One prefix at a poll: cumulative counters summed over CPUs, and the
 * distinct-client sketch of the epoch the poll just closed (ORed). */
struct tw_pfx_sample {
	struct tw_pfx_key key;
	uint64_t packets, bytes, new_flows;
	uint64_t class_packets[TW_PFX_NCLASS];
	uint64_t clients[TW_PFX_SKETCH_WORDS];
};
typedef void (*tw_pfx_cb)(void *arg, const struct tw_pfx_sample *s);

typedef int (*tw_flow_cb)(void *arg, const struct tw_flow_key *k, const struct tw_flow *f);

/* A backend's flow tables, for the stats record: the BPF backend's IPv4
 * and IPv6 LRU maps (maps.h). */
enum { TW_FT_IPV4 = 0, TW_FT_IPV6 = 1, TW_FT_MAX };
struct tw_flow_table_stats {
	uint64_t size;    /* entries (preallocated) */
	uint64_t evicted; /* flows the table dropped to make room (LRU), not ended by the daemon */
};

/* Where a backend hands its event records (len: bytes at e): the layer
 * above registers here (main wires the event pipeline), capture knows
 * nothing above it. */
typedef void (*tw_record_fn)(void *arg, const struct tw_event *e, size_t len);
struct tw_record_sink {
	tw_record_fn fn;
	void *arg;
};

struct tw_engine {
	const char *name;
	struct tw_record_sink events;
	/* replay: account one frame taken at f->ts_ns; events go to events */
	int (*process)(struct tw_engine *e, const struct tw_frame *f);
	/* visit every flow; cb returning non-zero stops the walk */
	int (*for_each_flow)(struct tw_engine *e, tw_flow_cb cb, void *arg);
	int (*remove_flow)(struct tw_engine *e, const struct tw_flow_key *k);
	/* counters summed over CPUs; lost_per_cpu may be NULL */
	void (*counters)(struct tw_engine *e, uint64_t out[TW_CNT_MAX], uint64_t *lost_per_cpu, int max_cpu, int *ncpu);
	/* NULL, or fills out[] and returns how many tables (TW_FT_MAX) */
	int (*flow_tables)(struct tw_engine *e, struct tw_flow_table_stats out[TW_FT_MAX]);
	void (*destroy)(struct tw_engine *e);
	/* 1-in-n flow sampling from now on (include/tamperwatch/sample.h),
	 * n in 1..TW_SAMPLE_MAX: 0, or -1 with errno */
	int (*set_sampling)(struct tw_engine *e, uint32_t n);
	uint64_t flows_active; /* flows the last sweep walked (status snapshot) */
	/* per-prefix counters (NULL members when the engine has them off):
	 * the client networks (every prefix of the regions file), 0 or -1 */
	int (*set_client_nets)(struct tw_engine *e, const struct tw_regions *r, char *err, size_t errlen);
	/* close the sketch epoch and visit every counted prefix; returns how
	 * many, or -1 with errno */
	long (*poll_prefixes)(struct tw_engine *e, tw_pfx_cb cb, void *arg);
	/* live: wait up to timeout_ms for events and hand them to events (<0: error) */
	int (*poll)(struct tw_engine *e, int timeout_ms);
	/* live: stop watching the links (before the last poll); NULL when the
	 * links are detached by attach.c */
	void (*detach)(struct tw_engine *e);
};

/* Name of the untracked-packet reason TW_CNT_PARSE_BASE + i ("not_ip", ...), NULL if none. */
const char *tw_untracked_name(int i);

/* pfx NULL: no per-prefix counters */
struct tw_engine *tw_engine_user_new(const struct tw_record_sink *events, uint32_t max_flows,
                                     const struct tw_prefix_opts *pfx, char *err, size_t errlen);
#endif
