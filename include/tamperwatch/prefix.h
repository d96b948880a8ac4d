/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Per-client-prefix counters for shutdown detection: the keys, the values
 * and the accounting of one packet, shared by the BPF program (per-CPU LRU
 * hash tw_pfx, client networks in the LPM trie tw_client_nets) and the
 * userspace replay engine, so both count the same packets the same way.
 *
 * Only packets travelling internet->client are counted (the destination is
 * in a client network): clients keep sending into a cut-off network, so
 * their own packets would not fall.  Counters are cumulative (the daemon
 * takes deltas); the distinct-client sketch has two banks selected by the
 * poll epoch: a CPU writing epoch E uses bank E&1 and clears it first if it
 * still holds an older epoch, so the daemon, after moving the epoch to E+1,
 * reads bank E&1 without writing anything.  A packet that read the epoch
 * just before the move may still set one bit in bank E&1 while the daemon
 * reads it: that client is missed once, never counted twice. */
#ifndef TAMPERWATCH_PREFIX_H
#define TAMPERWATCH_PREFIX_H
#include "parse.h"

/* fixed-count loops: unrolled for the BPF verifier, plain loops elsewhere */
#ifdef __clang__
#define TW_UNROLL _Pragma("clang loop unroll(full)")
#else
#define TW_UNROLL
#endif

#define TW_PFX_SKETCH_WORDS 4 /* 256-bit linear-counting sketch */
#define TW_PFX_NCLASS 4       /* TW_SD_CLASS_*: web, dns, tcp_other, other */

struct tw_lpm_key {
	__u32 prefixlen; /* 8 + address prefix length */
	__u8 data[20];   /* [0] family, [1..16] address */
};

struct tw_pfx_key {
	__u8 family;
	__u8 plen;
	__u8 pad[2];
	__u8 addr[16]; /* host bits zero */
};

struct tw_pfx_val {
	__u64 packets, bytes;
	__u64 new_flows; /* answered flows: server SYN-ACKs */
	__u64 class_packets[TW_PFX_NCLASS];
	__u64 sk_epoch[2]; /* epoch each sketch bank holds */
	__u64 clients[2][TW_PFX_SKETCH_WORDS];
};
TW_STATIC_ASSERT(sizeof(struct tw_pfx_key) == 20, "tw_pfx_key layout");
TW_STATIC_ASSERT(sizeof(struct tw_pfx_val) == (3 + TW_PFX_NCLASS + 2 + 2 * TW_PFX_SKETCH_WORDS) * 8,
                 "tw_pfx_val layout");

/* The LPM key that finds the packet's destination among the client
 * networks, the counting key (destination masked to plen) and a hash of
 * the destination address for the sketch. */
static __always_inline __u32 tw_pfx_keys(const struct tw_pkt *p, __u32 plen, struct tw_lpm_key *lk,
                                         struct tw_pfx_key *k)
{
	__u32 alen = p->family == TW_FAMILY_IPV4 ? 4 : 16;
	__u32 h = 2166136261u;

	lk->prefixlen = 8 + alen * 8;
	lk->data[0] = p->family;
	TW_UNROLL
	for (int i = 0; i < 16; i++) {
		lk->data[1 + i] = p->daddr[i];
		if ((__u32)i < alen)
			h = (h ^ p->daddr[i]) * 16777619u;
		int keep = (int)plen - i * 8;
		__u8 m = keep >= 8 ? 0xff : keep <= 0 ? 0 : (__u8)(0xff << (8 - keep));
		k->addr[i] = p->daddr[i] & m;
	}
	k->family = p->family;
	k->plen = (__u8)plen;
	return h;
}

/* Port class of a packet towards a client: by the server's (source) port. */
static __always_inline __u32 tw_pfx_class(const struct tw_pkt *p)
{
	if (p->sport == 53)
		return 1;
	if (p->sport == 443 || (p->proto == TW_PROTO_TCP && p->sport == 80))
		return 0;
	return p->proto == TW_PROTO_TCP ? 2 : 3;
}

static __always_inline void tw_pfx_account(struct tw_pfx_val *v, const struct tw_pkt *p, __u32 frame_len, __u32 segs,
                                           __u32 h, __u64 epoch)
{
	v->packets += segs;
	v->bytes += frame_len;
	v->class_packets[tw_pfx_class(p) & 3] += segs;
	if (p->proto == TW_PROTO_TCP && (p->tcp_flags & (TW_TCP_SYN | TW_TCP_ACK)) == (TW_TCP_SYN | TW_TCP_ACK))
		v->new_flows++;
	__u32 bank = (__u32)epoch & 1;
	if (v->sk_epoch[bank] != epoch) {
		v->sk_epoch[bank] = epoch;
		TW_UNROLL
		for (int i = 0; i < TW_PFX_SKETCH_WORDS; i++)
			v->clients[bank][i] = 0;
	}
	__u32 bit = (h ^ (h >> 16)) & 255;
	v->clients[bank][(bit >> 6) & 3] |= 1ull << (bit & 63);
}
#endif
