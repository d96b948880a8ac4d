/* Unit test of the Prometheus exposition renderer (metrics.c): a real bus
 * fed with alert lines as the aggregator writes them (raised, updated,
 * resolved, a second alert still open, a shutdown alert, a link record and
 * a line that is not JSON) and a filled status snapshot; checks exact series
 * and values, HELP/TYPE lines, label escaping, and that no label carries a
 * domain or an address. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "outputs/bus.h"
#include "outputs/metrics.h"
#include "events/pipeline.h"
#include "outputs/status.h"
#include "verdicts/verdict.h"
#include "check.h"

/* the whole line "series value" is in the text */
static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}
#define LINE(text, l) CHECK(has_line(text, l), "missing line: %s", l)

/* lines as tamperwatchd writes them for tests/replay/craft_alerts.py incident.pcap */
#define HEAD                                                                                                           \
	"{\"timestamp\":\"2023-11-14T22:13:30.036000+0000\",\"event_type\":\"alert\",\"alert\":{\"id\":"               \
	"\"08377fa6ce32535c\",\"state\":\""
#define TAIL                                                                                                           \
	"\",\"signature_id\":2001,\"signature\":\"rst_injection blocking of "                                          \
	"blocked.example\",\"category\":\"blocking\",\"severity\":1},"                                                 \
	"\"censorship\":{\"method\":\"rst_injection\",\"confidence\":0.95,\"legitimacy\":\"undeclared\",\"sampling\":" \
	"1,\"methods_seen\":[\"rst_injection\"]},"                                                                     \
	"\"target\":{\"domain\":\"blocked.example\",\"ip\":\"203.0.113.5\",\"port\":80,\"proto\":\"tcp\"},"            \
	"\"scope\":{\"prefixes\":[\"198.51.100.0/24\",\"192.0.2.0/24\",\"100.64.1.0/"                                  \
	"24\"],\"region\":null,\"asn\":null},"                                                                         \
	"\"stats\":{\"flows\":3,\"affected_flows\":3,\"clients\":3,\"ratio\":1.000,\"baseline\":null},"                \
	"\"first_seen\":\"2023-11-14T22:13:20.036000+0000\",\"last_seen\":\"2023-11-14T22:13:30.036000+0000\","        \
	"\"evidence\":{\"flow_ids\":[1,3,4]}}\n"

static const char *const lines[] = {
	HEAD "raised" TAIL,
	HEAD "updated" TAIL,
	HEAD "resolved" TAIL,
	/* a second target, declared blackhole, still open */
	"{\"timestamp\":\"2023-11-14T22:14:00.000000+0000\",\"event_type\":\"alert\",\"alert\":{\"id\":\"aa01\","
	"\"state\":\"raised\","
	"\"signature_id\":2002,\"signature\":\"blackhole blocking of "
	"x.example\",\"category\":\"blocking\",\"severity\":3},"
	"\"censorship\":{\"method\":\"blackhole\",\"confidence\":0.9,\"legitimacy\":\"declared\",\"sampling\":1},"
	"\"target\":{\"domain\":\"x.example\",\"ip\":\"203.0.113.9\",\"port\":443,\"proto\":\"tcp\"}}\n",
	/* a shutdown alert: no legitimacy; and a method with characters a label must escape */
	"{\"timestamp\":\"2023-11-14T22:14:00.000000+0000\",\"event_type\":\"alert\",\"alert\":{\"id\":\"sd01\","
	"\"state\":\"raised\","
	"\"category\":\"shutdown\",\"severity\":1},\"censorship\":{\"method\":\"shutdown\"}}\n",
	"{\"timestamp\":\"2023-11-14T22:14:00.000000+0000\",\"event_type\":\"alert\",\"alert\":{\"id\":\"q1\","
	"\"state\":\"raised\","
	"\"category\":\"blocking\"},\"censorship\":{\"method\":\"we\\\"ird\\\\m\\nx\",\"legitimacy\":\"undeclared\"}}"
	"\n",
	"{\"timestamp\":\"2023-11-14T22:14:01.000000+0000\",\"event_type\":\"link\",\"link\":{\"state\":\"down\"}}\n",
	"this is not json\n",
};

