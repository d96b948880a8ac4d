/* The hub's deduplication (hub/seen.c) and cross-site rules
 * (hub/correlate.c) on hand-made site records: national versus
 * single-network blocking, resolution, multi-site shutdown, site outage,
 * the state round trip; and the publisher's configuration checks. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub/correlate.h"
#include "hub/seen.h"
#include "outputs/nats_pub.h"

#include "check.h"

#define S 1000000000ll

static char out[64][2048];
static int nout;

static void emit(void *arg, const char *line, size_t len)
{
	(void)arg;
	if (nout < 64)
		snprintf(out[nout++], sizeof(out[0]), "%.*s", (int)len, line);
}

static int has(const char *needle)
{
	int n = 0;
	for (int i = 0; i < nout; i++)
		n += strstr(out[i], needle) != NULL;
	return n;
}

static void feed(struct tw_xcorr *x, const char *json, int64_t now)
{
	struct json_object *o = json_tokener_parse(json);
	CHECK(o && tw_xcorr_record(x, o, now) == 0, "record refused: %s", json);
	json_object_put(o);
}

static void block(struct tw_xcorr *x, const char *site, const char *net, const char *state, int64_t now)
{
	char j[1024];
	snprintf(j, sizeof j,
	         "{\"event_type\":\"alert\",\"site\":{\"name\":\"%s\",\"network\":\"%s\",\"region\":\"nl\"},"
	         "\"alert\":{\"id\":\"a1\",\"state\":\"%s\",\"category\":\"blocking\"},"
	         "\"censorship\":{\"method\":\"rst_injection\",\"methods_seen\":[\"rst_injection\"]},"
	         "\"target\":{\"domain\":\"blocked.example\",\"ip\":\"203.0.113.5\",\"port\":80,\"proto\":\"tcp\"},"
	         "\"scope\":{\"prefixes\":[]},\"first_seen\":\"2023-11-14T22:13:20.036000+0000\"}",
	         site, net, state);
	feed(x, j, now);
}

static void heartbeat(struct tw_xcorr *x, const char *site, const char *region, int64_t now)
{
	char j[512];
	snprintf(j, sizeof j,
	         "{\"event_type\":\"site\",\"site\":{\"name\":\"%s\",\"network\":\"%s\",\"region\":\"%s\"}}", site,
	         site, region);
	feed(x, j, now);
}

static void test_seen(void)
{
	struct tw_seen s;
	char id[32];
	CHECK(tw_seen_init(&s, 4) == 0, "init");
	CHECK(tw_seen_check(&s, "a") == 0 && tw_seen_check(&s, "a") == 1, "a seen once");
	for (int i = 0; i < 4; i++) {
		snprintf(id, sizeof id, "x%d", i);
		CHECK(tw_seen_check(&s, id) == 0, "new %s", id);
	}
	CHECK(tw_seen_check(&s, "a") == 0, "the oldest is forgotten when full");
	CHECK(tw_seen_check(&s, "x3") == 1 && tw_seen_check(&s, "x2") == 1, "recent ones remembered");
	CHECK(s.n == 4 && !strcmp(tw_seen_at(&s, 3), "a"), "order kept");
	/* many more than max: the index stays consistent */
	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof id, "y%d", i);
		tw_seen_check(&s, id);
	}
	CHECK(tw_seen_check(&s, "y999") == 1 && tw_seen_check(&s, "y995") == 0, "after churn");
	tw_seen_free(&s);
}

