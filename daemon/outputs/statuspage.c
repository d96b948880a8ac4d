#include "outputs/statuspage.h"
#include "alerts/aggregate.h"
#include "alerts/shutdown.h"
#include "outputs/bus.h"
#include "outputs/status.h"
#include "util/svg.h"
#include "util/textbuf.h"
#include <json-c/json.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sp_series {
	char key[64], region[48];
	uint32_t head, n; /* ring: next slot, points held */
	struct {
		double t, v, base;
		double astart; /* alert: when its drop began; 0: not in an alert */
	} pts[TW_SPAGE_POINTS];
};

struct sp_point {
	double t, v;
};

struct sp_target {
	char label[160];
	uint32_t head, n;
	struct sp_point pts[TW_SPAGE_TPOINTS]; /* v: tampered-flow share */
};

struct sp_throttled {
	char id[64], label[160];
	double raised; /* first line's time */
	int open;
	uint32_t head, n;
	struct sp_point pts[TW_SPAGE_RPOINTS]; /* v: stats.rate_bps */
};

struct sp_data {
	struct sp_series ser[TW_SPAGE_SERIES];
	int nser;
	struct sp_target tgt[TW_SPAGE_TARGETS];
	int ntgt;
	struct sp_throttled thr[TW_SPAGE_THROTTLED];
	int nthr;
	char rec[TW_SPAGE_RECORDS][512]; /* link and gap records, a ring */
	uint64_t nrec;
	struct tw_spage_counters c;
};

struct tw_spage {
	pthread_mutex_t mu; /* guards d for the metrics thread */
	struct sp_data d;
	struct tw_agg *agg;
	uint64_t next_target_ns;
};

struct tw_spage *tw_spage_new(void)
{
	struct tw_spage *p = calloc(1, sizeof(*p));
	if (p)
		pthread_mutex_init(&p->mu, NULL);
	return p;
}

void tw_spage_free(struct tw_spage *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->mu);
	free(p);
}

void tw_spage_set_agg(struct tw_spage *p, struct tw_agg *agg)
{
	p->agg = agg;
}

/* the rings of points: the slot for a new point (the oldest one once full,
 * which ages out: a day of samples is what is drawn) */
static uint32_t ring_push(uint32_t *head, uint32_t *n, uint32_t cap)
{
	uint32_t k = *head;
	*head = (*head + 1) % cap;
	if (*n < cap)
		(*n)++;
	return k;
}
#define RING_PUSH(r, cap) ring_push(&(r)->head, &(r)->n, (cap))
#define RING_AT(r, cap, i) (((r)->head + (cap) - (r)->n + (i)) % (cap)) /* the i-th oldest point */

void tw_spage_observe(void *page, const struct tw_sd_point *pt)
{
	struct tw_spage *p = page;
	struct sp_data *d = &p->d;
	pthread_mutex_lock(&p->mu);
	struct sp_series *x = NULL;
	for (int i = 0; i < d->nser && !x; i++)
		if (!strcmp(d->ser[i].key, pt->key))
			x = &d->ser[i];
	if (!x && d->nser < TW_SPAGE_SERIES) {
		x = &d->ser[d->nser++];
		snprintf(x->key, sizeof x->key, "%s", pt->key);
		snprintf(x->region, sizeof x->region, "%s", pt->region ? pt->region : "");
	}
	if (!x) {
		d->c.series_dropped++;
	} else {
		uint32_t k = RING_PUSH(x, TW_SPAGE_POINTS);
		x->pts[k].t = (double)pt->t_ns / 1e9;
		x->pts[k].v = pt->value;
		x->pts[k].base = pt->baseline;
		x->pts[k].astart =
		        pt->alerting ? (double)(pt->alert_start_ns ? pt->alert_start_ns : pt->t_ns) / 1e9 : 0;
	}
	pthread_mutex_unlock(&p->mu);
}

