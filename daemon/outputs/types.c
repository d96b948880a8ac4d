#include "outputs/types.h"
#include "events/pipeline.h"
#include <stdio.h>
#include <string.h>
#include <tamperwatch/event.h>

static const char *const names[] = {
	"handshake", "payload", "rst",      "data_after_rst", "fin",   "dns",  "flow",
	"flow_rate", "tamper",  "redirect", "alert",          "stats", "link", "gap",
};
#define NTYPES ((int)(sizeof(names) / sizeof(names[0])))

const char *tw_out_type_name(int i)
{
	return i >= 0 && i < NTYPES ? names[i] : NULL;
}

static int find(const char *s, size_t n)
{
	for (int i = 0; i < NTYPES; i++)
		if (strlen(names[i]) == n && !memcmp(names[i], s, n))
			return i;
	return -1;
}

int tw_out_types_parse(const char *list, uint32_t *mask, char *why, size_t whylen)
{
	const char *p = list;
	int items = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		const char *s = p;
		while (*p && *p != ',')
			p++;
		const char *e = p;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		size_t n = (size_t)(e - s);
		int i;
		if (!n) {
			snprintf(why, whylen, "empty type in the list (item %d)", items + 1);
			return -1;
		}
		if (n == 3 && !memcmp(s, "all", 3))
			*mask |= (1u << NTYPES) - 1;
		else if (n == 6 && !memcmp(s, "events", 6))
			tw_out_types_parse(TW_TYPES_EVENTS, mask, why, whylen);
		else if (n == 7 && !memcmp(s, "gateway", 7))
			tw_out_types_parse(TW_TYPES_GATEWAY, mask, why, whylen);
		else if ((i = find(s, n)) >= 0)
			*mask |= 1u << i;
		else {
			snprintf(why, whylen,
			         "unknown type '%.*s' (expected all, events, gateway or a record type: "
			         "alert, tamper, redirect, link, gap, stats, handshake, payload, rst, "
			         "data_after_rst, fin, dns, flow, flow_rate)",
			         (int)(n > 40 ? 40 : n), s);
			return -1;
		}
		items++;
		if (!*p)
			return 0;
		p++;
	}
}

void tw_out_types_set(struct tw_out_types *t, uint32_t mask)
{
	t->on = mask;
	t->ev_on = 0;
	for (unsigned ty = 0; ty < TW_EV_TYPE_MAX; ty++) {
		const char *n = tw_event_type_name(ty);
		int i = find(n, strlen(n));
		if (i >= 0 && (mask & (1u << i)))
			t->ev_on |= 1u << ty;
	}
}

int tw_out_types_line_on(const struct tw_out_types *t, const char *line, size_t len)
{
	static const char key[] = "\"event_type\":\"";
	size_t scan = len < 96 ? len : 96; /* it follows the timestamp */
	const char *k = memmem(line, scan, key, sizeof(key) - 1);
	if (!k)
		return 1;
	const char *s = k + sizeof(key) - 1, *end = line + len;
	const char *q = memchr(s, '"', (size_t)(end - s));
	if (!q)
		return 1;
	int i = find(s, (size_t)(q - s));
	return i < 0 || (t->on & (1u << i));
}

void tw_out_types_str(uint32_t mask, char *out, size_t cap)
{
	size_t n = 0;
	if (cap)
		out[0] = 0;
	for (int i = 0; i < NTYPES; i++)
		if (mask & (1u << i)) {
			int w = snprintf(out + n, cap - n, "%s%s", n ? "," : "", names[i]);
			if (w < 0 || (size_t)w >= cap - n)
				return;
			n += (size_t)w;
		}
}
