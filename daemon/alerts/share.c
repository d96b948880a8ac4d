#include "alerts/share.h"
#include <stdlib.h>
#include <string.h>

/* ---- the reference: a scan of the window's flows ---------------------- */

static uint64_t key_of(const struct tw_share_flow *f, int by)
{
	return by == TW_SHARE_ALL ? 0 : by == TW_SHARE_PREFIX ? f->pfx : f->group;
}

static int flow_cmp(const void *x, const void *y, void *arg)
{
	const struct tw_share_flow *c = x, *d = y;
	int by = *(const int *)arg;
	uint64_t cg = key_of(c, by), dg = key_of(d, by);
	if (cg != dg)
		return cg < dg ? -1 : 1;
	return c->pfx < d->pfx ? -1 : c->pfx > d->pfx;
}

/* Do the tampered flows of one class (silent or not) make a case: at least
 * min_flows of them from at least min_pfx client prefixes, counting only
 * groups of clients in which they are at least `ratio` of the target's
 * flows?  Groups: all clients as one (ALL), each client prefix, each
 * region.  A share counted over all clients would let a region the censor
 * spares dilute a regional block; counted per group, the clean flows of
 * other clients no longer hide it, while one tampered flow among many
 * clean ones from the same clients still does not count.  Flows are
 * weighed by the sampling they were seen at (a flow kept at 1 in N stands
 * for N): min_flows compares estimated flows; shares are ratios of two
 * estimates alike and prefixes are not scaled (docs/alerts.md "Sampling").
 * Silent flows of a prefix count only where counts() says so. */
int tw_share_scan(struct tw_share_flow *v, size_t n, int silent, int by, int min_flows, int min_pfx, double ratio,
                  tw_share_counts_fn counts, void *arg)
{
	qsort_r(v, n, sizeof(*v), flow_cmp, &by);
	size_t flows = 0, pfx = 0, seen = 0;
	for (size_t i = 0; i < n;) {
		uint64_t g = key_of(&v[i], by);
		size_t j = i, tot = 0, hit = 0, np = 0, nseen = 0;
		/* one run of flows per prefix within the group */
		while (j < n && key_of(&v[j], by) == g) {
			size_t k = j, ptot = 0, phit = 0, pans = 0, wtot = 0, whit = 0;
			for (; k < n && key_of(&v[k], by) == g && v[k].pfx == v[j].pfx; k++) {
				int h = v[k].tampered && v[k].silent == silent;
				uint32_t w = v[k].w ? v[k].w : 1;
				ptot++;
				phit += h;
				pans += v[k].answered;
				wtot += w;
				whit += h ? w : 0;
			}
			if (!silent || !phit || counts(arg, v[j].pfx, ptot, pans)) {
				tot += wtot;
				hit += whit;
				nseen += phit;
				np += phit > 0;
			}
			j = k;
		}
		if (hit && (double)hit / (double)tot + 1e-9 >= ratio) {
			flows += hit;
			seen += nseen;
			pfx += np;
		}
		i = j;
	}
	/* one flow seen never makes a case alone, whatever it stands for */
	return flows >= (size_t)min_flows && pfx >= (size_t)min_pfx && seen >= (size_t)(min_flows < 2 ? min_flows : 2);
}

/* ---- the counts kept as flows enter and leave ------------------------- */

/* flows of a group of clients (a prefix, a region, all): weighted, and
 * per class the weighted tampered flows, the tampered flows seen and the
 * prefixes with one */
struct sums {
	uint64_t w, wh[2], h[2], np[2];
};
/* what a group adds to a case if its share holds */
struct q {
	uint64_t flows, seen, pfx;
};

struct gent { /* a region (or, without regions, a prefix) */
	struct gent *next;
	uint64_t g;
	size_t npent; /* its prefixes */
	struct sums s;
	/* scratch of one decision: the sums of its prefixes left out */
	uint64_t stamp;
	struct sums out;
};

struct pent { /* a client prefix */
	struct pent *next;
	uint64_t p, g;
	uint64_t n, ans; /* flows, answered flows (unweighted) */
	struct sums s;
	size_t silpos; /* in sil[] while it has a silent hit */
	struct gent *grp;
};

