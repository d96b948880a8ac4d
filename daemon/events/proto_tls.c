/* TLS ClientHello / first server record parser for flow snippets.
 *
 * The handshake message is first gathered from consecutive handshake
 * records into a bounded buffer (a hello may span records, and a censor
 * that reassembles sees the whole message), then parsed with two limits per
 * field: the declared end of the enclosing structure (overrun = MALFORMED)
 * and the bytes actually available (overrun = TRUNCATED).  Both limits come
 * only from bytes present, so cutting a valid hello anywhere can never turn
 * it MALFORMED.
 */
#include <string.h>

#include "events/proto.h"

#define TLS_MAX_PLAINTEXT 16384u
/* Ciphertext may exceed the plaintext limit by up to 2048 (RFC 5246). */
#define TLS_MAX_RECORD (16384u + 2048u)
/* Largest handshake prefix we gather; beyond this we report TRUNCATED,
 * which is true for what we looked at. */
#define TLS_GATHER_MAX 16384u

struct gather {
	uint8_t buf[TLS_GATHER_MAX];
	size_t n;    /* bytes gathered */
	size_t need; /* 4 + handshake length, 0 until known */
	int cut;     /* stopped before `need` bytes */
	int nrec;
	uint16_t version; /* first record version */
};

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

/* Field [off, off+k) inside a structure ending at `end` with `avail` bytes
 * available. */
static enum tw_parse_rc need(size_t off, size_t k, size_t avail, size_t end)
{
	if (k > end || off > end - k)
		return TW_PAYLOAD_MALFORMED;
	if (k > avail || off > avail - k)
		return TW_PAYLOAD_TRUNCATED;
	return TW_PAYLOAD_OK;
}

/* Check the first record's header bytes that are present. */
static enum tw_parse_rc first_header(const uint8_t *p, size_t len, int (*ct_ok)(uint8_t))
{
	if (len < 1)
		return TW_PAYLOAD_TRUNCATED;
	if (!ct_ok(p[0]))
		return TW_PAYLOAD_NOT_THIS;
	if (len < 2)
		return TW_PAYLOAD_TRUNCATED;
	if (p[1] != 3)
		return TW_PAYLOAD_NOT_THIS;
	if (len < 3)
		return TW_PAYLOAD_TRUNCATED;
	if (p[2] > 4)
		return TW_PAYLOAD_MALFORMED;
	return TW_PAYLOAD_OK;
}

static int ct_handshake(uint8_t ct)
{
	return ct == TW_TLS_CT_HANDSHAKE;
}

/* Gather handshake bytes from consecutive handshake records, stopping once
 * the first handshake message (or `cap` bytes of it) is complete. */
static enum tw_parse_rc gather(const uint8_t *p, size_t len, size_t cap, struct gather *g)
{
	size_t off = 0;
	enum tw_parse_rc rc;

	if (cap > sizeof(g->buf))
		cap = sizeof(g->buf);
	g->n = g->need = 0;
	g->cut = 0;
	g->nrec = 0;
	g->version = 0;
	rc = first_header(p, len, ct_handshake);
	if (rc != TW_PAYLOAD_OK)
		return rc;

