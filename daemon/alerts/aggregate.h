/* Per-target blocking alerts (README "Alerts"): every flow outcome of the
 * verdict engine is counted per target (domain if known, else server IP,
 * plus port and protocol) over a sliding window; when enough independent
 * flows and client prefixes agree an alert is raised, updated while it
 * lasts and resolved when the target works again or stays quiet.  One
 * alert.id from raised to resolved, across restarts (state directory). */
#ifndef TW_AGGREGATE_H
#define TW_AGGREGATE_H
#include <stddef.h>
#include <stdint.h>
#include "verdicts/verdict.h"

struct tw_legit;
struct tw_regions;
struct tw_sampling;

struct tw_agg_cfg {
	int window;                       /* alerts.window (s): sliding window for raising */
	double min_confidence;            /* alerts.min_confidence: active methods */
	double min_confidence_timeout;    /* alerts.min_confidence_timeout: silence (timeout) verdicts */
	int min_flows;                    /* alerts.min_flows: tampered flows (active) */
	int min_prefixes;                 /* alerts.min_prefixes */
	double min_ratio;                 /* alerts.min_ratio: share of flows tampered */
	int blackhole_min_flows;          /* alerts.blackhole_min_flows: silence verdicts, as the next two */
	int blackhole_min_prefixes;       /* alerts.blackhole_min_prefixes */
	double blackhole_min_ratio;       /* alerts.blackhole_min_ratio (all three must hold) */
	int require_control;              /* deployment.profile = vantage: a prefix's silence counts only while
	                      * one of its flows to another target was answered in the window */
	int resolve_after;                /* alerts.resolve_after (s) without a tampered flow */
	int resolve_ok_flows;             /* alerts.resolve_ok_flows: consecutive answered clean flows */
	int update_interval;              /* alerts.update_interval (s): at most one update per alert */
	int max_targets;                  /* alerts.max_targets */
	int state_interval;               /* state.interval (s) */
	const char *evidence_dir;         /* evidence.dir: alerts name DIR/<id>.pcap; NULL: off */
	const struct tw_regions *regions; /* regions.file: scope.region/asn of the client prefixes; NULL: none */
	/* throttling by a shaper (a per-target aggregate, docs/detection.md "Throttling") */
	double throttle_control_ratio; /* alerts.throttle_control_ratio: other targets this many times faster (3) */
	int throttle_control_flows;    /* alerts.throttle_control_flows: rated flows to other targets at least (2) */
	double throttle_queue_ms;      /* alerts.throttle_queue_ms: RTT growth of a queued flow at least (60) */
	const struct tw_sampling *sampling; /* events lost by the backend (alert stats.events_lost); NULL: none */
	double throttle_plateau_cv; /* alerts.throttle_plateau_cv: shaping's site goodput per 2 s, stddev/mean at most (0.6) */
};
void tw_agg_cfg_default(struct tw_agg_cfg *c);

/* emit: one finished JSON line (with '\n') */
typedef void (*tw_agg_emit_cb)(void *arg, const char *line, size_t len);

/* state_dir NULL: no state.  Restores from state_dir; a corrupt state file
 * is reported on stderr and set aside.  NULL with err on failure. */
struct tw_agg *tw_agg_new(const struct tw_agg_cfg *cfg, const struct tw_legit *legit, const char *state_dir,
                          tw_agg_emit_cb emit, void *emit_arg, char *err, size_t errlen);
void tw_agg_outcome(void *agg, const struct tw_flow_outcome *o); /* a tw_outcome_cb */
void tw_agg_tick(void *agg, uint64_t now_ns, int final);         /* a pipeline tick */
/* write the state file now: 0 or -1 (reported on stderr) */
int tw_agg_save(struct tw_agg *a);
size_t tw_agg_open_alerts(const struct tw_agg *a);
/* What aggregation holds and what it could not (count every drop). */
struct tw_agg_stats {
	uint64_t targets;                 /* targets counted now */
	uint64_t targets_dropped;         /* outcomes not counted: alerts.max_targets reached (or no memory) */
	uint64_t open;                    /* open alerts */
	uint64_t prefixes;                /* client prefixes with flows in the window (the "other targets" yardstick) */
	uint64_t prefixes_dropped;        /* flows of prefixes beyond its limit: their prefix is never judged dark */
	uint64_t throttling_uncontrolled; /* policing cases not alerted for want of a control (once per case) */
};
void tw_agg_get_stats(const struct tw_agg *a, struct tw_agg_stats *s);
struct tw_jb;
/* the stats record's "alerts" section (a tw_stats_section_fn) */
void tw_agg_stats_json(void *agg, struct tw_jb *b);
/* The operator's "most affected targets" (tamperwatch targets): at most n
 * targets with tampered flows in the window or an open alert, most tampered
 * flows first, as one JSON array in buf (domain, ip, port, proto, flows,
 * tampered_flows, share, methods_seen, clients, alert_id).  Walks the
 * window's records once.  Length written, 0 if cap is too small. */
size_t tw_agg_top_targets(const struct tw_agg *a, uint64_t now, int n, char *buf, size_t cap);
void tw_agg_free(struct tw_agg *a);
/* Aggregation's own bookkeeping against what it stands for (for tests):
 * the site index against a walk over every target (the same members in the
 * same order), and each target's share counts against a scan of its
 * records (every class and grouping, the configured thresholds).  0, or -1
 * with what differs in err. */
int tw_agg_check(struct tw_agg *a, char *err, size_t cap);

/* DIR/ID.pcap into out: what an alert line names as its evidence file and
 * the evidence sink (outputs/evidence.c) writes.  0, or -1 when id is not a
 * safe file name ([A-Za-z0-9_-], 1..64). */
int tw_evidence_path(const char *dir, const char *id, char *out, size_t cap);
#endif