struct tw_share {
	double ratio[2];
	struct pent **pb;
	size_t npb, npent;
	struct gent **gb;
	size_t ngb, ngent;
	struct pent **sil; /* prefixes with a silent tampered flow */
	size_t nsil, capsil;
	struct gent **touched; /* scratch of one decision */
	size_t captouched;
	uint64_t stamp;
	int broken; /* a prefix hash under two regions, or no memory: until cleared */
	struct sums all;
	struct q qp[2], qr[2]; /* per prefix, per region: the sum of the groups whose share holds */
	uint64_t flows;
	uint64_t cnt[2][TW_METHOD_MAX];
};

struct tw_share *tw_share_new(double ratio0, double ratio1)
{
	struct tw_share *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->ratio[0] = ratio0;
	s->ratio[1] = ratio1;
	return s;
}

void tw_share_clear(struct tw_share *s)
{
	for (size_t i = 0; i < s->npb; i++)
		while (s->pb[i]) {
			struct pent *e = s->pb[i];
			s->pb[i] = e->next;
			free(e);
		}
	for (size_t i = 0; i < s->ngb; i++)
		while (s->gb[i]) {
			struct gent *e = s->gb[i];
			s->gb[i] = e->next;
			free(e);
		}
	s->npent = s->ngent = s->nsil = 0;
	s->broken = 0;
	memset(&s->all, 0, sizeof(s->all));
	memset(s->qp, 0, sizeof(s->qp));
	memset(s->qr, 0, sizeof(s->qr));
	memset(s->cnt, 0, sizeof(s->cnt));
	s->flows = 0;
}

void tw_share_free(struct tw_share *s)
{
	if (!s)
		return;
	tw_share_clear(s);
	free(s->pb);
	free(s->gb);
	free(s->sil);
	free(s->touched);
	free(s);
}

static size_t hix(uint64_t k, size_t n)
{
	k ^= k >> 29;
	k *= 0xbf58476d1ce4e5b9ull;
	k ^= k >> 32;
	return (size_t)(k & (n - 1));
}

/* The tables of chains are doubled when fuller than one entry a bucket
 * (out of memory: the chains grow longer, still right). */
static int grow_p(struct tw_share *s)
{
	if (s->npent < s->npb)
		return 0;
	size_t nn = s->npb ? s->npb * 2 : 8;
	struct pent **t = calloc(nn, sizeof(*t));
	if (!t)
		return s->npb ? 0 : -1;
	for (size_t i = 0; i < s->npb; i++)
		for (struct pent *e = s->pb[i], *nx; e; e = nx) {
			nx = e->next;
			size_t k = hix(e->p, nn);
			e->next = t[k];
			t[k] = e;
		}
	free(s->pb);
	s->pb = t;
	s->npb = nn;
	return 0;
}

static int grow_g(struct tw_share *s)
{
	if (s->ngent < s->ngb)
		return 0;
	size_t nn = s->ngb ? s->ngb * 2 : 8;
	struct gent **t = calloc(nn, sizeof(*t));
	if (!t)
		return s->ngb ? 0 : -1;
	for (size_t i = 0; i < s->ngb; i++)
		for (struct gent *e = s->gb[i], *nx; e; e = nx) {
			nx = e->next;
			size_t k = hix(e->g, nn);
			e->next = t[k];
			t[k] = e;
		}
	free(s->gb);
	s->gb = t;
	s->ngb = nn;
	return 0;
}

static int holds(const struct sums *s, int c, double ratio)
{
	return s->wh[c] && (double)s->wh[c] / (double)s->w + 1e-9 >= ratio;
}

static void q_add(struct q *q, const struct sums *s, int c, double ratio, int sign)
{
	if (!holds(s, c, ratio))
		return;
	if (sign > 0) {
		q->flows += s->wh[c];
		q->seen += s->h[c];
		q->pfx += s->np[c];
	} else {
		q->flows -= s->wh[c];
		q->seen -= s->h[c];
		q->pfx -= s->np[c];
	}
}

