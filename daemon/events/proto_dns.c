/* DNS-over-UDP message parser for snippets (RFC 1035 wire format).
 *
 * Every section is walked, bounded by the counts and by len: each record
 * consumes at least one byte, each name at most 128 labels (255 octets) and
 * TW_DNS_MAX_HOPS compression pointers.  Running out of bytes anywhere is
 * TRUNCATED (including a pointer beyond len, which a cut message can hold);
 * contradictions are MALFORMED.
 */
#include <stddef.h>
#include <string.h>

#include "events/proto.h"

#define TW_DNS_HDR 12
#define TW_DNS_NAME_WIRE_MAX 255
/* A name has at most 127 labels; more pointer hops than that can only be
 * a loop. */
#define TW_DNS_MAX_HOPS 128

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Decode the name at off.  *after = offset just past the name in place
 * (pointer included); out gets the escaped presentation form ("." for
 * root). */
static enum tw_parse_rc read_name(const uint8_t *p, size_t len, size_t off, size_t *after, char *out, size_t outsz,
                                  int *cut)
{
	size_t pos = off, wire = 0, o = 0;
	int jumped = 0, hops = 0, lcut = 0;

	out[0] = '\0';
	for (;;) {
		if (pos >= len)
			return TW_PAYLOAD_TRUNCATED;
		uint8_t c = p[pos];
		if (c == 0) {
			if (!jumped)
				*after = pos + 1;
			if (o == 0 && outsz > 1) {
				out[0] = '.';
				out[1] = '\0';
			}
			if (lcut)
				*cut = 1;
			return TW_PAYLOAD_OK;
		}
		switch (c & 0xc0) {
		case 0xc0:
			if (pos + 1 >= len)
				return TW_PAYLOAD_TRUNCATED;
			if (!jumped)
				*after = pos + 2;
			jumped = 1;
			if (++hops > TW_DNS_MAX_HOPS)
				return TW_PAYLOAD_MALFORMED; /* pointer loop */
			pos = (size_t)(c & 0x3f) << 8 | p[pos + 1];
			continue;
		case 0x40: /* extended label types (RFC 6891: deprecated) */
		case 0x80: /* reserved */ return TW_PAYLOAD_MALFORMED;
		}
		wire += 1u + c;
		if (wire + 1 > TW_DNS_NAME_WIRE_MAX) /* + root label */
			return TW_PAYLOAD_MALFORMED;
		if (c > len - pos - 1)
			return TW_PAYLOAD_TRUNCATED;
		if (!lcut) {
			if (o > 0) {
				if (o + 1 >= outsz)
					lcut = 1;
				else
					out[o++] = '.';
			}
			if (!lcut)
				o += tw_name_escape_ex(p + pos + 1, c, 0, out + o, outsz - o, &lcut);
			out[o] = '\0';
		}
		pos += 1u + c;
	}
}

/* An HTTPS record's RDATA (RFC 9460 2.2): SvcPriority, TargetName (never
 * compressed), then SvcParams, each key, length and value, up to the end of
 * the RDATA.  Only the alpn parameter (key 1: length-prefixed protocol ids)
 * is read: does the name offer HTTP/3 ("h3")?  AliasMode (priority 0)
 * carries no parameters.  A record that breaks these rules is counted in
 * https_bad and skipped: the rest of the message still counts. */
static void https_rr(const uint8_t *p, size_t n, uint32_t ttl, struct tw_dns_msg *m)
{
	size_t o = 2, wire = 0;
	int h3 = 0;
	if (n < 3)
		goto bad;
	for (;;) {
		if (o >= n || (p[o] & 0xc0))
			goto bad; /* out of RDATA, or a compression pointer */
		uint8_t c = p[o];
		wire += 1u + c;
		if (wire > TW_DNS_NAME_WIRE_MAX)
			goto bad;
		o += 1u + c;
		if (c == 0)
			break;
	}
	if (o > n)
		goto bad;
	if (rd16(p) == 0)
		return; /* AliasMode */
	while (o < n) {
		if (n - o < 4)
			goto bad;
		uint16_t key = rd16(p + o);
		size_t vl = rd16(p + o + 2);
		o += 4;
		if (vl > n - o)
			goto bad;
		for (size_t i = 0; key == 1 && i < vl;) {
			uint8_t l = p[o + i];
			if (l == 0 || l > vl - i - 1)
				goto bad;
			h3 |= l == 2 && p[o + i + 1] == 'h' && p[o + i + 2] == '3';
			i += 1u + l;
		}
		o += vl;
	}
	if (h3) {
		if (!m->h3 || ttl < m->h3_ttl)
			m->h3_ttl = ttl;
		m->h3 = 1;
	}
	return;
bad:
	m->https_bad++;
}

/* Question or resource-record sections; stores answers when `store`. */
static enum tw_parse_rc walk_rrs(const uint8_t *p, size_t len, size_t *offp, unsigned count, int store,
                                 struct tw_dns_msg *m)
{
	size_t off = *offp;
	char scratch[TW_NAME_MAX];
	enum tw_parse_rc rc;

