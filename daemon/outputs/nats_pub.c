#include "outputs/nats_pub.h"
#include "outputs/nats_conn.h"
#include "outputs/status.h"
#include "util/jsonbuf.h"
#include "util/state.h"
#include <errno.h>
#include <json-c/json.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define TW_NATS_MAX_RECORD (256 * 1024) /* a longer record is a bug upstream: dropped, counted */
#define TW_NATS_BACKOFF_MAX_MS 2000

void tw_nats_cfg_default(struct tw_nats_cfg *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->stream, sizeof(c->stream), "TAMPERWATCH");
	snprintf(c->subject, sizeof(c->subject), "tamperwatch");
	c->spool_max = 100000;
	c->timeout = 5;
	c->drain_timeout = 10;
	c->heartbeat = 10;
	c->replicas = 1;
	c->duplicates = 600;
}

/* site, network, region, stream, durable: one subject token */
static int is_token(const char *v)
{
	for (const char *p = v; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '_'))
			return 0;
	return 1;
}

int tw_nats_check_key(const char *name, const char *value, char *why, size_t whylen)
{
	if (!strcmp(name, "site") || !strcmp(name, "network") || !strcmp(name, "region") || !strcmp(name, "stream") ||
	    !strcmp(name, "durable")) {
		if (!is_token(value)) {
			snprintf(why, whylen, "only letters, digits, '-' and '_' (a NATS subject token)");
			return -1;
		}
		return 0;
	}
	if (!strcmp(name, "subject")) {
		const char *p = value;
		for (;;) { /* tokens joined by '.' */
			size_t n = strcspn(p, ".");
			char tok[TW_NATS_NAME_MAX];
			if (!n || n >= sizeof(tok)) {
				snprintf(why, whylen, "expected tokens joined by '.', no empty one");
				return -1;
			}
			memcpy(tok, p, n);
			tok[n] = 0;
			if (!is_token(tok)) {
				snprintf(why, whylen, "only letters, digits, '-', '_' and '.'");
				return -1;
			}
			if (!p[n])
				return 0;
			p += n + 1;
		}
	}
	if (!strcmp(name, "nkey") && *value) { /* a user's public NKey: 'U' and 55 more base32 characters */
		size_t n = strlen(value);
		int ok = n == 56 && value[0] == 'U';
		for (size_t i = 0; ok && i < n; i++)
			ok = (value[i] >= 'A' && value[i] <= 'Z') || (value[i] >= '2' && value[i] <= '7');
		if (!ok) {
			snprintf(why, whylen,
			         "expected a user's public NKey: 'U' and 55 more of A-Z, 2-7 (not its seed)");
			return -1;
		}
		return 0;
	}
	if (!strcmp(name, "url") && *value) {
		char list[1024];
		int n = 0;
		snprintf(list, sizeof(list), "%s", value);
		for (char *save = NULL, *s = strtok_r(list, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
			while (*s == ' ')
				s++;
			if (strncmp(s, "nats://", 7) && strncmp(s, "tls://", 6)) { /* the URL may hold a password */
				snprintf(why, whylen, "server %d: expected nats://HOST:PORT or tls://HOST:PORT", n + 1);
				return -1;
			}
			if (++n > TW_NATS_MAX_SERVERS) {
				snprintf(why, whylen, "more than %d servers", TW_NATS_MAX_SERVERS);
				return -1;
			}
		}
		if (!n) {
			snprintf(why, whylen, "no server");
			return -1;
		}
	}
	return 0;
}

struct rec {
	char id[TW_NATS_NAME_MAX + 32]; /* Nats-Msg-Id */
	char subj[3 * TW_NATS_NAME_MAX];
	int retried; /* not acknowledged at the first try: counted in spooled once */
	size_t len;
	char data[]; /* JSON, NUL-terminated */
};

struct tw_nats_pub {
	struct tw_nats_cfg cfg;
	char spool_dir[1024]; /* "" = no spool: what is queued at exit is lost (counted) */
	struct tw_status *st;
	natsOptions *opts;
	natsConnection *nc;
	jsCtx *js;
	int stream_ok;
	pthread_t thr, hb_thr;
	int started;
	pthread_mutex_t mu; /* guards everything below */
	pthread_cond_t cv;
	struct rec **q; /* ring of cfg.spool_max */
	size_t head, n;
	int stop;
	int64_t drain_until;     /* monotonic ns: the final tick waits for the queue until then */
	int in_flight;           /* the head is being published */
	uint64_t changes, saved; /* queue changes; changes at the last spool save */
	int spool_exists;        /* a spool file may hold records: an empty queue must be saved too */
	int64_t next_save_ns, next_hb_ns;
	natsStatus conn_err; /* the reason for not being connected last reported */
	uint64_t hb_seq, boot_ns;
	struct tw_nats_counters c;
};

static int64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000ll + t.tv_nsec;
}