	/* Each pass consumes one whole record header (5 bytes) at least, so
	 * the loop is bounded by len / 5. */
	for (;;) {
		/* cap >= 4, so need is known before n can reach cap */
		if (g->need && g->n >= (g->need < cap ? g->need : cap)) {
			g->cut = g->n < g->need;
			return TW_PAYLOAD_OK;
		}
		if (off >= len) {
			g->cut = 1;
			return TW_PAYLOAD_OK;
		}
		size_t have = len - off;
		const uint8_t *r = p + off;
		if (r[0] != TW_TLS_CT_HANDSHAKE)
			return TW_PAYLOAD_MALFORMED; /* other record inside the hello */
		if (have >= 2 && r[1] != 3)
			return TW_PAYLOAD_MALFORMED;
		if (have >= 3 && r[2] > 4)
			return TW_PAYLOAD_MALFORMED;
		if (have < 5) {
			g->cut = 1;
			return TW_PAYLOAD_OK;
		}
		size_t rlen = rd16(r + 3);
		if (rlen == 0 || rlen > TLS_MAX_PLAINTEXT)
			return TW_PAYLOAD_MALFORMED;
		if (g->nrec == 0)
			g->version = rd16(r + 1);
		g->nrec++;
		size_t take = rlen;
		if (take > have - 5)
			take = have - 5;
		if (take > cap - g->n)
			take = cap - g->n;
		memcpy(g->buf + g->n, r + 5, take);
		g->n += take;
		if (!g->need && g->n >= 4)
			g->need = 4 + ((size_t)g->buf[1] << 16 | (size_t)g->buf[2] << 8 | g->buf[3]);
		if (have - 5 < rlen) {
			/* record itself is cut: stop, complete or not */
			if (!g->need || g->n < g->need)
				g->cut = 1;
			return TW_PAYLOAD_OK;
		}
		off += 5 + rlen;
	}
}

/* Append one ALPN protocol at out[o], escaped like names but keeping
 * printable ASCII; ',' is escaped too unless comma_plain (the list form
 * uses it as separator).  Returns the new length; a protocol that does not
 * fit whole is cut (cut_whole == 0) or left out (cut_whole == 1). */
static size_t put_alpn(const uint8_t *s, size_t n, char *out, size_t outsz, size_t o, int comma_plain, int cut_whole,
                       int *cut)
{
	static const char hex[] = "0123456789abcdef";
	size_t start = o;

	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		int plain = c > 0x20 && c < 0x7f && c != '%' && c != '"' && c != '\\' && (comma_plain || c != ',');
		if (o + (plain ? 1 : 3) >= outsz) {
			*cut = 1;
			if (cut_whole)
				o = start;
			break;
		}
		if (plain) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return o;
}

/* server_name extension body [off, end) */
static enum tw_parse_rc parse_sni(const uint8_t *b, size_t off, size_t end, size_t avail, struct tw_tls_hello *out)
{
	enum tw_parse_rc rc;

	if (off == end)
		return TW_PAYLOAD_OK; /* empty: tolerated, no name */
	if ((rc = need(off, 2, avail, end)) != TW_PAYLOAD_OK)
		return rc;
	size_t list_end = off + 2 + rd16(b + off);
	if (list_end != end)
		return TW_PAYLOAD_MALFORMED;
	off += 2;
	/* each entry is >= 3 bytes: bounded by the list length */
	while (off < list_end) {
		if ((rc = need(off, 3, avail, list_end)) != TW_PAYLOAD_OK)
			return rc;
		uint8_t type = b[off];
		size_t nlen = rd16(b + off + 1);
		off += 3;
		if (nlen == 0)
			return TW_PAYLOAD_MALFORMED;
		if ((rc = need(off, nlen, avail, list_end)) != TW_PAYLOAD_OK)
			return rc;
		if (type == 0 && !out->has_sni) {
			tw_name_escape(b + off, nlen, out->sni, sizeof(out->sni), &out->sni_cut);
			out->has_sni = 1;
		}
		off += nlen;
	}
	return TW_PAYLOAD_OK;
}

static enum tw_parse_rc parse_alpn(const uint8_t *b, size_t off, size_t end, size_t avail, struct tw_tls_hello *out)
{
	enum tw_parse_rc rc;

	if ((rc = need(off, 2, avail, end)) != TW_PAYLOAD_OK)
		return rc;
	size_t list_end = off + 2 + rd16(b + off);
	if (list_end != end || list_end == off + 2)
		return TW_PAYLOAD_MALFORMED;
	off += 2;
	int first = 1, first_cut = 0;
	size_t o = 0; /* length of out->alpn */
	while (off < list_end) {
		if ((rc = need(off, 1, avail, list_end)) != TW_PAYLOAD_OK)
			return rc;
		size_t plen = b[off++];
		if (plen == 0)
			return TW_PAYLOAD_MALFORMED;
		if ((rc = need(off, plen, avail, list_end)) != TW_PAYLOAD_OK)
			return rc;
		if (first)
			put_alpn(b + off, plen, out->alpn_first, sizeof(out->alpn_first), 0, 1, 0, &first_cut);
		if (!out->alpn_cut) {
			size_t before = o;
			if (!first && o + 2 < sizeof(out->alpn))
				out->alpn[o++] = ',';
			else if (!first)
				out->alpn_cut = 1;
			if (!out->alpn_cut)
				o = put_alpn(b + off, plen, out->alpn, sizeof(out->alpn), o, 0, 1, &out->alpn_cut);
			if (out->alpn_cut) { /* no dangling separator */
				o = before;
				out->alpn[o] = '\0';
			}
		}
		first = 0;
		off += plen;
	}
	return TW_PAYLOAD_OK;
}

