/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Packet parser shared by the XDP and TC programs, the userspace replay and
 * the unit tests.  It walks a bounds-checked cursor over [data, data_end):
 * every header is checked against data_end before it is read, in the shape
 * the BPF verifier can follow, and every loop has a constant bound.  Pure C:
 * no libc, no helpers. */
#ifndef TAMPERWATCH_PARSE_H
#define TAMPERWATCH_PARSE_H

#include "types.h"
#include "flow.h"

#define TW_MAX_VLAN 2      /* 802.1Q / 802.1ad tags walked */
#define TW_MAX_IPV6_EXT 6  /* IPv6 extension headers walked */
#define TW_MAX_TCP_OPTS 12 /* TCP option entries looked at (SYN only) */

/* Why a packet was not tracked.  Every value has a counter. */
enum tw_parse_result {
	TW_PARSE_OK = 0,
	TW_PARSE_NOT_IP,         /* ARP, LLDP, ... */
	TW_PARSE_TRUNC_L2,       /* shorter than Ethernet / VLAN header */
	TW_PARSE_TRUNC_L3,       /* shorter than the IP header it announces */
	TW_PARSE_BAD_L3,         /* IHL < 5, version mismatch */
	TW_PARSE_FRAGMENT,       /* IPv4/IPv6 non-first fragment: skipped */
	TW_PARSE_IPV6_EXT_LIMIT, /* more extension headers than we walk */
	TW_PARSE_OTHER_L4,       /* ICMP, ESP, ... */
	TW_PARSE_TRUNC_L4,       /* shorter than the TCP/UDP header */
	TW_PARSE_BAD_L4,         /* TCP data offset < 5 */
	TW_PARSE_RESULT_MAX
};

/* IPv4 first fragments are tracked (they carry the L4 header) and counted. */
#define TW_PKT_FIRST_FRAG 0x01
#define TW_PKT_DF 0x02
#define TW_PKT_HAS_WSCALE 0x04
#define TW_PKT_VLAN 0x08
#define TW_PKT_HAS_TS 0x10 /* tsval/tsecr: TCP timestamps in the usual NOP,NOP,TS layout */

/* TCP flags as on the wire. */
#define TW_TCP_FIN 0x01
#define TW_TCP_SYN 0x02
#define TW_TCP_RST 0x04
#define TW_TCP_PSH 0x08
#define TW_TCP_ACK 0x10
#define TW_TCP_URG 0x20

struct tw_pkt {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport; /* host order */
	__u16 dport;
	__u8 family; /* TW_FAMILY_* */
	__u8 proto;  /* TW_PROTO_* */
	__u8 ttl;    /* IPv4 TTL or IPv6 hop limit */
	__u8 tcp_flags;
	__u16 ip_id; /* IPv4 only, 0 for IPv6 */
	__u16 win;   /* raw TCP window */
	__u32 seq;   /* host order */
	__u32 ack;
	__u16 payload_off; /* from the start of the frame */
	__u16 payload_len; /* as the IP header announces, clipped to the frame */
	__u8 wscale;       /* if TW_PKT_HAS_WSCALE */
	__u8 pflags;       /* TW_PKT_* */
	__u8 opt_len;      /* TCP option bytes (at payload_off - opt_len) */
	__u8 reserved;
	__u16 tsval; /* if TW_PKT_HAS_TS: low 16 bits of TSval and TSecr (rate_track.h) */
	__u16 tsecr;
};

static __always_inline void tw_copy16(__u8 *dst, const __u8 *src)
{
	/* fixed-size copy the BPF backend turns into plain loads and stores */
	__u64 a, b;
	__builtin_memcpy(&a, src, 8);
	__builtin_memcpy(&b, src + 8, 8);
	__builtin_memcpy(dst, &a, 8);
	__builtin_memcpy(dst + 8, &b, 8);
}

static __always_inline void tw_copy4(__u8 *dst, const __u8 *src)
{
	__u32 a;
	__builtin_memcpy(&a, src, 4);
	__builtin_memcpy(dst, &a, 4);
	__u64 z = 0;
	__builtin_memcpy(dst + 4, &z, 8);
	__builtin_memcpy(dst + 12, &z, 4);
}

/* Wire headers.  In userspace a frame may sit at any alignment (a TCP
 * header 2 bytes past a 4-byte boundary behind Ethernet), so the structs are
 * packed there; BPF reads packet memory unaligned anyway and keeps word loads. */