/* caller holds mu; takes r */
static void push(struct tw_nats_pub *p, struct rec *r)
{
	p->c.records++;
	if (p->n == (size_t)p->cfg.spool_max) {
		p->c.dropped++;
		free(r);
		return;
	}
	if (!r->retried && (!p->nc || natsConnection_Status(p->nc) != NATS_CONN_STATUS_CONNECTED)) {
		r->retried = 1; /* waits for the server from the start */
		p->c.spooled++;
	}
	p->q[(p->head + p->n) % (size_t)p->cfg.spool_max] = r;
	p->n++;
	p->changes++;
	pthread_cond_signal(&p->cv);
}

static struct rec *rec_new(const char *id, const char *subj, const char *data, size_t len)
{
	struct rec *r = calloc(1, sizeof(*r) + len + 1);
	if (!r)
		return NULL;
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->subj, sizeof(r->subj), "%s", subj);
	memcpy(r->data, data, len);
	r->data[len] = 0;
	r->len = len;
	return r;
}

static void add_site(const struct tw_nats_cfg *cfg, struct json_object *o)
{
	struct json_object *s = json_object_new_object();
	json_object_object_add(s, "name", json_object_new_string(cfg->site));
	json_object_object_add(s, "network", json_object_new_string(cfg->network[0] ? cfg->network : cfg->site));
	json_object_object_add(s, "region", cfg->region[0] ? json_object_new_string(cfg->region) : NULL);
	json_object_object_add(o, "site", s);
}

/* The records that leave a site (docs/hub.md "What leaves a site"). */
static int published_type(const char *t)
{
	return !strcmp(t, "tamper") || !strcmp(t, "alert") || !strcmp(t, "link") || !strcmp(t, "gap") ||
	       !strcmp(t, "prefix_summary");
}

void tw_nats_pub_line(void *arg, const char *line, size_t len)
{
	struct tw_nats_pub *p = arg;
	struct json_object *o = NULL, *et;
	if (len > TW_NATS_MAX_RECORD) {
		pthread_mutex_lock(&p->mu);
		p->c.records++;
		p->c.dropped++;
		pthread_mutex_unlock(&p->mu);
		return;
	}
	struct json_tokener *tok = json_tokener_new();
	if (tok) {
		o = json_tokener_parse_ex(tok, line, (int)len);
		json_tokener_free(tok);
	}
	if (!o || !json_object_object_get_ex(o, "event_type", &et) || !json_object_is_type(et, json_type_string) ||
	    !published_type(json_object_get_string(et))) {
		json_object_put(o);
		return;
	}
	/* the client's port (with its prefix and the time, it narrows down a
	 * person) and our interface names stay here */
	json_object_object_del(o, "src_port");
	json_object_object_del(o, "in_iface");
	add_site(&p->cfg, o);

	unsigned char md[SHA256_DIGEST_LENGTH];
	char id[sizeof(((struct rec *)0)->id)], subj[sizeof(((struct rec *)0)->subj)];
	SHA256((const unsigned char *)line, len, md);
	int n = snprintf(id, sizeof(id), "%s-", p->cfg.site);
	for (int i = 0; i < 12 && n + 2 < (int)sizeof(id); i++, n += 2)
		snprintf(id + n, sizeof(id) - (size_t)n, "%02x", md[i]);
	snprintf(subj, sizeof(subj), "%s.%s.%s", p->cfg.subject, p->cfg.site, json_object_get_string(et));
	size_t dl;
	const char *data = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &dl);
	struct rec *r = data ? rec_new(id, subj, data, dl) : NULL;
	json_object_put(o);
	pthread_mutex_lock(&p->mu);
	if (!r) {
		p->c.records++;
		p->c.dropped++;
	} else {
		push(p, r);
	}
	pthread_mutex_unlock(&p->mu);
}

