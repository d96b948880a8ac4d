/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Flow key and per-flow state, shared by every backend.  The flow table is
 * keyed by a canonical bidirectional 5-tuple (the lower address/port pair
 * first), so both directions of a connection find the same entry; the state
 * records which side of the key is the client. */
#ifndef TAMPERWATCH_FLOW_H
#define TAMPERWATCH_FLOW_H

#include "types.h"
#include "rate.h"

/* Address family on the wire: our own constants, not AF_* (differs by OS). */
#define TW_FAMILY_IPV4 4
#define TW_FAMILY_IPV6 6

#define TW_PROTO_TCP 6
#define TW_PROTO_UDP 17

/* Canonical key: IPv4 addresses are stored in the first 4 bytes, rest zero. */
struct tw_flow_key {
	__u8 addr_a[16];
	__u8 addr_b[16];
	__u16 port_a; /* host byte order */
	__u16 port_b;
	__u8 family; /* TW_FAMILY_* */
	__u8 proto;  /* TW_PROTO_* */
	__u8 reserved[2];
};
TW_STATIC_ASSERT(sizeof(struct tw_flow_key) == 40, "tw_flow_key layout");

/* The same key for an IPv4 flow, 16 bytes instead of 40: the kernel keeps
 * IPv4 flows in a map of their own keyed by it (tw_flows4, maps.h), IPv6
 * flows under struct tw_flow_key (tw_flows6).  Same canonical order, so
 * tw_flow_key_of4(tw_flow_key4_of(k)) == k for every IPv4 key. */
struct tw_flow_key4 {
	__u8 addr_a[4];
	__u8 addr_b[4];
	__u16 port_a; /* host byte order */
	__u16 port_b;
	__u8 proto; /* TW_PROTO_* */
	__u8 reserved[3];
};
TW_STATIC_ASSERT(sizeof(struct tw_flow_key4) == 16, "tw_flow_key4 layout");

/* Fill a compact key: side a, side b (4-byte addresses, ports), protocol. */
static __always_inline void tw_flow_key4_set(struct tw_flow_key4 *k4, const __u8 *addr_a, const __u8 *addr_b,
                                             __u16 port_a, __u16 port_b, __u8 proto)
{
	__builtin_memcpy(k4->addr_a, addr_a, 4);
	__builtin_memcpy(k4->addr_b, addr_b, 4);
	k4->port_a = port_a;
	k4->port_b = port_b;
	k4->proto = proto;
	k4->reserved[0] = 0;
	k4->reserved[1] = 0;
	k4->reserved[2] = 0;
}

/* An IPv4 full key in its compact form. */
static __always_inline void tw_flow_key4_of(const struct tw_flow_key *k, struct tw_flow_key4 *k4)
{
	tw_flow_key4_set(k4, k->addr_a, k->addr_b, k->port_a, k->port_b, k->proto);
}

/* The full key of a compact one (family IPv4, the rest zero). */
static __always_inline void tw_flow_key_of4(const struct tw_flow_key4 *k4, struct tw_flow_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	__builtin_memcpy(k->addr_a, k4->addr_a, 4);
	__builtin_memcpy(k->addr_b, k4->addr_b, 4);
	k->port_a = k4->port_a;
	k->port_b = k4->port_b;
	k->family = TW_FAMILY_IPV4;
	k->proto = k4->proto;
}

/* TCP progress of a flow as the middle of the path sees it. */
enum tw_tcp_state {
	TW_TCP_NONE = 0,        /* UDP, or nothing seen yet */
	TW_TCP_SYN_SENT = 1,    /* client SYN seen */
	TW_TCP_SYN_RCVD = 2,    /* server SYN-ACK seen */
	TW_TCP_ESTABLISHED = 3, /* client ACK of the SYN-ACK seen */
	TW_TCP_CLOSING = 4,     /* FIN seen from one side */
	TW_TCP_CLOSED = 5,      /* FIN seen from both sides */
	TW_TCP_RESET = 6,       /* an RST was seen (the flow lingers: races) */
};

/* Flow flags (tw_flow.flags). */
#define TW_FLOW_MIDSTREAM 0x0001      /* picked up without its handshake: orientation is a guess */
#define TW_FLOW_SYNACK_FIRST 0x0002   /* first packet seen was the SYN-ACK (client SYN missed) */
#define TW_FLOW_CLIENT_DATA 0x0004    /* client sent payload */
#define TW_FLOW_SERVER_DATA 0x0008    /* server sent payload */
#define TW_FLOW_ONE_WAY 0x0010        /* (set at flow end) only one direction was ever seen */
#define TW_FLOW_DATA_AFTER_RST 0x0020 /* payload arrived from a side after an RST "from" it */
#define TW_FLOW_FIRST_S2C 0x0040      /* the flow's first packet went server to client (tw_flow_first_ns) */
#define TW_FLOW_RST_C2S 0x0080        /* the first RST came from the client */
#define TW_FLOW_RST_S2C 0x0100        /* the first RST came from the server */
/* the side the first RST came from (dir: TW_DIR_*; a shift, not a branch:
 * the verifier walks every branch of the BPF program) */
#define TW_FLOW_RST_FROM(dir) (TW_FLOW_RST_C2S << ((dir)&1))
TW_STATIC_ASSERT(TW_FLOW_RST_S2C == TW_FLOW_RST_C2S << 1, "TW_FLOW_RST_FROM");

