#include "alerts/aggregate.h"
#include "regions.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/jsonbuf.h"
#include "alerts/legit.h"
#include "alerts/share.h"
#include "util/state.h"
#include "verdicts/throttle.h"
#include "capture/sampling.h"

#define NS 1000000000ull
#define MAX_REC 2048
#define MAX_PFX 64
#define MAX_EVID 20
#define PFXLEN 52
#define NBUCKET 4096
#define STATE_NAME "alerts.state"

#define FNV0 14695981039346656037ull

struct rec {
	uint64_t ts, flow_id;
	uint64_t pfx;   /* hash of prefix */
	uint64_t group; /* hash of the prefix's region (regions.file), else pfx */
	double conf;
	uint8_t method, tampered, answered;
	uint8_t silent;    /* a timeout verdict: judged with the blackhole_* thresholds */
	uint8_t thr_dirs;  /* throttling: bit TW_DIR_* of the throttled directions */
	uint8_t rated;     /* the flow had a rate series (a busy TCP flow) */
	uint8_t rate_kind; /* enum tw_thr_kind of that series */
	uint32_t w;        /* 1-in-N flow sampling in force: the flows it stands for (N >= 1) */
	float rate_bps;    /* throttled: the flow's estimated rate; else, rated: its goodput */
	float rate_s;      /* rated: the series' span (s) */
	float rtt_grow_ms; /* rated: the queue the flow built */
	char prefix[PFXLEN];
};

/* A client prefix's flows to all targets, in PB buckets over the window:
 * the yardstick "other targets from the same clients" (prefix_dark). */
#define PB 8
#define MAX_PSTAT 65536
struct pstat {
	struct pstat *next;
	uint64_t pfx;
	uint64_t epoch[PB]; /* bucket number (ts / bucket length) each slot counts */
	uint32_t flows[PB], answered[PB];
	/* its rated flows (a rate series): how many, how many built a queue,
	 * and the sum of log2 of their goodput (the yardstick of throttling) */
	uint32_t rated[PB], queued[PB];
	float lrate[PB];
};

/* A site's goodput over time: the delivered bits of a target's rated
 * flows (not window- or application-limited), spread over TB_NS bins by
 * the flows' own samples; a ring of TB_N bins keyed by the bin number.
 * What shaping's plateau is judged on (site_plateau). */
#define TB_N 32
#define TB_NS (2 * NS)
struct tbins {
	uint64_t epoch[TB_N]; /* bin number (time / TB_NS) each slot holds; 0: none */
	float bits[TB_N];
};

struct alert {
	int open;
	char id[17];
	int method;
	uint64_t first_seen, last_seen, last_tampered, last_emit, resolved_ts;
	uint64_t flows, affected, em_affected;
	double conf_sum, baseline; /* baseline < 0: unknown */
	int ok_run, nprefix, nevid, em_clients;
	uint32_t sampling; /* the highest 1-in-N flow sampling among its flows (not in the state file) */
	unsigned methods, em_methods;
	char (*prefix)[PFXLEN]; /* MAX_PFX, allocated on first use: most targets never alert */
	uint64_t evid[MAX_EVID];
};

struct target {
	struct target *next;
	char key[300], domain[256], ip[48], proto[8];
	uint16_t port;
	char *redirect; /* http_injection: the last host its injected redirects sent to, NULL none */
	struct rec *r;
	size_t nr, cap;
	int shape_pending;   /* rated flows that built a queue: judged for shaping ... */
	uint64_t shape_next; /* ... at a tick from then on (every 2 s) */
	int police_pending;  /* a policing case held until its control comes (evaluated at ticks) */
	float plateau_cv;    /* shaping: the site's goodput spread over time when raised */
	float site_rate;     /* shaping: the site's rate (median of the plateau's bins) when raised */
	int site;            /* a site's shaping target (key "SITE|*|PROTO", port 0): copies of the records
	                      * of the site's port targets, which the walks over a site skip */
	struct tbins *tb;    /* its rated flows' goodput over time, NULL: none yet */
	struct alert al;
	struct tw_share *sh; /* the share computation's counts of its flows after al.resolved_ts */
	/* the site index (port targets only): its site, its place there, and
	 * its place in the buckets' walk (bucket, then creation order) */
	struct site *st;
	size_t st_pos;
	uint64_t seq;
	size_t bkt;
};

/* The port targets of one site (same_site): what the walks over a site
 * visit.  Members are kept in the order a walk of the buckets meets them
 * (bucket, then creation), sorted again when a walk finds them out of it:
 * sums over a site add in the same order as before the index. */
struct site {
	struct site *next;
	int dom; /* keyed by domain (1) or, without one, address */
	char name[256], proto[8];
	struct target **m;
	size_t n, cap;
	int sorted;
};

struct tw_agg {
	struct tw_agg_cfg c;
	const struct tw_legit *legit;
	char *state_dir;
	tw_agg_emit_cb emit;
	void *emit_arg;
	struct target *b[NBUCKET];
	size_t ntargets, nopen;
	size_t nsite;                /* sites' shaping targets among them */
	struct target **openv;       /* targets with an open alert (residual blocking lookup) */
	struct tw_share_flow *flows; /* MAX_REC, scratch of the share computation's scan */
	struct site *sb[NBUCKET];    /* the site index */
	uint64_t seq;                /* targets made */
	int site_broken;             /* out of memory once: walks go over every target */
	struct pstat *pb[NBUCKET];
	size_t npstat;
	uint64_t pstat_dropped;    /* prefixes beyond MAX_PSTAT: never judged dark */
	uint64_t thr_uncontrolled; /* policing cases held for want of a control (once per case) */
	size_t nopenv, capopen;
	uint64_t now, last_save, last_gc, dropped;
	int dirty; /* an alert was raised or resolved since the last save */
};

void tw_agg_cfg_default(struct tw_agg_cfg *c)
{
	c->window = 300;
	c->min_confidence = 0.5;
	c->min_confidence_timeout = 0.4;
	c->min_flows = 3;
	c->min_prefixes = 1;
	c->min_ratio = 0.5;
	c->blackhole_min_flows = 5;
	c->blackhole_min_prefixes = 2;
	c->blackhole_min_ratio = 0.8;
	c->require_control = 0;
	c->resolve_after = 600;
	c->resolve_ok_flows = 3;
	c->update_interval = 60;
	c->max_targets = 100000;
	c->state_interval = 60;
	c->evidence_dir = NULL;
	c->regions = NULL;
	c->sampling = NULL;
	c->throttle_control_ratio = 3.0;
	c->throttle_control_flows = 2;
	c->throttle_queue_ms = 60.0;
	c->throttle_plateau_cv = 0.6;
}

static uint64_t fnv(const char *s, uint64_t h)
{
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

static struct target **slot(struct tw_agg *a, const char *key)
{
	struct target **p = &a->b[fnv(key, FNV0) % NBUCKET];
	while (*p && strcmp((*p)->key, key))
		p = &(*p)->next;
	return p;
}

static struct target *target_get(struct tw_agg *a, const char *key)
{
	struct target **p = slot(a, key);
	if (*p)
		return *p;
	if (a->ntargets >= (size_t)a->c.max_targets) {
		a->dropped++;
		return NULL;
	}
	struct target *t = calloc(1, sizeof(*t));
	if (!t || !(t->sh = tw_share_new(a->c.min_ratio, a->c.blackhole_min_ratio))) {
		free(t);
		a->dropped++;
		return NULL;
	}
	snprintf(t->key, sizeof(t->key), "%s", key);
	t->bkt = fnv(key, FNV0) % NBUCKET;
	t->seq = ++a->seq;
	*p = t;
	a->ntargets++;
	return t;
}

static void open_add(struct tw_agg *a, struct target *t)
{
	if (a->nopenv == a->capopen) {
		size_t nc = a->capopen ? a->capopen * 2 : 16;
		void *n = realloc(a->openv, nc * sizeof(*a->openv));
		if (!n)
			return; /* only the residual lookup misses it */
		a->openv = n;
		a->capopen = nc;
	}
	a->openv[a->nopenv++] = t;
}

static void open_del(struct tw_agg *a, struct target *t)
{
	for (size_t i = 0; i < a->nopenv; i++)
		if (a->openv[i] == t) {
			a->openv[i] = a->openv[--a->nopenv];
			return;
		}
}

/* Residual blocking: a tampered flow with no name (its SYN or ClientHello
 * never got through) to the address, port and protocol of an open
 * domain-keyed incident belongs to that incident. */
static struct target *residual(struct tw_agg *a, const struct tw_flow_outcome *o)
{
	for (size_t i = 0; i < a->nopenv; i++) {
		struct target *t = a->openv[i];
		if (t->domain[0] && t->port == o->server_port && !strcmp(t->ip, o->server_ip) &&
		    !strcmp(t->proto, o->proto))
			return t;
	}
	return NULL;
}

static void add_prefix(struct alert *al, const char *p)
{
	for (int i = 0; i < al->nprefix; i++)
		if (!strcmp(al->prefix[i], p))
			return;
	if (!al->prefix && !(al->prefix = calloc(MAX_PFX, PFXLEN)))
		return;
	if (al->nprefix < MAX_PFX)
		snprintf(al->prefix[al->nprefix++], PFXLEN, "%s", p);
}

/* Recovery is judged on the incident's own client prefixes: clean flows
 * from a region the censor spares say nothing about the blocked one, and
 * would end a regional incident while it lasts.  A full list counts all. */
static int in_incident(const struct alert *al, const char *p)
{
	if (al->nprefix >= MAX_PFX)
		return 1;
	for (int i = 0; i < al->nprefix; i++)
		if (!strcmp(al->prefix[i], p))
			return 1;
	return 0;
}

static void add_evid(struct alert *al, uint64_t id)
{
	if (al->nevid < MAX_EVID)
		al->evid[al->nevid++] = id;
}

/* The region entry of a client prefix ("198.51.100.0/24"), looked up by
 * its network address: a label more specific than the privacy prefix
 * cannot apply.  NULL: no regions.file, or not labelled. */
static const struct tw_region_entry *region_of(const struct tw_regions *r, const char *prefix)
{
	return tw_regions_lookup_prefix(r, prefix);
}

/* scope.region / scope.asn: the one region (ASN) every labelled client
 * prefix of the alert is in, null when none is labelled or they differ;
 * scope.regions lists them all. */
static void put_regions(struct tw_jb *b, const struct tw_regions *r, const struct alert *al)
{
	const char *rg[MAX_PFX];
	uint32_t asn[MAX_PFX];
	int nr = 0, na = 0;

	for (int i = 0; r && i < al->nprefix; i++) {
		const struct tw_region_entry *e = region_of(r, al->prefix[i]);
		if (!e)
			continue;
		int k = 0;
		while (k < nr && strcmp(rg[k], e->region))
			k++;
		if (k == nr)
			rg[nr++] = e->region;
		for (k = 0; k < na && asn[k] != e->asn; k++)
			;
		if (e->asn && k == na)
			asn[na++] = e->asn;
	}
	if (nr == 1)
		tw_jb_str(b, "region", rg[0]);
	else
		tw_jb_null(b, "region");
	if (na == 1)
		tw_jb_u64(b, "asn", asn[0]);
	else
		tw_jb_null(b, "asn");
	tw_jb_arr_open(b, "regions");
	for (int k = 0; k < nr; k++)
		tw_jb_str(b, NULL, rg[k]);
	tw_jb_arr_close(b);
}

static int cmp_float(const void *x, const void *y)
{
	float a = *(const float *)x, b = *(const float *)y;
	return a < b ? -1 : a > b;
}

/* The same clients' rated flows to other targets (the control of a
 * throttling verdict): how many, how many built a queue, the sum of log2
 * of their goodput. */
struct ctrl {
	int64_t flows, queued;
	double lsum;
};
static void control_of(const struct tw_agg *a, const struct target *t, const uint64_t *pf, int np, struct ctrl *c);

/* o is one of the port targets of t's site: the same domain, or without
 * one the same address, and the same protocol (any port: a censor
 * throttles a site, not a port; a DNS query naming the site is not one of
 * its flows).  A site's shaping target holds copies of their records:
 * never one of them. */
static int same_site(const struct target *t, const struct target *o)
{
	if (o->site || strcmp(o->proto, t->proto))
		return 0;
	return t->domain[0] ? !strcmp(o->domain, t->domain) : (!o->domain[0] && !strcmp(o->ip, t->ip));
}

/* ---- the site index: the port targets of each site ------------------- */

static uint64_t site_hash(int dom, const char *name, const char *proto)
{
	return fnv(proto, fnv("|", fnv(name, dom ? FNV0 : FNV0 ^ 1)));
}

/* the site t belongs to (t a port target) or whose port targets a site's
 * shaping target t copies; NULL: none indexed */
static struct site *site_find(const struct tw_agg *a, const struct target *t)
{
	int dom = t->domain[0] != 0;
	const char *name = dom ? t->domain : t->ip;
	for (struct site *s = a->sb[site_hash(dom, name, t->proto) % NBUCKET]; s; s = s->next)
		if (s->dom == dom && !strcmp(s->name, name) && !strcmp(s->proto, t->proto))
			return s;
	return NULL;
}

/* a port target into its site, once its domain, address and protocol are
 * known (the walks over every target take over if memory runs out) */
static void site_index_add(struct tw_agg *a, struct target *t)
{
	if (t->site || t->st || a->site_broken)
		return;
	struct site *s = site_find(a, t);
	if (!s) {
		if (!(s = calloc(1, sizeof(*s)))) {
			a->site_broken = 1;
			return;
		}
		s->dom = t->domain[0] != 0;
		snprintf(s->name, sizeof(s->name), "%s", s->dom ? t->domain : t->ip);
		snprintf(s->proto, sizeof(s->proto), "%s", t->proto);
		s->sorted = 1;
		size_t k = site_hash(s->dom, s->name, s->proto) % NBUCKET;
		s->next = a->sb[k];
		a->sb[k] = s;
	}
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 4;
		void *n = realloc(s->m, nc * sizeof(*s->m));
		if (!n) {
			a->site_broken = 1;
			return;
		}
		s->m = n;
		s->cap = nc;
	}
	if (s->n && (s->m[s->n - 1]->bkt > t->bkt || (s->m[s->n - 1]->bkt == t->bkt && s->m[s->n - 1]->seq > t->seq)))
		s->sorted = 0;
	t->st = s;
	t->st_pos = s->n;
	s->m[s->n++] = t;
}

