/* The operator's status page (metrics.status_page, --status-page): a
 * read-only HTML page served by the metrics endpoint at /status, drawn
 * server-side (util/svg.h) from what the detectors already publish:
 *   - open and recent alerts (the alert bus's open table and recent ring),
 *   - every shutdown series against its baseline (tw_shutdown_cfg.observe),
 *     alert periods shaded,
 *   - the most affected targets' tampered-flow shares (tw_agg_top_targets,
 *     sampled every TW_SPAGE_TARGET_EVERY s of the run's clock),
 *   - the measured rate of each throttling alert (its lines' stats.rate_bps),
 *   - the daemon's health (status snapshot, link and gap records).
 * The main thread feeds it (observe, sink, tick) and the metrics thread
 * renders a copy taken under its mutex.  Everything it holds is bounded;
 * whatever a bound keeps out is counted (tw_spage_counters) and shown on the
 * page and in the metrics.  It holds what the alert log holds: client
 * prefixes, never a client address. */
#ifndef TW_STATUSPAGE_H
#define TW_STATUSPAGE_H
#include <stddef.h>
#include <stdint.h>

struct json_object;
struct tw_sd_point;
struct tw_agg;
struct tw_status;
struct tw_bus;
struct tw_tb;

#define TW_SPAGE_SERIES 16      /* shutdown series drawn */
#define TW_SPAGE_POINTS 1440    /* per series: a day of 60 s samples */
#define TW_SPAGE_TARGETS 8      /* targets whose share is drawn */
#define TW_SPAGE_TPOINTS 720    /* per target */
#define TW_SPAGE_TARGET_EVERY 5 /* seconds between share samples */
#define TW_SPAGE_THROTTLED 8    /* throttling alerts whose rate is drawn */
#define TW_SPAGE_RPOINTS 256    /* per throttling alert */
#define TW_SPAGE_RECORDS 16     /* link and gap records kept */
#define TW_SPAGE_RECENT 20      /* recent alert lines shown */
#define TW_SPAGE_REFRESH_S 30   /* the page's meta refresh */
#define TW_SPAGE_MAX_BYTES (8u << 20)

struct tw_spage_counters {
	uint64_t renders;           /* pages rendered */
	uint64_t render_failures;   /* pages not rendered: over TW_SPAGE_MAX_BYTES or out of memory */
	uint64_t series_dropped;    /* shutdown samples of series beyond TW_SPAGE_SERIES: not drawn */
	uint64_t targets_dropped;   /* target share samples beyond TW_SPAGE_TARGETS: not drawn */
	uint64_t throttled_dropped; /* throttling alert lines beyond TW_SPAGE_THROTTLED: not drawn */
	uint64_t points_thinned;    /* points the plots drew as part of a line only (svg.h) */
	uint64_t parse_errors;      /* target summaries or alert lines the page could not read */
};

struct tw_spage;
struct tw_spage *tw_spage_new(void);
void tw_spage_free(struct tw_spage *p);
/* the targets whose shares are drawn (NULL: none); set before the first tick */
void tw_spage_set_agg(struct tw_spage *p, struct tw_agg *agg);
/* tw_shutdown_cfg.observe */
void tw_spage_observe(void *page, const struct tw_sd_point *pt);
/* an alert bus sink (tw_sink_fn) */
void tw_spage_sink(void *page, const char *line, size_t len, struct json_object *obj);
/* a pipeline tick */
void tw_spage_tick(void *page, uint64_t now_ns, int final);
void tw_spage_get_counters(struct tw_spage *p, struct tw_spage_counters *c);
/* The page, malloc'd in *out (caller frees): its length, or -1 (counted). */
long tw_spage_render(struct tw_spage *p, struct tw_status *st, struct tw_bus *bus, char **out);
/* The page's counters in the Prometheus text format, appended to b. */
void tw_spage_metrics(struct tw_spage *p, struct tw_tb *b);
#endif
