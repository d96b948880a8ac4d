/* Shutdown detector core: see shutdown.h and README "Shutdown detection". */
#include "shutdown.h"
#include "jsonbuf.h"
#include "pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define NM (4 + TW_SD_NCLASS)          /* packets bytes flows clients class0..3 */
#define M_CLIENTS 3
#define M_CLASS0 4
#define MAXHIST 16
#define MAXGAPS 64
#define NS 1000000000ull
#define SD_MAGIC "TWSD"
#define SD_VERSION 1u

static const char *metric_names[] = {"packets", "bytes", "new_flows", "active_clients"};
static const char *class_names[TW_SD_NCLASS] = {"web", "dns", "tcp_other", "other"};

struct sd_series {
	char key[64];
	char region[48];
	uint64_t first_ns, last_ns;
	uint64_t acc_bin;            /* absolute bin index of the accumulator */
	double acc[NM];
	uint32_t acc_n;
	int acc_excluded;
	float *hist;                 /* [bins][history][NM] */
	uint8_t *nh, *pos;           /* per bin: entries, next ring slot */
	int has_classes;
	/* detection */
	uint64_t down_since, up_since;
	int alerting;
	char id[24];
	uint64_t a_start, a_last;
	double a_min_ratio, a_area, a_base, a_ratio, a_val;
	int a_partial, a_sev;
	unsigned a_passing;          /* bitmask of classes still passing */
	/* sums over the down samples of this episode: which classes pass is
	 * judged on them, not on one noisy interval (a small class flickers) */
	double d_base, d_cls_base[TW_SD_NCLASS], d_cls[TW_SD_NCLASS];
};

struct sd_region {
	char name[48];
	int alerting, n, sev;
	char id[24];
	uint64_t start, last;
	double depth;
};

struct tw_shutdown {
	struct tw_shutdown_cfg c;
	struct tw_pipeline *pl;
	uint64_t bin_ns;
	struct sd_series *ser;
	size_t nser, capser;
	struct sd_region *reg;
	size_t nreg, capreg;
	struct { uint64_t from, to; } gaps[MAXGAPS];
	unsigned ngaps, gap_next;
	int link_down;
	uint64_t link_down_since;
	uint64_t loaded_saved_ns;    /* restart gap to report on the first sample */
	struct tw_shutdown_stats st;
};

void tw_shutdown_cfg_default(struct tw_shutdown_cfg *c)
{
	memset(c, 0, sizeof *c);
	c->interval_s = 60;
	c->period_s = 7 * 86400;
	c->bins = 168;
	c->history = 4;
	c->warmup_s = 7 * 86400;
	c->min_duration_s = 600;
	c->recover_s = 600;
	c->drop_frac = 0.25;
	c->recover_frac = 0.5;
	c->min_clients = 40;
	c->region_min = 2;
	c->metric = TW_SD_PACKETS;
	c->max_series = 4096;
}

int tw_shutdown_cfg_check(const struct tw_shutdown_cfg *c, char *err, size_t errlen)
{
	const char *e = NULL;
	if (!c->interval_s) e = "interval_s must be > 0";
	else if (!c->bins || c->bins > 100000) e = "bins must be 1..100000";
	else if (!c->period_s || c->period_s % c->bins) e = "period_s must be a positive multiple of bins";
	else if (c->period_s / c->bins < c->interval_s) e = "a bin (period_s/bins) must hold at least one interval";
	else if (!c->history || c->history > MAXHIST) e = "history must be 1..16";
	else if (!(c->drop_frac > 0 && c->drop_frac < 1)) e = "drop_frac must be in (0,1)";
	else if (!(c->recover_frac >= c->drop_frac && c->recover_frac <= 1)) e = "recover_frac must be in [drop_frac,1]";
	else if (c->min_clients < 0) e = "min_clients must be >= 0";
	else if (c->region_min < 1) e = "region_min must be >= 1";
	else if ((unsigned)c->metric > TW_SD_CLIENTS) e = "unknown metric";
	else if (!c->max_series) e = "max_series must be > 0";
	if (e && err && errlen)
		snprintf(err, errlen, "shutdown: %s", e);
	return e ? -1 : 0;
}

struct tw_shutdown *tw_shutdown_new(const struct tw_shutdown_cfg *cfg, struct tw_pipeline *pl)
{
	if (tw_shutdown_cfg_check(cfg, NULL, 0))
		return NULL;
	struct tw_shutdown *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->c = *cfg;
	s->pl = pl;
	s->bin_ns = (uint64_t)cfg->period_s / cfg->bins * NS;
	return s;
}