static void test_blocking(void)
{
	struct tw_hub_cfg c;
	tw_hub_cfg_default(&c);
	c.min_sites = 2;
	c.national_networks = 2;
	nout = 0;
	struct tw_xcorr *x = tw_xcorr_new(&c, emit, NULL);
	block(x, "isp-a", "AS1", "raised", 10 * S);
	CHECK(nout == 0, "one site is no cross-site alert");
	block(x, "isp-a2", "AS1", "raised", 11 * S);
	CHECK(nout == 1 && has("\"extent\":\"single_network\"") && has("\"state\":\"raised\""),
	      "two sites of one network: single-network (%d lines)", nout);
	block(x, "isp-b", "AS2", "updated", 12 * S);
	CHECK(nout == 2 && has("\"extent\":\"national\"") && has("\"signature_id\":2801"),
	      "a second network: national");
	block(x, "isp-b", "AS2", "updated", 13 * S);
	CHECK(nout == 2, "nothing new: no line");
	/* the state round trip: a restored hub does not raise again */
	struct tw_xcorr *y = tw_xcorr_new(&c, emit, NULL);
	struct json_object *st = json_tokener_parse(json_object_to_json_string(tw_xcorr_state(x)));
	CHECK(tw_xcorr_restore(y, st) == 0, "restore");
	json_object_put(st);
	block(y, "isp-b", "AS2", "updated", 14 * S);
	CHECK(nout == 2, "restored: no new line for what it knew");
	block(y, "isp-b", "AS2", "resolved", 15 * S);
	block(y, "isp-a2", "AS1", "resolved", 16 * S);
	CHECK(has("\"state\":\"resolved\"") == 1, "one site left: resolved once (%d lines)", nout);
	tw_xcorr_free(y);
	tw_xcorr_free(x);
}

static void test_sites(void)
{
	struct tw_hub_cfg c;
	tw_hub_cfg_default(&c);
	c.site_timeout = 60;
	nout = 0;
	struct tw_xcorr *x = tw_xcorr_new(&c, emit, NULL);
	heartbeat(x, "w1", "west", 0);
	heartbeat(x, "w2", "west", 0);
	heartbeat(x, "w2", "west", 100 * S);
	tw_xcorr_evaluate(x, 100 * S);
	CHECK(nout == 1 && has("\"category\":\"site_outage\"") && has("\"sites\":[\"w1\"]") &&
	              has("\"region_sites_reporting\":1"),
	      "w1 silent, w2 reporting: site outage of w1");
	heartbeat(x, "w1", "west", 101 * S);
	tw_xcorr_evaluate(x, 101 * S);
	CHECK(has("\"state\":\"resolved\"") == 1, "w1 back: resolved");
	/* north: two sites in shutdown and a silent one: one shutdown alert, no outage */
	nout = 0;
	const char *sd = "{\"event_type\":\"alert\",\"site\":{\"name\":\"%s\",\"network\":\"%s\",\"region\":\"north\"},"
	                 "\"alert\":{\"id\":\"sd-1\",\"state\":\"raised\",\"category\":\"shutdown\"},\"scope\":{"
	                 "\"region\":\"north\"},"
	                 "\"first_seen\":\"2025-11-24T19:08:30.142585+0000\"}";
	char j[512];
	heartbeat(x, "n3", "north", 101 * S);
	snprintf(j, sizeof j, sd, "n1", "n1");
	feed(x, j, 150 * S);
	snprintf(j, sizeof j, sd, "n2", "n2");
	feed(x, j, 150 * S);
	tw_xcorr_evaluate(x, 200 * S);
	CHECK(has("\"signature_id\":2804") >= 1 && has("\"sites_silent\":[\"n3\"]") >= 1,
	      "multi-site shutdown with n3");
	CHECK(!has("site outage of n"), "no north site is an outage");
	struct tw_xcorr_stats xs;
	tw_xcorr_stats(x, &xs);
	CHECK(xs.sites == 5, "5 sites, got %llu", (unsigned long long)xs.sites);
	/* a record without a site is refused */
	struct json_object *o = json_tokener_parse("{\"event_type\":\"alert\"}");
	CHECK(tw_xcorr_record(x, o, 0) == -1, "no site: refused");
	json_object_put(o);
	tw_xcorr_free(x);
}