static void sums_add(struct sums *s, const struct sums *d, int sign)
{
	if (sign > 0) {
		s->w += d->w;
		for (int c = 0; c < 2; c++) {
			s->wh[c] += d->wh[c];
			s->h[c] += d->h[c];
			s->np[c] += d->np[c];
		}
	} else {
		s->w -= d->w;
		for (int c = 0; c < 2; c++) {
			s->wh[c] -= d->wh[c];
			s->h[c] -= d->h[c];
			s->np[c] -= d->np[c];
		}
	}
}

static struct gent *gent_get(struct tw_share *s, uint64_t g)
{
	struct gent *e;
	if (s->ngb)
		for (e = s->gb[hix(g, s->ngb)]; e; e = e->next)
			if (e->g == g)
				return e;
	if (grow_g(s) || !(e = calloc(1, sizeof(*e))))
		return NULL;
	e->g = g;
	size_t k = hix(g, s->ngb);
	e->next = s->gb[k];
	s->gb[k] = e;
	s->ngent++;
	return e;
}

static void gent_put(struct tw_share *s, struct gent *e)
{
	if (e->npent)
		return;
	struct gent **p = &s->gb[hix(e->g, s->ngb)];
	while (*p != e)
		p = &(*p)->next;
	*p = e->next;
	free(e);
	s->ngent--;
}

static struct pent *pent_find(const struct tw_share *s, uint64_t p)
{
	if (!s->npb)
		return NULL;
	struct pent *e = s->pb[hix(p, s->npb)];
	while (e && e->p != p)
		e = e->next;
	return e;
}

static int sil_set(struct tw_share *s, struct pent *e, int on)
{
	if (on == (e->silpos != SIZE_MAX))
		return 0;
	if (!on) {
		struct pent *last = s->sil[--s->nsil];
		s->sil[e->silpos] = last;
		last->silpos = e->silpos;
		e->silpos = SIZE_MAX;
		return 0;
	}
	if (s->nsil == s->capsil) {
		size_t nc = s->capsil ? s->capsil * 2 : 8;
		void *n = realloc(s->sil, nc * sizeof(*s->sil));
		if (!n)
			return -1;
		s->sil = n;
		s->capsil = nc;
	}
	e->silpos = s->nsil;
	s->sil[s->nsil++] = e;
	return 0;
}

/* one flow f into (sign 1) or out of (-1) the counts */
static void apply(struct tw_share *s, const struct tw_share_flow *f, int sign)
{
	if (s->broken)
		return;
	struct pent *e = pent_find(s, f->pfx);
	if (e && e->g != f->group) {
		s->broken = 1; /* two regions under one prefix hash: the scan groups them its way */
		return;
	}
	if (!e) {
		if (sign < 0) {
			s->broken = 1; /* never entered: not as it entered */
			return;
		}
		struct gent *g = gent_get(s, f->group);
		if (!g || grow_p(s) || !(e = calloc(1, sizeof(*e)))) {
			if (g)
				gent_put(s, g);
			s->broken = 1;
			return;
		}
		e->p = f->pfx;
		e->g = f->group;
		e->silpos = SIZE_MAX;
		e->grp = g;
		g->npent++;
		size_t k = hix(f->pfx, s->npb);
		e->next = s->pb[k];
		s->pb[k] = e;
		s->npent++;
	}
	struct gent *g = e->grp;
	int c = f->silent ? 1 : 0, h = f->tampered != 0;
	uint64_t w = f->w ? f->w : 1;
	/* the groups' contributions out, the flow in, the contributions back */
	for (int k = 0; k < 2; k++) {
		q_add(&s->qp[k], &e->s, k, s->ratio[k], -1);
		q_add(&s->qr[k], &g->s, k, s->ratio[k], -1);
	}
	sums_add(&s->all, &e->s, -1);
	sums_add(&g->s, &e->s, -1);
	if (sign > 0) {
		e->n++;
		e->ans += f->answered != 0;
		e->s.w += w;
		if (h) {
			e->s.wh[c] += w;
			e->s.h[c]++;
		}
		s->flows++;
	} else {
		e->n--;
		e->ans -= f->answered != 0;
		e->s.w -= w;
		if (h) {
			e->s.wh[c] -= w;
			e->s.h[c]--;
		}
		s->flows--;
	}
	for (int k = 0; k < 2; k++)
		e->s.np[k] = e->s.h[k] > 0;
	sums_add(&s->all, &e->s, 1);
	sums_add(&g->s, &e->s, 1);
	for (int k = 0; k < 2; k++) {
		q_add(&s->qp[k], &e->s, k, s->ratio[k], 1);
		q_add(&s->qr[k], &g->s, k, s->ratio[k], 1);
	}
	if (h && f->method < TW_METHOD_MAX) {
		if (sign > 0)
			s->cnt[c][f->method]++;
		else
			s->cnt[c][f->method]--;
	}
	if (sil_set(s, e, e->s.h[1] > 0)) {
		s->broken = 1;
		return;
	}
	if (!e->n) { /* the prefix's last flow left */
		struct pent **p = &s->pb[hix(e->p, s->npb)];
		while (*p != e)
			p = &(*p)->next;
		*p = e->next;
		s->npent--;
		g->npent--;
		gent_put(s, g);
		free(e);
	}
}

