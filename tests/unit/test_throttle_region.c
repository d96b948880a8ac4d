/* Region-wide throttling (alerts/throttle_region.c) on flow outcomes as the
 * verdict engine hands them: a region whose every target collapses to a
 * common rate against its own past and against another region is
 * alerted with that rate; a region that was always slow, a single slow
 * target, a target slow for everybody, rates without a common plateau and
 * a region without a baseline (unless allowed) are not.  The alert resolves
 * when quiet and a shutdown refers to it while open or recent. */
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/throttle_region.h"
#include "outputs/am_map.h"
#include "regions.h"
#include "verdicts/throttle.h"

#include "check.h"

#define NS 1000000000ull
#define T0 (1700000000ull * NS)

#define MAXL 64
static char *lines[MAXL];
static int nlines;
static void cap(void *arg, const char *l, size_t n)
{
	(void)arg;
	if (nlines < MAXL)
		lines[nlines++] = strndup(l, n);
}
static void clear_lines(void)
{
	for (int i = 0; i < nlines; i++)
		free(lines[i]);
	nlines = 0;
}

static struct tw_regions regions;
static uint64_t flow_id;

/* one ended flow: PFX to TARGET at RATE bit/s, KIND of the per-flow classifier */
static void flow(struct tw_rthr *t, uint64_t ts, const char *pfx, const char *target, double rate,
                 enum tw_thr_kind kind)
{
	struct tw_thr_verdict v;
	memset(&v, 0, sizeof v);
	v.kind = kind;
	v.dirs = kind == TW_THR_POLICING || kind == TW_THR_SHAPING ? 2 : 0;
	v.rate_bps = kind == TW_THR_POLICING || kind == TW_THR_SHAPING ? rate : 0;
	/* a policed flow's goodput is a little under the policer's rate */
	v.goodput_bps = kind == TW_THR_POLICING ? rate * 0.9 : rate;
	v.seconds = 4;
	struct tw_flow_outcome o = { .ts_ns = ts,
		                     .flow_id = ++flow_id,
		                     .client_prefix = pfx,
		                     .server_ip = "203.0.113.9",
		                     .server_port = 443,
		                     .proto = "tcp",
		                     .domain = target,
		                     .answered = 1,
		                     .rate = &v };
	tw_rthr_outcome(t, &o);
}

static const char *const targets[] = { "a.example", "b.example", "c.example", "d.example" };
#define A4 "198.51.100.0/24"
#define A6 "2001:db8:a::/48"
#define B4 "192.0.2.0/24"

/* n flows from each of the prefixes to the four targets in turn, one a second from ts */
static uint64_t round_of(struct tw_rthr *t, uint64_t ts, const char *const *pfx, int npfx, int n, double rate,
                         enum tw_thr_kind kind, const char *only_target)
{
	for (int i = 0; i < n; i++)
		for (int p = 0; p < npfx; p++) {
			ts += NS;
			flow(t, ts, pfx[p], only_target ? only_target : targets[i % 4], rate, kind);
		}
	return ts;
}

static void tick_to(struct tw_rthr *t, uint64_t from, uint64_t to)
{
	for (uint64_t x = from; x <= to; x += NS)
		tw_rthr_tick(t, x, 0);
}

static int count(const char *a, const char *b)
{
	int n = 0;
	for (int i = 0; i < nlines; i++)
		n += strstr(lines[i], a) && (!b || strstr(lines[i], b));
	return n;
}

static json_object *line_of(const char *a, const char *b)
{
	for (int i = 0; i < nlines; i++)
		if (strstr(lines[i], a) && (!b || strstr(lines[i], b)))
			return json_tokener_parse(lines[i]);
	return NULL;
}

static json_object *at(json_object *o, const char *k1, const char *k2)
{
	json_object *x = NULL, *y = NULL;
	if (!o || !json_object_object_get_ex(o, k1, &x))
		return NULL;
	if (!k2)
		return x;
	return json_object_object_get_ex(x, k2, &y) ? y : NULL;
}

static struct tw_rthr *make(struct tw_rthr_cfg *c)
{
	clear_lines();
	c->regions = &regions;
	return tw_rthr_new(c, cap, NULL);
}

static const char *const A[] = { A4, A6 }, *const B[] = { B4 };

