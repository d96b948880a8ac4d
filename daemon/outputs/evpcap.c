#include "outputs/evpcap.h"
#include <string.h>
#include "events/pipeline.h"

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static void le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static void be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static void be32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

void tw_evpcap_file_header(uint8_t out[TW_EVPCAP_HDR])
{
	le32(out, TW_EVPCAP_MAGIC_NS);
	le16(out + 4, 2);
	le16(out + 6, 4);
	le32(out + 8, 0);
	le32(out + 12, 0);
	le32(out + 16, 65535);
	le32(out + 20, TW_EVPCAP_LINKTYPE);
}

int tw_evpcap_header_ok(const uint8_t *h, size_t n)
{
	uint8_t want[TW_EVPCAP_HDR];
	tw_evpcap_file_header(want);
	return n >= TW_EVPCAP_HDR && !memcmp(h, want, 8) && !memcmp(h + 20, want + 20, 4);
}

/* DNS header and question: what names the target, nothing the user added
 * (EDNS options such as a client subnet live in the additional section). */
static size_t dns_question_len(const uint8_t *p, size_t n)
{
	size_t o = 12;
	if (n < 12)
		return 0;
	for (int labels = 0; labels < 128 && o < n; labels++) {
		uint8_t l = p[o];
		if (l == 0)
			return o + 5 <= n ? o + 5 : 12;
		if (l & 0xc0) /* no compression in a question we can vouch for */
			return 12;
		o += 1u + l;
	}
	return 12;
}

size_t tw_evpcap_keep(const struct tw_event *e, int injected)
{
	size_t n = e->snippet_len;
	if (e->dir == TW_DIR_C2S)
		return e->type == TW_EV_DNS_QUERY ? dns_question_len(e->snippet, n) : 0;
	switch (e->type) {
	case TW_EV_DNS_RESPONSE:
	case TW_EV_RST: return n;
	case TW_EV_SERVER_DATA: return injected ? n : 0;
	default: return 0;
	}
}

int tw_evpcap_handshake(const struct tw_event *first, struct tw_event out[2])
{
	const struct tw_flow *f = &first->flow;
	int k = 0;
	if (first->proto != TW_PROTO_TCP || (f->flags & TW_FLOW_MIDSTREAM))
		return 0;
	const struct tw_dir_state *c = &f->dir[TW_DIR_C2S], *s = &f->dir[TW_DIR_S2C];
	uint64_t cf = tw_flow_first_ns(f, TW_DIR_C2S);
	int syn = c->syn_count && cf && cf <= first->ts_ns && !(f->flags & TW_FLOW_SYNACK_FIRST);
	for (int d = 0; d < 2; d++) {
		const struct tw_dir_state *x = d ? s : c;
		uint64_t xf = tw_flow_first_ns(f, d);
		if (d == 0 ? !syn : !(x->syn_count && xf && xf <= first->ts_ns))
			continue;
		struct tw_event *e = &out[k++];
		memset(e, 0, sizeof(*e));
		e->version = TW_EVENT_VERSION;
		e->type = TW_EVPCAP_SYN;
		e->len = sizeof(*e);
		e->ts_ns = xf;
		e->flow_id = first->flow_id;
		e->dir = (uint8_t)d;
		e->family = first->family;
		e->proto = first->proto;
		memcpy(e->caddr, first->caddr, 16);
		memcpy(e->saddr, first->saddr, 16);
		e->cport = first->cport;
		e->sport = first->sport;
		e->ttl = x->ttl_base;
		e->ip_id = x->ipid_base;
		e->seq = x->isn;
		e->tcp_flags = d ? 0x12 : 0x02;
		e->ack = d && syn ? c->isn + 1 : 0;
	}
	return k;
}

uint32_t tw_csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	size_t i;
	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (i < n)
		sum += (uint32_t)p[i] << 8;
	return sum;
}

