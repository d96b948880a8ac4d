#include "regions.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int valid_region(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 47)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' ||
		      *s == '_' || *s == ':' || *s == '-'))
			return 0;
	return 1;
}

static int parse_line(char *line, struct tw_region_entry *e, const char **why)
{
	char *save = NULL;
	char *pfx = strtok_r(line, " \t", &save);
	char *reg = strtok_r(NULL, " \t", &save);
	char *asn = strtok_r(NULL, " \t", &save);
	char *extra = strtok_r(NULL, " \t", &save);
	memset(e, 0, sizeof *e);
	if (!reg) {
		*why = "expected 'PREFIX REGION [ASN]'";
		return -1;
	}
	if (extra) {
		*why = "too many fields (expected 'PREFIX REGION [ASN]')";
		return -1;
	}
	char *slash = strchr(pfx, '/');
	if (!slash) {
		*why = "prefix needs a /length";
		return -1;
	}
	*slash = 0;
	char *end;
	errno = 0;
	long plen = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1 || errno) {
		*why = "bad prefix length";
		return -1;
	}
	if (inet_pton(AF_INET, pfx, e->addr) == 1) {
		e->family = AF_INET;
		if (plen < 0 || plen > 32) {
			*why = "IPv4 prefix length must be 0..32";
			return -1;
		}
	} else if (inet_pton(AF_INET6, pfx, e->addr) == 1) {
		e->family = AF_INET6;
		if (plen < 0 || plen > 128) {
			*why = "IPv6 prefix length must be 0..128";
			return -1;
		}
	} else {
		*why = "not an IPv4 or IPv6 address";
		return -1;
	}
	e->plen = (int)plen;
	int alen = e->family == AF_INET ? 4 : 16;
	for (int i = 0; i < alen; i++) {
		int keep = (int)plen - i * 8;
		uint8_t m = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
		if (e->addr[i] & ~m) {
			*why = "host bits set in prefix";
			return -1;
		}
	}
	if (!valid_region(reg)) {
		*why = "region must be 1..47 characters of [A-Za-z0-9._:-]";
		return -1;
	}
	snprintf(e->region, sizeof e->region, "%s", reg);
	if (asn) {
		if (!strncasecmp(asn, "AS", 2))
			asn += 2;
		errno = 0;
		unsigned long v = strtoul(asn, &end, 10);
		if (!*asn || *end || errno || v == 0 || v > 0xffffffffUL || asn[0] == '-') {
			*why = "ASN must be a number 1..4294967295";
			return -1;
		}
		e->asn = (uint32_t)v;
	}
	return 0;
}

/* the table's order: family, prefix length, address; lookups binary-search it */
static int entry_cmp(const struct tw_region_entry *a, const struct tw_region_entry *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->plen != b->plen)
		return a->plen < b->plen ? -1 : 1;
	return memcmp(a->addr, b->addr, 16);
}

static int by_entry(const void *a, const void *b)
{
	return entry_cmp(a, b);
}

/* an entry and the file line it came from (0: loaded before this parse) */
struct lined {
	struct tw_region_entry e;
	int line;
};

