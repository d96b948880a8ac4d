/* Per-flow throttling classifier: a flow's rate evidence over time (the
 * periodic flow_rate snapshots and the flow-end record, include/tamperwatch/
 * rate.h) becomes policing, shaping, congestion, application- or
 * receiver-window-limited, or nothing, with the estimated rate, the
 * direction(s) and a confidence.  In the spirit of Flach et al. (SIGCOMM
 * 2016): policing is a goodput plateau with loss bursts and no RTT growth
 * before the losses; shaping a plateau with RTT growth and few losses;
 * congestion RTT growth and losses without a stable plateau.  Pure: no
 * I/O, no clock, no allocation. */
#ifndef TW_THROTTLE_H
#define TW_THROTTLE_H
#include <stdint.h>
#include <tamperwatch/flow.h>

/* Samples kept per flow; a longer flow keeps every other one (the
 * interval doubles), so memory stays bounded. */
#define TW_THR_MAX_SAMPLES 32

enum tw_thr_kind {
	TW_THR_NONE = 0,    /* too little data, or nothing limits it visibly */
	TW_THR_POLICING,    /* tampering candidate */
	TW_THR_SHAPING,     /* tampering candidate */
	TW_THR_CONGESTION,  /* benign */
	TW_THR_APP_LIMITED, /* benign: the sender or the receiver's window set the pace */
};

/* One direction's data at one instant (from the flow snapshot). */
struct tw_thr_dir {
	uint64_t delivered; /* sequence space covered, bytes */
	uint64_t seen;      /* payload bytes seen, retransmissions included */
	uint32_t packets;
	uint32_t loss_eps;
	uint32_t win_full;
	uint32_t idle_sends;
	uint32_t rtt_min_us; /* RTT through the other side; 0: none */
	uint32_t rtt_max_us; /* largest before the flow's first loss */
};

struct tw_thr_sample {
	uint64_t t_ns;
	struct tw_thr_dir d[2]; /* TW_DIR_* */
};

struct tw_thr_series {
	int n;
	struct tw_thr_sample s[TW_THR_MAX_SAMPLES];
};

/* Thresholds ([throttling] in the configuration; defaults in
 * tw_thr_cfg_default and the README). */
struct tw_thr_cfg {
	uint32_t min_bytes;      /* a direction must deliver this much to be judged (32 KiB) */
	double min_seconds;      /* ... over at least this long (3 s) */
	double plateau_cv;       /* goodput samples this steady (stddev / mean) are a plateau (0.35) */
	uint32_t min_loss_eps;   /* policing needs this many loss episodes (2) */
	double rtt_growth_ms;    /* RTT growth that means a queue: at least this (60 ms) ... */
	double rtt_growth_ratio; /* ... and this times the smallest RTT (1.0) */
	double window_full_frac; /* sends that filled the receiver's window: window-limited (0.10) */
	double idle_frac;        /* sends after an idle period: application-limited (0.05) */
	double timeout_gap_ms;   /* idle sends this far apart (150 ms), nearly every send one of them:
	                          * timeout-paced, a policer's tail drops before the observer */
};

struct tw_thr_dir_verdict {
	enum tw_thr_kind kind;
	double rate_bps;      /* estimated rate (policing: between the first and the last loss) */
	double cv;            /* spread of the goodput samples (stddev / mean) */
	double rtt_growth_ms; /* RTT before the first loss minus the smallest */
	uint32_t loss_eps;
	int intervals;     /* goodput samples used */
	int timeout_paced; /* policing seen through the sender's timeouts, not through losses */
	double confidence;
};

struct tw_thr_verdict {
	enum tw_thr_kind kind; /* the stronger of the two directions */
	int dirs;              /* bit TW_DIR_*: directions with that kind */
	double rate_bps;       /* of the direction with the most data among them */
	double confidence;
	/* whatever the kind, of the direction that delivered the most: what
	 * aggregation compares across targets (the same clients' other
	 * targets, a shaped target's flows together) */
	double goodput_bps;   /* delivered bytes over the series' span; 0: under 2 samples */
	double seconds;       /* the series' span */
	double rtt_growth_ms; /* the queue the flow built (RTT before the first loss minus the smallest) */
	/* that direction's payload bytes seen at each sample (when, how many),
	 * retransmissions included: what a shaper upstream let through, even
	 * while the receiver's cumulative ACK waits on a hole (the ACKed curve
	 * stalls, then jumps).  Aggregation sums a target's flows over time to
	 * see whether their common rate stays flat (shaping's plateau,
	 * alerts/aggregate.c) */
	int ncurve;
	uint64_t curve_t[TW_THR_MAX_SAMPLES];
	uint64_t curve_b[TW_THR_MAX_SAMPLES];
	struct tw_thr_dir_verdict d[2];
};

void tw_thr_cfg_default(struct tw_thr_cfg *c);
const char *tw_thr_kind_name(enum tw_thr_kind k);
/* The sample a flow snapshot gives at time t. */
void tw_thr_sample_from_flow(const struct tw_flow *f, uint64_t t_ns, struct tw_thr_sample *s);
/* Append a sample (in time order; an older or equal time replaces nothing
 * and is ignored); halves the series when full. */
void tw_thr_series_add(struct tw_thr_series *ser, const struct tw_thr_sample *s);
void tw_thr_classify(const struct tw_thr_series *ser, const struct tw_thr_cfg *c, struct tw_thr_verdict *v);
#endif
