/* Header-only packet builder for the tests.
 *
 * Describe a frame in a struct pb_pkt (designated initializers: every field
 * left zero takes a sensible default) and pb_build() writes it into the
 * caller's buffer and returns its length (0 if it does not fit).
 *
 *   Ethernet, up to two VLAN tags (802.1ad outer / 802.1Q inner by default)
 *   IPv4: TTL, IP-ID, DF, MF, fragment offset, options (NOP-filled), raw IHL,
 *         raw version and total length overrides; header checksum written
 *   IPv6: hop limit, a chain of extension headers (hop-by-hop, routing,
 *         fragment, destination options, AH), payload-length override
 *   TCP:  flags, seq, ack, window, options (MSS, NOP + window scale, raw
 *         bytes), raw data-offset override; checksum written
 *   UDP:  length field, checksum written
 *   any other L4 protocol: payload straight after the IP header(s)
 *
 * Truncated frames: build the whole frame, then hand fewer bytes to the code
 * under test (the IP length fields keep announcing the full packet). */
#ifndef TW_TESTS_PKTBUILD_H
#define TW_TESTS_PKTBUILD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PB_IP4(a, b, c, d)                                                                                             \
	{                                                                                                              \
		(a), (b), (c), (d)                                                                                     \
	}

#define PB_MAX_EXT 12

/* IPv6 extension header in a chain */
struct pb_ext {
	uint8_t type;      /* 0 hop-by-hop, 43 routing, 44 fragment, 60 dest opts, 51 AH */
	uint8_t hdrlen;    /* the header's length field (ignored for 44) */
	uint16_t frag_off; /* 44: offset in 8-byte units */
	uint8_t more;      /* 44: M flag */
	uint32_t ident;    /* 44: identification */
};

struct pb_pkt {
	/* L2 */
	uint8_t dmac[6], smac[6]; /* zero: 02:00:00:00:00:02 / :01 */
	int nvlan;                /* 0..2 */
	uint16_t vlan_tpid[2];    /* zero: outer 0x88a8 if two tags, else 0x8100 */
	uint16_t vlan_tci[2];
	uint16_t ethertype; /* zero: from family */

	/* L3 */
	int family;               /* 4 or 6 */
	uint8_t src[16], dst[16]; /* IPv4: first 4 bytes */
	uint8_t ttl;              /* TTL / hop limit; zero means 64 */
	uint8_t ttl_zero;         /* really send TTL 0 */
	uint16_t ip_id;
	uint8_t df, mf;
	uint16_t frag_off;   /* IPv4 fragment offset, 8-byte units */
	uint8_t ip_opt_len;  /* IPv4 option bytes, multiple of 4, <= 40 */
	uint8_t ihl;         /* raw IHL nibble override (0: computed) */
	uint8_t ip_ver;      /* raw version nibble override (0: from family) */
	uint16_t ip_tot_len; /* IPv4 total length override (0: computed) */
	uint16_t ip6_plen;   /* IPv6 payload length override (0: computed) */
	int next;            /* number of IPv6 extension headers */
	struct pb_ext ext[PB_MAX_EXT];
	uint8_t l4; /* IP protocol: 6, 17, 1, ...; zero: 6 */

	/* L4 */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags; /* TCP flags byte */
	uint16_t win;
	uint16_t mss;       /* MSS option if non-zero */
	uint8_t has_wscale; /* NOP + window scale option */
	uint8_t wscale;
	const uint8_t *opt_raw; /* raw option bytes appended after those */
	uint8_t opt_raw_len;
	uint8_t doff;     /* raw data-offset nibble override (0: computed) */
	uint16_t udp_len; /* UDP length override (0: computed) */

	/* payload */
	const void *payload;
	size_t payload_len;
	uint8_t payload_fill; /* if payload == NULL: payload_len bytes of a pattern
				       (byte i = payload_fill + i) */
};

static inline void pb_put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}
static inline void pb_put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static inline uint32_t pb_csum_add(uint32_t sum, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (n & 1)
		sum += (uint32_t)b[n - 1] << 8;
	return sum;
}

