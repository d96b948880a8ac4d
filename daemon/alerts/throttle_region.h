/* Region-wide throttling (docs/alerts.md "Region-wide throttling"): every
 * target of a region (regions.file), or of a client prefix without one,
 * collapses to a low common rate.  The per-target alert cannot see it: its
 * control, the same clients' flows to other targets, is as slow.  Here the
 * unit is the group (region, else prefix) and the controls are the group's
 * own flows before the collapse (its baseline) and other groups' flows to
 * the same targets at the same time.  One alert per group, raised, updated
 * and resolved under one id; a shutdown of the same group raised while the
 * alert is open, or within region_throttling.related_window after its last
 * line, names it (tw_rthr_related). */
#ifndef TW_THROTTLE_REGION_H
#define TW_THROTTLE_REGION_H
#include <stddef.h>
#include <stdint.h>
#include "verdicts/verdict.h"

struct tw_regions;
struct tw_jb;

struct tw_rthr_cfg {
	int enabled;          /* region_throttling.enabled (1) */
	int window;           /* region_throttling.window (s): flows judged together (300) */
	int min_flows;        /* policed or shaped flows of the group in the window at least (6) */
	int min_targets;      /* ... to this many distinct targets (3) */
	double min_ratio;     /* ... this share of the group's rated flows (0.6) */
	double max_spread;    /* their rates' interquartile range over the median at most (0.5) */
	double speedup;       /* the baseline, and the other groups, this many times faster (3) */
	int baseline_flows;   /* earlier flows of the group that make a baseline (4) */
	int require_baseline; /* no alert without the group's own baseline (1) */
	int control_flows;    /* other groups' flows to the same targets that make a control (2) */
	int resolve_after;    /* s without a policed or shaped flow: resolved (300) */
	int update_interval;  /* s: at most one update per alert (60) */
	int related_window;   /* s after a throttling alert's last line that a shutdown refers to it (3600) */
	int max_groups;       /* groups tracked (4096); more are counted and dropped */
	const struct tw_regions *regions; /* regions.file; NULL: every prefix is its own group */
};
void tw_rthr_cfg_default(struct tw_rthr_cfg *c);

typedef void (*tw_rthr_emit_cb)(void *arg, const char *line, size_t len);

struct tw_rthr *tw_rthr_new(const struct tw_rthr_cfg *cfg, tw_rthr_emit_cb emit, void *emit_arg);
void tw_rthr_free(struct tw_rthr *t);
void tw_rthr_outcome(void *t, const struct tw_flow_outcome *o); /* a tw_outcome_cb */
void tw_rthr_tick(void *t, uint64_t now_ns, int final);         /* a pipeline tick */

/* The id of the throttling alert of the group of a shutdown (region, else
 * the prefix key) open at now, or whose last line is within
 * related_window before now; NULL if none.  Valid until the next call. */
const char *tw_rthr_related(void *t, const char *key, const char *region, uint64_t now_ns);

struct tw_rthr_stats {
	uint64_t groups;         /* groups tracked */
	uint64_t groups_dropped; /* flows not counted: region_throttling.max_groups reached (or no memory) */
	uint64_t flows_dropped;  /* rated flows pushed out of a full group window before their time */
	uint64_t open;           /* open alerts */
	uint64_t raised;         /* alerts raised since start */
};
void tw_rthr_get_stats(const struct tw_rthr *t, struct tw_rthr_stats *s);
/* the stats record's "region_throttling" section (a tw_stats_section_fn) */
void tw_rthr_stats_json(void *t, struct tw_jb *b);
#endif