/* region-a collapses to 400 kbit/s on every target; region-b keeps 20 Mbit/s */
static void test_region_collapse(void)
{
	struct tw_rthr_cfg c;
	tw_rthr_cfg_default(&c);
	struct tw_rthr *t = make(&c);
	uint64_t ts = T0;
	ts = round_of(t, ts, A, 2, 4, 20e6, TW_THR_NONE, NULL); /* before: fast */
	ts = round_of(t, ts, B, 1, 4, 20e6, TW_THR_NONE, NULL);
	tick_to(t, T0, ts);
	CHECK(nlines == 0, "nothing before the collapse: %d lines", nlines);
	uint64_t cut = ts;
	ts = round_of(t, ts + 10 * NS, A, 2, 6, 400e3, TW_THR_POLICING, NULL);
	ts = round_of(t, ts, B, 1, 4, 20e6, TW_THR_NONE, NULL);
	tick_to(t, cut, ts + 2 * NS);
	CHECK(count("\"state\":\"raised\"", NULL) == 1, "one alert raised: %d lines", nlines);
	json_object *o = line_of("\"state\":\"raised\"", NULL);
	CHECK(o != NULL, "raised line parses");
	if (o) {
		json_object *st = at(o, "stats", NULL);
		double rate = json_object_get_double(at(st, "rate_bps", NULL));
		CHECK(fabs(rate - 400e3) <= 0.2 * 400e3, "rate %f", rate);
		CHECK(!strcmp(json_object_get_string(at(o, "scope", "region")), "region-a"), "region");
		CHECK(!strcmp(json_object_get_string(at(o, "scope", "level")), "region"), "level");
		CHECK(json_object_array_length(at(o, "scope", "prefixes")) == 2, "both prefixes");
		CHECK(!strcmp(json_object_get_string(at(o, "alert", "category")), "throttling"), "category");
		CHECK(!strcmp(json_object_get_string(at(o, "censorship", "method")), "throttling"), "method");
		CHECK(json_object_get_int(at(st, "targets", NULL)) == 4, "four targets");
		CHECK(json_object_array_length(at(o, "targets", NULL)) == 4, "four targets named");
		CHECK(json_object_get_int(at(st, "affected_flows", NULL)) == 12, "12 policed flows");
		CHECK(json_object_get_double(at(st, "ratio", NULL)) == 1.0, "all flows since the collapse");
		CHECK(!strcmp(json_object_get_string(at(st, "variant", NULL)), "policing"), "policing");
		json_object *bl = at(st, "baseline", NULL), *ct = at(st, "control", NULL);
		CHECK(json_object_get_int(at(bl, "flows", NULL)) == 8, "baseline: the 8 earlier flows");
		CHECK(json_object_get_double(at(bl, "speedup", NULL)) >= 40, "baseline 50x faster");
		CHECK(json_object_get_int(at(ct, "flows", NULL)) == 8, "control: region-b's 8 flows");
		CHECK(json_object_get_double(at(ct, "speedup", NULL)) >= 40, "control 50x faster");
		CHECK(json_object_is_type(at(o, "target", NULL), json_type_null), "no target");
		CHECK(strstr(json_object_get_string(at(o, "alert", "id")), "rt-") != NULL, "id");
		json_object_put(o);
	}
	CHECK(count("192.0.2.0", NULL) == 0, "region-b is never named");
	/* Alertmanager: the region is the alert's target label */
	o = line_of("\"state\":\"raised\"", NULL);
	struct tw_am_alert am;
	char err[200];
	memset(&am, 0, sizeof am);
	CHECK(o && tw_am_map(o, NULL, (int64_t)(ts + 10 * NS), &am, NULL, err, sizeof err) == 0, "am map");
	CHECK(am.labels && strstr(am.labels, "\"target\":\"region-a\"") != NULL, "am target: %s",
	      am.labels ? am.labels : "-");
	CHECK(am.labels && strstr(am.labels, "\"category\":\"throttling\"") != NULL, "am category");
	tw_am_alert_clear(&am);
	json_object_put(o);
	const char *id = tw_rthr_related(t, A4, "region-a", ts);
	CHECK(id && !strncmp(id, "rt-", 3), "a shutdown of region-a refers to the open alert");
	CHECK(tw_rthr_related(t, B4, "region-b", ts) == NULL, "nothing for region-b");
	struct tw_rthr_stats s;
	tw_rthr_get_stats(t, &s);
	CHECK(s.open == 1 && s.raised == 1 && s.groups == 2, "stats %llu %llu %llu", (unsigned long long)s.open,
	      (unsigned long long)s.raised, (unsigned long long)s.groups);
	/* more policed flows a minute on: one update */
	uint64_t t2 = round_of(t, ts + 60 * NS, A, 2, 2, 400e3, TW_THR_POLICING, NULL);
	tick_to(t, ts + 60 * NS, t2 + NS);
	CHECK(count("\"state\":\"updated\"", NULL) == 1, "one update");
	/* quiet for resolve_after: resolved, then still related for related_window */
	tick_to(t, t2, t2 + (uint64_t)(c.resolve_after + 2) * NS);
	CHECK(count("\"state\":\"resolved\"", NULL) == 1, "resolved when quiet");
	uint64_t end = t2 + (uint64_t)(c.resolve_after + 2) * NS;
	CHECK(tw_rthr_related(t, A6, "region-a", end + 60 * NS) != NULL, "recent: still related");
	CHECK(tw_rthr_related(t, A6, "region-a", end + (uint64_t)(c.related_window + 10) * NS) == NULL,
	      "long after: not related");
	tw_rthr_get_stats(t, &s);
	CHECK(s.open == 0, "none open");
	tw_rthr_free(t);
}

