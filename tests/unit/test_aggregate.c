/* Unit tests of the per-target alert aggregator (aggregate.c), driven with
 * synthetic flow outcomes and ticks: thresholds, one id through raised /
 * updated / resolved, residual blocking inside one incident, benign flows,
 * configurable thresholds, legitimacy, state round trip, corrupt state,
 * saves at raise/resolve, unreadable state, a lowered max_targets. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "alerts/aggregate.h"
#include "alerts/legit.h"
#include "verdicts/throttle.h"
#include "regions.h"
#include "util/state.h"
#include "capture/sampling.h"

#include "check.h"

#define S 1000000000ull
#define T0 (1700000000ull * S)

static char lines[64][16384];
static int nlines;
static void cap(void *arg, const char *l, size_t n)
{
	(void)arg;
	if (nlines < 64 && n < sizeof(lines[0])) {
		memcpy(lines[nlines], l, n);
		lines[nlines++][n] = 0;
	}
}
static void reset(void)
{
	nlines = 0;
}

/* value of "key":"..." in a line, into out */
static const char *field(const char *line, const char *key, char *out, size_t cap_)
{
	char k[64];
	snprintf(k, sizeof(k), "\"%s\":\"", key);
	const char *p = strstr(line, k);
	if (!p) {
		snprintf(out, cap_, "(none)");
		return out;
	}
	p += strlen(k);
	size_t n = strcspn(p, "\"");
	snprintf(out, cap_, "%.*s", (int)n, p);
	return out;
}
static int count_state(const char *st)
{
	char b[64];
	int n = 0;
	for (int i = 0; i < nlines; i++)
		n += !strcmp(field(lines[i], "state", b, sizeof(b)), st);
	return n;
}

static uint64_t fid;
static uint32_t sampling_n; /* the rate flows are seen at (0: unset, counted as 1) */
static const char *signature = "X";
static void flow(struct tw_agg *a, uint64_t ts, const char *pfx, const char *domain, const char *method, double conf,
                 int answered)
{
	struct tw_tamper tp = {
		.method = method, .signature = signature, .stage = "after_request", .confidence = conf
	};
	struct tw_flow_outcome o = { .ts_ns = ts,
		                     .flow_id = ++fid,
		                     .client_prefix = pfx,
		                     .server_ip = "203.0.113.5",
		                     .server_port = 443,
		                     .proto = "tcp",
		                     .domain = domain,
		                     .answered = answered,
		                     .tamper = method ? &tp : NULL,
		                     .sampling = sampling_n };
	tw_agg_outcome(a, &o);
}

static struct tw_agg *mk(const struct tw_agg_cfg *c, const struct tw_legit *l, const char *dir)
{
	char err[512];
	struct tw_agg_cfg d;
	tw_agg_cfg_default(&d);
	struct tw_agg *a = tw_agg_new(c ? c : &d, l, dir, cap, NULL, err, sizeof(err));
	CHECK(a, "tw_agg_new: %s", err);
	reset();
	return a;
}

static void test_raise_update_resolve(void)
{
	struct tw_agg *a = mk(NULL, NULL, NULL);
	char id[64], b[64];
	flow(a, T0, "198.51.100.0/24", "blocked.example", "rst_injection", 0.95, 0);
	flow(a, T0 + 5 * S, "198.51.100.0/24", "blocked.example", "rst_injection", 0.95, 0);
	tw_agg_tick(a, T0 + 6 * S, 0);
	CHECK(nlines == 0, "2 tampered flows raised: %d lines", nlines);
	flow(a, T0 + 10 * S, "192.0.2.0/24", "blocked.example", "rst_injection", 0.95, 0);
	CHECK(nlines == 1 && count_state("raised") == 1, "3rd flow: %d lines", nlines);
	CHECK(strstr(lines[0], "\"signature_id\":2001") && strstr(lines[0], "\"category\":\"blocking\"") &&
	              strstr(lines[0], "\"domain\":\"blocked.example\"") && strstr(lines[0], "\"clients\":2") &&
	              strstr(lines[0], "\"legitimacy\":\"undeclared\"") && strstr(lines[0], "\"region\":null"),
	      "%s", lines[0]);
	field(lines[0], "id", id, sizeof(id));
	CHECK(strlen(id) == 16, "id %s", id);
	/* residual blocking: later flows time out (blackhole 0.4) for a while: same incident */
	for (int i = 0; i < 6; i++)
		flow(a, T0 + (20 + i * 10) * S, "100.64.1.0/24", i % 3 ? "blocked.example" : NULL, "blackhole", 0.4, 0);
	/* (no name: SYN timeouts to the incident's address count in it too) */
	tw_agg_tick(a, T0 + 30 * S, 0);
	CHECK(count_state("updated") == 0, "update before update_interval");
	tw_agg_tick(a, T0 + 80 * S, 0);
	CHECK(count_state("updated") == 1 && count_state("raised") == 1, "%d lines", nlines);
	CHECK(strstr(lines[nlines - 1], "\"methods_seen\":[\"rst_injection\",\"blackhole\"]") &&
	              strstr(lines[nlines - 1], "\"affected_flows\":9") && strstr(lines[nlines - 1], "\"clients\":3"),
	      "%s", lines[nlines - 1]);
	tw_agg_tick(a, T0 + 81 * S, 0);
	tw_agg_tick(a, T0 + 200 * S, 0);
	CHECK(count_state("updated") == 1, "updated without a change");
	/* recovery: 2 answered clean flows are not enough, an unanswered one does not count */
	flow(a, T0 + 300 * S, "198.51.100.0/24", "blocked.example", NULL, 0, 1);
	flow(a, T0 + 301 * S, "198.51.100.0/24", "blocked.example", NULL, 0, 1);
	flow(a, T0 + 302 * S, "198.51.100.0/24", "blocked.example", NULL, 0, 0);
	CHECK(count_state("resolved") == 0, "resolved too early");
	flow(a, T0 + 303 * S, "198.51.100.0/24", "blocked.example", NULL, 0, 1);
	CHECK(count_state("resolved") == 1, "not resolved after 3 answered flows");
	for (int i = 0; i < nlines; i++)
		CHECK(!strcmp(field(lines[i], "id", b, sizeof(b)), id), "line %d id %s != %s", i, b, id);
	CHECK(strstr(lines[nlines - 1], "\"resolution\":\"recovered\""), "%s", lines[nlines - 1]);
	CHECK(tw_agg_open_alerts(a) == 0, "open after resolve");
	/* a new, later incident gets a new id */
	for (int i = 0; i < 3; i++)
		flow(a, T0 + (400 + i) * S, "198.51.100.0/24", "blocked.example", "rst_injection", 0.9, 0);
	CHECK(count_state("raised") == 2 && strcmp(field(lines[nlines - 1], "id", b, sizeof(b)), id),
	      "second incident: %d raised, id %s", count_state("raised"), b);
	tw_agg_free(a);
}

