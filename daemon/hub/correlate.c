#include "hub/correlate.h"
#include "util/jsonbuf.h"
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TW_XCORR_MAX_SITES 4096    /* more sites are not tracked (records ignored, counted) */
#define TW_XCORR_MAX_ENTRIES 65536 /* open site alerts kept; beyond: ignored, counted */
#define TW_XCORR_HISTORY 8         /* summary windows of a site kept before its last one */

struct tw_xcorr {
	struct tw_hub_cfg cfg;
	tw_xcorr_emit_fn emit;
	void *arg;
	/* {"sites":{NAME:{network,region,last_rx,records,traffic}}, "blocks":{TARGET:{SITE|ID:entry}},
	 *  "shut":{SITE|ID:entry}, "xalerts":{KEY:{id,sig,first}}} */
	struct json_object *st;
	uint64_t ignored, summaries;
	size_t entries;
};

static struct json_object *member(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;
	return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static const char *str(struct json_object *o, const char *k)
{
	struct json_object *v = member(o, k);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static struct json_object *sub(struct json_object *o, const char *k)
{
	struct json_object *v = member(o, k);
	if (!v) {
		v = json_object_new_object();
		json_object_object_add(o, k, v);
	}
	return v;
}

static struct json_object *new_state(void)
{
	struct json_object *s = json_object_new_object();
	sub(s, "sites");
	sub(s, "blocks");
	sub(s, "shut");
	sub(s, "xalerts");
	return s;
}

struct tw_xcorr *tw_xcorr_new(const struct tw_hub_cfg *cfg, tw_xcorr_emit_fn emit, void *arg)
{
	struct tw_xcorr *x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->cfg = *cfg;
	x->emit = emit;
	x->arg = arg;
	x->st = new_state();
	return x;
}

void tw_xcorr_free(struct tw_xcorr *x)
{
	if (!x)
		return;
	json_object_put(x->st);
	free(x);
}

struct json_object *tw_xcorr_state(struct tw_xcorr *x)
{
	return x->st;
}

int tw_xcorr_restore(struct tw_xcorr *x, struct json_object *state)
{
	const char *parts[] = { "sites", "blocks", "shut", "xalerts" };
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (!json_object_is_type(member(state, parts[i]), json_type_object))
			return -1;
	json_object_put(x->st);
	x->st = json_object_get(state);
	x->entries = (size_t)json_object_object_length(member(x->st, "shut"));
	json_object_object_foreach(member(x->st, "blocks"), k, v)
	{
		(void)k;
		x->entries += (size_t)json_object_object_length(v);
	}
	return 0;
}

/* the key a blocked target is correlated by: its name, else ADDRESS:PORT */
static int target_key(struct json_object *t, char *out, size_t cap)
{
	const char *d = str(t, "domain"), *ip = str(t, "ip");
	struct json_object *port = member(t, "port");
	if (d && *d)
		return snprintf(out, cap, "%s", d) < (int)cap ? 0 : -1;
	if (ip && *ip)
		return snprintf(out, cap, "%s:%d", ip, port ? json_object_get_int(port) : 0) < (int)cap ? 0 : -1;
	return -1;
}

static void put_entry(struct tw_xcorr *x, struct json_object *map, const char *k, struct json_object *e)
{
	if (!member(map, k)) {
		if (x->entries >= TW_XCORR_MAX_ENTRIES) {
			x->ignored++;
			json_object_put(e);
			return;
		}
		x->entries++;
	}
	json_object_object_add(map, k, e);
}

static void del_entry(struct tw_xcorr *x, struct json_object *map, const char *k)
{
	if (member(map, k)) {
		json_object_object_del(map, k);
		x->entries--;
	}
}

static void eval_target(struct tw_xcorr *x, const char *tk, struct json_object *entries, int64_t now_ns);

static int64_t num(struct json_object *o, const char *k)
{
	struct json_object *v = member(o, k);
	return v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : 0;
}

/* A prefix summary into the site's traffic: {"to": the window's end (the
 * site's clock), "prefixes", "packets", "bytes", "new_flows",
 * "active_clients": sums over its prefixes, "history": the packets of the
 * windows before, oldest first}.  A window's lines come together and in
 * order; one older than the current window is ignored (counted). */
static int take_summary(struct tw_xcorr *x, struct json_object *site, struct json_object *rec)
{
	struct json_object *ps = member(rec, "prefix_summary");
	const char *to = str(ps, "to");
	if (!to || !*to || strlen(to) > 40)
		return -1;
	static const char *const sums[] = { "packets", "bytes", "new_flows", "active_clients" };
	struct json_object *tr = member(site, "traffic");
	const char *cur = str(tr, "to");
	if (cur && strcmp(to, cur) < 0) {
		x->ignored++;
		return 0;
	}
	if (!tr || !cur || strcmp(to, cur)) { /* a new window: the last one goes into the history */
		struct json_object *h = json_object_new_array();
		struct json_object *old = member(tr, "history");
		size_t n = old && json_object_is_type(old, json_type_array) ? json_object_array_length(old) : 0;
		size_t keep = cur ? TW_XCORR_HISTORY - 1 : TW_XCORR_HISTORY;
		for (size_t i = n > keep ? n - keep : 0; i < n; i++)
			json_object_array_add(h, json_object_get(json_object_array_get_idx(old, i)));
		if (cur)
			json_object_array_add(h, json_object_new_int64(num(tr, "packets")));
		tr = json_object_new_object();
		const char *from = str(ps, "from");
		json_object_object_add(tr, "from", from && strlen(from) <= 40 ? json_object_new_string(from) : NULL);
		json_object_object_add(tr, "to", json_object_new_string(to));
		json_object_object_add(tr, "prefixes", json_object_new_int64(0));
		for (size_t i = 0; i < sizeof(sums) / sizeof(sums[0]); i++)
			json_object_object_add(tr, sums[i], json_object_new_int64(0));
		json_object_object_add(tr, "history", h);
		json_object_object_add(site, "traffic", tr);
	}
	json_object_object_add(tr, "prefixes", json_object_new_int64(num(tr, "prefixes") + 1));
	for (size_t i = 0; i < sizeof(sums) / sizeof(sums[0]); i++) {
		int64_t v = num(ps, sums[i]);
		if (v < 0 || v > INT64_MAX / 2)
			return -1;
		int64_t t = num(tr, sums[i]);
		json_object_object_add(tr, sums[i], json_object_new_int64(t > INT64_MAX - v ? INT64_MAX : t + v));
	}
	x->summaries++;
	return 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* What a site's summaries said last: "collapsed" (its last window below
 * collapse_frac of the earlier windows' median, that median at least
 * collapse_min_packets), "steady", or "unknown" (no summary, or fewer than
 * two windows before the last). */
static const char *traffic_trend(const struct tw_xcorr *x, struct json_object *site)
{
	struct json_object *tr = member(site, "traffic"), *h = member(tr, "history");
	size_t n = h && json_object_is_type(h, json_type_array) ? json_object_array_length(h) : 0;
	int64_t v[TW_XCORR_HISTORY];
	if (n < 2 || n > TW_XCORR_HISTORY)
		return "unknown";
	for (size_t i = 0; i < n; i++)
		v[i] = json_object_get_int64(json_object_array_get_idx(h, i));
	qsort(v, n, sizeof(v[0]), cmp_i64);
	double median = n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2;
	if (median < (double)x->cfg.collapse_min_packets)
		return "unknown";
	return (double)num(tr, "packets") < x->cfg.collapse_frac * median ? "collapsed" : "steady";
}

int tw_xcorr_record(struct tw_xcorr *x, struct json_object *rec, int64_t now_ns)
{
	struct json_object *site = member(rec, "site");
	const char *name = str(site, "name"), *net = str(site, "network"), *region = str(site, "region");
	const char *type = str(rec, "event_type");
	if (!name || !*name || !net || !type || strlen(name) >= TW_NATS_NAME_MAX)
		return -1;
	struct json_object *sites = sub(x->st, "sites"), *s = member(sites, name);
	if (!s) {
		if ((size_t)json_object_object_length(sites) >= TW_XCORR_MAX_SITES) {
			x->ignored++;
			return 0;
		}
		s = json_object_new_object();
		json_object_object_add(sites, name, s);
	}
	json_object_object_add(s, "network", json_object_new_string(net));
	json_object_object_add(s, "region", region ? json_object_new_string(region) : NULL);
	json_object_object_add(s, "last_rx", json_object_new_int64(now_ns));
	struct json_object *nrec = member(s, "records");
	json_object_object_add(s, "records", json_object_new_int64((nrec ? json_object_get_int64(nrec) : 0) + 1));

	if (!strcmp(type, "prefix_summary"))
		return take_summary(x, s, rec);
	if (strcmp(type, "alert")) {
		if (strcmp(type, "site"))
			x->ignored++;
		return 0;
	}
	struct json_object *a = member(rec, "alert"), *scope = member(rec, "scope");
	const char *id = str(a, "id"), *cat = str(a, "category"), *state = str(a, "state");
	if (!id || !cat || !state)
		return -1;
	if (member(scope, "sites")) /* a hub's own alert, published back: not a site's view */
		return 0;
	char ek[TW_NATS_NAME_MAX + 80];
	snprintf(ek, sizeof(ek), "%s|%.70s", name, id);
	int open = strcmp(state, "resolved") != 0;
	if (!strcmp(cat, "blocking")) {
		char tk[512];
		struct json_object *target = member(rec, "target");
		if (target_key(target, tk, sizeof(tk)) < 0)
			return -1;
		struct json_object *blocks = sub(x->st, "blocks"), *t = sub(blocks, tk);
		if (!open) {
			del_entry(x, t, ek);
			eval_target(x, tk, t, now_ns); /* at once: a short overlap of sites counts too */
			if (!json_object_object_length(t))
				json_object_object_del(blocks, tk);
			return 0;
		}
		struct json_object *c = member(rec, "censorship"), *e = json_object_new_object();
		json_object_object_add(e, "site", json_object_new_string(name));
		json_object_object_add(e, "network", json_object_new_string(net));
		json_object_object_add(e, "region", region ? json_object_new_string(region) : NULL);
		json_object_object_add(e, "method", json_object_new_string(str(c, "method") ? str(c, "method") : ""));
		json_object_object_add(e, "methods_seen", json_object_get(member(c, "methods_seen")));
		json_object_object_add(e, "first_seen", json_object_get(member(rec, "first_seen")));
		json_object_object_add(e, "last_seen", json_object_get(member(rec, "last_seen")));
		json_object_object_add(e, "target", json_object_get(target));
		put_entry(x, t, ek, e);
		eval_target(x, tk, t, now_ns);
	} else if (!strcmp(cat, "shutdown")) {
		struct json_object *shut = sub(x->st, "shut");
		if (!open) {
			del_entry(x, shut, ek);
			return 0;
		}
		const char *r = region ? region : str(scope, "region");
		struct json_object *e = json_object_new_object();
		json_object_object_add(e, "site", json_object_new_string(name));
		json_object_object_add(e, "region", r ? json_object_new_string(r) : NULL);
		json_object_object_add(e, "first_seen", json_object_get(member(rec, "first_seen")));
		put_entry(x, shut, ek, e);
	} else {
		x->ignored++; /* throttling: not correlated across sites (docs/hub.md) */
	}
	return 0;
}

/* ---- evaluation */

static void add_unique(struct json_object *arr, const char *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(arr, i)), v))
			return;
	json_object_array_add(arr, json_object_new_string(v));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(json_object_get_string(*(struct json_object *const *)a),
	              json_object_get_string(*(struct json_object *const *)b));
}

