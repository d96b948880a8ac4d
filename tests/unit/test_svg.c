/* Unit test of the SVG writer (util/svg.c) and the status page
 * (outputs/statuspage.c): escaping of hostile strings (markup, quotes,
 * control bytes, broken UTF-8), the bounds (series, points, bands, marks,
 * the buffer), NaN and infinities never written, the exact values in the
 * data attributes, the timestamp parser; then a page rendered from a real
 * bus fed with alert lines (a throttling alert whose domain is markup),
 * shutdown samples through the observe hook and link/gap records: every
 * section and plot is there, nothing from a packet is unescaped, the bound
 * on series counts what it kept out. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alerts/shutdown.h"
#include "outputs/bus.h"
#include "outputs/output.h"
#include "outputs/status.h"
#include "outputs/statuspage.h"
#include "util/svg.h"
#include "util/textbuf.h"
#include "check.h"

static size_t count(const char *h, const char *n)
{
	size_t c = 0;
	for (const char *p = h; (p = strstr(p, n)); p += strlen(n))
		c++;
	return c;
}

static void test_escape(void)
{
	struct tw_tb b = { 0 };
	tw_svg_escape(&b, "<script>alert('x')</script>&\"\x01\x7f caf\xc3\xa9 \xff\xc3 \xed\xa0\x80", 1000);
	CHECK(b.p && !strcmp(b.p, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;?? caf\xc3\xa9 ?? ???"),
	      "escaped: %s", b.p);
	free(b.p);
	/* bounded: at most TW_SVG_MAX_TEXT bytes of input */
	char big[1000];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = 0;
	struct tw_tb c = { 0 };
	tw_svg_escape(&c, big, sizeof big);
	CHECK(c.n == TW_SVG_MAX_TEXT, "long string: %zu bytes", c.n);
	free(c.p);
}

static void test_plot(void)
{
	double t[5] = { 1000, 1010, 1020, 1030, 1040 }, v[5] = { 0.5, NAN, 0.25, INFINITY, 1.0 / 3 };
	struct tw_svg_series s = { "share <b>", "#zzzzzz", t, v, 5, 0 };
	struct tw_svg_band band = { 1010, 1030 };
	struct tw_svg_mark mark = { 1010, "raised\"" };
	struct tw_svg_plot p = { .id = "x\"y",
		                 .title = "t<",
		                 .width = 10,
		                 .height = 99999,
		                 .points = 1,
		                 .series = &s,
		                 .nseries = 1,
		                 .bands = &band,
		                 .nbands = 1,
		                 .marks = &mark,
		                 .nmarks = 1 };
	struct tw_tb b = { 0 };
	uint64_t thin = 99;
	CHECK(tw_svg_plot(&b, &p, &thin) == 0 && thin == 0, "plot failed");
	CHECK(!strstr(b.p, "nan") && !strstr(b.p, "inf"), "non-finite value written");
	CHECK(count(b.p, "<circle") == 3, "circles: %zu", count(b.p, "<circle"));
	CHECK(strstr(b.p, "data-v=\"0.5\"") && strstr(b.p, "data-v=\"0.25\"") &&
	              strstr(b.p, "data-v=\"0.333333333333333\""),
	      "values not exact");
	CHECK(strstr(b.p, "data-plot=\"x&quot;y\"") && strstr(b.p, "share &lt;b&gt;") && !strstr(b.p, "<b>"),
	      "attribute or text unescaped");
	CHECK(strstr(b.p, "width=\"200\" height=\"1200\""), "size not clamped");
	CHECK(strstr(b.p, "class=\"band\" data-t0=\"1010.000\" data-t1=\"1030.000\""), "band missing");
	CHECK(strstr(b.p, "class=\"mark\" data-t=\"1010.000\""), "mark missing");
	CHECK(strstr(b.p, "stroke=\"#1f77b4\""), "a bad colour must be replaced");
	free(b.p);

	/* a series of one point is a dot, not an empty line */
	struct tw_svg_series one = { "one", NULL, t, v, 1, 0 };
	struct tw_svg_plot p1 = { .series = &one, .nseries = 1 };
	struct tw_tb d1 = { 0 };
	CHECK(tw_svg_plot(&d1, &p1, NULL) == 0 && count(d1.p, "<circle") == 1, "lone point not drawn");
	free(d1.p);

	/* bounds: too many series, bands or marks; a missing array */
	struct tw_svg_series many[TW_SVG_MAX_SERIES + 1];
	for (int i = 0; i <= TW_SVG_MAX_SERIES; i++)
		many[i] = s;
	struct tw_tb e = { 0 };
	p.series = many;
	p.nseries = TW_SVG_MAX_SERIES + 1;
	CHECK(tw_svg_plot(&e, &p, NULL) < 0, "too many series accepted");
	p.nseries = 1;
	p.nbands = TW_SVG_MAX_BANDS + 1;
	CHECK(tw_svg_plot(&e, &p, NULL) < 0, "too many bands accepted");
	p.nbands = 0;
	p.nmarks = -1;
	CHECK(tw_svg_plot(&e, &p, NULL) < 0, "negative marks accepted");
	p.nmarks = 0;
	struct tw_svg_series bad = { "x", NULL, NULL, v, 3, 0 };
	p.series = &bad;
	CHECK(tw_svg_plot(&e, &p, NULL) < 0, "points without times accepted");
	free(e.p);

	/* thinning beyond TW_SVG_MAX_POINTS, counted */
	size_t n = TW_SVG_MAX_POINTS * 3 + 1;
	double *tt = malloc(n * sizeof(double)), *vv = malloc(n * sizeof(double));
	for (size_t i = 0; i < n; i++)
		tt[i] = (double)i, vv[i] = (double)(i % 7);
	struct tw_svg_series big = { "big", NULL, tt, vv, n, 1 };
	struct tw_svg_plot q = { .series = &big, .nseries = 1, .points = 1 };
	struct tw_tb f = { 0 };
	CHECK(tw_svg_plot(&f, &q, &thin) == 0, "big plot failed");
	size_t drawn = count(f.p, "<circle");
	CHECK(drawn <= TW_SVG_MAX_POINTS && drawn + thin == n, "drawn %zu + thinned %llu != %zu", drawn,
	      (unsigned long long)thin, n);
	free(f.p);
	/* the buffer's bound: a failure, never a cut picture */
	struct tw_tb g = { .max = 4096 };
	CHECK(tw_svg_plot(&g, &q, NULL) < 0 && g.fail, "bounded buffer overflowed silently");
	free(g.p);
	free(tt);
	free(vv);
}