static void site_free(struct site *s)
{
	free(s->m);
	free(s);
}

static void site_index_del(struct tw_agg *a, struct target *t)
{
	struct site *s = t->st;
	if (!s)
		return;
	t->st = NULL;
	if (t->st_pos + 1 < s->n) {
		s->m[t->st_pos] = s->m[s->n - 1];
		s->m[t->st_pos]->st_pos = t->st_pos;
		s->sorted = 0;
	}
	if (--s->n)
		return;
	struct site **p = &a->sb[site_hash(s->dom, s->name, s->proto) % NBUCKET];
	while (*p != s)
		p = &(*p)->next;
	*p = s->next;
	site_free(s);
}

static int member_cmp(const void *x, const void *y)
{
	const struct target *p = *(struct target *const *)x, *q = *(struct target *const *)y;
	if (p->bkt != q->bkt)
		return p->bkt < q->bkt ? -1 : 1;
	return p->seq < q->seq ? -1 : p->seq > q->seq;
}

/* A walk over the port targets of t's site (same_site), in the order of a
 * walk over every target; that walk itself once memory ran out for the
 * index (site_broken). */
struct site_walk {
	int started;
	struct site *s;         /* the site's index entry; NULL: none */
	size_t i;               /* next member */
	size_t b;               /* without the index: the bucket being walked */
	const struct target *o; /* the member found last; NULL: none yet */
};
#define SITE_WALK                                                                                                      \
	{                                                                                                              \
		0, NULL, 0, 0, NULL                                                                                    \
	}

static int site_next(const struct tw_agg *a, const struct target *t, struct site_walk *w)
{
	if (!a->site_broken) {
		if (!w->started) {
			w->started = 1;
			w->s = !t->site && t->st ? t->st : site_find(a, t);
			if (w->s && !w->s->sorted) {
				qsort(w->s->m, w->s->n, sizeof(*w->s->m), member_cmp);
				for (size_t i = 0; i < w->s->n; i++)
					w->s->m[i]->st_pos = i;
				w->s->sorted = 1;
			}
		}
		if (!w->s || w->i >= w->s->n)
			return 0;
		w->o = w->s->m[w->i++];
		return 1;
	}
	const struct target *n = w->o ? w->o->next : a->b[w->b];
	for (;;) {
		for (; n; n = n->next)
			if (same_site(t, n)) {
				w->o = n;
				return 1;
			}
		if (++w->b >= NBUCKET)
			return 0;
		n = a->b[w->b];
	}
}

/* The key of t's site (its shaping target): "DOMAIN|*|PROTO", without a
 * domain "ADDRESS|*|PROTO"; a port target's key has a port number there. */
static void site_key(const struct target *t, char *key, size_t cap)
{
	snprintf(key, cap, "%.255s|*|%s", t->domain[0] ? t->domain : t->ip, t->proto);
}

/* A shaped target's aggregate rate: the bytes of the rated flows to its
 * domain (its address without one), on any port, that were not limited by
 * the application or the receiver, over the time from the first one's
 * start to the last one's end: a shaper holds them together at its rate.
 * Walks every target: only when an alert line is written. */
static double aggregate_rate(const struct tw_agg *a, const struct target *t)
{
	double bits = 0;
	uint64_t t0 = UINT64_MAX, t1 = 0;
	for (struct site_walk w = SITE_WALK; site_next(a, t, &w);) {
		const struct target *o = w.o;
		for (size_t i = 0; i < o->nr; i++) {
			const struct rec *r = &o->r[i];
			if (r->ts <= t->al.resolved_ts || !r->rated || r->rate_kind == TW_THR_APP_LIMITED ||
			    r->rate_bps < 1)
				continue;
			uint64_t d = (uint64_t)((double)r->rate_s * 1e9), start = r->ts - (d < r->ts ? d : r->ts);
			bits += (double)r->rate_bps * r->rate_s;
			t0 = start < t0 ? start : t0;
			t1 = r->ts > t1 ? r->ts : t1;
		}
	}
	double span = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0;
	return span >= 1 ? bits / span : 0;
}

static int site_plateau(const struct tw_agg *a, const struct target *t, uint64_t after, double *cv, double *mean);

/* The throttled flows' common rate: policing, the median of their
 * estimates and the spread (interquartile range over the median);
 * shaping, the target's aggregate rate and the spread of the flows'
 * shares of it; the directions; the variant; and the control: the same
 * clients' flows to other targets (docs/alerts.md "Throttling"). */
static void throttle_stats(struct tw_agg *a, struct tw_jb *b, const struct target *t)
{
	static float v[MAX_REC];
	size_t n = 0, nshape = 0;
	unsigned dirs = 0;
	for (size_t i = 0; i < t->nr; i++)
		if (t->r[i].tampered && t->r[i].method == TW_METHOD_THROTTLING && t->r[i].rate_bps > 0) {
			v[n++] = t->r[i].rate_bps;
			dirs |= t->r[i].thr_dirs;
			nshape += t->r[i].rate_kind == TW_THR_SHAPING;
		}
	if (!n)
		return;
	int shaping = nshape * 2 > n;
	qsort(v, n, sizeof(v[0]), cmp_float);
	double med = v[n / 2], rate = med, cv, mean;
	if (shaping && site_plateau(a, t, t->al.resolved_ts, &cv, &mean) && mean > 0)
		rate = mean; /* the site's bins now (an update counts the flows since) */
	else if (shaping && t->site_rate > 0)
		rate = t->site_rate;
	else if (shaping && aggregate_rate(a, t) > 0)
		rate = aggregate_rate(a, t); /* raised before a restart: the bins are not kept */
	tw_jb_u64(b, "rate_bps", (uint64_t)(rate + 0.5));
	tw_jb_dbl(b, "rate_spread", med > 0 ? (double)(v[(3 * n) / 4] - v[n / 4]) / med : 0, 2);
	tw_jb_arr_open(b, "directions");
	if (dirs & 1)
		tw_jb_str(b, NULL, "to_server");
	if (dirs & 2)
		tw_jb_str(b, NULL, "to_client");
	tw_jb_arr_close(b);
	tw_jb_str(b, "variant", shaping ? "shaping" : "policing");
	if (shaping && t->plateau_cv > 0)
		tw_jb_dbl(b, "plateau_cv", t->plateau_cv, 2);
	else if (shaping)
		tw_jb_null(b, "plateau_cv"); /* raised before a restart: the bins are not kept */
	struct ctrl c = { 0, 0, 0 };
	uint64_t pf[MAX_PFX];
	for (int i = 0; i < t->al.nprefix; i++)
		pf[i] = fnv(t->al.prefix[i], FNV0);
	control_of(a, t, pf, t->al.nprefix, &c);
	tw_jb_obj_open(b, "control");
	tw_jb_u64(b, "flows", (uint64_t)c.flows);
	if (c.flows > 0) {
		double cr = exp2(c.lsum / (double)c.flows);
		tw_jb_u64(b, "rate_bps", (uint64_t)(cr + 0.5));
		tw_jb_dbl(b, "speedup", rate > 0 ? cr / rate : 0, 2);
		tw_jb_dbl(b, "queued_share", (double)c.queued / (double)c.flows, 2);
	} else {
		tw_jb_null(b, "rate_bps");
		tw_jb_null(b, "speedup");
		tw_jb_null(b, "queued_share");
	}
	tw_jb_obj_close(b);
}

