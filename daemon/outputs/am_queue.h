/* The Alertmanager outbox (README "Alertmanager"): one entry per alert
 * labelset, the latest version of it, with per-URL delivery state.
 *
 * Open alerts stay in the outbox and are re-sent every resend interval with
 * endsAt = send time + 4 resend intervals (Alertmanager resolves an alert
 * that is not re-sent before its endsAt); resolved alerts are sent (endsAt =
 * resolution time) until every URL has them, then leave.  A newer version
 * of an alert replaces the older one not yet sent: Alertmanager keeps only
 * the latest state of a labelset anyway.  Bounded by max entries; the
 * spool (alertmanager.spool in the state directory) keeps it across
 * restarts.  Not locked: the caller (alertmanager.c) holds its mutex. */
#ifndef TW_AM_QUEUE_H
#define TW_AM_QUEUE_H
#include <stddef.h>
#include <stdint.h>
#include "outputs/am_map.h"

#define TW_AM_SPOOL_NAME "alertmanager.spool"
#define TW_AM_SPOOL_VERSION 1
#define TW_AM_BATCH 64                 /* alerts per POST */
#define TW_AM_BATCH_BYTES (512 * 1024) /* bytes per POST (a batch has at least one alert) */

struct tw_am_entry {
	uint64_t serial; /* unique in this process: a delivery result names the entry by it */
	uint64_t gen;    /* bumped on each change: a result counts only for the version sent */
	char id[64];     /* alert.id */
	char *labels, *annotations;
	int64_t starts_ns;
	int64_t ends_ns;                   /* 0: open */
	uint32_t pending;                  /* bit per URL: this version not delivered there yet */
	uint32_t solo;                     /* bit per URL: goes alone (a batch with it was refused) */
	int64_t resend_at[TW_AM_MAX_URLS]; /* open and delivered: when to send again */
};

struct tw_am_qstats {
	uint64_t queued;    /* versions put in (raised, updated, resolved, label changes, loaded) */
	uint64_t delivered; /* alerts accepted by an Alertmanager (per URL) */
	uint64_t resent;    /* re-sends of open alerts (per URL) */
	uint64_t rejected;  /* alerts an Alertmanager refused as invalid (4xx): dropped */
	uint64_t overflow;  /* entries dropped because the outbox was full */
};

struct tw_am_queue {
	struct tw_am_entry **e;
	size_t n, cap, max;
	int nurls;
	int64_t resend_ns;
	uint64_t next_serial;
	uint64_t changes; /* bumped on every change: the spool is stale */
	struct tw_am_qstats st;
};

struct tw_am_batch {
	uint64_t serial[TW_AM_BATCH], gen[TW_AM_BATCH];
	int resend[TW_AM_BATCH];
	size_t n;
	char *body; /* JSON array (malloc'd) */
	size_t len;
};

void tw_am_queue_init(struct tw_am_queue *q, size_t max, int nurls, int64_t resend_ns);
void tw_am_queue_free(struct tw_am_queue *q);
/* Takes a's strings (a is cleared).  A new version of an open alert with
 * other labels (its method or severity changed) ends the old labelset at
 * now and starts the new one.  0, or -1 when dropped (full; counted). */
int tw_am_queue_put(struct tw_am_queue *q, struct tw_am_alert *a, int64_t now);
/* What URL u should get at now: pending versions and, if resends, open
 * alerts due again.  Returns b->n (0: nothing due); b->body to free. */
size_t tw_am_queue_batch(struct tw_am_queue *q, int u, int64_t now, int resends, const char *generator_url,
                         struct tw_am_batch *b);
enum tw_am_outcome { TW_AM_DELIVERED, TW_AM_REFUSED, TW_AM_RETRY };
void tw_am_queue_done(struct tw_am_queue *q, int u, const struct tw_am_batch *b, enum tw_am_outcome o, int64_t now);
void tw_am_batch_free(struct tw_am_batch *b);
/* Entries not yet delivered to u (u < 0: to some URL). */
size_t tw_am_queue_pending(const struct tw_am_queue *q, int u);
size_t tw_am_queue_open(const struct tw_am_queue *q);
/* Earliest time something is due for u (INT64_MAX: nothing). */
int64_t tw_am_queue_next_due(const struct tw_am_queue *q, int u, int resends);

/* The spool: the whole outbox, through daemon/state.h (versioned header,
 * CRC, temp file + fsync + rename).  save: 0 or -1 with err.  load: 1
 * loaded, 0 no spool, -1 unreadable or not a spool (set aside; err says
 * so; the queue stays empty).  Loaded entries are pending for every URL;
 * entries beyond max or invalid are dropped and counted in *dropped. */
int tw_am_spool_save(const struct tw_am_queue *q, const char *dir, char *err, size_t errlen);
/* The text save writes (malloc'd; *len its length): made under the
 * caller's lock, written with tw_state_save outside it. */
char *tw_am_spool_text(const struct tw_am_queue *q, size_t *len);
int tw_am_spool_load(struct tw_am_queue *q, const char *dir, uint64_t *dropped, char *err, size_t errlen);
#endif
