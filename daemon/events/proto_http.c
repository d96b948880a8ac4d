/* HTTP/1.x request and response head parser for flow snippets.
 *
 * Lenient where block pages and middleboxes are sloppy (bare LF line ends,
 * header lines without a colon, obsolete folding are tolerated and
 * ignored), strict where it decides whether the bytes are HTTP at all
 * (method token, "HTTP/1.x", three-digit status).
 */
#include <string.h>

#include "events/proto.h"

#define METHOD_MAX 15

static int is_upper_tok(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
}

static int is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

static int ieq(const uint8_t *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	if (alen != blen)
		return 0;
	for (size_t i = 0; i < alen; i++)
		if (lower(a[i]) != (uint8_t)b[i])
			return 0;
	return 1;
}

/* Copy printable ASCII, other bytes as '?'; a cut copy ends in "..." if
 * ellipsis is set. */
static void copy_printable(const uint8_t *s, size_t n, char *out, size_t outsz, int ellipsis)
{
	size_t o = 0, max = outsz - 1;
	int cut = n > max;
	if (cut && ellipsis && max >= 3)
		max -= 3;
	for (size_t i = 0; i < n && o < max; i++)
		out[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
	if (cut && ellipsis && outsz > 3) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static void trim(const uint8_t **s, size_t *n)
{
	while (*n && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r'))
		(*n)--;
}

/* One line [off, eol) where eol excludes CR LF; returns 0 if no LF yet. */
static int next_line(const uint8_t *p, size_t len, size_t off, size_t *eol, size_t *next)
{
	const uint8_t *lf = memchr(p + off, '\n', len - off);
	if (!lf)
		return 0;
	size_t e = (size_t)(lf - p);
	*next = e + 1;
	if (e > off && p[e - 1] == '\r')
		e--;
	*eol = e;
	return 1;
}

/* Host from "host[:port]" or "[v6]:port"; port and brackets dropped. */
static void set_host(const uint8_t *s, size_t n, char *out, size_t outsz, int *cut)
{
	trim(&s, &n);
	if (n && s[0] == '[') {
		const uint8_t *rb = memchr(s, ']', n);
		if (rb) {
			n = (size_t)(rb - s) - 1;
			s++;
		}
	} else {
		const uint8_t *colon = memchr(s, ':', n);
		if (colon)
			n = (size_t)(colon - s);
	}
	tw_name_escape(s, n, out, outsz, cut);
}

/* Authority of an absolute-form ("scheme://auth/...") or authority-form
 * target; returns 0 if the target is neither. */
static int target_authority(const uint8_t *t, size_t n, int is_connect, const uint8_t **a, size_t *alen)
{
	size_t i = 0;
	if (is_connect) {
		*a = t;
		*alen = n;
		return n > 0;
	}
	if (n == 0 || t[0] == '/' || t[0] == '*')
		return 0;
	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
	while (i < n && i < 32 &&
	       ((lower(t[i]) >= 'a' && lower(t[i]) <= 'z') || is_digit(t[i]) || t[i] == '+' || t[i] == '-' ||
	        t[i] == '.'))
		i++;
	if (i == 0 || n - i < 3 || memcmp(t + i, "://", 3) != 0)
		return 0;
	i += 3;
	size_t s = i;
	while (i < n && t[i] != '/' && t[i] != '?' && t[i] != '#')
		i++;
	*a = t + s;
	*alen = i - s;
	const uint8_t *at = memchr(*a, '@', *alen); /* drop userinfo */
	if (at) {
		*alen -= (size_t)(at - *a) + 1;
		*a = at + 1;
	}
	return 1;
}

enum tw_parse_rc tw_parse_http_request(const uint8_t *p, size_t len, struct tw_http_req *out)
{
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	if (!p)
		len = 0;
	while (i < len && i <= METHOD_MAX && is_upper_tok(p[i]))
		i++;
	if (i > METHOD_MAX)
		return TW_PAYLOAD_NOT_THIS;
	if (i == len)
		return TW_PAYLOAD_TRUNCATED;
	if (i == 0 || p[i] != ' ')
		return TW_PAYLOAD_NOT_THIS;
	memcpy(out->method, p, i);
	out->method[i] = '\0';

	size_t ts = ++i;
	while (i < len && p[i] > 0x20 && p[i] < 0x7f)
		i++;
	size_t tlen = i - ts;
	copy_printable(p + ts, tlen, out->path, sizeof(out->path), 1);
	if (i == len) {
		if (tlen > 0 && tlen < sizeof(out->path)) { /* mark the snippet cut too */
			copy_printable(p + ts, tlen, out->path, sizeof(out->path) - 3, 0);
			strcat(out->path, "...");
		}
		return TW_PAYLOAD_TRUNCATED;
	}
	if (tlen == 0)
		return TW_PAYLOAD_MALFORMED;
	const uint8_t *auth;
	size_t alen;
	if (target_authority(p + ts, tlen, strcmp(out->method, "CONNECT") == 0, &auth, &alen)) {
		set_host(auth, alen, out->host, sizeof(out->host), &out->host_cut);
		out->host_from_target = out->host[0] != '\0';
	}

	if (p[i] == '\r' || p[i] == '\n') { /* HTTP/0.9: no version, no headers */
		out->http_minor = -1;
		out->headers_complete = 1;
		return TW_PAYLOAD_OK;
	}
	if (p[i] != ' ')
		return TW_PAYLOAD_MALFORMED;
	i++;
	static const char ver[] = "HTTP/1.";
	for (size_t k = 0; k < sizeof(ver) - 1; k++, i++) {
		if (i == len)
			return TW_PAYLOAD_TRUNCATED;
		if (p[i] != (uint8_t)ver[k])
			return TW_PAYLOAD_MALFORMED;
	}
	if (i == len)
		return TW_PAYLOAD_TRUNCATED;
	if (!is_digit(p[i]))
		return TW_PAYLOAD_MALFORMED;
	out->http_minor = p[i++] - '0';
	if (i < len && p[i] == '\r')
		i++;
	if (i == len)
		return TW_PAYLOAD_TRUNCATED;
	if (p[i] != '\n')
		return TW_PAYLOAD_MALFORMED;
	i++;

	/* header lines: each iteration consumes >= 1 byte */
	size_t eol, next;
	while (next_line(p, len, i, &eol, &next)) {
		const uint8_t *l = p + i;
		size_t n = eol - i;
		i = next;
		if (n == 0) {
			out->headers_complete = 1;
			return TW_PAYLOAD_OK;
		}
		if (l[0] == ' ' || l[0] == '\t')
			continue; /* obsolete folding: continuation ignored */
		const uint8_t *colon = memchr(l, ':', n);
		if (!colon)
			continue;
		const uint8_t *name = l;
		size_t nlen = (size_t)(colon - l);
		trim(&name, &nlen);
		if (!out->host_from_target && !out->host[0] && ieq(name, nlen, "host"))
			set_host(colon + 1, (size_t)(l + n - colon - 1), out->host, sizeof(out->host), &out->host_cut);
	}
	return TW_PAYLOAD_TRUNCATED;
}

/* Length of a valid UTF-8 sequence at s (n bytes available), 0 if invalid. */
static size_t utf8_len(const uint8_t *s, size_t n)
{
	size_t k;
	uint32_t cp;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		k = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		k = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		k = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < k)
		return 0;
	for (size_t j = 1; j < k; j++) {
		if ((s[j] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[j] & 0x3f);
	}
	if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0; /* overlong, out of range, surrogate */
	return k;
}

/* Case-insensitive search for lower-case needle in [s, s+n).  Its first
 * byte is no letter ('<'): memchr finds the candidates (this runs over the
 * body of every response the pipeline decodes). */
static const uint8_t *find_ci(const uint8_t *s, size_t n, const char *needle)
{
	size_t m = strlen(needle);
	if (!m || m > n)
		return NULL;
	for (const uint8_t *c = s, *last = s + (n - m); c <= last;) {
		c = memchr(c, needle[0], (size_t)(last - c) + 1);
		if (!c)
			return NULL;
		size_t j = 1;
		while (j < m && lower(c[j]) == (uint8_t)needle[j])
			j++;
		if (j == m)
			return c;
		c++;
	}
	return NULL;
}

static int is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static void extract_title(const uint8_t *b, size_t n, char *out, size_t outsz)
{
	const uint8_t *end = b + n, *t = b;
	out[0] = '\0';
	/* "<title" followed by '>' or attributes; skip "<titles" and friends */
	for (;;) {
		t = find_ci(t, (size_t)(end - t), "<title");
		if (!t)
			return;
		t += 6;
		if (t == end)
			return;
		if (*t == '>' || is_space(*t) || *t == '/')
			break;
	}
	const uint8_t *gt = memchr(t, '>', (size_t)(end - t));
	if (!gt)
		return;
	t = gt + 1;
	const uint8_t *close = find_ci(t, (size_t)(end - t), "</title");
	if (close)
		end = close;

	size_t o = 0;
	int space = 0;
	while (t < end) {
		uint8_t c = *t;
		if (is_space(c) || c < 0x20 || c == 0x7f) {
			space = o > 0;
			t++;
			continue;
		}
		size_t k = utf8_len(t, (size_t)(end - t));
		if (o + space + (k ? k : 1) > outsz - 1)
			break;
		if (space)
			out[o++] = ' ';
		space = 0;
		if (k) {
			memcpy(out + o, t, k);
			o += k;
			t += k;
		} else {
			out[o++] = '?';
			t++;
		}
	}
	out[o] = '\0';
}

static long parse_clen(const uint8_t *s, size_t n)
{
	long v = 0;
	trim(&s, &n);
	if (n == 0 || n > 18)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int has_close_token(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t st = i;
		while (i < n && s[i] != ',')
			i++;
		const uint8_t *tok = s + st;
		size_t tl = i - st;
		trim(&tok, &tl);
		if (ieq(tok, tl, "close"))
			return 1;
		i++;
	}
	return 0;
}

void tw_http_title(const uint8_t *body, size_t n, char *out, size_t outsz)
{
	extract_title(body, n, out, outsz);
}

static enum tw_parse_rc parse_response(const uint8_t *p, size_t len, struct tw_http_resp *out, int title);

enum tw_parse_rc tw_parse_http_response(const uint8_t *p, size_t len, struct tw_http_resp *out)
{
	return parse_response(p, len, out, 1);
}

enum tw_parse_rc tw_parse_http_response_head(const uint8_t *p, size_t len, struct tw_http_resp *out)
{
	return parse_response(p, len, out, 0);
}

static enum tw_parse_rc parse_response(const uint8_t *p, size_t len, struct tw_http_resp *out, int title)
{
	static const char pfx[] = "HTTP/";
	size_t i;

	memset(out, 0, sizeof(*out));
	out->content_length = -1;
	if (!p)
		len = 0;
	for (i = 0; i < sizeof(pfx) - 1; i++) {
		if (i == len)
			return TW_PAYLOAD_TRUNCATED;
		if (p[i] != (uint8_t)pfx[i])
			return TW_PAYLOAD_NOT_THIS;
	}
	/* "1.x SP NNN" then SP reason or end of line */
	static const char shape[] = "1.d dddE";
	for (size_t k = 0; k < sizeof(shape) - 1; k++, i++) {
		if (i == len)
			return TW_PAYLOAD_TRUNCATED;
		uint8_t c = p[i];
		switch (shape[k]) {
		case 'd':
			if (!is_digit(c))
				return TW_PAYLOAD_MALFORMED;
			break;
		case 'E':
			if (c != ' ' && c != '\r' && c != '\n')
				return TW_PAYLOAD_MALFORMED;
			break;
		default:
			if (c != (uint8_t)shape[k])
				return TW_PAYLOAD_MALFORMED;
		}
	}
	out->http_minor = p[7] - '0';
	out->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	i = p[12] == ' ' ? 13 : 12;

	size_t eol, next;
	int clen_seen = 0;
	if (!next_line(p, len, i, &eol, &next)) {
		copy_printable(p + i, len - i, out->reason, sizeof(out->reason), 0);
		return TW_PAYLOAD_TRUNCATED;
	}
	copy_printable(p + i, eol - i, out->reason, sizeof(out->reason), 0);
	i = next;

	while (next_line(p, len, i, &eol, &next)) {
		const uint8_t *l = p + i;
		size_t n = eol - i;
		i = next;
		if (n == 0) {
			out->headers_complete = 1;
			out->body_off = i;
			if (title)
				extract_title(p + i, len - i, out->title, sizeof(out->title));
			return TW_PAYLOAD_OK;
		}
		if (l[0] == ' ' || l[0] == '\t')
			continue; /* obsolete folding: continuation ignored */
		const uint8_t *colon = memchr(l, ':', n);
		if (!colon) {
			out->n_bad_lines++;
			continue;
		}
		out->n_headers++;
		const uint8_t *name = l, *val = colon + 1;
		size_t nlen = (size_t)(colon - l), vlen = (size_t)(l + n - val);
		trim(&name, &nlen);
		trim(&val, &vlen);
		if (ieq(name, nlen, "location")) {
			if (!out->location[0])
				copy_printable(val, vlen, out->location, sizeof(out->location), 1);
		} else if (ieq(name, nlen, "server")) {
			if (!out->server[0])
				copy_printable(val, vlen, out->server, sizeof(out->server), 0);
		} else if (ieq(name, nlen, "content-length")) {
			long v = parse_clen(val, vlen);
			/* conflicting duplicates make the length unknown */
			out->content_length = (clen_seen && out->content_length != v) ? -1 : v;
			clen_seen = 1;
		} else if (ieq(name, nlen, "connection")) {
			if (has_close_token(val, vlen))
				out->connection_close = 1;
		} else if (ieq(name, nlen, "content-encoding")) {
			/* one coding we can undo; stacked codings are not undone */
			if (out->content_encoding || memchr(val, ',', vlen))
				out->content_encoding = TW_HTTP_CE_OTHER;
			else if (ieq(val, vlen, "gzip") || ieq(val, vlen, "x-gzip"))
				out->content_encoding = TW_HTTP_CE_GZIP;
			else if (ieq(val, vlen, "deflate"))
				out->content_encoding = TW_HTTP_CE_DEFLATE;
			else if (!ieq(val, vlen, "identity"))
				out->content_encoding = TW_HTTP_CE_OTHER;
		} else if (ieq(name, nlen, "transfer-encoding")) {
			/* chunked must be the last coding (RFC 9112 6.1) */
			out->chunked = vlen >= 7 && ieq(val + vlen - 7, 7, "chunked");
		}
	}
	return TW_PAYLOAD_TRUNCATED;
}
