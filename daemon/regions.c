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

static int prefix_match(const uint8_t *a, const uint8_t *p, int plen)
{
	int full = plen / 8, rem = plen % 8;
	if (memcmp(a, p, (size_t)full))
		return 0;
	if (rem) {
		uint8_t m = (uint8_t)(0xff << (8 - rem));
		if ((a[full] & m) != (p[full] & m))
			return 0;
	}
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

int tw_regions_parse(struct tw_regions *r, const char *name, const char *text, char *err, size_t errlen)
{
	size_t n0 = r->n;
	int lineno = 0;
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		lineno++;
		char line[1024];
		if (len >= sizeof line) {
			snprintf(err, errlen, "%s:%d: line too long", name, lineno);
			r->n = n0;
			return -1;
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
			snprintf(err, errlen, "%s:%d: %s", name, lineno, why);
			r->n = n0;
			return -1;
		}
		for (size_t i = 0; i < r->n; i++)
			if (r->e[i].family == e.family && r->e[i].plen == e.plen && !memcmp(r->e[i].addr, e.addr, 16)) {
				snprintf(err, errlen, "%s:%d: duplicate prefix", name, lineno);
				r->n = n0;
				return -1;
			}
		if (r->n == r->cap) {
			size_t nc = r->cap ? r->cap * 2 : 32;
			struct tw_region_entry *ne = realloc(r->e, nc * sizeof *ne);
			if (!ne) {
				snprintf(err, errlen, "%s:%d: out of memory", name, lineno);
				r->n = n0;
				return -1;
			}
			r->e = ne;
			r->cap = nc;
		}
		r->e[r->n++] = e;
	}
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

const struct tw_region_entry *tw_regions_lookup(const struct tw_regions *r, int family, const uint8_t *addr)
{
	const struct tw_region_entry *best = NULL;
	for (size_t i = 0; i < r->n; i++) {
		const struct tw_region_entry *e = &r->e[i];
		if (e->family == family && (!best || e->plen > best->plen) && prefix_match(addr, e->addr, e->plen))
			best = e;
	}
	return best;
}

void tw_regions_free(struct tw_regions *r)
{
	free(r->e);
	memset(r, 0, sizeof *r);
}