#if defined(__bpf__)
#define TW_WIRE
#else
#define TW_WIRE __attribute__((packed))
#endif
struct tw_ethhdr {
	__u8 dst[6];
	__u8 src[6];
	__u16 proto;
} TW_WIRE;
struct tw_vlanhdr {
	__u16 tci;
	__u16 proto;
} TW_WIRE;
struct tw_iphdr {
	__u8 ver_ihl;
	__u8 tos;
	__u16 tot_len;
	__u16 id;
	__u16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__u16 check;
	__u8 saddr[4];
	__u8 daddr[4];
} TW_WIRE;
struct tw_ipv6hdr {
	__u32 ver_tc_flow;
	__u16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u8 saddr[16];
	__u8 daddr[16];
} TW_WIRE;
struct tw_ipv6_opt {
	__u8 nexthdr;
	__u8 hdrlen;
} TW_WIRE;
struct tw_tcphdr {
	__u16 source;
	__u16 dest;
	__u32 seq;
	__u32 ack_seq;
	__u8 doff_res;
	__u8 flags;
	__u16 window;
	__u16 check;
	__u16 urg_ptr;
} TW_WIRE;
struct tw_udphdr {
	__u16 source;
	__u16 dest;
	__u16 len;
	__u16 check;
} TW_WIRE;

#define TW_ETH_P_IP 0x0800
#define TW_ETH_P_IPV6 0x86DD
#define TW_ETH_P_8021Q 0x8100
#define TW_ETH_P_8021AD 0x88A8

/* Window scale from the options of a SYN or SYN-ACK.  Works on a copy of
 * the option bytes (buf holds TW_TCP_OPT_BUF bytes, len of them valid): the
 * kernel side copies them with one helper call, which keeps this bounded
 * walk out of the per-path verification of the packet parser. */
#define TW_TCP_OPT_BUF 64
static __always_inline void tw_parse_tcp_opts(const __u8 *buf, __u32 len, struct tw_pkt *p)
{
	__u32 off = 0;

	if (len > 40)
		len = 40;
	for (int i = 0; i < TW_MAX_TCP_OPTS; i++) {
		if (off >= len)
			return;
		__u8 kind = buf[off & (TW_TCP_OPT_BUF - 1)];
		if (kind == 0) /* end of options */
			return;
		if (kind == 1) { /* NOP */
			off++;
			continue;
		}
		if (off + 1 >= len)
			return;
		__u8 olen = buf[(off + 1) & (TW_TCP_OPT_BUF - 1)];
		if (olen < 2 || off + olen > len)
			return;
		if (kind == 3 && olen == 3) {
			__u8 ws = buf[(off + 2) & (TW_TCP_OPT_BUF - 1)];
			p->wscale = ws > 14 ? 14 : ws;
			p->pflags |= TW_PKT_HAS_WSCALE;
			return;
		}
		off += olen;
	}
}

/* Parse one Ethernet frame.  Fills *p for TCP and UDP; anything else is
 * reported by the return value and left to the caller to count. */