static void test_quiet_resolve(void)
{
	struct tw_agg *a = mk(NULL, NULL, NULL);
	for (int i = 0; i < 3; i++)
		flow(a, T0 + i * S, "198.51.100.0/24", "x.example", "dns_injection", 0.9, 1);
	CHECK(count_state("raised") == 1 && strstr(lines[0], "\"signature_id\":2003"), "dns raise");
	tw_agg_tick(a, T0 + 601 * S, 0);
	CHECK(count_state("resolved") == 0, "resolved before resolve_after");
	tw_agg_tick(a, T0 + 602 * S, 0);
	CHECK(count_state("resolved") == 1 && strstr(lines[nlines - 1], "\"resolution\":\"quiet\""), "quiet");
	tw_agg_free(a);
}

/* a regional block: the spared region's clean flows to the same target
 * neither resolve the incident nor break the blocked region's recovery */
static void test_regional_recovery(void)
{
	struct tw_agg *a = mk(NULL, NULL, NULL);
	const char *blk = "198.51.100.0/24", *ok6 = "2001:db8:b::/48";
	for (int i = 0; i < 3; i++) {
		flow(a, T0 + i * S, blk, "blocked.example", "rst_injection", 0.95, 0);
		flow(a, T0 + i * S, ok6, "blocked.example", NULL, 0, 1);
	}
	CHECK(count_state("raised") == 1, "regional block: %d lines", nlines);
	for (int i = 0; i < 5; i++)
		flow(a, T0 + (10 + i) * S, ok6, "blocked.example", NULL, 0, 1);
	CHECK(count_state("resolved") == 0, "resolved by the spared region's flows");
	flow(a, T0 + 20 * S, blk, "blocked.example", "rst_injection", 0.95, 0);
	flow(a, T0 + 30 * S, blk, "blocked.example", NULL, 0, 1);
	flow(a, T0 + 31 * S, ok6, "blocked.example", NULL, 0, 1);
	flow(a, T0 + 32 * S, blk, "blocked.example", NULL, 0, 1);
	CHECK(count_state("resolved") == 0, "resolved after 2 clean flows of the blocked region");
	flow(a, T0 + 33 * S, blk, "blocked.example", NULL, 0, 1);
	CHECK(count_state("resolved") == 1 && count_state("raised") == 1 &&
	              strstr(lines[nlines - 1], "\"resolution\":\"recovered\""),
	      "%d lines", nlines);
	tw_agg_free(a);
}

static void test_benign(void)
{
	struct tw_agg *a = mk(NULL, NULL, NULL);
	const char *p[] = { "198.51.100.0/24", "192.0.2.0/24", "100.64.1.0/24" };
	for (int i = 0; i < 300; i++) {
		flow(a, T0 + i * S, p[i % 3], "ok.example", NULL, 0, 1);              /* answered */
		flow(a, T0 + i * S, p[i % 3], "ok.example", NULL, 0, 0);              /* unanswered, no verdict */
		flow(a, T0 + i * S, p[i % 3], "ok.example", "rst_injection", 0.3, 1); /* weak evidence */
		flow(a, T0 + i * S, p[i % 3], "ok.example", "blackhole", 0.3, 0);     /* below the timeout threshold */
		if (i % 10 == 0)
			tw_agg_tick(a, T0 + i * S, 0);
	}
	/* a few real resets among many good flows: share below min_ratio */
	for (int i = 0; i < 5; i++)
		flow(a, T0 + 300 * S, p[0], "ok.example", "rst_injection", 0.95, 0);
	tw_agg_tick(a, T0 + 400 * S, 1);
	CHECK(nlines == 0, "benign raised: %s", nlines ? lines[0] : "");
	tw_agg_free(a);
	/* tampered flows farther apart than the window never add up */
	a = mk(NULL, NULL, NULL);
	for (int i = 0; i < 5; i++)
		flow(a, T0 + i * 400 * S, p[0], "slow.example", "rst_injection", 0.95, 0);
	CHECK(nlines == 0, "window ignored");
	tw_agg_free(a);
}

