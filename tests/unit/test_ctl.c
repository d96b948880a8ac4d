/* Unit tests of the control socket's pieces that take outside input or
 * build what leaves the daemon: the request parser (ctlreq.c), the alert
 * timelines and their bounds (timeline.c), the report bundle's tar writer
 * and the evidence path checks (report.c, read back with libarchive), and
 * the top-targets summary (aggregate.c). */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "alerts/aggregate.h"
#include "control/ctlreq.h"
#include "control/report.h"
#include "control/timeline.h"
#include "check.h"

static int parse(const char *s, struct tw_ctl_req *r, char *err)
{
	return tw_ctl_req_parse(s, strlen(s), r, err, 256);
}

static void test_parser(void)
{
	struct tw_ctl_req r;
	char err[256], buf[TW_CTL_REQ_MAX + 64];

	CHECK(parse("status\n", &r, err) == 0 && r.cmd == TW_CTL_STATUS, "%s", err);
	CHECK(parse("alerts state=open method=rst_injection category=blocking legitimacy=undeclared since=2h", &r,
	            err) == 0,
	      "%s", err);
	CHECK(r.cmd == TW_CTL_ALERTS && r.state == TW_CTL_OPEN && !strcmp(r.method, "rst_injection") &&
	              !strcmp(r.category, "blocking") && !strcmp(r.legitimacy, "undeclared") && r.since_s == 7200,
	      "fields");
	CHECK(parse("alerts\r\n", &r, err) == 0 && r.state == TW_CTL_ALL && !r.method[0] && !r.since_s, "defaults");
	CHECK(parse("targets top=5", &r, err) == 0 && r.top == 5, "%s", err);
	CHECK(parse("targets", &r, err) == 0 && r.top == TW_CTL_TOP_MAX, "default top");
	CHECK(parse("report id=5743c0c47762a7f1", &r, err) == 0 && !strcmp(r.id, "5743c0c47762a7f1"), "%s", err);
	CHECK(parse("  status  ", &r, err) == 0, "spaces around");

	/* refusals, each with a message */
	static const char *const bad[] = {
		"",
		"\n",
		"stat",
		"STATUS",
		"status extra",
		"alerts state=maybe",
		"alerts state=open state=all",
		"alerts method=a method=b",
		"alerts since=0",
		"alerts since=5y",
		"alerts since=-1",
		"alerts since=99999999999d",
		"alerts id=x",
		"targets top=0",
		"targets top=21",
		"targets top=3x",
		"report",
		"report id=",
		"report id=../../etc/passwd",
		"report id=a/b",
		"report id=\"x\"",
		"alerts method=a\"b",
		"alerts =x",
		"report 5743c0c47762a7f1",
		"status id=1",
		"alerts method=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"alerts category=abcdefghijklmnopq",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		CHECK(parse(bad[i], &r, err) < 0 && err[0], "accepted '%s'", bad[i]);
	}
	/* embedded NUL and newline, too long, too many words */
	CHECK(tw_ctl_req_parse("status\0x", 8, &r, err, sizeof(err)) < 0, "NUL accepted");
	CHECK(parse("status\nalerts", &r, err) < 0, "two lines accepted");
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "alerts ", 7);
	buf[TW_CTL_REQ_MAX + 10] = 0;
	CHECK(parse(buf, &r, err) < 0 && strstr(err, "longer"), "long: %s", err);
	buf[0] = 0;
	for (int i = 0; i < 20; i++)
		strcat(buf, i ? " method=x" : "alerts");
	CHECK(parse(buf, &r, err) < 0 && strstr(err, "too many"), "words: %s", err);

	/* what the CLI formats, the daemon parses back to the same request */
	struct tw_ctl_req q, back;
	tw_ctl_req_init(&q, TW_CTL_ALERTS);
	q.state = TW_CTL_RESOLVED;
	strcpy(q.method, "blackhole");
	strcpy(q.legitimacy, "declared");
	q.since_s = 900;
	long n = tw_ctl_req_format(&q, buf, sizeof(buf));
	CHECK(n > 0 && buf[n - 1] == '\n' && tw_ctl_req_parse(buf, (size_t)n, &back, err, sizeof(err)) == 0 &&
	              !memcmp(&q, &back, sizeof(q)),
	      "round trip: %s / %s", buf, err);
	tw_ctl_req_init(&q, TW_CTL_REPORT);
	strcpy(q.id, "00ff");
	n = tw_ctl_req_format(&q, buf, sizeof(buf));
	CHECK(n > 0 && tw_ctl_req_parse(buf, (size_t)n, &back, err, sizeof(err)) == 0 && !memcmp(&q, &back, sizeof(q)),
	      "report round trip");
	CHECK(tw_ctl_req_format(&q, buf, 8) < 0, "format into a small buffer");

	uint64_t s;
	CHECK(tw_ctl_parse_duration("90", &s) == 0 && s == 90, "90");
	CHECK(tw_ctl_parse_duration("15m", &s) == 0 && s == 900, "15m");
	CHECK(tw_ctl_parse_duration("7d", &s) == 0 && s == 7 * 86400, "7d");
	CHECK(tw_ctl_parse_duration("1h5m", &s) < 0 && tw_ctl_parse_duration("h", &s) < 0 &&
	              tw_ctl_parse_duration("", &s) < 0 && tw_ctl_parse_duration("18446744073709551617", &s) < 0,
	      "bad durations");
}

