/* Where an HTTP response sends the client.  A 3xx says it in Location; a
 * search or ad page that answers for a name the resolver made up (ISP
 * NXDOMAIN redirection) often answers 200 with a <meta http-equiv=
 * "refresh"> instead, in a small body that may be chunked and gzipped.
 *
 * Everything here reads a snippet of at most TW_SNIPPET_MAX bytes: the
 * chunked decoder copies at most TW_REDIR_BODY_MAX bytes and stops at the
 * first size line it cannot read; inflate writes at most TW_REDIR_BODY_MAX
 * bytes and a broken or cut stream keeps what it produced. */
#include <string.h>
#include <zlib.h>

#include "events/proto.h"

static uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

static const uint8_t *find_ci(const uint8_t *s, size_t n, const char *needle)
{
	size_t m = strlen(needle);
	for (size_t i = 0; m <= n && i <= n - m; i++) {
		size_t k = 0;
		while (k < m && lower(s[i + k]) == (uint8_t)needle[k])
			k++;
		if (k == m)
			return s + i;
	}
	return NULL;
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Chunked transfer coding: the data of the chunks present, up to cap. */
static size_t dechunk(const uint8_t *p, size_t n, uint8_t *out, size_t cap)
{
	size_t i = 0, o = 0;
	while (i < n && o < cap) {
		size_t sz = 0, digits = 0;
		while (i < n && hexval(p[i]) >= 0) {
			if (++digits > 6) /* > 16 MiB: not a chunk we would read */
				return o;
			sz = sz * 16 + (size_t)hexval(p[i++]);
		}
		if (!digits || sz == 0)
			return o;
		while (i < n && p[i] != '\n') /* chunk extensions */
			i++;
		if (i++ >= n)
			return o;
		size_t take = sz < n - i ? sz : n - i;
		if (take > cap - o)
			take = cap - o;
		memcpy(out + o, p + i, take);
		o += take;
		i += take;
		if (take < sz)
			return o;
		if (i < n && p[i] == '\r')
			i++;
		if (i < n && p[i] == '\n')
			i++;
	}
	return o;
}

/* gzip or zlib (windowBits 15+32 detects which), or raw deflate, which
 * some servers send as "deflate".  Keeps what came out before an error. */
static size_t inflate_some(const uint8_t *in, size_t n, uint8_t *out, size_t cap, int raw)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, raw ? -15 : 15 + 32) != Z_OK)
		return 0;
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)n;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	(void)inflate(&zs, Z_SYNC_FLUSH);
	size_t got = cap - zs.avail_out;
	inflateEnd(&zs);
	return got;
}

static void copy_url(const uint8_t *s, size_t n, struct tw_http_redirect *out)
{
	size_t max = sizeof(out->url) - 1, o = 0;
	while (n && (*s == ' ' || *s == '\t' || *s == '\'' || *s == '"')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\'' || s[n - 1] == '"'))
		n--;
	int cut = n > max;
	if (cut)
		max -= 3;
	for (size_t i = 0; i < n && o < max; i++)
		out->url[o++] = (s[i] >= 0x21 && s[i] < 0x7f) ? (char)s[i] : '?';
	if (cut) {
		memcpy(out->url + o, "...", 3);
		o += 3;
	}
	out->url[o] = '\0';
}

