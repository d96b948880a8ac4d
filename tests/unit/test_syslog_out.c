/* Unit test of the RFC 5424 formatter (syslog_out.c): exact messages for
 * alert lines as the aggregator writes them and for link and gap records,
 * PARAM-VALUE escaping of '"', '\' and ']', the severity mapping, the
 * timestamp, truncation to the size bound, and target and facility parsing. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "outputs/syslog_out.h"
#include "check.h"

static char buf[TW_SYSLOG_MAX + 1];

static const char *fmt(const char *json, int facility, int *cut)
{
	struct json_object *o = json_tokener_parse(json);
	int c = 0;
	if (!o)
		return "(bad json in test)";
	size_t n = tw_syslog_format(buf, TW_SYSLOG_MAX, facility, "gw1", 42, o, &c);
	json_object_put(o);
	if (cut)
		*cut = c;
	CHECK(n == strlen(buf), "length %zu vs %zu", n, strlen(buf));
	return buf;
}

#define EQ(got, want) CHECK(!strcmp(got, want), "\n got: %s\nwant: %s", got, want)

int main(void)
{
	const char *raised =
	        "{\"timestamp\":\"2023-11-14T22:13:30.036000+0000\",\"event_type\":\"alert\",\"alert\":{\"id\":"
	        "\"08377fa6ce32535c\","
	        "\"state\":\"raised\",\"signature_id\":2001,\"signature\":\"rst_injection blocking of "
	        "blocked.example\","
	        "\"category\":\"blocking\",\"severity\":1},\"censorship\":{\"method\":\"rst_injection\",\"confidence\":"
	        "0.95,"
	        "\"legitimacy\":\"undeclared\",\"sampling\":1,\"methods_seen\":[\"rst_injection\"]},\"target\":{"
	        "\"domain\":"
	        "\"blocked.example\",\"ip\":\"203.0.113.5\",\"port\":80,\"proto\":\"tcp\"},\"scope\":{\"prefixes\":"
	        "[\"198.51.100.0/24\"],\"region\":null,\"asn\":null},\"stats\":{\"flows\":3}}";
	/* local0 (16) * 8 + crit (2) = 130 */
	EQ(fmt(raised, 16, NULL), "<130>1 2023-11-14T22:13:30.036000+00:00 gw1 tamperwatchd 42 alert "
	                          "[tamperwatch@32473 id=\"08377fa6ce32535c\" "
	                          "state=\"raised\" category=\"blocking\" method=\"rst_injection\" "
	                          "legitimacy=\"undeclared\" confidence=\"0.95\" "
	                          "domain=\"blocked.example\" ip=\"203.0.113.5\" port=\"80\" proto=\"tcp\" "
	                          "signature_id=\"2001\" severity=\"1\"] "
	                          "rst_injection blocking of blocked.example");

	/* resolved: notice, whatever the alert's severity; daemon (3) * 8 + 5 = 29 */
	const char *resolved =
	        "{\"timestamp\":\"2023-11-14T22:15:30.034000-0130\",\"event_type\":\"alert\",\"alert\":{\"id\":\"a1\","
	        "\"state\":\"resolved\",\"category\":\"blocking\",\"severity\":1}}";
	EQ(fmt(resolved, 3, NULL), "<29>1 2023-11-14T22:15:30.034000-01:30 gw1 tamperwatchd 42 alert "
	                           "[tamperwatch@32473 id=\"a1\" state=\"resolved\" "
	                           "category=\"blocking\" severity=\"1\"]");

	/* severity 2 -> err, 3 -> warning, none -> warning */
	const char *s2 = "{\"event_type\":\"alert\",\"alert\":{\"state\":\"updated\",\"severity\":2}}";
	const char *s3 = "{\"event_type\":\"alert\",\"alert\":{\"state\":\"raised\",\"severity\":3}}";
	const char *s0 = "{\"event_type\":\"alert\",\"alert\":{\"state\":\"raised\"}}";
	CHECK(!strncmp(fmt(s2, 0, NULL), "<3>1 - gw1", 10), "%s", buf);
	CHECK(!strncmp(fmt(s3, 0, NULL), "<4>1 ", 5), "%s", buf);
	CHECK(!strncmp(fmt(s0, 0, NULL), "<4>1 ", 5), "%s", buf);

	/* escaping: '"', '\' and ']' in values; a control character becomes '?' */
	const char *hostile =
	        "{\"timestamp\":\"bogus\",\"event_type\":\"alert\",\"alert\":{\"id\":\"x]y\",\"state\":\"raised\","
	        "\"signature\":\"sig with ] and \\\" inside\",\"severity\":1},"
	        "\"target\":{\"domain\":\"a\\\"b\\\\c]d\\ne\"}}";
	EQ(fmt(hostile, 1, NULL), "<10>1 - gw1 tamperwatchd 42 alert [tamperwatch@32473 id=\"x\\]y\" state=\"raised\" "
	                          "domain=\"a\\\"b\\\\c\\]d?e\" severity=\"1\"] sig with ] and \" inside");

	/* link and gap records: their own members as params, the note as MSG */
	const char *down = "{\"timestamp\":\"2026-11-28T16:10:52.000000+0000\",\"event_type\":\"link\",\"link\":{"
	                   "\"state\":\"down\","
	                   "\"note\":\"monitored link: not a shutdown\"}}";
	EQ(fmt(down, 3, NULL),
	   "<28>1 2026-11-28T16:10:52.000000+00:00 gw1 tamperwatchd 42 link [tamperwatch@32473 state=\"down\"] "
	   "monitored link: not a shutdown");
	const char *up = "{\"event_type\":\"link\",\"link\":{\"state\":\"up\",\"down_s\":12}}";
	EQ(fmt(up, 3, NULL), "<29>1 - gw1 tamperwatchd 42 link [tamperwatch@32473 state=\"up\" down_s=\"12\"]");
	const char *gap =
	        "{\"event_type\":\"gap\",\"gap\":{\"why\":\"capture_gap\",\"seconds\":30,\"note\":\"our own gap\"}}";
	EQ(fmt(gap, 3, NULL),
	   "<28>1 - gw1 tamperwatchd 42 gap [tamperwatch@32473 why=\"capture_gap\" seconds=\"30\"] our own gap");

	/* bounded: a huge signature is cut, the SD element stays whole */
	size_t big = 3 * TW_SYSLOG_MAX;
	char *j = malloc(2 * big + 200);
	int off = sprintf(j, "{\"event_type\":\"alert\",\"alert\":{\"id\":\"a\",\"signature\":\"");
	for (size_t i = 0; i < big; i++)
		j[off++] = (char)('a' + i % 26);
	strcpy(j + off, "\"},\"target\":{\"domain\":\"");
	off += (int)strlen(j + off);
	for (size_t i = 0; i < big; i++)
		j[off++] = ']';
	strcpy(j + off, "\"}}");
	int cut = 0;
	const char *m = fmt(j, 1, &cut);
	CHECK(cut && strlen(m) <= TW_SYSLOG_MAX - 1, "cut %d len %zu", cut, strlen(m));
	const char *sd_end = strstr(m, "\"] ");
	CHECK(sd_end && !strncmp(sd_end + 3, "abcdefg", 7), "SD not closed before MSG: %.200s", m);
	/* the cut value has whole escapes only: an even run of backslash-bracket pairs */
	const char *dv = strstr(m, "domain=\"");
	CHECK(dv && sd_end, "no domain param");
	if (dv && sd_end) {
		size_t n = (size_t)(sd_end - (dv + 8));
		int whole = n % 2 == 0;
		for (size_t i = 0; whole && i < n; i += 2)
			whole = dv[8 + i] == '\\' && dv[9 + i] == ']';
		CHECK(whole && n <= 2 * 512, "escapes split or value unbounded (%zu bytes)", n);
	}
	free(j);

	/* targets and facilities */
	struct tw_syslog_target t;
	char err[200];
	CHECK(tw_syslog_parse_target("/dev/log", &t, err, sizeof(err)) == 0 && t.transport == TW_SYSLOG_UNIX &&
	              !strcmp(t.path, "/dev/log"),
	      "unix");
	CHECK(tw_syslog_parse_target("unix:/run/x.sock", &t, err, sizeof(err)) == 0 && !strcmp(t.path, "/run/x.sock"),
	      "unix:");
	CHECK(tw_syslog_parse_target("udp://127.0.0.1:514", &t, err, sizeof(err)) == 0 && t.transport == TW_SYSLOG_UDP,
	      "udp");
	CHECK(tw_syslog_parse_target("tcp://[::1]:6514", &t, err, sizeof(err)) == 0 && t.transport == TW_SYSLOG_TCP &&
	              t.ss.ss_family == AF_INET6,
	      "tcp v6");
	const char *bad[] = { "",
		              "log",
		              "udp://localhost:514",
		              "tcp://127.0.0.1",
		              "tcp://127.0.0.1:0",
		              "udp://127.0.0.1:70000",
		              "tcp://[::1:514",
		              "http://127.0.0.1:80",
		              "udp://1.2.3.4.5:9" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		CHECK(tw_syslog_parse_target(bad[i], &t, err, sizeof(err)) < 0 && err[0] && !strchr(err, '\n'),
		      "'%s' accepted", bad[i]);
	}
	CHECK(tw_syslog_facility("kern") == 0 && tw_syslog_facility("daemon") == 3 &&
	              tw_syslog_facility("local0") == 16 && tw_syslog_facility("local7") == 23 &&
	              tw_syslog_facility("local8") < 0 && tw_syslog_facility("local") < 0 &&
	              tw_syslog_facility("Daemon") < 0,
	      "facilities");

	printf("%d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