static inline uint16_t pb_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Length of one IPv6 extension header as the parser computes it. */
static inline size_t pb_ext_len(const struct pb_ext *e)
{
	if (e->type == 44)
		return 8;
	if (e->type == 51)
		return ((size_t)e->hdrlen + 2) * 4;
	return ((size_t)e->hdrlen + 1) * 8;
}

/* Write the TCP options of p into o (40 bytes room); returns their length
 * (padded to a multiple of 4 with EOL). */
static inline size_t pb_tcp_opts(const struct pb_pkt *p, uint8_t *o)
{
	size_t n = 0;
	if (p->mss) {
		o[n++] = 2;
		o[n++] = 4;
		pb_put16(o + n, p->mss);
		n += 2;
	}
	if (p->has_wscale) {
		o[n++] = 1;
		o[n++] = 3;
		o[n++] = 3;
		o[n++] = p->wscale;
	}
	for (size_t i = 0; i < p->opt_raw_len && n < 40; i++)
		o[n++] = p->opt_raw[i];
	while (n % 4 && n < 40)
		o[n++] = 0;
	return n;
}

/* Build the frame; returns its length, 0 if cap is too small. */
static inline size_t pb_build(const struct pb_pkt *p, uint8_t *buf, size_t cap)
{
	uint8_t opts[40];
	size_t l4proto = p->l4 ? p->l4 : 6;
	size_t optn = l4proto == 6 ? pb_tcp_opts(p, opts) : 0;
	size_t l4h = l4proto == 6 ? 20 + optn : l4proto == 17 ? 8 : 0;
	size_t l3h, exth = 0, n = 0;
	static const uint8_t dmac_def[6] = { 2, 0, 0, 0, 0, 2 }, smac_def[6] = { 2, 0, 0, 0, 0, 1 };
	static const uint8_t zero6[6];

	for (int i = 0; p->family == 6 && i < p->next && i < PB_MAX_EXT; i++)
		exth += pb_ext_len(&p->ext[i]);
	l3h = p->family == 6 ? 40 + exth : 20 + (size_t)p->ip_opt_len;
	size_t total = 14 + 4 * (size_t)p->nvlan + l3h + l4h + p->payload_len;
	if (total > cap)
		return 0;
	memset(buf, 0, total);

	/* Ethernet + VLAN */
	memcpy(buf, memcmp(p->dmac, zero6, 6) ? p->dmac : dmac_def, 6);
	memcpy(buf + 6, memcmp(p->smac, zero6, 6) ? p->smac : smac_def, 6);
	n = 12;
	uint16_t et = p->ethertype ? p->ethertype : p->family == 6 ? 0x86dd : 0x0800;
	for (int i = 0; i < p->nvlan && i < 2; i++) {
		uint16_t tpid = p->vlan_tpid[i] ? p->vlan_tpid[i] : (p->nvlan == 2 && i == 0) ? 0x88a8 : 0x8100;
		pb_put16(buf + n, tpid);
		pb_put16(buf + n + 2, p->vlan_tci[i]);
		n += 4;
	}
	pb_put16(buf + n, et);
	n += 2;

	/* IP */
	uint8_t *ip = buf + n;
	uint8_t ttl = p->ttl_zero ? 0 : p->ttl ? p->ttl : 64;
	size_t l4len = l4h + p->payload_len;
	uint32_t pseudo = 0;
	if (p->family == 6) {
		pb_put32(ip, (uint32_t)(p->ip_ver ? p->ip_ver : 6) << 28);
		pb_put16(ip + 4, p->ip6_plen ? p->ip6_plen : (uint16_t)(exth + l4len));
		ip[6] = p->next > 0 ? p->ext[0].type : (uint8_t)l4proto;
		ip[7] = ttl;
		memcpy(ip + 8, p->src, 16);
		memcpy(ip + 24, p->dst, 16);
		uint8_t *e = ip + 40;
		for (int i = 0; i < p->next && i < PB_MAX_EXT; i++) {
			const struct pb_ext *x = &p->ext[i];
			size_t el = pb_ext_len(x);
			e[0] = i + 1 < p->next ? p->ext[i + 1].type : (uint8_t)l4proto;
			if (x->type == 44) {
				pb_put16(e + 2, (uint16_t)(x->frag_off << 3 | (x->more ? 1 : 0)));
				pb_put32(e + 4, x->ident);
			} else {
				e[1] = x->hdrlen;
				if (x->type != 51 && el >= 4) { /* PadN over the rest */
					e[2] = 1;
					e[3] = (uint8_t)(el - 4);
				}
			}
			e += el;
		}
		pseudo = pb_csum_add(0, p->src, 32);
		pseudo += (uint32_t)l4len + (uint32_t)l4proto;
	} else {
		size_t ihl = (20 + p->ip_opt_len) / 4;
		ip[0] = (uint8_t)((p->ip_ver ? p->ip_ver : 4) << 4 | (p->ihl ? p->ihl : ihl));
		pb_put16(ip + 2, p->ip_tot_len ? p->ip_tot_len : (uint16_t)(l3h + l4len));
		pb_put16(ip + 4, p->ip_id);
		pb_put16(ip + 6, (uint16_t)((p->df ? 0x4000 : 0) | (p->mf ? 0x2000 : 0) | (p->frag_off & 0x1fff)));
		ip[8] = ttl;
		ip[9] = (uint8_t)l4proto;
		memcpy(ip + 12, p->src, 4);
		memcpy(ip + 16, p->dst, 4);
		for (size_t i = 0; i < p->ip_opt_len; i++)
			ip[20 + i] = i + 1 == p->ip_opt_len ? 0 : 1; /* NOPs, EOL */
		pb_put16(ip + 10, pb_csum_fold(pb_csum_add(0, ip, 20 + p->ip_opt_len)));
		pseudo = pb_csum_add(0, p->src, 8);
		pseudo += (uint32_t)l4len + (uint32_t)l4proto;
	}
	n += l3h;

	/* L4 */
	uint8_t *l4 = buf + n;
	if (l4proto == 6) {
		pb_put16(l4, p->sport);
		pb_put16(l4 + 2, p->dport);
		pb_put32(l4 + 4, p->seq);
		pb_put32(l4 + 8, p->ack);
		l4[12] = (uint8_t)((p->doff ? p->doff : (20 + optn) / 4) << 4);
		l4[13] = p->flags;
		pb_put16(l4 + 14, p->win);
		memcpy(l4 + 20, opts, optn);
	} else if (l4proto == 17) {
		pb_put16(l4, p->sport);
		pb_put16(l4 + 2, p->dport);
		pb_put16(l4 + 4, p->udp_len ? p->udp_len : (uint16_t)l4len);
	}
	n += l4h;
	if (p->payload)
		memcpy(buf + n, p->payload, p->payload_len);
	else
		for (size_t i = 0; i < p->payload_len; i++)
			buf[n + i] = (uint8_t)(p->payload_fill + i);
	n += p->payload_len;
	if (l4proto == 6 || l4proto == 17) {
		uint16_t c = pb_csum_fold(pb_csum_add(pseudo, l4, l4len));
		if (l4proto == 17 && c == 0)
			c = 0xffff;
		pb_put16(l4 + (l4proto == 6 ? 16 : 6), c);
	}
	return n;
}

/* Offset of the L4 payload in a frame pb_build() made from p. */
static inline size_t pb_payload_off(const struct pb_pkt *p)
{
	size_t l4proto = p->l4 ? p->l4 : 6;
	uint8_t opts[40];
	size_t off = 14 + 4 * (size_t)p->nvlan;
	if (p->family == 6) {
		off += 40;
		for (int i = 0; i < p->next && i < PB_MAX_EXT; i++)
			off += pb_ext_len(&p->ext[i]);
	} else {
		off += 20 + p->ip_opt_len;
	}
	if (l4proto == 6)
		off += 20 + pb_tcp_opts(p, opts);
	else if (l4proto == 17)
		off += 8;
	return off;
}

#endif