	for (unsigned k = 0; k < count; k++) {
		struct tw_dns_answer *a = NULL;
		size_t after = 0;
		int dummy_cut = 0;
		if (store && m->n_answers < TW_DNS_MAX_ANS)
			a = &m->answers[m->n_answers];
		rc = read_name(p, len, off, &after, a ? a->name : scratch, TW_NAME_MAX, a ? &m->name_cut : &dummy_cut);
		if (rc != TW_PAYLOAD_OK)
			return rc;
		off = after;
		if (len - off < 10)
			return TW_PAYLOAD_TRUNCATED;
		uint16_t type = rd16(p + off), klass = rd16(p + off + 2);
		uint32_t ttl = rd32(p + off + 4);
		size_t rdlen = rd16(p + off + 8);
		off += 10;
		if (len - off < rdlen)
			return TW_PAYLOAD_TRUNCATED;
		size_t rd = off;
		off += rdlen;
		if (store && klass == 1 && type == TW_DNS_HTTPS)
			https_rr(p + rd, rdlen, ttl, m);
		if (!store || klass != 1 || (type != TW_DNS_A && type != TW_DNS_AAAA && type != TW_DNS_CNAME)) {
			if (a)
				a->name[0] = '\0';
			continue;
		}
		if ((type == TW_DNS_A && rdlen != 4) || (type == TW_DNS_AAAA && rdlen != 16))
			return TW_PAYLOAD_MALFORMED;
		if (type == TW_DNS_CNAME) {
			/* the name must end exactly at the end of rdata */
			size_t cend = 0;
			rc = read_name(p, len, rd, &cend, a ? a->cname : scratch, TW_NAME_MAX,
			               a ? &m->name_cut : &dummy_cut);
			if (rc != TW_PAYLOAD_OK)
				return rc;
			if (cend != rd + rdlen)
				return TW_PAYLOAD_MALFORMED;
		}
		if (!a) {
			m->answers_truncated = 1;
			continue;
		}
		/* every field of a stored answer is written (the message is not
		 * zeroed whole: tw_parse_dns) */
		a->type = type;
		a->ttl = ttl;
		a->family = 0;
		memset(a->addr, 0, sizeof(a->addr));
		if (type != TW_DNS_CNAME)
			a->cname[0] = '\0';
		if (type == TW_DNS_A) {
			a->family = 4;
			memcpy(a->addr, p + rd, 4);
		} else if (type == TW_DNS_AAAA) {
			a->family = 6;
			memcpy(a->addr, p + rd, 16);
		}
		m->n_answers++;
	}
	*offp = off;
	return TW_PAYLOAD_OK;
}

enum tw_parse_rc tw_parse_dns(const uint8_t *p, size_t len, struct tw_dns_msg *out)
{
	enum tw_parse_rc rc;

	/* zeroed but for answers[] (16 of them, 8 KiB: once per DNS event),
	 * whose entries are written whole as they are stored (walk_rrs) and
	 * read only below n_answers */
	memset(out, 0, offsetof(struct tw_dns_msg, answers));
	memset(&out->answers_truncated, 0, sizeof(*out) - offsetof(struct tw_dns_msg, answers_truncated));
	if (!p || len < TW_DNS_HDR)
		return TW_PAYLOAD_TRUNCATED;
	out->id = rd16(p);
	uint16_t fl = rd16(p + 2);
	out->is_response = fl >> 15;
	out->opcode = (fl >> 11) & 15;
	out->aa = (fl >> 10) & 1;
	out->tc = (fl >> 9) & 1;
	out->rd = (fl >> 8) & 1;
	out->ra = (fl >> 7) & 1;
	out->rcode = fl & 15;
	out->qdcount = rd16(p + 4);
	out->ancount = rd16(p + 6);
	out->nscount = rd16(p + 8);
	out->arcount = rd16(p + 10);

	size_t off = TW_DNS_HDR;
	for (unsigned q = 0; q < out->qdcount; q++) {
		char scratch[TW_NAME_MAX];
		int dummy_cut = 0;
		size_t after = 0;
		rc = read_name(p, len, off, &after, q == 0 ? out->qname : scratch, TW_NAME_MAX,
		               q == 0 ? &out->name_cut : &dummy_cut);
		if (rc != TW_PAYLOAD_OK)
			return rc;
		off = after;
		if (len - off < 4)
			return TW_PAYLOAD_TRUNCATED;
		if (q == 0) {
			out->qtype = rd16(p + off);
			out->qclass = rd16(p + off + 2);
		}
		off += 4;
	}
	if ((rc = walk_rrs(p, len, &off, out->ancount, 1, out)) != TW_PAYLOAD_OK)
		return rc;
	if ((rc = walk_rrs(p, len, &off, out->nscount, 0, out)) != TW_PAYLOAD_OK)
		return rc;
	if ((rc = walk_rrs(p, len, &off, out->arcount, 0, out)) != TW_PAYLOAD_OK)
		return rc;
	out->trailing = len - off;
	return TW_PAYLOAD_OK;
}
