/* Region-wide throttling: see throttle_region.h and docs/alerts.md
 * "Region-wide throttling".
 *
 * Per group (a region of regions.file, else a client prefix) the rated
 * flows of the last `window` seconds are kept exactly (bounded); flows that
 * leave the window while the group has no open alert are summed into
 * per-window buckets, the group's longer memory.  A group is throttled when
 * its policed or shaped flows (the per-flow classifier's verdicts) are
 * many, to several targets, most of its flows since the collapse began, and
 * at a common rate; and when that rate is a drop: against the group's own
 * flows before the collapse (the window's earlier flows and the buckets)
 * and, where other groups reached the same targets meanwhile, against them
 * too.  A group that is merely on slow links has a slow baseline, so no
 * drop; a slow target is slow for the other groups too, so no drop against
 * them.  Memory: at most max_groups groups of at most MAX_WIN flows. */
#include "alerts/throttle_region.h"
#include "regions.h"
#include "util/jsonbuf.h"
#include "verdicts/throttle.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS 1000000000ull
#define MAX_WIN 1024 /* rated flows per group in the window */
#define MAX_GPFX 16  /* prefixes a group's alert names */
#define KEYLEN 52
#define BASE_B 12   /* baseline buckets of `window` seconds each */
#define MAX_TGT 16  /* targets an alert names */
#define TNAME 128   /* a target's name, cut */
#define MAX_SET 256 /* distinct targets counted per evaluation */
#define MAX_EVID 20
#define NHASH 1024
#define SIG_ID 2010
#define FNV0 14695981039346656037ull

struct wrec {
	uint64_t ts, flow_id, tgt; /* tgt: hash of the target's name */
	float rate;                /* capped: the estimated rate; else the goodput (bit/s) */
	float secs;                /* the rate series' span */
	uint8_t capped;            /* policing or shaping */
	uint8_t kind, dirs, pfx;   /* enum tw_thr_kind; bit TW_DIR_*; index into group.pfx (0xff: beyond) */
};

struct group {
	struct group *next;
	char key[KEYLEN];
	int is_region;
	char pfx[MAX_GPFX][KEYLEN];
	int npfx;
	struct wrec *r;
	size_t nr, cap;
	uint64_t b_epoch[BASE_B];
	uint32_t b_n[BASE_B];
	double b_lsum[BASE_B];
	char tn[MAX_TGT][TNAME]; /* the first targets' names, by hash th */
	uint64_t th[MAX_TGT];
	int ntn;
	int dirty;
	/* the alert */
	int open;
	char id[24];
	uint64_t first_seen, last_capped, last_emit, em_affected;
	/* the last alert's id and its last line: what a shutdown refers to */
	char last_id[24];
	uint64_t last_line;
};

struct tw_rthr {
	struct tw_rthr_cfg c;
	tw_rthr_emit_cb emit;
	void *emit_arg;
	struct group *h[NHASH];
	struct group **all;
	size_t n, cap;
	uint64_t now;
	struct tw_rthr_stats st;
};

/* what one evaluation found */
struct eval {
	int candidate;
	uint64_t start; /* the collapse began: the earliest start of a capped flow */
	size_t flows, capped, ntargets;
	double rate, spread;
	unsigned dirs;
	size_t npolicing;
	size_t base_n, ctrl_n;
	double base_rate, ctrl_rate; /* geometric means; 0: none */
	uint64_t tset[MAX_SET];
	uint64_t evid[MAX_EVID];
	int nevid;
	uint32_t pfxmask; /* group.pfx indices with a capped flow */
};

void tw_rthr_cfg_default(struct tw_rthr_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->enabled = 1;
	c->window = 300;
	c->min_flows = 6;
	c->min_targets = 3;
	c->min_ratio = 0.6;
	c->max_spread = 0.5;
	c->speedup = 3.0;
	c->baseline_flows = 4;
	c->require_baseline = 1;
	c->control_flows = 2;
	c->resolve_after = 300;
	c->update_interval = 60;
	c->related_window = 3600;
	c->max_groups = 4096;
}

