#include "outputs/alertmanager.h"
#include "outputs/am_queue.h"
#include "util/jsonbuf.h"
#include "util/state.h"
#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NS 1000000000ll
#define BACKOFF_MIN_S 1
#define BACKOFF_MAX_S 60
#define SPOOL_EVERY_NS NS /* the spool follows the outbox within a second */

void tw_am_cfg_default(struct tw_am_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->timeout = 10;
	c->resend_interval = 60;
	c->drain_timeout = 5;
	c->queue_max = 10000;
}

int tw_am_check_key(const char *name, const char *value, char *err, size_t errlen)
{
	if (!strcmp(name, "url") || !strcmp(name, "generator_url")) {
		char urls[TW_AM_MAX_URLS][TW_AM_URL_MAX];
		int n;
		if (tw_am_parse_urls(value, urls, &n, err, errlen) < 0)
			return -1;
		if (!strcmp(name, "generator_url") && n > 1) {
			snprintf(err, errlen, "one URL only");
			return -1;
		}
		return 0;
	}
	if (!strcmp(name, "labels")) {
		struct tw_am_labels l;
		return tw_am_parse_labels(value, &l, err, errlen);
	}
	return 0;
}

struct am_url {
	struct tw_am *am;
	int idx;
	char endpoint[TW_AM_URL_MAX + 32];
	char shown[TW_AM_URL_MAX]; /* for messages: no user:password */
	CURL *h;
	struct curl_slist *hdr;
	pthread_t thread;
	int started;
	int64_t retry_at;
	int backoff_s;
	int down;
	uint64_t fails; /* in a row */
};

struct tw_am {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct tw_am_cfg cfg;
	struct tw_am_labels labels;
	char *generator_json; /* "\"http://...\"" or NULL */
	char *state_dir;
	struct tw_am_queue q;
	struct am_url url[TW_AM_MAX_URLS];
	int nurls;
	int stopping, stopped;
	int64_t deadline;
	uint64_t saved_changes;
	int64_t next_save;
	int spool_failing;
	struct tw_am_counters c; /* the counters the queue does not keep */
};

static int64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

/* "http://user:pw@host:9093/x" -> "http://host:9093/x" */
static void shown_url(const char *u, char *out, size_t cap)
{
	const char *host = strstr(u, "://");
	host = host ? host + 3 : u;
	const char *at = strchr(host, '@'), *slash = strchr(host, '/');
	size_t n = 0;
	for (const char *p = u; *p && n + 1 < cap; p++) {
		if (at && (!slash || at < slash) && p == host)
			p = at + 1; /* skip user:password@ */
		out[n++] = *p;
	}
	out[n] = 0;
}

/* caller holds mu; 0, or -1 when the spool could not be written */
static int save_spool_locked(struct tw_am *am)
{
	char err[512];
	size_t len;
	if (!am->state_dir)
		return -1;
	uint64_t changes = am->q.changes;
	char *text = tw_am_spool_text(&am->q, &len);
	if (!text) {
		am->c.spool_errors++;
		return -1;
	}
	/* written outside the lock: the sink on the main loop never waits on fsync */
	pthread_mutex_unlock(&am->mu);
	int rc = tw_state_save(am->state_dir, TW_AM_SPOOL_NAME, text, len, err, sizeof(err));
	free(text);
	pthread_mutex_lock(&am->mu);
	if (rc < 0) {
		/* retried every second; reported when it starts failing */
		if (!am->spool_failing)
			fprintf(stderr, "tamperwatchd: alertmanager spool: %s (retrying)\n", err);
		am->spool_failing = 1;
		am->c.spool_errors++;
	} else {
		if (am->spool_failing)
			fprintf(stderr, "tamperwatchd: alertmanager spool: written again\n");
		am->spool_failing = 0;
		am->c.spool_saves++;
		am->saved_changes = changes;
	}
	return rc;
}

struct resp {
	char buf[512];
	size_t n;
};

