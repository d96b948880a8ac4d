/* Alerts to Prometheus Alertmanager (README "Alertmanager"): a bus sink
 * (bus.h) that maps every alert line (am_map.h) into an outbox
 * (am_queue.h) delivered by one thread per Alertmanager URL with libcurl,
 * so the main loop never waits on the network.  Delivery retries with
 * exponential backoff (1 s .. 60 s); the outbox is bounded and spooled to
 * the state directory; at the end of a run what is queued gets at most
 * drain_timeout seconds, the rest stays in the spool for the next start. */
#ifndef TW_ALERTMANAGER_H
#define TW_ALERTMANAGER_H
#include <stddef.h>
#include <stdint.h>
#include "outputs/am_map.h"

struct json_object;
struct tw_jb;

struct tw_am_cfg {         /* [alertmanager] */
	char url[1024];    /* url: base URLs, comma-separated (a cluster: each gets every alert); "" = off */
	char labels[1024]; /* labels: extra static labels "name=value, ..." */
	char generator_url[TW_AM_URL_MAX]; /* generator_url: link sent with every alert ("" = none) */
	int timeout;                       /* timeout: seconds per HTTP request */
	int resend_interval;               /* resend_interval: seconds between re-sends of open alerts */
	int drain_timeout;                 /* drain_timeout: seconds to deliver what is queued at exit */
	int queue_max;                     /* queue_max: alerts kept in the outbox */
};

void tw_am_cfg_default(struct tw_am_cfg *c);
/* Checks a string key's value (url, labels, generator_url) for config.c:
 * 0, or -1 with a reason in err. */
int tw_am_check_key(const char *name, const char *value, char *err, size_t errlen);

/* Counters for the stats record and metrics (tw_am_counters copies them
 * under the sink's lock).  Every drop is in one of the dropped_* fields and
 * in dropped. */
struct tw_am_counters {
	uint64_t alerts;           /* alert lines from the bus */
	uint64_t queued;           /* alert versions put in the outbox (incl. label changes, spool) */
	uint64_t delivered;        /* alerts accepted by an Alertmanager (per URL) */
	uint64_t resent;           /* of which re-sends of open alerts */
	uint64_t requests;         /* POSTs made */
	uint64_t request_failures; /* POSTs that failed (connection, timeout, HTTP not 2xx): retried */
	uint64_t dropped;          /* sum of the dropped_* below */
	uint64_t dropped_overflow; /* outbox full (alertmanager.queue_max) */
	uint64_t dropped_rejected; /* refused by an Alertmanager as invalid (HTTP 400/422) */
	uint64_t dropped_unmapped; /* alert lines without a usable id or state */
	uint64_t dropped_at_exit;  /* not delivered within drain_timeout, and no --state to keep them */
	uint64_t dropped_spool;    /* spool entries unreadable or beyond queue_max at start */
	uint64_t scope_not_prefix; /* scope entries left out: not a prefix */
	uint64_t spool_saves, spool_errors, spool_loaded, spool_set_aside;
	uint64_t queue;   /* gauge: entries in the outbox */
	uint64_t pending; /* gauge: entries some URL has not got yet */
	uint64_t open;    /* gauge: open alerts being re-sent */
	int urls;         /* Alertmanagers configured */
	int urls_down;    /* gauge: of which failing now */
};

struct tw_am;

/* state_dir NULL: no spool.  NULL with a message in err on failure. */
struct tw_am *tw_am_new(const struct tw_am_cfg *cfg, const char *state_dir, char *err, size_t errlen);
/* The bus sink (tw_sink_fn): arg is the struct tw_am. */
void tw_am_sink(void *am, const char *line, size_t len, struct json_object *obj);
/* A pipeline tick (add it after the detectors' ticks): on the final tick
 * deliver what is queued for at most drain_timeout, stop the threads and
 * save the spool, so the final stats record has the outcome. */
void tw_am_tick(void *am, uint64_t now_ns, int final);
void tw_am_counters(struct tw_am *am, struct tw_am_counters *out);
/* A stats section (stats.h): "alertmanager":{...}. */
void tw_am_stats(void *am, struct tw_jb *b);
/* Stops (draining first if the final tick did not run) and frees. */
void tw_am_free(struct tw_am *am);
#endif
