/* Unit tests of the Alertmanager sink's parts: the alert line -> API v2
 * alert mapping (am_map.c: labels, annotations, times, privacy of the
 * scope), the configuration parsers, the outbox (am_queue.c: re-sends,
 * label changes, refusals, overflow, several URLs) and the spool (round
 * trip, corrupt and truncated files set aside, bad entries dropped). */
#include <dirent.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "outputs/am_map.h"
#include "outputs/am_queue.h"
#include "util/state.h"

#include "check.h"

#define NS 1000000000ll
static const int64_t NOW = 1795935000ll * NS; /* 2026-11-29 */

/* as daemon/alerts/aggregate.c writes it, plus a bare client address in the scope
 * (which must never reach Alertmanager) */
static const char *BLOCKING =
        "{\"timestamp\":\"2023-11-14T22:13:31.000000+0000\",\"event_type\":\"alert\",\"alert\":{\"id\":"
        "\"08377fa6ce32535c\","
        "\"state\":\"%s\",\"signature_id\":2001,\"signature\":\"rst_injection blocking of blocked.example\","
        "\"category\":\"blocking\",\"severity\":%d%s},\"censorship\":{\"method\":\"rst_injection\",\"confidence\":0.95,"
        "\"legitimacy\":\"undeclared\",\"sampling\":1,\"methods_seen\":[\"rst_injection\"]},\"target\":{\"domain\":"
        "\"blocked.example\",\"ip\":\"203.0.113.5\",\"port\":80,\"proto\":\"tcp\"},\"scope\":{\"prefixes\":"
        "[\"198.51.100.0/24\",\"192.0.2.44\",\"100.64.1.0/24\"],\"region\":null,\"asn\":null},\"stats\":{\"flows\":3,"
        "\"affected_flows\":3,\"clients\":3,\"ratio\":1.000,\"baseline\":null},\"first_seen\":"
        "\"2023-11-14T22:13:20.036000+0000\",\"last_seen\":\"2023-11-14T22:13:30.036000+0000\",\"evidence\":"
        "{\"pcap\":\"evidence/x.pcap\",\"flow_ids\":[1,2,3]}}";

static struct json_object *parse(const char *s)
{
	struct json_object *o = json_tokener_parse(s);
	if (!o)
		printf("FAIL: test fixture is not JSON: %s\n", s);
	return o;
}