/* caller holds mu: the heartbeat, this site's "site" record */
static void heartbeat(struct tw_nats_pub *p)
{
	char ts[48], id[sizeof(((struct rec *)0)->id)], subj[sizeof(((struct rec *)0)->subj)];
	struct json_object *o = json_object_new_object(), *s = json_object_new_object();
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	tw_time_format(ts, sizeof(ts), (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec);
	json_object_object_add(o, "timestamp", json_object_new_string(ts));
	json_object_object_add(o, "event_type", json_object_new_string("site"));
	add_site(&p->cfg, o);
	json_object_object_add(s, "seq", json_object_new_int64((int64_t)p->hb_seq));
	json_object_object_add(s, "heartbeat_s", json_object_new_int(p->cfg.heartbeat));
	json_object_object_add(s, "published", json_object_new_int64((int64_t)p->c.published));
	json_object_object_add(s, "spooled", json_object_new_int64((int64_t)p->c.spooled));
	json_object_object_add(s, "dropped", json_object_new_int64((int64_t)p->c.dropped));
	json_object_object_add(s, "queue", json_object_new_int64((int64_t)p->n));
	json_object_object_add(o, "site_status", s);
	snprintf(id, sizeof(id), "%s-hb-%llx-%llu", p->cfg.site, (unsigned long long)p->boot_ns,
	         (unsigned long long)p->hb_seq++);
	snprintf(subj, sizeof(subj), "%s.%s.site", p->cfg.subject, p->cfg.site);
	size_t dl;
	const char *data = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &dl);
	struct rec *r = data ? rec_new(id, subj, data, dl) : NULL;
	json_object_put(o);
	if (r)
		push(p, r);
	else
		p->c.records++, p->c.dropped++;
}

/* waits ms or until woken (stop); caller holds mu */
static void nap(struct tw_nats_pub *p, int ms)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_nsec += (long)(ms % 1000) * 1000000l;
	t.tv_sec += ms / 1000 + t.tv_nsec / 1000000000l;
	t.tv_nsec %= 1000000000l;
	pthread_cond_timedwait(&p->cv, &p->mu, &t);
}

/* caller holds mu: the counters into the operator's snapshot, also when
 * no tick comes (a replay waiting for its input) */
static void to_status(struct tw_nats_pub *p)
{
	if (!p->st)
		return;
	pthread_mutex_lock(&p->st->mu);
	p->st->nats.c = p->c;
	p->st->nats.c.queue = p->n;
	pthread_mutex_unlock(&p->st->mu);
}

/* the heartbeat thread: a "site" record every nats.heartbeat seconds,
 * whatever the publisher is waiting for; the snapshot once a second */