static struct json_object *sorted(struct json_object *arr)
{
	json_object_array_sort(arr, cmp_str);
	return arr;
}

/* silent for `times` site_timeouts */
static int silent_for(const struct tw_xcorr *x, struct json_object *site, int64_t now_ns, int times)
{
	struct json_object *rx = member(site, "last_rx");
	return rx && now_ns - json_object_get_int64(rx) > (int64_t)times * x->cfg.site_timeout * 1000000000ll;
}

static int silent(const struct tw_xcorr *x, struct json_object *site, int64_t now_ns)
{
	return silent_for(x, site, now_ns, 1);
}

static uint64_t fnv(const char *s, uint64_t h)
{
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

/* A cross-site alert wanted now: key, its content (a = NULL: none wanted).
 * Raises, updates (content changed) or resolves it; the line is made here. */
static void settle(struct tw_xcorr *x, const char *key, struct json_object *want, int64_t now_ns)
{
	struct json_object *xa = sub(x->st, "xalerts"), *have = member(xa, key);
	char ts[48];
	tw_time_format(ts, sizeof(ts), (uint64_t)now_ns);
	if (!want && !have)
		return;
	const char *sig = want ? json_object_to_json_string_ext(want, JSON_C_TO_STRING_PLAIN) : NULL;
	const char *state;
	struct json_object *line;
	if (want && have) {
		if (!strcmp(str(have, "sig") ? str(have, "sig") : "", sig))
			return;
		state = "updated";
	} else {
		state = want ? "raised" : "resolved";
	}
	if (!have) {
		char id[32];
		snprintf(id, sizeof(id), "xs-%016llx", (unsigned long long)fnv(ts, fnv(key, 1469598103934665603ull)));
		have = json_object_new_object();
		json_object_object_add(have, "id", json_object_new_string(id));
		json_object_object_add(have, "raised", json_object_new_string(ts));
		json_object_object_add(xa, key, have);
	}
	/* the line: the wanted content (or the last one, on resolve) with the alert's identity */
	line = json_tokener_parse(want ? sig : str(have, "sig"));
	if (!line) /* never: we made it */
		return;
	struct json_object *a = member(line, "alert");
	json_object_object_add(line, "timestamp", json_object_new_string(ts));
	json_object_object_add(a, "id", json_object_new_string(str(have, "id")));
	json_object_object_add(a, "state", json_object_new_string(state));
	if (!want)
		json_object_object_add(a, "resolution", json_object_new_string("cleared"));
	json_object_object_add(line, "raised", json_object_new_string(str(have, "raised")));
	if (want)
		json_object_object_add(have, "sig", json_object_new_string(sig));
	/* event_type first, as in every record */
	struct json_object *out = json_object_new_object();
	json_object_object_add(out, "timestamp", json_object_get(member(line, "timestamp")));
	json_object_object_add(out, "event_type", json_object_new_string("alert"));
	json_object_object_foreach(line, k, v)
	{
		if (strcmp(k, "timestamp"))
			json_object_object_add(out, k, json_object_get(v));
	}
	size_t len;
	const char *txt = json_object_to_json_string_length(out, JSON_C_TO_STRING_PLAIN, &len);
	char *buf = malloc(len + 2);
	if (buf) {
		memcpy(buf, txt, len);
		buf[len] = '\n';
		buf[len + 1] = 0;
		x->emit(x->arg, buf, len + 1);
		free(buf);
	}
	json_object_put(out);
	json_object_put(line);
	if (!want)
		json_object_object_del(xa, key);
}

static struct json_object *alert_head(int sig_id, const char *signature, const char *category, int severity)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_object();
	json_object_object_add(a, "id", json_object_new_string(""));
	json_object_object_add(a, "state", json_object_new_string(""));
	json_object_object_add(a, "signature_id", json_object_new_int(sig_id));
	json_object_object_add(a, "signature", json_object_new_string(signature));
	json_object_object_add(a, "category", json_object_new_string(category));
	json_object_object_add(a, "severity", json_object_new_int(severity));
	json_object_object_add(o, "alert", a);
	return o;
}

