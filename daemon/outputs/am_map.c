#include "outputs/am_map.h"
#include <ctype.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* labels the daemon sets itself: the configuration may not override them */
static const char *const own_labels[] = { "alertname", "method", "category", "legitimacy",
	                                  "severity",  "target", "alert_id" };

int tw_am_label_name_ok(const char *s)
{
	if (!s || !(isalpha((unsigned char)s[0]) || s[0] == '_') || !strncmp(s, "__", 2))
		return 0;
	size_t n = 0;
	for (; s[n]; n++)
		if (n >= 63 || !(isalnum((unsigned char)s[n]) || s[n] == '_'))
			return 0;
	return 1;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = 0;
	return s;
}

/* err gets the reason; -1, for the caller to return */
static int refuse(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* A list in one configuration value (labels, URLs): a bounded copy split
 * at any of seps, each item handed to take() until one is refused. */
static int each_item(const char *s, const char *seps, int (*take)(char *item, void *arg, char *err, size_t errlen),
                     void *arg, char *err, size_t errlen)
{
	char buf[2048];
	if (strlen(s) >= sizeof(buf))
		return refuse(err, errlen, "too long");
	snprintf(buf, sizeof(buf), "%s", s);
	char *save = NULL;
	for (char *t = strtok_r(buf, seps, &save); t; t = strtok_r(NULL, seps, &save))
		if (take(t, arg, err, errlen) < 0)
			return -1;
	return 0;
}

static int take_label(char *tok, void *arg, char *err, size_t errlen)
{
	struct tw_am_labels *out = arg;
	char *t = trim(tok), *eq = strchr(t, '=');
	if (!*t)
		return 0;
	if (!eq)
		return refuse(err, errlen, "'%.60s': expected name=value", t);
	*eq = 0;
	char *name = trim(t), *value = trim(eq + 1);
	if (!tw_am_label_name_ok(name))
		return refuse(err, errlen,
		              "'%.60s': not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, "
		              "at most 63, no leading __)",
		              name);
	for (size_t i = 0; i < sizeof(own_labels) / sizeof(own_labels[0]); i++)
		if (!strcmp(name, own_labels[i]))
			return refuse(err, errlen, "'%s': set by tamperwatchd itself", name);
	size_t vlen = strlen(value);
	if (!vlen || vlen >= sizeof(out->l[0].value))
		return refuse(err, errlen, "'%s': value must be 1 to %zu bytes", name, sizeof(out->l[0].value) - 1);
	for (size_t i = 0; i < vlen; i++)
		if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
			return refuse(err, errlen, "'%s': control character in value", name);
	for (int i = 0; i < out->n; i++)
		if (!strcmp(out->l[i].name, name))
			return refuse(err, errlen, "'%s': given twice", name);
	if (out->n == TW_AM_MAX_LABELS)
		return refuse(err, errlen, "at most %d labels", TW_AM_MAX_LABELS);
	snprintf(out->l[out->n].name, sizeof(out->l[0].name), "%s", name);
	snprintf(out->l[out->n].value, sizeof(out->l[0].value), "%s", value);
	out->n++;
	return 0;
}

int tw_am_parse_labels(const char *s, struct tw_am_labels *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	return each_item(s, ",", take_label, out, err, errlen);
}

/* u for messages: the user:password before "@" shown as three stars */
static const char *redacted(const char *u, char *out, size_t cap)
{
	const char *p = strstr(u, "://");
	p = p ? p + 3 : u;
	size_t auth = strcspn(p, "/@");
	if (p[auth] == '@')
		snprintf(out, cap, "%.*s***%.80s", (int)(p - u), u, p + auth);
	else
		snprintf(out, cap, "%.80s", u);
	return out;
}

struct url_list {
	char (*urls)[TW_AM_URL_MAX];
	int *n;
};

static int take_url(char *u, void *arg, char *err, size_t errlen)
{
	struct url_list *l = arg;
	char shown[128];
	size_t len = strlen(u);
	const char *host = !strncmp(u, "http://", 7) ? u + 7 : !strncmp(u, "https://", 8) ? u + 8 : NULL;
	if (!host)
		return refuse(err, errlen, "'%s': expected http://HOST:PORT or https://...",
		              redacted(u, shown, sizeof(shown)));
	if (!*host || *host == '/')
		return refuse(err, errlen, "'%s': no host", redacted(u, shown, sizeof(shown)));
	/* room for "/api/v2/alerts" */
	if (len >= TW_AM_URL_MAX - 32)
		return refuse(err, errlen, "'%s...': longer than %d bytes", redacted(u, shown, sizeof(shown)),
		              TW_AM_URL_MAX - 32);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f || u[i] == '?' || u[i] == '#')
			return refuse(err, errlen, "'%s': no spaces, control characters, query or fragment",
			              redacted(u, shown, sizeof(shown)));
	if (*l->n == TW_AM_MAX_URLS)
		return refuse(err, errlen, "at most %d URLs", TW_AM_MAX_URLS);
	while (len && u[len - 1] == '/')
		u[--len] = 0;
	snprintf(l->urls[*l->n], TW_AM_URL_MAX, "%s", u);
	(*l->n)++;
	return 0;
}