static const char *get(struct json_object *o, const char *k)
{
	struct json_object *v;
	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static int map(const char *text, const struct tw_am_labels *extra, int64_t now, struct tw_am_alert *a, uint64_t *unsafe)
{
	char err[256];
	struct json_object *o = parse(text);
	int rc = o ? tw_am_map(o, extra, now, a, unsafe, err, sizeof(err)) : -1;
	json_object_put(o);
	return rc;
}

static void blocking(const char *state, int sev, const char *extra_alert, int64_t now, struct tw_am_alert *a)
{
	char line[4096];
	snprintf(line, sizeof(line), BLOCKING, state, sev, extra_alert);
	if (map(line, NULL, now, a, NULL) < 0)
		printf("FAIL: map %s\n", state);
}

static void test_map(void)
{
	struct tw_am_labels extra;
	char err[256], line[4096];
	CHECK(tw_am_parse_labels("site=gw-1, instance = tw-a", &extra, err, sizeof(err)) == 0, "%s", err);
	struct tw_am_alert a;
	uint64_t unsafe = 0;
	snprintf(line, sizeof(line), BLOCKING, "raised", 1, "");
	CHECK(map(line, &extra, NOW, &a, &unsafe) == 0, "map raised");
	struct json_object *L = parse(a.labels), *A = parse(a.annotations);
	CHECK(json_object_object_length(L) == 9, "labels: %s", a.labels);
	CHECK(!strcmp(get(L, "alertname"), "TamperwatchBlocking") && !strcmp(get(L, "method"), "rst_injection") &&
	              !strcmp(get(L, "category"), "blocking") && !strcmp(get(L, "legitimacy"), "undeclared") &&
	              !strcmp(get(L, "severity"), "critical") && !strcmp(get(L, "target"), "blocked.example") &&
	              !strcmp(get(L, "alert_id"), "08377fa6ce32535c") && !strcmp(get(L, "site"), "gw-1") &&
	              !strcmp(get(L, "instance"), "tw-a"),
	      "labels: %s", a.labels);
	CHECK(!strcmp(get(A, "summary"), "rst_injection blocking of blocked.example"), "%s", a.annotations);
	CHECK(strstr(get(A, "description"), "3 of 3 flows affected (ratio 1.000) from 3 client prefixes") &&
	              strstr(get(A, "description"), "confidence 0.95") &&
	              strstr(get(A, "description"), "first seen 2023-11-14T22:13:20"),
	      "description: %s", get(A, "description"));
	CHECK(!strcmp(get(A, "scope_prefixes"), "198.51.100.0/24, 100.64.1.0/24") && unsafe == 1,
	      "scope: %s, %llu left out", get(A, "scope_prefixes"), (unsigned long long)unsafe);
	CHECK(!strstr(a.annotations, "192.0.2.44") && !strstr(a.labels, "192.0.2.44"), "client address leaked");
	CHECK(!strcmp(get(A, "evidence"), "evidence/x.pcap") && !strcmp(get(A, "state"), "raised") &&
	              !strcmp(get(A, "target_ip"), "203.0.113.5"),
	      "%s", a.annotations);
	int64_t first;
	tw_am_parse_time("2023-11-14T22:13:20.036Z", &first);
	CHECK(a.starts_ns == first && a.ends_ns == 0 && !a.resolved, "times %lld %lld", (long long)a.starts_ns,
	      (long long)a.ends_ns);
	json_object_put(L);
	json_object_put(A);
	tw_am_alert_clear(&a);

	/* resolved: endsAt is the resolution time, never later than now */
	blocking("resolved", 2, ",\"resolution\":\"recovered\"", NOW, &a);
	int64_t ts;
	tw_am_parse_time("2023-11-14T22:13:31Z", &ts);
	CHECK(a.resolved && a.ends_ns == ts && strstr(a.labels, "\"severity\":\"warning\"") &&
	              strstr(a.annotations, "resolved recovered"),
	      "resolved: %lld %s", (long long)a.ends_ns, a.annotations);
	tw_am_alert_clear(&a);
	blocking("resolved", 3, "", ts - 5 * NS, &a); /* a capture from the future */
	CHECK(a.ends_ns == ts - 5 * NS && a.starts_ns <= a.ends_ns && strstr(a.labels, "\"severity\":\"info\""),
	      "clamped: %lld", (long long)a.ends_ns);
	tw_am_alert_clear(&a);

	/* shutdown: a prefix series and a region */
	const char *sd =
	        "{\"timestamp\":\"2026-01-01T10:00:00.000000+0000\",\"event_type\":\"alert\",\"alert\":{\"id\":"
	        "\"sd-0011223344556677\",\"state\":\"raised\",\"signature_id\":%d,\"signature\":\"x\",\"category\":"
	        "\"shutdown\",\"severity\":2},\"censorship\":{\"method\":\"shutdown\",\"confidence\":0.9,"
	        "\"legitimacy\":\"undeclared\",\"sampling\":1},\"scope\":{\"prefixes\":[\"198.51.100.0/24\"],"
	        "\"region\":\"north-east\"},\"stats\":{\"depth\":0.9},\"shutdown\":{\"level\":\"%s\",\"depth\":0.9},"
	        "\"first_seen\":\"2026-01-01T09:50:00.000000+0000\",\"last_seen\":\"2026-01-01T10:00:00.000000+0000\"}";
	snprintf(line, sizeof(line), sd, 2701, "full");
	CHECK(map(line, NULL, NOW, &a, NULL) == 0 && strstr(a.labels, "\"alertname\":\"TamperwatchShutdown\"") &&
	              strstr(a.labels, "\"target\":\"198.51.100.0/24\"") &&
	              strstr(a.annotations, "full shutdown, depth 0.9") &&
	              strstr(a.annotations, "\"region\":\"north-east\""),
	      "shutdown: %s %s", a.labels, a.annotations);
	tw_am_alert_clear(&a);
	snprintf(line, sizeof(line), sd, 2703, "region");
	CHECK(map(line, NULL, NOW, &a, NULL) == 0 && strstr(a.labels, "\"target\":\"north-east\""), "region: %s",
	      a.labels);
	tw_am_alert_clear(&a);

	/* what cannot be mapped */
	CHECK(map("{\"event_type\":\"alert\",\"alert\":{\"state\":\"raised\"}}", NULL, NOW, &a, NULL) < 0, "no id");
	CHECK(map("{\"event_type\":\"alert\",\"alert\":{\"id\":\"a\\\"b\",\"state\":\"raised\"}}", NULL, NOW, &a,
	          NULL) < 0,
	      "quote in id");
	CHECK(map("{\"event_type\":\"alert\",\"alert\":{\"id\":\"ab\",\"state\":\"open\"}}", NULL, NOW, &a, NULL) < 0,
	      "bad state");
	CHECK(map("{\"event_type\":\"alert\",\"alert\":{\"id\":\"ab\",\"state\":\"raised\"}}", NULL, NOW, &a, NULL) ==
	                      0 &&
	              strstr(a.labels, "\"alertname\":\"TamperwatchAlert\"") && a.starts_ns == NOW,
	      "minimal: %s", a.labels);
	tw_am_alert_clear(&a);
}

static void test_parsers(void)
{
	struct tw_am_labels l;
	char err[256], urls[TW_AM_MAX_URLS][TW_AM_URL_MAX];
	int n;
	static const char *const bad_labels[] = { "bad-label=x", "__x=y", "alertname=x", "site=a,site=b",
		                                  "site",        "site=", "1x=y" };
	for (size_t i = 0; i < sizeof(bad_labels) / sizeof(bad_labels[0]); i++)
		CHECK(tw_am_parse_labels(bad_labels[i], &l, err, sizeof(err)) < 0, "accepted '%s'", bad_labels[i]);
	CHECK(tw_am_parse_labels("", &l, err, sizeof(err)) == 0 && l.n == 0, "empty");
	CHECK(tw_am_parse_urls("http://a:9093/, https://u:p@b:9093/am", urls, &n, err, sizeof(err)) == 0 && n == 2 &&
	              !strcmp(urls[0], "http://a:9093") && !strcmp(urls[1], "https://u:p@b:9093/am"),
	      "urls: %s", err);
	static const char *const bad_urls[] = { "ftp://a", "http://", "http:///x", "http://a?x=1",
		                                "http://a,http://b,http://c,http://d,http://e" };
	for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++)
		CHECK(tw_am_parse_urls(bad_urls[i], urls, &n, err, sizeof(err)) < 0, "accepted '%s'", bad_urls[i]);
	int64_t t;
	char s[64];
	CHECK(tw_am_parse_time("2023-11-14T22:13:20.036000+0000", &t) == 0 && t == 1700000000036000000ll, "EVE time");
	tw_am_time(t, s, sizeof(s));
	CHECK(!strcmp(s, "2023-11-14T22:13:20.036Z"), "%s", s);
	CHECK(tw_am_parse_time("2023-11-14T23:13:20+01:00", &t) == 0 && t == 1700000000ll * NS, "offset");
	CHECK(tw_am_parse_time("2023-11-14 22:13:20Z", &t) < 0 && tw_am_parse_time("2023-11-14T22:13", &t) < 0 &&
	              tw_am_parse_time("2023-11-14T22:13:20+00", &t) < 0 &&
	              tw_am_parse_time("2023-13-14T22:13:20Z", &t) < 0,
	      "bad times accepted");
}