/* Host of an absolute ("scheme://") or scheme-relative ("//") URL. */
static void url_host(struct tw_http_redirect *out)
{
	const char *u = out->url, *q = strchr(u, '?');
	size_t n = strlen(u), i = 0;
	out->query_off = q ? (size_t)(q - u) : n;
	out->host[0] = '\0';
	while (i < n && i < 32 &&
	       ((lower((uint8_t)u[i]) >= 'a' && lower((uint8_t)u[i]) <= 'z') || (u[i] >= '0' && u[i] <= '9') ||
	        u[i] == '+' || u[i] == '-' || u[i] == '.'))
		i++;
	if (i < n && u[i] == ':' && i + 2 < n && u[i + 1] == '/' && u[i + 2] == '/')
		i += 3;
	else if (n >= 2 && u[0] == '/' && u[1] == '/')
		i = 2;
	else
		return; /* relative: same host */
	size_t s = i;
	while (i < n && u[i] != '/' && u[i] != '?' && u[i] != '#' && u[i] != '\\')
		i++;
	const char *a = u + s;
	size_t an = i - s;
	const char *at = memchr(a, '@', an);
	if (at) { /* userinfo@host */
		an -= (size_t)(at + 1 - a);
		a = at + 1;
	}
	if (an && a[0] == '[') {
		const char *rb = memchr(a, ']', an);
		if (rb) {
			an = (size_t)(rb - a) - 1;
			a++;
		}
	} else {
		const char *colon = memchr(a, ':', an);
		if (colon)
			an = (size_t)(colon - a);
	}
	tw_name_escape((const uint8_t *)a, an, out->host, sizeof(out->host), NULL);
}

/* The url of the first <meta http-equiv="refresh" content="N; url=...">. */
static int meta_refresh(const uint8_t *b, size_t n, struct tw_http_redirect *out)
{
	const uint8_t *end = b + n, *m = b;
	while ((m = find_ci(m, (size_t)(end - m), "<meta")) != NULL) {
		const uint8_t *gt = memchr(m, '>', (size_t)(end - m));
		const uint8_t *tend = gt ? gt : end;
		const uint8_t *he = find_ci(m, (size_t)(tend - m), "http-equiv");
		m += 5;
		if (!he || !find_ci(he, (size_t)(tend - he), "refresh"))
			continue;
		const uint8_t *c = find_ci(m, (size_t)(tend - m), "content");
		if (!c)
			continue;
		c += 7;
		while (c < tend && (*c == ' ' || *c == '='))
			c++;
		uint8_t quote = 0;
		if (c < tend && (*c == '"' || *c == '\''))
			quote = *c++;
		const uint8_t *vend = c;
		while (vend < tend && (quote ? *vend != quote : *vend != ' '))
			vend++;
		const uint8_t *u = find_ci(c, (size_t)(vend - c), "url");
		if (!u)
			continue;
		u += 3;
		while (u < vend && (*u == ' ' || *u == '='))
			u++;
		if (u == vend)
			continue;
		copy_url(u, (size_t)(vend - u), out);
		return 1;
	}
	return 0;
}

int tw_http_redirect(const uint8_t *p, size_t len, struct tw_http_redirect *out)
{
	struct tw_http_resp r;
	memset(out, 0, sizeof(*out));
	enum tw_parse_rc rc = tw_parse_http_response_head(p, len, &r);
	if (rc != TW_PAYLOAD_OK && rc != TW_PAYLOAD_TRUNCATED)
		return 0;
	out->status = r.status;
	if (r.status >= 300 && r.status < 400 && r.location[0]) {
		copy_url((const uint8_t *)r.location, strlen(r.location), out);
		out->via = TW_REDIR_LOCATION;
	} else if (r.headers_complete && r.body_off < len && r.content_encoding != TW_HTTP_CE_OTHER) {
		static uint8_t plain[TW_REDIR_BODY_MAX], dec[TW_REDIR_BODY_MAX];
		const uint8_t *b = p + r.body_off;
		size_t bn = len - r.body_off;
		if (r.chunked) {
			bn = dechunk(b, bn, plain, sizeof(plain));
			b = plain;
		}
		if (r.content_encoding != TW_HTTP_CE_NONE) {
			size_t dn = inflate_some(b, bn, dec, sizeof(dec), 0);
			if (!dn && r.content_encoding == TW_HTTP_CE_DEFLATE)
				dn = inflate_some(b, bn, dec, sizeof(dec), 1);
			b = dec;
			bn = dn;
			out->body_decoded = 1;
		}
		if (bn > TW_REDIR_BODY_MAX)
			bn = TW_REDIR_BODY_MAX;
		if (!meta_refresh(b, bn, out))
			return 0;
		out->via = TW_REDIR_META_REFRESH;
	} else {
		return 0;
	}
	url_host(out);
	return 1;
}