static double num(struct json_object *o, const char *k1, const char *k2)
{
	struct json_object *a = o, *v;
	if (k1 && !json_object_object_get_ex(o, k1, &a))
		return NAN;
	if (!json_object_object_get_ex(a, k2, &v) ||
	    !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
		return NAN;
	return json_object_get_double(v);
}

static void target_label(struct json_object *tg, char *out, size_t cap)
{
	const char *dom = tw_bus_field(tg, NULL, "domain"), *ip = tw_bus_field(tg, NULL, "ip");
	struct json_object *port;
	int pt = json_object_object_get_ex(tg, "port", &port) ? json_object_get_int(port) : 0;
	snprintf(out, cap, "%.100s:%d/%.8s", *dom ? dom : *ip ? ip : "?", pt, tw_bus_field(tg, NULL, "proto"));
}

void tw_spage_sink(void *page, const char *line, size_t len, struct json_object *o)
{
	struct tw_spage *p = page;
	struct sp_data *d = &p->d;
	const char *type = tw_bus_field(o, NULL, "event_type");
	pthread_mutex_lock(&p->mu);
	if (!strcmp(type, "link") || !strcmp(type, "gap")) {
		size_t n = len < sizeof d->rec[0] - 1 ? len : sizeof d->rec[0] - 1;
		char *r = d->rec[d->nrec++ % TW_SPAGE_RECORDS];
		memcpy(r, line, n);
		r[n] = 0;
	} else if (!strcmp(type, "alert") && !strcmp(tw_bus_field(o, "alert", "category"), "throttling")) {
		const char *id = tw_bus_field(o, "alert", "id");
		double t, rate = num(o, "stats", "rate_bps");
		if (tw_svg_parse_time(tw_bus_field(o, NULL, "timestamp"), &t) < 0 || !isfinite(rate) || !*id) {
			d->c.parse_errors++;
			goto out;
		}
		struct sp_throttled *x = NULL;
		for (int i = 0; i < d->nthr && !x; i++)
			if (!strcmp(d->thr[i].id, id))
				x = &d->thr[i];
		if (!x && d->nthr < TW_SPAGE_THROTTLED)
			x = &d->thr[d->nthr++];
		else if (!x) /* the oldest resolved one gives way */
			for (int i = 0; i < d->nthr; i++)
				if (!d->thr[i].open && (!x || d->thr[i].raised < x->raised))
					x = &d->thr[i];
		if (!x) {
			d->c.throttled_dropped++;
			goto out;
		}
		if (strcmp(x->id, id)) {
			memset(x, 0, sizeof *x);
			snprintf(x->id, sizeof x->id, "%s", id);
			struct json_object *tg;
			const char *lv = tw_bus_field(o, "scope", "level"); /* region-wide throttling */
			struct json_object *sc, *pf;
			const char *nm = tw_bus_field(o, "scope", "region");
			if (*lv && strcmp(lv, "region") && json_object_object_get_ex(o, "scope", &sc) &&
			    json_object_object_get_ex(sc, "prefixes", &pf) &&
			    json_object_is_type(pf, json_type_array) && json_object_array_length(pf))
				nm = json_object_get_string(json_object_array_get_idx(pf, 0));
			if (*lv)
				snprintf(x->label, sizeof x->label, "%s %.100s", lv, nm ? nm : "?");
			else if (json_object_object_get_ex(o, "target", &tg))
				target_label(tg, x->label, sizeof x->label);
			x->raised = t;
		}
		x->open = strcmp(tw_bus_field(o, "alert", "state"), "resolved") != 0;
		uint32_t k = RING_PUSH(x, TW_SPAGE_RPOINTS);
		x->pts[k].t = t;
		x->pts[k].v = rate;
	}
out:
	pthread_mutex_unlock(&p->mu);
}

void tw_spage_tick(void *page, uint64_t now_ns, int final)
{
	struct tw_spage *p = page;
	(void) final;
	if (!p->agg || now_ns < p->next_target_ns)
		return;
	p->next_target_ns = now_ns + TW_SPAGE_TARGET_EVERY * 1000000000ull;
	static char buf[65536];
	size_t n = tw_agg_top_targets(p->agg, now_ns, TW_SPAGE_TARGETS, buf, sizeof buf);
	struct json_object *arr = n ? json_tokener_parse(buf) : NULL;
	pthread_mutex_lock(&p->mu);
	struct sp_data *d = &p->d;
	if (!arr || !json_object_is_type(arr, json_type_array)) {
		d->c.parse_errors += n > 0;
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *tg = json_object_array_get_idx(arr, i);
		char label[160];
		double share = num(tg, NULL, "share");
		if (!isfinite(share)) {
			d->c.parse_errors++;
			continue;
		}
		target_label(tg, label, sizeof label);
		struct sp_target *x = NULL;
		for (int k = 0; k < d->ntgt && !x; k++)
			if (!strcmp(d->tgt[k].label, label))
				x = &d->tgt[k];
		if (!x && d->ntgt < TW_SPAGE_TARGETS) {
			x = &d->tgt[d->ntgt++];
			snprintf(x->label, sizeof x->label, "%s", label);
		}
		if (!x) {
			d->c.targets_dropped++;
			continue;
		}
		uint32_t k = RING_PUSH(x, TW_SPAGE_TPOINTS);
		x->pts[k].t = (double)now_ns / 1e9;
		x->pts[k].v = share;
	}
out:
	pthread_mutex_unlock(&p->mu);
	json_object_put(arr);
}

void tw_spage_get_counters(struct tw_spage *p, struct tw_spage_counters *c)
{
	pthread_mutex_lock(&p->mu);
	*c = p->d.c;
	pthread_mutex_unlock(&p->mu);
}

/* ---- rendering ----------------------------------------------------------- */

static void esc(struct tw_tb *b, const char *s)
{
	tw_svg_escape(b, s, TW_SVG_MAX_TEXT);
}

static void td(struct tw_tb *b, const char *s)
{
	tw_tb_str(b, "<td>");
	esc(b, s);
	tw_tb_str(b, "</td>");
}

/* a JSON value as short text: scalars as they are, arrays of scalars joined */
static void value_text(struct tw_tb *b, struct json_object *v, int depth)
{
	if (json_object_is_type(v, json_type_array)) {
		size_t n = json_object_array_length(v);
		for (size_t i = 0; i < n && i < 10; i++) {
			if (i)
				tw_tb_str(b, ", ");
			value_text(b, json_object_array_get_idx(v, i), depth + 1);
		}
		if (n > 10)
			tw_tb_printf(b, " (+%zu more)", n - 10);
	} else if (json_object_is_type(v, json_type_object)) {
		if (depth > 1)
			return;
		int first = 1;
		json_object_object_foreach(v, k, x)
		{
			if (!x || (json_object_is_type(x, json_type_array) && !json_object_array_length(x)))
				continue; /* null or empty: nothing to say */
			tw_tb_str(b, first ? "" : "; ");
			first = 0;
			esc(b, k);
			tw_tb_str(b, " ");
			value_text(b, x, depth + 1);
		}
	} else {
		esc(b, v ? json_object_get_string(v) : "null");
	}
}

static void member_td(struct tw_tb *b, struct json_object *o, const char *k)
{
	struct json_object *v;
	tw_tb_str(b, "<td>");
	if (json_object_object_get_ex(o, k, &v))
		value_text(b, v, 0);
	tw_tb_str(b, "</td>");
}

static void alert_row(struct tw_tb *b, const char *line, struct tw_spage_counters *c)
{
	struct json_object *o = json_tokener_parse(line), *tg;
	if (!o) {
		c->parse_errors++;
		return;
	}
	char target[160] = "";
	if (json_object_object_get_ex(o, "target", &tg))
		target_label(tg, target, sizeof target);
	tw_tb_str(b, "<tr class=\"alert\" data-alert-id=\"");
	esc(b, tw_bus_field(o, "alert", "id"));
	tw_tb_str(b, "\" data-category=\"");
	esc(b, tw_bus_field(o, "alert", "category"));
	tw_tb_str(b, "\" data-state=\"");
	esc(b, tw_bus_field(o, "alert", "state"));
	tw_tb_str(b, "\">");
	td(b, tw_bus_field(o, "alert", "id"));
	td(b, tw_bus_field(o, NULL, "timestamp"));
	td(b, tw_bus_field(o, "alert", "state"));
	td(b, tw_bus_field(o, "alert", "category"));
	td(b, tw_bus_field(o, "censorship", "method"));
	struct json_object *cz = NULL;
	json_object_object_get_ex(o, "censorship", &cz);
	tw_tb_str(b, "<td class=\"legitimacy\">");
	esc(b, tw_bus_field(o, "censorship", "legitimacy"));
	if (*tw_bus_field(o, "censorship", "legal_reference")) {
		tw_tb_str(b, " (");
		esc(b, tw_bus_field(o, "censorship", "legal_reference"));
		tw_tb_str(b, ")");
	}
	tw_tb_str(b, "</td>");
	td(b, cz ? json_object_get_string(json_object_object_get(cz, "confidence")) : "");
	td(b, target[0] ? target : "-");
	member_td(b, o, "scope");
	member_td(b, o, "stats");
	member_td(b, o, "evidence");
	tw_tb_str(b, "</tr>\n");
	json_object_put(o);
}

static const char alert_head[] = "<table><tr><th>id</th><th>time (UTC)</th><th>state</th><th>category</th>"
                                 "<th>method</th><th>legitimacy</th><th>confidence</th><th>target</th>"
                                 "<th>scope</th><th>stats</th><th>evidence</th></tr>\n";

static void plot_out(struct tw_tb *b, const struct tw_svg_plot *pl, struct tw_spage_counters *c)
{
	uint64_t thin = 0;
	struct tw_tb tmp = { .max = 2u << 20 };
	if (tw_svg_plot(&tmp, pl, &thin) < 0)
		c->render_failures++;
	else
		tw_tb_add(b, tmp.p, tmp.n);
	c->points_thinned += thin;
	free(tmp.p);
}

/* A region's curve: the sum of its prefixes' samples taken at the same
 * poll (one poll samples every prefix at one time), against the sum of
 * their baselines (of those that have one yet); shaded where any of them
 * was in an alert, from the earliest drop.  Drawn before its prefixes. */
struct sp_rpt {
	double t, v, base, astart;
};
static int rpt_cmp(const void *x, const void *y)
{
	const struct sp_rpt *a = x, *b = y;
	return a->t < b->t ? -1 : a->t > b->t;
}
static void render_region(struct tw_tb *b, const struct sp_data *d, const char *region, struct tw_spage_counters *c)
{
	static struct sp_rpt all[TW_SPAGE_SERIES * TW_SPAGE_POINTS];
	static double t[TW_SPAGE_POINTS * TW_SPAGE_SERIES], v[TW_SPAGE_POINTS * TW_SPAGE_SERIES],
	        bt[TW_SPAGE_POINTS * TW_SPAGE_SERIES], bv[TW_SPAGE_POINTS * TW_SPAGE_SERIES];
	size_t na = 0, n = 0, nb = 0;
	int nprefixes = 0;
	double newest = 0;
	for (int s = 0; s < d->nser; s++) {
		const struct sp_series *x = &d->ser[s];
		if (strcmp(x->region, region))
			continue;
		nprefixes++;
		for (uint32_t i = 0; i < x->n; i++) {
			const __typeof__(x->pts[0]) *pt = &x->pts[RING_AT(x, TW_SPAGE_POINTS, i)];
			all[na++] = (struct sp_rpt){ pt->t, pt->v, pt->base, pt->astart };
			newest = pt->t > newest ? pt->t : newest;
		}
	}
	qsort(all, na, sizeof all[0], rpt_cmp);
	struct tw_svg_band bands[TW_SVG_MAX_BANDS];
	int nbands = 0;
	for (size_t i = 0; i < na;) {
		double sum = 0, base = 0, astart = 0;
		size_t j = i;
		for (; j < na && all[j].t - all[i].t < 1e-3; j++) { /* one poll */
			sum += all[j].v;
			base += all[j].base > 0 ? all[j].base : 0;
			if (all[j].astart > 0 && (astart == 0 || all[j].astart < astart))
				astart = all[j].astart;
		}
		double tt = all[i].t;
		i = j;
		if (tt < newest - 86400)
			continue;
		t[n] = tt;
		v[n++] = sum;
		if (base > 0) {
			bt[nb] = tt;
			bv[nb++] = base;
		}
		if (astart > 0) { /* one band per episode of the region */
			if (nbands && bands[nbands - 1].t1 >= astart - 1e-3)
				bands[nbands - 1].t1 = tt;
			else if (nbands < TW_SVG_MAX_BANDS)
				bands[nbands++] = (struct tw_svg_band){ astart, tt };
		}
	}
	char id[128], title[200];
	snprintf(id, sizeof id, "shutdown-region:%s", region);
	snprintf(title, sizeof title, "region %s: %d prefix%s summed", region, nprefixes, nprefixes == 1 ? "" : "es");
	struct tw_svg_series ser[2] = { { "traffic", "#1f77b4", t, v, n, 0 },
		                        { "baseline", "#7f7f7f", bt, bv, nb, 1 } };
	struct tw_svg_plot pl = { .id = id,
		                  .title = title,
		                  .ylabel = "per interval",
		                  .width = 900,
		                  .height = 260,
		                  .series = ser,
		                  .nseries = 2,
		                  .bands = bands,
		                  .nbands = nbands };
	plot_out(b, &pl, c);
}

/* the drawing's scratch arrays are static: pages are rendered by one
 * thread at a time (the metrics server's) */
static void render_shutdown(struct tw_tb *b, const struct sp_data *d, struct tw_spage_counters *c)
{
	tw_tb_str(b, "<section id=\"shutdown\"><h2>Shutdown detection: traffic against its baseline (last day)</h2>\n");
	if (!d->nser)
		tw_tb_str(b, "<p class=\"none\">No series under shutdown detection.</p>\n");
	for (int s = 0; s < d->nser; s++) { /* each region once, where its first prefix is */
		int first = d->ser[s].region[0] != 0;
		for (int k = 0; k < s && first; k++)
			first = strcmp(d->ser[k].region, d->ser[s].region) != 0;
		if (first)
			render_region(b, d, d->ser[s].region, c);
	}
	static double t[TW_SPAGE_POINTS], v[TW_SPAGE_POINTS], bt[TW_SPAGE_POINTS], bv[TW_SPAGE_POINTS];
	for (int s = 0; s < d->nser; s++) {
		const struct sp_series *x = &d->ser[s];
		size_t n = 0, nb = 0;
		struct tw_svg_band bands[TW_SVG_MAX_BANDS];
		int nbands = 0;
		double newest = x->n ? x->pts[RING_AT(x, TW_SPAGE_POINTS, x->n - 1)].t : 0;
		for (uint32_t i = 0; i < x->n; i++) {
			const __typeof__(x->pts[0]) *pt = &x->pts[RING_AT(x, TW_SPAGE_POINTS, i)];
			if (pt->t < newest - 86400)
				continue;
			t[n] = pt->t;
			v[n++] = pt->v;
			if (pt->base > 0) {
				bt[nb] = pt->t;
				bv[nb++] = pt->base;
			}
			if (pt->astart > 0) { /* one band per alert: from its start to its last sample */
				if (nbands && bands[nbands - 1].t0 == pt->astart)
					bands[nbands - 1].t1 = pt->t;
				else if (nbands < TW_SVG_MAX_BANDS)
					bands[nbands++] = (struct tw_svg_band){ pt->astart, pt->t };
			}
		}
		char id[128], title[200];
		snprintf(id, sizeof id, "shutdown:%s", x->key);
		snprintf(title, sizeof title, "%s%s%s", x->key, x->region[0] ? " region " : "", x->region);
		struct tw_svg_series ser[2] = { { "traffic", "#1f77b4", t, v, n, 0 },
			                        { "baseline", "#7f7f7f", bt, bv, nb, 1 } };
		struct tw_svg_plot pl = { .id = id,
			                  .title = title,
			                  .ylabel = "per interval",
			                  .width = 900,
			                  .height = 260,
			                  .series = ser,
			                  .nseries = 2,
			                  .bands = bands,
			                  .nbands = nbands };
		plot_out(b, &pl, c);
	}
	tw_tb_str(b, "</section>\n");
}

/* the time axis of a plot of events (targets, throttled rates): from its
 * first point to now (the run's clock), so a lone point is not a span of 1 s */
static void span(struct tw_svg_plot *pl, const struct tw_svg_series *ser, int n, double now)
{
	double lo = INFINITY, hi = now;
	for (int s = 0; s < n; s++)
		for (size_t i = 0; i < ser[s].n; i++) {
			lo = ser[s].t[i] < lo ? ser[s].t[i] : lo;
			hi = ser[s].t[i] > hi ? ser[s].t[i] : hi;
		}
	if (!isfinite(lo))
		return;
	pl->tmin = lo - 10;
	pl->tmax = hi + 10;
}

/* a ring's points, oldest first, into t and v (room for cap) */
static void ring_copy(const struct sp_point *pts, uint32_t head, uint32_t n, uint32_t cap, double *t, double *v)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct sp_point *q = &pts[(head + cap - n + i) % cap];
		t[i] = q->t;
		v[i] = q->v;
	}
}

