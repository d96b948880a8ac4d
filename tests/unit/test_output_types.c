/* output.types (outputs/types.c): the list parser on hostile lists, the
 * groups, the event-writer mask, and the line filter on lines of every
 * shape (no event_type, an unknown type, a line cut short). */
#include <string.h>
#include <tamperwatch/event.h>
#include "check.h"
#include "outputs/types.h"

static uint32_t bit(const char *name)
{
	for (int i = 0; tw_out_type_name(i); i++)
		if (!strcmp(tw_out_type_name(i), name))
			return 1u << i;
	return 0;
}

int main(void)
{
	char why[256];
	uint32_t m = 0;
	struct tw_out_types t;

	/* every name, one by one, and nothing else */
	int n = 0;
	for (; tw_out_type_name(n); n++) {
		m = 0;
		CHECK(tw_out_types_parse(tw_out_type_name(n), &m, why, sizeof(why)) == 0, "%s: %s", tw_out_type_name(n),
		      why);
		CHECK(m == 1u << n, "%s: mask %#x", tw_out_type_name(n), m);
	}
	CHECK(n == 14, "%d types", n);
	m = 0;
	CHECK(tw_out_types_parse("all", &m, why, sizeof(why)) == 0 && m == (1u << n) - 1, "all: %#x", m);
	m = 0;
	CHECK(tw_out_types_parse(" gateway ", &m, why, sizeof(why)) == 0, "gateway: %s", why);
	CHECK(m == (bit("alert") | bit("tamper") | bit("redirect") | bit("link") | bit("gap") | bit("stats")), "%#x",
	      m);
	uint32_t g = m;
	m = 0;
	CHECK(tw_out_types_parse("events,\tgateway", &m, why, sizeof(why)) == 0 && m == (1u << n) - 1, "%#x", m);
	m = 0;
	CHECK(tw_out_types_parse("dns,dns", &m, why, sizeof(why)) == 0 && m == bit("dns"), "repeat: %#x", m);

	/* refused, with the reason */
	static const char *const bad[] = { "",      ",",      "alert,",   ",alert",      "alert,,stats", "  ",
		                           "Alert", "alerts", "dns;flow", "flow_rate_x", "all,bogus" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = 0;
		why[0] = 0;
		CHECK(tw_out_types_parse(bad[i], &m, why, sizeof(why)) < 0 && why[0], "'%s' accepted", bad[i]);
	}
	char longname[600];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	CHECK(tw_out_types_parse(longname, &m, why, sizeof(why)) < 0 && strlen(why) < sizeof(why) - 1,
	      "a long name: '%s'", why);

	/* the event writer's mask follows the type names of the events */
	tw_out_types_set(&t, bit("dns") | bit("payload"));
	CHECK(t.ev_on == ((1u << TW_EV_DNS_QUERY) | (1u << TW_EV_DNS_RESPONSE) | (1u << TW_EV_CLIENT_DATA) |
	                  (1u << TW_EV_SERVER_DATA)),
	      "ev_on %#x", t.ev_on);
	tw_out_types_set(&t, g);
	CHECK(t.ev_on == 0, "gateway: no event: %#x", t.ev_on);

	/* lines: on, off, and never hidden when the type cannot be read */
	static const struct {
		const char *line;
		int on;
	} L[] = {
		{ "{\"timestamp\":\"2026-12-06T12:00:00.000000+0000\",\"event_type\":\"alert\",\"x\":1}\n", 1 },
		{ "{\"timestamp\":\"2026-12-06T12:00:00.000000+0000\",\"event_type\":\"stats\",\"x\":1}\n", 1 },
		{ "{\"timestamp\":\"2026-12-06T12:00:00.000000+0000\",\"event_type\":\"dns\",\"x\":1}\n", 0 },
		{ "{\"timestamp\":\"2026-12-06T12:00:00.000000+0000\",\"event_type\":\"alerts\"}\n", 1 },
		{ "{\"timestamp\":\"2026-12-06T12:00:00.000000+0000\",\"event_type\":\"tamp", 1 },
		{ "{\"no\":\"type\"}\n", 1 },
		{ "", 1 },
	};
	for (size_t i = 0; i < sizeof(L) / sizeof(L[0]); i++)
		CHECK(tw_out_types_line_on(&t, L[i].line, strlen(L[i].line)) == L[i].on, "line %zu", i);

	char s[256];
	tw_out_types_str(g, s, sizeof(s));
	CHECK(!strcmp(s, "tamper,redirect,alert,stats,link,gap"), "'%s'", s);
	tw_out_types_str((1u << n) - 1, s, 20); /* cut, terminated */
	CHECK(strlen(s) < 20, "'%s'", s);

	printf("%d checks, %d failed\n", checks, fails);
	return fails != 0;
}