static void series_free(struct sd_series *x)
{
	free(x->hist);
	free(x->nh);
	free(x->pos);
}

void tw_shutdown_free(struct tw_shutdown *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nser; i++)
		series_free(&s->ser[i]);
	free(s->ser);
	free(s->reg);
	free(s);
}

/* ---- output -------------------------------------------------------------- */

static void emit(struct tw_shutdown *s, struct tw_jb *b)
{
	long n = tw_jb_end(b);
	if (n < 0)
		return;
	if (s->c.emit)
		s->c.emit(s->c.emit_arg, b->buf, (size_t)n);
	else if (s->pl)
		tw_pipeline_line(s->pl, b->buf, (size_t)n);
}

static uint64_t fnv(const char *a, uint64_t h)
{
	for (; *a; a++) {
		h ^= (uint8_t)*a;
		h *= 0x100000001b3ull;
	}
	return h;
}

static void make_id(char *out, const char *kind, const char *key, uint64_t start)
{
	char t[32];
	snprintf(t, sizeof t, "%llu", (unsigned long long)start);
	uint64_t h = fnv(t, fnv("|", fnv(key, fnv(kind, 0xcbf29ce484222325ull))));
	snprintf(out, 24, "sd-%016llx", (unsigned long long)h);
}

static int severity(double depth, double minutes, int breadth)
{
	/* IODA-style area: depth x duration, times breadth */
	double score = depth * minutes * (breadth > 0 ? breadth : 1);
	return score >= 60 ? 1 : score >= 10 ? 2 : 3;
}

/* The parts every shutdown alert shares (DESIGN alert schema): header,
 * alert{}, censorship{} ... and, after the caller's scope/stats, the
 * shutdown{} summary and the first/last seen times. */
static void alert_head(struct tw_jb *b, uint64_t now, const char *id, const char *state, uint64_t sig_id,
		       const char *sig, int sev, double depth)
{
	tw_jb_obj_open(b, NULL);
	tw_jb_time(b, "timestamp", now);
	tw_jb_str(b, "event_type", "alert");
	tw_jb_obj_open(b, "alert");
	tw_jb_str(b, "id", id);
	tw_jb_str(b, "state", state);
	tw_jb_u64(b, "signature_id", sig_id);
	tw_jb_str(b, "signature", sig);
	tw_jb_str(b, "category", "shutdown");
	tw_jb_u64(b, "severity", (uint64_t)sev);
	tw_jb_obj_close(b);
	tw_jb_obj_open(b, "censorship");
	tw_jb_str(b, "method", "shutdown");
	tw_jb_dbl(b, "confidence", depth < 0.5 ? 0.5 : depth > 0.99 ? 0.99 : depth, 2);
	tw_jb_str(b, "legitimacy", "undeclared");
	tw_jb_u64(b, "sampling", 1);
	tw_jb_obj_close(b);
}

static void alert_tail(struct tw_jb *b, const char *level, uint64_t start, uint64_t end, double depth,
		       uint64_t last)
{
	tw_jb_obj_open(b, "shutdown");
	tw_jb_str(b, "level", level);
	tw_jb_time(b, "start", start);
	if (end)
		tw_jb_time(b, "end", end);
	else
		tw_jb_null(b, "end");
	tw_jb_dbl(b, "depth", depth, 3);
	tw_jb_obj_close(b);
	tw_jb_time(b, "first_seen", start);
	tw_jb_time(b, "last_seen", last);
	tw_jb_obj_close(b);
}