/* a section's head; 0 (and the section closed with what it lacks) when empty */
static int section(struct tw_tb *b, const char *id, const char *title, int n, const char *none)
{
	tw_tb_printf(b, "<section id=\"%s\"><h2>%s</h2>\n", id, title);
	if (!n)
		tw_tb_printf(b, "<p class=\"none\">%s</p></section>\n", none);
	return n;
}

static void render_targets(struct tw_tb *b, const struct sp_data *d, double now, struct tw_spage_counters *c)
{
	if (!section(b, "targets", "Tampered-flow share of the most affected targets", d->ntgt,
	             "No target with tampered flows yet."))
		return;
	static double t[TW_SPAGE_TARGETS][TW_SPAGE_TPOINTS], v[TW_SPAGE_TARGETS][TW_SPAGE_TPOINTS];
	struct tw_svg_series ser[TW_SPAGE_TARGETS];
	for (int s = 0; s < d->ntgt; s++) {
		const struct sp_target *x = &d->tgt[s];
		ring_copy(x->pts, x->head, x->n, TW_SPAGE_TPOINTS, t[s], v[s]);
		ser[s] = (struct tw_svg_series){ x->label, NULL, t[s], v[s], x->n, 0 };
	}
	struct tw_svg_plot pl = { .id = "targets",
		                  .title = "share of flows tampered with",
		                  .ylabel = "share",
		                  .width = 900,
		                  .height = 260,
		                  .ymax = 1,
		                  .series = ser,
		                  .nseries = d->ntgt };
	span(&pl, ser, d->ntgt, now);
	plot_out(b, &pl, c);
	tw_tb_str(b, "</section>\n");
}