void tw_share_add(struct tw_share *s, const struct tw_share_flow *f)
{
	apply(s, f, 1);
}

void tw_share_del(struct tw_share *s, const struct tw_share_flow *f)
{
	apply(s, f, -1);
}

int tw_share_case(struct tw_share *s, int silent, int by, int min_flows, int min_pfx, double ratio,
                  tw_share_counts_fn counts, void *arg)
{
	int c = silent ? 1 : 0;
	if (s->broken || ratio != s->ratio[c])
		return -1;
	struct q q = { 0, 0, 0 };
	if (by == TW_SHARE_ALL) {
		struct sums a = s->all;
		for (size_t i = 0; c && i < s->nsil; i++) {
			const struct pent *e = s->sil[i];
			if (!counts(arg, e->p, e->n, e->ans))
				sums_add(&a, &e->s, -1);
		}
		q_add(&q, &a, c, ratio, 1);
	} else if (by == TW_SHARE_PREFIX) {
		q = s->qp[c];
		for (size_t i = 0; c && i < s->nsil; i++) {
			const struct pent *e = s->sil[i];
			if (!counts(arg, e->p, e->n, e->ans))
				q_add(&q, &e->s, c, ratio, -1); /* its group left empty */
		}
	} else {
		q = s->qr[c];
		size_t nt = 0;
		if (c && s->nsil > s->captouched) {
			void *n = realloc(s->touched, s->nsil * sizeof(*s->touched));
			if (!n)
				return -1;
			s->touched = n;
			s->captouched = s->nsil;
		}
		if (c && s->nsil)
			s->stamp++;
		for (size_t i = 0; c && i < s->nsil; i++) {
			const struct pent *e = s->sil[i];
			if (counts(arg, e->p, e->n, e->ans))
				continue;
			struct gent *g = e->grp;
			if (g->stamp != s->stamp) {
				g->stamp = s->stamp;
				memset(&g->out, 0, sizeof(g->out));
				s->touched[nt++] = g;
			}
			sums_add(&g->out, &e->s, 1);
		}
		for (size_t i = 0; i < nt; i++) {
			struct gent *g = s->touched[i];
			struct sums left = g->s;
			sums_add(&left, &g->out, -1);
			q_add(&q, &g->s, c, ratio, -1);
			q_add(&q, &left, c, ratio, 1);
		}
	}
	return q.flows >= (uint64_t)min_flows && q.pfx >= (uint64_t)min_pfx &&
	       q.seen >= (uint64_t)(min_flows < 2 ? min_flows : 2);
}

int tw_share_ok(const struct tw_share *s)
{
	return !s->broken;
}

uint64_t tw_share_hits(const struct tw_share *s, int c)
{
	return s->all.wh[c ? 1 : 0];
}

uint64_t tw_share_method_count(const struct tw_share *s, int c, int method)
{
	return method >= 0 && method < TW_METHOD_MAX ? s->cnt[c ? 1 : 0][method] : 0;
}

uint64_t tw_share_flows(const struct tw_share *s)
{
	return s->flows;
}