static void *heartbeats(void *arg)
{
	struct tw_nats_pub *p = arg;
	pthread_mutex_lock(&p->mu);
	while (!p->stop) {
		int64_t now = mono_ns();
		if (now >= p->next_hb_ns) {
			heartbeat(p);
			p->next_hb_ns = now + (int64_t)p->cfg.heartbeat * 1000000000ll;
		}
		p->c.connected = p->nc && natsConnection_Status(p->nc) == NATS_CONN_STATUS_CONNECTED;
		to_status(p);
		int64_t ms = (p->next_hb_ns - now) / 1000000 + 1;
		nap(p, ms < 1000 ? (int)ms : 1000);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void *publisher(void *arg)
{
	struct tw_nats_pub *p = arg;
	int backoff = 0;
	pthread_mutex_lock(&p->mu);
	while (!p->stop) {
		if (!p->n || backoff) {
			nap(p, backoff ? backoff : 200);
			backoff = 0;
			continue;
		}
		struct rec *r = p->q[p->head];
		p->in_flight = 1;
		pthread_mutex_unlock(&p->mu);

		natsStatus s = NATS_ERR; /* no stream (no server): a failed attempt */
		jsPubAck *pa = NULL;
		jsErrCode jerr = 0;
		if (!p->stream_ok && tw_nats_ensure_stream(p->js, &p->cfg) == 0)
			p->stream_ok = 1;
		if (p->stream_ok) {
			jsPubOptions po;
			jsPubOptions_Init(&po);
			po.MsgId = r->id;
			po.MaxWait = (int64_t)p->cfg.timeout * 1000;
			s = js_Publish(&pa, p->js, r->subj, r->data, (int)r->len, &po, &jerr);
			if (s == NATS_NO_RESPONDERS || s == NATS_NOT_FOUND)
				p->stream_ok = 0; /* the stream went away: make it again */
		}
		int conn = natsConnection_Status(p->nc) == NATS_CONN_STATUS_CONNECTED;
		tw_nats_report_conn(p->nc, &p->cfg, &p->conn_err, "nats");

		pthread_mutex_lock(&p->mu);
		p->in_flight = 0;
		p->c.connected = conn;
		if (p->stream_ok && s == NATS_OK) {
			p->c.published++;
			if (pa && pa->Duplicate)
				p->c.duplicates++;
			p->head = (p->head + 1) % (size_t)p->cfg.spool_max;
			p->n--;
			p->changes++;
			free(r);
			pthread_cond_broadcast(&p->cv); /* a draining tick waits for this */
		} else {
			p->c.publish_errors++;
			if (!r->retried) {
				r->retried = 1;
				p->c.spooled++;
			}
			backoff = TW_NATS_BACKOFF_MAX_MS / 4;
		}
		jsPubAck_Destroy(pa);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* ---- the spool: the queue through util/state.h, one record a line:
 * ID TAB SUBJECT TAB JSON (JSON strings escape tabs and newlines) */

/* caller holds mu; malloc'd */
static char *spool_text(struct tw_nats_pub *p, size_t *len)
{
	size_t cap = 64;
	for (size_t i = 0; i < p->n; i++) {
		struct rec *r = p->q[(p->head + i) % (size_t)p->cfg.spool_max];
		cap += strlen(r->id) + strlen(r->subj) + r->len + 3;
	}
	char *s = malloc(cap);
	if (!s)
		return NULL;
	size_t o = (size_t)snprintf(s, cap, "tamperwatch-nats-spool 1\n");
	for (size_t i = 0; i < p->n; i++) {
		struct rec *r = p->q[(p->head + i) % (size_t)p->cfg.spool_max];
		o += (size_t)snprintf(s + o, cap - o, "%s\t%s\t%s\n", r->id, r->subj, r->data);
	}
	*len = o;
	return s;
}

static void spool_save(struct tw_nats_pub *p)
{
	char err[512];
	size_t len = 0;
	pthread_mutex_lock(&p->mu);
	if (!p->spool_dir[0] || p->changes == p->saved || (!p->n && !p->spool_exists)) {
		pthread_mutex_unlock(&p->mu);
		return;
	}
	uint64_t at = p->changes;
	char *text = spool_text(p, &len);
	int had = p->n > 0;
	pthread_mutex_unlock(&p->mu);
	int rc = text ? tw_state_save(p->spool_dir, TW_NATS_SPOOL_NAME, text, len, err, sizeof(err)) : -1;
	free(text);
	pthread_mutex_lock(&p->mu);
	if (rc == 0) {
		p->c.spool_saves++;
		p->saved = at;
		p->spool_exists = had;
	} else {
		if (p->c.spool_errors++ == 0)
			fprintf(stderr, "tamperwatchd: nats: spool: %s\n", text ? err : "out of memory");
	}
	pthread_mutex_unlock(&p->mu);
}

static int spool_load(struct tw_nats_pub *p, char *err, size_t errlen)
{
	void *data = NULL;
	size_t len = 0;
	int rc = tw_state_load(p->spool_dir, TW_NATS_SPOOL_NAME, &data, &len, err, errlen);
	if (rc == TW_STATE_CORRUPT) {
		fprintf(stderr, "tamperwatchd: nats: %s\n", err);
		return 0;
	}
	if (rc != TW_STATE_LOADED)
		return rc == TW_STATE_NONE ? 0 : -1;
	char *s = data, *end = s + len, *nl;
	int lineno = 0, bad = 0;
	p->spool_exists = 1;
	for (; s < end && (nl = memchr(s, '\n', (size_t)(end - s))); s = nl + 1) {
		*nl = 0;
		if (lineno++ == 0) {
			if (strcmp(s, "tamperwatch-nats-spool 1")) {
				snprintf(err, errlen, "%s/%s: line 1: not a NATS spool", p->spool_dir,
				         TW_NATS_SPOOL_NAME);
				free(data);
				return -1;
			}
			continue;
		}
		char *t1 = strchr(s, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		if (!t2 || (size_t)(t1 - s) >= sizeof(((struct rec *)0)->id) ||
		    (size_t)(t2 - t1 - 1) >= sizeof(((struct rec *)0)->subj) || *(t2 + 1) != '{' ||
		    (size_t)(nl - t2 - 1) > TW_NATS_MAX_RECORD) {
			if (bad++ == 0)
				fprintf(stderr, "tamperwatchd: nats: %s/%s: line %d: not a spooled record (skipped)\n",
				        p->spool_dir, TW_NATS_SPOOL_NAME, lineno);
			p->c.dropped++;
			continue;
		}
		*t1 = *t2 = 0;
		struct rec *r = rec_new(s, t1 + 1, t2 + 1, (size_t)(nl - t2 - 1));
		if (!r) {
			p->c.dropped++;
			continue;
		}
		r->retried = 1; /* spooled already, counted by the run that spooled it */
		p->c.spool_loaded++;
		push(p, r);
		p->c.records--; /* counted by the run that made it */
	}
	free(data);
	return 0;
}

struct tw_nats_pub *tw_nats_pub_new(const struct tw_nats_cfg *cfg, const char *state_dir, struct tw_status *st,
                                    char *err, size_t errlen)
{
	if (!cfg->site[0]) {
		snprintf(err, errlen, "nats.url needs nats.site: this gateway's name (docs/hub.md)");
		return NULL;
	}
	if (!cfg->nkey[0] != !cfg->nkey_seed[0]) {
		snprintf(err, errlen, "nats.nkey and nats.nkey_seed go together");
		return NULL;
	}
	if (cfg->nkey[0] && cfg->user[0]) {
		snprintf(err, errlen, "nats: give nats.user/password or nats.nkey, not both");
		return NULL;
	}
	struct tw_nats_pub *p = calloc(1, sizeof(*p));
	if (!p || !(p->q = calloc((size_t)cfg->spool_max, sizeof(*p->q)))) {
		free(p);
		snprintf(err, errlen, "nats: out of memory");
		return NULL;
	}
	p->cfg = *cfg;
	p->st = st;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->boot_ns = (uint64_t)time(NULL) * 1000000000ull + (uint64_t)(mono_ns() % 1000000000ll);
	snprintf(p->spool_dir, sizeof(p->spool_dir), "%s",
	         cfg->spool_dir[0] ? cfg->spool_dir
	         : state_dir       ? state_dir
	                           : "");
	if (p->spool_dir[0]) {
		if (mkdir(p->spool_dir, 0700) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "nats: spool directory %s: %s", p->spool_dir, strerror(errno));
			goto fail;
		}
		if (spool_load(p, err, errlen) < 0)
			goto fail;
		if (p->c.spool_loaded)
			fprintf(stderr, "tamperwatchd: nats: %llu records from the spool go first\n",
			        (unsigned long long)p->c.spool_loaded);
	} else {
		fprintf(stderr, "tamperwatchd: nats: no spool directory (nats.spool_dir or --state): records queued "
		                "when the daemon stops are lost, counted in dropped_at_exit\n");
	}
	if (tw_nats_connect_opts(cfg, &p->opts, err, errlen) < 0)
		goto fail;
	natsStatus s = natsConnection_Connect(&p->nc, p->opts);
	if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
		snprintf(err, errlen, "nats: connect: %s", natsStatus_GetText(s));
		goto fail;
	}
	if (s == NATS_NOT_YET_CONNECTED)
		fprintf(stderr, "tamperwatchd: nats: no server reachable yet: records wait in the queue\n");
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = (int64_t)cfg->timeout * 1000;
	if ((s = natsConnection_JetStream(&p->js, p->nc, &jo)) != NATS_OK) {
		snprintf(err, errlen, "nats: JetStream context: %s", natsStatus_GetText(s));
		goto fail;
	}
	if (pthread_create(&p->thr, NULL, publisher, p)) {
		snprintf(err, errlen, "nats: cannot start the publisher thread");
		goto fail;
	}
	p->started = 1;
	if (pthread_create(&p->hb_thr, NULL, heartbeats, p)) {
		snprintf(err, errlen, "nats: cannot start the heartbeat thread");
		goto fail;
	}
	p->started = 2;
	if (st) {
		pthread_mutex_lock(&st->mu);
		st->nats.enabled = 1;
		pthread_mutex_unlock(&st->mu);
	}
	return p;
fail:
	tw_nats_pub_free(p);
	return NULL;
}

void tw_nats_pub_tick(void *arg, uint64_t now_ns, int final)
{
	struct tw_nats_pub *p = arg;
	(void)now_ns;
	int64_t now = mono_ns();
	if (final) { /* what is queued gets drain_timeout seconds */
		int64_t until = now + (int64_t)p->cfg.drain_timeout * 1000000000ll;
		pthread_mutex_lock(&p->mu);
		while ((p->n || p->in_flight) && mono_ns() < until)
			nap(p, 100);
		if (!p->spool_dir[0] && p->n) { /* nowhere to keep them */
			p->c.dropped_at_exit += p->n;
			p->c.dropped += p->n;
			fprintf(stderr, "tamperwatchd: nats: %zu records not published (no spool directory)\n", p->n);
		}
		pthread_mutex_unlock(&p->mu);
	}
	if (final || now >= p->next_save_ns) {
		spool_save(p);
		p->next_save_ns = now + 1000000000ll;
	}
	pthread_mutex_lock(&p->mu);
	to_status(p);
	pthread_mutex_unlock(&p->mu);
}

void tw_nats_pub_counters(struct tw_nats_pub *p, struct tw_nats_counters *out)
{
	pthread_mutex_lock(&p->mu);
	*out = p->c;
	out->queue = p->n;
	pthread_mutex_unlock(&p->mu);
}

void tw_nats_pub_stats(void *arg, struct tw_jb *b)
{
	struct tw_nats_counters c;
	tw_nats_pub_counters(arg, &c);
	tw_jb_obj_open(b, "nats");
	tw_jb_u64(b, "connected", (uint64_t)c.connected);
	tw_jb_u64(b, "records", c.records);
	tw_jb_u64(b, "published", c.published);
	tw_jb_u64(b, "duplicates", c.duplicates);
	tw_jb_u64(b, "spooled", c.spooled);
	tw_jb_u64(b, "dropped", c.dropped);
	tw_jb_u64(b, "dropped_at_exit", c.dropped_at_exit);
	tw_jb_u64(b, "publish_errors", c.publish_errors);
	tw_jb_u64(b, "queue", c.queue);
	tw_jb_u64(b, "spool_saves", c.spool_saves);
	tw_jb_u64(b, "spool_errors", c.spool_errors);
	tw_jb_u64(b, "spool_loaded", c.spool_loaded);
	tw_jb_obj_close(b);
}

void tw_nats_pub_free(struct tw_nats_pub *p)
{
	if (!p)
		return;
	if (p->started) {
		pthread_mutex_lock(&p->mu);
		p->stop = 1;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->thr, NULL);
		if (p->started == 2)
			pthread_join(p->hb_thr, NULL);
	}
	spool_save(p); /* what the final tick could not publish waits for the next start */
	for (size_t i = 0; i < p->n; i++)
		free(p->q[(p->head + i) % (size_t)p->cfg.spool_max]);
	free(p->q);
	jsCtx_Destroy(p->js);
	natsConnection_Destroy(p->nc);
	natsOptions_Destroy(p->opts);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