static void emit(struct tw_agg *a, struct target *t, const char *state, uint64_t ts, const char *resolution)
{
	static char buf[16384];
	struct tw_jb b;
	struct alert *al = &t->al;
	const struct tw_method_info *mi = tw_method(al->method);
	const char *m = mi->name;
	const struct tw_legit_entry *le =
	        tw_legit_for(a->legit, al->method, t->domain[0] ? t->domain : NULL, t->ip, al->first_seen);
	char sig[400];

	tw_jb_init(&b, buf, sizeof(buf));
	tw_jb_obj_open(&b, NULL);
	tw_jb_time(&b, "timestamp", ts);
	tw_jb_str(&b, "event_type", "alert");
	tw_jb_obj_open(&b, "alert");
	tw_jb_str(&b, "id", al->id);
	tw_jb_str(&b, "state", state);
	tw_jb_u64(&b, "signature_id", mi->signature_id);
	int rate = mi->cls == TW_MCLASS_RATE; /* throttling: slowed down, not blocked */
	snprintf(sig, sizeof(sig), rate ? "%s of %s" : "%s blocking of %s", m, t->domain[0] ? t->domain : t->ip);
	tw_jb_str(&b, "signature", sig);
	tw_jb_str(&b, "category", rate ? "throttling" : "blocking");
	tw_jb_u64(&b, "severity", le ? 3 : mi->severity);
	if (resolution)
		tw_jb_str(&b, "resolution", resolution);
	tw_jb_obj_close(&b);
	tw_jb_obj_open(&b, "censorship");
	tw_jb_str(&b, "method", m);
	tw_jb_dbl(&b, "confidence", al->affected ? al->conf_sum / (double)al->affected : 0, 2);
	tw_jb_str(&b, "legitimacy", le ? "declared" : "undeclared");
	tw_jb_u64(&b, "sampling", al->sampling > 1 ? al->sampling : 1);
	if (le) {
		tw_jb_str(&b, "legal_reference", le->legal_ref);
		tw_jb_str(&b, "declared_pattern", le->pattern);
		if (strcmp(le->method, "any") && strcmp(le->method, m)) {
			tw_jb_obj_open(&b, "declaration_mismatch");
			tw_jb_str(&b, "declared", le->method);
			tw_jb_str(&b, "seen", m);
			tw_jb_obj_close(&b);
		}
	}
	tw_jb_arr_open(&b, "methods_seen");
	for (int i = 0; i < TW_METHOD_MAX; i++)
		if ((al->methods & (1u << i)) && tw_method_name(i))
			tw_jb_str(&b, NULL, tw_method_name(i));
	tw_jb_arr_close(&b);
	if (al->method == TW_METHOD_HTTP_INJECTION && t->redirect)
		tw_jb_str(&b, "redirect_target", t->redirect);
	tw_jb_obj_close(&b);
	tw_jb_obj_open(&b, "target");
	tw_jb_str(&b, "domain", t->domain[0] ? t->domain : NULL);
	tw_jb_str(&b, "ip", t->ip[0] ? t->ip : NULL);
	tw_jb_u64(&b, "port", t->port);
	tw_jb_str(&b, "proto", t->proto);
	tw_jb_obj_close(&b);
	tw_jb_obj_open(&b, "scope");
	tw_jb_arr_open(&b, "prefixes");
	for (int i = 0; i < al->nprefix; i++)
		tw_jb_str(&b, NULL, al->prefix[i]);
	tw_jb_arr_close(&b);
	put_regions(&b, a->c.regions, al);
	tw_jb_obj_close(&b);
	tw_jb_obj_open(&b, "stats");
	tw_jb_u64(&b, "flows", al->flows);
	tw_jb_u64(&b, "affected_flows", al->affected);
	tw_jb_u64(&b, "clients", (uint64_t)al->nprefix);
	tw_jb_dbl(&b, "ratio", al->flows ? (double)al->affected / (double)al->flows : 0, 3);
	if (al->baseline < 0)
		tw_jb_null(&b, "baseline");
	else
		tw_jb_dbl(&b, "baseline", al->baseline, 3);
	/* events the backend lost while the window's flows were counted: the
	 * counts above may miss flows (docs/alerts.md) */
	tw_jb_u64(&b, "events_lost",
	          tw_sampling_lost_since(a->c.sampling, al->first_seen > (uint64_t)a->c.window * NS
	                                                        ? al->first_seen - (uint64_t)a->c.window * NS
	                                                        : 0));
	if (mi->cls == TW_MCLASS_RATE)
		throttle_stats(a, &b, t);
	tw_jb_obj_close(&b);
	tw_jb_time(&b, "first_seen", al->first_seen);
	tw_jb_time(&b, "last_seen", al->last_seen);
	tw_jb_obj_open(&b, "evidence");
	char pcap[1024];
	if (a->c.evidence_dir && tw_evidence_path(a->c.evidence_dir, al->id, pcap, sizeof(pcap)) == 0)
		tw_jb_str(&b, "pcap", pcap); /* written by the evidence sink right after this line */
	tw_jb_arr_open(&b, "flow_ids");
	for (int i = 0; i < al->nevid; i++)
		tw_jb_u64(&b, NULL, al->evid[i]);
	tw_jb_arr_close(&b);
	tw_jb_obj_close(&b);
	tw_jb_obj_close(&b);
	long n = tw_jb_end(&b);
	if (n > 0 && a->emit)
		a->emit(a->emit_arg, buf, (size_t)n);
	al->last_emit = ts;
	al->em_affected = al->affected;
	al->em_clients = al->nprefix;
	al->em_methods = al->methods;
}

/* ---- the share computation's counts (share.c): the flows of a target
 * after its last resolved alert, kept as records enter and leave ---- */

static void share_flow(const struct rec *r, struct tw_share_flow *f)
{
	f->pfx = r->pfx;
	f->group = r->group;
	f->w = r->w ? r->w : 1;
	f->tampered = r->tampered;
	f->silent = r->silent;
	f->answered = r->answered;
	f->method = r->method;
}

static void win_add(struct target *t, const struct rec *r)
{
	struct tw_share_flow f;
	if (r->ts <= t->al.resolved_ts)
		return;
	share_flow(r, &f);
	tw_share_add(t->sh, &f);
}

static void win_del(struct target *t, const struct rec *r)
{
	struct tw_share_flow f;
	if (r->ts <= t->al.resolved_ts)
		return;
	share_flow(r, &f);
	tw_share_del(t->sh, &f);
}

/* counted anew: records rewritten, or al.resolved_ts moved */
static void win_rebuild(struct target *t)
{
	tw_share_clear(t->sh);
	for (size_t i = 0; i < t->nr; i++)
		win_add(t, &t->r[i]);
}

static void prune(struct tw_agg *a, struct target *t, uint64_t now)
{
	uint64_t w = (uint64_t)a->c.window * NS;
	size_t k = 0;
	while (k < t->nr && t->r[k].ts + w < now)
		win_del(t, &t->r[k++]);
	if (k) {
		memmove(t->r, t->r + k, (t->nr - k) * sizeof(*t->r));
		t->nr -= k;
	}
}

/* Silence (a SYN or a request that timed out, a ClientHello never
 * answered) is weak per flow and often benign: such verdicts come capped
 * at 0.4 and are judged with the blackhole_* thresholds, whatever the
 * method the verdict engine gave them (blackhole, or tls_interference when
 * only the name went unanswered). */
static int silent_verdict(const struct tw_tamper *tp, int m)
{
	const char *sig = tp ? tp->signature : NULL;
	size_t n = sig ? strlen(sig) : 0;
	return (tw_method(m) && tw_method(m)->cls == TW_MCLASS_SILENCE) ||
	       (n >= 9 && !strcmp(sig + n - 9, "->timeout"));
}

static int tampered(const struct tw_agg *a, const struct tw_tamper *tp, int m)
{
	if (!tp || !m)
		return 0;
	double thr = silent_verdict(tp, m) ? a->c.min_confidence_timeout : a->c.min_confidence;
	return tp->confidence + 1e-9 >= thr;
}

static void rec_keys(const struct tw_agg *a, struct rec *r)
{
	const struct tw_region_entry *e = region_of(a->c.regions, r->prefix);
	r->pfx = fnv(r->prefix, FNV0);
	r->group = e ? fnv(e->region, fnv("region:", FNV0)) : r->pfx;
}

static uint64_t bucket_ns(const struct tw_agg *a)
{
	return (uint64_t)a->c.window * NS / PB;
}

static struct pstat *pstat_find(const struct tw_agg *a, uint64_t pfx)
{
	struct pstat *p = a->pb[pfx % NBUCKET];
	while (p && p->pfx != pfx)
		p = p->next;
	return p;
}

static void pstat_note(struct tw_agg *a, const struct rec *r)
{
	struct pstat *p = pstat_find(a, r->pfx);
	if (!p) {
		if (a->npstat >= MAX_PSTAT || !(p = calloc(1, sizeof(*p)))) {
			a->pstat_dropped++;
			return;
		}
		p->pfx = r->pfx;
		p->next = a->pb[r->pfx % NBUCKET];
		a->pb[r->pfx % NBUCKET] = p;
		a->npstat++;
	}
	uint64_t e = r->ts / bucket_ns(a), k = e % PB;
	if (p->epoch[k] > e)
		return; /* a held verdict older than the window the slot counts now */
	if (p->epoch[k] != e) {
		p->epoch[k] = e;
		p->flows[k] = p->answered[k] = p->rated[k] = p->queued[k] = 0;
		p->lrate[k] = 0;
	}
	p->flows[k]++;
	p->answered[k] += r->answered;
	if (r->rated && r->rate_bps >= 1) {
		p->rated[k]++;
		p->queued[k] += r->rtt_grow_ms >= a->c.throttle_queue_ms;
		p->lrate[k] += (float)log2(r->rate_bps);
	}
}

/* flows and answered flows of a prefix over the window ending at now */
static void pstat_sum(const struct tw_agg *a, uint64_t pfx, uint64_t now, uint64_t *flows, uint64_t *answered)
{
	const struct pstat *p = pstat_find(a, pfx);
	uint64_t e = now / bucket_ns(a);
	*flows = *answered = 0;
	for (int k = 0; p && k < PB; k++)
		if (p->epoch[k] + PB > e && p->epoch[k] <= e) {
			*flows += p->flows[k];
			*answered += p->answered[k];
		}
}

static void pstat_gc(struct tw_agg *a, uint64_t now)
{
	uint64_t e = now / bucket_ns(a);
	for (size_t i = 0; i < NBUCKET; i++)
		for (struct pstat **pp = &a->pb[i]; *pp;) {
			struct pstat *p = *pp;
			int live = 0;
			for (int k = 0; k < PB && !live; k++)
				live = p->epoch[k] + PB > e;
			if (live) {
				pp = &p->next;
				continue;
			}
			*pp = p->next;
			free(p);
			a->npstat--;
		}
}

/* Silence from a prefix proves nothing about one target when the same
 * clients' flows to other targets go unanswered too: their own network, an
 * outage or a shutdown (shutdown detection's business), not a block of
 * this target.  Dark: at least DARK_MIN_FLOWS flows to other targets in
 * the window, at least blackhole_min_ratio of them unanswered.  Few flows
 * suffice: at an outage's onset the first target to gather enough silent
 * flows must already find the clients' other flows failing.  own_flows,
 * own_answered: the prefix's flows to this target, taken out of its totals. */
#define DARK_MIN_FLOWS 3
static int prefix_dark(const struct tw_agg *a, uint64_t pfx, uint64_t now, size_t own_flows, size_t own_answered)
{
	uint64_t flows, answered;
	pstat_sum(a, pfx, now, &flows, &answered);
	flows = flows > own_flows ? flows - own_flows : 0;
	answered = answered > own_answered ? answered - own_answered : 0;
	return flows >= DARK_MIN_FLOWS && (double)(flows - answered) / (double)flows + 1e-9 >= a->c.blackhole_min_ratio;
}

/* The control of a single vantage point (require_control): one of the
 * prefix's flows to another target answered in the window.  Without one,
 * nothing tells a blocked target from the vantage point's own network. */
static int prefix_has_control(const struct tw_agg *a, uint64_t pfx, uint64_t now, size_t own_answered)
{
	uint64_t flows, answered;
	pstat_sum(a, pfx, now, &flows, &answered);
	return answered > own_answered;
}

/* The control of a throttling verdict on t: the rated flows in the window
 * of the client prefixes pf (hashes) to other sites than t's.  One walk
 * of the targets for the site's own flows (raising and alert lines only). */
static void control_of(const struct tw_agg *a, const struct target *t, const uint64_t *pf, int np, struct ctrl *c)
{
	uint64_t e = a->now / bucket_ns(a);
	struct ctrl own = { 0, 0, 0 }, all = { 0, 0, 0 };
	for (int i = 0; i < np; i++) {
		const struct pstat *p = pstat_find(a, pf[i]);
		for (int k = 0; p && k < PB; k++)
			if (p->epoch[k] + PB > e && p->epoch[k] <= e) {
				all.flows += p->rated[k];
				all.queued += p->queued[k];
				all.lsum += p->lrate[k];
			}
	}
	for (struct site_walk w = SITE_WALK; site_next(a, t, &w);) {
		const struct target *o = w.o;
		for (size_t i = 0; i < o->nr; i++) {
			const struct rec *r = &o->r[i];
			uint64_t re = r->ts / bucket_ns(a);
			int k = 0;
			if (!r->rated || r->rate_bps < 1 || re + PB <= e || re > e)
				continue;
			while (k < np && pf[k] != r->pfx)
				k++;
			if (k == np)
				continue;
			own.flows++;
			own.queued += r->rtt_grow_ms >= a->c.throttle_queue_ms;
			own.lsum += log2(r->rate_bps);
		}
	}
	if (all.flows > own.flows) {
		c->flows += all.flows - own.flows;
		c->queued += all.queued > own.queued ? all.queued - own.queued : 0;
		c->lsum += all.lsum - own.lsum;
	}
}

static void evaluate(struct tw_agg *a, struct target *t, uint64_t now);

static void tbins_put(struct tbins *tb, uint64_t e, double bits)
{
	int k = (int)(e % TB_N);
	if (tb->epoch[k] > e)
		return; /* older than the ring holds */
	if (tb->epoch[k] != e) {
		tb->epoch[k] = e;
		tb->bits[k] = 0;
	}
	tb->bits[k] += (float)bits;
}

/* A rated flow's delivered curve into its target's bins: each interval's
 * bits spread evenly over the bins it spans.  0, or -1 out of memory. */