static void render_throttled(struct tw_tb *b, const struct sp_data *d, double now, struct tw_spage_counters *c)
{
	if (!section(b, "throttling", "Measured rates of throttled targets", d->nthr, "No throttling alert."))
		return;
	static double t[TW_SPAGE_THROTTLED][TW_SPAGE_RPOINTS], v[TW_SPAGE_THROTTLED][TW_SPAGE_RPOINTS];
	struct tw_svg_series ser[TW_SPAGE_THROTTLED];
	struct tw_svg_mark marks[TW_SPAGE_THROTTLED];
	char names[TW_SPAGE_THROTTLED][240];
	for (int s = 0; s < d->nthr; s++) {
		const struct sp_throttled *x = &d->thr[s];
		ring_copy(x->pts, x->head, x->n, TW_SPAGE_RPOINTS, t[s], v[s]);
		snprintf(names[s], sizeof names[s], "%s (%s)", x->label, x->id);
		ser[s] = (struct tw_svg_series){ names[s], NULL, t[s], v[s], x->n, 0 };
		marks[s] = (struct tw_svg_mark){ x->raised, "raised" };
	}
	struct tw_svg_plot pl = { .id = "throttling",
		                  .title = "measured rate (stats.rate_bps)",
		                  .ylabel = "bit/s",
		                  .width = 900,
		                  .height = 260,
		                  .points = 1,
		                  .series = ser,
		                  .nseries = d->nthr,
		                  .marks = marks,
		                  .nmarks = d->nthr };
	span(&pl, ser, d->nthr, now);
	plot_out(b, &pl, c);
	tw_tb_str(b, "</section>\n");
}