static uint64_t fnv(const char *s, uint64_t h)
{
	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

struct tw_rthr *tw_rthr_new(const struct tw_rthr_cfg *cfg, tw_rthr_emit_cb emit, void *emit_arg)
{
	struct tw_rthr *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->c = *cfg;
	t->emit = emit;
	t->emit_arg = emit_arg;
	return t;
}

void tw_rthr_free(struct tw_rthr *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->all[i]->r);
		free(t->all[i]);
	}
	free(t->all);
	free(t);
}

static struct group *find(const struct tw_rthr *t, const char *key)
{
	struct group *g = t->h[fnv(key, FNV0) % NHASH];
	while (g && strcmp(g->key, key))
		g = g->next;
	return g;
}

static struct group *get(struct tw_rthr *t, const char *key, int is_region)
{
	struct group *g = find(t, key);
	if (g)
		return g;
	if (t->n >= (size_t)t->c.max_groups)
		return NULL;
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 16;
		void *p = realloc(t->all, nc * sizeof(*t->all));
		if (!p)
			return NULL;
		t->all = p;
		t->cap = nc;
	}
	if (!(g = calloc(1, sizeof(*g))))
		return NULL;
	snprintf(g->key, sizeof(g->key), "%s", key);
	g->is_region = is_region;
	uint64_t k = fnv(key, FNV0) % NHASH;
	g->next = t->h[k];
	t->h[k] = g;
	t->all[t->n++] = g;
	return g;
}

static uint64_t win_ns(const struct tw_rthr *t)
{
	return (uint64_t)t->c.window * NS;
}

static int usable(const struct wrec *r)
{
	return r->kind != TW_THR_APP_LIMITED && r->rate >= 1;
}

/* a flow leaving the window: into the group's buckets, unless an alert
 * is open (the throttled flows are no baseline) */
static void learn(const struct tw_rthr *t, struct group *g, const struct wrec *r)
{
	if (g->open || !usable(r))
		return;
	uint64_t e = r->ts / win_ns(t), k = e % BASE_B;
	if (g->b_epoch[k] != e) {
		if (g->b_epoch[k] > e)
			return;
		g->b_epoch[k] = e;
		g->b_n[k] = 0;
		g->b_lsum[k] = 0;
	}
	g->b_n[k]++;
	g->b_lsum[k] += log2(r->rate);
}

static void prune(struct tw_rthr *t, struct group *g, uint64_t now)
{
	size_t k = 0;
	while (k < g->nr && g->r[k].ts + win_ns(t) < now)
		learn(t, g, &g->r[k++]);
	if (k) {
		memmove(g->r, g->r + k, (g->nr - k) * sizeof(*g->r));
		g->nr -= k;
	}
}

static const char *tname(const struct group *g, uint64_t h)
{
	for (int i = 0; i < g->ntn; i++)
		if (g->th[i] == h)
			return g->tn[i];
	return NULL;
}