/* one window of a site: two prefixes, `packets` each, ending at second `t` (the site's clock) */
static void window(struct tw_xcorr *x, const char *site, const char *region, int t, int packets, int64_t now)
{
	for (int i = 0; i < 2; i++) {
		char j[768];
		snprintf(j, sizeof j,
		         "{\"event_type\":\"prefix_summary\",\"site\":{\"name\":\"%s\",\"network\":\"%s\","
		         "\"region\":\"%s\"},\"prefix_summary\":{\"prefix\":\"198.51.%d.0/24\",\"from\":"
		         "\"2025-11-24T19:%02d:00.000000+0000\",\"to\":\"2025-11-24T19:%02d:00.000000+0000\","
		         "\"packets\":%d,\"bytes\":%d,\"new_flows\":1,\"active_clients\":3}}",
		         site, site, region, i, t - 1, t, packets, packets * 100);
		feed(x, j, now);
	}
}

/* prefix summaries: a site silent right after its traffic collapsed */
static void test_summaries(void)
{
	struct tw_hub_cfg c;
	tw_hub_cfg_default(&c);
	c.site_timeout = 60;
	c.collapse_min_packets = 100;
	nout = 0;
	struct tw_xcorr *x = tw_xcorr_new(&c, emit, NULL);
	/* valley: v1 and v2 collapse and fall silent; steady: s1 steady, then silent; low: too little traffic */
	for (int t = 1; t <= 6; t++) {
		int n = t == 6 ? 0 : 100 + t; /* per prefix: 200 a window, 0 at the last */
		window(x, "v1", "valley", t, n, t * S);
		window(x, "v2", "valley", t, n, t * S);
		window(x, "s1", "plain", t, 100, t * S);
		window(x, "l1", "low", t, t == 6 ? 0 : 20, t * S);
	}
	heartbeat(x, "p2", "plain", 6 * S);
	struct tw_xcorr_stats xs;
	tw_xcorr_stats(x, &xs);
	CHECK(xs.summaries == 48 && xs.ignored == 0, "48 summaries taken, got %llu, %llu ignored",
	      (unsigned long long)xs.summaries, (unsigned long long)xs.ignored);
	/* an older window is ignored (counted), not taken */
	window(x, "v1", "valley", 2, 5, 6 * S);
	tw_xcorr_stats(x, &xs);
	CHECK(xs.summaries == 48 && xs.ignored == 2, "an older window ignored");
	tw_xcorr_evaluate(x, 30 * S);
	CHECK(nout == 0, "nothing while the sites report");
	heartbeat(x, "p2", "plain", 70 * S); /* s1's neighbour still reports */
	tw_xcorr_evaluate(x, 70 * S);
	CHECK(has("\"signature_id\":2804") == 1 && has("\"sites_collapsed\":[\"v1\",\"v2\"]") == 1 &&
	              has("\"sites_in_shutdown\":0") == 1 &&
	              has("\"first_seen\":\"2025-11-24T19:05:00.000000+0000\"") == 1,
	      "v1 and v2 silent after a collapse: a shutdown of valley since their last window");
	CHECK(has("site outage of s1") == 1 && has("\"traffic_before_silence\":\"steady\"") == 1,
	      "s1 silent with its traffic steady: an outage that says so");
	CHECK(has("site outage of l1") == 1 && has("\"traffic_before_silence\":\"unknown\"") == 1,
	      "l1: an outage, its traffic (a median of 40 packets) too little to judge");
	CHECK(!has("site outage of v"), "no valley site is an outage");
	/* the traffic is in the state: a hub restored from it judges the same */
	struct tw_xcorr *y = tw_xcorr_new(&c, emit, NULL);
	CHECK(tw_xcorr_restore(y, tw_xcorr_state(x)) == 0, "restore");
	tw_xcorr_free(x);                      /* y holds its own reference to the state */
	heartbeat(y, "v2", "valley", 200 * S); /* v2 back: v1 alone, collapsed: an outage after 2 timeouts */
	nout = 0;
	tw_xcorr_evaluate(y, 200 * S);
	CHECK(has("\"state\":\"resolved\"") >= 1 && has("site outage of v1") == 1 &&
	              has("\"traffic_before_silence\":\"collapsed\"") == 1,
	      "v2 back: the shutdown resolved, v1 an outage whose traffic collapsed");
	tw_xcorr_free(y);
}