static int tbins_add(struct target *t, const struct tw_thr_verdict *v)
{
	if (!t->tb && !(t->tb = calloc(1, sizeof(*t->tb))))
		return -1;
	for (int i = 1; i < v->ncurve && i < TW_THR_MAX_SAMPLES; i++) {
		uint64_t t0 = v->curve_t[i - 1], t1 = v->curve_t[i];
		if (t1 <= t0 || v->curve_b[i] <= v->curve_b[i - 1] || t1 - t0 > TB_N * TB_NS)
			continue;
		double rate = (double)(v->curve_b[i] - v->curve_b[i - 1]) * 8 / (double)(t1 - t0);
		for (uint64_t x = t0; x < t1;) {
			uint64_t e = x / TB_NS, end = (e + 1) * TB_NS < t1 ? (e + 1) * TB_NS : t1;
			tbins_put(t->tb, e + 1, rate * (double)(end - x)); /* +1: epoch 0 means empty */
			x = end;
		}
	}
	return 0;
}

/* Shaping's plateau: a shaper pins the site's aggregate rate, so the sum
 * of its flows' goodput per TB_NS bin stays flat while they wait in its
 * queue; congestion lets it swing with the cross traffic.  The bins
 * between the first and the last one the site's flows touched (those two
 * partial, left out; an idle bin between counts as 0), after time
 * after_ns (the site's last resolved alert): at least 3, *cv their
 * stddev / mean and *mean their mean (bit/s): the shaper's rate, the
 * site's delivered bytes summed per bin, not a mean of per-flow rates
 * (a flow's share of a shaper is not its rate).  1: judged. */
static int site_plateau(const struct tw_agg *a, const struct target *t, uint64_t after_ns, double *cv, double *mean)
{
	double sum[TB_N] = { 0 };
	int touched[TB_N] = { 0 };
	uint64_t top = 0, after = after_ns / TB_NS + 1;
	for (int pass = 0; pass < 2; pass++)
		for (struct site_walk w = SITE_WALK; site_next(a, t, &w);) {
			const struct target *o = w.o;
			if (!o->tb)
				continue;
			for (int k = 0; k < TB_N; k++) {
				uint64_t e = o->tb->epoch[k];
				if (!pass) {
					top = e > top ? e : top;
				} else if (e && e + TB_N > top && e > after) {
					sum[e % TB_N] += o->tb->bits[k];
					touched[e % TB_N] = 1;
				}
			}
		}
	uint64_t lo = 0, hi = 0;
	for (uint64_t e = top >= TB_N ? top - TB_N + 1 : 1; e <= top; e++)
		if (touched[e % TB_N]) {
			lo = lo ? lo : e;
			hi = e;
		}
	if (!lo || hi < lo + 4)
		return 0;
	double m = 0, var = 0;
	float v[TB_N];
	int n = 0;
	for (uint64_t e = lo + 1; e < hi && n < TB_N; e++)
		m += v[n++] = (float)(sum[e % TB_N] / ((double)TB_NS / 1e9));
	m /= n;
	for (int i = 0; i < n; i++)
		var += (v[i] - m) * (v[i] - m);
	*cv = m > 0 ? sqrt(var / (n - 1)) / m : 1e9;
	/* the median bin: a bin the shaper idled through (its flows waiting
	 * out a retransmission timeout) or one a filled hole inflated (the
	 * bytes after it counted at once) moves it less than the mean */
	qsort(v, (size_t)n, sizeof(v[0]), cmp_float);
	*mean = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
	return 1;
}

/* a rated flow that built a queue and was neither policed nor application-
 * or window-limited, not tampered by a verdict of its own: a shaping candidate */
static int shape_candidate(const struct tw_agg *a, const struct rec *r)
{
	return r->rated && !r->tampered && r->rtt_grow_ms >= a->c.throttle_queue_ms &&
	       r->rate_kind != TW_THR_APP_LIMITED && r->rate_kind != TW_THR_POLICING && r->rate_bps >= 1;
}

static void shape_mark(struct rec *r, double conf)
{
	r->tampered = 1;
	r->method = TW_METHOD_THROTTLING;
	r->rate_kind = TW_THR_SHAPING;
	r->conf = conf;
	if (!r->thr_dirs)
		r->thr_dirs = 1 << TW_DIR_S2C;
}

static int rec_ts_cmp(const void *x, const void *y)
{
	const struct rec *p = x, *q = y;
	return p->ts < q->ts ? -1 : p->ts > q->ts;
}

/* Shaping, judged per site: a shaper queues a site's flows together (on
 * every port: one queue), so each flow reads as congestion (RTT growth,
 * few losses, no steady rate of its own) and only the site's aggregate is
 * pinned.  A case: at least alerts.min_flows candidates (shape_candidate)
 * among the rated flows to the site (its domain, without one its address;
 * any port), from alerts.min_prefixes client prefixes and at least
 * alerts.min_ratio of those rated flows; the site's delivered bytes per
 * 2 s a plateau (site_plateau), whose mean is the shaper's rate; and the
 * same clients' rated flows to other sites, at least
 * alerts.throttle_control_flows of them, faster than that rate by
 * alerts.throttle_control_ratio (geometric mean), most of them without a
 * queue: congestion queues every destination.  Judged once SHAPE_SETTLE
 * has passed since the last candidate ended (or at the final tick): the
 * flows the shaper held together with it end about then and the bins
 * count them.  The alert is the site's: its shaping target (site_key,
 * port 0) takes copies of the site's records in the window, the
 * candidates marked throttling (shaping), and is evaluated as for any
 * verdict; while its alert is open the site's further flows are counted
 * there too (tw_agg_outcome).  t: one of the site's port targets.  1: a case. */
#define SHAPE_SETTLE (2 * NS)
static int shape_eval(struct tw_agg *a, struct target *t, uint64_t now, int final)
{
	char key[320];
	uint64_t pf[MAX_PFX], t0 = UINT64_MAX, t1 = 0, after = 0;
	size_t cand = 0, rated = 0, copies = 0;
	int np = 0;
	t->shape_pending = 0;
	if (t->site)
		return 0;
	site_key(t, key, sizeof(key));
	struct target *s = *slot(a, key);
	if (s && s->al.open)
		return 0; /* the site's alert counts its flows */
	if (s)
		after = s->al.resolved_ts;
	for (struct site_walk w = SITE_WALK; site_next(a, t, &w);) {
		const struct target *o = w.o;
		for (size_t i = 0; i < o->nr; i++) {
			const struct rec *r = &o->r[i];
			if (r->ts <= after)
				continue;
			copies++;
			if (!r->rated || r->tampered)
				continue;
			rated++;
			if (!shape_candidate(a, r))
				continue;
			cand++;
			uint64_t d = (uint64_t)((double)r->rate_s * 1e9);
			uint64_t start = r->ts - (d < r->ts ? d : r->ts);
			t0 = start < t0 ? start : t0;
			t1 = r->ts > t1 ? r->ts : t1;
			int k = 0;
			while (k < np && pf[k] != r->pfx)
				k++;
			if (k == np && np < MAX_PFX)
				pf[np++] = r->pfx;
		}
	}
	if (cand)
		t->shape_pending = 1;
	if (cand < (size_t)a->c.min_flows || np < a->c.min_prefixes ||
	    (double)cand + 1e-9 < a->c.min_ratio * (double)rated || t1 < t0 + NS || (!final && now < t1 + SHAPE_SETTLE))
		return 0;
	/* slow on average is not enough: the site's rate must stay flat */
	double cv, rate;
	if (!site_plateau(a, t, after, &cv, &rate) || cv > a->c.throttle_plateau_cv || rate <= 0)
		return 0;
	struct ctrl c = { 0, 0, 0 };
	control_of(a, t, pf, np, &c);
	if (c.flows < a->c.throttle_control_flows || c.queued * 2 > c.flows)
		return 0;
	double speedup = exp2(c.lsum / (double)c.flows) / rate;
	if (speedup < a->c.throttle_control_ratio)
		return 0;
	if (!s) {
		if (!(s = target_get(a, key)))
			return 0; /* counted in dropped; judged again at the next tick */
		s->site = 1;
		a->nsite++;
		snprintf(s->domain, sizeof(s->domain), "%s", t->domain);
		snprintf(s->ip, sizeof(s->ip), "%s", t->ip);
		snprintf(s->proto, sizeof(s->proto), "%s", t->proto);
		s->port = 0;
	}
	if (copies > MAX_REC) {
		a->dropped += copies - MAX_REC; /* the oldest of the site's flows left out of its alert */
		copies = MAX_REC;
	}
	if (copies > s->cap) {
		void *n = realloc(s->r, copies * sizeof(*s->r));
		if (!n) {
			a->dropped++;
			return 0;
		}
		s->r = n;
		s->cap = copies;
	}
	/* the site's records in the window, newest kept, in time order */
	double conf = 0.9 - 0.3 * a->c.throttle_control_ratio / speedup;
	s->nr = 0;
	for (struct site_walk w = SITE_WALK; site_next(a, t, &w);) {
		const struct target *o = w.o;
		for (size_t i = 0; i < o->nr; i++) {
			const struct rec *r = &o->r[i];
			if (r->ts <= after)
				continue;
			size_t k = s->nr;
			if (k == copies) { /* full: the oldest copy gives way */
				k = 0;
				for (size_t j = 1; j < s->nr; j++)
					k = s->r[j].ts < s->r[k].ts ? j : k;
				if (s->r[k].ts >= r->ts)
					continue;
			} else {
				s->nr++;
			}
			s->r[k] = *r;
			if (shape_candidate(a, r))
				shape_mark(&s->r[k], conf);
		}
	}
	qsort(s->r, s->nr, sizeof(*s->r), rec_ts_cmp);
	win_rebuild(s);
	s->plateau_cv = (float)cv;
	s->site_rate = (float)rate;
	evaluate(a, s, now);
	return 1;
}

/* Policing is tampering only where the same clients reach other sites at
 * full speed (issue 14): the policed flows' client prefixes must have at
 * least alerts.throttle_control_flows rated flows to other sites in the
 * window, their geometric mean goodput at least
 * alerts.throttle_control_ratio times the median of the policed flows'
 * rates.  Shaping (shape_eval) passed it against the target's aggregate
 * rate, which no flow's share exceeds, so it holds again here.  Without it
 * the per-flow verdicts stay (tamper records, counted) and no alert is
 * raised; the case is judged again at each tick while it lasts. */
static int throttle_controlled(struct tw_agg *a, const struct target *t, uint64_t after)
{
	static float v[MAX_REC];
	uint64_t pf[MAX_PFX];
	size_t n = 0;
	int np = 0;
	for (size_t i = 0; i < t->nr; i++) {
		const struct rec *r = &t->r[i];
		if (r->ts <= after || !r->tampered || r->method != TW_METHOD_THROTTLING)
			continue;
		if (r->rate_bps > 0)
			v[n++] = r->rate_bps;
		int k = 0;
		while (k < np && pf[k] != r->pfx)
			k++;
		if (k == np && np < MAX_PFX)
			pf[np++] = r->pfx;
	}
	if (!n)
		return 0;
	qsort(v, n, sizeof(v[0]), cmp_float);
	struct ctrl c = { 0, 0, 0 };
	control_of(a, t, pf, np, &c);
	if (c.flows < a->c.throttle_control_flows)
		return 0;
	return exp2(c.lsum / (double)c.flows) + 1e-9 >= a->c.throttle_control_ratio * (double)v[n / 2];
}

enum { BY_ALL = TW_SHARE_ALL, BY_PREFIX = TW_SHARE_PREFIX, BY_REGION = TW_SHARE_REGION };

/* whether a prefix's silent flows to a target count (tw_share_counts_fn):
 * not when its clients' other targets are dark too, nor, for a single
 * vantage point, without a control */
static int prefix_counts(void *arg, uint64_t pfx, size_t flows, size_t answered)
{
	const struct tw_agg *a = arg;
	return !prefix_dark(a, pfx, a->now, flows, answered) &&
	       (!a->c.require_control || prefix_has_control(a, pfx, a->now, answered));
}

/* Do the tampered flows of one class make a case (share.h)?  From the
 * target's counts; by a scan of its records where they cannot say. */
static int makes_case(struct tw_agg *a, const struct target *t, uint64_t after, int silent, int by, int min_flows,
                      int min_pfx, double ratio)
{
	if (t->nr <= MAX_REC) {
		int rc = tw_share_case(t->sh, silent, by, min_flows, min_pfx, ratio, prefix_counts, a);
		if (rc >= 0)
			return rc;
	}
	size_t n = 0;
	if (!a->flows && !(a->flows = malloc(MAX_REC * sizeof(*a->flows))))
		return 0;
	for (size_t i = 0; i < t->nr && n < MAX_REC; i++)
		if (t->r[i].ts > after)
			share_flow(&t->r[i], &a->flows[n++]);
	return tw_share_scan(a->flows, n, silent, by, min_flows, min_pfx, ratio, prefix_counts, a);
}