static void test_thresholds(void)
{
	struct tw_agg_cfg c;
	tw_agg_cfg_default(&c);
	c.min_flows = 5;
	struct tw_agg *a = mk(&c, NULL, NULL);
	for (int i = 0; i < 4; i++)
		flow(a, T0 + i * S, "198.51.100.0/24", NULL, "tls_interference", 0.8, 0);
	CHECK(nlines == 0, "min_flows=5 raised at 4");
	flow(a, T0 + 4 * S, "198.51.100.0/24", NULL, "tls_interference", 0.8, 0);
	CHECK(count_state("raised") == 1 && strstr(lines[0], "\"signature_id\":2004") &&
	              strstr(lines[0], "\"domain\":null") && strstr(lines[0], "\"ip\":\"203.0.113.5\""),
	      "%s", nlines ? lines[0] : "");
	tw_agg_free(a);
	/* blackhole: 5 flows and 2 prefixes */
	a = mk(NULL, NULL, NULL);
	for (int i = 0; i < 4; i++)
		flow(a, T0 + i * S, i % 2 ? "198.51.100.0/24" : "192.0.2.0/24", "bh.example", "blackhole", 0.4, 0);
	CHECK(nlines == 0, "blackhole raised at 4");
	flow(a, T0 + 4 * S, "192.0.2.0/24", "bh.example", "blackhole", 0.4, 0);
	CHECK(count_state("raised") == 1 && strstr(lines[0], "\"method\":\"blackhole\"") &&
	              strstr(lines[0], "\"severity\":2"),
	      "%s", nlines ? lines[0] : "");
	tw_agg_free(a);
	/* blackhole from one prefix: needs share >= 0.8 */
	a = mk(NULL, NULL, NULL);
	for (int i = 0; i < 6; i++) {
		flow(a, T0 + i * S, "198.51.100.0/24", "bh.example", "blackhole", 0.4, 0);
		flow(a, T0 + i * S, "198.51.100.0/24", "bh.example", NULL, 0, 1);
	}
	CHECK(nlines == 0, "one-prefix blackhole at share 0.5 raised");
	tw_agg_free(a);
	/* one prefix, every flow timing out (a server down for one client): nothing by default ... */
	a = mk(NULL, NULL, NULL);
	for (int i = 0; i < 9; i++)
		flow(a, T0 + i * S, "172.16.16.0/24", NULL, "blackhole", 0.4, 0);
	CHECK(nlines == 0, "one-prefix blackhole raised");
	tw_agg_free(a);
	/* ... two prefixes but most flows answered: nothing ... */
	a = mk(NULL, NULL, NULL);
	for (int i = 0; i < 10; i++) {
		flow(a, T0 + i * S, i % 2 ? "198.51.100.0/24" : "192.0.2.0/24", "bh.example", "blackhole", 0.4, 0);
		flow(a, T0 + i * S, i % 2 ? "198.51.100.0/24" : "192.0.2.0/24", "bh.example", NULL, 0, 1);
	}
	CHECK(nlines == 0, "two-prefix blackhole at share 0.5 raised");
	tw_agg_free(a);
	/* ... unless configured for a one-prefix network */
	c.blackhole_min_prefixes = 1;
	a = mk(&c, NULL, NULL);
	for (int i = 0; i < 5; i++)
		flow(a, T0 + i * S, "172.16.16.0/24", NULL, "blackhole", 0.4, 0);
	CHECK(count_state("raised") == 1, "blackhole_min_prefixes=1 ignored");
	tw_agg_free(a);
	c.blackhole_min_prefixes = 2;
	c.min_confidence_timeout = 0.5;
	a = mk(&c, NULL, NULL);
	for (int i = 0; i < 8; i++)
		flow(a, T0 + i * S, i % 2 ? "198.51.100.0/24" : "192.0.2.0/24", "bh.example", "blackhole", 0.4, 0);
	CHECK(nlines == 0, "min_confidence_timeout ignored");
	tw_agg_free(a);
	c.min_confidence_timeout = 0.4;
	c.min_prefixes = 2;
	a = mk(&c, NULL, NULL);
	for (int i = 0; i < 8; i++)
		flow(a, T0 + i * S, "198.51.100.0/24", "one.example", "rst_injection", 0.9, 0);
	CHECK(nlines == 0, "min_prefixes ignored");
	flow(a, T0 + 9 * S, "192.0.2.0/24", "one.example", "rst_injection", 0.9, 0);
	CHECK(count_state("raised") == 1, "second prefix did not raise");
	tw_agg_free(a);
}

/* Shares are counted per client prefix and per region, not over all of
 * a target's clients: a region the censor spares does not dilute a
 * regional block, and clean flows from the same clients still do. */