/* the cross-site alert of one blocked target (entries: its open site alerts, NULL: none) */
static void eval_target(struct tw_xcorr *x, const char *tk, struct json_object *entries, int64_t now_ns)
{
	{
		struct json_object *sites = json_object_new_array(), *nets = json_object_new_array(),
		                   *regions = json_object_new_array(), *methods = json_object_new_array();
		const char *first = NULL, *last = NULL;
		struct json_object *target = NULL;
		char method[32] = "";
		int best = 0;
		json_object_object_foreach(entries, ek, e)
		{
			(void)ek;
			const char *m = str(e, "method"), *f = str(e, "first_seen"), *l = str(e, "last_seen");
			add_unique(sites, str(e, "site"));
			add_unique(nets, str(e, "network"));
			add_unique(regions, str(e, "region"));
			add_unique(methods, m);
			struct json_object *ms = member(e, "methods_seen");
			for (size_t i = 0;
			     ms && json_object_is_type(ms, json_type_array) && i < json_object_array_length(ms); i++)
				add_unique(methods, json_object_get_string(json_object_array_get_idx(ms, i)));
			if (f && (!first || strcmp(f, first) < 0))
				first = f;
			if (l && (!last || strcmp(l, last) > 0))
				last = l;
			if (!target)
				target = member(e, "target");
			int n = 0; /* the method most sites name */
			json_object_object_foreach(entries, ek2, e2)
			{
				(void)ek2;
				n += m && str(e2, "method") && !strcmp(m, str(e2, "method"));
			}
			if (m && n > best) {
				best = n;
				snprintf(method, sizeof(method), "%s", m);
			}
		}
		size_t ns = json_object_array_length(sites), nn = json_object_array_length(nets);
		struct json_object *want = NULL;
		if (ns >= (size_t)x->cfg.min_sites) {
			const char *extent = nn >= (size_t)x->cfg.national_networks ? "national"
			                     : nn == 1                              ? "single_network"
			                                                            : "multi_network";
			char signature[640];
			snprintf(signature, sizeof(signature), "%s blocking of %.500s at %zu site%s", extent, tk, ns,
			         ns == 1 ? "" : "s");
			want = alert_head(!strcmp(extent, "national")         ? 2801
			                  : !strcmp(extent, "single_network") ? 2802
			                                                      : 2803,
			                  signature, "blocking", !strcmp(extent, "national") ? 1 : 2);
			struct json_object *c = json_object_new_object(), *sc = json_object_new_object(),
			                   *stt = json_object_new_object();
			json_object_object_add(c, "method", json_object_new_string(method));
			json_object_object_add(c, "methods_seen", json_object_get(sorted(methods)));
			json_object_object_add(c, "extent", json_object_new_string(extent));
			json_object_object_add(want, "censorship", c);
			json_object_object_add(want, "target", json_object_get(target));
			json_object_object_add(sc, "sites", json_object_get(sorted(sites)));
			json_object_object_add(sc, "networks", json_object_get(sorted(nets)));
			json_object_object_add(sc, "regions", json_object_get(sorted(regions)));
			json_object_object_add(want, "scope", sc);
			json_object_object_add(stt, "sites", json_object_new_int64((int64_t)ns));
			json_object_object_add(stt, "networks", json_object_new_int64((int64_t)nn));
			json_object_object_add(want, "stats", stt);
			json_object_object_add(want, "first_seen", first ? json_object_new_string(first) : NULL);
		}
		char key[600];
		snprintf(key, sizeof(key), "b:%s", tk);
		settle(x, key, want, now_ns);
		json_object_put(want);
		json_object_put(sites);
		json_object_put(nets);
		json_object_put(regions);
		json_object_put(methods);
		(void)last;
	}
}