static int class_makes_case(struct tw_agg *a, const struct target *t, uint64_t after, int silent, size_t hits)
{
	int mf = silent ? a->c.blackhole_min_flows : a->c.min_flows;
	int mp = silent ? a->c.blackhole_min_prefixes : a->c.min_prefixes;
	double ratio = silent ? a->c.blackhole_min_ratio : a->c.min_ratio;
	if (hits < (size_t)mf)
		return 0; /* no grouping can reach min_flows */
	return makes_case(a, t, after, silent, BY_ALL, mf, mp, ratio) ||
	       makes_case(a, t, after, silent, BY_PREFIX, mf, mp, ratio) ||
	       (a->c.regions && makes_case(a, t, after, silent, BY_REGION, mf, mp, ratio));
}

static int most_frequent(const size_t *cnt)
{
	int m = 0;
	for (int i = 1; i < TW_METHOD_MAX; i++)
		if (cnt[i] > cnt[m])
			m = i;
	return m;
}

static void evaluate(struct tw_agg *a, struct target *t, uint64_t now)
{
	uint64_t after = t->al.resolved_ts; /* flows of a resolved incident do not raise a new one */
	size_t cnt[2][TW_METHOD_MAX] = { { 0 } }, hits[2] = { 0, 0 };
	if (tw_share_ok(t->sh)) {
		for (int c = 0; c < 2; c++) { /* the counts hold them */
			hits[c] = tw_share_hits(t->sh, c);
			for (int m = 0; m < TW_METHOD_MAX; m++)
				cnt[c][m] = tw_share_method_count(t->sh, c, m);
		}
	} else {
		for (size_t i = 0; i < t->nr; i++) {
			const struct rec *r = &t->r[i];
			if (r->ts <= after || !r->tampered)
				continue;
			cnt[r->silent][r->method]++;
			hits[r->silent] += r->w ? r->w : 1; /* estimated flows, as makes_case counts them */
		}
	}
	int method = 0;
	if (class_makes_case(a, t, after, 0, hits[0]))
		method = most_frequent(cnt[0]);
	else if (class_makes_case(a, t, after, 1, hits[1]))
		method = most_frequent(cnt[1]);
	if (!method) {
		t->police_pending = 0;
		return;
	}
	if (method == TW_METHOD_THROTTLING && !throttle_controlled(a, t, after)) {
		if (!t->police_pending)
			a->thr_uncontrolled++;
		t->police_pending = 1; /* judged again at ticks: the control may come */
		return;
	}
	t->police_pending = 0;

	struct alert *al = &t->al;
	uint64_t resolved_ts = al->resolved_ts;
	free(al->prefix);
	memset(al, 0, sizeof(*al));
	al->resolved_ts = resolved_ts;
	al->open = 1;
	al->method = method;
	al->first_seen = UINT64_MAX;
	size_t before = 0, before_ok = 0;
	for (size_t i = 0; i < t->nr; i++) {
		const struct rec *r = &t->r[i];
		if (r->ts <= after)
			continue;
		if (r->tampered && r->ts < al->first_seen)
			al->first_seen = r->ts;
	}
	for (size_t i = 0; i < t->nr; i++) {
		const struct rec *r = &t->r[i];
		if (r->ts <= after)
			continue;
		if (r->ts < al->first_seen) {
			before++;
			before_ok += r->answered && !r->method;
			continue;
		}
		al->flows++;
		if (r->w > al->sampling)
			al->sampling = r->w;
		if (r->tampered) {
			al->affected++;
			al->conf_sum += r->conf;
			al->methods |= 1u << r->method;
			add_prefix(al, r->prefix);
			add_evid(al, r->flow_id);
			if (r->ts > al->last_tampered)
				al->last_tampered = r->ts;
		}
	}
	al->last_seen = al->last_tampered;
	al->baseline = before ? (double)before_ok / (double)before : -1;
	char seed[400];
	snprintf(seed, sizeof(seed), "%s|%s|%llu", t->key, tw_method_name(method), (unsigned long long)al->first_seen);
	snprintf(al->id, sizeof(al->id), "%016llx", (unsigned long long)fnv(seed, FNV0));
	a->nopen++;
	open_add(a, t);
	emit(a, t, "raised", now, NULL);
	a->dirty = 1;
}

static void resolve(struct tw_agg *a, struct target *t, uint64_t now, const char *why)
{
	emit(a, t, "resolved", now, why);
	t->al.open = 0;
	t->al.resolved_ts = now;
	win_rebuild(t); /* the flows until now no longer count */
	a->nopen--;
	open_del(a, t);
	a->dirty = 1;
}

static void site_count(struct tw_agg *a, const struct target *t, const struct rec *r, const struct tw_flow_outcome *o);
static void alert_count(struct tw_agg *a, struct target *t, const struct rec *r, const struct tw_flow_outcome *o);

void tw_agg_outcome(void *arg, const struct tw_flow_outcome *o)
{
	struct tw_agg *a = arg;
	char key[320];
	const char *dom = o->domain && *o->domain ? o->domain : NULL;

	if (!o->server_ip || !o->proto)
		return;
	int m = o->tamper ? tw_method_by_name(o->tamper->method) : 0;
	struct target *t = NULL;
	if (!dom && tampered(a, o->tamper, m))
		t = residual(a, o);
	if (!t) {
		snprintf(key, sizeof(key), "%.255s|%u|%s", dom ? dom : o->server_ip, o->server_port, o->proto);
		t = target_get(a, key);
	}
	if (!t)
		return;
	int fresh = !t->proto[0];
	if (fresh) {
		snprintf(t->domain, sizeof(t->domain), "%s", dom ? dom : "");
		snprintf(t->proto, sizeof(t->proto), "%s", o->proto);
		t->port = o->server_port;
	}
	if (!t->domain[0] || dom) {
		char ip[sizeof(t->ip)];
		snprintf(ip, sizeof(ip), "%s", o->server_ip);
		if (strcmp(ip, t->ip)) {
			int moves = !fresh && !t->domain[0]; /* an address site: its key changes */
			if (moves)
				site_index_del(a, t);
			memcpy(t->ip, ip, sizeof(ip));
			if (moves)
				site_index_add(a, t);
		}
	}
	if (fresh)
		site_index_add(a, t);
	prune(a, t, o->ts_ns);
	if (t->nr == MAX_REC) {
		win_del(t, &t->r[0]);
		memmove(t->r, t->r + 1, (t->nr - 1) * sizeof(*t->r));
		t->nr--;
	}
	if (t->nr == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 8;
		void *n = realloc(t->r, nc * sizeof(*t->r));
		if (!n)
			return;
		t->r = n;
		t->cap = nc;
	}
	struct rec *r = &t->r[t->nr++];
	memset(r, 0, sizeof(*r));
	r->ts = o->ts_ns;
	r->flow_id = o->flow_id;
	r->method = (uint8_t)m;
	r->tampered = (uint8_t)tampered(a, o->tamper, m);
	r->silent = (uint8_t)(o->tamper && silent_verdict(o->tamper, m));
	r->answered = (uint8_t) !!o->answered;
	r->w = o->sampling ? o->sampling : 1;
	r->conf = o->tamper ? o->tamper->confidence : 0;
	r->rate_bps = o->tamper ? (float)o->tamper->rate_bps : 0;
	r->thr_dirs = o->tamper ? (uint8_t)o->tamper->throttle_dirs : 0;
	if (r->tampered && o->tamper->redirect_target && o->tamper->redirect_target[0] &&
	    (!t->redirect || strcmp(t->redirect, o->tamper->redirect_target))) {
		char *d = strdup(o->tamper->redirect_target);
		if (d) { /* out of memory: the alert keeps the last one it had */
			free(t->redirect);
			t->redirect = d;
		}
	}
	if (o->rate) {
		r->rated = 1;
		r->rate_kind = (uint8_t)o->rate->kind;
		r->rate_s = (float)o->rate->seconds;
		r->rtt_grow_ms = (float)o->rate->rtt_growth_ms;
		if (!r->rate_bps)
			r->rate_bps = (float)o->rate->goodput_bps;
		if (!r->thr_dirs)
			r->thr_dirs = (uint8_t)o->rate->dirs;
		/* every rated flow, whatever its kind: a shaper's rate is the sum
		 * of all it delivers (a queued flow can read as idling) */
		if (o->rate->ncurve >= 2 && tbins_add(t, o->rate) < 0)
			a->dropped++; /* no memory: the site's plateau misses this flow */
	}
	snprintf(r->prefix, sizeof(r->prefix), "%s", o->client_prefix ? o->client_prefix : "");
	rec_keys(a, r);
	win_add(t, r);
	if (o->ts_ns > a->now)
		a->now = o->ts_ns;
	pstat_note(a, r);

	site_count(a, t, r, o);
	struct alert *al = &t->al;
	if (!al->open) {
		if (r->tampered)
			evaluate(a, t, o->ts_ns);
		else if (r->rated && r->rtt_grow_ms >= a->c.throttle_queue_ms)
			shape_eval(a, t, o->ts_ns, 0);
		return;
	}
	alert_count(a, t, r, o);
}

/* A flow r (o) of t's site while the site's shaping alert is open: a copy
 * in the site's target, a shaping candidate counted as shaped, and the
 * alert's counts (alert_count). */
static void site_count(struct tw_agg *a, const struct target *t, const struct rec *r, const struct tw_flow_outcome *o)
{
	char key[320];
	if (!a->nsite)
		return;
	site_key(t, key, sizeof(key));
	struct target *s = *slot(a, key);
	if (!s || !s->site || !s->al.open)
		return;
	if (s->nr == MAX_REC) {
		win_del(s, &s->r[0]);
		memmove(s->r, s->r + 1, (s->nr - 1) * sizeof(*s->r));
		s->nr--;
	}
	if (s->nr == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 8;
		void *n = realloc(s->r, nc * sizeof(*s->r));
		if (!n) {
			a->dropped++;
			return;
		}
		s->r = n;
		s->cap = nc;
	}
	struct rec *c = &s->r[s->nr++];
	*c = *r;
	if (shape_candidate(a, c))
		shape_mark(c, s->al.affected ? s->al.conf_sum / (double)s->al.affected : 0.5);
	win_add(s, c);
	alert_count(a, s, c, o);
}

/* an outcome r (o) of t while t's alert is open */
static void alert_count(struct tw_agg *a, struct target *t, const struct rec *r, const struct tw_flow_outcome *o)
{
	struct alert *al = &t->al;
	int m = r->method;
	al->flows++;
	if (r->w > al->sampling)
		al->sampling = r->w;
	if (r->tampered) {
		al->affected++;
		al->conf_sum += r->conf;
		al->methods |= 1u << m;
		add_prefix(al, r->prefix);
		add_evid(al, r->flow_id);
		if (r->ts > al->last_tampered)
			al->last_tampered = r->ts;
		if (r->ts > al->last_seen)
			al->last_seen = r->ts;
		al->ok_run = 0;
	} else if (o->answered && !o->tamper && in_incident(al, r->prefix)) {
		if (++al->ok_run >= a->c.resolve_ok_flows)
			resolve(a, t, o->ts_ns, "recovered");
	}
}

static void free_target(struct tw_agg *a, struct target *t)
{
	site_index_del(a, t);
	tw_share_free(t->sh);
	free(t->tb);
	free(t->redirect);
	free(t->al.prefix);
	free(t->r);
	free(t);
}