/* The ClientHello handshake message: n bytes present at b, need = 4 + its
 * declared length (0 while unknown). */
static enum tw_parse_rc hello_msg(const uint8_t *b, size_t n, size_t need_len, struct tw_tls_hello *out)
{
	enum tw_parse_rc rc;
	size_t avail = n;
	if (avail < 1)
		return TW_PAYLOAD_TRUNCATED;
	if (b[0] != 1)
		return TW_PAYLOAD_MALFORMED; /* a client's first handshake must be ClientHello */
	if (avail < 4)
		return TW_PAYLOAD_TRUNCATED;
	size_t end = need_len;
	if (avail > end)
		avail = end;
	size_t off = 4;

	/* legacy_version + random */
	if ((rc = need(off, 34, avail, end)) != TW_PAYLOAD_OK)
		return rc;
	out->legacy_version = rd16(b + off);
	if (b[off] != 3)
		return TW_PAYLOAD_MALFORMED;
	off += 34;

	if ((rc = need(off, 1, avail, end)) != TW_PAYLOAD_OK)
		return rc;
	size_t sid = b[off];
	if (sid > 32)
		return TW_PAYLOAD_MALFORMED;
	off += 1 + sid;

	if ((rc = need(off, 2, avail, end)) != TW_PAYLOAD_OK)
		return rc;
	size_t cs = rd16(b + off);
	if (cs < 2 || (cs & 1))
		return TW_PAYLOAD_MALFORMED;
	off += 2 + cs;

	if ((rc = need(off, 1, avail, end)) != TW_PAYLOAD_OK)
		return rc;
	size_t comp = b[off];
	if (comp < 1)
		return TW_PAYLOAD_MALFORMED;
	off += 1 + comp;
	if (off > end)
		return TW_PAYLOAD_MALFORMED;
	if (off == end) /* pre-extension hello */
		return n >= end ? TW_PAYLOAD_OK : TW_PAYLOAD_TRUNCATED;

	if ((rc = need(off, 2, avail, end)) != TW_PAYLOAD_OK)
		return rc;
	size_t ext_end = off + 2 + rd16(b + off);
	if (ext_end != end)
		return TW_PAYLOAD_MALFORMED;
	off += 2;

	/* each extension is >= 4 bytes: bounded by ext_end */
	while (off < ext_end) {
		if ((rc = need(off, 4, avail, ext_end)) != TW_PAYLOAD_OK)
			return rc;
		uint16_t type = rd16(b + off);
		size_t eend = off + 4 + rd16(b + off + 2);
		if (eend > ext_end)
			return TW_PAYLOAD_MALFORMED;
		off += 4;
		rc = TW_PAYLOAD_OK;
		switch (type) {
		case 0x0000: rc = parse_sni(b, off, eend, avail, out); break;
		case 0x0010: rc = parse_alpn(b, off, eend, avail, out); break;
		case 0xfe0d: out->has_ech = 1; break;
		case 0xffce: out->has_esni = 1; break;
		default: /* GREASE and everything else: skipped by length */ break;
		}
		if (rc != TW_PAYLOAD_OK)
			return rc;
		if (eend > avail)
			return TW_PAYLOAD_TRUNCATED;
		out->n_extensions++;
		off = eend;
	}
	return TW_PAYLOAD_OK;
}