static void eval_blocks(struct tw_xcorr *x, int64_t now_ns, struct json_object *seen_keys)
{
	json_object_object_foreach(sub(x->st, "blocks"), tk, entries)
	{
		char key[600];
		snprintf(key, sizeof(key), "b:%s", tk);
		json_object_object_add(seen_keys, key, NULL);
		eval_target(x, tk, entries, now_ns);
	}
}

static void eval_sites(struct tw_xcorr *x, int64_t now_ns, struct json_object *seen_keys)
{
	struct json_object *sites = sub(x->st, "sites"), *shut = sub(x->st, "shut");
	/* region -> {"shut":[..],"collapsed":[..],"silent":[..],"first"} */
	struct json_object *regions = json_object_new_object();
	struct json_object *covered = json_object_new_object(); /* silent sites a shutdown alert names */
	json_object_object_foreach(sites, name, s)
	{
		const char *r = str(s, "region");
		if (!r)
			continue;
		struct json_object *g = sub(regions, r);
		if (!member(g, "shut")) {
			json_object_object_add(g, "shut", json_object_new_array());
			json_object_object_add(g, "collapsed", json_object_new_array());
			json_object_object_add(g, "silent", json_object_new_array());
		}
		int in_shut = 0;
		json_object_object_foreach(shut, ek, e)
		{
			(void)ek;
			if (!strcmp(str(e, "site") ? str(e, "site") : "", name)) {
				in_shut = 1;
				const char *f = str(e, "first_seen"), *cur = str(g, "first");
				if (f && (!cur || strcmp(f, cur) < 0))
					json_object_object_add(g, "first", json_object_new_string(f));
			}
		}
		if (in_shut) { /* its silence is the shutdown it reported, not an outage of the site */
			add_unique(member(g, "shut"), name);
			json_object_object_add(covered, name, NULL);
		} else if (silent(x, s, now_ns) && !strcmp(traffic_trend(x, s), "collapsed")) {
			/* silent right after its traffic collapsed: a cut that took the site with it */
			add_unique(member(g, "collapsed"), name);
			const char *f = str(member(s, "traffic"), "from"), *cur = str(g, "cfirst");
			if (f && (!cur || strcmp(f, cur) < 0))
				json_object_object_add(g, "cfirst", json_object_new_string(f));
		} else if (silent(x, s, now_ns))
			add_unique(member(g, "silent"), name);
	}
	/* multi-site shutdowns: the sites that see it and the silent ones with them */
	json_object_object_foreach(regions, r, g)
	{
		size_t nshut = json_object_array_length(member(g, "shut"));
		size_t nsil = json_object_array_length(member(g, "silent"));
		size_t ncol = json_object_array_length(member(g, "collapsed"));
		struct json_object *want = NULL;
		char key[128];
		snprintf(key, sizeof(key), "s:%s", r);
		if (nshut + ncol && nshut + ncol + nsil >= (size_t)x->cfg.shutdown_sites) {
			char signature[160];
			snprintf(signature, sizeof(signature), "shutdown of %s seen by %zu sites", r,
			         nshut + ncol + nsil);
			want = alert_head(2804, signature, "shutdown", 1);
			struct json_object *c = json_object_new_object(), *sc = json_object_new_object(),
			                   *all = json_object_new_array(), *stt = json_object_new_object();
			json_object_object_add(c, "method", json_object_new_string("shutdown"));
			json_object_object_add(c, "extent", json_object_new_string("multi_site"));
			json_object_object_add(want, "censorship", c);
			for (size_t i = 0; i < nshut; i++)
				add_unique(all,
				           json_object_get_string(json_object_array_get_idx(member(g, "shut"), i)));
			struct json_object *quiet = json_object_new_array(); /* silent, collapsed or not */
			for (size_t i = 0; i < nsil; i++)
				add_unique(quiet,
				           json_object_get_string(json_object_array_get_idx(member(g, "silent"), i)));
			for (size_t i = 0; i < ncol; i++)
				add_unique(quiet, json_object_get_string(
				                          json_object_array_get_idx(member(g, "collapsed"), i)));
			for (size_t i = 0; i < json_object_array_length(quiet); i++)
				add_unique(all, json_object_get_string(json_object_array_get_idx(quiet, i)));
			json_object_object_add(sc, "sites", sorted(all));
			json_object_object_add(sc, "region", json_object_new_string(r));
			json_object_object_add(sc, "sites_silent", sorted(quiet));
			json_object_object_add(sc, "sites_collapsed", json_object_get(sorted(member(g, "collapsed"))));
			json_object_object_add(want, "scope", sc);
			json_object_object_add(stt, "sites_in_shutdown", json_object_new_int64((int64_t)nshut));
			json_object_object_add(stt, "sites_silent", json_object_new_int64((int64_t)(nsil + ncol)));
			json_object_object_add(stt, "sites_collapsed", json_object_new_int64((int64_t)ncol));
			json_object_object_add(want, "stats", stt);
			/* since: the earliest shutdown a site reported, else the earliest collapsed window */
			json_object_object_add(want, "first_seen",
			                       json_object_get(member(g, member(g, "first") ? "first" : "cfirst")));
			/* its silent sites are part of it, not outages */
			for (size_t i = 0; i < nsil + ncol; i++)
				json_object_object_add(
				        covered, json_object_get_string(json_object_array_get_idx(quiet, i)), NULL);
		}
		json_object_object_add(seen_keys, key, NULL);
		settle(x, key, want, now_ns);
		json_object_put(want);
	}
	/* site outages: silent, and not in a shutdown its region's sites see */
	json_object_object_foreach(sites, name2, s2)
	{
		struct json_object *want = NULL;
		char key[TW_NATS_NAME_MAX + 8];
		snprintf(key, sizeof(key), "o:%s", name2);
		const char *r = str(s2, "region");
		/* a site silent after its traffic collapsed waits one more site_timeout for its
		 * region's other sites: the cut that took it may take them a moment later */
		int after_collapse = !strcmp(traffic_trend(x, s2), "collapsed");
		if (silent_for(x, s2, now_ns, after_collapse ? 2 : 1) &&
		    !json_object_object_get_ex(covered, name2, NULL)) {
			size_t reporting = 0, others = 0;
			json_object_object_foreach(sites, n3, s3)
			{
				if (!strcmp(n3, name2) || !r || !str(s3, "region") || strcmp(str(s3, "region"), r))
					continue;
				others++;
				reporting += !silent(x, s3, now_ns);
			}
			char signature[160], since[48];
			snprintf(signature, sizeof(signature), "site outage of %s", name2);
			want = alert_head(2805, signature, "site_outage", 2);
			struct json_object *c = json_object_new_object(), *sc = json_object_new_object(),
			                   *one = json_object_new_array(), *stt = json_object_new_object();
			json_object_object_add(c, "method", json_object_new_string("site_outage"));
			json_object_object_add(c, "extent", json_object_new_string("site"));
			json_object_object_add(want, "censorship", c);
			json_object_array_add(one, json_object_new_string(name2));
			json_object_object_add(sc, "sites", one);
			json_object_object_add(sc, "region", r ? json_object_new_string(r) : NULL);
			json_object_object_add(want, "scope", sc);
			json_object_object_add(stt, "region_sites", json_object_new_int64((int64_t)others));
			json_object_object_add(stt, "region_sites_reporting",
			                       json_object_new_int64((int64_t)reporting));
			json_object_object_add(stt, "traffic_before_silence",
			                       json_object_new_string(traffic_trend(x, s2)));
			json_object_object_add(want, "stats", stt);
			tw_time_format(since, sizeof(since), (uint64_t)json_object_get_int64(member(s2, "last_rx")));
			json_object_object_add(want, "first_seen", json_object_new_string(since));
		}
		json_object_object_add(seen_keys, key, NULL);
		settle(x, key, want, now_ns);
		json_object_put(want);
	}
	json_object_put(regions);
	json_object_put(covered);
}