static void emit_series_alert(struct tw_shutdown *s, struct sd_series *x, uint64_t now, const char *state,
			      uint64_t end)
{
	char buf[4096], sig[160];
	struct tw_jb b;
	tw_jb_init(&b, buf, sizeof buf);
	snprintf(sig, sizeof sig, "%sshutdown of %s%s%s", x->a_partial ? "partial " : "", x->key,
		 x->region[0] ? " in " : "", x->region);
	double depth = 1 - x->a_min_ratio;
	if (depth < 0)
		depth = 0;
	alert_head(&b, now, x->id, state, x->a_partial ? 2702 : 2701, sig, x->a_sev, depth);
	tw_jb_obj_open(&b, "scope");
	tw_jb_arr_open(&b, "prefixes");
	tw_jb_str(&b, NULL, x->key);
	tw_jb_arr_close(&b);
	if (x->region[0]) tw_jb_str(&b, "region", x->region);
	else tw_jb_null(&b, "region");
	tw_jb_obj_close(&b);
	tw_jb_obj_open(&b, "stats");
	tw_jb_str(&b, "metric", metric_names[s->c.metric]);
	tw_jb_dbl(&b, "current", x->a_val, 1);
	tw_jb_dbl(&b, "baseline", x->a_base, 1);
	tw_jb_dbl(&b, "ratio", x->a_ratio, 3);
	tw_jb_dbl(&b, "depth", depth, 3);
	tw_jb_dbl(&b, "alert_area", x->a_area, 1);
	tw_jb_u64(&b, "duration_s", ((end ? end : now) - x->a_start) / NS);
	tw_jb_bool(&b, "partial", x->a_partial);
	tw_jb_arr_open(&b, "passing");
	for (int k = 0; k < TW_SD_NCLASS; k++)
		if (x->a_passing & (1u << k))
			tw_jb_str(&b, NULL, class_names[k]);
	tw_jb_arr_close(&b);
	tw_jb_obj_close(&b);
	alert_tail(&b, x->a_partial ? "partial" : "full", x->a_start, end, depth, x->a_last);
	emit(s, &b);
}

static void emit_region_alert(struct tw_shutdown *s, struct sd_region *r, uint64_t now, const char *state,
			      uint64_t end)
{
	char buf[16384], sig[160];
	struct tw_jb b;
	tw_jb_init(&b, buf, sizeof buf);
	snprintf(sig, sizeof sig, "regional shutdown of %s", r->name);
	alert_head(&b, now, r->id, state, 2703, sig, r->sev, r->depth);
	tw_jb_obj_open(&b, "scope");
	tw_jb_arr_open(&b, "prefixes");
	for (size_t i = 0; i < s->nser; i++)
		if (s->ser[i].alerting && !strcmp(s->ser[i].region, r->name))
			tw_jb_str(&b, NULL, s->ser[i].key);
	tw_jb_arr_close(&b);
	tw_jb_str(&b, "region", r->name);
	tw_jb_obj_close(&b);
	tw_jb_obj_open(&b, "stats");
	tw_jb_u64(&b, "prefixes_down", (uint64_t)r->n);
	tw_jb_dbl(&b, "depth", r->depth, 3);
	tw_jb_u64(&b, "duration_s", ((end ? end : now) - r->start) / NS);
	tw_jb_obj_close(&b);
	alert_tail(&b, "region", r->start, end, r->depth, r->last);
	emit(s, &b);
}

/* ---- series store and baselines --------------------------------------- */

static struct sd_series *find_series(struct tw_shutdown *s, const char *key)
{
	for (size_t i = 0; i < s->nser; i++)
		if (!strcmp(s->ser[i].key, key))
			return &s->ser[i];
	return NULL;
}

static struct sd_series *add_series(struct tw_shutdown *s, const char *key, const char *region)
{
	if (s->nser >= s->c.max_series) {
		s->st.dropped_series++;
		return NULL;
	}
	if (s->nser == s->capser) {
		size_t nc = s->capser ? s->capser * 2 : 16;
		struct sd_series *n = realloc(s->ser, nc * sizeof *n);
		if (!n)
			return NULL;
		s->ser = n;
		s->capser = nc;
	}
	struct sd_series *x = &s->ser[s->nser];
	memset(x, 0, sizeof *x);
	x->hist = calloc((size_t)s->c.bins * s->c.history * NM, sizeof(float));
	x->nh = calloc(s->c.bins, 1);
	x->pos = calloc(s->c.bins, 1);
	if (!x->hist || !x->nh || !x->pos) {
		series_free(x);
		return NULL;
	}
	snprintf(x->key, sizeof x->key, "%s", key);
	if (region)
		snprintf(x->region, sizeof x->region, "%s", region);
	x->acc_bin = UINT64_MAX;
	s->nser++;
	s->st.series = s->nser;
	return x;
}