static void test_shares(void)
{
	const char *a1 = "198.51.100.0/24", *a2 = "2001:db8:a::/48", *b1 = "192.0.2.0/24";
	/* region-a reset on every flow, region-b's 8 clean flows: 3/11 overall */
	struct tw_agg *a = mk(NULL, NULL, NULL);
	for (int i = 0; i < 8; i++)
		flow(a, T0 + i * S, b1, "blocked.example", NULL, 0, 1);
	for (int i = 0; i < 3; i++)
		flow(a, T0 + (10 + i) * S, a1, "blocked.example", "dns_injection", 0.9, 0);
	CHECK(count_state("raised") == 1 && strstr(lines[0], "\"prefixes\":[\"198.51.100.0/24\"]"),
	      "regional block diluted by the spared region: %s", nlines ? lines[0] : "(none)");
	tw_agg_free(a);
	/* the same 3 tampered flows, each among clean ones from its own prefix */
	a = mk(NULL, NULL, NULL);
	const char *p3[] = { a1, a2, b1 };
	for (int k = 0; k < 3; k++) {
		for (int i = 0; i < 3; i++)
			flow(a, T0 + i * S, p3[k], "busy.example", NULL, 0, 1);
		flow(a, T0 + 5 * S, p3[k], "busy.example", "rst_injection", 0.9, 0);
	}
	CHECK(nlines == 0, "one tampered flow in four per prefix raised: %s", nlines ? lines[0] : "");
	tw_agg_free(a);

	/* silence after a ClientHello: tls_interference at the timeout
	 * confidence, judged with the blackhole thresholds (5 flows, 2 prefixes,
	 * share 0.8 within the group) */
	signature = "PSH->timeout";
	a = mk(NULL, NULL, NULL);
	for (int i = 0; i < 6; i++)
		flow(a, T0 + i * S, b1, "tls.example", NULL, 0, 1);
	for (int i = 0; i < 4; i++)
		flow(a, T0 + (10 + i) * S, i % 2 ? a1 : a2, "tls.example", "tls_interference", 0.4, 0);
	CHECK(nlines == 0, "silent tls_interference raised at 4 flows");
	flow(a, T0 + 15 * S, a1, "tls.example", "tls_interference", 0.4, 0);
	CHECK(count_state("raised") == 1 && strstr(lines[0], "\"method\":\"tls_interference\"") &&
	              strstr(lines[0], "\"signature_id\":2004"),
	      "silent ClientHellos: %s", nlines ? lines[0] : "(none)");
	tw_agg_free(a);
	/* ... from one prefix only: not by default */
	a = mk(NULL, NULL, NULL);
	for (int i = 0; i < 9; i++)
		flow(a, T0 + i * S, a1, "tls.example", "tls_interference", 0.4, 0);
	CHECK(nlines == 0, "silent tls_interference from one prefix raised");
	tw_agg_free(a);
	/* ... on a vantage point (deployment.profile = vantage: one prefix
	 * enough, with a control): silent QUIC Initials to one target with no
	 * other target answered raise nothing; with the client's other targets
	 * answered, one alert for the target, quic_interference, 2009 */
	{
		struct tw_agg_cfg vc;
		tw_agg_cfg_default(&vc);
		vc.blackhole_min_prefixes = 1;
		vc.require_control = 1;
		signature = "INITIAL->timeout";
		a = mk(&vc, NULL, NULL);
		for (int i = 0; i < 9; i++)
			flow(a, T0 + i * S, a1, "quic.example", "quic_interference", 0.43, 0);
		CHECK(nlines == 0, "vantage without a control raised: %s", nlines ? lines[0] : "");
		tw_agg_free(a);
		a = mk(&vc, NULL, NULL);
		for (int i = 0; i < 3; i++)
			flow(a, T0 + i * S, a1, "control.example", NULL, 0, 1);
		for (int i = 0; i < 5; i++)
			flow(a, T0 + (5 + i) * S, a1, "quic.example", "quic_interference", 0.43, 0);
		CHECK(count_state("raised") == 1 && strstr(lines[0], "\"method\":\"quic_interference\"") &&
		              strstr(lines[0], "\"signature_id\":2009") && strstr(lines[0], "quic.example"),
		      "vantage with a control: %s", nlines ? lines[0] : "(none)");
		tw_agg_free(a);
		signature = "PSH->timeout";
	}
	/* ... and below 0.8 within each prefix: nothing */
	a = mk(NULL, NULL, NULL);
	for (int i = 0; i < 8; i++) {
		flow(a, T0 + i * S, i % 2 ? a1 : a2, "tls.example", "tls_interference", 0.4, 0);
		if (i % 3 == 0)
			flow(a, T0 + i * S, i % 2 ? a1 : a2, "tls.example", NULL, 0, 1);
	}
	CHECK(nlines == 0, "silent tls_interference at share 0.73 raised: %s", nlines ? lines[0] : "");
	tw_agg_free(a);
	/* a timeout verdict stays weak for the active thresholds: a signature
	 * that is not a timeout at 0.4 never counts */
	signature = "X";
	a = mk(NULL, NULL, NULL);
	for (int i = 0; i < 9; i++)
		flow(a, T0 + i * S, i % 2 ? a1 : a2, "tls.example", "tls_interference", 0.4, 0);
	CHECK(nlines == 0, "tls_interference at 0.4 without a timeout raised");
	tw_agg_free(a);

	/* per region: prefix a1 4 of 4 silent, a2 3 of 4 (below 0.8 alone),
	 * region-b 10 clean: region-a's share 7/8 makes the case */
	struct tw_regions *rg = calloc(1, sizeof(*rg));
	char err[256];
	CHECK(rg && tw_regions_parse(rg, "regions",
	                             "198.51.100.0/24 region-a\n2001:db8:a::/48 region-a\n"
	                             "192.0.2.0/24 region-b\n",
	                             err, sizeof(err)) == 0,
	      "regions: %s", err);
	struct tw_agg_cfg c;
	tw_agg_cfg_default(&c);
	for (int with = 0; with < 2; with++) {
		c.regions = with ? rg : NULL;
		a = mk(&c, NULL, NULL);
		for (int i = 0; i < 10; i++)
			flow(a, T0 + i * S, b1, "bh.example", NULL, 0, 1);
		flow(a, T0 + 10 * S, a2, "bh.example", NULL, 0, 1);
		for (int i = 0; i < 4; i++)
			flow(a, T0 + (11 + i) * S, a1, "bh.example", "blackhole", 0.4, 0);
		for (int i = 0; i < 3; i++)
			flow(a, T0 + (15 + i) * S, a2, "bh.example", "blackhole", 0.4, 0);
		CHECK(count_state("raised") == with, "per-region share (regions %s): %d lines", with ? "on" : "off",
		      nlines);
		if (with && nlines)
			CHECK(strstr(lines[0], "\"region\":\"region-a\""), "%s", lines[0]);
		tw_agg_free(a);
	}
	tw_regions_free(rg);
	free(rg);

	/* silent flows keep their class across a restart (state file) */
	char dir[] = "/tmp/tw-shares-XXXXXX", cmd[64];
	CHECK(mkdtemp(dir), "mkdtemp");
	signature = "PSH->timeout";
	a = mk(NULL, NULL, dir);
	for (int i = 0; i < 3; i++)
		flow(a, T0 + i * S, i % 2 ? a1 : a2, "tls.example", "tls_interference", 0.4, 0);
	tw_agg_tick(a, T0 + 5 * S, 1);
	tw_agg_free(a);
	a = mk(NULL, NULL, dir);
	flow(a, T0 + 6 * S, a1, "tls.example", "tls_interference", 0.4, 0);
	CHECK(nlines == 0, "silent flows restored as active ones: %s", nlines ? lines[0] : "");
	flow(a, T0 + 7 * S, a1, "tls.example", "tls_interference", 0.4, 0);
	CHECK(count_state("raised") == 1, "silent flows not restored: %d lines", nlines);
	tw_agg_free(a);
	signature = "X";
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "cleanup");
}

/* "Against other targets from the same clients": silence from prefixes
 * whose flows to other targets go unanswered too is their own network (an
 * outage, a shutdown), not a block of one target. */
static void test_dark(void)
{
	const char *p2[] = { "198.51.100.0/24", "2001:db8:a::/48" };
	for (int others_answered = 0; others_answered < 2; others_answered++) {
		struct tw_agg *a = mk(NULL, NULL, NULL);
		for (int i = 0; i < 8; i++)
			for (int k = 0; k < 2; k++) {
				uint64_t ts = T0 + (uint64_t)i * S;
				if (others_answered) {
					flow(a, ts, p2[k], "other1.example", NULL, 0, 1);
					flow(a, ts, p2[k], "other2.example", NULL, 0, 1);
				} else {
					flow(a, ts, p2[k], "other1.example", "blackhole", 0.4, 0);
					flow(a, ts, p2[k], "other2.example", NULL, 0, 0); /* e.g. DNS, no answer */
				}
				flow(a, ts, p2[k], "bh.example", "blackhole", 0.4, 0);
			}
		int want = others_answered ? 1 : 0;
		CHECK(count_state("raised") == want, "others %s: %d raised, want %d: %s",
		      others_answered ? "answered" : "unanswered", count_state("raised"), want, nlines ? lines[0] : "");
		if (want && nlines)
			CHECK(strstr(lines[0], "bh.example"), "%s", lines[0]);
		struct tw_agg_stats st;
		tw_agg_get_stats(a, &st);
		CHECK(st.prefixes == 2 && st.targets == 3 && st.open == (uint64_t)want && !st.prefixes_dropped &&
		              !st.targets_dropped,
		      "stats: %llu prefixes, %llu targets, %llu open", (unsigned long long)st.prefixes,
		      (unsigned long long)st.targets, (unsigned long long)st.open);
		tw_agg_free(a);
	}
	/* targets beyond alerts.max_targets are counted, not silently lost */
	struct tw_agg_cfg c;
	tw_agg_cfg_default(&c);
	c.max_targets = 2;
	struct tw_agg *a = mk(&c, NULL, NULL);
	const char *d[] = { "a.example", "b.example", "c.example", "d.example" };
	for (int i = 0; i < 4; i++)
		flow(a, T0, p2[0], d[i], NULL, 0, 1);
	struct tw_agg_stats st;
	tw_agg_get_stats(a, &st);
	CHECK(st.targets == 2 && st.targets_dropped == 2, "max_targets: %llu targets, %llu dropped",
	      (unsigned long long)st.targets, (unsigned long long)st.targets_dropped);
	tw_agg_free(a);
}