static void row_u64(struct tw_tb *b, const char *k, uint64_t v)
{
	tw_tb_printf(b, "<tr><th>%s</th><td>%llu</td></tr>\n", k, (unsigned long long)v);
}

static void render_health(struct tw_tb *b, const struct tw_status *s, const struct sp_data *d,
                          const struct tw_spage_counters *c, uint64_t bus_dropped)
{
	char when[64] = "-";
	time_t u = (time_t)(s->updated_wall_ns / 1000000000ull);
	struct tm tm;
	if (s->updated_wall_ns && gmtime_r(&u, &tm))
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
	tw_tb_str(b, "<section id=\"health\"><h2>Detector health</h2>\n<table>\n");
	tw_tb_str(b, "<tr><th>backend</th>");
	td(b, s->backend);
	tw_tb_str(b, "</tr><tr><th>version</th>");
	td(b, s->version);
	tw_tb_str(b, "</tr><tr><th>updated</th>");
	td(b, when);
	tw_tb_str(b, "</tr>\n");
	row_u64(b, "packets", s->counters[TW_CNT_PACKETS]);
	row_u64(b, "bytes", s->counters[TW_CNT_BYTES]);
	row_u64(b, "events lost (ring buffer full)", s->counters[TW_CNT_EVENTS_LOST]);
	row_u64(b, "flows not tracked (table full)", s->counters[TW_CNT_FLOW_INSERT_FAIL]);
	row_u64(b, "events malformed", s->events_malformed);
	row_u64(b, "alert log write errors", s->output_write_errors);
	row_u64(b, "alert bus lines dropped", bus_dropped);
	if (s->sampling > 1)
		tw_tb_printf(b,
		             "<tr><th>sampling</th><td id=\"sampling\">1 in %u flows tracked (prefix counters see "
		             "every packet)</td></tr>\n",
		             s->sampling);
	else
		tw_tb_str(b, "<tr><th>sampling</th><td id=\"sampling\">1: every packet is inspected (no "
		             "sampling)</td></tr>\n");
	row_u64(b, "page: shutdown samples not drawn (series bound)", c->series_dropped);
	row_u64(b, "page: target samples not drawn (target bound)", c->targets_dropped);
	row_u64(b, "page: throttling lines not drawn (bound)", c->throttled_dropped);
	row_u64(b, "page: unreadable summaries", c->parse_errors);
	tw_tb_str(b, "</table>\n<h3>Links</h3>\n<table "
	             "id=\"links\"><tr><th>interface</th><th>mode</th><th>state</th></tr>\n");
	for (int i = 0; i < s->nlinks && i < TW_MAX_IFACES; i++) {
		tw_tb_str(b, "<tr>");
		td(b, s->links[i].name);
		td(b, s->links[i].mode);
		td(b, s->links[i].up > 0 ? "up" : s->links[i].up == 0 ? "down" : "unknown");
		tw_tb_str(b, "</tr>\n");
	}
	if (!s->nlinks)
		tw_tb_str(b, "<tr><td colspan=\"3\">none (replay)</td></tr>\n");
	tw_tb_str(b, "</table>\n<h3>Link and gap records</h3>\n<ul id=\"records\">\n");
	uint64_t first = d->nrec > TW_SPAGE_RECORDS ? d->nrec - TW_SPAGE_RECORDS : 0;
	for (uint64_t i = d->nrec; i-- > first;) {
		tw_tb_str(b, "<li><code>");
		tw_svg_escape(b, d->rec[i % TW_SPAGE_RECORDS], sizeof d->rec[0]);
		tw_tb_str(b, "</code></li>\n");
	}
	if (!d->nrec)
		tw_tb_str(b, "<li>none</li>\n");
	tw_tb_str(b, "</ul></section>\n");
}