static __always_inline int tw_parse(const void *data, const void *data_end, struct tw_pkt *p)
{
	const __u8 *cur = (const __u8 *)data;
	const struct tw_ethhdr *eth = (const struct tw_ethhdr *)cur;
	__u8 nexthdr;

	if ((const void *)(eth + 1) > data_end)
		return TW_PARSE_TRUNC_L2;
	__u16 proto = eth->proto;
	cur += sizeof(*eth);

	for (int i = 0; i < TW_MAX_VLAN; i++) {
		if (proto != tw_htons(TW_ETH_P_8021Q) && proto != tw_htons(TW_ETH_P_8021AD))
			break;
		const struct tw_vlanhdr *vh = (const struct tw_vlanhdr *)cur;
		if ((const void *)(vh + 1) > data_end)
			return TW_PARSE_TRUNC_L2;
		proto = vh->proto;
		cur += sizeof(*vh);
		p->pflags |= TW_PKT_VLAN;
	}

	if (proto == tw_htons(TW_ETH_P_IP)) {
		const struct tw_iphdr *ip = (const struct tw_iphdr *)cur;
		if ((const void *)(ip + 1) > data_end)
			return TW_PARSE_TRUNC_L3;
		__u32 ihl = ip->ver_ihl & 0x0f;
		if ((ip->ver_ihl >> 4) != 4 || ihl < 5)
			return TW_PARSE_BAD_L3;
		__u16 frag = tw_ntohs(ip->frag_off);
		if (frag & 0x1fff)
			return TW_PARSE_FRAGMENT;
		if (frag & 0x2000)
			p->pflags |= TW_PKT_FIRST_FRAG;
		if (frag & 0x4000)
			p->pflags |= TW_PKT_DF;
		const __u8 *l4 = cur + ihl * 4;
		if ((const void *)l4 > data_end)
			return TW_PARSE_TRUNC_L3;
		__u16 tot = tw_ntohs(ip->tot_len);
		if (tot < ihl * 4)
			return TW_PARSE_BAD_L3;
		p->family = TW_FAMILY_IPV4;
		p->ttl = ip->ttl;
		p->ip_id = tw_ntohs(ip->id);
		tw_copy4(p->saddr, ip->saddr);
		tw_copy4(p->daddr, ip->daddr);
		nexthdr = ip->protocol;
		/* the L4 length the IP header claims; clipped to the frame below */
		p->payload_len = tot - ihl * 4;
		cur = l4;
	} else if (proto == tw_htons(TW_ETH_P_IPV6)) {
		const struct tw_ipv6hdr *ip6 = (const struct tw_ipv6hdr *)cur;
		if ((const void *)(ip6 + 1) > data_end)
			return TW_PARSE_TRUNC_L3;
		if ((((const __u8 *)ip6)[0] >> 4) != 6)
			return TW_PARSE_BAD_L3;
		p->family = TW_FAMILY_IPV6;
		p->ttl = ip6->hop_limit;
		p->ip_id = 0;
		tw_copy16(p->saddr, ip6->saddr);
		tw_copy16(p->daddr, ip6->daddr);
		nexthdr = ip6->nexthdr;
		__u32 l4len = tw_ntohs(ip6->payload_len);
		cur += sizeof(*ip6);
		int i;
		for (i = 0; i < TW_MAX_IPV6_EXT; i++) {
			if (nexthdr != 0 && nexthdr != 43 && nexthdr != 44 && nexthdr != 60 && nexthdr != 51)
				break;
			const struct tw_ipv6_opt *o = (const struct tw_ipv6_opt *)cur;
			if ((const void *)(o + 1) > data_end)
				return TW_PARSE_TRUNC_L3;
			__u32 hlen;
			if (nexthdr == 44) { /* fragment header: fixed 8 bytes */
				const __u8 *fh = cur;
				if ((const void *)(fh + 8) > data_end)
					return TW_PARSE_TRUNC_L3;
				__u16 off = ((__u16)fh[2] << 8 | fh[3]);
				if (off & 0xfff8)
					return TW_PARSE_FRAGMENT;
				if (off & 1)
					p->pflags |= TW_PKT_FIRST_FRAG;
				hlen = 8;
			} else if (nexthdr == 51) { /* AH: length in 4-byte units */
				hlen = ((__u32)o->hdrlen + 2) * 4;
			} else {
				hlen = ((__u32)o->hdrlen + 1) * 8;
			}
			nexthdr = o->nexthdr;
			if (hlen > l4len)
				return TW_PARSE_BAD_L3;
			l4len -= hlen;
			cur += hlen;
		}
		if (i == TW_MAX_IPV6_EXT &&
		    (nexthdr == 0 || nexthdr == 43 || nexthdr == 44 || nexthdr == 60 || nexthdr == 51))
			return TW_PARSE_IPV6_EXT_LIMIT;
		p->payload_len = l4len;
	} else {
		return TW_PARSE_NOT_IP;
	}

	p->proto = nexthdr;
	if (nexthdr == TW_PROTO_TCP) {
		const struct tw_tcphdr *th = (const struct tw_tcphdr *)cur;
		if ((const void *)(th + 1) > data_end)
			return TW_PARSE_TRUNC_L4;
		__u32 doff = (th->doff_res >> 4) * 4;
		if (doff < 20)
			return TW_PARSE_BAD_L4;
		p->sport = tw_ntohs(th->source);
		p->dport = tw_ntohs(th->dest);
		p->seq = tw_ntohl(th->seq);
		p->ack = tw_ntohl(th->ack_seq);
		p->win = tw_ntohs(th->window);
		p->tcp_flags = th->flags;
		/* options: where they are; the caller parses them on SYNs */
		p->opt_len = (__u8)(doff - 20);
		/* timestamps where every stack but a SYN's puts them (NOP, NOP,
		 * TS first): a fixed offset, no option walk on the hot path */
		const __u8 *o = (const __u8 *)(th + 1);
		if (doff >= 32 && (const void *)(o + 12) <= data_end && o[0] == 1 && o[1] == 1 && o[2] == 8 &&
		    o[3] == 10) {
			__u16 v, r;
			__builtin_memcpy(&v, o + 6, 2);
			__builtin_memcpy(&r, o + 10, 2);
			p->tsval = tw_ntohs(v);
			p->tsecr = tw_ntohs(r);
			p->pflags |= TW_PKT_HAS_TS;
		}
		if (p->payload_len < doff)
			p->payload_len = 0;
		else
			p->payload_len -= doff;
		cur += doff;
	} else if (nexthdr == TW_PROTO_UDP) {
		const struct tw_udphdr *uh = (const struct tw_udphdr *)cur;
		if ((const void *)(uh + 1) > data_end)
			return TW_PARSE_TRUNC_L4;
		p->sport = tw_ntohs(uh->source);
		p->dport = tw_ntohs(uh->dest);
		if (p->payload_len < 8)
			p->payload_len = 0;
		else
			p->payload_len -= 8;
		cur += sizeof(*uh);
	} else {
		return TW_PARSE_OTHER_L4;
	}
	/* payload_off and the clip against the frame end are the caller's:
	 * at TC data_end is the linear part only, the skb may hold more. */
	p->payload_off = (__u16)(cur - (const __u8 *)data);
	return TW_PARSE_OK;
}

#endif