enum tw_parse_rc tw_parse_tls_client_hello(const uint8_t *p, size_t len, struct tw_tls_hello *out)
{
	struct gather g;
	enum tw_parse_rc rc;

	memset(out, 0, sizeof(*out));
	if (!p)
		len = 0;
	rc = gather(p, len, TLS_GATHER_MAX, &g);
	if (rc != TW_PAYLOAD_OK)
		return rc;
	out->record_version = g.version;
	out->n_records = g.nrec;
	return hello_msg(g.buf, g.n, g.need, out);
}

enum tw_parse_rc tw_parse_tls_client_hello_msg(const uint8_t *b, size_t len, struct tw_tls_hello *out)
{
	memset(out, 0, sizeof(*out));
	if (!b)
		len = 0;
	size_t need = len >= 4 ? 4 + ((size_t)b[1] << 16 | (size_t)b[2] << 8 | b[3]) : 0;
	return hello_msg(b, len, need, out);
}

static int ct_any(uint8_t ct)
{
	return ct >= 20 && ct <= 24;
}

static const uint8_t hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

enum tw_parse_rc tw_parse_tls_server_first(const uint8_t *p, size_t len, struct tw_tls_server *out)
{
	enum tw_parse_rc rc;

	memset(out, 0, sizeof(*out));
	if (!p)
		len = 0;
	rc = first_header(p, len, ct_any);
	if (rc != TW_PAYLOAD_OK)
		return rc;
	out->record_type = p[0];
	if (len < 5)
		return TW_PAYLOAD_TRUNCATED;
	out->record_version = rd16(p + 1);
	size_t rlen = rd16(p + 3);
	if (rlen == 0 || rlen > TLS_MAX_RECORD)
		return TW_PAYLOAD_MALFORMED;

	if (p[0] == TW_TLS_CT_ALERT) {
		/* a first server payload is never encrypted: a plaintext alert is
		 * exactly level + description */
		out->is_alert = 1;
		if (rlen != 2)
			return TW_PAYLOAD_MALFORMED;
		if (len < 6)
			return TW_PAYLOAD_TRUNCATED;
		if (p[5] != 1 && p[5] != 2)
			return TW_PAYLOAD_MALFORMED;
		out->alert_level = p[5];
		if (len < 7)
			return TW_PAYLOAD_TRUNCATED;
		out->alert_desc = p[6];
		return TW_PAYLOAD_OK;
	}
	if (p[0] != TW_TLS_CT_HANDSHAKE)
		return TW_PAYLOAD_OK; /* CCS / application data / heartbeat: caller judges */

	/* ServerHello: we only need its first 4+2+32+1+32+2 bytes */
	struct gather g;
	rc = gather(p, len, 4 + 2 + 32 + 1 + 32 + 2, &g);
	if (rc != TW_PAYLOAD_OK)
		return rc;
	const uint8_t *b = g.buf;
	if (g.n < 1)
		return TW_PAYLOAD_TRUNCATED;
	if (b[0] != 2)
		return TW_PAYLOAD_MALFORMED;
	out->is_server_hello = 1;
	if (g.n < 4)
		return TW_PAYLOAD_TRUNCATED;
	size_t end = g.need, avail = g.n < end ? g.n : end, off = 4;
	if (end < 4 + 38)
		return TW_PAYLOAD_MALFORMED;
	if ((rc = need(off, 34, avail, end)) != TW_PAYLOAD_OK)
		return rc;
	out->server_version = rd16(b + off);
	if (b[off] != 3)
		return TW_PAYLOAD_MALFORMED;
	out->is_hello_retry = memcmp(b + off + 2, hrr_random, 32) == 0;
	off += 34;
	if ((rc = need(off, 1, avail, end)) != TW_PAYLOAD_OK)
		return rc;
	size_t sid = b[off];
	if (sid > 32)
		return TW_PAYLOAD_MALFORMED;
	off += 1 + sid;
	if ((rc = need(off, 2, avail, end)) != TW_PAYLOAD_OK)
		return rc;
	out->cipher_suite = rd16(b + off);
	return TW_PAYLOAD_OK;
}