#define MAX_OPEN_SHOWN 100

long tw_spage_render(struct tw_spage *p, struct tw_status *st, struct tw_bus *bus, char **out)
{
	struct tw_status *s = malloc(sizeof(*s));
	struct sp_data *d = malloc(sizeof(*d));
	char *open[MAX_OPEN_SHOWN], *recent[TW_SPAGE_RECENT];
	size_t nopen = 0, nopen_all = 0, nrecent = 0;
	uint64_t bus_dropped = 0;
	struct tw_tb b = { .max = TW_SPAGE_MAX_BYTES };
	*out = NULL;
	if (!s || !d) {
		free(s);
		free(d);
		pthread_mutex_lock(&p->mu);
		p->d.c.render_failures++;
		pthread_mutex_unlock(&p->mu);
		return -1;
	}
	/* copies under the locks, the drawing under none */
	pthread_mutex_lock(&st->mu);
	memcpy(s, st, sizeof(*s));
	pthread_mutex_unlock(&st->mu);
	pthread_mutex_lock(&bus->mu);
	nopen_all = bus->nopen;
	for (size_t i = 0; i < bus->nopen && nopen < MAX_OPEN_SHOWN; i++)
		if ((open[nopen] = strndup(bus->open[i].line, bus->open[i].len)))
			nopen++;
	for (uint64_t i = bus->recent_next;
	     i-- > 0 && nrecent < TW_SPAGE_RECENT && bus->recent_next - i <= TW_BUS_RECENT;)
		if (bus->recent[i % TW_BUS_RECENT] &&
		    (recent[nrecent] = strndup(bus->recent[i % TW_BUS_RECENT], bus->recent_len[i % TW_BUS_RECENT])))
			nrecent++;
	bus_dropped = bus->open_overflow + bus->count_overflow + bus->parse_errors + bus->oom;
	pthread_mutex_unlock(&bus->mu);
	pthread_mutex_lock(&p->mu);
	memcpy(d, &p->d, sizeof(*d));
	pthread_mutex_unlock(&p->mu);
	struct tw_spage_counters c = { 0 };

	tw_tb_printf(&b,
	             "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	             "<meta http-equiv=\"refresh\" content=\"%d\">"
	             "<title>tamperwatch status</title>\n<style>\n"
	             "body{font-family:sans-serif;margin:1em;color:#222}table{border-collapse:collapse;margin:.5em 0}"
	             "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;font-size:13px;vertical-align:top}"
	             "tr.alert[data-state=resolved]{color:#777}svg.tw-plot{display:block;margin:.5em 0}"
	             "code{font-size:12px}\n</style></head><body>\n<h1>tamperwatch status</h1>\n"
	             "<p>Read-only; refreshes every %d s. Clients appear as network prefixes only.</p>\n",
	             TW_SPAGE_REFRESH_S, TW_SPAGE_REFRESH_S);
	tw_tb_printf(&b, "<section id=\"alerts-open\"><h2>Open alerts (%zu)</h2>\n", nopen_all);
	if (nopen) {
		tw_tb_str(&b, alert_head);
		for (size_t i = 0; i < nopen; i++)
			alert_row(&b, open[i], &c);
		tw_tb_str(&b, "</table>\n");
		if (nopen_all > nopen)
			tw_tb_printf(&b, "<p>%zu more not shown.</p>\n", nopen_all - nopen);
	} else {
		tw_tb_str(&b, "<p class=\"none\">No open alert.</p>\n");
	}
	tw_tb_str(&b, "</section>\n<section id=\"alerts-recent\"><h2>Recent alert records</h2>\n");
	if (nrecent) {
		tw_tb_str(&b, alert_head);
		for (size_t i = 0; i < nrecent; i++)
			alert_row(&b, recent[i], &c);
		tw_tb_str(&b, "</table>\n");
	} else {
		tw_tb_str(&b, "<p class=\"none\">None yet.</p>\n");
	}
	tw_tb_str(&b, "</section>\n");
	render_shutdown(&b, d, &c);
	double now = (double)s->updated_wall_ns / 1e9;
	render_targets(&b, d, now, &c);
	render_throttled(&b, d, now, &c);
	struct tw_spage_counters shown = d->c;
	shown.parse_errors += c.parse_errors;
	render_health(&b, s, d, &shown, bus_dropped);
	tw_tb_str(&b, "</body></html>\n");

	for (size_t i = 0; i < nopen; i++)
		free(open[i]);
	for (size_t i = 0; i < nrecent; i++)
		free(recent[i]);
	free(s);
	free(d);
	pthread_mutex_lock(&p->mu);
	p->d.c.parse_errors += c.parse_errors;
	p->d.c.points_thinned += c.points_thinned;
	p->d.c.render_failures += c.render_failures + (b.fail != 0);
	p->d.c.renders += !b.fail;
	pthread_mutex_unlock(&p->mu);
	if (b.fail) {
		free(b.p);
		return -1;
	}
	*out = b.p;
	return (long)b.n;
}