void tw_agg_tick(void *arg, uint64_t now, int final)
{
	struct tw_agg *a = arg;
	if (now > a->now)
		a->now = now;
	int gc = now >= a->last_gc + 10 * NS;
	for (size_t i = 0; i < NBUCKET; i++) {
		struct target **p = &a->b[i];
		while (*p) {
			struct target *t = *p;
			struct alert *al = &t->al;
			if (!al->open && (t->shape_pending || t->police_pending) && (final || now >= t->shape_next)) {
				t->shape_next = now + 2 * NS;
				if (t->police_pending)
					evaluate(a, t, now); /* the control may have come */
				if (!t->al.open && t->shape_pending)
					shape_eval(a, t, now, final); /* settled, or the control came since */
			}
			if (al->open) {
				if (now >= al->last_tampered + (uint64_t)a->c.resolve_after * NS)
					resolve(a, t, now, "quiet");
				else if (now >= al->last_emit + (uint64_t)a->c.update_interval * NS &&
				         (al->nprefix != al->em_clients || al->methods != al->em_methods ||
				          al->affected >=
				                  al->em_affected + (al->em_affected / 4 ? al->em_affected / 4 : 1)))
					emit(a, t, "updated", now, NULL);
			}
			if (gc && !al->open) {
				prune(a, t, now);
				if (!t->nr) {
					*p = t->next;
					a->nsite -= (size_t)t->site;
					free_target(a, t);
					a->ntargets--;
					continue;
				}
			}
			p = &t->next;
		}
	}
	if (gc) {
		pstat_gc(a, now);
		a->last_gc = now;
	}
	if (!a->state_dir)
		return;
	if (!a->last_save)
		a->last_save = now;
	/* a raise or a resolution is saved at this tick, not the next periodic
	 * one: a crash in between would otherwise raise it again (or lose the
	 * resolution).  Its line is already in the log (tw_output_line_now writes
	 * detector lines at once), so the state never names an alert the log
	 * does not have.  At most one save a tick (a second). */
	if (final || a->dirty || now >= a->last_save + (uint64_t)a->c.state_interval * NS) {
		tw_agg_save(a);
		a->last_save = now;
		a->dirty = 0;
	}
}

/* ---- state: alerts.state records (docs/state.md), compressed by state.c -
 *
 * Text lines "KIND field field ...".  Record versions 3 (written) and 2
 * name their fields, "name=value"; version 3 adds the flows' rates to R.
 * Version 1 (the files of earlier releases, still read) gives them by
 * position, in the order of the tables below.  One table per record kind
 * drives the writer and the readers. */

#define STATE_RECORD_VERSION 3

enum ftype {
	F_U64,
	F_INT,
	F_DBL,
	F_STR,        /* percent-encoded; version 1: after an "s" */
	F_PORT,       /* uint16_t */
	F_FLAG,       /* uint8_t, 0 or 1 */
	F_METHOD,     /* int: a per-flow method's name or "none"; version 1: its number */
	F_METHOD8,    /* the same in a uint8_t */
	F_METHODS,    /* unsigned, bit 1 << method: names separated by ","; version 1: the number */
	F_V1_VERDICT, /* uint8_t: version 1's 0 clean, 1 tampered, 2 tampered by silence */
	F_FLT,        /* float, finite, >= 0 */
	F_KIND,       /* uint8_t: enum tw_thr_kind by name */
	F_DIRS,       /* uint8_t: bit TW_DIR_*, 0..3 */
};
#define IN_V1 1u
#define IN_V2 2u
#define IN_V3 4u
struct field {
	const char *name;
	enum ftype type;
	size_t off, size;
	unsigned vers; /* IN_V1 | IN_V2 | IN_V3 */
};
#define FIELD(st, mem, type, vers)                                                                                     \
	{                                                                                                              \
#mem, type, offsetof(st, mem), sizeof(((st *)0)->mem), vers                                            \
	}
#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

struct head_rec {
	uint64_t now;
};
static const struct field head_fields[] = { FIELD(struct head_rec, now, F_U64, IN_V1 | IN_V2 | IN_V3) };

/* T: a target (the key of the table, and what alerts print of it) */
static const struct field target_fields[] = {
	FIELD(struct target, key, F_STR, IN_V1 | IN_V2 | IN_V3),
	FIELD(struct target, domain, F_STR, IN_V1 | IN_V2 | IN_V3),
	FIELD(struct target, ip, F_STR, IN_V1 | IN_V2 | IN_V3),
	FIELD(struct target, port, F_PORT, IN_V1 | IN_V2 | IN_V3),
	FIELD(struct target, proto, F_STR, IN_V1 | IN_V2 | IN_V3),
};

/* A: the target's alert, open or the last one resolved */
static const struct field alert_fields[] = {
	FIELD(struct alert, open, F_INT, IN_V1 | IN_V2 | IN_V3),
	FIELD(struct alert, id, F_STR, IN_V1 | IN_V2 | IN_V3),
	FIELD(struct alert, method, F_METHOD, IN_V1 | IN_V2 | IN_V3),
	FIELD(struct alert, first_seen, F_U64, IN_V1 | IN_V2 | IN_V3),
	FIELD(struct alert, last_seen, F_U64, IN_V1 | IN_V2 | IN_V3),
	FIELD(struct alert, last_tampered, F_U64, IN_V1 | IN_V2 | IN_V3),
	FIELD(struct alert, last_emit, F_U64, IN_V1 | IN_V2 | IN_V3),
	FIELD(struct alert, resolved_ts, F_U64, IN_V1 | IN_V2 | IN_V3),
	FIELD(struct alert, flows, F_U64, IN_V1 | IN_V2 | IN_V3),
	FIELD(struct alert, affected, F_U64, IN_V1 | IN_V2 | IN_V3),
	FIELD(struct alert, em_affected, F_U64, IN_V1 | IN_V2 | IN_V3),
	FIELD(struct alert, conf_sum, F_DBL, IN_V1 | IN_V2 | IN_V3),
	FIELD(struct alert, baseline, F_DBL, IN_V1 | IN_V2 | IN_V3),
	FIELD(struct alert, ok_run, F_INT, IN_V1 | IN_V2 | IN_V3),
	FIELD(struct alert, em_clients, F_INT, IN_V1 | IN_V2 | IN_V3),
	FIELD(struct alert, methods, F_METHODS, IN_V1 | IN_V2 | IN_V3),
	FIELD(struct alert, em_methods, F_METHODS, IN_V1 | IN_V2 | IN_V3),
};

/* P: one of the alert's client prefixes; E: one of its evidence flows */
struct prefix_rec {
	char prefix[PFXLEN];
};
static const struct field prefix_fields[] = { FIELD(struct prefix_rec, prefix, F_STR, IN_V1 | IN_V2 | IN_V3) };
struct evid_rec {
	uint64_t flow_id;
};
static const struct field evid_fields[] = { FIELD(struct evid_rec, flow_id, F_U64, IN_V1 | IN_V2 | IN_V3) };

/* R: one flow outcome in the target's window */
static const struct field rec_fields[] = {
	FIELD(struct rec, ts, F_U64, IN_V1 | IN_V2 | IN_V3),
	FIELD(struct rec, flow_id, F_U64, IN_V1 | IN_V2 | IN_V3),
	FIELD(struct rec, conf, F_DBL, IN_V1 | IN_V2 | IN_V3),
	FIELD(struct rec, method, F_METHOD8, IN_V1 | IN_V2 | IN_V3),
	FIELD(struct rec, tampered, F_V1_VERDICT, IN_V1),
	FIELD(struct rec, tampered, F_FLAG, IN_V2 | IN_V3),
	FIELD(struct rec, silent, F_FLAG, IN_V2 | IN_V3),
	FIELD(struct rec, answered, F_FLAG, IN_V1 | IN_V2 | IN_V3),
	FIELD(struct rec, prefix, F_STR, IN_V1 | IN_V2 | IN_V3),
	/* version 3: the flow's rate evidence (throttling) */
	FIELD(struct rec, rated, F_FLAG, IN_V3),
	FIELD(struct rec, rate_kind, F_KIND, IN_V3),
	FIELD(struct rec, rate_bps, F_FLT, IN_V3),
	FIELD(struct rec, rate_s, F_FLT, IN_V3),
	FIELD(struct rec, rtt_grow_ms, F_FLT, IN_V3),
	FIELD(struct rec, thr_dirs, F_DIRS, IN_V3),
};

struct sbuf {
	char *p;
	size_t n, cap;
	int oom;
};

static void sb_printf(struct sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *s, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int w = vsnprintf(s->p ? s->p + s->n : NULL, s->p ? s->cap - s->n : 0, fmt, ap);
		va_end(ap);
		if (w < 0) {
			s->oom = 1;
			return;
		}
		if (s->p && s->n + (size_t)w < s->cap) {
			s->n += (size_t)w;
			return;
		}
		size_t nc = (s->cap ? s->cap * 2 : 65536) + (size_t)w;
		char *np = realloc(s->p, nc);
		if (!np) {
			s->oom = 1;
			return;
		}
		s->p = np;
		s->cap = nc;
	}
}

/* strings percent-encoded: never a space, a control byte or a lone '%' */
static void sb_enc(struct sbuf *s, const char *v)
{
	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;
		if (c <= 0x20 || c >= 0x7f || c == '%')
			sb_printf(s, "%%%02X", c);
		else
			sb_printf(s, "%c", c);
	}
}

static int dec(char *out, size_t cap, const char *s)
{
	size_t o = 0;
	for (; *s; s++) {
		if (o + 1 >= cap)
			return -1;
		if (*s == '%') {
			unsigned v;
			if (!isxdigit((unsigned char)s[1]) || !isxdigit((unsigned char)s[2]) ||
			    sscanf(s + 1, "%2X", &v) != 1)
				return -1;
			out[o++] = (char)v;
			s += 2;
		} else
			out[o++] = *s;
	}
	out[o] = 0;
	return 0;
}

static int per_flow(uint64_t m)
{
	return m < TW_METHOD_MAX && tw_method((int)m) && tw_method((int)m)->per_flow;
}

static void write_record(struct sbuf *s, const char *kind, const struct field *f, size_t nf, const void *base)
{
	sb_printf(s, "%s", kind);
	for (size_t i = 0; i < nf; i++) {
		const void *p = (const char *)base + f[i].off;
		if (!(f[i].vers & IN_V3))
			continue;
		sb_printf(s, " %s=", f[i].name);
		switch (f[i].type) {
		case F_U64: sb_printf(s, "%llu", (unsigned long long)*(const uint64_t *)p); break;
		case F_INT: sb_printf(s, "%d", *(const int *)p); break;
		case F_DBL: sb_printf(s, "%.17g", *(const double *)p); break;
		case F_STR: sb_enc(s, p); break;
		case F_PORT: sb_printf(s, "%u", *(const uint16_t *)p); break;
		case F_FLAG:
		case F_DIRS:
		case F_V1_VERDICT: sb_printf(s, "%u", *(const uint8_t *)p); break;
		case F_FLT: sb_printf(s, "%.9g", (double)*(const float *)p); break;
		case F_KIND: sb_printf(s, "%s", tw_thr_kind_name((enum tw_thr_kind) * (const uint8_t *)p)); break;
		case F_METHOD:
		case F_METHOD8: {
			int m = f[i].type == F_METHOD ? *(const int *)p : *(const uint8_t *)p;
			sb_printf(s, "%s", tw_method_name(m) ? tw_method_name(m) : "none");
			break;
		}
		case F_METHODS: {
			unsigned mask = *(const unsigned *)p;
			const char *sep = "";
			for (int m = 0; m < TW_METHOD_MAX; m++)
				if ((mask & (1u << m)) && tw_method_name(m)) {
					sb_printf(s, "%s%s", sep, tw_method_name(m));
					sep = ",";
				}
			break;
		}
		}
	}
	sb_printf(s, "\n");
}

static int parse_u64(const char *v, uint64_t max, uint64_t *out)
{
	char *end;
	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (*end || errno || x > max)
		return -1;
	*out = x;
	return 0;
}

