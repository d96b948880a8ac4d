#include "verdicts/throttle_flows.h"
#include "verdicts/verdict.h"
#include "events/pipeline.h"
#include "util/jsonbuf.h"
#include "util/hash.h"
#include <stdlib.h>
#include <string.h>

struct entry {
	uint64_t id; /* flow_id, 0: empty */
	struct tw_thr_series *ser;
};

struct tw_thr_flows {
	struct entry *e;
	size_t mask, count, max;
	struct tw_thr_flows_stats st;
};

struct tw_thr_flows *tw_thr_flows_new(uint32_t max_flows)
{
	struct tw_thr_flows *t = calloc(1, sizeof(*t));
	size_t cap = 16;
	if (!t)
		return NULL;
	while (cap < (size_t)max_flows * 2)
		cap <<= 1;
	t->e = calloc(cap, sizeof(*t->e));
	if (!t->e) {
		free(t);
		return NULL;
	}
	t->mask = cap - 1;
	t->max = max_flows;
	return t;
}

void tw_thr_flows_free(struct tw_thr_flows *t)
{
	if (!t)
		return;
	for (size_t i = 0; i <= t->mask; i++)
		free(t->e[i].ser);
	free(t->e);
	free(t);
}

/* the slot of id, or the empty slot where it would go (never full: at most
 * max entries in twice as many slots) */
static struct entry *find(struct tw_thr_flows *t, uint64_t id)
{
	size_t i = tw_hash64(id) & t->mask;
	while (t->e[i].id && t->e[i].id != id)
		i = (i + 1) & t->mask;
	return &t->e[i];
}

/* remove with backward shift: no tombstones */
static void del(struct tw_thr_flows *t, struct entry *x)
{
	size_t i = (size_t)(x - t->e), j = i;
	free(x->ser);
	x->id = 0;
	x->ser = NULL;
	t->count--;
	for (;;) {
		j = (j + 1) & t->mask;
		if (!t->e[j].id)
			return;
		size_t home = tw_hash64(t->e[j].id) & t->mask;
		/* j's entry may move to i if i lies cyclically in [home, j) */
		if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
			t->e[i] = t->e[j];
			t->e[j].id = 0;
			t->e[j].ser = NULL;
			i = j;
		}
	}
}

void tw_thr_flows_sample(struct tw_thr_flows *t, const struct tw_event *e)
{
	struct entry *x = find(t, e->flow_id);
	struct tw_thr_sample s;
	if (!x->id) {
		if (t->count >= t->max || !(x->ser = calloc(1, sizeof(*x->ser)))) {
			t->st.dropped++;
			return;
		}
		x->id = e->flow_id;
		t->count++;
		t->st.flows++;
	}
	tw_thr_sample_from_flow(&e->flow, e->ts_ns, &s);
	tw_thr_series_add(x->ser, &s);
}

int tw_thr_flows_end(struct tw_thr_flows *t, const struct tw_event *e, const struct tw_thr_cfg *c,
                     struct tw_thr_verdict *v)
{
	struct entry *x = find(t, e->flow_id);
	struct tw_thr_sample s;
	if (!x->id)
		return 0;
	tw_thr_sample_from_flow(&e->flow, e->ts_ns, &s);
	tw_thr_series_add(x->ser, &s);
	tw_thr_classify(x->ser, c, v);
	/* the whole flow's goodput, from its first packet to the sample where
	 * its delivered count reached its final value (a flow's closing
	 * packets can trail its data by seconds): what aggregation compares
	 * (the series starts at the first sweep) */
	const struct tw_flow *f = &e->flow;
	const struct tw_thr_series *ser = x->ser;
	uint64_t t0 = tw_flow_first_ns(f, 0), t1 = f->dir[0].last_ns;
	for (int i = 0; i < 2; i++) {
		uint64_t fi = tw_flow_first_ns(f, i);
		if (fi && (!t0 || fi < t0))
			t0 = fi;
		if (f->dir[i].last_ns > t1)
			t1 = f->dir[i].last_ns;
	}
	int bd = s.d[TW_DIR_S2C].delivered >= s.d[TW_DIR_C2S].delivered ? TW_DIR_S2C : TW_DIR_C2S, k = ser->n - 1;
	while (k > 0 && ser->s[k - 1].d[bd].delivered == ser->s[ser->n - 1].d[bd].delivered)
		k--;
	if (ser->s[k].t_ns > t0 && ser->s[k].t_ns < t1)
		t1 = ser->s[k].t_ns;
	if (t0 && t1 > t0 + 100000000ull) { /* 0.1 s at least */
		v->seconds = (double)(t1 - t0) / 1e9;
		v->goodput_bps = (double)s.d[bd].delivered * 8 / v->seconds;
	}
	/* the curve from the flow's first packet: the bytes seen before
	 * the first snapshot (up to a sweep, or more behind a shaper's queue)
	 * spread from then, not left out of the site's bins (aggregate.c) */
	if (t0 && v->ncurve >= 1 && t0 < v->curve_t[0] && v->curve_b[0] > 0) {
		if (v->ncurve < TW_THR_MAX_SAMPLES) {
			memmove(v->curve_t + 1, v->curve_t, (size_t)v->ncurve * sizeof(v->curve_t[0]));
			memmove(v->curve_b + 1, v->curve_b, (size_t)v->ncurve * sizeof(v->curve_b[0]));
			v->ncurve++;
			v->curve_t[0] = t0;
			v->curve_b[0] = 0;
		} else if (v->ncurve >= 2) {
			v->curve_t[0] = t0; /* full: the first interval starts then */
			v->curve_b[0] = 0;
		}
	}
	del(t, x);
	t->st.judged++;
	t->st.by_kind[v->kind]++;
	return 1;
}