static struct tw_legit *legit_from(const char *text)
{
	char path[] = "/tmp/tw-legit-XXXXXX", err[512];
	int fd = mkstemp(path);
	CHECK(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text), "tmp");
	close(fd);
	struct tw_legit *l = tw_legit_load(path, err, sizeof(err));
	CHECK(l, "load: %s", err);
	unlink(path);
	return l;
}

static void test_legitimacy(void)
{
	struct tw_legit *l = legit_from("*.blocked.example, rst_injection, Law 12 art. 4, 2020-01-01,\n"
	                                "203.0.113.0/24, dns_injection, Order 7, ,\n");
	struct tw_agg *a = mk(NULL, l, NULL);
	for (int i = 0; i < 3; i++)
		flow(a, T0 + i * S, "198.51.100.0/24", "www.blocked.example", "rst_injection", 0.9, 0);
	CHECK(strstr(lines[0], "\"legitimacy\":\"declared\"") &&
	              strstr(lines[0], "\"legal_reference\":\"Law 12 art. 4\"") &&
	              !strstr(lines[0], "declaration_mismatch") && strstr(lines[0], "\"severity\":3"),
	      "%s", lines[0]);
	reset();
	for (int i = 0; i < 3; i++) /* matches the CIDR, enforced with RSTs instead of DNS */
		flow(a, T0 + i * S, "198.51.100.0/24", "other.example", "rst_injection", 0.9, 0);
	CHECK(strstr(lines[0], "\"legitimacy\":\"declared\"") &&
	              strstr(lines[0],
	                     "\"declaration_mismatch\":{\"declared\":\"dns_injection\",\"seen\":\"rst_injection\"}"),
	      "%s", lines[0]);
	tw_agg_free(a);
	tw_legit_free(l);
	l = legit_from("blocked.example, any, Law 1, 2000-01-01, 2001-01-01\n");
	a = mk(NULL, l, NULL);
	for (int i = 0; i < 3; i++)
		flow(a, T0 + i * S, "198.51.100.0/24", "blocked.example", "http_blockpage", 0.9, 0);
	CHECK(strstr(lines[0], "\"legitimacy\":\"undeclared\"") && !strstr(lines[0], "legal_reference") &&
	              strstr(lines[0], "\"signature_id\":2002"),
	      "%s", lines[0]);
	tw_agg_free(a);
	tw_legit_free(l);
}

static int count_corrupt(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)))
		n += !strncmp(e->d_name, "alerts.state.corrupt-", 21);
	if (d)
		closedir(d);
	return n;
}

static void test_state(void)
{
	char dir[] = "/tmp/tw-state-XXXXXX", id[64], b[64], path[256];
	CHECK(mkdtemp(dir), "mkdtemp");
	snprintf(path, sizeof(path), "%s/alerts.state", dir);
	struct tw_agg *a = mk(NULL, NULL, dir);
	for (int i = 0; i < 3; i++)
		flow(a, T0 + i * S, "198.51.100.0/24", "blocked example\"%", "rst_injection", 0.9, 0);
	flow(a, T0 + 3 * S, "192.0.2.0/24", "benign.example", NULL, 0, 1);
	CHECK(count_state("raised") == 1, "raise");
	field(lines[0], "id", id, sizeof(id));
	tw_agg_tick(a, T0 + 4 * S, 1);
	tw_agg_free(a);
	CHECK(access(path, F_OK) == 0, "no state file");

	a = mk(NULL, NULL, dir);
	CHECK(tw_agg_open_alerts(a) == 1, "restored %zu open alerts", tw_agg_open_alerts(a));
	flow(a, T0 + 10 * S, "100.64.1.0/24", "blocked example\"%", "rst_injection", 0.9, 0);
	tw_agg_tick(a, T0 + 100 * S, 0);
	CHECK(count_state("raised") == 0 && count_state("updated") == 1, "after restart: %d lines", nlines);
	for (int i = 0; i < 3; i++)
		flow(a, T0 + (110 + i) * S, "100.64.1.0/24", "blocked example\"%", NULL, 0, 1);
	CHECK(count_state("resolved") == 1, "not resolved after restart");
	for (int i = 0; i < nlines; i++)
		CHECK(!strcmp(field(lines[i], "id", b, sizeof(b)), id), "id changed across restart: %s != %s", b, id);
	CHECK(nlines && strstr(lines[nlines - 1], "\"affected_flows\":4") && strstr(lines[nlines - 1], "\"clients\":2"),
	      "%s", nlines ? lines[nlines - 1] : "");
	tw_agg_free(a); /* no final tick: state still has the open alert */

	/* truncated file: reported, set aside, empty start */
	FILE *f = fopen(path, "r+b");
	CHECK(f && ftruncate(fileno(f), 40) == 0, "truncate");
	if (f)
		fclose(f);
	a = mk(NULL, NULL, dir);
	CHECK(tw_agg_open_alerts(a) == 0 && count_corrupt(dir) == 1 && access(path, F_OK) != 0,
	      "truncated state: %zu open, %d aside", tw_agg_open_alerts(a), count_corrupt(dir));
	tw_agg_free(a);
	/* flipped byte: checksum or zlib error */
	a = mk(NULL, NULL, dir);
	for (int i = 0; i < 3; i++)
		flow(a, T0 + i * S, "198.51.100.0/24", "b.example", "rst_injection", 0.9, 0);
	tw_agg_tick(a, T0 + 5 * S, 1);
	tw_agg_free(a);
	f = fopen(path, "r+b");
	fseek(f, 40, SEEK_SET);
	int ch = fgetc(f);
	fseek(f, 40, SEEK_SET);
	fputc(ch ^ 0x5a, f);
	fclose(f);
	a = mk(NULL, NULL, dir);
	CHECK(tw_agg_open_alerts(a) == 0 && count_corrupt(dir) == 2, "flipped byte: %d aside", count_corrupt(dir));
	tw_agg_free(a);
	/* well-formed file, malformed content */
	char err[512];
	CHECK(tw_state_save(dir, "alerts.state", "V 1 5\nT bogus\nEND\n", 18, err, sizeof(err)) == 0, "%s", err);
	a = mk(NULL, NULL, dir);
	CHECK(tw_agg_open_alerts(a) == 0 && count_corrupt(dir) == 3, "malformed: %d aside", count_corrupt(dir));
	tw_agg_free(a);
	/* garbage */
	f = fopen(path, "wb");
	fputs("hello world, not a state file at all......", f);
	fclose(f);
	a = mk(NULL, NULL, dir);
	CHECK(count_corrupt(dir) == 4, "garbage: %d aside", count_corrupt(dir));
	tw_agg_free(a);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "cleanup");
}