/* One value into its field; NULL, or what is wrong with it. */
static const char *read_value(const struct field *f, const char *v, int ver, void *base)
{
	void *p = (char *)base + f->off;
	uint64_t u;
	switch (f->type) {
	case F_U64:
		if (parse_u64(v, UINT64_MAX, &u))
			return "not an unsigned 64-bit number";
		*(uint64_t *)p = u;
		return NULL;
	case F_INT: {
		int neg = *v == '-';
		if (parse_u64(v + neg, neg ? (uint64_t)INT_MAX + 1 : INT_MAX, &u))
			return "not an int";
		*(int *)p = neg ? (int)(-(int64_t)u) : (int)u;
		return NULL;
	}
	case F_DBL: {
		char *end;
		double d = strtod(v, &end);
		if (!*v || *end || !isfinite(d))
			return "not a finite number";
		*(double *)p = d;
		return NULL;
	}
	case F_STR:
		if (ver == 1 && *v++ != 's')
			return "a string must start with 's'";
		return dec(p, f->size, v) ? "too long or a bad %-escape" : NULL;
	case F_PORT:
		if (parse_u64(v, 65535, &u))
			return "not a port";
		*(uint16_t *)p = (uint16_t)u;
		return NULL;
	case F_FLAG:
		if (parse_u64(v, 1, &u))
			return "not 0 or 1";
		*(uint8_t *)p = (uint8_t)u;
		return NULL;
	case F_V1_VERDICT:
		if (parse_u64(v, 2, &u))
			return "not 0, 1 or 2";
		*(uint8_t *)p = (uint8_t)u;
		return NULL;
	case F_DIRS:
		if (parse_u64(v, 3, &u))
			return "not 0 to 3";
		*(uint8_t *)p = (uint8_t)u;
		return NULL;
	case F_FLT: {
		char *end;
		double d = strtod(v, &end);
		if (!*v || *end || !isfinite(d) || d < 0 || d > 3.4e38)
			return "not a finite number >= 0";
		*(float *)p = (float)d;
		return NULL;
	}
	case F_KIND:
		for (int k = TW_THR_NONE; k <= TW_THR_APP_LIMITED; k++)
			if (!strcmp(v, tw_thr_kind_name((enum tw_thr_kind)k))) {
				*(uint8_t *)p = (uint8_t)k;
				return NULL;
			}
		return "not a rate kind (none, policing, shaping, congestion, app_limited)";
	case F_METHOD:
	case F_METHOD8:
		if (ver == 1) {
			if (parse_u64(v, TW_METHOD_MAX, &u) || (u && !per_flow(u)))
				return "not the number of a per-flow method";
		} else {
			u = strcmp(v, "none") ? tw_method_by_name(v) : TW_METHOD_NONE;
			if (strcmp(v, "none") && !per_flow(u))
				return "not a per-flow method's name";
		}
		if (f->type == F_METHOD)
			*(int *)p = (int)u;
		else
			*(uint8_t *)p = (uint8_t)u;
		return NULL;
	case F_METHODS: {
		unsigned mask = 0;
		if (ver == 1) {
			if (parse_u64(v, UINT32_MAX, &u))
				return "not a number";
			mask = (unsigned)u;
		} else {
			char name[32];
			for (const char *s = v; *s;) {
				size_t n = strcspn(s, ",");
				if (n >= sizeof(name))
					return "not a per-flow method's name";
				memcpy(name, s, n);
				name[n] = 0;
				int m = tw_method_by_name(name);
				if (!per_flow((uint64_t)m))
					return "not a per-flow method's name";
				mask |= 1u << m;
				s += n + (s[n] == ',');
			}
		}
		for (int m = 0; m < 32; m++)
			if ((mask & (1u << m)) && !per_flow((uint64_t)m))
				return "names a method that is not per-flow";
		*(unsigned *)p = mask;
		return NULL;
	}
	}
	return "unknown field type";
}

/* A record's fields from its tokens (after the kind): version 1 by
 * position, version 2 by name, each exactly once.  0, or -1 with the
 * field and what is wrong in why. */
static int read_record(const struct field *f, size_t nf, char *fields, int ver, void *base, char *why, size_t cap)
{
	unsigned want = ver == 1 ? IN_V1 : ver == 2 ? IN_V2 : IN_V3;
	uint32_t seen = 0;
	size_t pos = 0;
	char *save = NULL;
	for (char *tok = strtok_r(fields, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		const struct field *fd = NULL;
		const char *v = tok;
		if (ver == 1) {
			while (pos < nf && !(f[pos].vers & want))
				pos++;
			if (pos == nf) {
				snprintf(why, cap, "more fields than the %zu of version 1", pos);
				return -1;
			}
			fd = &f[pos++];
		} else {
			char *eq = strchr(tok, '=');
			if (!eq) {
				snprintf(why, cap, "'%.40s' is not name=value", tok);
				return -1;
			}
			*eq = 0;
			v = eq + 1;
			for (size_t i = 0; i < nf && !fd; i++)
				if ((f[i].vers & want) && !strcmp(f[i].name, tok)) {
					fd = &f[i];
					if (seen & (1u << i)) {
						snprintf(why, cap, "field '%s' given twice", tok);
						return -1;
					}
					seen |= 1u << i;
				}
			if (!fd) {
				snprintf(why, cap, "unknown field '%.40s'", tok);
				return -1;
			}
		}
		const char *bad = read_value(fd, v, ver, base);
		if (bad) {
			snprintf(why, cap, "field '%s': %s", fd->name, bad);
			return -1;
		}
	}
	for (size_t i = 0; i < nf; i++)
		if ((f[i].vers & want) && (ver == 1 ? i >= pos : !(seen & (1u << i)))) {
			snprintf(why, cap, "field '%s' missing", f[i].name);
			return -1;
		}
	return 0;
}

int tw_agg_save(struct tw_agg *a)
{
	struct sbuf s = { 0 };
	struct head_rec h = { a->now };
	char head[16];
	snprintf(head, sizeof(head), "V %d", STATE_RECORD_VERSION);
	write_record(&s, head, head_fields, NFIELDS(head_fields), &h);
	/* targets with an open alert first: a restart under a lower
	 * alerts.max_targets keeps those */
	for (size_t n = 0; n < 2 * NBUCKET; n++)
		for (struct target *t = a->b[n % NBUCKET]; t; t = t->next) {
			const struct alert *al = &t->al;
			if (!al->open != (n >= NBUCKET))
				continue;
			write_record(&s, "T", target_fields, NFIELDS(target_fields), t);
			write_record(&s, "A", alert_fields, NFIELDS(alert_fields), al);
			for (int k = 0; k < al->nprefix; k++) {
				struct prefix_rec p;
				memcpy(p.prefix, al->prefix[k], PFXLEN);
				write_record(&s, "P", prefix_fields, NFIELDS(prefix_fields), &p);
			}
			for (int k = 0; k < al->nevid; k++) {
				struct evid_rec e = { al->evid[k] };
				write_record(&s, "E", evid_fields, NFIELDS(evid_fields), &e);
			}
			for (size_t k = 0; k < t->nr; k++)
				write_record(&s, "R", rec_fields, NFIELDS(rec_fields), &t->r[k]);
		}
	sb_printf(&s, "END\n");
	char err[1200];
	int rc = -1;
	if (s.oom)
		snprintf(err, sizeof(err), "%s/%s: out of memory", a->state_dir, STATE_NAME);
	else
		rc = tw_state_save(a->state_dir, STATE_NAME, s.p, s.n, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "tamperwatchd: state not saved: %s\n", err);
	free(s.p);
	return rc;
}

static void clear(struct tw_agg *a)
{
	for (size_t i = 0; i < NBUCKET; i++) {
		while (a->b[i]) {
			struct target *t = a->b[i];
			a->b[i] = t->next;
			free_target(a, t);
		}
		while (a->pb[i]) {
			struct pstat *p = a->pb[i];
			a->pb[i] = p->next;
			free(p);
		}
	}
	a->ntargets = a->nopen = a->nopenv = a->npstat = a->nsite = 0;
	a->site_broken = 0;
}

/* One record of a target (A, P, E, R) into t. */
static int restore_member(struct tw_agg *a, struct target *t, char kind, char *fields, int ver, int *have_alert,
                          char *why, size_t cap)
{
	switch (kind) {
	case 'A': {
		struct alert al;
		memset(&al, 0, sizeof(al));
		if (read_record(alert_fields, NFIELDS(alert_fields), fields, ver, &al, why, cap))
			return -1;
		if (*have_alert || (al.open != 0 && al.open != 1) || (al.open && (!al.method || strlen(al.id) != 16))) {
			snprintf(why, cap, *have_alert ? "a second alert for the target" : "not a valid open alert");
			return -1;
		}
		*have_alert = 1;
		al.prefix = t->al.prefix; /* P and E records follow A */
		al.nprefix = t->al.nprefix;
		al.nevid = t->al.nevid;
		memcpy(al.evid, t->al.evid, sizeof(al.evid));
		t->al = al;
		if (al.open) {
			a->nopen++;
			open_add(a, t);
		}
		return 0;
	}
	case 'P': {
		struct prefix_rec p;
		if (read_record(prefix_fields, NFIELDS(prefix_fields), fields, ver, &p, why, cap))
			return -1;
		add_prefix(&t->al, p.prefix);
		return 0;
	}
	case 'E': {
		struct evid_rec e;
		if (read_record(evid_fields, NFIELDS(evid_fields), fields, ver, &e, why, cap))
			return -1;
		add_evid(&t->al, e.flow_id);
		return 0;
	}
	case 'R': {
		struct rec r;
		memset(&r, 0, sizeof(r));
		if (read_record(rec_fields, NFIELDS(rec_fields), fields, ver, &r, why, cap))
			return -1;
		if (t->nr >= MAX_REC) {
			snprintf(why, cap, "more than %d records for the target", MAX_REC);
			return -1;
		}
		if (ver == 1) {
			/* tampered 2: a silent verdict; 1 from blackhole alone (older files) */
			r.silent = (uint8_t)(r.tampered == 2 || (r.tampered && r.method == TW_METHOD_BLACKHOLE));
			r.tampered = (uint8_t) !!r.tampered;
		}
		if (r.tampered && !r.method) {
			snprintf(why, cap, "field 'tampered': a flow without a verdict");
			return -1;
		}
		if (t->nr == t->cap) {
			size_t nc = t->cap ? t->cap * 2 : 8;
			void *n = realloc(t->r, nc * sizeof(*t->r));
			if (!n) {
				snprintf(why, cap, "out of memory");
				return -1;
			}
			t->r = n;
			t->cap = nc;
		}
		t->r[t->nr] = r;
		if (r.rated && !r.tampered && r.rtt_grow_ms >= a->c.throttle_queue_ms && !t->site)
			t->shape_pending = 1;
		if (r.tampered && r.method == TW_METHOD_THROTTLING)
			t->police_pending = 1; /* judged at the next tick (an open alert ignores it) */
		rec_keys(a, &t->r[t->nr]);
		if (!t->site) /* a site's copies are counted in their port targets */
			pstat_note(a, &t->r[t->nr]);
		t->nr++;
		return 0;
	}
	}
	snprintf(why, cap, "unknown record kind '%c'", kind);
	return -1;
}

/* 0, or -1 with the record number, kind and field in err.  Targets beyond
 * alerts.max_targets (lowered since the save) are counted in *skipped,
 * their records passed over, open alerts first: a smaller limit is no
 * reason to forget an incident. */
static int restore(struct tw_agg *a, char *text, char *err, size_t errlen, size_t *skipped)
{
	char *save = NULL, why[200];
	struct target *t = NULL;
	int ln = 0, end = 0, skip = 0, ver = 0, have_alert = 0;
	char shown = '?'; /* the kind of the record in error, printable */
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char kind = line[0];
		ln++;
		shown = isgraph((unsigned char)kind) ? kind : '?';
		why[0] = 0;
		if (end) {
			snprintf(why, sizeof(why), "records after END");
			goto bad;
		}
		if (ln == 1) {
			struct head_rec h;
			if (strncmp(line, "V ", 2) || line[2] < '1' || line[2] > '3' || line[3] != ' ') {
				snprintf(why, sizeof(why), "not a record version this daemon reads (1, 2, 3)");
				goto bad;
			}
			ver = line[2] - '0';
			if (read_record(head_fields, NFIELDS(head_fields), line + 4, ver, &h, why, sizeof(why)))
				goto bad;
			a->now = h.now;
			continue;
		}
		if (!strcmp(line, "END")) {
			end = 1;
			continue;
		}
		if (!kind || line[1] != ' ') {
			snprintf(why, sizeof(why), "not 'KIND fields...'");
			goto bad;
		}
		if (skip && strchr("APER", kind))
			continue;
		skip = 0;
		if (kind == 'T') {
			struct target tr; /* the fields, before the target is made */
			memset(&tr, 0, sizeof(tr));
			if (read_record(target_fields, NFIELDS(target_fields), line + 2, ver, &tr, why, sizeof(why)))
				goto bad;
			if (!*slot(a, tr.key) && a->ntargets >= (size_t)a->c.max_targets) {
				(*skipped)++;
				skip = 1;
				t = NULL;
				continue;
			}
			t = target_get(a, tr.key);
			if (!t || t->proto[0]) {
				snprintf(why, sizeof(why), t ? "a second record for the target" : "out of memory");
				goto bad;
			}
			memcpy(t->domain, tr.domain, sizeof(t->domain));
			memcpy(t->ip, tr.ip, sizeof(t->ip));
			memcpy(t->proto, tr.proto, sizeof(t->proto));
			t->port = tr.port;
			char sk[320];
			site_key(t, sk, sizeof(sk));
			t->site = t->port == 0 && !strcmp(t->key, sk); /* a site's shaping target */
			a->nsite += (size_t)t->site;
			site_index_add(a, t);
			have_alert = 0;
			continue;
		}
		if (!t) {
			snprintf(why, sizeof(why), "before any T record");
			goto bad;
		}
		if (restore_member(a, t, kind, line + 2, ver, &have_alert, why, sizeof(why)))
			goto bad;
	}
	if (end) {
		for (size_t i = 0; i < NBUCKET; i++) /* the window's counts, after the alerts' resolved_ts */
			for (struct target *u = a->b[i]; u; u = u->next)
				win_rebuild(u);
		return 0;
	}
	snprintf(err, errlen, "record %d: no END (cut short)", ln + 1);
	return -1;
bad:
	snprintf(err, errlen, "record %d (%c): %s", ln, shown, why);
	return -1;
}

