#include "control/ctlreq.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORDS 16

static const char *const cmd_names[] = { "", "status", "alerts", "targets", "report" };
static const char *const state_names[] = { "all", "open", "resolved" };

const char *tw_ctl_cmd_name(enum tw_ctl_cmd c)
{
	return (unsigned)c < sizeof(cmd_names) / sizeof(cmd_names[0]) ? cmd_names[c] : "";
}

const char *tw_ctl_state_name(enum tw_ctl_state s)
{
	return (unsigned)s < 3 ? state_names[s] : "all";
}

void tw_ctl_req_init(struct tw_ctl_req *r, enum tw_ctl_cmd cmd)
{
	memset(r, 0, sizeof(*r));
	r->cmd = cmd;
	r->top = TW_CTL_TOP_MAX;
}

int tw_ctl_token_ok(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		char c = s[n];
		if (n >= 63 || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		                 c == '_' || c == '.' || c == ':' || c == '-'))
			return 0;
	}
	return n > 0;
}

int tw_ctl_parse_duration(const char *s, uint64_t *secs)
{
	char *end;
	if (!*s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	uint64_t mul = 1;
	if (errno)
		return -1;
	if (*end) {
		if (end[1])
			return -1;
		switch (*end) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		default: return -1;
		}
	}
	if (v == 0 || v > 10ull * 366 * 86400 / mul)
		return -1;
	*secs = v * mul;
	return 0;
}

static int set_field(char *dst, size_t cap, const char *key, const char *v, char *err, size_t errlen)
{
	if (dst[0]) {
		snprintf(err, errlen, "'%s' given twice", key);
		return -1;
	}
	if (strlen(v) >= cap) {
		snprintf(err, errlen, "%s: value too long (at most %zu bytes)", key, cap - 1);
		return -1;
	}
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int parse_kv(struct tw_ctl_req *r, const char *key, const char *v, unsigned *seen, char *err, size_t errlen)
{
	if (r->cmd == TW_CTL_ALERTS && !strcmp(key, "state")) {
		if (*seen & 1)
			goto twice;
		*seen |= 1;
		for (int i = 0; i < 3; i++)
			if (!strcmp(v, state_names[i])) {
				r->state = (enum tw_ctl_state)i;
				return 0;
			}
		snprintf(err, errlen, "state: expected open, resolved or all, got '%s'", v);
		return -1;
	}
	if (r->cmd == TW_CTL_ALERTS && !strcmp(key, "method"))
		return set_field(r->method, sizeof(r->method), key, v, err, errlen);
	if (r->cmd == TW_CTL_ALERTS && !strcmp(key, "category"))
		return set_field(r->category, sizeof(r->category), key, v, err, errlen);
	if (r->cmd == TW_CTL_ALERTS && !strcmp(key, "legitimacy"))
		return set_field(r->legitimacy, sizeof(r->legitimacy), key, v, err, errlen);
	if (r->cmd == TW_CTL_ALERTS && !strcmp(key, "since")) {
		if (r->since_s)
			goto twice;
		if (tw_ctl_parse_duration(v, &r->since_s) < 0) {
			snprintf(err, errlen, "since: expected a duration such as 90s, 15m, 2h or 7d, got '%s'", v);
			return -1;
		}
		return 0;
	}
	if (r->cmd == TW_CTL_TARGETS && !strcmp(key, "top")) {
		char *end;
		if (*seen & 2)
			goto twice;
		*seen |= 2;
		long n = strtol(v, &end, 10);
		if (*end || n < 1 || n > TW_CTL_TOP_MAX) {
			snprintf(err, errlen, "top: expected a whole number from 1 to %d, got '%s'", TW_CTL_TOP_MAX, v);
			return -1;
		}
		r->top = (int)n;
		return 0;
	}
	if (r->cmd == TW_CTL_REPORT && !strcmp(key, "id"))
		return set_field(r->id, sizeof(r->id), key, v, err, errlen);
	snprintf(err, errlen, "%s: unknown argument '%s'", tw_ctl_cmd_name(r->cmd), key);
	return -1;
twice:
	snprintf(err, errlen, "'%s' given twice", key);
	return -1;
}

int tw_ctl_req_parse(const char *line, size_t len, struct tw_ctl_req *r, char *err, size_t errlen)
{
	char buf[TW_CTL_REQ_MAX + 1];
	char *w[MAX_WORDS + 1];
	int nw = 0;
	unsigned seen = 0;

	tw_ctl_req_init(r, TW_CTL_NONE);
	if (len && line[len - 1] == '\n')
		len--;
	if (len && line[len - 1] == '\r')
		len--;
	if (len >= sizeof(buf)) {
		snprintf(err, errlen, "request longer than %d bytes", TW_CTL_REQ_MAX);
		return -1;
	}
	if (memchr(line, 0, len) || memchr(line, '\n', len)) {
		snprintf(err, errlen, "request is not one line of text");
		return -1;
	}
	memcpy(buf, line, len);
	buf[len] = 0;
	for (char *save = NULL, *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (nw == MAX_WORDS + 1) {
			snprintf(err, errlen, "too many arguments (at most %d)", MAX_WORDS);
			return -1;
		}
		w[nw++] = t;
	}
	if (!nw) {
		snprintf(err, errlen, "empty request");
		return -1;
	}
	for (int i = 1; i < (int)(sizeof(cmd_names) / sizeof(cmd_names[0])); i++)
		if (!strcmp(w[0], cmd_names[i]))
			r->cmd = (enum tw_ctl_cmd)i;
	if (r->cmd == TW_CTL_NONE) {
		snprintf(err, errlen, "unknown command '%.40s' (status, alerts, targets, report)", w[0]);
		return -1;
	}
	for (int i = 1; i < nw; i++) {
		char *eq = strchr(w[i], '=');
		if (!eq || eq == w[i]) {
			snprintf(err, errlen, "expected KEY=VALUE, got '%.40s'", w[i]);
			return -1;
		}
		*eq = 0;
		if (!tw_ctl_token_ok(eq + 1)) {
			snprintf(err, errlen, "%.20s: value must be 1-63 characters of A-Z a-z 0-9 _ . : -", w[i]);
			return -1;
		}
		if (parse_kv(r, w[i], eq + 1, &seen, err, errlen) < 0)
			return -1;
	}
	if (r->cmd == TW_CTL_REPORT && !r->id[0]) {
		snprintf(err, errlen, "report: which alert? (id=ALERT_ID)");
		return -1;
	}
	return 0;
}

long tw_ctl_req_format(const struct tw_ctl_req *r, char *buf, size_t cap)
{
	int n;
	switch (r->cmd) {
	case TW_CTL_ALERTS:
		n = snprintf(buf, cap, "alerts state=%s%s%s%s%s%s%s", tw_ctl_state_name(r->state),
		             r->method[0] ? " method=" : "", r->method, r->category[0] ? " category=" : "", r->category,
		             r->legitimacy[0] ? " legitimacy=" : "", r->legitimacy);
		if (n >= 0 && (size_t)n < cap && r->since_s)
			n += snprintf(buf + n, cap - (size_t)n, " since=%" PRIu64, r->since_s);
		break;
	case TW_CTL_TARGETS: n = snprintf(buf, cap, "targets top=%d", r->top); break;
	case TW_CTL_REPORT: n = snprintf(buf, cap, "report id=%s", r->id); break;
	default: n = snprintf(buf, cap, "%s", tw_ctl_cmd_name(r->cmd)); break;
	}
	if (n < 0 || (size_t)n + 2 > cap)
		return -1;
	buf[n++] = '\n';
	buf[n] = 0;
	return n;
}