void tw_rthr_outcome(void *arg, const struct tw_flow_outcome *o)
{
	struct tw_rthr *t = arg;
	if (!t->c.enabled || !o->rate || !o->client_prefix || !o->client_prefix[0])
		return;
	const struct tw_thr_verdict *v = o->rate;
	int capped = v->kind == TW_THR_POLICING || v->kind == TW_THR_SHAPING;
	double rate = capped && v->rate_bps > 0 ? v->rate_bps : v->goodput_bps;
	if (!(rate >= 1) || !isfinite(rate))
		return; /* under two samples: nothing to compare */
	const struct tw_region_entry *e = tw_regions_lookup_prefix(t->c.regions, o->client_prefix);
	struct group *g = get(t, e ? e->region : o->client_prefix, e != NULL);
	if (!g) {
		t->st.groups_dropped++;
		return;
	}
	if (o->ts_ns > t->now)
		t->now = o->ts_ns;
	prune(t, g, t->now);
	if (g->nr == MAX_WIN) { /* full: the oldest goes early */
		learn(t, g, &g->r[0]);
		memmove(g->r, g->r + 1, (g->nr - 1) * sizeof(*g->r));
		g->nr--;
		t->st.flows_dropped++;
	}
	if (g->nr == g->cap) {
		size_t nc = g->cap ? g->cap * 2 : 16;
		void *p = realloc(g->r, nc * sizeof(*g->r));
		if (!p) {
			t->st.flows_dropped++;
			return;
		}
		g->r = p;
		g->cap = nc;
	}
	/* in time order: a late outcome (a held verdict) goes to its place */
	size_t at = g->nr;
	while (at > 0 && g->r[at - 1].ts > o->ts_ns)
		at--;
	memmove(g->r + at + 1, g->r + at, (g->nr - at) * sizeof(*g->r));
	g->nr++;
	struct wrec *r = &g->r[at];
	const char *name = o->domain && o->domain[0] ? o->domain : o->server_ip ? o->server_ip : "";
	memset(r, 0, sizeof(*r));
	r->ts = o->ts_ns;
	r->flow_id = o->flow_id;
	r->tgt = fnv(name, FNV0);
	r->rate = (float)rate;
	r->secs = (float)v->seconds;
	r->capped = (uint8_t)capped;
	r->kind = (uint8_t)v->kind;
	r->dirs = (uint8_t)v->dirs;
	r->pfx = 0xff;
	for (int i = 0; i < g->npfx && r->pfx == 0xff; i++)
		if (!strcmp(g->pfx[i], o->client_prefix))
			r->pfx = (uint8_t)i;
	if (r->pfx == 0xff && g->npfx < MAX_GPFX) {
		snprintf(g->pfx[g->npfx], KEYLEN, "%s", o->client_prefix);
		r->pfx = (uint8_t)g->npfx++;
	}
	if (!tname(g, r->tgt) && g->ntn < MAX_TGT) {
		snprintf(g->tn[g->ntn], TNAME, "%s", name);
		g->th[g->ntn++] = r->tgt;
	}
	if (capped && g->open && o->ts_ns > g->last_capped)
		g->last_capped = o->ts_ns;
	g->dirty = 1;
}

static int cmp_dbl(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

static int in_set(const uint64_t *s, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == h)
			return 1;
	return 0;
}

/* a policed or shaped flow at the collapse's rate ref (within a factor of 2) */
static int in_band(const struct wrec *r, double ref)
{
	return r->capped && usable(r) && r->rate <= 2 * ref && 2 * r->rate >= ref;
}

static uint64_t rec_start(const struct wrec *r)
{
	uint64_t d = (uint64_t)((double)r->secs * 1e9);
	return r->ts - (d < r->ts ? d : r->ts);
}

/* The group's window: its capped flows, their common rate and spread, the
 * collapse's start, its targets; then the baseline (the group's own flows
 * that ended before the collapse began, and its buckets) and the control
 * (other groups' flows to those targets in the window).  lines: for an
 * alert line, the control even when the group is no candidate. */