static char *alert_line(const char *id, const char *state, int n, const char *pcap)
{
	char *l = malloc(1024);
	char ev[300] = "";
	if (pcap)
		snprintf(ev, sizeof(ev), ",\"pcap\":\"%s\"", pcap);
	snprintf(
	        l, 1024,
	        "{\"timestamp\":\"2026-11-28T16:10:%02d.000000+0000\",\"event_type\":\"alert\",\"alert\":{\"id\":\"%"
	        "s\","
	        "\"state\":\"%s\",\"signature\":\"rst_injection blocking of "
	        "blocked.example\",\"category\":\"blocking\"},"
	        "\"censorship\":{\"method\":\"rst_injection\",\"confidence\":0.97,\"legitimacy\":\"undeclared\","
	        "\"methods_seen\":[\"rst_injection\"]},\"target\":{\"domain\":\"blocked.example\",\"ip\":\"203.0.113."
	        "5\","
	        "\"port\":80,\"proto\":\"tcp\"},\"scope\":{\"prefixes\":[\"198.51.100.0/24\"]},\"stats\":{\"flows\":%d,"
	        "\"affected_flows\":%d,\"clients\":1,\"ratio\":1.000},\"evidence\":{\"flow_ids\":[1]%s}}\n",
	        n % 60, id, state, n, n, ev);
	return l;
}

static void feed(struct tw_timeline *t, char *line)
{
	struct json_object *o = json_tokener_parse(line);
	tw_timeline_sink(t, line, strlen(line), o);
	json_object_put(o);
	free(line);
}

static void test_timeline(void)
{
	struct tw_timeline t;
	char **lines;
	uint64_t om;
	tw_timeline_init(&t);
	feed(&t, alert_line("aaaa", "raised", 1, NULL));
	for (int i = 0; i < 40; i++)
		feed(&t, alert_line("aaaa", "updated", 2 + i, NULL));
	feed(&t, alert_line("aaaa", "resolved", 50, NULL));
	feed(&t, alert_line("bbbb", "raised", 3, NULL));
	long n = tw_timeline_get(&t, "aaaa", &lines, &om);
	/* first + the last TW_TL_LINES - 1, the middle counted */
	CHECK(n == TW_TL_LINES && om == 41 - (TW_TL_LINES - 1), "n %ld omitted %llu", n, (unsigned long long)om);
	CHECK(n > 0 && strstr(lines[0], "\"raised\"") && strstr(lines[n - 1], "\"resolved\"") &&
	              strstr(lines[1], "\"flows\":12,"),
	      "kept lines");
	tw_timeline_lines_free(lines, n);
	CHECK(t.lines_omitted == om, "lines_omitted %llu", (unsigned long long)t.lines_omitted);
	CHECK(tw_timeline_get(&t, "cccc", &lines, &om) == 0 && !lines, "unknown id");
	/* not alerts, no id: ignored */
	feed(&t, strdup("{\"event_type\":\"stats\"}\n"));
	feed(&t, strdup("{\"event_type\":\"alert\",\"alert\":{}}\n"));
	CHECK(t.n == 2, "n %zu", t.n);
	/* resolved alerts beyond the bound: the oldest resolved ones go, open ones stay */
	char id[32];
	for (int i = 0; i < TW_TL_MAX_RESOLVED + 10; i++) {
		snprintf(id, sizeof(id), "r%04d", i);
		feed(&t, alert_line(id, "raised", 1, NULL));
		feed(&t, alert_line(id, "resolved", 2, NULL));
	}
	CHECK(tw_timeline_get(&t, "bbbb", &lines, &om) == 1, "open alert evicted");
	tw_timeline_lines_free(lines, 1);
	CHECK(tw_timeline_get(&t, "aaaa", &lines, &om) == 0, "oldest resolved kept");
	CHECK(tw_timeline_get(&t, "r0265", &lines, &om) == 2, "newest resolved lost");
	tw_timeline_lines_free(lines, 2);
	CHECK(t.evicted == 11 && t.n == TW_TL_MAX_RESOLVED + 1, "evicted %llu n %zu", (unsigned long long)t.evicted,
	      t.n);
	tw_timeline_free(&t);
}