static void commit_bin(struct tw_shutdown *s, struct sd_series *x)
{
	if (x->acc_bin == UINT64_MAX || !x->acc_n)
		return;
	uint64_t expect = s->bin_ns / ((uint64_t)s->c.interval_s * NS);
	if (x->acc_excluded || (uint64_t)x->acc_n * 2 < expect) {
		s->st.excluded++;
		return;
	}
	uint32_t bin = (uint32_t)(x->acc_bin % s->c.bins);
	float *h = x->hist + ((size_t)bin * s->c.history + x->pos[bin]) * NM;
	for (int m = 0; m < NM; m++)
		h[m] = (float)(x->acc[m] / x->acc_n);
	x->pos[bin] = (uint8_t)((x->pos[bin] + 1) % s->c.history);
	if (x->nh[bin] < s->c.history)
		x->nh[bin]++;
	s->st.learned++;
}

static int cmpf(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return x < y ? -1 : x > y;
}

static double bin_median(const struct tw_shutdown *s, const struct sd_series *x, uint32_t bin, int m)
{
	float v[MAXHIST];
	int n = x->nh[bin];
	if (!n)
		return -1;
	for (int i = 0; i < n; i++)
		v[i] = x->hist[((size_t)bin * s->c.history + i) * NM + m];
	qsort(v, (size_t)n, sizeof v[0], cmpf);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static double baseline_at(const struct tw_shutdown *s, const struct sd_series *x, uint64_t t, int m)
{
	return bin_median(s, x, (uint32_t)((t / s->bin_ns) % s->c.bins), m);
}

double tw_shutdown_baseline(const struct tw_shutdown *s, const char *key, uint64_t t)
{
	for (size_t i = 0; i < s->nser; i++)
		if (!strcmp(s->ser[i].key, key))
			return baseline_at(s, &s->ser[i], t, (int)s->c.metric);
	return -1;
}

/* Does the interval a sample at t covers, (t - interval, t], touch a gap?
 * The first sample after a gap or a link outage holds part of it. */
static int in_gap(const struct tw_shutdown *s, uint64_t t)
{
	uint64_t iv = (uint64_t)s->c.interval_s * NS;
	for (unsigned i = 0; i < s->ngaps; i++)
		if (t >= s->gaps[i].from && t < s->gaps[i].to + iv)
			return 1;
	return 0;
}

/* ---- detection ----------------------------------------------------------- */

static void sample_vals(const struct tw_series_sample *x, double *v)
{
	v[0] = (double)x->packets;
	v[1] = (double)x->bytes;
	v[2] = (double)x->new_flows;
	v[3] = (double)x->active_clients;
	for (int k = 0; k < TW_SD_NCLASS; k++)
		v[M_CLASS0 + k] = x->has_classes ? (double)x->class_packets[k] : 0;
}

static void process(struct tw_shutdown *s, struct sd_series *x, uint64_t now, const double *v, int has_classes)
{
	const struct tw_shutdown_cfg *c = &s->c;
	int excluded = s->link_down || in_gap(s, now);
	if (!x->first_ns)
		x->first_ns = now;
	x->last_ns = now;
	if (has_classes)
		x->has_classes = 1;

	/* evaluate first, learn after: a sample that is down is not learned */
	int m = (int)c->metric;
	double base = baseline_at(s, x, now, m);
	double cbase = baseline_at(s, x, now, M_CLIENTS);
	int warm = now - x->first_ns >= (uint64_t)c->warmup_s * NS;
	int evaluable = !excluded && warm && base > 0 && cbase >= c->min_clients;
	double ratio = evaluable ? v[m] / base : 1;
	int down = evaluable && ratio < c->drop_frac;

	if (evaluable) {
		unsigned passing = 0;
		if (down && x->has_classes) {
			if (!x->alerting && !x->down_since) {   /* a new episode */
				x->d_base = 0;
				memset(x->d_cls_base, 0, sizeof x->d_cls_base);
				memset(x->d_cls, 0, sizeof x->d_cls);
			}
			x->d_base += base;
			for (int k = 0; k < TW_SD_NCLASS; k++) {
				double cb = baseline_at(s, x, now, M_CLASS0 + k);
				x->d_cls_base[k] += cb > 0 ? cb : 0;
				x->d_cls[k] += v[M_CLASS0 + k];
				/* a class counts if it is a visible share of the baseline
				 * and still carries recover_frac of its own baseline */
				if (x->d_cls_base[k] > 0 && x->d_cls_base[k] >= 0.02 * x->d_base &&
				    x->d_cls[k] >= c->recover_frac * x->d_cls_base[k])
					passing |= 1u << k;
			}
		}
		if (!x->alerting) {
			if (down) {
				if (!x->down_since)
					x->down_since = now;
				if (now - x->down_since >= (uint64_t)c->min_duration_s * NS) {
					x->alerting = 1;
					x->a_start = x->down_since;
					x->a_last = now;
					x->a_min_ratio = ratio;
					x->a_area = (1 - ratio) * 100 * ((now - x->down_since) / 60e9);
					x->a_base = base;
					x->a_ratio = ratio;
					x->a_val = v[m];
					x->a_partial = passing != 0;
					x->a_passing = passing;
					x->up_since = 0;
					x->a_sev = severity(1 - ratio, (now - x->a_start) / 60e9, 1);
					make_id(x->id, "shutdown", x->key, x->a_start);
					s->st.alerts_raised++;
					emit_series_alert(s, x, now, "raised", 0);
				}
			} else {
				x->down_since = 0;
			}
		} else {
			double r1 = ratio > 1 ? 1 : ratio;
			x->a_area += (1 - r1) * 100 * (c->interval_s / 60.0);
			x->a_ratio = ratio;
			x->a_val = v[m];
			x->a_base = base;
			if (ratio >= c->recover_frac) {
				if (!x->up_since)
					x->up_since = now;
				if (now - x->up_since >= (uint64_t)c->recover_s * NS) {
					s->st.alerts_resolved++;
					emit_series_alert(s, x, now, "resolved", x->up_since);
					x->alerting = 0;
					x->down_since = x->up_since = 0;
				}
			} else {
				x->up_since = 0;
				x->a_last = now;
				if (ratio < x->a_min_ratio)
					x->a_min_ratio = ratio;
				int part = down && passing != 0;
				int sev = severity(1 - x->a_min_ratio, (now - x->a_start) / 60e9, 1);
				if (down && (part != x->a_partial || passing != x->a_passing || sev != x->a_sev)) {
					x->a_partial = part;
					x->a_passing = passing;
					x->a_sev = sev;
					emit_series_alert(s, x, now, "updated", 0);
				}
			}
		}
	} else if (!x->alerting && !excluded) {
		x->down_since = 0;
	}

	/* learning: a bin with any excluded or down sample is not learned */
	uint64_t ab = now / s->bin_ns;
	if (ab != x->acc_bin) {
		commit_bin(s, x);
		x->acc_bin = ab;
		memset(x->acc, 0, sizeof x->acc);
		x->acc_n = 0;
		x->acc_excluded = 0;
	}
	if (excluded || down || x->alerting || x->down_since)
		x->acc_excluded = 1;
	for (int i = 0; i < NM; i++)
		x->acc[i] += v[i];
	x->acc_n++;
}

void tw_shutdown_sample(struct tw_shutdown *s, uint64_t now, const char *key, const char *region,
			const struct tw_series_sample *smp)
{
	if (!s || !key || !smp)
		return;
	if (s->loaded_saved_ns) {
		uint64_t saved = s->loaded_saved_ns;
		s->loaded_saved_ns = 0;
		if (now > saved + 2ull * s->c.interval_s * NS)
			tw_shutdown_gap(s, saved, now, "restart");
	}
	struct sd_series *x = find_series(s, key);
	if (!x && !(x = add_series(s, key, region)))
		return;
	if (region && strcmp(x->region, region))
		snprintf(x->region, sizeof x->region, "%s", region);
	double v[NM];
	sample_vals(smp, v);
	s->st.samples++;
	process(s, x, now, v, smp->has_classes);
}

static struct sd_region *get_region(struct tw_shutdown *s, const char *name)
{
	for (size_t i = 0; i < s->nreg; i++)
		if (!strcmp(s->reg[i].name, name))
			return &s->reg[i];
	if (s->nreg == s->capreg) {
		size_t nc = s->capreg ? s->capreg * 2 : 8;
		struct sd_region *n = realloc(s->reg, nc * sizeof *n);
		if (!n)
			return NULL;
		s->reg = n;
		s->capreg = nc;
	}
	struct sd_region *r = &s->reg[s->nreg++];
	memset(r, 0, sizeof *r);
	snprintf(r->name, sizeof r->name, "%s", name);
	return r;
}

static void regions_eval(struct tw_shutdown *s, uint64_t now)
{
	for (size_t i = 0; i < s->nser; i++)
		if (s->ser[i].region[0])
			get_region(s, s->ser[i].region);
	for (size_t j = 0; j < s->nreg; j++) {
		struct sd_region *r = &s->reg[j];
		int n = 0;
		uint64_t start = UINT64_MAX;
		double depth = 0;
		for (size_t i = 0; i < s->nser; i++) {
			struct sd_series *x = &s->ser[i];
			if (!x->alerting || strcmp(x->region, r->name))
				continue;
			n++;
			if (x->a_start < start)
				start = x->a_start;
			depth += 1 - x->a_min_ratio;
		}
		if (n)
			depth /= n;
		if (!r->alerting && n >= (int)s->c.region_min) {
			r->alerting = 1;
			r->n = n;
			r->start = start;
			r->last = now;
			r->depth = depth;
			r->sev = severity(depth, (now - start) / 60e9, n);
			make_id(r->id, "region", r->name, start);
			s->st.region_alerts++;
			emit_region_alert(s, r, now, "raised", 0);
		} else if (r->alerting && n < (int)s->c.region_min) {
			emit_region_alert(s, r, now, "resolved", now);
			r->alerting = 0;
		} else if (r->alerting) {
			r->last = now;
			int sev = severity(depth, (now - r->start) / 60e9, n);
			if (n != r->n || sev != r->sev) {
				r->n = n;
				r->sev = sev;
				r->depth = depth;
				emit_region_alert(s, r, now, "updated", 0);
			}
		}
	}
}

void tw_shutdown_tick(struct tw_shutdown *s, uint64_t now, int final)
{
	if (!s)
		return;
	uint64_t iv = (uint64_t)s->c.interval_s * NS;
	/* a series that stops reporting is a series with no traffic */
	if (!s->link_down && !in_gap(s, now)) {
		for (size_t i = 0; i < s->nser; i++) {
			struct sd_series *x = &s->ser[i];
			if (x->last_ns && now >= x->last_ns + 2 * iv) {
				double v[NM] = {0};
				process(s, x, now, v, 0);
			}
		}
	}
	regions_eval(s, now);
	(void)final;
}

void tw_shutdown_link(struct tw_shutdown *s, uint64_t now, int up)
{
	tw_shutdown_link_iface(s, now, NULL, up, up);
}

void tw_shutdown_link_iface(struct tw_shutdown *s, uint64_t now, const char *iface, int link_up, int all_up)
{
	if (!s)
		return;
	int up = all_up, change = (!up) != s->link_down;
	if (!change && !iface)
		return;
	char buf[512];
	struct tw_jb b;
	tw_jb_init(&b, buf, sizeof buf);
	tw_jb_obj_open(&b, NULL);
	tw_jb_time(&b, "timestamp", now);
	tw_jb_str(&b, "event_type", "link");
	tw_jb_obj_open(&b, "link");
	if (iface)
		tw_jb_str(&b, "interface", iface);
	tw_jb_str(&b, "state", link_up ? "up" : "down");
	/* detection stops while any monitored link is down */
	tw_jb_str(&b, "detection", up ? "on" : "suspended");
	tw_jb_str(&b, "note", "monitored link: not a shutdown; window excluded from baselines");
	if (up && change) {
		tw_jb_time(&b, "down_since", s->link_down_since);
		tw_jb_u64(&b, "down_s", (now - s->link_down_since) / NS);
	}
	tw_jb_obj_close(&b);
	tw_jb_obj_close(&b);
	emit(s, &b);
	if (!change)
		return;
	if (!up) {
		s->link_down = 1;
		s->link_down_since = now;
		s->st.link_down++;
	} else {
		s->link_down = 0;
		unsigned k = s->gap_next;
		s->gaps[k].from = s->link_down_since;
		s->gaps[k].to = now;
		s->gap_next = (k + 1) % MAXGAPS;
		if (s->ngaps < MAXGAPS)
			s->ngaps++;
	}
	for (size_t i = 0; i < s->nser; i++) {
		s->ser[i].acc_excluded = 1;
		if (!s->ser[i].alerting)
			s->ser[i].down_since = 0;
	}
}

void tw_shutdown_gap(struct tw_shutdown *s, uint64_t from, uint64_t to, const char *why)
{
	if (!s || to < from)
		return;
	unsigned k = s->gap_next;
	s->gaps[k].from = from;
	s->gaps[k].to = to;
	s->gap_next = (k + 1) % MAXGAPS;
	if (s->ngaps < MAXGAPS)
		s->ngaps++;
	s->st.gaps++;
	char buf[512];
	struct tw_jb b;
	tw_jb_init(&b, buf, sizeof buf);
	tw_jb_obj_open(&b, NULL);
	tw_jb_time(&b, "timestamp", to);
	tw_jb_str(&b, "event_type", "gap");
	tw_jb_obj_open(&b, "gap");
	tw_jb_str(&b, "why", why ? why : "capture_gap");
	tw_jb_time(&b, "from", from);
	tw_jb_time(&b, "to", to);
	tw_jb_u64(&b, "seconds", (to - from) / NS);
	tw_jb_str(&b, "note", "our own gap: not a shutdown; window excluded from baselines");
	tw_jb_obj_close(&b);
	tw_jb_obj_close(&b);
	emit(s, &b);
	for (size_t i = 0; i < s->nser; i++) {
		struct sd_series *x = &s->ser[i];
		uint64_t b0 = x->acc_bin == UINT64_MAX ? 0 : x->acc_bin * s->bin_ns;
		if (x->acc_bin != UINT64_MAX && b0 <= to && b0 + s->bin_ns >= from)
			x->acc_excluded = 1;
		if (!x->alerting && x->down_since && x->down_since <= to)
			x->down_since = 0;
	}
}

void tw_shutdown_get_stats(const struct tw_shutdown *s, struct tw_shutdown_stats *st)
{
	*st = s->st;
}

/* ---- persistence ----------------------------------------------------------- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int oom;
};

static void wput(struct wbuf *w, const void *d, size_t n)
{
	if (w->oom)
		return;
	if (w->len + n > w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 65536;
		while (nc < w->len + n)
			nc *= 2;
		uint8_t *np = realloc(w->p, nc);
		if (!np) {
			w->oom = 1;
			return;
		}
		w->p = np;
		w->cap = nc;
	}
	memcpy(w->p + w->len, d, n);
	w->len += n;
}

static void wu32(struct wbuf *w, uint32_t v) { wput(w, &v, 4); }
static void wu64(struct wbuf *w, uint64_t v) { wput(w, &v, 8); }

int tw_shutdown_save(const struct tw_shutdown *s, const char *path, char *err, size_t errlen)
{
	struct wbuf w = {0};
	uint64_t saved = 0;
	for (size_t i = 0; i < s->nser; i++)
		if (s->ser[i].last_ns > saved)
			saved = s->ser[i].last_ns;
	wu32(&w, s->c.bins);
	wu32(&w, s->c.history);
	wu32(&w, s->c.period_s);
	wu32(&w, NM);
	wu64(&w, saved);
	wu32(&w, (uint32_t)s->nser);
	size_t hn = (size_t)s->c.bins * s->c.history * NM;
	for (size_t i = 0; i < s->nser; i++) {
		const struct sd_series *x = &s->ser[i];
		wput(&w, x->key, sizeof x->key);
		wput(&w, x->region, sizeof x->region);
		wu64(&w, x->first_ns);
		wput(&w, x->nh, s->c.bins);
		wput(&w, x->pos, s->c.bins);
		wput(&w, x->hist, hn * sizeof(float));
	}
	if (w.oom) {
		free(w.p);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	uLongf clen = compressBound(w.len);
	uint8_t *cz = malloc(clen + 28);
	if (!cz) {
		free(w.p);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	uint32_t crc = (uint32_t)crc32(0, w.p, (uInt)w.len);
	if (compress2(cz + 28, &clen, w.p, w.len, 6) != Z_OK) {
		free(w.p);
		free(cz);
		snprintf(err, errlen, "%s: compression failed", path);
		return -1;
	}
	memcpy(cz, SD_MAGIC, 4);
	uint32_t ver = SD_VERSION;
	uint64_t rl = w.len, cl = clen;
	memcpy(cz + 4, &ver, 4);
	memcpy(cz + 8, &rl, 8);
	memcpy(cz + 16, &cl, 8);
	memcpy(cz + 24, &crc, 4);
	free(w.p);

	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		free(cz);
		return -1;
	}
	size_t tot = clen + 28, off = 0;
	while (off < tot) {
		ssize_t n = write(fd, cz + off, tot - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s: write: %s", tmp, strerror(errno));
			close(fd);
			unlink(tmp);
			free(cz);
			return -1;
		}
		off += (size_t)n;
	}
	free(cz);
	if (fsync(fd) || close(fd)) {
		snprintf(err, errlen, "%s: fsync: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path)) {
		snprintf(err, errlen, "%s: rename: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	char dcopy[4096];
	snprintf(dcopy, sizeof dcopy, "%s", path);
	int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

struct rbuf {
	const uint8_t *p;
	size_t len, off;
	int bad;
};

static void rget(struct rbuf *r, void *d, size_t n)
{
	if (r->bad || r->len - r->off < n) {
		r->bad = 1;
		memset(d, 0, n);
		return;
	}
	memcpy(d, r->p + r->off, n);
	r->off += n;
}

static int set_aside(const char *path, const char *why, char *err, size_t errlen)
{
	char dst[4096];
	snprintf(dst, sizeof dst, "%s.corrupt", path);
	int rc = rename(path, dst);
	snprintf(err, errlen, "%s: %s; %s, starting with fresh baselines", path, why,
		 rc ? "could not set it aside" : "set aside as .corrupt");
	return -1;
}

int tw_shutdown_load(struct tw_shutdown *s, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	uint8_t hdr[28];
	if (fread(hdr, 1, 28, f) != 28 || memcmp(hdr, SD_MAGIC, 4)) {
		fclose(f);
		return set_aside(path, "not a tamperwatch shutdown state file", err, errlen);
	}
	uint32_t ver, crc;
	uint64_t rl, cl;
	memcpy(&ver, hdr + 4, 4);
	memcpy(&rl, hdr + 8, 8);
	memcpy(&cl, hdr + 16, 8);
	memcpy(&crc, hdr + 24, 4);
	if (ver != SD_VERSION) {
		fclose(f);
		return set_aside(path, "unsupported state version", err, errlen);
	}
	if (rl > (1ull << 34) || cl > (1ull << 34)) {
		fclose(f);
		return set_aside(path, "implausible sizes in header", err, errlen);
	}
	uint8_t *cz = malloc(cl ? cl : 1), *raw = malloc(rl ? rl : 1);
	if (!cz || !raw) {
		fclose(f);
		free(cz);
		free(raw);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	size_t got = fread(cz, 1, cl, f);
	fclose(f);
	uLongf dl = rl;
	if (got != cl || uncompress(raw, &dl, cz, cl) != Z_OK || dl != rl ||
	    (uint32_t)crc32(0, raw, (uInt)rl) != crc) {
		free(cz);
		free(raw);
		return set_aside(path, "truncated or corrupt (zlib/CRC)", err, errlen);
	}
	free(cz);
	struct rbuf r = {raw, rl, 0, 0};
	uint32_t bins, hist, period, nm, nser;
	uint64_t saved;
	rget(&r, &bins, 4);
	rget(&r, &hist, 4);
	rget(&r, &period, 4);
	rget(&r, &nm, 4);
	rget(&r, &saved, 8);
	rget(&r, &nser, 4);
	if (r.bad || bins != s->c.bins || hist != s->c.history || period != s->c.period_s || nm != NM) {
		free(raw);
		if (r.bad)
			return set_aside(path, "truncated", err, errlen);
		char dst[4096];
		snprintf(dst, sizeof dst, "%s.old", path);
		rename(path, dst);
		snprintf(err, errlen, "%s: baseline layout changed (bins/history/period); kept as .old, "
			 "starting with fresh baselines", path);
		return -1;
	}
	size_t hn = (size_t)bins * hist * NM;
	for (uint32_t i = 0; i < nser && !r.bad; i++) {
		char key[64], region[48];
		rget(&r, key, sizeof key);
		rget(&r, region, sizeof region);
		key[63] = region[47] = 0;
		struct sd_series *x = find_series(s, key);
		if (!x && !(x = add_series(s, key, region[0] ? region : NULL)))
			break;
		rget(&r, &x->first_ns, 8);
		rget(&r, x->nh, bins);
		rget(&r, x->pos, bins);
		rget(&r, x->hist, hn * sizeof(float));
		for (uint32_t b = 0; b < bins; b++)
			if (x->nh[b] > hist || x->pos[b] >= hist)
				r.bad = 1;
	}
	free(raw);
	if (r.bad) {
		for (size_t i = 0; i < s->nser; i++)
			series_free(&s->ser[i]);
		s->nser = 0;
		s->st.series = 0;
		return set_aside(path, "inconsistent content", err, errlen);
	}
	s->loaded_saved_ns = saved;
	return 0;
}