static void evaluate(struct tw_rthr *t, const struct group *g, uint64_t now, int lines, struct eval *ev)
{
	static double v[MAX_WIN];
	memset(ev, 0, sizeof(*ev));
	ev->start = UINT64_MAX;
	/* the collapse's rate: the median of the latest min_flows policed or
	 * shaped flows; the collapse is the capped flows within a factor of 2
	 * of it (a fast flow the classifier called policed, at 10 Mbit/s with
	 * loss bursts, is not part of a collapse to 400 kbit/s) */
	size_t nr = 0;
	for (size_t i = g->nr; i-- > 0 && nr < (size_t)(t->c.min_flows > 0 ? t->c.min_flows : 1);)
		if (g->r[i].capped && usable(&g->r[i]))
			v[nr++] = g->r[i].rate;
	if (!nr)
		return;
	qsort(v, nr, sizeof(v[0]), cmp_dbl);
	double ref = v[nr / 2];
	for (size_t i = 0; i < g->nr; i++)
		if (in_band(&g->r[i], ref) && rec_start(&g->r[i]) < ev->start)
			ev->start = rec_start(&g->r[i]);
	if (ev->start == UINT64_MAX)
		return;
	size_t nv = 0;
	double base_lsum = 0, ctrl_lsum = 0;
	for (size_t i = 0; i < g->nr; i++) {
		const struct wrec *r = &g->r[i];
		if (!usable(r))
			continue;
		if (r->ts <= ev->start) { /* ended before the collapse began */
			ev->base_n++;
			base_lsum += log2(r->rate);
			continue;
		}
		ev->flows++;
		if (!in_band(r, ref))
			continue;
		v[nv++] = r->rate;
		ev->dirs |= r->dirs;
		ev->npolicing += r->kind == TW_THR_POLICING;
		if (!in_set(ev->tset, ev->ntargets, r->tgt) && ev->ntargets < MAX_SET)
			ev->tset[ev->ntargets++] = r->tgt;
		if (ev->nevid < MAX_EVID)
			ev->evid[ev->nevid++] = r->flow_id;
		if (r->pfx < 32)
			ev->pfxmask |= 1u << r->pfx;
	}
	ev->capped = nv;
	if (!nv)
		return;
	qsort(v, nv, sizeof(v[0]), cmp_dbl);
	ev->rate = v[nv / 2];
	ev->spread = ev->rate > 0 ? (v[(3 * nv) / 4] - v[nv / 4]) / ev->rate : 0;
	uint64_t e = now / win_ns(t);
	for (int k = 0; k < BASE_B; k++)
		if (g->b_n[k] && g->b_epoch[k] + BASE_B > e) {
			ev->base_n += g->b_n[k];
			base_lsum += g->b_lsum[k];
		}
	if (ev->base_n)
		ev->base_rate = exp2(base_lsum / (double)ev->base_n);
	const struct tw_rthr_cfg *c = &t->c;
	int local = ev->capped >= (size_t)c->min_flows && ev->ntargets >= (size_t)c->min_targets &&
	            (double)ev->capped >= c->min_ratio * (double)ev->flows - 1e-9 && ev->spread <= c->max_spread + 1e-9;
	if (!local && !lines)
		return; /* the walk of every group below only for a candidate or a line */
	for (size_t j = 0; j < t->n; j++) {
		const struct group *o = t->all[j];
		if (o == g)
			continue;
		for (size_t i = 0; i < o->nr; i++) {
			const struct wrec *r = &o->r[i];
			if (usable(r) && r->ts + win_ns(t) >= now && in_set(ev->tset, ev->ntargets, r->tgt)) {
				ev->ctrl_n++;
				ctrl_lsum += log2(r->rate);
			}
		}
	}
	if (ev->ctrl_n)
		ev->ctrl_rate = exp2(ctrl_lsum / (double)ev->ctrl_n);
	if (!local)
		return;
	int have_base = ev->base_n >= (size_t)c->baseline_flows;
	int have_ctrl = ev->ctrl_n >= (size_t)c->control_flows;
	int base_ok = have_base && ev->base_rate >= c->speedup * ev->rate;
	int ctrl_ok = have_ctrl && ev->ctrl_rate >= c->speedup * ev->rate;
	if ((have_base && !base_ok) || (have_ctrl && !ctrl_ok)) /* as fast as before, or slow for all */
		return;
	if (!base_ok && (c->require_baseline || !ctrl_ok))
		return;
	ev->candidate = 1;
}

static void put_rate(struct tw_jb *b, const char *key, size_t n, double r, double mine)
{
	tw_jb_obj_open(b, key);
	tw_jb_u64(b, "flows", n);
	if (n && r > 0) {
		tw_jb_u64(b, "rate_bps", (uint64_t)(r + 0.5));
		tw_jb_dbl(b, "speedup", mine > 0 ? r / mine : 0, 2);
	} else {
		tw_jb_null(b, "rate_bps");
		tw_jb_null(b, "speedup");
	}
	tw_jb_obj_close(b);
}

static double confidence(const struct tw_rthr *t, const struct eval *ev)
{
	double best = 0;
	if (ev->base_n >= (size_t)t->c.baseline_flows && ev->rate > 0)
		best = ev->base_rate / ev->rate;
	if (ev->ctrl_n >= (size_t)t->c.control_flows && ev->rate > 0 && ev->ctrl_rate / ev->rate > best)
		best = ev->ctrl_rate / ev->rate;
	double conf = best > 0 ? 0.9 - 0.3 * t->c.speedup / best : 0.5;
	/* both yardsticks agree: a little surer */
	if (ev->base_n >= (size_t)t->c.baseline_flows && ev->ctrl_n >= (size_t)t->c.control_flows)
		conf += 0.05;
	return conf < 0.5 ? 0.5 : conf > 0.95 ? 0.95 : conf;
}