int main(void)
{
	char err[256];
	struct tw_output out;
	struct tw_bus bus;
	struct tw_status st;

	if (tw_output_open(&out, "/dev/null", err, sizeof(err)) < 0) {
		printf("%s\n", err);
		return 1;
	}
	tw_bus_init(&bus, tw_output_line_now, &out);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		tw_bus_line(&bus, lines[i], strlen(lines[i]));

	tw_status_init(&st, "xdp", "0.1.0");
	st.started_wall_ns = 1700000000123456789ull;
	st.updated_wall_ns = 1700000060500000000ull;
	st.counters[TW_CNT_PACKETS] = 1234;
	st.counters[TW_CNT_BYTES] = 567890;
	st.counters[TW_CNT_TRACKED] = 1200;
	st.counters[TW_CNT_PARSE_BASE + 1] = 30; /* not_ip */
	st.counters[TW_CNT_PARSE_BASE + 5] = 4;  /* fragment */
	st.counters[TW_CNT_EVENTS_LOST] = 7;
	st.events[TW_EV_CLIENT_DATA] = 5;
	st.events[TW_EV_SERVER_DATA] = 6; /* both "payload" */
	st.events[TW_EV_RST] = 2;
	st.events[TW_EV_FLOW_END] = 9;
	st.events_malformed = 3;
	st.output_write_errors = 1;
	st.tamper_verdicts[TW_METHOD_RST_INJECTION] = 12;
	st.tamper_verdicts[TW_METHOD_BLACKHOLE] = 1;
	st.agg.targets = 7;
	st.agg.targets_dropped = 3;
	st.agg.prefixes_dropped = 2;
	st.agg.throttling_uncontrolled = 3;
	st.payload_parse_errors[0][1] = 3; /* dns malformed */
	st.payload_parse_errors[1][0] = 2; /* tls_client_hello truncated */
	st.redirect_bodies_skipped = 6;
	st.flows_one_way_attachment = 9;
	st.flows_one_way = 4;
	tw_status_add_link(&st, "gw-cli", "xdp native");
	tw_status_add_link(&st, "od\"d\\if", "xdp native");
	tw_status_add_link(&st, "never", "xdp native"); /* state unknown: no sample */
	tw_status_set_link_up(&st, "gw-cli", 1);
	tw_status_set_link_up(&st, "od\"d\\if", 0);
	st.syslog.enabled = 1;
	snprintf(st.syslog.transport, sizeof(st.syslog.transport), "tcp");
	st.syslog.sent = 5;
	st.syslog.failed = 2;

	struct tw_metrics_http hs = { .requests = 4 };
	hs.rejected[TW_MR_NOT_FOUND] = 3;
	hs.rejected[TW_MR_TOO_LARGE] = 1;
	char *txt = NULL;
	long n = tw_metrics_render(&st, &bus, &hs, &txt);
	CHECK(n > 0 && txt && (size_t)n == strlen(txt), "render: %ld", n);
	if (!txt)
		return 1;
	printf("%s", txt);

	LINE(txt, "# HELP tamperwatch_build_info Always 1: the daemon's version and backend as labels.");
	LINE(txt, "# TYPE tamperwatch_build_info gauge");
	LINE(txt, "tamperwatch_build_info{version=\"0.1.0\",backend=\"xdp\"} 1");
	LINE(txt, "tamperwatch_start_time_seconds 1700000000.123");
	LINE(txt, "tamperwatch_status_updated_time_seconds 1700000060.500");
	LINE(txt, "# TYPE tamperwatch_packets_total counter");
	LINE(txt, "tamperwatch_packets_total{backend=\"xdp\"} 1234");
	LINE(txt, "tamperwatch_bytes_total{backend=\"xdp\"} 567890");
	LINE(txt, "tamperwatch_packets_tracked_total{backend=\"xdp\"} 1200");
	LINE(txt, "tamperwatch_packets_untracked_total{backend=\"xdp\",reason=\"not_ip\"} 30");
	LINE(txt, "tamperwatch_packets_untracked_total{backend=\"xdp\",reason=\"fragment\"} 4");
	LINE(txt, "tamperwatch_packets_untracked_total{backend=\"xdp\",reason=\"bad_l4\"} 0");
	LINE(txt, "tamperwatch_events_lost_total{backend=\"xdp\"} 7");
	LINE(txt, "tamperwatch_events_total{type=\"payload\"} 11");
	LINE(txt, "tamperwatch_events_total{type=\"rst\"} 2");
	LINE(txt, "tamperwatch_events_total{type=\"flow\"} 9");
	LINE(txt, "tamperwatch_events_total{type=\"dns\"} 0");
	LINE(txt, "tamperwatch_events_malformed_total 3");
	LINE(txt, "tamperwatch_output_write_errors_total 1");
	LINE(txt, "tamperwatch_tamper_verdicts_total{method=\"rst_injection\"} 12");
	LINE(txt, "tamperwatch_alert_targets 7");
	LINE(txt, "tamperwatch_alert_targets_dropped_total 3");
	LINE(txt, "tamperwatch_alert_prefixes_dropped_total 2");
	LINE(txt, "tamperwatch_alert_throttling_uncontrolled_total 3");
	LINE(txt, "tamperwatch_payload_parse_errors_total{parser=\"dns\",result=\"malformed\"} 3");
	LINE(txt, "tamperwatch_payload_parse_errors_total{parser=\"dns\",result=\"truncated\"} 0");
	LINE(txt, "tamperwatch_payload_parse_errors_total{parser=\"tls_client_hello\",result=\"truncated\"} 2");
	LINE(txt, "# TYPE tamperwatch_redirect_bodies_skipped_total counter");
	LINE(txt, "tamperwatch_redirect_bodies_skipped_total 6");
	LINE(txt, "# TYPE tamperwatch_flows_one_way_total counter");
	LINE(txt, "tamperwatch_flows_one_way_total{reason=\"attachment\"} 9");
	LINE(txt, "tamperwatch_flows_one_way_total{reason=\"path\"} 4");
	LINE(txt, "tamperwatch_tamper_verdicts_total{method=\"blackhole\"} 1");
	LINE(txt, "tamperwatch_tamper_verdicts_total{method=\"tls_interference\"} 0");
	/* one alert raised, updated, resolved: counted once each, no longer open */
	LINE(txt, "tamperwatch_alerts_total{category=\"blocking\",method=\"rst_injection\",legitimacy=\"undeclared\","
	          "state=\"raised\"} 1");
	LINE(txt, "tamperwatch_alerts_total{category=\"blocking\",method=\"rst_injection\",legitimacy=\"undeclared\","
	          "state=\"updated\"} 1");
	LINE(txt, "tamperwatch_alerts_total{category=\"blocking\",method=\"rst_injection\",legitimacy=\"undeclared\","
	          "state=\"resolved\"} 1");
	LINE(txt,
	     "tamperwatch_alerts_open{category=\"blocking\",method=\"rst_injection\",legitimacy=\"undeclared\"} 0");
	LINE(txt, "tamperwatch_alerts_open{category=\"blocking\",method=\"blackhole\",legitimacy=\"declared\"} 1");
	LINE(txt, "tamperwatch_alerts_total{category=\"blocking\",method=\"blackhole\",legitimacy=\"declared\",state="
	          "\"raised\"} 1");
	LINE(txt, "tamperwatch_alerts_open{category=\"shutdown\",method=\"shutdown\",legitimacy=\"\"} 1");
	/* escaping: \" \\ \n inside label values */
	LINE(txt, "tamperwatch_alerts_open{category=\"blocking\",method=\"we\\\"ird\\\\m\\nx\",legitimacy="
	          "\"undeclared\"} 1");
	LINE(txt, "tamperwatch_link_up{interface=\"gw-cli\"} 1");
	LINE(txt, "tamperwatch_link_up{interface=\"od\\\"d\\\\if\"} 0");
	CHECK(!strstr(txt, "interface=\"never\""), "a link of unknown state has a sample");
	LINE(txt, "tamperwatch_bus_lines_total 8");
	LINE(txt, "tamperwatch_bus_dropped_total{reason=\"parse_errors\"} 1");
	LINE(txt, "tamperwatch_bus_dropped_total{reason=\"open_overflow\"} 0");
	LINE(txt, "tamperwatch_syslog_messages_total{transport=\"tcp\"} 5");
	LINE(txt, "tamperwatch_syslog_send_failures_total{transport=\"tcp\"} 2");
	LINE(txt, "tamperwatch_metrics_requests_total 4");
	LINE(txt, "tamperwatch_metrics_rejected_total{reason=\"not_found\"} 3");
	LINE(txt, "tamperwatch_metrics_rejected_total{reason=\"too_large\"} 1");
	LINE(txt, "tamperwatch_metrics_rejected_total{reason=\"timeout\"} 0");

	/* privacy and cardinality: no domain, target or client in any label */
	const char *never[] = { "blocked.example", "x.example", "203.0.113", "198.51.100", "08377fa6ce32535c" };
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		CHECK(!strstr(txt, never[i]), "'%s' in the exposition", never[i]);
	/* every sample belongs to a family declared just before with HELP and TYPE */
	char fam[128] = "";
	int samples = 0;
	for (char *l = txt; *l;) {
		char *e = strchr(l, '\n');
		CHECK(e != NULL, "last line unterminated");
		if (!e)
			break;
		if (!strncmp(l, "# TYPE ", 7)) {
			size_t k = strcspn(l + 7, " ");
			snprintf(fam, sizeof(fam), "%.*s", (int)k, l + 7);
		} else if (l[0] != '#') {
			size_t k = strcspn(l, "{ ");
			CHECK(k == strlen(fam) && !strncmp(l, fam, k), "sample outside its family: %.*s", (int)(e - l),
			      l);
			CHECK(!strncmp(l, "tamperwatch_", 12), "not a tamperwatch_ name: %.*s", (int)(e - l), l);
			samples++;
		}
		l = e + 1;
	}
	CHECK(samples > 60, "only %d samples", samples);

	/* syslog disabled: no syslog series */
	free(txt);
	st.syslog.enabled = 0;
	n = tw_metrics_render(&st, &bus, NULL, &txt);
	CHECK(n > 0 && !strstr(txt, "syslog") && !strstr(txt, "tamperwatch_metrics_requests_total"),
	      "disabled outputs rendered");
	free(txt);

	tw_bus_free(&bus);
	tw_status_free(&st);
	tw_output_close(&out);
	printf("%d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
