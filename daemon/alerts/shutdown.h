/* Shutdown detection: per-series (client prefix, region) traffic counts
 * compared with a time-of-week baseline that each series learns on its own
 * (median over the last `history` periods of the same bin, IODA-style
 * history comparison; Richter et al. IMC 2018 for the per-/24 view and the
 * minimum activity level).  See README "Shutdown detection".
 *
 * Inputs are interval samples (tw_shutdown_sample), a clock (tw_shutdown_tick),
 * our own link state (tw_shutdown_link) and capture gaps (tw_shutdown_gap).
 * Outputs are JSON lines: event_type "alert" (category/method "shutdown",
 * raised/updated/resolved under one id), "link" and "gap" records. */
#ifndef TW_SHUTDOWN_H
#define TW_SHUTDOWN_H
#include <stddef.h>
#include <stdint.h>

/* Port classes a sample may break packets down by; a drop where one class
 * still passes near its baseline is reported as partial. */
enum {
	TW_SD_CLASS_WEB = 0, /* TCP 80/443, UDP 443 */
	TW_SD_CLASS_DNS,     /* port 53 */
	TW_SD_CLASS_TCP,     /* other TCP */
	TW_SD_CLASS_OTHER,   /* other UDP, ICMP, ... */
	TW_SD_NCLASS
};

/* Counts over the last interval for one series.  Meant to be the
 * internet->client direction (packets delivered to clients, flows that
 * got an answer, clients that received something): clients keep sending
 * into a cut-off network, so upstream counts would not fall. */
struct tw_series_sample {
	uint64_t packets;
	uint64_t bytes;
	uint64_t new_flows;
	uint64_t active_clients;
	uint64_t class_packets[TW_SD_NCLASS];
	int has_classes; /* class_packets filled in */
};

enum tw_sd_metric { TW_SD_PACKETS = 0, TW_SD_BYTES, TW_SD_FLOWS, TW_SD_CLIENTS };

/* One evaluated sample of a series, for the operator's pictures (status
 * page): the metric compared, its learned baseline (<= 0: none yet) and
 * whether the series is in an alert, and since when. */
struct tw_sd_point {
	uint64_t t_ns;
	const char *key, *region; /* region: "" when none */
	double value, baseline;
	int alerting, excluded;
	uint64_t alert_start_ns; /* alerting: when the drop began (shutdown.start) */
};

struct tw_shutdown_cfg {
	uint32_t interval_s;      /* expected sample interval (60) */
	uint32_t period_s;        /* baseline cycle (604800: one week) */
	uint32_t bins;            /* bins per period (168: hourly time-of-week) */
	uint32_t history;         /* periods kept per bin; baseline = median (4, max 16) */
	uint32_t warmup_s;        /* per series: no alert before (604800) */
	uint32_t min_duration_s;  /* below drop_frac this long -> alert (600) */
	uint32_t recover_s;       /* above recover_frac this long -> resolved (600) */
	double drop_frac;         /* down when metric < drop_frac x baseline (0.25) */
	double recover_frac;      /* recovered when >= recover_frac x baseline (0.5) */
	double min_clients;       /* baseline active clients below this: never alerted (40) */
	uint32_t region_min;      /* prefixes of one region down together -> region alert (2) */
	enum tw_sd_metric metric; /* series compared (packets) */
	uint32_t max_series;      /* bound on tracked series (4096) */
	/* where alert, link and gap lines go (main: the alert bus); unset: dropped */
	void (*emit)(void *arg, const char *line, size_t len);
	void *emit_arg;
	/* optional: every evaluated sample (main: the status page); unset: none */
	void (*observe)(void *arg, const struct tw_sd_point *p);
	void *observe_arg;
	/* optional: the id of a throttling alert of the same group (region,
	 * else the prefix key) open or recent at now, NULL if none; a shutdown
	 * alert names it in "related" (main: alerts/throttle_region.c) */
	const char *(*related)(void *arg, const char *key, const char *region, uint64_t now_ns);
	void *related_arg;
};

void tw_shutdown_cfg_default(struct tw_shutdown_cfg *c);
/* NULL on a bad configuration (message in err) or out of memory. */
struct tw_shutdown *tw_shutdown_new(const struct tw_shutdown_cfg *cfg);
int tw_shutdown_cfg_check(const struct tw_shutdown_cfg *c, char *err, size_t errlen);
void tw_shutdown_free(struct tw_shutdown *s);

void tw_shutdown_sample(struct tw_shutdown *s, uint64_t now_ns, const char *series_key, const char *region,
                        const struct tw_series_sample *x);
void tw_shutdown_tick(struct tw_shutdown *s, uint64_t now_ns, int final);
void tw_shutdown_link(struct tw_shutdown *s, uint64_t now_ns, int up);
/* One monitored link changed (iface, link_up); all_up: every monitored
 * link is up.  A "link" record names the link; detection is suspended
 * while any link is down and the window is excluded from baselines. */
void tw_shutdown_link_iface(struct tw_shutdown *s, uint64_t now_ns, const char *iface, int link_up, int all_up);
void tw_shutdown_gap(struct tw_shutdown *s, uint64_t from_ns, uint64_t to_ns, const char *why);

/* Baselines and open alerts to DIR/shutdown.state through state.c (its
 * container: zlib, CRC, temporary file, fsync, rename): 0, or -1 with a
 * message in err.  load: an enum tw_state_rc (state.h).  LOADED: series,
 * their detection state and open alerts restored, so an open shutdown goes
 * on under its id; CORRUPT: the file (damaged, format 1, or another
 * bins/history/period) was moved aside and err says where, start fresh;
 * UNREADABLE: left alone, err says why, do not start; NONE: no file. */
#define TW_SHUTDOWN_STATE "shutdown.state"
int tw_shutdown_save(const struct tw_shutdown *s, const char *dir, char *err, size_t errlen);
int tw_shutdown_load(struct tw_shutdown *s, const char *dir, char *err, size_t errlen);

/* Introspection for tests and status. */
struct tw_shutdown_stats {
	uint64_t series, samples, learned, excluded, alerts_raised, alerts_resolved, region_alerts, link_down, gaps,
	        dropped_series;
	uint64_t state_changes; /* raises and resolutions (series and region): save when this moves */
};
void tw_shutdown_get_stats(const struct tw_shutdown *s, struct tw_shutdown_stats *st);
/* Baseline of series `key` at time t for the configured metric; -1 if none. */
double tw_shutdown_baseline(const struct tw_shutdown *s, const char *key, uint64_t t_ns);
#endif
