/* Shutdown detector core: see shutdown.h and README "Shutdown detection". */
#include "alerts/shutdown.h"
#include "util/jsonbuf.h"
#include "util/state.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NM (4 + TW_SD_NCLASS) /* packets bytes flows clients class0..3 */
#define M_CLIENTS 3
#define M_CLASS0 4
#define MAXHIST 16
#define MAXGAPS 64
#define NS 1000000000ull

static const char *metric_names[] = { "packets", "bytes", "new_flows", "active_clients" };
static const char *class_names[TW_SD_NCLASS] = { "web", "dns", "tcp_other", "other" };

struct sd_series {
	char key[64];
	char region[48];
	uint64_t first_ns, last_ns;
	uint64_t acc_bin; /* absolute bin index of the accumulator */
	double acc[NM];
	uint32_t acc_n;
	int acc_excluded;
	float *hist;       /* [bins][history][NM] */
	uint8_t *nh, *pos; /* per bin: entries, next ring slot */
	int has_classes;
	/* detection */
	uint64_t down_since, up_since;
	int alerting;
	char id[24];
	uint64_t a_start, a_last;
	double a_min_ratio, a_area, a_base, a_ratio, a_val;
	int a_partial, a_sev;
	unsigned a_passing; /* bitmask of classes still passing */
	/* sums over the down samples of this episode: which classes pass is
	 * judged on them, not on one noisy interval (a small class flickers) */
	double d_base, d_cls_base[TW_SD_NCLASS], d_cls[TW_SD_NCLASS];
	/* was down during its region's open alert: the resolved region alert
	 * names the prefixes it was about, not the (few) still down */
	int in_region_alert;
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
	uint64_t bin_ns;
	struct sd_series *ser;
	size_t nser, capser;
	struct sd_region *reg;
	size_t nreg, capreg;
	struct {
		uint64_t from, to;
	} gaps[MAXGAPS];
	unsigned ngaps, gap_next;
	int link_down;
	uint64_t link_down_since;
	uint64_t loaded_saved_ns; /* restart gap to report on the first sample or tick */
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
	if (!c->interval_s)
		e = "interval_s must be > 0";
	else if (!c->bins || c->bins > 100000)
		e = "bins must be 1..100000";
	else if (!c->period_s || c->period_s % c->bins)
		e = "period_s must be a positive multiple of bins";
	else if (c->period_s / c->bins < c->interval_s)
		e = "a bin (period_s/bins) must hold at least one interval";
	else if (!c->history || c->history > MAXHIST)
		e = "history must be 1..16";
	else if (!(c->drop_frac > 0 && c->drop_frac < 1))
		e = "drop_frac must be in (0,1)";
	else if (!(c->recover_frac >= c->drop_frac && c->recover_frac <= 1))
		e = "recover_frac must be in [drop_frac,1]";
	else if (c->min_clients < 0)
		e = "min_clients must be >= 0";
	else if (c->region_min < 1)
		e = "region_min must be >= 1";
	else if ((unsigned)c->metric > TW_SD_CLIENTS)
		e = "unknown metric";
	else if (!c->max_series)
		e = "max_series must be > 0";
	if (e && err && errlen)
		snprintf(err, errlen, "shutdown: %s", e);
	return e ? -1 : 0;
}

struct tw_shutdown *tw_shutdown_new(const struct tw_shutdown_cfg *cfg)
{
	if (tw_shutdown_cfg_check(cfg, NULL, 0))
		return NULL;
	struct tw_shutdown *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->c = *cfg;
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

/* "related": the throttling alert of the same region (or prefix) that the
 * shutdown deepens, while it is open or recent (tw_shutdown_cfg.related) */
static void put_related(const struct tw_shutdown *s, struct tw_jb *b, const char *key, const char *region, uint64_t now)
{
	const char *id = s->c.related ? s->c.related(s->c.related_arg, key, region, now) : NULL;
	if (!id)
		return;
	tw_jb_arr_open(b, "related");
	tw_jb_obj_open(b, NULL);
	tw_jb_str(b, "id", id);
	tw_jb_str(b, "category", "throttling");
	tw_jb_obj_close(b);
	tw_jb_arr_close(b);
}

static void alert_tail(struct tw_jb *b, const char *level, uint64_t start, uint64_t end, double depth, uint64_t last)
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

static void emit_series_alert(struct tw_shutdown *s, struct sd_series *x, uint64_t now, const char *state, uint64_t end)
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
	if (x->region[0])
		tw_jb_str(&b, "region", x->region);
	else
		tw_jb_null(&b, "region");
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
	put_related(s, &b, x->key, x->region, now);
	alert_tail(&b, x->a_partial ? "partial" : "full", x->a_start, end, depth, x->a_last);
	emit(s, &b);
}