void tw_xcorr_evaluate(struct tw_xcorr *x, int64_t now_ns)
{
	struct json_object *keys = json_object_new_object(), *gone = json_object_new_array();
	eval_blocks(x, now_ns, keys);
	eval_sites(x, now_ns, keys);
	/* open cross-site alerts nothing wants any more (their target's last site alert resolved) */
	json_object_object_foreach(sub(x->st, "xalerts"), k, v)
	{
		(void)v;
		if (!json_object_object_get_ex(keys, k, NULL))
			json_object_array_add(gone, json_object_new_string(k));
	}
	for (size_t i = 0; i < json_object_array_length(gone); i++)
		settle(x, json_object_get_string(json_object_array_get_idx(gone, i)), NULL, now_ns);
	json_object_put(gone);
	json_object_put(keys);
}

void tw_xcorr_stats(const struct tw_xcorr *x, struct tw_xcorr_stats *out)
{
	memset(out, 0, sizeof(*out));
	struct json_object *sites = member(x->st, "sites");
	int64_t now = (int64_t)time(NULL) * 1000000000ll;
	json_object_object_foreach(sites, k, s)
	{
		(void)k;
		out->sites++;
		out->sites_silent += (uint64_t)silent(x, s, now);
	}
	out->open_alerts = (uint64_t)json_object_object_length(member(x->st, "xalerts"));
	out->ignored = x->ignored;
	out->summaries = x->summaries;
}