/* the first round has fast flows the per-flow classifier called policed
 * (a plateau at 13 Mbit/s with loss bursts, a loaded machine): they are no
 * part of a collapse to 400 kbit/s, and count in the baseline */
static void test_fast_policed_before(void)
{
	struct tw_rthr_cfg c;
	tw_rthr_cfg_default(&c);
	struct tw_rthr *t = make(&c);
	uint64_t ts = T0;
	ts = round_of(t, ts, A, 2, 3, 6e6, TW_THR_NONE, NULL);
	ts = round_of(t, ts, A, 2, 1, 13e6, TW_THR_POLICING, NULL);
	ts = round_of(t, ts, B, 1, 4, 6e6, TW_THR_NONE, NULL);
	ts = round_of(t, ts + 10 * NS, A, 2, 4, 400e3, TW_THR_POLICING, NULL);
	ts = round_of(t, ts, B, 1, 4, 6e6, TW_THR_NONE, NULL);
	tick_to(t, T0, ts + NS);
	CHECK(count("\"state\":\"raised\"", "\"region\":\"region-a\"") == 1, "raised (%d lines)", nlines);
	json_object *o = line_of("raised", NULL);
	if (o) {
		json_object *st = at(o, "stats", NULL);
		double rate = json_object_get_double(at(st, "rate_bps", NULL));
		CHECK(fabs(rate - 400e3) <= 0.2 * 400e3, "rate %f", rate);
		CHECK(json_object_get_int(at(st, "affected_flows", NULL)) == 8, "the 8 slow flows");
		CHECK(json_object_get_int(at(at(st, "baseline", NULL), "flows", NULL)) == 8, "baseline: the 8 first");
		json_object_put(o);
	}
	tw_rthr_free(t);
}

/* a region on slow links: policed-looking at 400 kbit/s before and after; the
 * other region is fast: no drop against its own past, no alert */
static void test_always_slow(void)
{
	struct tw_rthr_cfg c;
	tw_rthr_cfg_default(&c);
	c.window = 60;
	struct tw_rthr *t = make(&c);
	uint64_t ts = T0;
	for (int k = 0; k < 10; k++) {
		ts = round_of(t, ts, A, 2, 4, 400e3, TW_THR_POLICING, NULL);
		ts = round_of(t, ts, B, 1, 4, 20e6, TW_THR_NONE, NULL);
		tick_to(t, ts - 12 * NS, ts);
		ts += 20 * NS;
	}
	CHECK(count("\"alert\"", NULL) == 0, "always slow: no alert (%d lines)", nlines);
	tw_rthr_free(t);
}

/* one target policed for everybody (per-target throttling), and a slow
 * server for everybody: not region-wide */