static size_t on_body(char *p, size_t sz, size_t nm, void *arg)
{
	struct resp *r = arg;
	size_t n = sz * nm, room = sizeof(r->buf) - 1 - r->n;
	size_t k = n < room ? n : room;
	memcpy(r->buf + r->n, p, k);
	r->n += k;
	r->buf[r->n] = 0;
	return n;
}

/* the peer's text, one printable line */
static void clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = ' ';
}

static enum tw_am_outcome post(struct am_url *u, const struct tw_am_batch *b, int64_t timeout_ms, char *msg,
                               size_t msglen)
{
	struct resp r = { .n = 0 };
	r.buf[0] = 0;
	curl_easy_setopt(u->h, CURLOPT_POSTFIELDS, b->body);
	curl_easy_setopt(u->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
	curl_easy_setopt(u->h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(u->h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(u->h, CURLOPT_WRITEDATA, &r);
	CURLcode rc = curl_easy_perform(u->h);
	if (rc != CURLE_OK) {
		snprintf(msg, msglen, "%s", curl_easy_strerror(rc));
		return TW_AM_RETRY;
	}
	long status = 0;
	curl_easy_getinfo(u->h, CURLINFO_RESPONSE_CODE, &status);
	clean(r.buf);
	snprintf(msg, msglen, "HTTP %ld%s%.200s", status, r.n ? ": " : "", r.buf);
	if (status >= 200 && status < 300)
		return TW_AM_DELIVERED;
	/* the alert itself is invalid; anything else (auth, path, overload) is
	 * the server's or the configuration's and is retried */
	if (status == 400 || status == 422)
		return TW_AM_REFUSED;
	return TW_AM_RETRY;
}

static void *deliver(void *arg)
{
	struct am_url *u = arg;
	struct tw_am *am = u->am;
	char msg[512];

	pthread_mutex_lock(&am->mu);
	for (;;) {
		int64_t now = wall_ns();
		if (am->stopping && (now >= am->deadline || !tw_am_queue_pending(&am->q, u->idx)))
			break;
		if (u->idx == 0 && !am->stopping && am->q.changes != am->saved_changes && now >= am->next_save) {
			am->next_save = now + SPOOL_EVERY_NS;
			save_spool_locked(am);
			continue;
		}
		int64_t wake = INT64_MAX;
		struct tw_am_batch b = { .n = 0 };
		if (now >= u->retry_at &&
		    tw_am_queue_batch(&am->q, u->idx, now, !am->stopping, am->generator_json, &b)) {
			int64_t tmo = (int64_t)am->cfg.timeout * 1000;
			if (am->stopping && (am->deadline - now) / 1000000 < tmo)
				tmo = (am->deadline - now) / 1000000;
			if (tmo < 100)
				tmo = 100;
			am->c.requests++;
			pthread_mutex_unlock(&am->mu);
			enum tw_am_outcome o = post(u, &b, tmo, msg, sizeof(msg));
			pthread_mutex_lock(&am->mu);
			now = wall_ns();
			tw_am_queue_done(&am->q, u->idx, &b, o, now);
			if (o == TW_AM_RETRY) {
				am->c.request_failures++;
				u->fails++;
				u->backoff_s = u->backoff_s ? u->backoff_s * 2 : BACKOFF_MIN_S;
				if (u->backoff_s > BACKOFF_MAX_S)
					u->backoff_s = BACKOFF_MAX_S;
				u->retry_at = now + (int64_t)u->backoff_s * NS;
				if (!u->down) {
					u->down = 1;
					fprintf(stderr,
					        "tamperwatchd: alertmanager %s: %s; %zu alerts kept, retrying "
					        "every %d..%d s\n",
					        u->shown, msg, tw_am_queue_pending(&am->q, u->idx), BACKOFF_MIN_S,
					        BACKOFF_MAX_S);
				}
			} else {
				if (u->down)
					fprintf(stderr,
					        "tamperwatchd: alertmanager %s: delivering again after %llu "
					        "failed attempts\n",
					        u->shown, (unsigned long long)u->fails);
				if (o == TW_AM_REFUSED && b.n == 1)
					fprintf(stderr,
					        "tamperwatchd: alertmanager %s: refused an alert (dropped): %s\n",
					        u->shown, msg);
				u->down = 0;
				u->fails = 0;
				u->backoff_s = 0;
				u->retry_at = 0;
			}
			tw_am_batch_free(&b);
			continue;
		}
		if (now < u->retry_at)
			wake = u->retry_at;
		else
			wake = tw_am_queue_next_due(&am->q, u->idx, !am->stopping);
		if (am->stopping && wake > am->deadline)
			wake = am->deadline;
		if (u->idx == 0 && am->q.changes != am->saved_changes && wake > am->next_save)
			wake = am->next_save;
		/* at most a second: wall-clock steps cannot stall delivery */
		if (wake > now + NS)
			wake = now + NS;
		struct timespec ts = { .tv_sec = wake / NS, .tv_nsec = wake % NS };
		pthread_cond_timedwait(&am->cv, &am->mu, &ts);
	}
	pthread_mutex_unlock(&am->mu);
	return NULL;
}

static void fill_counters(struct tw_am *am, struct tw_am_counters *o)
{
	*o = am->c;
	o->queued = am->q.st.queued;
	o->delivered = am->q.st.delivered;
	o->resent = am->q.st.resent;
	o->dropped_overflow = am->q.st.overflow;
	o->dropped_rejected = am->q.st.rejected;
	o->dropped =
	        o->dropped_overflow + o->dropped_rejected + o->dropped_unmapped + o->dropped_at_exit + o->dropped_spool;
	o->queue = am->q.n;
	o->pending = tw_am_queue_pending(&am->q, -1);
	o->open = tw_am_queue_open(&am->q);
	o->urls = am->nurls;
	o->urls_down = 0;
	for (int i = 0; i < am->nurls; i++)
		o->urls_down += am->url[i].down;
}

void tw_am_counters(struct tw_am *am, struct tw_am_counters *out)
{
	pthread_mutex_lock(&am->mu);
	fill_counters(am, out);
	pthread_mutex_unlock(&am->mu);
}

void tw_am_stats(void *arg, struct tw_jb *b)
{
	struct tw_am_counters c;
	tw_am_counters(arg, &c);
	tw_jb_obj_open(b, "alertmanager");
	tw_jb_u64(b, "urls", (uint64_t)c.urls);
	tw_jb_u64(b, "urls_down", (uint64_t)c.urls_down);
	tw_jb_u64(b, "alerts", c.alerts);
	tw_jb_u64(b, "queued", c.queued);
	tw_jb_u64(b, "delivered", c.delivered);
	tw_jb_u64(b, "resent", c.resent);
	tw_jb_u64(b, "requests", c.requests);
	tw_jb_u64(b, "request_failures", c.request_failures);
	tw_jb_u64(b, "queue", c.queue);
	tw_jb_u64(b, "pending", c.pending);
	tw_jb_u64(b, "open", c.open);
	tw_jb_u64(b, "dropped", c.dropped);
	tw_jb_u64(b, "dropped_overflow", c.dropped_overflow);
	tw_jb_u64(b, "dropped_rejected", c.dropped_rejected);
	tw_jb_u64(b, "dropped_unmapped", c.dropped_unmapped);
	tw_jb_u64(b, "dropped_at_exit", c.dropped_at_exit);
	tw_jb_u64(b, "dropped_spool", c.dropped_spool);
	tw_jb_u64(b, "scope_not_prefix", c.scope_not_prefix);
	tw_jb_u64(b, "spool_saves", c.spool_saves);
	tw_jb_u64(b, "spool_errors", c.spool_errors);
	tw_jb_u64(b, "spool_loaded", c.spool_loaded);
	tw_jb_u64(b, "spool_set_aside", c.spool_set_aside);
	tw_jb_obj_close(b);
}

void tw_am_sink(void *arg, const char *line, size_t len, struct json_object *obj)
{
	struct tw_am *am = arg;
	struct json_object *et;
	char err[256];
	(void)line;
	(void)len;
	if (!json_object_object_get_ex(obj, "event_type", &et) || strcmp(json_object_get_string(et), "alert"))
		return;
	uint64_t unsafe = 0;
	struct tw_am_alert a;
	int rc = tw_am_map(obj, &am->labels, wall_ns(), &a, &unsafe, err, sizeof(err));
	pthread_mutex_lock(&am->mu);
	am->c.alerts++;
	am->c.scope_not_prefix += unsafe;
	if (rc < 0) {
		am->c.dropped_unmapped++;
	} else if (am->stopped) {
		am->c.dropped_at_exit++;
		tw_am_alert_clear(&a);
	} else {
		tw_am_queue_put(&am->q, &a, wall_ns());
		pthread_cond_broadcast(&am->cv);
	}
	pthread_mutex_unlock(&am->mu);
	if (rc < 0)
		fprintf(stderr, "tamperwatchd: alertmanager: %s (dropped)\n", err);
}

static void stop(struct tw_am *am)
{
	pthread_mutex_lock(&am->mu);
	if (am->stopped) {
		pthread_mutex_unlock(&am->mu);
		return;
	}
	am->stopping = 1;
	am->deadline = wall_ns() + (int64_t)am->cfg.drain_timeout * NS;
	pthread_cond_broadcast(&am->cv);
	pthread_mutex_unlock(&am->mu);
	for (int i = 0; i < am->nurls; i++)
		if (am->url[i].started)
			pthread_join(am->url[i].thread, NULL);
	pthread_mutex_lock(&am->mu);
	am->stopped = 1;
	size_t pending = tw_am_queue_pending(&am->q, -1);
	int saved = am->state_dir && save_spool_locked(am) == 0;
	if (saved && pending)
		fprintf(stderr,
		        "tamperwatchd: alertmanager: %zu alerts not delivered within %d s; kept in "
		        "%s/%s for the next start\n",
		        pending, am->cfg.drain_timeout, am->state_dir, TW_AM_SPOOL_NAME);
	else if (pending) {
		am->c.dropped_at_exit += pending;
		fprintf(stderr, "tamperwatchd: alertmanager: %zu alerts not delivered within %d s and lost (%s)\n",
		        pending, am->cfg.drain_timeout,
		        am->state_dir ? "the spool could not be written" : "no --state to keep them");
	}
	pthread_mutex_unlock(&am->mu);
}

void tw_am_tick(void *arg, uint64_t now_ns, int final)
{
	(void)now_ns;
	if (final)
		stop(arg);
}

void tw_am_free(struct tw_am *am)
{
	if (!am)
		return;
	stop(am);
	for (int i = 0; i < am->nurls; i++) {
		curl_slist_free_all(am->url[i].hdr);
		if (am->url[i].h)
			curl_easy_cleanup(am->url[i].h);
	}
	tw_am_queue_free(&am->q);
	pthread_cond_destroy(&am->cv);
	pthread_mutex_destroy(&am->mu);
	free(am->generator_json);
	free(am->state_dir);
	free(am);
	curl_global_cleanup();
}

static int setup_url(struct tw_am *am, int i, const char *base, char *err, size_t errlen)
{
	struct am_url *u = &am->url[i];
	u->am = am;
	u->idx = i;
	snprintf(u->endpoint, sizeof(u->endpoint), "%.*s/api/v2/alerts", TW_AM_URL_MAX - 1, base);
	shown_url(base, u->shown, sizeof(u->shown));
	u->h = curl_easy_init();
	u->hdr = curl_slist_append(NULL, "Content-Type: application/json");
	if (!u->h || !u->hdr) {
		snprintf(err, errlen, "alertmanager %s: cannot set up libcurl", u->shown);
		return -1;
	}
	curl_easy_setopt(u->h, CURLOPT_URL, u->endpoint);
	curl_easy_setopt(u->h, CURLOPT_HTTPHEADER, u->hdr);
	curl_easy_setopt(u->h, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for timeouts */
	curl_easy_setopt(u->h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(u->h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(u->h, CURLOPT_USERAGENT, "tamperwatchd");
	curl_easy_setopt(u->h, CURLOPT_WRITEFUNCTION, on_body);
	return 0;
}

struct tw_am *tw_am_new(const struct tw_am_cfg *cfg, const char *state_dir, char *err, size_t errlen)
{
	char urls[TW_AM_MAX_URLS][TW_AM_URL_MAX], why[256];
	int n;
	if (tw_am_parse_urls(cfg->url, urls, &n, why, sizeof(why)) < 0 || !n) {
		snprintf(err, errlen, "alertmanager.url: %s", n ? why : "no URL");
		return NULL;
	}
	struct tw_am *am = calloc(1, sizeof(*am));
	if (!am) {
		snprintf(err, errlen, "alertmanager: out of memory");
		return NULL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(am);
		snprintf(err, errlen, "alertmanager: libcurl initialisation failed");
		return NULL;
	}
	pthread_mutex_init(&am->mu, NULL);
	pthread_cond_init(&am->cv, NULL);
	am->cfg = *cfg;
	am->nurls = n;
	tw_am_queue_init(&am->q, (size_t)cfg->queue_max, n, (int64_t)cfg->resend_interval * NS);
	if (tw_am_parse_labels(cfg->labels, &am->labels, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "alertmanager.labels: %s", why);
		goto fail;
	}
	/* instance: this gateway, unless the configuration names it */
	int has_instance = 0;
	for (int i = 0; i < am->labels.n; i++)
		has_instance |= !strcmp(am->labels.l[i].name, "instance");
	if (!has_instance && am->labels.n < TW_AM_MAX_LABELS) {
		struct tw_am_label *l = &am->labels.l[am->labels.n++];
		snprintf(l->name, sizeof(l->name), "instance");
		if (gethostname(l->value, sizeof(l->value) - 1) < 0 || !l->value[0])
			snprintf(l->value, sizeof(l->value), "tamperwatchd");
	}
	if (cfg->generator_url[0]) {
		struct json_object *s = json_object_new_string(cfg->generator_url);
		const char *t = s ? json_object_to_json_string_ext(s, JSON_C_TO_STRING_NOSLASHESCAPE) : NULL;
		am->generator_json = t ? strdup(t) : NULL;
		json_object_put(s);
	}
	for (int i = 0; i < n; i++)
		if (setup_url(am, i, urls[i], err, errlen) < 0)
			goto fail;
	if (state_dir) {
		am->state_dir = strdup(state_dir);
		if (!am->state_dir || (mkdir(state_dir, 0700) < 0 && errno != EEXIST)) {
			snprintf(err, errlen, "--state %s: %s", state_dir, strerror(am->state_dir ? errno : ENOMEM));
			goto fail;
		}
		uint64_t dropped = 0;
		int rc = tw_am_spool_load(&am->q, state_dir, &dropped, why, sizeof(why));
		am->c.dropped_spool = dropped;
		if (rc < 0) {
			/* a bad spool is reported and set aside; delivery starts empty */
			am->c.spool_set_aside++;
			fprintf(stderr, "tamperwatchd: alertmanager spool %s\n", why);
		} else if (rc > 0) {
			am->c.spool_loaded = am->q.n;
			am->saved_changes = am->q.changes;
			if (am->q.n || dropped)
				fprintf(stderr, "tamperwatchd: alertmanager: %zu alerts from the spool to deliver%s\n",
				        am->q.n, dropped ? " (some entries unusable: dropped, counted)" : "");
		}
	}
	for (int i = 0; i < n; i++) {
		if (pthread_create(&am->url[i].thread, NULL, deliver, &am->url[i]) != 0) {
			snprintf(err, errlen, "alertmanager: cannot start a delivery thread");
			goto fail;
		}
		am->url[i].started = 1;
	}
	return am;
fail:
	/* nothing was delivered or changed: stop the threads, keep the spool as it is */
	pthread_mutex_lock(&am->mu);
	am->stopping = 1;
	am->deadline = 0;
	pthread_cond_broadcast(&am->cv);
	pthread_mutex_unlock(&am->mu);
	for (int i = 0; i < n; i++)
		if (am->url[i].started)
			pthread_join(am->url[i].thread, NULL);
	am->stopped = 1;
	tw_am_free(am);
	return NULL;
}