static void test_time(void)
{
	double t = 0;
	CHECK(tw_svg_parse_time("2023-11-14T22:13:30.036000+0000", &t) == 0 && fabs(t - 1700000010.036) < 1e-6,
	      "parsed %f", t);
	CHECK(tw_svg_parse_time("2023-11-14T22:13:30Z", &t) == 0 && t == 1700000010.0, "Z form");
	CHECK(tw_svg_parse_time("2023-11-14T22:13:30+0200", &t) < 0, "another zone accepted");
	CHECK(tw_svg_parse_time("garbage", &t) < 0 && tw_svg_parse_time(NULL, &t) < 0, "garbage accepted");
}

#define THR(state, ts, rate)                                                                                           \
	"{\"timestamp\":\"" ts "\",\"event_type\":\"alert\",\"alert\":{\"id\":\"th01\",\"state\":\"" state             \
	"\",\"signature_id\":2006,\"signature\":\"throttling of <img src=x onerror=alert(1)>\",\"category\":"          \
	"\"throttling\",\"severity\":2},\"censorship\":{\"method\":\"throttling\",\"confidence\":0.8,\"legitimacy\":"  \
	"\"undeclared\",\"sampling\":1},\"target\":{\"domain\":\"<img src=x onerror=alert(1)>\",\"ip\":"               \
	"\"203.0.113.7\",\"port\":443,\"proto\":\"tcp\"},\"scope\":{\"prefixes\":[\"198.51.100.0/24\"]},"              \
	"\"stats\":{\"flows\":4,\"affected_flows\":4,\"ratio\":1.0,\"rate_bps\":" rate "},"                            \
	"\"evidence\":{\"flow_ids\":[7,8]}}\n"

