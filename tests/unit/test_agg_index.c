/* Aggregation's bookkeeping (aggregate.c) kept right while targets are
 * made, renamed and freed: random outcomes (domains, bare addresses, a
 * domain that is another target's address, ports, both protocols, client
 * prefixes in regions, active and silent verdicts, rated flows that build
 * a queue), ticks that free the quiet targets, a save and a restore; after
 * every step tw_agg_check compares the site index with a walk over every
 * target (members and order) and each target's share counts with a scan of
 * its records. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alerts/aggregate.h"
#include "verdicts/throttle.h"
#include "regions.h"
#include "check.h"

#define S 1000000000ull
#define T0 (1700000000ull * S)

static uint64_t rs = 0x2545f4914f6cdd1dull;
static unsigned rn(unsigned n)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return (unsigned)(rs % n);
}

static long nalerts;
static void emit(void *arg, const char *l, size_t n)
{
	(void)arg;
	(void)n;
	nalerts += strstr(l, "\"state\":\"raised\"") != NULL;
}

static const char *domains[] = { "a.example", "b.example", "c.example", "203.0.113.7", NULL, NULL };
static const char *ips[] = { "203.0.113.5", "203.0.113.6", "203.0.113.7", "2001:db8::1" };
static const char *prefixes[] = { "198.51.100.0/24", "192.0.2.0/24", "100.64.1.0/24",   "100.64.2.0/24",
	                          "10.1.0.0/24",     "10.2.0.0/24",  "2001:db8:1::/48", "2001:db8:2::/48" };
static const uint16_t ports[] = { 443, 80, 8443, 53 };

static uint64_t now, fid;
static long steps, checked, freed;

static void one(struct tw_agg *a)
{
	struct tw_tamper tp = { .signature = "X", .stage = "after_request" };
	struct tw_thr_verdict v;
	memset(&v, 0, sizeof(v));
	unsigned k = rn(10);
	if (k < 3) {
		tp.method = "rst_injection";
		tp.confidence = 0.95;
	} else if (k < 6) {
		tp.method = "blackhole";
		tp.confidence = 0.4;
	}
	struct tw_flow_outcome o = { .ts_ns = now,
		                     .flow_id = ++fid,
		                     .client_prefix = prefixes[rn(sizeof(prefixes) / sizeof(prefixes[0]))],
		                     .server_ip = ips[rn(sizeof(ips) / sizeof(ips[0]))],
		                     .server_port = ports[rn(sizeof(ports) / sizeof(ports[0]))],
		                     .proto = rn(4) ? "tcp" : "udp",
		                     .domain = domains[rn(sizeof(domains) / sizeof(domains[0]))],
		                     .answered = rn(2),
		                     .tamper = k < 6 ? &tp : NULL,
		                     .sampling = rn(4) ? 1 : 4 };
	if (k >= 6 && rn(3) == 0) { /* a busy flow that built a queue: shaping is judged */
		v.kind = TW_THR_NONE;
		v.goodput_bps = 1e6 + rn(1000) * 1e3;
		v.seconds = 4;
		v.rtt_growth_ms = 80;
		v.ncurve = 3;
		for (int i = 0; i < 3; i++) {
			v.curve_t[i] = now - 4 * S + (uint64_t)i * 2 * S;
			v.curve_b[i] = (uint64_t)i * 250000;
		}
		o.rate = &v;
	}
	tw_agg_outcome(a, &o);
}

static void check(struct tw_agg *a, const char *when)
{
	char err[512];
	int rc = tw_agg_check(a, err, sizeof(err));
	checked++;
	if (rc)
		CHECK(0, "%s, step %ld: %s", when, steps, err);
}

static void run(struct tw_agg *a, int n)
{
	for (int i = 0; i < n; i++, steps++) {
		now += (uint64_t)rn(3000) * S / 1000;
		one(a);
		if (rn(8) == 0) {
			struct tw_agg_stats before, after;
			tw_agg_get_stats(a, &before);
			tw_agg_tick(a, now, 0);
			tw_agg_get_stats(a, &after);
			freed += after.targets < before.targets ? (long)(before.targets - after.targets) : 0;
		}
		check(a, "outcome");
		if (rn(60) == 0) { /* quiet for a while: the window empties, targets are freed */
			now += 40 * S;
			tw_agg_tick(a, now, 0);
			check(a, "quiet");
		}
	}
}

int main(void)
{
	char dir[] = "/tmp/tw_agg_index.XXXXXX", err[512];
	CHECK(mkdtemp(dir), "mkdtemp");
	struct tw_regions *rg = calloc(1, sizeof(*rg));
	CHECK(rg && tw_regions_parse(
	                    rg, "regions",
	                    "198.51.100.0/24 north 64500\n192.0.2.0/24 north 64500\n100.64.0.0/16 south 64501\n", err,
	                    sizeof(err)) == 0,
	      "regions: %s", err);
	for (int with = 0; with < 2; with++) {
		struct tw_agg_cfg c;
		tw_agg_cfg_default(&c);
		c.window = 30;
		c.regions = with ? rg : NULL;
		c.blackhole_min_prefixes = 1;
		now = T0;
		struct tw_agg *a = tw_agg_new(&c, NULL, dir, emit, NULL, err, sizeof(err));
		CHECK(a, "tw_agg_new: %s", err);
		if (!a)
			break;
		run(a, 1500);
		CHECK(tw_agg_save(a) == 0, "save");
		tw_agg_free(a);
		a = tw_agg_new(&c, NULL, dir, emit, NULL, err, sizeof(err)); /* restored */
		CHECK(a, "restore: %s", err);
		if (!a)
			break;
		check(a, "restored");
		run(a, 1500);
		tw_agg_free(a);
		char path[600];
		snprintf(path, sizeof(path), "%s/alerts.state", dir);
		unlink(path);
	}
	rmdir(dir);
	tw_regions_free(rg);
	free(rg);
	printf("test_agg_index: %ld steps, %ld checks of the index and the counts, %ld targets freed, %ld alerts "
	       "raised\n",
	       steps, checked, freed, nalerts);
	/* the sequences free targets and raise alerts: the bookkeeping was exercised both ways */
	CHECK(freed > 50 && nalerts > 10, "freed %ld, raised %ld", freed, nalerts);
	printf("test_agg_index: %d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