static void emit(struct tw_rthr *t, struct group *g, const struct eval *ev, const char *state, uint64_t ts,
                 const char *resolution)
{
	static char buf[16384];
	struct tw_jb b;
	char sig[160];
	tw_jb_init(&b, buf, sizeof(buf));
	tw_jb_obj_open(&b, NULL);
	tw_jb_time(&b, "timestamp", ts);
	tw_jb_str(&b, "event_type", "alert");
	tw_jb_obj_open(&b, "alert");
	tw_jb_str(&b, "id", g->id);
	tw_jb_str(&b, "state", state);
	tw_jb_u64(&b, "signature_id", SIG_ID);
	snprintf(sig, sizeof(sig), "%s throttling of %s", g->is_region ? "region-wide" : "prefix-wide", g->key);
	tw_jb_str(&b, "signature", sig);
	tw_jb_str(&b, "category", "throttling");
	tw_jb_u64(&b, "severity", 1);
	if (resolution)
		tw_jb_str(&b, "resolution", resolution);
	tw_jb_obj_close(&b);
	tw_jb_obj_open(&b, "censorship");
	tw_jb_str(&b, "method", "throttling");
	tw_jb_dbl(&b, "confidence", confidence(t, ev), 2);
	tw_jb_str(&b, "legitimacy", "undeclared");
	tw_jb_u64(&b, "sampling", 1);
	tw_jb_arr_open(&b, "methods_seen");
	tw_jb_str(&b, NULL, "throttling");
	tw_jb_arr_close(&b);
	tw_jb_obj_close(&b);
	tw_jb_null(&b, "target");
	tw_jb_obj_open(&b, "scope");
	tw_jb_str(&b, "level", g->is_region ? "region" : "prefix");
	tw_jb_arr_open(&b, "prefixes");
	for (int i = 0; i < g->npfx; i++)
		if (!g->is_region || (ev->pfxmask & (1u << i)))
			tw_jb_str(&b, NULL, g->pfx[i]);
	tw_jb_arr_close(&b);
	const struct tw_region_entry *re =
	        g->npfx ? tw_regions_lookup_prefix(t->c.regions, g->pfx[0]) : NULL; /* the region's ASN, if one */
	tw_jb_str(&b, "region", re ? re->region : NULL);
	if (re && re->asn)
		tw_jb_u64(&b, "asn", re->asn);
	else
		tw_jb_null(&b, "asn");
	tw_jb_obj_close(&b);
	tw_jb_obj_open(&b, "stats");
	tw_jb_u64(&b, "flows", ev->flows);
	tw_jb_u64(&b, "affected_flows", ev->capped);
	int np = 0;
	for (int i = 0; i < 32; i++)
		np += (ev->pfxmask >> i) & 1;
	tw_jb_u64(&b, "clients", (uint64_t)np);
	tw_jb_dbl(&b, "ratio", ev->flows ? (double)ev->capped / (double)ev->flows : 0, 3);
	tw_jb_u64(&b, "targets", ev->ntargets);
	tw_jb_u64(&b, "rate_bps", (uint64_t)(ev->rate + 0.5));
	tw_jb_dbl(&b, "rate_spread", ev->spread, 2);
	tw_jb_arr_open(&b, "directions");
	if (ev->dirs & 1)
		tw_jb_str(&b, NULL, "to_server");
	if (ev->dirs & 2)
		tw_jb_str(&b, NULL, "to_client");
	tw_jb_arr_close(&b);
	tw_jb_str(&b, "variant", ev->npolicing * 2 >= ev->capped ? "policing" : "shaping");
	put_rate(&b, "baseline", ev->base_n, ev->base_rate, ev->rate);
	put_rate(&b, "control", ev->ctrl_n, ev->ctrl_rate, ev->rate);
	tw_jb_obj_close(&b);
	tw_jb_arr_open(&b, "targets");
	for (size_t i = 0; i < ev->ntargets; i++) {
		const char *n = tname(g, ev->tset[i]);
		if (n)
			tw_jb_str(&b, NULL, n);
	}
	tw_jb_arr_close(&b);
	tw_jb_time(&b, "first_seen", g->first_seen);
	tw_jb_time(&b, "last_seen", g->last_capped);
	tw_jb_obj_open(&b, "evidence");
	tw_jb_arr_open(&b, "flow_ids");
	for (int i = 0; i < ev->nevid; i++)
		tw_jb_u64(&b, NULL, ev->evid[i]);
	tw_jb_arr_close(&b);
	tw_jb_obj_close(&b);
	tw_jb_obj_close(&b);
	long n = tw_jb_end(&b);
	if (n > 0 && t->emit)
		t->emit(t->emit_arg, buf, (size_t)n);
	g->last_emit = ts;
	g->em_affected = ev->capped;
	snprintf(g->last_id, sizeof(g->last_id), "%s", g->id);
	g->last_line = ts;
}