static void test_target_not_region(void)
{
	struct tw_rthr_cfg c;
	tw_rthr_cfg_default(&c);
	struct tw_rthr *t = make(&c);
	uint64_t ts = T0;
	ts = round_of(t, ts, A, 2, 4, 20e6, TW_THR_NONE, NULL);
	ts = round_of(t, ts, B, 1, 4, 20e6, TW_THR_NONE, NULL);
	ts = round_of(t, ts + 10 * NS, A, 2, 8, 130e3, TW_THR_POLICING, "media.example");
	ts = round_of(t, ts, B, 1, 8, 130e3, TW_THR_POLICING, "media.example");
	tick_to(t, T0, ts + NS);
	CHECK(count("\"alert\"", NULL) == 0, "one target: no region alert (%d lines)", nlines);
	tw_rthr_free(t);
	/* every target slow for both regions: the control is as slow */
	c.min_targets = 1;
	t = make(&c);
	ts = T0;
	ts = round_of(t, ts, A, 2, 4, 20e6, TW_THR_NONE, NULL);
	ts = round_of(t, ts + 10 * NS, A, 2, 6, 400e3, TW_THR_POLICING, NULL);
	ts = round_of(t, ts, B, 1, 6, 400e3, TW_THR_POLICING, NULL);
	tick_to(t, T0, ts + NS);
	CHECK(count("\"alert\"", NULL) == 0, "slow for everybody: no alert (%d lines)", nlines);
	tw_rthr_free(t);
}

/* capped flows without a common rate: 100 kbit/s to 5 Mbit/s */
static void test_no_plateau(void)
{
	struct tw_rthr_cfg c;
	tw_rthr_cfg_default(&c);
	struct tw_rthr *t = make(&c);
	uint64_t ts = T0;
	ts = round_of(t, ts, A, 2, 4, 50e6, TW_THR_NONE, NULL);
	static const double r[] = { 100e3, 300e3, 900e3, 2e6, 5e6, 150e3, 3e6, 600e3 };
	for (int i = 0; i < 8; i++) {
		ts += NS;
		flow(t, ts, A[i % 2], targets[i % 4], r[i], TW_THR_SHAPING);
	}
	tick_to(t, T0, ts + NS);
	CHECK(count("\"alert\"", NULL) == 0, "no common rate: no alert (%d lines)", nlines);
	tw_rthr_free(t);
}

/* no baseline (the detector started during the collapse): no alert by
 * default; with require_baseline off, the other region's control suffices.
 * An unlabelled prefix is its own group (scope level prefix). */
static void test_no_baseline(void)
{
	struct tw_rthr_cfg c;
	tw_rthr_cfg_default(&c);
	struct tw_rthr *t = make(&c);
	uint64_t ts = T0;
	ts = round_of(t, ts, A, 2, 6, 400e3, TW_THR_POLICING, NULL);
	ts = round_of(t, ts, B, 1, 4, 20e6, TW_THR_NONE, NULL);
	tick_to(t, T0, ts + NS);
	CHECK(count("\"alert\"", NULL) == 0, "no baseline: no alert (%d lines)", nlines);
	tw_rthr_free(t);
	c.require_baseline = 0;
	t = make(&c);
	static const char *const U[] = { "203.0.113.0/24" };
	ts = round_of(t, T0, U, 1, 8, 400e3, TW_THR_POLICING, NULL);
	ts = round_of(t, ts, B, 1, 4, 20e6, TW_THR_NONE, NULL);
	tick_to(t, T0, ts + NS);
	CHECK(count("\"state\":\"raised\"", "\"level\":\"prefix\"") == 1, "control only: raised (%d lines)", nlines);
	json_object *o = line_of("raised", NULL);
	if (o) {
		CHECK(json_object_is_type(at(o, "scope", "region"), json_type_null), "no region");
		CHECK(json_object_get_int(at(at(o, "stats", "baseline"), "flows", NULL)) == 0, "no baseline flows");
		json_object_put(o);
	}
	tw_rthr_free(t);
}

int main(void)
{
	char err[256];
	const char *txt = "198.51.100.0/24 region-a 64500\n2001:db8:a::/48 region-a 64500\n"
	                  "192.0.2.0/24 region-b\n";
	if (tw_regions_parse(&regions, "test", txt, err, sizeof err) < 0) {
		printf("regions: %s\n", err);
		return 1;
	}
	test_region_collapse();
	test_fast_policed_before();
	test_always_slow();
	test_target_not_region();
	test_no_plateau();
	test_no_baseline();
	clear_lines();
	tw_regions_free(&regions);
	printf("test_throttle_region: %d checks, %d failed\n", checks, fails);
	return fails != 0;
}