/* members of a .tar.gz in memory: name -> content (up to 8) */
struct member {
	char name[64];
	char *data;
	size_t len;
};

static int untar(const char *p, size_t n, struct member *m, int max)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int k = 0;
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_memory(a, p, n) != ARCHIVE_OK) {
		archive_read_free(a);
		return -1;
	}
	while (k < max && archive_read_next_header(a, &e) == ARCHIVE_OK) {
		snprintf(m[k].name, sizeof(m[k].name), "%s", archive_entry_pathname(e));
		m[k].len = (size_t)archive_entry_size(e);
		m[k].data = malloc(m[k].len + 1);
		if (archive_read_data(a, m[k].data, m[k].len) != (la_ssize_t)m[k].len) {
			archive_read_free(a);
			return -1;
		}
		m[k].data[m[k].len] = 0;
		k++;
	}
	archive_read_free(a);
	return k;
}

static const struct member *find(const struct member *m, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(m[i].name, name))
			return &m[i];
	return NULL;
}

static void write_file(const char *path, const char *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	fwrite(data, 1, n, f);
	fclose(f);
}

static void test_report(void)
{
	char dir[] = "/tmp/tw-test-ctl.XXXXXX", ev[256], other[256], path[400], err[600];
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	snprintf(ev, sizeof(ev), "%s/evidence", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	mkdir(ev, 0700);
	mkdir(other, 0700);
	char pcapdata[100];
	memset(pcapdata, 0xd4, sizeof(pcapdata));
	snprintf(path, sizeof(path), "%s/a.pcap", ev);
	write_file(path, pcapdata, sizeof(pcapdata));

	/* the bundle: members, the lines verbatim, the evidence capture */
	char *lines[3] = { alert_line("abcd", "raised", 1, NULL), alert_line("abcd", "updated", 2, path),
		           alert_line("abcd", "resolved", 3, path) };
	struct tw_report_in in = { .id = "abcd",
		                   .lines = lines,
		                   .nlines = 3,
		                   .version = "9.9.9",
		                   .evidence_dir = ev,
		                   .now_ns = 1700000000ull * 1000000000ull };
	struct tw_report r;
	CHECK(tw_report_build(&in, &r, err, sizeof(err)) == 0, "%s", err);
	struct member m[8];
	int nm = untar(r.data, r.len, m, 8);
	CHECK(nm == 6 && r.evidence && r.plot, "members %d evidence %d note %s plot %d %s", nm, r.evidence, r.note,
	      r.plot, r.plot_note);
	/* the picture: the three lines' ratio at their times, the raise marked */
	const struct member *sv = find(m, nm, "plot.svg"), *pn = find(m, nm, "plot.png");
	CHECK(sv && strstr(sv->data, "data-plot=\"abcd\"") &&
	              strstr(sv->data, "data-t=\"1795882201.000\" data-v=\"1\"") &&
	              strstr(sv->data, "data-t=\"1795882203.000\" data-v=\"1\"") &&
	              strstr(sv->data, "class=\"mark\" data-t=\"1795882201.000\""),
	      "plot.svg: %s", sv ? sv->data : "");
	CHECK(pn && pn->len > 100 && !memcmp(pn->data, "\x89PNG\r\n\x1a\n", 8), "plot.png");
	if (getenv("TW_TEST_REPORT_OUT")) /* tests/unit/test_report_plot.sh checks it further */
		write_file(getenv("TW_TEST_REPORT_OUT"), r.data, r.len);
	const struct member *aj = find(m, nm, "alert.json"), *tl = find(m, nm, "timeline.txt"),
	                    *rd = find(m, nm, "README.txt"), *pc = find(m, nm, "evidence.pcap");
	char all[4096];
	snprintf(all, sizeof(all), "%s%s%s", lines[0], lines[1], lines[2]);
	CHECK(aj && !strcmp(aj->data, all), "alert.json is not the lines");
	CHECK(tl && strstr(tl->data, "Alert abcd") && strstr(tl->data, "resolved") &&
	              strstr(tl->data, "blocked.example (203.0.113.5) port 80/tcp"),
	      "timeline: %s", tl ? tl->data : "");
	CHECK(rd && strstr(rd->data, "tamperwatchd 9.9.9") && strstr(rd->data, "Privacy"), "readme");
	CHECK(pc && pc->len == sizeof(pcapdata) && !memcmp(pc->data, pcapdata, sizeof(pcapdata)), "pcap member");
	for (int i = 0; i < nm; i++)
		free(m[i].data);
	free(r.data);

	/* evidence paths that must be refused; the bundle is made without them */
	uint64_t size;
	int fd;
	char link[400], big[400], outside[400], sub[400];
	snprintf(link, sizeof(link), "%s/link.pcap", ev);
	snprintf(outside, sizeof(outside), "%s/secret.pcap", other);
	write_file(outside, "secret", 6);
	CHECK(symlink(outside, link) == 0, "symlink");
	CHECK(tw_report_evidence_open(link, ev, 1 << 20, &size, err, sizeof(err)) < 0 && strstr(err, "symbolic"),
	      "symlink to outside: %s", err);
	CHECK(tw_report_evidence_open(link, NULL, 1 << 20, &size, err, sizeof(err)) < 0, "symlink, no dir");
	CHECK(tw_report_evidence_open(outside, ev, 1 << 20, &size, err, sizeof(err)) < 0 && strstr(err, "outside"),
	      "outside: %s", err);
	snprintf(sub, sizeof(sub), "%s/../other/secret.pcap", ev);
	CHECK(tw_report_evidence_open(sub, ev, 1 << 20, &size, err, sizeof(err)) < 0 && strstr(err, "outside"),
	      "dot-dot: %s", err);
	/* a directory symlink inside the evidence dir leading out */
	snprintf(sub, sizeof(sub), "%s/dirlink", ev);
	CHECK(symlink(other, sub) == 0, "dir symlink");
	snprintf(sub, sizeof(sub), "%s/dirlink/secret.pcap", ev);
	CHECK(tw_report_evidence_open(sub, ev, 1 << 20, &size, err, sizeof(err)) < 0 && strstr(err, "outside"),
	      "through a dir symlink: %s", err);
	CHECK(tw_report_evidence_open(ev, ev, 1 << 20, &size, err, sizeof(err)) < 0 && strstr(err, "regular"),
	      "directory: %s", err);
	snprintf(big, sizeof(big), "%s/fifo.pcap", ev);
	CHECK(mkfifo(big, 0600) == 0, "mkfifo");
	CHECK(tw_report_evidence_open(big, ev, 1 << 20, &size, err, sizeof(err)) < 0 && strstr(err, "regular"),
	      "fifo: %s", err);
	CHECK(tw_report_evidence_open(path, ev, 99, &size, err, sizeof(err)) < 0 && strstr(err, "more than"),
	      "too large: %s", err);
	CHECK(tw_report_evidence_open("", ev, 99, &size, err, sizeof(err)) < 0, "empty");
	snprintf(sub, sizeof(sub), "%s/missing.pcap", ev);
	CHECK(tw_report_evidence_open(sub, ev, 99, &size, err, sizeof(err)) < 0, "missing");
	fd = tw_report_evidence_open(path, ev, 100, &size, err, sizeof(err));
	CHECK(fd >= 0 && size == 100, "ok path: %s", err);
	if (fd >= 0)
		close(fd);
	fd = tw_report_evidence_open(path, NULL, 100, &size, err, sizeof(err));
	CHECK(fd >= 0, "ok path, no evidence dir: %s", err);
	if (fd >= 0)
		close(fd);

	/* a refused capture: the bundle is still made, without it, and says why */
	free(lines[2]);
	lines[2] = alert_line("abcd", "resolved", 3, link);
	CHECK(tw_report_build(&in, &r, err, sizeof(err)) == 0 && !r.evidence && strstr(r.note, "symbolic"),
	      "refused evidence: %s / %s", err, r.note);
	nm = untar(r.data, r.len, m, 8);
	CHECK(nm == 5 && !find(m, nm, "evidence.pcap") && find(m, nm, "plot.svg"), "members %d", nm);
	rd = find(m, nm, "README.txt");
	CHECK(rd && strstr(rd->data, "not included: ") && strstr(rd->data, "symbolic"), "readme note");
	for (int i = 0; i < nm; i++)
		free(m[i].data);
	free(r.data);
	for (int i = 0; i < 3; i++)
		free(lines[i]);

	/* long-lived alert: the omitted count is said */
	char *one[1] = { alert_line("eeee", "raised", 1, NULL) };
	struct tw_report_in in2 = { .id = "eeee", .lines = one, .nlines = 1, .omitted = 7, .now_ns = 1 };
	CHECK(tw_report_build(&in2, &r, err, sizeof(err)) == 0, "%s", err);
	nm = untar(r.data, r.len, m, 8);
	CHECK(nm == 5 && strstr(find(m, nm, "README.txt")->data, "first record and the latest"), "omitted readme");
	for (int i = 0; i < nm; i++)
		free(m[i].data);
	free(r.data);
	free(one[0]);

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0, "cleanup");
}