static void emit_region_alert(struct tw_shutdown *s, struct sd_region *r, uint64_t now, const char *state, uint64_t end)
{
	char buf[16384], sig[160];
	struct tw_jb b;
	tw_jb_init(&b, buf, sizeof buf);
	snprintf(sig, sizeof sig, "regional shutdown of %s", r->name);
	alert_head(&b, now, r->id, state, 2703, sig, r->sev, r->depth);
	tw_jb_obj_open(&b, "scope");
	tw_jb_arr_open(&b, "prefixes");
	for (size_t i = 0; i < s->nser; i++)
		if ((s->ser[i].alerting || (end && s->ser[i].in_region_alert)) && !strcmp(s->ser[i].region, r->name))
			tw_jb_str(&b, NULL, s->ser[i].key);
	tw_jb_arr_close(&b);
	tw_jb_str(&b, "region", r->name);
	tw_jb_obj_close(&b);
	tw_jb_obj_open(&b, "stats");
	tw_jb_u64(&b, "prefixes_down", (uint64_t)r->n);
	tw_jb_dbl(&b, "depth", r->depth, 3);
	tw_jb_u64(&b, "duration_s", ((end ? end : now) - r->start) / NS);
	tw_jb_obj_close(&b);
	put_related(s, &b, r->name, r->name, now);
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
			if (!x->alerting && !x->down_since) { /* a new episode */
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
					s->st.state_changes++;
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
					s->st.state_changes++;
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
	if (c->observe) {
		struct tw_sd_point pt = { now,  x->key,      x->region, v[m],
			                  base, x->alerting, excluded,  x->alerting ? x->a_start : 0 };
		c->observe(c->observe_arg, &pt);
	}
	for (int i = 0; i < NM; i++)
		x->acc[i] += v[i];
	x->acc_n++;
}

/* The time the daemon was down is ours, reported at the first sample or
 * tick after a load (before a restored series' silence is judged). */
static void restart_gap(struct tw_shutdown *s, uint64_t now)
{
	if (s->loaded_saved_ns) {
		uint64_t saved = s->loaded_saved_ns;
		s->loaded_saved_ns = 0;
		if (now > saved + 2ull * s->c.interval_s * NS)
			tw_shutdown_gap(s, saved, now, "restart");
	}
}

void tw_shutdown_sample(struct tw_shutdown *s, uint64_t now, const char *key, const char *region,
                        const struct tw_series_sample *smp)
{
	if (!s || !key || !smp)
		return;
	restart_gap(s, now);
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
			if (r->alerting)
				x->in_region_alert = 1;
			n++;
			if (x->a_start < start)
				start = x->a_start;
			depth += 1 - x->a_min_ratio;
		}
		if (n)
			depth /= n;
		if (!r->alerting && n >= (int)s->c.region_min) {
			for (size_t i = 0; i < s->nser; i++)
				if (s->ser[i].alerting && !strcmp(s->ser[i].region, r->name))
					s->ser[i].in_region_alert = 1;
			r->alerting = 1;
			r->n = n;
			r->start = start;
			r->last = now;
			r->depth = depth;
			r->sev = severity(depth, (now - start) / 60e9, n);
			make_id(r->id, "region", r->name, start);
			s->st.region_alerts++;
			s->st.state_changes++;
			emit_region_alert(s, r, now, "raised", 0);
		} else if (r->alerting && n < (int)s->c.region_min) {
			emit_region_alert(s, r, now, "resolved", now);
			for (size_t i = 0; i < s->nser; i++)
				if (!strcmp(s->ser[i].region, r->name))
					s->ser[i].in_region_alert = 0;
			r->alerting = 0;
			s->st.state_changes++;
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
	restart_gap(s, now);
	/* a series that stops reporting is a series with no traffic (after a
	 * restart too: last_ns is restored, and a prefix that receives nothing
	 * has no kernel entry to report it) */
	if (!s->link_down && !in_gap(s, now)) {
		for (size_t i = 0; i < s->nser; i++) {
			struct sd_series *x = &s->ser[i];
			if (x->last_ns && now >= x->last_ns + 2 * iv) {
				double v[NM] = { 0 };
				process(s, x, now, v, 0);
			}
		}
	}
	regions_eval(s, now);
	(void) final;
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

/* The body inside state.c's container (README "Shutdown detection", State),
 * in host byte order.  It has its own magic and version, so the container
 * keeps alerts.state's version.  Version 2 added each series' detection
 * state and the open region alerts: a restart carries an open shutdown on
 * under its id instead of raising it again. */
#define BODY_MAGIC "TWSD"
#define BODY_VERSION 2u

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

static void wu32(struct wbuf *w, uint32_t v)
{
	wput(w, &v, 4);
}
static void wu64(struct wbuf *w, uint64_t v)
{
	wput(w, &v, 8);
}
static void wf64(struct wbuf *w, double v)
{
	wput(w, &v, 8);
}

int tw_shutdown_save(const struct tw_shutdown *s, const char *dir, char *err, size_t errlen)
{
	struct wbuf w = { 0 };
	uint64_t saved = 0;
	for (size_t i = 0; i < s->nser; i++)
		if (s->ser[i].last_ns > saved)
			saved = s->ser[i].last_ns;
	wput(&w, BODY_MAGIC, 4);
	wu32(&w, BODY_VERSION);
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
		/* detection: an open alert (or an episode under way) goes on */
		wu32(&w, (x->alerting ? 1u : 0) | (x->has_classes ? 2u : 0));
		wu64(&w, x->last_ns);
		wu64(&w, x->down_since);
		wu64(&w, x->up_since);
		wu64(&w, x->a_start);
		wu64(&w, x->a_last);
		wput(&w, x->id, sizeof x->id);
		wf64(&w, x->a_min_ratio);
		wf64(&w, x->a_area);
		wf64(&w, x->a_base);
		wf64(&w, x->a_ratio);
		wf64(&w, x->a_val);
		wu32(&w, (uint32_t)x->a_partial);
		wu32(&w, (uint32_t)x->a_sev);
		wu32(&w, x->a_passing);
		wf64(&w, x->d_base);
		wput(&w, x->d_cls_base, sizeof x->d_cls_base);
		wput(&w, x->d_cls, sizeof x->d_cls);
	}
	uint32_t nopen = 0;
	for (size_t j = 0; j < s->nreg; j++)
		nopen += s->reg[j].alerting != 0;
	wu32(&w, nopen);
	for (size_t j = 0; j < s->nreg; j++) {
		const struct sd_region *r = &s->reg[j];
		if (!r->alerting)
			continue;
		wput(&w, r->name, sizeof r->name);
		wput(&w, r->id, sizeof r->id);
		wu32(&w, (uint32_t)r->n);
		wu32(&w, (uint32_t)r->sev);
		wu64(&w, r->start);
		wu64(&w, r->last);
		wf64(&w, r->depth);
	}
	int rc = -1;
	if (w.oom)
		snprintf(err, errlen, "%s/%s: out of memory", dir, TW_SHUTDOWN_STATE);
	else
		rc = tw_state_save(dir, TW_SHUTDOWN_STATE, w.p, w.len, err, errlen);
	free(w.p);
	return rc;
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

static void rskip(struct rbuf *r, size_t n)
{
	if (r->bad || r->len - r->off < n)
		r->bad = 1;
	else
		r->off += n;
}

static uint32_t ru32(struct rbuf *r)
{
	uint32_t v;
	rget(r, &v, 4);
	return v;
}
static uint64_t ru64(struct rbuf *r)
{
	uint64_t v;
	rget(r, &v, 8);
	return v;
}
static double rf64(struct rbuf *r)
{
	double v;
	rget(r, &v, 8);
	return v;
}

/* an id make_id could have written */
static int id_ok(const char *id, size_t cap)
{
	return memchr(id, 0, cap) && strlen(id) == 19 && !strncmp(id, "sd-", 3);
}

/* One series' detection fields into y; 0 if they cannot be ours. */
static int read_detection(struct rbuf *r, struct sd_series *y)
{
	uint32_t flags = ru32(r);
	y->alerting = flags & 1;
	y->has_classes = (flags & 2) != 0;
	y->last_ns = ru64(r);
	y->down_since = ru64(r);
	y->up_since = ru64(r);
	y->a_start = ru64(r);
	y->a_last = ru64(r);
	rget(r, y->id, sizeof y->id);
	y->a_min_ratio = rf64(r);
	y->a_area = rf64(r);
	y->a_base = rf64(r);
	y->a_ratio = rf64(r);
	y->a_val = rf64(r);
	uint32_t part = ru32(r), sev = ru32(r);
	y->a_passing = ru32(r);
	y->d_base = rf64(r);
	rget(r, y->d_cls_base, sizeof y->d_cls_base);
	rget(r, y->d_cls, sizeof y->d_cls);
	y->a_partial = part == 1;
	y->a_sev = (int)(sev & 7);
	int ok = flags <= 3 && isfinite(y->a_min_ratio) && isfinite(y->a_area) && isfinite(y->a_base) &&
	         isfinite(y->a_ratio) && isfinite(y->a_val) && isfinite(y->d_base);
	for (int k = 0; k < TW_SD_NCLASS; k++)
		ok = ok && isfinite(y->d_cls_base[k]) && isfinite(y->d_cls[k]);
	if (y->alerting)
		ok = ok && id_ok(y->id, sizeof y->id) && y->a_start && y->a_start <= y->a_last && part <= 1 &&
		     sev >= 1 && sev <= 3 && y->a_passing < (1u << TW_SD_NCLASS);
	y->id[sizeof y->id - 1] = 0;
	return ok;
}

/* An open region alert; 0 if it cannot be ours.  Restored unless memory
 * runs out (then no region alert goes on: the series are still restored). */
static int read_region(struct tw_shutdown *s, struct rbuf *r)
{
	struct sd_region t;
	memset(&t, 0, sizeof t);
	rget(r, t.name, sizeof t.name);
	rget(r, t.id, sizeof t.id);
	uint32_t n = ru32(r), sev = ru32(r);
	t.start = ru64(r);
	t.last = ru64(r);
	t.depth = rf64(r);
	if (r->bad || !memchr(t.name, 0, sizeof t.name) || !t.name[0] || !id_ok(t.id, sizeof t.id) || !n ||
	    n > s->c.max_series || sev < 1 || sev > 3 || !t.start || t.start > t.last || !isfinite(t.depth))
		return 0;
	struct sd_region *g = get_region(s, t.name);
	if (!g)
		return 1;
	if (g->alerting)
		return 0; /* twice in one file */
	t.alerting = 1;
	t.n = (int)n;
	t.sev = (int)sev;
	*g = t;
	return 1;
}

/* A file we wrote but will not use is moved aside as state.c does; one
 * that cannot be moved stops the start (the next save would replace it). */
static int set_aside(const char *path, const char *why, char *err, size_t errlen)
{
	char aside[4300];
	if (tw_state_set_aside(path, aside, sizeof aside) < 0) {
		snprintf(err, errlen, "%s: %s, and it cannot be moved aside: %s", path, why, strerror(errno));
		return TW_STATE_UNREADABLE;
	}
	snprintf(err, errlen, "%s: %s; moved aside to %s, starting with fresh baselines", path, why, aside);
	return TW_STATE_CORRUPT;
}

static void forget(struct tw_shutdown *s)
{
	for (size_t i = 0; i < s->nser; i++)
		series_free(&s->ser[i]);
	s->nser = 0;
	s->st.series = 0;
	s->nreg = 0;
}

int tw_shutdown_load(struct tw_shutdown *s, const char *dir, char *err, size_t errlen)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", dir, TW_SHUTDOWN_STATE);
	/* format 1 (its own "TWSD" container, baselines only) is set aside,
	 * not read: README says why */
	FILE *f = fopen(path, "rb");
	if (f) {
		char m[4];
		size_t n = fread(m, 1, sizeof m, f);
		fclose(f);
		if (n == sizeof m && !memcmp(m, BODY_MAGIC, 4))
			return set_aside(path, "format 1 (written before open alerts were kept)", err, errlen);
	}
	void *data;
	size_t len;
	int rc = tw_state_load(dir, TW_SHUTDOWN_STATE, &data, &len, err, errlen);
	if (rc != TW_STATE_LOADED)
		return rc;
	struct rbuf r = { data, len, 0, 0 };
	char magic[4];
	rget(&r, magic, 4);
	uint32_t ver = ru32(&r);
	if (r.bad || memcmp(magic, BODY_MAGIC, 4) || ver != BODY_VERSION) {
		free(data);
		return set_aside(path, "not a shutdown state body of version 2", err, errlen);
	}
	uint32_t bins = ru32(&r), hist = ru32(&r), period = ru32(&r), nm = ru32(&r);
	uint64_t saved = ru64(&r);
	uint32_t nser = ru32(&r);
	if (r.bad) {
		free(data);
		return set_aside(path, "truncated", err, errlen);
	}
	if (bins != s->c.bins || hist != s->c.history || period != s->c.period_s || nm != NM) {
		free(data);
		char dst[4300];
		snprintf(dst, sizeof dst, "%s.old", path);
		if (rename(path, dst) < 0) {
			snprintf(err, errlen,
			         "%s: baseline layout changed (bins/history/period), and it cannot be "
			         "moved aside: %s",
			         path, strerror(errno));
			return TW_STATE_UNREADABLE;
		}
		snprintf(err, errlen,
		         "%s: baseline layout changed (bins/history/period); kept as .old, "
		         "starting with fresh baselines",
		         path);
		return TW_STATE_CORRUPT;
	}
	size_t hn = (size_t)bins * hist * NM;
	struct sd_series scratch;
	for (uint32_t i = 0; i < nser && !r.bad; i++) {
		char key[64], region[48];
		rget(&r, key, sizeof key);
		rget(&r, region, sizeof region);
		key[63] = region[47] = 0;
		struct sd_series *x = r.bad ? NULL : find_series(s, key);
		if (!r.bad && !x)
			x = add_series(s, key, region[0] ? region : NULL); /* NULL: beyond max_series, skipped */
		uint64_t first = ru64(&r);
		if (x) {
			x->first_ns = first;
			rget(&r, x->nh, bins);
			rget(&r, x->pos, bins);
			rget(&r, x->hist, hn * sizeof(float));
			for (uint32_t b = 0; b < bins; b++)
				if (x->nh[b] > hist || x->pos[b] >= hist)
					r.bad = 1;
		} else {
			rskip(&r, 2 * (size_t)bins + hn * sizeof(float));
		}
		memset(&scratch, 0, sizeof scratch);
		if (!read_detection(&r, x ? x : &scratch))
			r.bad = 1;
	}
	uint32_t nreg = ru32(&r);
	for (uint32_t j = 0; j < nreg && !r.bad; j++)
		if (!read_region(s, &r))
			r.bad = 1;
	if (r.off != r.len)
		r.bad = 1;
	free(data);
	if (r.bad) {
		forget(s);
		return set_aside(path, "inconsistent content", err, errlen);
	}
	s->loaded_saved_ns = saved;
	return TW_STATE_LOADED;
}