/* the batch body as JSON: array length, and the first element */
static struct json_object *body(struct tw_am_batch *b, size_t *n)
{
	struct json_object *o = parse(b->body);
	*n = o && json_object_is_type(o, json_type_array) ? json_object_array_length(o) : 0;
	return o;
}

static void test_queue(void)
{
	struct tw_am_queue q;
	struct tw_am_batch b;
	struct tw_am_alert a;
	size_t n;
	const int64_t R = 60 * NS;
	tw_am_queue_init(&q, 16, 2, R);

	blocking("raised", 1, "", NOW, &a);
	CHECK(tw_am_queue_put(&q, &a, NOW) == 0 && q.n == 1 && tw_am_queue_pending(&q, 0) == 1, "put");
	CHECK(tw_am_queue_batch(&q, 0, NOW, 1, "\"http://gen\"", &b) == 1, "batch");
	struct json_object *o = body(&b, &n), *e = json_object_array_get_idx(o, 0), *v;
	char ends[40];
	tw_am_time(NOW + 4 * R, ends, sizeof(ends));
	CHECK(n == 1 && !strcmp(get(e, "endsAt"), ends) && !strcmp(get(e, "startsAt"), "2023-11-14T22:13:20.036Z") &&
	              !strcmp(get(e, "generatorURL"), "http://gen") && json_object_object_get_ex(e, "labels", &v) &&
	              json_object_object_get_ex(e, "annotations", &v),
	      "body: %s", b.body);
	json_object_put(o);
	tw_am_queue_done(&q, 0, &b, TW_AM_DELIVERED, NOW);
	tw_am_batch_free(&b);
	CHECK(tw_am_queue_pending(&q, 0) == 0 && tw_am_queue_pending(&q, 1) == 1 && q.st.delivered == 1,
	      "url 1 still due");
	/* re-sends: due again one interval after the delivery */
	CHECK(tw_am_queue_next_due(&q, 0, 1) == NOW + R && !tw_am_queue_batch(&q, 0, NOW + R - 1, 1, NULL, &b),
	      "not yet");
	CHECK(tw_am_queue_batch(&q, 0, NOW + R, 0, NULL, &b) == 0, "no re-sends while draining");
	CHECK(tw_am_queue_batch(&q, 0, NOW + R, 1, NULL, &b) == 1 && b.resend[0], "re-send");
	tw_am_time(NOW + 5 * R, ends, sizeof(ends));
	CHECK(strstr(b.body, ends) != NULL, "re-send endsAt moves on: %s", b.body);
	tw_am_queue_done(&q, 0, &b, TW_AM_RETRY, NOW + R);
	tw_am_batch_free(&b);
	CHECK(tw_am_queue_batch(&q, 0, NOW + R + 1, 1, NULL, &b) == 1, "failed re-send is due again");
	tw_am_queue_done(&q, 0, &b, TW_AM_DELIVERED, NOW + R + 1);
	tw_am_batch_free(&b);
	CHECK(q.st.resent == 1 && q.st.delivered == 2, "resent %llu", (unsigned long long)q.st.resent);

	/* an update in flight: the result counts for the version sent only */
	CHECK(tw_am_queue_batch(&q, 1, NOW, 1, NULL, &b) == 1, "url 1 batch");
	blocking("updated", 1, "", NOW, &a);
	tw_am_queue_put(&q, &a, NOW);
	tw_am_queue_done(&q, 1, &b, TW_AM_DELIVERED, NOW);
	tw_am_batch_free(&b);
	CHECK(q.n == 1 && tw_am_queue_pending(&q, 1) == 1 && tw_am_queue_pending(&q, 0) == 1,
	      "update pending for both");

	/* severity changes: the old labelset ends now, the new one starts */
	blocking("updated", 3, "", NOW, &a);
	tw_am_queue_put(&q, &a, NOW + 2 * NS);
	CHECK(q.n == 2 && q.e[0]->ends_ns == NOW + 2 * NS && q.e[1]->ends_ns == 0 &&
	              strstr(q.e[1]->labels, "\"severity\":\"info\"") && tw_am_queue_open(&q) == 1,
	      "label change");
	/* resolution: the open labelset ends with the resolution time */
	blocking("resolved", 1, "", NOW, &a);
	tw_am_queue_put(&q, &a, NOW + 3 * NS);
	CHECK(q.n == 2 && tw_am_queue_open(&q) == 0 && strstr(q.e[1]->labels, "\"severity\":\"info\""),
	      "resolved in place");
	/* both go together; a refused batch is retried one by one */
	CHECK(tw_am_queue_batch(&q, 0, NOW + 4 * NS, 1, NULL, &b) == 2, "batch of 2");
	tw_am_queue_done(&q, 0, &b, TW_AM_REFUSED, NOW + 4 * NS);
	tw_am_batch_free(&b);
	CHECK(q.st.rejected == 0 && tw_am_queue_pending(&q, 0) == 2, "refused batch kept");
	CHECK(tw_am_queue_batch(&q, 0, NOW + 4 * NS, 1, NULL, &b) == 1, "alone");
	tw_am_queue_done(&q, 0, &b, TW_AM_REFUSED, NOW + 4 * NS);
	tw_am_batch_free(&b);
	CHECK(q.st.rejected == 1 && tw_am_queue_pending(&q, 0) == 1, "refused alone: dropped for url 0");
	CHECK(tw_am_queue_batch(&q, 0, NOW + 4 * NS, 1, NULL, &b) == 1, "the other alone");
	tw_am_queue_done(&q, 0, &b, TW_AM_DELIVERED, NOW + 4 * NS);
	tw_am_batch_free(&b);
	CHECK(tw_am_queue_pending(&q, 0) == 0 && q.n == 2, "resolved entries wait for url 1");
	CHECK(tw_am_queue_batch(&q, 1, NOW + 5 * NS, 1, NULL, &b) == 2, "url 1");
	tw_am_queue_done(&q, 1, &b, TW_AM_DELIVERED, NOW + 5 * NS);
	tw_am_batch_free(&b);
	CHECK(q.n == 0 && tw_am_queue_next_due(&q, 1, 1) == INT64_MAX, "delivered everywhere: gone");

	/* overflow: a resolved entry makes way, open ones never */
	char line[4096];
	for (int i = 0; i < 17; i++) {
		snprintf(line, sizeof(line), "{\"event_type\":\"alert\",\"alert\":{\"id\":\"id%d\",\"state\":\"%s\"}}",
		         i, i == 3 ? "resolved" : "raised");
		map(line, NULL, NOW, &a, NULL);
		tw_am_queue_put(&q, &a, NOW);
	}
	CHECK(q.n == 16 && q.st.overflow == 1 && tw_am_queue_open(&q) == 16, "resolved evicted: n %zu", q.n);
	map("{\"event_type\":\"alert\",\"alert\":{\"id\":\"idx\",\"state\":\"raised\"}}", NULL, NOW, &a, NULL);
	CHECK(tw_am_queue_put(&q, &a, NOW) < 0 && q.st.overflow == 2 && q.n == 16, "full of open alerts: dropped");
	tw_am_queue_free(&q);
}