static void test_page(void)
{
	char err[256];
	struct tw_output out;
	struct tw_bus bus;
	struct tw_status st;
	CHECK(tw_output_open(&out, "/dev/null", err, sizeof(err)) == 0, "%s", err);
	tw_bus_init(&bus, tw_output_line_now, &out);
	tw_status_init(&st, "xdp", "0.1.0");
	st.counters[TW_CNT_PACKETS] = 4242;
	st.counters[TW_CNT_EVENTS_LOST] = 17;
	struct tw_spage *pg = tw_spage_new();
	CHECK(pg != NULL, "no page");
	tw_bus_add_sink(&bus, "status_page", tw_spage_sink, pg);
	const char *lines[] = {
		THR("raised", "2023-11-14T22:13:30.000000+0000", "130000"),
		THR("updated", "2023-11-14T22:14:30.000000+0000", "128000"),
		"{\"timestamp\":\"2023-11-14T22:15:00.000000+0000\",\"event_type\":\"link\",\"link\":{\"interface\":"
		"\"gw-c1\",\"state\":\"down\",\"detection\":\"suspended\"}}\n",
		"{\"timestamp\":\"2023-11-14T22:16:00.000000+0000\",\"event_type\":\"gap\",\"gap\":{\"why\":\"<b>\"}}"
		"\n",
	};
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
		tw_bus_line(&bus, lines[i], strlen(lines[i]));
	/* shutdown series: one more than the bound, the first with an alert period */
	for (int s = 0; s <= TW_SPAGE_SERIES; s++)
		for (int i = 0; i < 30; i++) {
			char key[64];
			snprintf(key, sizeof key, "10.%d.0.0/24", s);
			struct tw_sd_point pt = { (1700000000ull + 60ull * (uint64_t)i) * 1000000000ull, key, "north",
				                  i >= 10 && i < 20 ? 5 : 100, 100, i >= 12 && i < 22, 0,
				                  /* the band spans the drop: from sample 10 */
				                  i >= 12 && i < 22 ? 1700000600ull * 1000000000ull : 0 };
			tw_spage_observe(pg, &pt);
		}
	char *html = NULL;
	long n = tw_spage_render(pg, &st, &bus, &html);
	CHECK(n > 0 && html && (size_t)n == strlen(html), "render failed");
	if (!html)
		return;
	CHECK(strstr(html, "<meta http-equiv=\"refresh\""), "no refresh");
	const char *sections[] = { "id=\"alerts-open\"", "id=\"alerts-recent\"", "id=\"shutdown\"", "id=\"targets\"",
		                   "id=\"throttling\"",  "id=\"health\"",        "id=\"records\"" };
	for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
		CHECK(strstr(html, sections[i]), "no %s", sections[i]);
	CHECK(count(html, "data-plot=\"shutdown:") == TW_SPAGE_SERIES, "shutdown plots: %zu",
	      count(html, "data-plot=\"shutdown:"));
	CHECK(strstr(html, "data-plot=\"shutdown:10.0.0.0/24\""), "first series missing");
	/* the region's curve: its 16 drawn prefixes summed (100 each, 5 in the
	 * drop), its baselines summed, the drop shaded once */
	CHECK(count(html, "data-plot=\"shutdown-region:") == 1, "region plots: %zu",
	      count(html, "data-plot=\"shutdown-region:"));
	const char *rp = strstr(html, "data-plot=\"shutdown-region:north\"");
	CHECK(rp != NULL, "no region plot for north");
	if (rp) {
		const char *ym = strstr(rp, "data-ymax=\"");
		double ymax = ym ? atof(ym + 11) : 0;
		CHECK(ymax >= 1600 && ymax < 3200, "region ymax %g: not the sum of 16 prefixes of 100", ymax);
		const char *end = strstr(rp, "</svg>");
		const char *band = strstr(rp, "class=\"band\" data-t0=\"1700000600.000\" data-t1=\"1700001260.000\"");
		CHECK(band && end && band < end, "region band missing");
		CHECK(strstr(rp, "16 prefixes summed") && strstr(rp, "16 prefixes summed") < end, "region title");
	}
	const char *pp = strstr(html, "data-plot=\"shutdown:10.0.0.0/24\"");
	const char *pym = pp ? strstr(pp, "data-ymax=\"") : NULL;
	CHECK(pym && atof(pym + 11) < 1600, "a prefix's own plot is not the region's sum");
	CHECK(!strstr(html, "10.16.0.0/24"), "series beyond the bound drawn");
	CHECK(strstr(html, "class=\"band\" data-t0=\"1700000600.000\" data-t1=\"1700001260.000\""), "alert band");
	CHECK(strstr(html, "data-plot=\"throttling\"") && strstr(html, "data-v=\"130000\"") &&
	              strstr(html, "data-v=\"128000\""),
	      "throttled rates missing");
	CHECK(strstr(html, "class=\"alert\" data-alert-id=\"th01\" data-category=\"throttling\""), "open alert row");
	CHECK(!strstr(html, "<img") && strstr(html, "&lt;img src=x onerror=alert(1)&gt;"), "hostile domain unescaped");
	CHECK(!strstr(html, "<b>") && strstr(html, "&lt;b&gt;"), "record unescaped");
	CHECK(strstr(html, "<td>4242</td>") && strstr(html, "<td>17</td>"), "health counters");
	free(html);
	struct tw_spage_counters c;
	tw_spage_get_counters(pg, &c);
	CHECK(c.series_dropped == 30 && c.renders == 1 && c.render_failures == 0, "dropped %llu renders %llu",
	      (unsigned long long)c.series_dropped, (unsigned long long)c.renders);
	struct tw_tb m = { 0 };
	tw_spage_metrics(pg, &m);
	CHECK(m.p && strstr(m.p, "tamperwatch_status_page_dropped_total{reason=\"series_bound\"} 30\n"), "metrics");
	free(m.p);
	tw_bus_free(&bus);
	tw_spage_free(pg);
	tw_status_free(&st);
	tw_output_close(&out);
}

int main(void)
{
	test_escape();
	test_plot();
	test_time();
	test_page();
	printf("%d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
