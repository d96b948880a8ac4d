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

static void test_keys(void)
{
	char why[256];
	CHECK(tw_nats_check_key("site", "isp-a_1", why, sizeof why) == 0, "good site");
	CHECK(tw_nats_check_key("site", "isp.a", why, sizeof why) < 0, "a dot splits the subject");
	CHECK(tw_nats_check_key("subject", "tw.sites", why, sizeof why) == 0, "good subject");
	CHECK(tw_nats_check_key("subject", "tw..x", why, sizeof why) < 0, "empty token");
	CHECK(tw_nats_check_key("url", "nats://a:1,tls://b:2", why, sizeof why) == 0, "good urls");
	CHECK(tw_nats_check_key("url", "http://u:pw@a:1", why, sizeof why) < 0 && !strstr(why, "pw"),
	      "bad url refused, password not echoed: %s", why);
}

int main(void)
{
	test_seen();
	test_blocking();
	test_sites();
	test_keys();
	printf("test_hub: %d checks, %d failed\n", checks, fails);
	return fails != 0;
}