static void raise_alert(struct tw_rthr *t, struct group *g, const struct eval *ev, uint64_t now)
{
	char seed[128];
	g->open = 1;
	g->first_seen = ev->start;
	g->last_capped = 0;
	for (size_t i = 0; i < g->nr; i++)
		if (g->r[i].capped && g->r[i].ts > g->last_capped)
			g->last_capped = g->r[i].ts;
	snprintf(seed, sizeof(seed), "%s|%llu", g->key, (unsigned long long)ev->start);
	snprintf(g->id, sizeof(g->id), "rt-%016llx", (unsigned long long)fnv(seed, FNV0));
	t->st.open++;
	t->st.raised++;
	emit(t, g, ev, "raised", now, NULL);
}

void tw_rthr_tick(void *arg, uint64_t now, int final)
{
	struct tw_rthr *t = arg;
	(void) final;
	if (!t->c.enabled)
		return;
	if (now > t->now)
		t->now = now;
	now = t->now;
	for (size_t j = 0; j < t->n; j++) {
		struct group *g = t->all[j];
		if (!g->dirty && !g->open)
			continue;
		prune(t, g, now);
		struct eval ev;
		if (!g->open) {
			g->dirty = 0;
			evaluate(t, g, now, 0, &ev);
			if (ev.candidate)
				raise_alert(t, g, &ev, now);
			continue;
		}
		if (g->last_capped + (uint64_t)t->c.resolve_after * NS <= now) {
			evaluate(t, g, now, 1, &ev);
			g->open = 0;
			t->st.open--;
			emit(t, g, &ev, "resolved", now, "quiet");
			continue;
		}
		if (g->dirty && g->last_emit + (uint64_t)t->c.update_interval * NS <= now) {
			g->dirty = 0;
			evaluate(t, g, now, 1, &ev);
			if (ev.capped > g->em_affected)
				emit(t, g, &ev, "updated", now, NULL);
		}
	}
}

const char *tw_rthr_related(void *arg, const char *key, const char *region, uint64_t now)
{
	const struct tw_rthr *t = arg;
	const struct group *g = find(t, region && region[0] ? region : key);
	if (!g || !g->last_id[0])
		return NULL;
	if (g->open || g->last_line + (uint64_t)t->c.related_window * NS >= now)
		return g->last_id;
	return NULL;
}

void tw_rthr_get_stats(const struct tw_rthr *t, struct tw_rthr_stats *s)
{
	*s = t->st;
	s->groups = t->n;
}

void tw_rthr_stats_json(void *arg, struct tw_jb *b)
{
	struct tw_rthr_stats s;
	tw_rthr_get_stats(arg, &s);
	tw_jb_obj_open(b, "region_throttling");
	tw_jb_u64(b, "groups", s.groups);
	tw_jb_u64(b, "groups_dropped", s.groups_dropped);
	tw_jb_u64(b, "flows_dropped", s.flows_dropped);
	tw_jb_u64(b, "open", s.open);
	tw_jb_u64(b, "raised", s.raised);
	tw_jb_obj_close(b);
}