/* Throttling (method 6, class rate): its own category and signature, the
 * throttled flows' rate in stats, and the method through alerts.state v2 */
static void throttled(struct tw_agg *a, uint64_t ts, const char *pfx, double bps)
{
	struct tw_tamper tp = { .method = "throttling",
		                .signature = "policing",
		                .stage = "transfer",
		                .confidence = 0.8,
		                .rate_bps = bps,
		                .throttle_dirs = 2 };
	struct tw_flow_outcome o = { .ts_ns = ts,
		                     .flow_id = ++fid,
		                     .client_prefix = pfx,
		                     .server_ip = "203.0.113.9",
		                     .server_port = 443,
		                     .proto = "tcp",
		                     .domain = "slow.example",
		                     .answered = 1,
		                     .tamper = &tp };
	tw_agg_outcome(a, &o);
}

/* a rated flow (a busy TCP flow's rate series, no verdict) of pfx to
 * domain (port 443, or 80 with web) at bps: the control of a throttling
 * case */
static void rated_port(struct tw_agg *a, uint64_t ts, const char *pfx, const char *domain, double bps, int web)
{
	struct tw_thr_verdict v;
	memset(&v, 0, sizeof(v));
	v.kind = TW_THR_NONE;
	v.goodput_bps = bps;
	v.seconds = 2;
	struct tw_flow_outcome o = { .ts_ns = ts,
		                     .flow_id = ++fid,
		                     .client_prefix = pfx,
		                     .server_ip = web ? "203.0.113.9" : "203.0.113.77",
		                     .server_port = web ? 80 : 443,
		                     .proto = "tcp",
		                     .domain = domain,
		                     .answered = 1,
		                     .rate = &v };
	tw_agg_outcome(a, &o);
}

static void rated(struct tw_agg *a, uint64_t ts, const char *pfx, const char *domain, double bps)
{
	rated_port(a, ts, pfx, domain, bps, 0);
}

/* Policing needs the control (issue 14: "while the same clients reach
 * other targets faster"): policed flows whose clients fetched nothing else
 * raise nothing (counted once in stats.alerts.throttling_uncontrolled),
 * nor with controls no faster than alerts.throttle_control_ratio times the
 * policed rate; fast controls that come later raise it at the next tick. */
static void test_throttling_control(void)
{
	struct tw_agg_stats st;
	struct tw_agg *a = mk(NULL, NULL, NULL);
	throttled(a, T0, "198.51.100.0/24", 120000);
	throttled(a, T0 + 1 * S, "198.51.100.0/24", 130000);
	throttled(a, T0 + 2 * S, "192.0.2.0/24", 140000);
	tw_agg_tick(a, T0 + 3 * S, 0);
	tw_agg_tick(a, T0 + 6 * S, 0);
	tw_agg_get_stats(a, &st);
	CHECK(nlines == 0, "policing raised without a control: %s", nlines ? lines[0] : "");
	CHECK(st.throttling_uncontrolled == 1, "uncontrolled cases %llu",
	      (unsigned long long)st.throttling_uncontrolled);
	/* controls, but slow: 2.5 times the policed median (ratio 3) */
	rated(a, T0 + 7 * S, "198.51.100.0/24", "other.example", 325000);
	rated(a, T0 + 7 * S, "192.0.2.0/24", "other.example", 325000);
	tw_agg_tick(a, T0 + 9 * S, 0);
	CHECK(nlines == 0, "policing raised with a slow control: %s", nlines ? lines[0] : "");
	/* a control on another port of the policed site is not a control */
	for (int i = 0; i < 4; i++)
		rated_port(a, T0 + 10 * S, "198.51.100.0/24", "slow.example", 50e6, 1);
	tw_agg_tick(a, T0 + 12 * S, 0);
	CHECK(nlines == 0, "the policed site's own port taken as control: %s", nlines ? lines[0] : "");
	/* the same clients reach another site fast: raised at the next tick */
	rated(a, T0 + 13 * S, "198.51.100.0/24", "fast.example", 40e6);
	rated(a, T0 + 13 * S, "192.0.2.0/24", "fast.example", 60e6);
	tw_agg_tick(a, T0 + 15 * S, 0);
	tw_agg_get_stats(a, &st);
	CHECK(nlines == 1 && count_state("raised") == 1 && strstr(lines[0], "\"variant\":\"policing\"") &&
	              strstr(lines[0], "\"control\":{\"flows\":4,"),
	      "%d lines: %s", nlines, nlines ? lines[0] : "");
	CHECK(st.throttling_uncontrolled == 1, "uncontrolled cases %llu",
	      (unsigned long long)st.throttling_uncontrolled);
	tw_agg_free(a);
}

