#include "alerts/legit.h"
#include "verdicts/method.h"
#include "util/lineread.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct tw_legit {
	struct tw_legit_entry *e;
	size_t n, cap;
};

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = 0;
	return s;
}

/* YYYY-MM-DD -> ns at 00:00 UTC; empty -> dflt */
static int parse_date(const char *s, uint64_t dflt, uint64_t *out)
{
	if (!*s || !strcmp(s, "-")) {
		*out = dflt;
		return 0;
	}
	int y, m, d;
	char tail;
	if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 ||
	    d > 31 || strlen(s) != 10)
		return -1;
	struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d };
	time_t t = timegm(&tm);
	if (t < 0 || tm.tm_mday != d || tm.tm_mon != m - 1) /* normalised: 2020-02-30 is no date */
		return -1;
	*out = (uint64_t)t * 1000000000ull;
	return 0;
}

static int valid_domain(const char *p)
{
	if (!strncmp(p, "*.", 2))
		p += 2;
	if (!*p || strlen(p) > 253)
		return 0;
	for (; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '.' || *p == '_'))
			return 0;
	return 1;
}

static int parse_net(struct tw_legit_entry *e)
{
	char a[256];
	snprintf(a, sizeof(a), "%s", e->pattern);
	char *slash = strchr(a, '/');
	int plen = -1;
	if (slash) {
		char *end;
		*slash = 0;
		errno = 0;
		long v = strtol(slash + 1, &end, 10);
		if (errno || end == slash + 1 || *end || v < 0 || v > 128)
			return -1;
		plen = (int)v;
	}
	if (inet_pton(AF_INET, a, e->net) == 1) {
		e->family = 4;
		if (plen > 32)
			return -1;
		e->plen = plen < 0 ? 32 : plen;
	} else if (inet_pton(AF_INET6, a, e->net) == 1) {
		e->family = 6;
		e->plen = plen < 0 ? 128 : plen;
	} else
		return slash ? -1 : 1;                        /* 1: not an address */
	for (int i = 0; i < (e->family == 4 ? 4 : 16); i++) { /* as the regions file: no host bits */
		int keep = e->plen - 8 * i;
		uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
		if (e->net[i] & ~mask)
			return -2;
	}
	e->is_net = 1;
	return 0;
}