struct tw_agg *tw_agg_new(const struct tw_agg_cfg *cfg, const struct tw_legit *legit, const char *state_dir,
                          tw_agg_emit_cb emit_cb, void *emit_arg, char *err, size_t errlen)
{
	struct tw_agg *a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->c = *cfg;
	a->legit = legit;
	a->emit = emit_cb;
	a->emit_arg = emit_arg;
	if (!state_dir)
		return a;
	a->state_dir = strdup(state_dir);
	if (!a->state_dir) {
		free(a);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "--state %s: %s", state_dir, strerror(errno));
		tw_agg_free(a);
		return NULL;
	}
	if (access(state_dir, W_OK | X_OK) < 0) {
		snprintf(err, errlen, "--state %s: %s", state_dir, strerror(errno));
		tw_agg_free(a);
		return NULL;
	}
	void *data;
	size_t len;
	char e[1200];
	int rc = tw_state_load(state_dir, STATE_NAME, &data, &len, e, sizeof(e));
	if (rc == TW_STATE_UNREADABLE) {
		snprintf(err, errlen, "%s", e); /* left in place: not ours to overwrite */
		tw_agg_free(a);
		return NULL;
	}
	if (rc == TW_STATE_CORRUPT)
		fprintf(stderr, "tamperwatchd: %s\n", e);
	if (rc == TW_STATE_LOADED) {
		char why[300] = "a NUL byte in the text";
		size_t skipped = 0;
		if (strlen(data) != len || restore(a, data, why, sizeof(why), &skipped) < 0) {
			clear(a);
			a->now = 0;
			char path[4200], aside[4300];
			snprintf(path, sizeof(path), "%s/%s", state_dir, STATE_NAME);
			if (tw_state_set_aside(path, aside, sizeof(aside)) < 0) {
				snprintf(err, errlen, "%s: malformed state, %s; and it cannot be moved aside: %s", path,
				         why, strerror(errno));
				free(data);
				tw_agg_free(a);
				return NULL;
			}
			fprintf(stderr,
			        "tamperwatchd: %s: malformed state, %s; moved aside to %s, "
			        "starting with empty state\n",
			        path, why, aside);
		} else if (skipped)
			fprintf(stderr,
			        "tamperwatchd: %s/%s: %zu targets beyond alerts.max_targets (%d) not restored\n",
			        state_dir, STATE_NAME, skipped, a->c.max_targets);
		free(data);
	}
	return a;
}

size_t tw_agg_open_alerts(const struct tw_agg *a)
{
	return a->nopen;
}

void tw_agg_get_stats(const struct tw_agg *a, struct tw_agg_stats *s)
{
	s->targets = a->ntargets;
	s->targets_dropped = a->dropped;
	s->open = a->nopen;
	s->prefixes = a->npstat;
	s->prefixes_dropped = a->pstat_dropped;
	s->throttling_uncontrolled = a->thr_uncontrolled;
}

void tw_agg_stats_json(void *arg, struct tw_jb *b)
{
	struct tw_agg_stats s;
	tw_agg_get_stats(arg, &s);
	tw_jb_obj_open(b, "alerts");
	tw_jb_u64(b, "targets", s.targets);
	tw_jb_u64(b, "targets_dropped", s.targets_dropped);
	tw_jb_u64(b, "open", s.open);
	tw_jb_u64(b, "prefixes", s.prefixes);
	tw_jb_u64(b, "prefixes_dropped", s.prefixes_dropped);
	tw_jb_u64(b, "throttling_uncontrolled", s.throttling_uncontrolled);
	tw_jb_obj_close(b);
}

void tw_agg_free(struct tw_agg *a)
{
	if (!a)
		return;
	clear(a);
	free(a->openv);
	free(a->flows);
	free(a->state_dir);
	free(a);
}

int tw_agg_check(struct tw_agg *a, char *err, size_t cap)
{
	size_t indexed = 0, members = 0;
	for (size_t i = 0; i < NBUCKET; i++)
		for (struct target *t = a->b[i]; t; t = t->next) {
			if (t->bkt != i) {
				snprintf(err, cap, "target %s: bucket %zu, in %zu", t->key, t->bkt, i);
				return -1;
			}
			if (!a->site_broken && !t->site && t->proto[0]) {
				if (!t->st || t->st_pos >= t->st->n || t->st->m[t->st_pos] != t ||
				    site_find(a, t) != t->st) {
					snprintf(err, cap, "target %s: not in its site's index", t->key);
					return -1;
				}
				indexed++;
			} else if (t->st) {
				snprintf(err, cap, "target %s: a site's shaping target or unnamed, indexed", t->key);
				return -1;
			}
			if (t->nr > MAX_REC || !tw_share_ok(t->sh))
				continue;
			for (int silent = 0; silent < 2; silent++)
				for (int by = BY_ALL; by <= BY_REGION; by++) {
					int mf = silent ? a->c.blackhole_min_flows : a->c.min_flows;
					int mp = silent ? a->c.blackhole_min_prefixes : a->c.min_prefixes;
					double ratio = silent ? a->c.blackhole_min_ratio : a->c.min_ratio;
					size_t n = 0;
					if (!a->flows && !(a->flows = malloc(MAX_REC * sizeof(*a->flows)))) {
						snprintf(err, cap, "out of memory");
						return -1;
					}
					for (size_t k = 0; k < t->nr; k++)
						if (t->r[k].ts > t->al.resolved_ts)
							share_flow(&t->r[k], &a->flows[n++]);
					int want =
					        tw_share_scan(a->flows, n, silent, by, mf, mp, ratio, prefix_counts, a);
					int got = tw_share_case(t->sh, silent, by, mf, mp, ratio, prefix_counts, a);
					if (got != want || tw_share_flows(t->sh) != n) {
						snprintf(err, cap,
						         "target %s: class %d grouping %d: counts say %d, the scan %d "
						         "(%zu flows)",
						         t->key, silent, by, got, want, n);
						return -1;
					}
				}
		}
	for (size_t i = 0; i < NBUCKET && !a->site_broken; i++)
		for (struct site *s = a->sb[i]; s; s = s->next) {
			members += s->n;
			if (!s->n) {
				snprintf(err, cap, "site %s: empty, kept", s->name);
				return -1;
			}
			/* the index's walk and the walk over every target meet the same targets in the same order */
			const struct target *t0 = s->m[0];
			struct site_walk w = SITE_WALK;
			for (size_t b = 0; b < NBUCKET; b++)
				for (const struct target *o = a->b[b]; o; o = o->next) {
					if (!same_site(t0, o))
						continue;
					if (!site_next(a, t0, &w) || w.o != o) {
						snprintf(err, cap, "site %s: the index walk misses or misorders %s",
						         s->name, o->key);
						return -1;
					}
				}
			if (site_next(a, t0, &w)) {
				snprintf(err, cap, "site %s: the index walk meets %s, not of the site", s->name,
				         w.o->key);
				return -1;
			}
		}
	if (indexed != members) {
		snprintf(err, cap, "%zu targets indexed, %zu members in the sites", indexed, members);
		return -1;
	}
	return 0;
}

/* ---- operator's view: the most affected targets ------------------------- */

struct top {
	const struct target *t;
	uint64_t flows, tampered;
};

size_t tw_agg_top_targets(const struct tw_agg *a, uint64_t now, int n, char *buf, size_t cap)
{
	struct top top[32];
	int ntop = 0;
	uint64_t w = (uint64_t)a->c.window * NS;

	if (n > 32)
		n = 32;
	for (size_t i = 0; i < NBUCKET; i++)
		for (const struct target *t = a->b[i]; t; t = t->next) {
			struct top x = { t, 0, 0 };
			for (size_t k = 0; k < t->nr; k++)
				if (t->r[k].ts + w >= now) {
					x.flows++;
					x.tampered += t->r[k].tampered;
				}
			if (!x.tampered && !t->al.open)
				continue;
			int pos = ntop;
			while (pos > 0 && (top[pos - 1].tampered < x.tampered ||
			                   (top[pos - 1].tampered == x.tampered && top[pos - 1].flows < x.flows)))
				pos--;
			if (pos >= n)
				continue;
			if (ntop < n)
				ntop++;
			memmove(&top[pos + 1], &top[pos], (size_t)(ntop - 1 - pos) * sizeof(top[0]));
			top[pos] = x;
		}
	struct tw_jb b;
	tw_jb_init(&b, buf, cap);
	tw_jb_arr_open(&b, NULL);
	for (int i = 0; i < ntop; i++) {
		const struct target *t = top[i].t;
		const char *seen[MAX_PFX];
		int nseen = 0;
		unsigned methods = t->al.open ? t->al.methods : 0;
		for (size_t k = 0; k < t->nr; k++) {
			const struct rec *r = &t->r[k];
			if (r->ts + w < now || !r->tampered)
				continue;
			methods |= 1u << r->method;
			int dup = 0;
			for (int j = 0; j < nseen && !dup; j++)
				dup = !strcmp(seen[j], r->prefix);
			if (!dup && nseen < MAX_PFX)
				seen[nseen++] = r->prefix;
		}
		tw_jb_obj_open(&b, NULL);
		tw_jb_str(&b, "domain", t->domain[0] ? t->domain : NULL);
		tw_jb_str(&b, "ip", t->ip[0] ? t->ip : NULL);
		tw_jb_u64(&b, "port", t->port);
		tw_jb_str(&b, "proto", t->proto);
		tw_jb_u64(&b, "flows", top[i].flows);
		tw_jb_u64(&b, "tampered_flows", top[i].tampered);
		tw_jb_dbl(&b, "share", top[i].flows ? (double)top[i].tampered / (double)top[i].flows : 0, 3);
		tw_jb_arr_open(&b, "methods_seen");
		for (int m = 0; m < TW_METHOD_MAX; m++)
			if ((methods & (1u << m)) && tw_method_name(m))
				tw_jb_str(&b, NULL, tw_method_name(m));
		tw_jb_arr_close(&b);
		tw_jb_u64(&b, "clients", (uint64_t)(t->al.open && t->al.nprefix > nseen ? t->al.nprefix : nseen));
		tw_jb_str(&b, "alert_id", t->al.open ? t->al.id : NULL);
		tw_jb_obj_close(&b);
	}
	tw_jb_arr_close(&b);
	long len = tw_jb_end(&b);
	return len > 0 ? (size_t)len : 0;
}

int tw_evidence_path(const char *dir, const char *id, char *out, size_t cap)
{
	size_t n = strlen(id);
	if (n == 0 || n > 64 || strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != n)
		return -1;
	int w = snprintf(out, cap, "%s/%s.pcap", dir, id);
	return w < 0 || (size_t)w >= cap ? -1 : 0;
}