static void test_throttling(void)
{
	char dir[] = "/tmp/tw-thr-XXXXXX", id[64], b[64], path[256];
	CHECK(mkdtemp(dir), "mkdtemp");
	snprintf(path, sizeof(path), "%s/alerts.state", dir);
	struct tw_agg *a = mk(NULL, NULL, dir);
	/* the control: both prefixes reach another site fast */
	rated(a, T0, "198.51.100.0/24", "fast.example", 50e6);
	rated(a, T0, "192.0.2.0/24", "fast.example", 50e6);
	throttled(a, T0, "198.51.100.0/24", 120000);
	throttled(a, T0 + 5 * S, "198.51.100.0/24", 130000);
	throttled(a, T0 + 10 * S, "192.0.2.0/24", 140000);
	CHECK(nlines == 1 && count_state("raised") == 1, "throttling: %d lines", nlines);
	CHECK(nlines && strstr(lines[0], "\"signature_id\":2006") && strstr(lines[0], "\"category\":\"throttling\"") &&
	              strstr(lines[0], "\"signature\":\"throttling of slow.example\"") &&
	              strstr(lines[0], "\"severity\":1") && strstr(lines[0], "\"method\":\"throttling\"") &&
	              strstr(lines[0], "\"rate_bps\":130000") && strstr(lines[0], "\"directions\":[\"to_client\"]"),
	      "%s", nlines ? lines[0] : "");
	field(nlines ? lines[0] : "", "id", id, sizeof(id));
	tw_agg_tick(a, T0 + 11 * S, 1);
	tw_agg_free(a);
	size_t len = 0;
	void *data = NULL;
	char err[512];
	CHECK(tw_state_load(dir, "alerts.state", &data, &len, err, sizeof(err)) == TW_STATE_LOADED, "%s", err);
	CHECK(data && strstr(data, " method=throttling ") && strstr(data, " methods=throttling ") &&
	              strstr(data, " rate_bps=120000 ") && strstr(data, " thr_dirs=2\n"),
	      "state body:\n%.*s", (int)len, data ? (char *)data : "");
	free(data);
	a = mk(NULL, NULL, dir);
	CHECK(tw_agg_open_alerts(a) == 1, "throttling restored: %zu open alerts", tw_agg_open_alerts(a));
	throttled(a, T0 + 20 * S, "100.64.1.0/24", 125000);
	tw_agg_tick(a, T0 + 100 * S, 0);
	CHECK(count_state("updated") == 1 && count_state("raised") == 0, "after restart: %d lines", nlines);
	CHECK(nlines && !strcmp(field(lines[nlines - 1], "id", b, sizeof(b)), id) &&
	              strstr(lines[nlines - 1], "\"category\":\"throttling\"") &&
	              strstr(lines[nlines - 1], "\"rate_bps\":130000"), /* the rates before the restart kept */
	      "%s", nlines ? lines[nlines - 1] : "");
	tw_agg_free(a);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "cleanup");
}

/* A raise is saved at the next tick, long before state.interval; a state
 * file that cannot be read (here: a directory) stops startup and is left
 * alone; a lowered alerts.max_targets keeps the open alerts of the file. */
static void test_state_transitions(void)
{
	char dir[] = "/tmp/tw-statet-XXXXXX", path[256], cmd[300], err[512];
	CHECK(mkdtemp(dir), "mkdtemp");
	snprintf(path, sizeof(path), "%s/alerts.state", dir);
	struct tw_agg *a = mk(NULL, NULL, dir); /* state.interval 60 */
	tw_agg_tick(a, T0, 0);
	CHECK(access(path, F_OK) != 0, "saved before anything happened");
	for (int i = 0; i < 3; i++)
		flow(a, T0 + i * S, "198.51.100.0/24", "t.example", "rst_injection", 0.9, 0);
	CHECK(count_state("raised") == 1, "raise");
	tw_agg_tick(a, T0 + 3 * S, 0);
	CHECK(access(path, F_OK) == 0, "raise not saved at the next tick");
	tw_agg_free(a); /* as if killed: no final tick */
	a = mk(NULL, NULL, dir);
	CHECK(tw_agg_open_alerts(a) == 1, "open alert not in the state saved at the raise");
	tw_agg_free(a);

	/* 40 more targets with traffic, then a restart with room for 16 */
	a = mk(NULL, NULL, dir);
	for (int i = 0; i < 40; i++) {
		char d[64];
		snprintf(d, sizeof(d), "n%d.example", i);
		flow(a, T0 + 4 * S, "192.0.2.0/24", d, NULL, 0, 1);
	}
	tw_agg_tick(a, T0 + 5 * S, 1);
	tw_agg_free(a);
	struct tw_agg_cfg c;
	tw_agg_cfg_default(&c);
	c.max_targets = 16;
	a = mk(&c, NULL, dir);
	CHECK(tw_agg_open_alerts(a) == 1 && count_corrupt(dir) == 0, "max_targets lowered: %zu open, %d aside",
	      tw_agg_open_alerts(a), count_corrupt(dir));
	for (int i = 0; i < 3; i++)
		flow(a, T0 + (10 + i) * S, "198.51.100.0/24", "t.example", NULL, 0, 1);
	CHECK(count_state("resolved") == 1 && count_state("raised") == 0, "restored alert did not resolve");
	tw_agg_free(a);

	/* unreadable: startup stops, the file stays */
	CHECK(unlink(path) == 0 && mkdir(path, 0700) == 0, "mkdir");
	tw_agg_cfg_default(&c);
	err[0] = 0;
	a = tw_agg_new(&c, NULL, dir, cap, NULL, err, sizeof(err));
	CHECK(!a && strstr(err, path) && strstr(err, "cannot read") && count_corrupt(dir) == 0, "unreadable: %s", err);
	tw_agg_free(a);
	void *data;
	size_t len;
	CHECK(tw_state_load(dir, "alerts.state", &data, &len, err, sizeof(err)) == TW_STATE_UNREADABLE, "%s", err);
	CHECK(rmdir(path) == 0, "the directory was moved or removed");
	CHECK(tw_state_load(dir, "alerts.state", &data, &len, err, sizeof(err)) == TW_STATE_NONE, "no file");
	/* corrupt: a distinct result, moved aside */
	FILE *f = fopen(path, "wb");
	fputs("TWSTATE\0", f);
	fclose(f);
	CHECK(tw_state_load(dir, "alerts.state", &data, &len, err, sizeof(err)) == TW_STATE_CORRUPT &&
	              strstr(err, "moved aside") && count_corrupt(dir) == 1,
	      "%s", err);
	/* header lengths that disagree with the file: no allocation from them */
	CHECK(tw_state_save(dir, "alerts.state", "V 1 5\nEND\n", 10, err, sizeof(err)) == 0, "%s", err);
	f = fopen(path, "r+b");
	fseek(f, 24, SEEK_SET);
	fputc(0xff, f);
	fputc(0xff, f);
	fputc(0xff, f);
	fclose(f);
	CHECK(tw_state_load(dir, "alerts.state", &data, &len, err, sizeof(err)) == TW_STATE_CORRUPT &&
	              strstr(err, "truncated"),
	      "%s", err);
	/* a save cut short: the dead process's temporary file goes, a live one's stays */
	char dead[300], live[300];
	int pid = 4000000;
	while (kill(pid, 0) == 0 || errno != ESRCH)
		pid--;
	snprintf(dead, sizeof(dead), "%s.tmp.%d", path, pid);
	snprintf(live, sizeof(live), "%s.tmp.1", path);
	fclose(fopen(dead, "w"));
	fclose(fopen(live, "w"));
	CHECK(tw_state_load(dir, "alerts.state", &data, &len, err, sizeof(err)) == TW_STATE_NONE, "%s", err);
	CHECK(access(dead, F_OK) != 0 && access(live, F_OK) == 0, "stale temporary files");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "cleanup");
}