void tw_spage_metrics(struct tw_spage *p, struct tw_tb *b)
{
	struct tw_spage_counters c;
	tw_spage_get_counters(p, &c);
	tw_tb_printf(b,
	             "# HELP tamperwatch_status_page_renders_total Status pages rendered.\n"
	             "# TYPE tamperwatch_status_page_renders_total counter\n"
	             "tamperwatch_status_page_renders_total %llu\n"
	             "# HELP tamperwatch_status_page_render_failures_total Status pages or plots not rendered: "
	             "size bound or out of memory.\n"
	             "# TYPE tamperwatch_status_page_render_failures_total counter\n"
	             "tamperwatch_status_page_render_failures_total %llu\n"
	             "# HELP tamperwatch_status_page_dropped_total Samples the status page did not keep, by reason.\n"
	             "# TYPE tamperwatch_status_page_dropped_total counter\n"
	             "tamperwatch_status_page_dropped_total{reason=\"series_bound\"} %llu\n"
	             "tamperwatch_status_page_dropped_total{reason=\"target_bound\"} %llu\n"
	             "tamperwatch_status_page_dropped_total{reason=\"throttled_bound\"} %llu\n"
	             "tamperwatch_status_page_dropped_total{reason=\"parse_errors\"} %llu\n"
	             "# HELP tamperwatch_status_page_points_thinned_total Plot points drawn as part of a line only.\n"
	             "# TYPE tamperwatch_status_page_points_thinned_total counter\n"
	             "tamperwatch_status_page_points_thinned_total %llu\n",
	             (unsigned long long)c.renders, (unsigned long long)c.render_failures,
	             (unsigned long long)c.series_dropped, (unsigned long long)c.targets_dropped,
	             (unsigned long long)c.throttled_dropped, (unsigned long long)c.parse_errors,
	             (unsigned long long)c.points_thinned);
}