static void test_keys(void)
{
	char why[256];
	CHECK(tw_nats_check_key("site", "isp-a_1", why, sizeof why) == 0, "good site");
	CHECK(tw_nats_check_key("site", "isp.a", why, sizeof why) < 0, "a dot splits the subject");
	CHECK(tw_nats_check_key("subject", "tw.sites", why, sizeof why) == 0, "good subject");
	CHECK(tw_nats_check_key("subject", "tw..x", why, sizeof why) < 0, "empty token");
	CHECK(tw_nats_check_key("url", "nats://a:1,tls://b:2", why, sizeof why) == 0, "good urls");
	CHECK(tw_nats_check_key("nkey", "UDXVOXLVDTL3NTCOLV4J6FCAI5S7C2PM6VM4XMVXHXGR4SEZNIMYNMI7", why, sizeof why) ==
	              0,
	      "a user's public nkey");
	CHECK(tw_nats_check_key("nkey", "SUAMCFVZ3GHCRR72BFUYEFWKQNHZSCLSTDHJ7VO45QTNTPNLHBA7VJSHNY", why, sizeof why) <
	                      0 &&
	              !strstr(why, "SUAM"),
	      "a seed as the public key refused, not echoed");
	CHECK(tw_nats_check_key("url", "http://u:pw@a:1", why, sizeof why) < 0 && !strstr(why, "pw"),
	      "bad url refused, password not echoed: %s", why);
}

/* A site's throttling alert is not correlated (counted as ignored, no
 * cross-site line); QUIC blocking is a blocking method like the others. */
static void test_categories(void)
{
	struct tw_hub_cfg c;
	tw_hub_cfg_default(&c);
	c.min_sites = 2;
	c.national_networks = 2;
	nout = 0;
	struct tw_xcorr *x = tw_xcorr_new(&c, emit, NULL);
	const char *fmt = "{\"event_type\":\"alert\",\"site\":{\"name\":\"%s\",\"network\":\"%s\",\"region\":\"nl\"},"
	                  "\"alert\":{\"id\":\"t1\",\"state\":\"raised\",\"category\":\"%s\"},"
	                  "\"censorship\":{\"method\":\"%s\",\"methods_seen\":[\"%s\"]},"
	                  "\"target\":{\"domain\":\"video.example\",\"port\":443,\"proto\":\"udp\"},"
	                  "\"scope\":{\"prefixes\":[]},\"first_seen\":\"2023-11-14T22:13:20.036000+0000\"}";
	char j[1024];
	const char *sites[][2] = { { "isp-a", "AS1" }, { "isp-b", "AS2" } };
	for (int i = 0; i < 2; i++) {
		snprintf(j, sizeof j, fmt, sites[i][0], sites[i][1], "throttling", "throttling", "throttling");
		feed(x, j, (10 + i) * S);
	}
	struct tw_xcorr_stats xs;
	tw_xcorr_stats(x, &xs);
	CHECK(nout == 0 && xs.ignored == 2, "throttling alerts: ignored and counted (%d lines, %llu ignored)", nout,
	      (unsigned long long)xs.ignored);
	for (int i = 0; i < 2; i++) {
		snprintf(j, sizeof j, fmt, sites[i][0], sites[i][1], "blocking", "quic_interference",
		         "quic_interference");
		feed(x, j, (20 + i) * S);
	}
	CHECK(nout == 1 && has("\"method\":\"quic_interference\"") && has("\"signature_id\":2801"),
	      "QUIC blocking at two networks: national (%d lines)", nout);
	tw_xcorr_free(x);
}

int main(void)
{
	test_seen();
	test_blocking();
	test_sites();
	test_summaries();
	test_keys();
	test_categories();
	printf("test_hub: %d checks, %d failed\n", checks, fails);
	return fails != 0;
}