static int by_entry_line(const void *a, const void *b)
{
	const struct lined *x = a, *y = b;
	int c = entry_cmp(&x->e, &y->e);
	return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* the prefix lengths present per family, longest first: a lookup tries each */
static void index_lengths(struct tw_regions *r)
{
	r->nplens4 = r->nplens6 = 0;
	for (size_t i = r->n; i-- > 0;) { /* sorted: lengths ascend within a family */
		const struct tw_region_entry *e = &r->e[i];
		uint8_t *l = e->family == AF_INET ? r->plens4 : r->plens6;
		int *n = e->family == AF_INET ? &r->nplens4 : &r->nplens6;
		if (!*n || l[*n - 1] != e->plen)
			l[(*n)++] = (uint8_t)e->plen;
	}
}

/* The first line that repeats a prefix given before it, 0 if none: sorting
 * by (prefix, line) puts every repeat right after its first occurrence. */
static int first_duplicate(const struct tw_regions *r, const int *lines)
{
	struct lined *v = malloc((r->n ? r->n : 1) * sizeof(*v));
	if (!v)
		return -1;
	for (size_t i = 0; i < r->n; i++) {
		v[i].e = r->e[i];
		v[i].line = lines[i];
	}
	qsort(v, r->n, sizeof(*v), by_entry_line);
	int dup = 0;
	for (size_t i = 1; i < r->n; i++)
		if (!entry_cmp(&v[i - 1].e, &v[i].e) && v[i].line && (!dup || v[i].line < dup))
			dup = v[i].line;
	free(v);
	return dup;
}

int tw_regions_parse(struct tw_regions *r, const char *name, const char *text, char *err, size_t errlen)
{
	size_t n0 = r->n, lcap = 0;
	int lineno = 0, bad = 0, *lines = NULL;
	char why_bad[160] = "";
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		lineno++;
		char line[1024];
		if (len >= sizeof line) {
			snprintf(why_bad, sizeof why_bad, "line too long");
			bad = lineno;
			break;
		}
		memcpy(line, p, len);
		line[len] = 0;
		p += len + (nl ? 1 : 0);
		char *hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		size_t l = strlen(line);
		while (l && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
			line[--l] = 0;
		char *s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			continue;
		struct tw_region_entry e;
		const char *why = NULL;
		if (parse_line(s, &e, &why)) {
			snprintf(why_bad, sizeof why_bad, "%s", why);
			bad = lineno;
			break;
		}
		if (r->n == r->cap) {
			size_t nc = r->cap ? r->cap * 2 : 32;
			struct tw_region_entry *ne = realloc(r->e, nc * sizeof *ne);
			if (!ne) {
				snprintf(why_bad, sizeof why_bad, "out of memory");
				bad = lineno;
				break;
			}
			r->e = ne;
			r->cap = nc;
		}
		if (r->n >= lcap) {
			size_t nc = r->cap;
			int *nlines = realloc(lines, nc * sizeof *nlines);
			if (!nlines) {
				snprintf(why_bad, sizeof why_bad, "out of memory");
				bad = lineno;
				break;
			}
			if (!lines)
				memset(nlines, 0, n0 * sizeof *nlines); /* entries of earlier loads */
			lines = nlines;
			lcap = nc;
		}
		lines[r->n] = lineno;
		r->e[r->n++] = e;
	}
	/* a repeat before the first bad line is the first error, as in file order */
	int dup = lines ? first_duplicate(r, lines) : 0;
	free(lines);
	if (dup < 0) {
		snprintf(err, errlen, "%s:%d: out of memory", name, lineno);
		r->n = n0;
		return -1;
	}
	if (dup && (!bad || dup < bad)) {
		snprintf(err, errlen, "%s:%d: duplicate prefix", name, dup);
		r->n = n0;
		return -1;
	}
	if (bad) {
		snprintf(err, errlen, "%s:%d: %s", name, bad, why_bad);
		r->n = n0;
		return -1;
	}
	qsort(r->e, r->n, sizeof *r->e, by_entry);
	index_lengths(r);
	return 0;
}

int tw_regions_load(struct tw_regions *r, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s:0: %s", path, strerror(errno));
		return -1;
	}
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	if (!buf) {
		fclose(f);
		snprintf(err, errlen, "%s:0: out of memory", path);
		return -1;
	}
	size_t n;
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (len + 1 == cap) {
			if (cap >= (64u << 20)) {
				free(buf);
				fclose(f);
				snprintf(err, errlen, "%s:0: file too large", path);
				return -1;
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				fclose(f);
				snprintf(err, errlen, "%s:0: out of memory", path);
				return -1;
			}
			buf = nb;
			cap *= 2;
		}
	}
	fclose(f);
	buf[len] = 0;
	if (memchr(buf, 0, len)) {
		free(buf);
		snprintf(err, errlen, "%s:0: binary content (NUL byte)", path);
		return -1;
	}
	int rc = tw_regions_parse(r, path, buf, err, errlen);
	free(buf);
	return rc;
}

/* longest prefix first: per length present, the address masked to it,
 * binary-searched; O(lengths x log n) */
const struct tw_region_entry *tw_regions_lookup(const struct tw_regions *r, int family, const uint8_t *addr)
{
	const uint8_t *lens = family == AF_INET ? r->plens4 : r->plens6;
	int nlens = family == AF_INET ? r->nplens4 : family == AF_INET6 ? r->nplens6 : 0;
	struct tw_region_entry key;
	memset(&key, 0, sizeof key);
	key.family = family;
	for (int k = 0; k < nlens; k++) {
		key.plen = lens[k];
		memset(key.addr, 0, sizeof key.addr);
		int full = key.plen / 8, rem = key.plen % 8;
		memcpy(key.addr, addr, (size_t)full);
		if (rem)
			key.addr[full] = addr[full] & (uint8_t)(0xff << (8 - rem));
		const struct tw_region_entry *e = bsearch(&key, r->e, r->n, sizeof *r->e, by_entry);
		if (e)
			return e;
	}
	return NULL;
}

const struct tw_region_entry *tw_regions_lookup_prefix(const struct tw_regions *r, const char *prefix)
{
	char addr[64];
	uint8_t bin[16];
	if (!r || !prefix)
		return NULL;
	snprintf(addr, sizeof(addr), "%s", prefix);
	char *slash = strchr(addr, '/');
	if (slash)
		*slash = 0;
	int fam = strchr(addr, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(fam, addr, bin) != 1)
		return NULL;
	return tw_regions_lookup(r, fam, bin);
}

void tw_regions_free(struct tw_regions *r)
{
	free(r->e);
	memset(r, 0, sizeof *r);
}