static void empty_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
	if (d)
		closedir(d);
}

/* every single-byte change and every truncation of a valid state body is
 * either restored or set aside, never a crash (ASan/UBSan watch) */
static void test_state_mutations(void)
{
	char dir[] = "/tmp/tw-statem-XXXXXX", err[512], cmd[300];
	CHECK(mkdtemp(dir), "mkdtemp");
	struct tw_agg *a = mk(NULL, NULL, dir);
	for (int i = 0; i < 3; i++)
		flow(a, T0 + i * S, i ? "198.51.100.0/24" : "2001:db8:1::/48", "m.example", "rst_injection", 0.9, 0);
	flow(a, T0 + 4 * S, "192.0.2.0/24", NULL, NULL, 0, 1);
	tw_agg_tick(a, T0 + 5 * S, 1);
	tw_agg_free(a);
	void *data;
	size_t len;
	CHECK(tw_state_load(dir, "alerts.state", &data, &len, err, sizeof(err)) == 1, "%s", err);
	char *body = data, *m = malloc(len + 1);
	const char subst[] = { '\n', 'x', '9', '%', 0 };
	int restored = 0, tries = 0;
	for (size_t i = 0; i < len; i++) {
		for (size_t k = 0; k < sizeof(subst); k++) {
			memcpy(m, body, len);
			m[i] = subst[k];
			if (tw_state_save(dir, "alerts.state", m, k == sizeof(subst) - 1 ? i : len, err, sizeof(err)) <
			    0)
				continue;
			a = mk(NULL, NULL, dir);
			tries++;
			restored += tw_agg_open_alerts(a) == 1;
			flow(a, T0 + 6 * S, "198.51.100.0/24", "m.example", "rst_injection", 0.9, 0);
			tw_agg_tick(a, T0 + 700 * S, 0);
			tw_agg_free(a);
			empty_dir(dir);
		}
	}
	CHECK(tries > 1000 && restored > 0, "%d tries, %d restored", tries, restored);
	free(m);
	free(data);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "cleanup");
}

/* Flow sampling (docs/alerts.md "Sampling"): a flow seen at 1 in N counts
 * as N toward min_flows (3), one flow seen never raises alone, the alert
 * says the rate and the events lost over its window. */
static void test_sampling(void)
{
	static struct tw_sampling smp;
	struct tw_agg_cfg c;
	tw_agg_cfg_default(&c);
	tw_sampling_init(&smp, 2, 8, 0);
	tw_sampling_update(&smp, T0 - 100 * S, 0);
	tw_sampling_update(&smp, T0 - 50 * S, 7); /* 7 events lost 50 s before the flows */
	c.sampling = &smp;

	sampling_n = 2; /* two tampered flows seen stand for four */
	struct tw_agg *a = mk(&c, NULL, NULL);
	flow(a, T0, "198.51.100.0/24", "s2.example", "rst_injection", 0.95, 0);
	flow(a, T0 + S, "198.51.100.0/24", "s2.example", "rst_injection", 0.95, 0);
	tw_agg_tick(a, T0 + 2 * S, 0);
	CHECK(count_state("raised") == 1, "1 in 2: two tampered flows seen raise (%d lines)", nlines);
	CHECK(nlines && strstr(lines[0], "\"sampling\":2,") && strstr(lines[0], "\"affected_flows\":2,") &&
	              strstr(lines[0], "\"events_lost\":7"),
	      "the alert says 1 in 2, the flows seen and the 7 events lost in its window: %s", nlines ? lines[0] : "");
	tw_agg_free(a);

	sampling_n = 4; /* one flow seen: never alone, whatever it stands for */
	a = mk(NULL, NULL, NULL);
	flow(a, T0, "198.51.100.0/24", "s4.example", "rst_injection", 0.95, 0);
	tw_agg_tick(a, T0 + 2 * S, 0);
	CHECK(count_state("raised") == 0, "1 in 4: one tampered flow seen raises nothing");
	flow(a, T0 + 3 * S, "192.0.2.0/24", "s4.example", "rst_injection", 0.95, 0);
	tw_agg_tick(a, T0 + 4 * S, 0);
	CHECK(count_state("raised") == 1 && strstr(lines[0], "\"sampling\":4,") &&
	              strstr(lines[0], "\"events_lost\":0"),
	      "1 in 4: a second one raises, sampling 4, nothing lost (no sampler)");
	tw_agg_free(a);

	sampling_n = 1; /* unsampled: two flows are two */
	a = mk(NULL, NULL, NULL);
	flow(a, T0, "198.51.100.0/24", "s1.example", "rst_injection", 0.95, 0);
	flow(a, T0 + S, "198.51.100.0/24", "s1.example", "rst_injection", 0.95, 0);
	tw_agg_tick(a, T0 + 2 * S, 0);
	CHECK(count_state("raised") == 0, "1 in 1: two tampered flows stay below min_flows 3");
	tw_agg_free(a);

	sampling_n = 2; /* the share is over weighed flows alike: 1 tampered of 3 seen stays below 0.5 */
	a = mk(NULL, NULL, NULL);
	for (int i = 0; i < 3; i++)
		flow(a, T0 + (uint64_t)i * S, "198.51.100.0/24", "sh.example", NULL, 0, 1);
	flow(a, T0 + 3 * S, "198.51.100.0/24", "sh.example", "rst_injection", 0.95, 0);
	flow(a, T0 + 4 * S, "198.51.100.0/24", "sh.example", "rst_injection", 0.95, 0);
	tw_agg_tick(a, T0 + 6 * S, 0);
	CHECK(count_state("raised") == 0, "1 in 2: 2 of 5 flows tampered, the share (0.4) stays below min_ratio");
	tw_agg_free(a);
	sampling_n = 0;
}

int main(void)
{
	test_sampling();
	test_raise_update_resolve();
	test_quiet_resolve();
	test_regional_recovery();
	test_benign();
	test_thresholds();
	test_shares();
	test_dark();
	test_legitimacy();
	test_state();
	test_state_transitions();
	test_state_mutations();
	test_throttling();
	test_throttling_control();
	printf("test_aggregate: %d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
