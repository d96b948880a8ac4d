/* Prometheus /metrics: an HTTP/1.1 server thread that renders the status
 * snapshot (status.h) and the alert bus counts (bus.h) in the text
 * exposition format 0.0.4.  It reads only those two, each under its mutex
 * for a copy, so a slow or hostile scraper never holds up the main loop.
 * Requests are bounded (size, time, concurrent connections) and every
 * rejected one is counted and exposed.  Idle clients cannot starve
 * scrapes: a new client takes the slot of the one silent longest, and
 * remote clients never hold the slots kept for loopback.  README "Metrics" lists the series. */
#ifndef TW_METRICS_H
#define TW_METRICS_H
#include <stddef.h>
#include <stdint.h>

struct tw_status;
struct tw_bus;
struct tw_spage;

#define TW_METRICS_MAX_REQUEST 8192 /* request line + headers */
#define TW_METRICS_MAX_CONNS 16
#define TW_METRICS_LOCAL_CONNS 4   /* of them, kept for loopback scrapers */
#define TW_METRICS_EVICT_MS 100    /* a client silent this long may lose its slot to a new one */
#define TW_METRICS_TIMEOUT_MS 5000 /* whole exchange, from accept */

enum tw_metrics_reject {
	TW_MR_NOT_FOUND,   /* 404: a path other than /metrics (and /status when the status page is on) */
	TW_MR_METHOD,      /* 405: not GET or HEAD */
	TW_MR_BAD_REQUEST, /* 400: not an HTTP/1.x request line */
	TW_MR_TOO_LARGE,   /* 431: no end of headers within TW_METRICS_MAX_REQUEST */
	TW_MR_TIMEOUT,     /* closed: not done within TW_METRICS_TIMEOUT_MS */
	TW_MR_TOO_MANY,    /* 503: no slot, none idle long enough to be displaced */
	TW_MR_EVICTED,     /* closed: silent for TW_METRICS_EVICT_MS while a new client needed its slot */
	TW_MR_MAX
};

/* The server's own counters (touched by its thread only). */
struct tw_metrics_http {
	uint64_t requests; /* answered 200 */
	uint64_t rejected[TW_MR_MAX];
	uint64_t oom; /* scrapes answered 500: no memory to render */
};

const char *tw_metrics_reject_name(int r);
/* The exposition text, malloc'd in *out (caller frees): its length, or -1
 * when out of memory.  hs may be NULL. */
long tw_metrics_render(struct tw_status *st, struct tw_bus *bus, const struct tw_metrics_http *hs, char **out);

struct tw_metrics;
/* Parse ADDR:PORT, bind and listen, so every error comes before the backend
 * starts: NULL with a one-line err and *code 2 (bad address) or 3 (cannot
 * bind: in use, not permitted, ...). */
struct tw_metrics *tw_metrics_open(const char *addr, char *err, size_t errlen, int *code);
/* Start serving; 0 or -1 with err. */
int tw_metrics_start(struct tw_metrics *m, struct tw_status *st, struct tw_bus *bus, char *err, size_t errlen);
/* Serve the status page (statuspage.h) at /status too; before start. */
void tw_metrics_set_page(struct tw_metrics *m, struct tw_spage *page);
/* Stop the thread (if started), close and free; NULL is fine. */
void tw_metrics_stop(struct tw_metrics *m);
#endif