const struct tw_thr_flows_stats *tw_thr_flows_stats(const struct tw_thr_flows *t)
{
	return &t->st;
}

void tw_thr_write_tamper(const struct tw_pipeline *pl, const struct tw_line_sink *sink, tw_record_head_fn head,
                         const struct tw_event *e, const char *sni, const char *host, const struct tw_thr_verdict *v,
                         struct tw_tamper *out)
{
	static char buf[4096];
	static const char *const dir_names[2] = { "to_server", "to_client" };
	const struct tw_thr_dir_verdict *d = &v->d[v->dirs & (1 << TW_DIR_S2C) ? TW_DIR_S2C : TW_DIR_C2S];
	const char *kind = tw_thr_kind_name(v->kind);
	struct tw_jb b;

	memset(out, 0, sizeof(*out));
	out->method = "throttling";
	out->signature = kind;
	out->stage = "transfer";
	out->confidence = v->confidence;
	out->rate_bps = v->rate_bps;
	out->throttle_dirs = v->dirs;
	/* what the verdict rests on (README "Throttling") */
	out->anomalies[out->n_anomalies++] = "rate_plateau";
	out->anomalies[out->n_anomalies++] = v->kind != TW_THR_POLICING ? "rtt_growth"
	                                     : d->timeout_paced         ? "timeout_paced"
	                                                                : "loss_bursts";

	tw_jb_init(&b, buf, sizeof(buf));
	head(pl, &b, e, "tamper");
	tw_jb_obj_open(&b, "tamper");
	tw_jb_str(&b, "method", "throttling");
	tw_jb_str(&b, "signature", kind);
	tw_jb_str(&b, "stage", "transfer");
	tw_jb_arr_open(&b, "anomalies");
	for (int i = 0; i < out->n_anomalies; i++)
		tw_jb_str(&b, NULL, out->anomalies[i]);
	tw_jb_arr_close(&b);
	tw_jb_dbl(&b, "confidence", v->confidence, 2);
	tw_jb_u64(&b, "sampling", tw_sampling_admitted(pl->sampling, e));
	tw_jb_str(&b, "sni", sni && sni[0] ? sni : NULL);
	tw_jb_str(&b, "http_host", host && host[0] ? host : NULL);
	tw_jb_str(&b, "dns_qname", NULL);
	tw_jb_obj_open(&b, "throttling");
	tw_jb_str(&b, "kind", kind);
	tw_jb_u64(&b, "rate_bps", (uint64_t)(v->rate_bps + 0.5));
	tw_jb_arr_open(&b, "directions");
	for (int i = 0; i < 2; i++)
		if (v->dirs & (1 << i))
			tw_jb_str(&b, NULL, dir_names[i]);
	tw_jb_arr_close(&b);
	tw_jb_dbl(&b, "rate_spread", d->cv, 2);
	tw_jb_dbl(&b, "rtt_growth_ms", d->rtt_growth_ms, 1);
	tw_jb_u64(&b, "loss_episodes", d->loss_eps);
	tw_jb_u64(&b, "samples", (uint64_t)d->intervals);
	tw_jb_obj_close(&b);
	tw_jb_obj_close(&b);
	tw_jb_obj_close(&b);
	long n = tw_jb_end(&b);
	if (n > 0)
		tw_line_put(sink, buf, (size_t)n);
}