struct tw_legit *tw_legit_load(const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	if (!fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	struct tw_legit *l = calloc(1, sizeof(*l));
	char line[2048];
	int ln = 0;
	if (!l) {
		snprintf(err, errlen, "%s: out of memory", path);
		fclose(fp);
		return NULL;
	}
	int rl;
	while ((rl = tw_line_read(fp, line, sizeof(line))) != TW_LINE_EOF) {
		ln++;
		if (rl == TW_LINE_TOO_LONG) {
			snprintf(err, errlen, "%s:%d: line too long", path, ln);
			goto fail;
		}
		if (rl == TW_LINE_NUL) {
			snprintf(err, errlen, "%s:%d: NUL byte in the line", path, ln);
			goto fail;
		}
		char *h = strchr(line, '#');
		if (h)
			*h = 0;
		char *s = trim(line);
		if (!*s)
			continue;
		char *f[6];
		int nf = 0;
		for (char *p = s; nf < 6;) {
			f[nf++] = p;
			char *c = strchr(p, ',');
			if (!c)
				break;
			*c = 0;
			p = c + 1;
		}
		if (nf != 5) {
			snprintf(err, errlen,
			         "%s:%d: expected 5 comma-separated fields (pattern, method, legal_reference, since, "
			         "until), got %d",
			         path, ln, nf);
			goto fail;
		}
		for (int i = 0; i < 5; i++)
			f[i] = trim(f[i]);
		struct tw_legit_entry e;
		memset(&e, 0, sizeof(e));
		if (!*f[0] || strlen(f[0]) >= sizeof(e.pattern)) {
			snprintf(err, errlen, "%s:%d: pattern: empty or too long", path, ln);
			goto fail;
		}
		snprintf(e.pattern, sizeof(e.pattern), "%s", f[0]);
		for (char *p = e.pattern; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		int r = parse_net(&e);
		if (r == -2) {
			snprintf(err, errlen, "%s:%d: pattern: '%s': host bits set in prefix", path, ln, f[0]);
			goto fail;
		}
		if (r < 0 || (r > 0 && !valid_domain(e.pattern))) {
			snprintf(err, errlen,
			         "%s:%d: pattern: '%s' is neither a domain, '*.domain', an address nor a CIDR", path,
			         ln, f[0]);
			goto fail;
		}
		if (strcmp(f[1], "any") && !tw_method_by_name(f[1])) {
			char names[256];
			size_t o = (size_t)snprintf(names, sizeof(names), "any");
			for (int m = 0; m < TW_METHOD_MAX && o < sizeof(names); m++)
				if (tw_method_name(m) && tw_method(m)->declarable)
					o += (size_t)snprintf(names + o, sizeof(names) - o, ", %s", tw_method_name(m));
			snprintf(err, errlen, "%s:%d: method: unknown method '%s' (%s)", path, ln, f[1], names);
			goto fail;
		}
		if (tw_method_by_name(f[1]) && !tw_method(tw_method_by_name(f[1]))->declarable) {
			snprintf(err, errlen,
			         "%s:%d: method: '%s' cannot be declared (no lawful restriction injects third-party "
			         "content; such alerts stay undeclared)",
			         path, ln, f[1]);
			goto fail;
		}
		snprintf(e.method, sizeof(e.method), "%s", f[1]);
		if (!*f[2] || strlen(f[2]) >= sizeof(e.legal_ref)) {
			snprintf(err, errlen, "%s:%d: legal_reference: empty or too long", path, ln);
			goto fail;
		}
		snprintf(e.legal_ref, sizeof(e.legal_ref), "%s", f[2]);
		if (parse_date(f[3], 0, &e.since_ns) < 0) {
			snprintf(err, errlen, "%s:%d: since: expected YYYY-MM-DD or empty, got '%s'", path, ln, f[3]);
			goto fail;
		}
		if (parse_date(f[4], UINT64_MAX, &e.until_ns) < 0) {
			snprintf(err, errlen, "%s:%d: until: expected YYYY-MM-DD or empty, got '%s'", path, ln, f[4]);
			goto fail;
		}
		if (e.until_ns != UINT64_MAX)
			e.until_ns += 86400ull * 1000000000ull; /* inclusive: to the end of that day */
		if (e.until_ns <= e.since_ns) {
			snprintf(err, errlen, "%s:%d: until: before since", path, ln);
			goto fail;
		}
		if (l->n == TW_LEGIT_MAX) {
			snprintf(err, errlen, "%s:%d: more than %d declarations", path, ln, TW_LEGIT_MAX);
			goto fail;
		}
		if (l->n == l->cap) {
			size_t nc = l->cap ? l->cap * 2 : 16;
			void *ne = realloc(l->e, nc * sizeof(*l->e));
			if (!ne) {
				snprintf(err, errlen, "%s:%d: out of memory", path, ln);
				goto fail;
			}
			l->e = ne;
			l->cap = nc;
		}
		l->e[l->n++] = e;
	}
	fclose(fp);
	return l;
fail:
	fclose(fp);
	tw_legit_free(l);
	char safe[1024]; /* the message quotes the file: no raw control bytes */
	tw_line_escape(err, safe, sizeof(safe));
	snprintf(err, errlen, "%s", safe);
	return NULL;
}

static int domain_match(const char *pat, const char *d)
{
	if (!strncmp(pat, "*.", 2)) {
		const char *base = pat + 2;
		size_t bl = strlen(base), dl = strlen(d);
		if (dl == bl)
			return !strcasecmp(d, base);
		return dl > bl && d[dl - bl - 1] == '.' && !strcasecmp(d + dl - bl, base);
	}
	return !strcasecmp(pat, d);
}

static int net_match(const struct tw_legit_entry *e, const char *ip)
{
	uint8_t a[16];
	int fam;
	if (inet_pton(AF_INET, ip, a) == 1)
		fam = 4;
	else if (inet_pton(AF_INET6, ip, a) == 1)
		fam = 6;
	else
		return 0;
	if (fam != e->family)
		return 0;
	int bits = e->plen;
	for (int i = 0; bits > 0; i++, bits -= 8) {
		uint8_t m = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
		if ((a[i] & m) != (e->net[i] & m))
			return 0;
	}
	return 1;
}

const struct tw_legit_entry *tw_legit_match(const struct tw_legit *l, const char *domain, const char *ip, uint64_t ts)
{
	if (!l)
		return NULL;
	for (size_t i = 0; i < l->n; i++) {
		const struct tw_legit_entry *e = &l->e[i];
		if (ts < e->since_ns || ts >= e->until_ns)
			continue;
		if (e->is_net ? (ip && *ip && net_match(e, ip))
		              : (domain && *domain && domain_match(e->pattern, domain)))
			return e;
	}
	return NULL;
}

const struct tw_legit_entry *tw_legit_for(const struct tw_legit *l, int m, const char *domain, const char *ip,
                                          uint64_t ts)
{
	const struct tw_method_info *mi = tw_method(m);
	if (mi && !mi->declarable)
		return NULL;
	return tw_legit_match(l, domain, ip, ts);
}

size_t tw_legit_count(const struct tw_legit *l)
{
	return l ? l->n : 0;
}

void tw_legit_free(struct tw_legit *l)
{
	if (!l)
		return;
	free(l->e);
	free(l);
}
