/* The per-flow throttling classifier (daemon/verdicts/throttle.c) on rate
 * series recorded from real lab runs (the .series files in tests/fixtures/throttle,
 * made by record.py from scripts/lab run throttle-police, throttle-shape
 * and the other throttle and benign scenarios): each file says what its
 * flow must be.  A flow classified as policing must have the policer's
 * rate within 20 %, and most flows of a policed target must be found; the
 * control, congested, window- and application-limited flows must not be
 * policing or shaping; plus the bounded series and the thresholds on
 * synthetic input.  Then aggregation (alerts/aggregate.c) on the same
 * series: a shaped target's flows, each congestion-like, become a
 * throttling (shaping) alert only once the same clients' flows to another
 * target are seen faster, with that control in the alert; queued controls
 * (congestion) raise nothing. */
#include "verdicts/throttle.h"
#include "alerts/aggregate.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"

#define FIXTURES "tests/fixtures/throttle"

/* One fixture; returns 0, or -1 with a message naming file and line. */
static int load(const char *path, struct tw_thr_series *ser, char *kind, size_t kindlen, double *rate)
{
	FILE *fp = fopen(path, "r");
	char line[512];
	int ln = 0, have_expect = 0;
	if (!fp) {
		printf("FAIL %s: cannot open\n", path);
		return -1;
	}
	memset(ser, 0, sizeof(*ser));
	while (fgets(line, sizeof(line), fp)) {
		ln++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (!strncmp(line, "expect ", 7)) {
			char k[32];
			if (sscanf(line + 7, "%31s %lf", k, rate) != 2)
				break;
			snprintf(kind, kindlen, "%s", k);
			have_expect = 1;
			continue;
		}
		struct tw_thr_sample s;
		unsigned long long t, dl[2], seen[2];
		unsigned v[2][6];
		memset(&s, 0, sizeof(s));
		/* 17 numbers: the payload bytes seen per direction last; a series
		 * recorded before those two columns (15) stands its delivered
		 * bytes for them (record.py) */
		int got = sscanf(line, "%llu %llu %u %u %u %u %u %u %llu %u %u %u %u %u %u %llu %llu", &t, &dl[0],
		                 &v[0][0], &v[0][1], &v[0][2], &v[0][3], &v[0][4], &v[0][5], &dl[1], &v[1][0], &v[1][1],
		                 &v[1][2], &v[1][3], &v[1][4], &v[1][5], &seen[0], &seen[1]);
		if (got == 15) {
			seen[0] = dl[0];
			seen[1] = dl[1];
		} else if (got != 17) {
			printf("FAIL %s:%d: expected 15 or 17 numbers\n", path, ln);
			fclose(fp);
			return -1;
		}
		s.t_ns = t * 1000000ull;
		for (int i = 0; i < 2; i++) {
			s.d[i].delivered = dl[i];
			s.d[i].seen = seen[i];
			s.d[i].packets = v[i][0];
			s.d[i].loss_eps = v[i][1];
			s.d[i].win_full = v[i][2];
			s.d[i].idle_sends = v[i][3];
			s.d[i].rtt_min_us = v[i][4];
			s.d[i].rtt_max_us = v[i][5];
		}
		tw_thr_series_add(ser, &s);
	}
	fclose(fp);
	if (!have_expect) {
		printf("FAIL %s: no 'expect KIND RATE' line\n", path);
		return -1;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* A scenario's policed target: most of its flows (a flow whose every loss
 * fell after the observer's view of it shows none) are policing, and the
 * median of their rates is the policer's within 20 %. */
struct scn {
	char name[64];
	double policer;
	int flows, policed;
	double rates[64];
};

static void scn_check(const struct scn *sc)
{
	if (!sc->flows)
		return;
	double r[64];
	memcpy(r, sc->rates, sizeof(r));
	qsort(r, (size_t)sc->policed, sizeof(r[0]), cmp_dbl);
	double med = sc->policed ? r[sc->policed / 2] : 0;
	CHECK(sc->policed * 2 >= sc->flows, "%s: %d of %d policed flows found", sc->name, sc->policed, sc->flows);
	CHECK(med >= sc->policer * 0.8 && med <= sc->policer * 1.2, "%s: median rate %.0f, policer %.0f", sc->name, med,
	      sc->policer);
	printf("%s %s: %d of %d flows policing, median rate %.0f bit/s (policer %.0f)\n",
	       sc->policed * 2 >= sc->flows && med >= sc->policer * 0.8 && med <= sc->policer * 1.2 ? "ok  " : "FAIL",
	       sc->name, sc->policed, sc->flows, med, sc->policer);
}

static void fixtures(void)
{
	struct tw_thr_cfg c;
	DIR *d = opendir(FIXTURES);
	char *names[256];
	int n = 0, judged = 0;
	struct dirent *de;
	static struct scn scns[16];
	int nscn = 0;

	tw_thr_cfg_default(&c);
	CHECK(d != NULL, "no %s", FIXTURES);
	if (!d)
		return;
	while ((de = readdir(d)) && n < 256) {
		size_t l = strlen(de->d_name);
		if (l > 7 && !strcmp(de->d_name + l - 7, ".series"))
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), cmp_str);
	CHECK(n >= 20, "only %d fixtures", n);
	for (int i = 0; i < n; i++) {
		static struct tw_thr_series ser;
		struct tw_thr_verdict v;
		char path[512], kind[32] = "", scenario[64];
		double rate = 0;
		snprintf(path, sizeof(path), "%s/%s", FIXTURES, names[i]);
		snprintf(scenario, sizeof(scenario), "%s", names[i]);
		char *dash = strrchr(scenario, '-');
		if (dash)
			*dash = 0;
		int k;
		for (k = 0; k < nscn && strcmp(scns[k].name, scenario); k++)
			;
		if (k == nscn && nscn < 16)
			snprintf(scns[nscn++].name, sizeof(scns[k].name), "%s", scenario);
		struct scn *sc = &scns[k < 16 ? k : 15];
		int f0 = fails;
		if (load(path, &ser, kind, sizeof(kind), &rate) < 0) {
			fails++;
			free(names[i]);
			continue;
		}
		tw_thr_classify(&ser, &c, &v);
		const struct tw_thr_dir_verdict *s = &v.d[TW_DIR_S2C];
		if (!strcmp(kind, "policing")) {
			sc->policer = rate;
			sc->flows++;
			if (v.kind == TW_THR_POLICING) {
				CHECK(v.dirs & (1 << TW_DIR_S2C), "%s: policing, not towards the client", names[i]);
				CHECK(v.rate_bps >= rate * 0.8 && v.rate_bps <= rate * 1.2,
				      "%s: rate %.0f, policer %.0f", names[i], v.rate_bps, rate);
				if (sc->policed < 64)
					sc->rates[sc->policed++] = v.rate_bps;
			} else {
				CHECK(v.kind != TW_THR_SHAPING && v.kind != TW_THR_CONGESTION,
				      "%s: policed flow seen as %s", names[i], tw_thr_kind_name(v.kind));
			}
		} else if (!strcmp(kind, "shaping")) {
			/* a flow's share of a shaped target is not steady: the
			 * target's aggregate is; a flow must not look policed */
			CHECK(v.kind != TW_THR_POLICING, "%s: policing", names[i]);
		} else if (!strcmp(kind, "app_limited")) {
			CHECK(v.kind == TW_THR_APP_LIMITED, "%s: %s", names[i], tw_thr_kind_name(v.kind));
		} else {
			CHECK(v.kind != TW_THR_POLICING && v.kind != TW_THR_SHAPING, "%s: %s on a %s flow", names[i],
			      tw_thr_kind_name(v.kind), kind);
		}
		judged++;
		printf("%s %-32s expect %-11s got %-11s dirs %d rate %8.0f bit/s cv %.2f rtt+ %6.1f ms loss %u conf "
		       "%.2f\n",
		       fails == f0 ? "ok  " : "FAIL", names[i], kind, tw_thr_kind_name(v.kind), v.dirs, v.rate_bps,
		       s->cv, s->rtt_growth_ms, s->loss_eps, v.confidence);
		free(names[i]);
	}
	for (int k = 0; k < nscn; k++)
		scn_check(&scns[k]);
	CHECK(judged == n, "%d of %d fixtures judged", judged, n);
}

/* a steady 1 Mbit/s series with the given per-sample losses and RTT */
static void synth(struct tw_thr_series *ser, int n, uint32_t loss_per_s, uint32_t rtt_max_us, uint32_t idle)
{
	memset(ser, 0, sizeof(*ser));
	for (int i = 0; i < n; i++) {
		struct tw_thr_sample s;
		memset(&s, 0, sizeof(s));
		s.t_ns = (uint64_t)i * 1000000000ull;
		s.d[TW_DIR_S2C].delivered = (uint64_t)i * 125000;
		s.d[TW_DIR_S2C].packets = (uint32_t)i * 90 + 1;
		s.d[TW_DIR_S2C].loss_eps = (uint32_t)i * loss_per_s;
		s.d[TW_DIR_S2C].idle_sends = (uint32_t)i * idle;
		s.d[TW_DIR_S2C].rtt_min_us = 500;
		s.d[TW_DIR_S2C].rtt_max_us = 500;
		s.d[TW_DIR_C2S].rtt_min_us = 1000;
		s.d[TW_DIR_C2S].rtt_max_us = rtt_max_us;
		tw_thr_series_add(ser, &s);
	}
}

/* n one-second samples of a sender whose every send (per_s a second, seg
 * bytes each) comes after an idle period; RTT 1 ms */
static void idle_sender(struct tw_thr_series *ser, int n, uint32_t per_s, uint32_t seg)
{
	memset(ser, 0, sizeof(*ser));
	for (int i = 0; i < n; i++) {
		struct tw_thr_sample x;
		memset(&x, 0, sizeof(x));
		x.t_ns = (uint64_t)i * 1000000000ull;
		x.d[TW_DIR_S2C].delivered = (uint64_t)i * per_s * seg;
		x.d[TW_DIR_S2C].packets = (uint32_t)i * per_s + 1;
		x.d[TW_DIR_S2C].idle_sends = (uint32_t)i * per_s;
		x.d[TW_DIR_S2C].rtt_min_us = x.d[TW_DIR_S2C].rtt_max_us = 500;
		x.d[TW_DIR_C2S].rtt_min_us = x.d[TW_DIR_C2S].rtt_max_us = 500;
		tw_thr_series_add(ser, &x);
	}
}

/* Low rates (issue 14): a policer at 64 kbit/s that drops each flight's
 * tail before the observer leaves no loss in sight; the sender resends one
 * segment per retransmission timeout (lab: 1 of 4 flows in one run, 2 of 4
 * in another, read as application-limited).  Timeout-paced: policing, with
 * the policer's rate within 20 %.  A slow application writing a segment
 * every 50 ms, or 500 bytes every 250 ms, stays application-limited. */
static void low_rate(void)
{
	static struct tw_thr_series ser;
	struct tw_thr_cfg c;
	struct tw_thr_verdict v;
	char kind[32];
	double rate;
	static const char *const paced[] = { "throttle-police-64-2", "throttle-police-64-b-8" };
	tw_thr_cfg_default(&c);
	for (size_t i = 0; i < sizeof(paced) / sizeof(paced[0]); i++) {
		char path[300];
		snprintf(path, sizeof(path), FIXTURES "/%s.series", paced[i]);
		if (load(path, &ser, kind, sizeof(kind), &rate)) {
			fails++;
			continue;
		}
		tw_thr_classify(&ser, &c, &v);
		CHECK(v.kind == TW_THR_POLICING && v.d[TW_DIR_S2C].timeout_paced && !v.d[TW_DIR_S2C].loss_eps &&
		              v.rate_bps >= rate * 0.8 && v.rate_bps <= rate * 1.2,
		      "%s: %s paced %d rate %.0f", paced[i], tw_thr_kind_name(v.kind), v.d[TW_DIR_S2C].timeout_paced,
		      v.rate_bps);
		/* the rule off: what it was before */
		c.timeout_gap_ms = 0;
		tw_thr_classify(&ser, &c, &v);
		CHECK(v.kind == TW_THR_APP_LIMITED, "%s without the rule: %s", paced[i], tw_thr_kind_name(v.kind));
		tw_thr_cfg_default(&c);
	}
	idle_sender(&ser, 10, 20, 1400); /* a segment every 50 ms */
	tw_thr_classify(&ser, &c, &v);
	CHECK(v.kind == TW_THR_APP_LIMITED, "segment every 50 ms: %s", tw_thr_kind_name(v.kind));
	idle_sender(&ser, 20, 4, 500); /* 500 bytes every 250 ms */
	tw_thr_classify(&ser, &c, &v);
	CHECK(v.kind == TW_THR_APP_LIMITED, "500-byte writes every 250 ms: %s", tw_thr_kind_name(v.kind));
	idle_sender(&ser, 20, 5, 1448); /* a full segment every 200 ms: the same as a policed flow */
	tw_thr_classify(&ser, &c, &v);
	CHECK(v.kind == TW_THR_POLICING && v.d[TW_DIR_S2C].timeout_paced, "segment every 200 ms: %s",
	      tw_thr_kind_name(v.kind));
}

static void synthetic(void)
{
	static struct tw_thr_series ser;
	struct tw_thr_cfg c;
	struct tw_thr_verdict v;
	tw_thr_cfg_default(&c);

	/* n samples, losses per second, largest RTT through the server, idle sends per second */
	static const struct {
		int n;
		uint32_t loss, rtt_max_us, idle;
		enum tw_thr_kind want;
		const char *what;
	} cases[] = {
		{ 10, 3, 1000, 0, TW_THR_POLICING, "steady + losses, no queue" },
		{ 10, 0, 400000, 0, TW_THR_SHAPING, "steady + queue, no loss" },
		{ 10, 0, 1000, 20, TW_THR_APP_LIMITED, "idle sender" },
		{ 10, 0, 1000, 0, TW_THR_NONE, "steady, nothing limiting seen" },
		{ 2, 3, 1000, 0, TW_THR_NONE, "too short to judge" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		synth(&ser, cases[i].n, cases[i].loss, cases[i].rtt_max_us, cases[i].idle);
		tw_thr_classify(&ser, &c, &v);
		CHECK(v.kind == cases[i].want, "%s: %s", cases[i].what, tw_thr_kind_name(v.kind));
		if (cases[i].want == TW_THR_POLICING)
			CHECK(v.dirs == 1 << TW_DIR_S2C && v.rate_bps > 999000 && v.rate_bps < 1001000,
			      "%s: dirs %d rate %.0f", cases[i].what, v.dirs, v.rate_bps);
	}

	/* bounded: 1000 samples keep at most TW_THR_MAX_SAMPLES, first and
	 * last kept, in time order; an out-of-order sample is ignored */
	synth(&ser, 1000, 3, 1000, 0);
	CHECK(ser.n <= TW_THR_MAX_SAMPLES && ser.n > TW_THR_MAX_SAMPLES / 2, "%d samples kept", ser.n);
	CHECK(ser.s[0].t_ns == 0 && ser.s[ser.n - 1].t_ns == 999000000000ull, "ends %llu %llu",
	      (unsigned long long)ser.s[0].t_ns, (unsigned long long)ser.s[ser.n - 1].t_ns);
	int n = ser.n;
	struct tw_thr_sample old = ser.s[1];
	tw_thr_series_add(&ser, &old);
	CHECK(ser.n == n, "an older sample was added");
	tw_thr_classify(&ser, &c, &v);
	CHECK(v.kind == TW_THR_POLICING && v.rate_bps > 999000 && v.rate_bps < 1001000, "long flow: %s %.0f",
	      tw_thr_kind_name(v.kind), v.rate_bps);
}

/* ---- aggregation: shaping per target, the control ---- */
static char alerts[8][16384];
static int nalerts;
static void cap(void *arg, const char *l, size_t n)
{
	(void)arg;
	if (nalerts < 8 && n < sizeof(alerts[0])) {
		memcpy(alerts[nalerts], l, n);
		alerts[nalerts++][n] = 0;
	}
}

#define T0 1700000000000000000ull
/* one ended flow with the rate series of fixture NAME to port, ending at T0 + end_s */
static void flow_to(struct tw_agg *a, const char *name, uint64_t id, const char *pfx, const char *dom, const char *ip,
                    uint16_t port, double end_s, int rated)
{
	static struct tw_thr_series ser;
	struct tw_thr_cfg c;
	struct tw_thr_verdict v;
	char path[300], kind[32];
	double rate;
	tw_thr_cfg_default(&c);
	snprintf(path, sizeof(path), FIXTURES "/%s.series", name);
	if (load(path, &ser, kind, sizeof(kind), &rate))
		return;
	for (int i = 0; i < ser.n; i++) /* the fixture's time base at T0 */
		ser.s[i].t_ns += T0;
	tw_thr_classify(&ser, &c, &v);
	struct tw_flow_outcome o = { .ts_ns = T0 + (uint64_t)(end_s * 1e9),
		                     .flow_id = id,
		                     .client_prefix = pfx,
		                     .server_ip = ip,
		                     .server_port = port,
		                     .proto = "tcp",
		                     .domain = dom,
		                     .answered = 1,
		                     .tamper = NULL,
		                     .rate = rated ? &v : NULL };
	tw_agg_outcome(a, &o);
}

static void flow(struct tw_agg *a, const char *name, uint64_t id, const char *pfx, const char *dom, const char *ip,
                 double end_s, int rated)
{
	flow_to(a, name, id, pfx, dom, ip, 443, end_s, rated);
}

static struct tw_agg *agg_in(const char *state_dir)
{
	struct tw_agg_cfg c;
	char err[200];
	tw_agg_cfg_default(&c);
	c.min_flows = 2;
	nalerts = 0;
	struct tw_agg *a = tw_agg_new(&c, NULL, state_dir, cap, NULL, err, sizeof(err));
	CHECK(a, "tw_agg_new: %s", err);
	return a;
}

static struct tw_agg *agg(void)
{
	return agg_in(NULL);
}

/* A synthetic queued flow (RTT +400 ms, one loss episode) of n one-second
 * samples: bytes per second hi for two seconds, then lo for two, shifted by
 * phase seconds.  Alone it is congestion (no steady rate of its own). */
static void wave_to(struct tw_agg *a, uint64_t id, const char *pfx, uint16_t port, int n, uint32_t hi, uint32_t lo,
                    int phase)
{
	static struct tw_thr_series ser;
	struct tw_thr_cfg c;
	struct tw_thr_verdict v;
	uint64_t dl = 0;
	memset(&ser, 0, sizeof(ser));
	for (int i = 0; i < n; i++) {
		struct tw_thr_sample x;
		memset(&x, 0, sizeof(x));
		x.t_ns = T0 + (uint64_t)i * 1000000000ull;
		if (i)
			dl += ((i - 1 + phase) / 2) % 2 ? lo : hi;
		x.d[TW_DIR_S2C].delivered = x.d[TW_DIR_S2C].seen = dl; /* no retransmission */
		x.d[TW_DIR_S2C].packets = (uint32_t)(dl / 1448) + 1;
		x.d[TW_DIR_S2C].loss_eps = i > 0;
		x.d[TW_DIR_S2C].rtt_min_us = x.d[TW_DIR_S2C].rtt_max_us = 500;
		x.d[TW_DIR_C2S].rtt_min_us = 1000;
		x.d[TW_DIR_C2S].rtt_max_us = 400000;
		tw_thr_series_add(&ser, &x);
	}
	tw_thr_cfg_default(&c);
	tw_thr_classify(&ser, &c, &v);
	CHECK(v.kind == TW_THR_CONGESTION, "wave flow %llu: %s", (unsigned long long)id, tw_thr_kind_name(v.kind));
	struct tw_flow_outcome o = { .ts_ns = T0 + (uint64_t)n * 1000000000ull,
		                     .flow_id = id,
		                     .client_prefix = pfx,
		                     .server_ip = "203.0.113.14",
		                     .server_port = port,
		                     .proto = "tcp",
		                     .domain = "media.example",
		                     .answered = 1,
		                     .rate = &v };
	tw_agg_outcome(a, &o);
}

static void wave(struct tw_agg *a, uint64_t id, const char *pfx, int n, uint32_t hi, uint32_t lo, int phase)
{
	wave_to(a, id, pfx, 443, n, hi, lo, phase);
}

static double stat_of(const char *alert, const char *key)
{
	const char *r = strstr(alert, "\"stats\":");
	const char *k = r ? strstr(r, key) : NULL;
	return k ? atof(k + strlen(key)) : -1;
}

static void aggregation(void)
{
	/* lab throttle-shape (second recording, one time base): two clients'
	 * flows queued by the 1 Mbit/s shaper, congestion-like one by one
	 * (flow 10 was on port 80 in the lab, a target of its own: here on
	 * 443 with the others); flow 8, lossy and idling, is not a candidate.
	 * Nothing yet: no control */
	struct tw_agg *a = agg();
	flow(a, "throttle-shape-b-6", 6, "2001:db8:a::/48", "media.example", "203.0.113.14", 10, 1);
	flow(a, "throttle-shape-b-8", 8, "198.51.100.0/24", "media.example", "203.0.113.14", 10, 1);
	flow(a, "throttle-shape-b-10", 10, "198.51.100.0/24", "media.example", "203.0.113.14", 10, 1);
	tw_agg_tick(a, T0 + 13 * 1000000000ull, 0);
	CHECK(nalerts == 0, "shaping raised without a control: %s", alerts[0]);
	/* the same clients reach bulk.example fast, without a queue: the
	 * next tick raises it, the control and the plateau in the alert */
	flow(a, "throttle-shape-b-4", 4, "198.51.100.0/24", "bulk.example", "203.0.113.13", 11, 1);
	flow(a, "throttle-shape-b-3", 3, "2001:db8:a::/48", "bulk.example", "203.0.113.13", 11, 1);
	tw_agg_tick(a, T0 + 16 * 1000000000ull, 0);
	CHECK(nalerts == 1 && strstr(alerts[0], "\"state\":\"raised\"") &&
	              strstr(alerts[0], "\"method\":\"throttling\"") &&
	              strstr(alerts[0], "\"domain\":\"media.example\"") &&
	              strstr(alerts[0], "\"variant\":\"shaping\"") && strstr(alerts[0], "\"control\":{\"flows\":2,"),
	      "%d alerts: %s", nalerts, alerts[0]);
	double rate = stat_of(alerts[0], "\"rate_bps\":"), speedup = stat_of(alerts[0], "\"speedup\":"),
	       pcv = stat_of(alerts[0], "\"plateau_cv\":");
	/* the flows' share of the 1 Mbit/s shaper; the site's rate per 2 s
	 * within alerts.throttle_plateau_cv (0.6; lab: 0.40) */
	CHECK(rate > 200000 && rate < 1200000 && speedup >= 3, "rate %.0f speedup %.2f", rate, speedup);
	CHECK(pcv >= 0 && pcv <= 0.6, "plateau_cv %.2f", pcv);
	printf("shaping: %d alert(s), aggregate rate %.0f bit/s, control %.1fx faster, plateau cv %.2f\n", nalerts,
	       rate, speedup, pcv);
	tw_agg_free(a);

	/* a third lab run, as it was: flows 9 and 10 (two prefixes) queued on
	 * port 443, 12 lossy without a queue of its own, 8 on port 80: judged
	 * per site (port 0 in the alert), its plateau and its rate count all
	 * four; the rate is the site's sum per 2 s (the clients' own total in
	 * that run: 0.93 Mbit/s) */
	a = agg();
	flow_to(a, "throttle-shape-d-8", 8, "198.51.100.0/24", "media.example", "203.0.113.14", 80, 12, 1);
	flow(a, "throttle-shape-d-9", 9, "198.51.100.0/24", "media.example", "203.0.113.14", 12, 1);
	flow(a, "throttle-shape-d-10", 10, "192.0.2.0/24", "media.example", "203.0.113.14", 12, 1);
	flow(a, "throttle-shape-d-12", 12, "2001:db8:a::/48", "media.example", "2001:db8:113::14", 12, 1);
	flow(a, "throttle-shape-d-2", 2, "198.51.100.0/24", "bulk.example", "203.0.113.13", 12, 1);
	flow(a, "throttle-shape-d-4", 4, "192.0.2.0/24", "bulk.example", "203.0.113.13", 12, 1);
	tw_agg_tick(a, T0 + 15 * 1000000000ull, 0);
	pcv = nalerts ? stat_of(alerts[0], "\"plateau_cv\":") : -1;
	rate = nalerts ? stat_of(alerts[0], "\"rate_bps\":") : -1;
	CHECK(nalerts == 1 && strstr(alerts[0], "\"variant\":\"shaping\"") && strstr(alerts[0], "\"port\":0,") &&
	              strstr(alerts[0], "\"flows\":4,\"affected_flows\":3,") && pcv >= 0 && pcv <= 0.6 &&
	              rate >= 800000 && rate <= 1200000,
	      "third run: %d alerts, cv %.2f rate %.0f: %s", nalerts, pcv, rate, nalerts ? alerts[0] : "");
	printf("shaping (third run): %d alert(s), plateau cv %.2f, rate %.0f bit/s\n", nalerts, pcv, rate);
	tw_agg_free(a);

	/* a fifth lab run, the one make check failed on: the 250 kB queue
	 * (2 s at 1 Mbit/s) made the senders time out and resend what sat in
	 * it, so for seconds the receivers' cumulative ACKs stood still while
	 * the shaper carried resent bytes at its rate.  Read from the ACKed
	 * bytes the site's bins were 0.91, 0.38 and 0.19 Mbit/s (cv 0.76:
	 * nothing raised); read from the bytes seen, retransmissions
	 * included (what the shaper let through), the plateau is flat at its
	 * rate */
	a = agg();
	flow(a, "throttle-shape-e-6", 6, "198.51.100.0/24", "media.example", "203.0.113.14", 10.0, 1);
	flow_to(a, "throttle-shape-e-8", 8, "198.51.100.0/24", "media.example", "203.0.113.14", 80, 10.0, 1);
	flow(a, "throttle-shape-e-10", 10, "2001:db8:a::/48", "media.example", "2001:db8:113::14", 10.0, 1);
	flow(a, "throttle-shape-e-12", 12, "192.0.2.0/24", "media.example", "203.0.113.14", 10.0, 1);
	/* the run's own control flows took half a second at 100 Mbit/s and
	 * more: one snapshot each, no series to rate; the third run's stand in */
	flow(a, "throttle-shape-d-2", 2, "198.51.100.0/24", "bulk.example", "203.0.113.13", 12, 1);
	flow(a, "throttle-shape-d-4", 4, "192.0.2.0/24", "bulk.example", "203.0.113.13", 12, 1);
	tw_agg_tick(a, T0 + 13 * 1000000000ull, 0);
	tw_agg_tick(a, T0 + 16 * 1000000000ull, 1);
	pcv = nalerts ? stat_of(alerts[0], "\"plateau_cv\":") : -1;
	rate = nalerts ? stat_of(alerts[0], "\"rate_bps\":") : -1;
	CHECK(nalerts == 1 && strstr(alerts[0], "\"variant\":\"shaping\"") && strstr(alerts[0], "\"port\":0,") &&
	              pcv >= 0 && pcv <= 0.3 && rate >= 800000 && rate <= 1200000,
	      "fifth run: %d alerts, cv %.2f rate %.0f: %s", nalerts, pcv, rate, nalerts ? alerts[0] : "");
	printf("shaping (fifth run, resent bytes): %d alert(s), plateau cv %.2f, rate %.0f bit/s\n", nalerts, pcv,
	       rate);
	tw_agg_free(a);

	/* per site: the two queued flows taking turns (a flat 2.2 Mbit/s sum),
	 * one on port 443 and one on port 80.  Per port each is one flow
	 * swinging 2 to 0.2 Mbit/s (no case with alerts.min_flows 2, no
	 * plateau); the site's sum is the shaper's rate: one alert, port 0 */
	char dir[] = "/tmp/tw-thr-site-XXXXXX", cmd[64];
	CHECK(mkdtemp(dir), "mkdtemp");
	a = agg_in(dir);
	wave_to(a, 30, "198.51.100.0/24", 443, 13, 250000, 25000, 0);
	wave_to(a, 31, "192.0.2.0/24", 80, 13, 250000, 25000, 2);
	flow(a, "throttle-shape-10", 10, "198.51.100.0/24", "bulk.example", "203.0.113.13", 14, 1);
	flow(a, "throttle-shape-12", 12, "192.0.2.0/24", "bulk.example", "203.0.113.13", 14, 1);
	tw_agg_tick(a, T0 + 17 * 1000000000ull, 0);
	tw_agg_tick(a, T0 + 20 * 1000000000ull, 1);
	pcv = nalerts ? stat_of(alerts[0], "\"plateau_cv\":") : -1;
	rate = nalerts ? stat_of(alerts[0], "\"rate_bps\":") : -1;
	CHECK(nalerts == 1 && strstr(alerts[0], "\"variant\":\"shaping\"") && strstr(alerts[0], "\"port\":0,") &&
	              strstr(alerts[0], "\"affected_flows\":2,") && pcv >= 0 && pcv < 0.1 && rate > 1900000 &&
	              rate < 2500000,
	      "site over two ports: %d alerts, cv %.2f rate %.0f: %s", nalerts, pcv, rate, nalerts ? alerts[0] : "");
	printf("per site (443 + 80): %d alert(s), rate %.0f bit/s, plateau cv %.2f\n", nalerts, rate, pcv);
	/* a further queued flow of the site counts in the open site alert */
	wave_to(a, 32, "198.51.100.0/24", 80, 13, 250000, 25000, 1);
	struct tw_agg_stats st0, st1;
	tw_agg_get_stats(a, &st0);
	CHECK(tw_agg_save(a) == 0, "save");
	tw_agg_free(a);
	/* a restart: the site's alert comes back open, its copies not counted
	 * again as the clients' flows (the control's yardstick) */
	a = agg_in(dir);
	tw_agg_get_stats(a, &st1);
	CHECK(tw_agg_open_alerts(a) == 1 && nalerts == 0 && st1.prefixes == st0.prefixes && st1.targets == st0.targets,
	      "restart: %zu open, %d lines, prefixes %llu/%llu, targets %llu/%llu", tw_agg_open_alerts(a), nalerts,
	      (unsigned long long)st1.prefixes, (unsigned long long)st0.prefixes, (unsigned long long)st1.targets,
	      (unsigned long long)st0.targets);
	/* an update at most (the third flow came after the raise), never a second raise */
	tw_agg_tick(a, T0 + 90 * 1000000000ull, 1);
	CHECK(nalerts <= 1 &&
	              (!nalerts || (strstr(alerts[0], "\"state\":\"updated\"") && strstr(alerts[0], "\"port\":0,") &&
	                            strstr(alerts[0], "\"affected_flows\":3,"))),
	      "restored site alert: %d lines: %s", nalerts, nalerts ? alerts[0] : "");
	tw_agg_free(a);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "cleanup");

	/* the plateau: two queued flows taking turns under a shaper (their
	 * sum flat at 2.2 Mbit/s) raise; the same two flows in phase (the
	 * same mean, the site's rate swinging 4 to 0.4 Mbit/s every 2 s, as
	 * cross traffic makes it) raise nothing, fast control or not */
	for (int inphase = 0; inphase < 2; inphase++) {
		a = agg();
		wave(a, 30, "198.51.100.0/24", 13, 250000, 25000, 0);
		wave(a, 31, "192.0.2.0/24", 13, 250000, 25000, inphase ? 0 : 2);
		flow(a, "throttle-shape-10", 10, "198.51.100.0/24", "bulk.example", "203.0.113.13", 14, 1);
		flow(a, "throttle-shape-12", 12, "192.0.2.0/24", "bulk.example", "203.0.113.13", 14, 1);
		tw_agg_tick(a, T0 + 17 * 1000000000ull, 0);
		tw_agg_tick(a, T0 + 20 * 1000000000ull, 1);
		if (inphase) {
			CHECK(nalerts == 0, "variable site rate raised: %s", alerts[0]);
		} else {
			pcv = nalerts ? stat_of(alerts[0], "\"plateau_cv\":") : -1;
			rate = nalerts ? stat_of(alerts[0], "\"rate_bps\":") : -1;
			CHECK(nalerts == 1 && strstr(alerts[0], "\"variant\":\"shaping\"") && pcv >= 0 && pcv < 0.1 &&
			              rate > 1900000 && rate < 2500000,
			      "flat site rate: %d alerts, cv %.2f rate %.0f: %s", nalerts, pcv, rate,
			      nalerts ? alerts[0] : "");
		}
		printf("plateau: flows %s: %d alert(s)\n", inphase ? "in phase (variable)" : "taking turns (flat)",
		       nalerts);
		tw_agg_free(a);
	}

	/* congestion: the same flows, but the clients' other flows queue too */
	a = agg();
	flow(a, "throttle-shape-2", 2, "198.51.100.0/24", "media.example", "203.0.113.14", 9, 1);
	flow(a, "throttle-shape-6", 6, "192.0.2.0/24", "media.example", "203.0.113.14", 9, 1);
	flow(a, "benign-congestion-2", 20, "198.51.100.0/24", "bulk.example", "203.0.113.13", 10, 1);
	flow(a, "throttle-shape-2", 21, "192.0.2.0/24", "news.example", "203.0.113.11", 10, 1);
	tw_agg_tick(a, T0 + 12 * 1000000000ull, 0);
	CHECK(nalerts == 0, "congestion raised: %s", alerts[0]);
	tw_agg_free(a);

	/* application-limited flows (a slow server) and controls: nothing */
	a = agg();
	flow(a, "benign-slow-server-1", 2, "198.51.100.0/24", "allowed.example", "203.0.113.12", 9, 1);
	flow(a, "benign-slow-server-2", 3, "192.0.2.0/24", "allowed.example", "203.0.113.12", 9, 1);
	flow(a, "throttle-shape-10", 10, "198.51.100.0/24", "bulk.example", "203.0.113.13", 10, 1);
	flow(a, "throttle-shape-12", 12, "192.0.2.0/24", "bulk.example", "203.0.113.13", 10, 1);
	tw_agg_tick(a, T0 + 12 * 1000000000ull, 0);
	CHECK(nalerts == 0, "slow server raised: %s", alerts[0]);
	tw_agg_free(a);
}

int main(void)
{
	fixtures();
	synthetic();
	low_rate();
	aggregation();
	printf("%d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