uint16_t tw_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Overwrite every copy of the client address in a kept payload: its bytes
 * by the pseudonym's, its text form by X's (a block page that shows the
 * visitor's address must not carry it out). */
static unsigned redact(uint8_t *p, size_t n, int family, const uint8_t *addr, const uint8_t *pnym)
{
	size_t alen = family == TW_FAMILY_IPV6 ? 16 : 4;
	char txt[64];
	unsigned hits = 0;
	tw_addr_str(family, addr, txt, sizeof(txt));
	size_t tlen = strlen(txt);
	for (size_t i = 0; i + alen <= n; i++)
		if (!memcmp(p + i, addr, alen)) {
			memcpy(p + i, pnym, alen);
			hits++;
		}
	for (size_t i = 0; tlen && i + tlen <= n; i++)
		if (!memcmp(p + i, txt, tlen)) {
			memset(p + i, 'X', tlen);
			hits++;
		}
	return hits;
}

size_t tw_evpcap_record(const struct tw_event *e, const uint8_t *pnym, size_t keep, uint64_t wall_ns, uint8_t *out,
                        size_t cap, unsigned *redacted)
{
	int v6 = e->family == TW_FAMILY_IPV6, tcp = e->proto == TW_PROTO_TCP;
	size_t iph = v6 ? 40 : 20, l4h = tcp ? 20 : 8, alen = v6 ? 16 : 4;
	if (keep > e->snippet_len)
		keep = e->snippet_len;
	size_t wire_pl = e->payload_len > keep ? e->payload_len : keep;
	if (wire_pl > 65535 - iph - l4h)
		wire_pl = 65535 - iph - l4h;
	if (keep > wire_pl)
		keep = wire_pl;
	size_t caplen = iph + l4h + keep, wire = iph + l4h + wire_pl;
	if (TW_EVPCAP_REC_HDR + caplen > cap)
		return 0;
	uint8_t *r = out, *ip = out + TW_EVPCAP_REC_HDR, *l4 = ip + iph, *pl = l4 + l4h;
	memset(out, 0, TW_EVPCAP_REC_HDR + caplen);
	le32(r, (uint32_t)(wall_ns / 1000000000ull));
	le32(r + 4, (uint32_t)(wall_ns % 1000000000ull));
	le32(r + 8, (uint32_t)caplen);
	le32(r + 12, (uint32_t)wire);

	const uint8_t *src = e->dir == TW_DIR_C2S ? pnym : e->saddr, *dst = e->dir == TW_DIR_C2S ? e->saddr : pnym;
	if (v6) {
		ip[0] = 0x60;
		be16(ip + 4, (uint16_t)(l4h + wire_pl));
		ip[6] = e->proto;
		ip[7] = e->ttl;
		memcpy(ip + 8, src, 16);
		memcpy(ip + 24, dst, 16);
	} else {
		ip[0] = 0x45;
		be16(ip + 2, (uint16_t)wire);
		be16(ip + 4, e->ip_id);
		ip[8] = e->ttl;
		ip[9] = e->proto;
		memcpy(ip + 12, src, 4);
		memcpy(ip + 16, dst, 4);
		be16(ip + 10, tw_csum_fold(tw_csum_add(0, ip, 20)));
	}
	uint16_t sp = e->dir == TW_DIR_C2S ? e->cport : e->sport, dp = e->dir == TW_DIR_C2S ? e->sport : e->cport;
	be16(l4, sp);
	be16(l4 + 2, dp);
	if (tcp) {
		be32(l4 + 4, e->seq);
		be32(l4 + 8, e->ack);
		l4[12] = 5 << 4;
		l4[13] = e->tcp_flags;
		be16(l4 + 14, e->win);
	} else {
		be16(l4 + 4, (uint16_t)(8 + wire_pl));
	}
	if (keep) {
		memcpy(pl, e->snippet, keep);
		unsigned h = redact(pl, keep, e->family, e->caddr, pnym);
		if (redacted)
			*redacted += h;
	}
	if (keep == wire_pl) {
		/* pseudo-header, then the segment */
		uint8_t ph[4];
		uint32_t s = tw_csum_add(0, src, alen);
		s = tw_csum_add(s, dst, alen);
		be16(ph, 0);
		ph[1] = e->proto;
		be16(ph + 2, (uint16_t)(l4h + wire_pl));
		s = tw_csum_add(s, ph, 4);
		s = tw_csum_add(s, l4, l4h + keep);
		uint16_t c = tw_csum_fold(s);
		if (!tcp && c == 0)
			c = 0xffff;
		be16(l4 + (tcp ? 16 : 6), c);
	}
	return TW_EVPCAP_REC_HDR + caplen;
}
