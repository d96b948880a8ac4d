/* The NATS JetStream publisher (docs/hub.md): every privacy-safe record of
 * the alert log -- tamper verdicts, alerts, link and gap records -- plus a
 * periodic "site" heartbeat, stamped with this site's identity and sent to
 * a JetStream stream for the hub (tamperwatchd --hub) to correlate.
 *
 * At least once: one thread publishes the queued records in order and
 * waits for each acknowledgement; a record the server did not acknowledge
 * is sent again with the same message ID (Nats-Msg-Id: site and a hash of
 * the record), which JetStream and the hub both deduplicate.  While the
 * server is unreachable records wait in a bounded queue, saved to the spool
 * (nats.spool in nats.spool_dir or the state directory, through
 * util/state.h like the Alertmanager spool) and replayed in order when the
 * server returns, also after a restart.  Every record the queue could not
 * hold is counted (dropped). */
#ifndef TW_NATS_PUB_H
#define TW_NATS_PUB_H
#include <stddef.h>
#include <stdint.h>

struct tw_jb;
struct tw_status;

#define TW_NATS_NAME_MAX 64 /* site, network, region, stream, durable names */
#define TW_NATS_SPOOL_NAME "nats.spool"
#define TW_NATS_MAX_SERVERS 16 /* nats.url */

struct tw_nats_cfg {                    /* [nats] */
	char url[1024];                 /* url: servers, comma-separated (a cluster); "" = off */
	char stream[TW_NATS_NAME_MAX];  /* stream: the JetStream stream (made if missing) */
	char subject[TW_NATS_NAME_MAX]; /* subject: prefix; records go to PREFIX.SITE.EVENT_TYPE */
	char site[TW_NATS_NAME_MAX];    /* site: this gateway's name, unique among sites */
	char network[TW_NATS_NAME_MAX]; /* network: the ISP / AS the site watches ("" = the site) */
	char region[TW_NATS_NAME_MAX];  /* region: where the site is ("" = none) */
	char user[128];                 /* user / password: user-password authentication */
	char password[256];
	char nkey[128];       /* nkey: public user nkey, with nkey_seed: the file with its seed */
	char nkey_seed[1024]; /* never read by us beyond handing it to libnats */
	char ca_file[1024];   /* ca_file: CA bundle for tls:// servers */
	char spool_dir[1024]; /* spool_dir: where nats.spool lives ("" = --state DIR) */
	int spool_max;        /* spool_max: records kept while the server is unreachable */
	int timeout;          /* timeout: seconds to wait for a publish acknowledgement */
	int drain_timeout;    /* drain_timeout: seconds to publish what is queued at exit */
	int heartbeat;        /* heartbeat: seconds between "site" records */
	int replicas;         /* replicas: of the stream, when the publisher creates it */
	int duplicates;       /* duplicates: the stream's deduplication window, seconds */
};

void tw_nats_cfg_default(struct tw_nats_cfg *c);
/* Checks a string key of [nats] or [hub]: 0, or -1 with the reason in why
 * (never the value: it may be a password). */
int tw_nats_check_key(const char *name, const char *value, char *why, size_t whylen);

struct tw_nats_counters {
	uint64_t records;    /* records handed to the publisher */
	uint64_t published;  /* acknowledged by JetStream */
	uint64_t duplicates; /* acknowledged as a duplicate (a retry of one already stored) */
	uint64_t spooled;    /* records that had to wait: server unreachable, or not acknowledged at the first try */
	uint64_t dropped;    /* records lost: the queue was full (nats.spool_max) */
	uint64_t dropped_at_exit; /* of which: left when there was no spool to keep them */
	uint64_t publish_errors;  /* attempts that failed (not acknowledged in time, refused) */
	uint64_t spool_saves, spool_errors, spool_loaded;
	uint64_t queue; /* records waiting now (gauge) */
	int connected;  /* 1 while connected */
};

struct tw_nats_pub;
/* Connects in the background (the server may be down: records wait).
 * state_dir may be NULL.  NULL with err on a bad setting. */
struct tw_nats_pub *tw_nats_pub_new(const struct tw_nats_cfg *cfg, const char *state_dir, struct tw_status *st,
                                    char *err, size_t errlen);
/* A line sink (util/line.h; main hands it every line the log gets): takes
 * the records published, ignores the rest. */
void tw_nats_pub_line(void *pub, const char *line, size_t len);
/* A pipeline tick: spool saves; the final one drains (drain_timeout). */
void tw_nats_pub_tick(void *pub, uint64_t now_ns, int final);
void tw_nats_pub_counters(struct tw_nats_pub *p, struct tw_nats_counters *out);
void tw_nats_pub_stats(void *pub, struct tw_jb *b); /* the "nats" member of the stats record */
void tw_nats_pub_free(struct tw_nats_pub *p);
#endif