int tw_am_parse_urls(const char *s, char urls[][TW_AM_URL_MAX], int *n, char *err, size_t errlen)
{
	struct url_list l = { urls, n };
	*n = 0;
	return each_item(s, ", \t", take_url, &l, err, errlen);
}

void tw_am_time(int64_t ns, char *out, size_t cap)
{
	if (ns < 0)
		ns = 0;
	time_t s = (time_t)(ns / 1000000000);
	struct tm tm;
	gmtime_r(&s, &tm);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	         tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ns % 1000000000 / 1000000));
}

static int digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int tw_am_parse_time(const char *s, int64_t *ns)
{
	int Y, M, D, h, m, sec;
	if (!s || strnlen(s, 20) < 19 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
	    digits(s + 8, 2, &D) || s[10] != 'T' || digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &m) ||
	    s[16] != ':' || digits(s + 17, 2, &sec))
		return -1;
	if (Y < 1970 || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
		return -1;
	const char *p = s + 19;
	int64_t frac = 0, scale = 1000000000;
	if (*p == '.') {
		p++;
		for (int i = 0; isdigit((unsigned char)*p) && i < 12; i++, p++)
			if (scale > 1) {
				scale /= 10;
				frac += (*p - '0') * scale;
			}
	}
	int off = 0;
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om, colon = p[3] == ':';
		if (strnlen(p, 6) < (size_t)(5 + colon) || digits(p + 1, 2, &oh) || digits(p + 3 + colon, 2, &om))
			return -1;
		off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
		p += 5 + colon;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	struct tm tm = { .tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h, .tm_min = m, .tm_sec = sec };
	time_t t = timegm(&tm);
	*ns = ((int64_t)t - off) * 1000000000 + frac;
	return 0;
}

/* ---- reading the alert line ------------------------------------------- */

static struct json_object *get(struct json_object *o, const char *k1, const char *k2)
{
	struct json_object *a, *v;
	if (!o || !json_object_object_get_ex(o, k1, &a))
		return NULL;
	if (!k2)
		return a;
	if (!json_object_is_type(a, json_type_object) || !json_object_object_get_ex(a, k2, &v))
		return NULL;
	return v;
}

/* a non-empty string, else NULL */
static const char *str(struct json_object *o, const char *k1, const char *k2)
{
	struct json_object *v = get(o, k1, k2);
	if (!v || !json_object_is_type(v, json_type_string) || !json_object_get_string_len(v))
		return NULL;
	return json_object_get_string(v);
}