static int count_aside(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;
	while (d && (de = readdir(d)))
		n += strstr(de->d_name, TW_AM_SPOOL_NAME ".corrupt-") != NULL;
	if (d)
		closedir(d);
	return n;
}

static void test_spool(void)
{
	char dir[] = "/tmp/tw-am-spool-XXXXXX", path[256], err[512], line[4096];
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	snprintf(path, sizeof(path), "%s/%s", dir, TW_AM_SPOOL_NAME);
	struct tw_am_queue q, r;
	struct tw_am_alert a;
	uint64_t dropped = 0;
	tw_am_queue_init(&q, 100, 1, 60 * NS);
	tw_am_queue_init(&r, 100, 2, 60 * NS);
	CHECK(tw_am_spool_load(&r, dir, &dropped, err, sizeof(err)) == 0, "no spool yet");
	blocking("raised", 1, "", NOW, &a);
	tw_am_queue_put(&q, &a, NOW);
	snprintf(line, sizeof(line), BLOCKING, "resolved", 1, "");
	line[strstr(line, "08377fa6") - line] = '9'; /* another alert */
	map(line, NULL, NOW, &a, NULL);
	tw_am_queue_put(&q, &a, NOW);
	CHECK(tw_am_spool_save(&q, dir, err, sizeof(err)) == 0, "save: %s", err);
	CHECK(tw_am_spool_load(&r, dir, &dropped, err, sizeof(err)) == 1 && r.n == 2 && dropped == 0, "load: %s", err);
	for (size_t i = 0; i < 2 && r.n == 2; i++)
		CHECK(!strcmp(q.e[i]->id, r.e[i]->id) && !strcmp(q.e[i]->labels, r.e[i]->labels) &&
		              !strcmp(q.e[i]->annotations, r.e[i]->annotations) &&
		              q.e[i]->starts_ns == r.e[i]->starts_ns && q.e[i]->ends_ns == r.e[i]->ends_ns &&
		              r.e[i]->pending == 3,
		      "entry %zu differs", i);
	tw_am_queue_free(&r);

	/* smaller queue_max: the rest dropped and counted */
	tw_am_queue_init(&r, 1, 1, 60 * NS);
	CHECK(tw_am_spool_load(&r, dir, &dropped, err, sizeof(err)) == 1 && r.n == 1 && dropped == 1, "max");
	tw_am_queue_free(&r);

	/* a flipped byte, then a truncated file: set aside, reported, empty queue */
	FILE *f = fopen(path, "r+b");
	fseek(f, 40, SEEK_SET);
	int c = fgetc(f);
	fseek(f, 40, SEEK_SET);
	fputc(c ^ 0x55, f);
	fclose(f);
	tw_am_queue_init(&r, 100, 1, 60 * NS);
	CHECK(tw_am_spool_load(&r, dir, &dropped, err, sizeof(err)) < 0 && r.n == 0 && strstr(err, "moved aside") &&
	              access(path, F_OK) < 0 && count_aside(dir) == 1,
	      "flipped byte: %s", err);
	tw_am_spool_save(&q, dir, err, sizeof(err));
	CHECK(truncate(path, 50) == 0, "truncate");
	CHECK(tw_am_spool_load(&r, dir, &dropped, err, sizeof(err)) < 0 && r.n == 0 && strstr(err, "truncated") &&
	              count_aside(dir) == 2,
	      "truncated: %s", err);
	/* a sound state file that is not a spool, or of another version */
	tw_state_save(dir, TW_AM_SPOOL_NAME, "{\"format\":\"other\"}", 18, err, sizeof(err));
	CHECK(tw_am_spool_load(&r, dir, &dropped, err, sizeof(err)) < 0 && strstr(err, "not an Alertmanager spool") &&
	              count_aside(dir) == 3,
	      "foreign: %s", err);
	const char *v2 = "{\"format\":\"tamperwatch-alertmanager-spool\",\"version\":2,\"entries\":[]}";
	tw_state_save(dir, TW_AM_SPOOL_NAME, v2, strlen(v2), err, sizeof(err));
	CHECK(tw_am_spool_load(&r, dir, &dropped, err, sizeof(err)) < 0 && strstr(err, "version") &&
	              count_aside(dir) == 4,
	      "version: %s", err);
	/* bad entries are dropped one by one, the good ones loaded */
	const char *mixed =
	        "{\"format\":\"tamperwatch-alertmanager-spool\",\"version\":1,\"entries\":["
	        "{\"id\":\"a1\",\"labels\":{\"alertname\":\"X\",\"bad-name\":\"v\"},\"annotations\":{},\"starts_ns\":1,"
	        "\"ends_ns\":0},"
	        "{\"id\":\"a\\\"2\",\"labels\":{\"alertname\":\"X\"},\"annotations\":{},\"starts_ns\":1,\"ends_ns\":0},"
	        "{\"id\":\"a3\",\"labels\":{\"alertname\":\"X\"},\"annotations\":{\"x\":1},\"starts_ns\":1,\"ends_ns\":"
	        "0},"
	        "{\"id\":\"a4\",\"labels\":{\"alertname\":\"X\"},\"annotations\":{},\"starts_ns\":-1,\"ends_ns\":0},"
	        "{\"id\":\"a5\",\"labels\":{\"alertname\":\"X\"},\"annotations\":{\"s\":\"y\"},\"starts_ns\":1,\"ends_"
	        "ns\":2}]}";
	dropped = 0;
	tw_state_save(dir, TW_AM_SPOOL_NAME, mixed, strlen(mixed), err, sizeof(err));
	CHECK(tw_am_spool_load(&r, dir, &dropped, err, sizeof(err)) == 1 && r.n == 1 && dropped == 4 &&
	              !strcmp(r.e[0]->id, "a5") && r.e[0]->ends_ns == 2,
	      "mixed: n %zu dropped %llu", r.n, (unsigned long long)dropped);
	tw_am_queue_free(&r);
	tw_am_queue_free(&q);

	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%.200s", dir, de->d_name);
			unlink(path);
		}
	if (d)
		closedir(d);
	rmdir(dir);
}

int main(void)
{
	test_map();
	test_parsers();
	test_queue();
	test_spool();
	printf("test_alertmanager: %d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