/* Direction index: 0 = client to server, 1 = server to client. */
#define TW_DIR_C2S 0
#define TW_DIR_S2C 1

/* Per-direction state: 56 bytes, every field 4- or 8-byte aligned without
 * padding (the kernel's flow table holds millions of these: maps.h).  The
 * byte counters are kept in 40 bits (tw_dir_bytes, tw_dir_payload_bytes: a
 * direction saturates at 1 TiB), the last packet's time whole (idle
 * timeouts, RTTs); the first packet's time is the flow's (tw_flow_first_ns). */
struct tw_dir_state {
	__u64 last_ns;        /* last packet */
	__u32 bytes_lo;       /* IP bytes, low 32 bits (GSO super-packets counted whole) */
	__u32 payload_lo;     /* L4 payload bytes, retransmissions included, low 32 bits */
	__u32 packets;        /* wire packets (gso_segs at TC) */
	__u32 isn;            /* initial sequence number (SYN / SYN-ACK) */
	__u32 next_seq;       /* highest seq + len seen (wrap-aware) */
	__u32 first_data_seq; /* seq of the first payload byte */
	__u32 retrans;        /* payload segments at or below next_seq */
	__u16 ts_val;         /* low 16 bits of this side's TSval awaiting its echo (rate_track.h, TW_RATE_TS_*) */
	__u16 ts_tick;        /* when that TSval was first seen (TW_RATE_TICK_SHIFT ticks, wraps) */
	__u16 ipid_base;      /* IP-ID on the SYN / SYN-ACK (IPv4) */
	__u16 ipid_last;      /* IP-ID on the last packet */
	__u16 win_last;       /* raw window of the last packet */
	__u8 ttl_base;        /* IP TTL / hop limit on the SYN / SYN-ACK (or first packet) */
	__u8 ttl_last;
	__u8 ttl_min;
	__u8 ttl_max;
	__u8 wscale;    /* window scale option, 0xff if absent */
	__u8 syn_count; /* SYNs (or SYN-ACKs) sent: >1 means retransmitted */
	__u8 rst_count;
	__u8 fin_count;
	__u8 bytes_hi;   /* bits 32..39 of the IP bytes */
	__u8 payload_hi; /* bits 32..39 of the payload bytes */
};
TW_STATIC_ASSERT(sizeof(struct tw_dir_state) == 56, "tw_dir_state layout");

/* 176 bytes: with the 16-byte IPv4 key and the LRU hash's own element and
 * bucket overhead 256 bytes of kernel memory an IPv4 flow (maps.h).  The
 * first packet of the flow is base_ns, whole; the other direction's first
 * packet is kept in microseconds after it (later_us: exact for pcap
 * timestamps, a floor to the us for the live clock; tw_flow_first_ns) and
 * TW_FLOW_FIRST_S2C says which direction came first. */
struct tw_flow {
	__u64 flow_id;    /* unique per daemon run, in order of creation */
	__u64 base_ns;    /* the flow's first packet (either direction) */
	__u32 later_us;   /* the other direction's first packet: us after base_ns (saturates at ~71 min) */
	__u16 flags;      /* TW_FLOW_* */
	__u8 state;       /* enum tw_tcp_state */
	__u8 client_is_b; /* 1: key.addr_b/port_b is the client */
	struct tw_dir_state dir[2];
	struct tw_rate_dir rate[2]; /* throttling evidence (rate.h) */
};
TW_STATIC_ASSERT(sizeof(struct tw_flow) == 24 + 112 + 40, "tw_flow layout");

/* Largest later_us: a direction first seen later than this after its flow
 * began reads as this late. */
#define TW_FLOW_FIRST_US_MAX 0xffffffffu

/* Microseconds from the flow's base to t (0 before it), saturated. */
static __always_inline __u32 tw_flow_us(const struct tw_flow *f, __u64 t)
{
	__u64 us = t > f->base_ns ? (t - f->base_ns) / 1000 : 0;
	return us > TW_FLOW_FIRST_US_MAX ? TW_FLOW_FIRST_US_MAX : (__u32)us;
}

/* When a direction's first packet passed; 0 if it has sent none. */
static __always_inline __u64 tw_flow_first_ns(const struct tw_flow *f, int dir)
{
	if (!f->dir[dir & 1].packets)
		return 0;
	int first = (f->flags & TW_FLOW_FIRST_S2C) ? TW_DIR_S2C : TW_DIR_C2S;
	return (dir & 1) == first ? f->base_ns : f->base_ns + (__u64)f->later_us * 1000;
}

/* 40-bit counters: lo += v, carried into hi, saturated at 2^40 - 1. */
static __always_inline void tw_ctr40_add(__u32 *lo, __u8 *hi, __u32 v)
{
	__u32 n = *lo + v;
	if (n < v) {
		if (*hi == 0xff) {
			*lo = 0xffffffffu;
			return;
		}
		*hi = (__u8)(*hi + 1);
	}
	*lo = n;
}

static __always_inline __u64 tw_dir_bytes(const struct tw_dir_state *d)
{
	return (__u64)d->bytes_hi << 32 | d->bytes_lo;
}

static __always_inline __u64 tw_dir_payload_bytes(const struct tw_dir_state *d)
{
	return (__u64)d->payload_hi << 32 | d->payload_lo;
}

#endif