/* a number as the line wrote it, else NULL */
static const char *num(struct json_object *o, const char *k1, const char *k2)
{
	struct json_object *v = get(o, k1, k2);
	if (!v || !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
		return NULL;
	return json_object_get_string(v);
}

/* s cut to at most max-1 bytes, never inside a UTF-8 sequence */
static void add_cut(struct json_object *obj, const char *key, const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n >= max) {
		n = max - 1;
		while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	json_object_object_add(obj, key, json_object_new_string_len(s, (int)n));
}

/* a client prefix ("198.51.100.0/24", "2001:db8::/48"), never an address */
static int is_prefix(const char *s)
{
	const char *slash = strchr(s, '/');
	if (!slash || slash == s || !slash[1] || strlen(slash + 1) > 3)
		return 0;
	for (const char *p = slash + 1; *p; p++)
		if (!isdigit((unsigned char)*p))
			return 0;
	for (const char *p = s; p < slash; p++)
		if (!isxdigit((unsigned char)*p) && *p != '.' && *p != ':')
			return 0;
	return 1;
}

static const char *alertname(const char *category)
{
	if (!category)
		return "TamperwatchAlert";
	if (!strcmp(category, "blocking"))
		return "TamperwatchBlocking";
	if (!strcmp(category, "throttling"))
		return "TamperwatchThrottling";
	if (!strcmp(category, "shutdown"))
		return "TamperwatchShutdown";
	return "TamperwatchAlert";
}

static const char *severity_text(struct json_object *line)
{
	struct json_object *v = get(line, "alert", "severity");
	int64_t s = v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : 3;
	return s <= 1 ? "critical" : s == 2 ? "warning" : "info";
}

struct desc {
	char buf[TW_AM_NOTE_MAX];
	size_t n;
};

static void dput(struct desc *d, const char *fmt, const char *a, const char *b)
{
	if (d->n < sizeof(d->buf)) {
		int w = snprintf(d->buf + d->n, sizeof(d->buf) - d->n, fmt, a, b ? b : "");
		if (w > 0)
			d->n += (size_t)w;
	}
	if (d->n >= sizeof(d->buf))
		d->n = sizeof(d->buf) - 1;
}

void tw_am_alert_clear(struct tw_am_alert *a)
{
	free(a->labels);
	free(a->annotations);
	memset(a, 0, sizeof(*a));
}

static char *to_text(struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	return s ? strdup(s) : NULL;
}

int tw_am_map(struct json_object *line, const struct tw_am_labels *extra, int64_t now_ns, struct tw_am_alert *out,
              uint64_t *unsafe, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	const char *id = str(line, "alert", "id"), *state = str(line, "alert", "state");
	if (!id || strlen(id) >= sizeof(out->id) ||
	    strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") != strlen(id)) {
		snprintf(err, errlen, "alert without a usable alert.id ([A-Za-z0-9._:-], at most 63)");
		return -1;
	}
	if (!state || (strcmp(state, "raised") && strcmp(state, "updated") && strcmp(state, "resolved"))) {
		snprintf(err, errlen, "alert %s: alert.state is not raised, updated or resolved", id);
		return -1;
	}
	snprintf(out->id, sizeof(out->id), "%s", id);
	out->resolved = !strcmp(state, "resolved");

	const char *category = str(line, "alert", "category"), *method = str(line, "censorship", "method");
	const char *legit = str(line, "censorship", "legitimacy"), *level = str(line, "shutdown", "level");
	const char *region = str(line, "scope", "region");

	/* scope: prefixes only; anything else is left out and counted */
	struct json_object *pfx = get(line, "scope", "prefixes");
	char scope[TW_AM_NOTE_MAX] = "";
	const char *first_prefix = NULL;
	size_t slen = 0;
	if (pfx && json_object_is_type(pfx, json_type_array)) {
		size_t np = json_object_array_length(pfx);
		for (size_t i = 0; i < np && i < 256; i++) {
			struct json_object *p = json_object_array_get_idx(pfx, i);
			const char *s = json_object_is_type(p, json_type_string) ? json_object_get_string(p) : "";
			if (!is_prefix(s)) {
				if (unsafe)
					(*unsafe)++;
				continue;
			}
			if (!first_prefix)
				first_prefix = s;
			if (slen + strlen(s) + 3 < sizeof(scope))
				slen += (size_t)snprintf(scope + slen, sizeof(scope) - slen, "%s%s", slen ? ", " : "",
				                         s);
		}
	}
	/* the alert's subject: a domain or server address; for a shutdown the
	 * client prefix, or the region of a regional alert */
	const char *target;
	const char *slevel = str(line, "scope", "level"); /* region-wide throttling: region or prefix */
	if (level || slevel || (category && !strcmp(category, "shutdown")))
		target = ((level && !strcmp(level, "region")) || (slevel && !strcmp(slevel, "region"))) && region
		                 ? region
		         : first_prefix ? first_prefix
		                        : region;
	else
		target = str(line, "target", "domain") ? str(line, "target", "domain") : str(line, "target", "ip");

	struct json_object *L = json_object_new_object(), *A = json_object_new_object();
	if (!L || !A) {
		json_object_put(L);
		json_object_put(A);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	json_object_object_add(L, "alertname", json_object_new_string(alertname(category)));
	if (method)
		add_cut(L, "method", method, TW_AM_VALUE_MAX);
	if (category)
		add_cut(L, "category", category, TW_AM_VALUE_MAX);
	if (legit)
		add_cut(L, "legitimacy", legit, TW_AM_VALUE_MAX);
	json_object_object_add(L, "severity", json_object_new_string(severity_text(line)));
	if (target)
		add_cut(L, "target", target, TW_AM_VALUE_MAX);
	json_object_object_add(L, "alert_id", json_object_new_string(id));
	for (int i = 0; extra && i < extra->n; i++)
		json_object_object_add(L, extra->l[i].name, json_object_new_string(extra->l[i].value));

	const char *sig = str(line, "alert", "signature");
	const char *first = str(line, "first_seen", NULL), *last = str(line, "last_seen", NULL);
	const char *ts = str(line, "timestamp", NULL);
	struct desc d = { .n = 0 };
	dput(&d, "%s%s", sig ? sig : "tamperwatch alert", NULL);
	if (num(line, "stats", "affected_flows")) {
		dput(&d, ": %s of %s flows affected", num(line, "stats", "affected_flows"),
		     num(line, "stats", "flows") ? num(line, "stats", "flows") : "?");
		if (num(line, "stats", "ratio"))
			dput(&d, " (ratio %s)%s", num(line, "stats", "ratio"), NULL);
		if (num(line, "stats", "clients"))
			dput(&d, " from %s client prefixes%s", num(line, "stats", "clients"), NULL);
	}
	if (level)
		dput(&d, "; %s shutdown, depth %s", level, num(line, "shutdown", "depth"));
	if (num(line, "censorship", "confidence"))
		dput(&d, "; confidence %s%s", num(line, "censorship", "confidence"), NULL);
	if (legit)
		dput(&d, "; %s%s", legit, NULL);
	if (str(line, "censorship", "legal_reference"))
		dput(&d, " (%s)%s", str(line, "censorship", "legal_reference"), NULL);
	if (first)
		dput(&d, "; first seen %s%s", first, NULL);
	if (last)
		dput(&d, ", last seen %s%s", last, NULL);
	if (out->resolved)
		dput(&d, "; resolved%s%s", str(line, "alert", "resolution") ? " " : "",
		     str(line, "alert", "resolution"));
	d.buf[d.n] = 0;

	add_cut(A, "summary", sig ? sig : "tamperwatch alert", TW_AM_NOTE_MAX);
	add_cut(A, "description", d.buf, TW_AM_NOTE_MAX);
	json_object_object_add(A, "state", json_object_new_string(state));
	static const char *const stat_keys[] = { "flows", "affected_flows", "clients", "ratio", "duration_s" };
	for (size_t i = 0; i < sizeof(stat_keys) / sizeof(stat_keys[0]); i++)
		if (num(line, "stats", stat_keys[i]))
			json_object_object_add(A, stat_keys[i],
			                       json_object_new_string(num(line, "stats", stat_keys[i])));
	if (num(line, "censorship", "confidence"))
		json_object_object_add(A, "confidence", json_object_new_string(num(line, "censorship", "confidence")));
	if (first)
		add_cut(A, "first_seen", first, TW_AM_NOTE_MAX);
	if (last)
		add_cut(A, "last_seen", last, TW_AM_NOTE_MAX);
	if (slen)
		add_cut(A, "scope_prefixes", scope, TW_AM_NOTE_MAX);
	if (region)
		add_cut(A, "region", region, TW_AM_NOTE_MAX);
	if (str(line, "target", "ip"))
		add_cut(A, "target_ip", str(line, "target", "ip"), TW_AM_NOTE_MAX);
	if (num(line, "target", "port"))
		json_object_object_add(A, "target_port", json_object_new_string(num(line, "target", "port")));
	if (str(line, "evidence", "pcap"))
		add_cut(A, "evidence", str(line, "evidence", "pcap"), TW_AM_NOTE_MAX);
	if (str(line, "censorship", "legal_reference"))
		add_cut(A, "legal_reference", str(line, "censorship", "legal_reference"), TW_AM_NOTE_MAX);
	if (str(line, "alert", "resolution"))
		add_cut(A, "resolution", str(line, "alert", "resolution"), TW_AM_NOTE_MAX);
	if (num(line, "alert", "signature_id"))
		json_object_object_add(A, "signature_id", json_object_new_string(num(line, "alert", "signature_id")));

	out->labels = to_text(L);
	out->annotations = to_text(A);
	json_object_put(L);
	json_object_put(A);
	if (!out->labels || !out->annotations) {
		tw_am_alert_clear(out);
		snprintf(err, errlen, "out of memory");
		return -1;
	}

	/* times: Alertmanager compares endsAt with its own clock */
	int64_t t_ts = now_ns, t_first;
	if (!ts || tw_am_parse_time(ts, &t_ts) < 0 || t_ts > now_ns)
		t_ts = now_ns;
	if (!first || tw_am_parse_time(first, &t_first) < 0)
		t_first = t_ts;
	if (t_first > t_ts)
		t_first = t_ts;
	out->starts_ns = t_first;
	out->ends_ns = out->resolved ? t_ts : 0;
	return 0;
}