static void test_top_targets(void)
{
	struct tw_agg_cfg c;
	char err[256], buf[8192];
	tw_agg_cfg_default(&c);
	struct tw_agg *a = tw_agg_new(&c, NULL, NULL, NULL, NULL, err, sizeof(err));
	struct tw_tamper rst = { .method = "rst_injection", .confidence = 0.9 },
	                 bh = { .method = "blackhole", .confidence = 0.4 };
	uint64_t t0 = 1700000000ull * 1000000000ull;
	static const char *const pfx[] = { "198.51.100.0/24", "192.0.2.0/24", "100.64.1.0/24" };
	uint64_t id = 1;
	/* a.example: 4 forged RSTs from 3 prefixes (an alert), 1 clean; b.example: 2 blackholes; c.example: clean */
	for (int i = 0; i < 5; i++) {
		struct tw_flow_outcome o = { t0 + (uint64_t)i * 1000000000ull,
			                     id++,
			                     pfx[i % 3],
			                     "203.0.113.5",
			                     443,
			                     "tcp",
			                     "a.example",
			                     1,
			                     i < 4 ? &rst : NULL,
			                     NULL,
			                     1 };
		tw_agg_outcome(a, &o);
	}
	for (int i = 0; i < 2; i++) {
		struct tw_flow_outcome o = { t0 + 6000000000ull, id++, pfx[0], "203.0.113.6", 80, "tcp",
			                     "b.example",        0,    &bh,    NULL,          1 };
		tw_agg_outcome(a, &o);
	}
	struct tw_flow_outcome ok = { t0 + 7000000000ull, id++, pfx[0], "203.0.113.7", 80, "tcp",
		                      "c.example",        1,    NULL,   NULL,          1 };
	tw_agg_outcome(a, &ok);
	size_t n = tw_agg_top_targets(a, t0 + 8000000000ull, 20, buf, sizeof(buf));
	struct json_object *arr = n ? json_tokener_parse(buf) : NULL;
	CHECK(arr && json_object_array_length(arr) == 2, "top: %s", buf);
	if (arr && json_object_array_length(arr) == 2) {
		const char *s0 = json_object_to_json_string(json_object_array_get_idx(arr, 0));
		const char *s1 = json_object_to_json_string(json_object_array_get_idx(arr, 1));
		CHECK(strstr(s0, "\"a.example\"") && strstr(s0, "\"tampered_flows\": 4") &&
		              strstr(s0, "\"flows\": 5") && strstr(s0, "\"clients\": 3") &&
		              strstr(s0, "[ \"rst_injection\" ]") && !strstr(s0, "\"alert_id\": null"),
		      "%s", s0);
		CHECK(strstr(s1, "\"b.example\"") && strstr(s1, "\"tampered_flows\": 2") &&
		              strstr(s1, "\"alert_id\": null") && strstr(s1, "\"blackhole\""),
		      "%s", s1);
	}
	json_object_put(arr);
	CHECK(tw_agg_top_targets(a, t0 + 8000000000ull, 1, buf, sizeof(buf)) > 0 && !strstr(buf, "b.example"), "n=1");
	CHECK(tw_agg_top_targets(a, t0 + 8000000000ull, 20, buf, 40) == 0, "small buffer must fail, not cut");
	/* out of the window: only the open alert's target stays */
	n = tw_agg_top_targets(a, t0 + 400ull * 1000000000ull, 20, buf, sizeof(buf));
	CHECK(n && strstr(buf, "a.example") && !strstr(buf, "b.example") && strstr(buf, "\"flows\":0"), "%s", buf);
	tw_agg_free(a);
}

int main(void)
{
	test_parser();
	test_timeline();
	test_report();
	test_top_targets();
	printf("%d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
