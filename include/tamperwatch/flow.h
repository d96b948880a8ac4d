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

/* Direction index: 0 = client to server, 1 = server to client. */
#define TW_DIR_C2S 0
#define TW_DIR_S2C 1

struct tw_dir_state {
	__u64 first_ns;
	__u64 last_ns;
	__u64 bytes;          /* IP bytes (GSO super-packets counted whole) */
	__u64 payload_bytes;  /* L4 payload bytes, retransmissions included */
	__u32 packets;        /* wire packets (gso_segs at TC) */
	__u32 isn;            /* initial sequence number (SYN / SYN-ACK) */
	__u32 next_seq;       /* highest seq + len seen (wrap-aware) */
	__u32 first_data_seq; /* seq of the first payload byte */
	__u32 retrans;        /* payload segments at or below next_seq */
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
	__u8 reserved[6];
};
TW_STATIC_ASSERT(sizeof(struct tw_dir_state) == 72, "tw_dir_state layout");

struct tw_flow {
	__u64 flow_id;      /* unique per daemon run, in order of creation */
	__u64 rst_first_ns; /* first RST, 0 if none */
	__u32 rst_seq;      /* seq of the first RST */
	__u16 flags;        /* TW_FLOW_* */
	__u8 state;         /* enum tw_tcp_state */
	__u8 reserved0;
	__u8 client_is_b; /* 1: key.addr_b/port_b is the client */
	__u8 rst_dir;     /* direction the first RST came from */
	__u8 reserved[6];
	struct tw_dir_state dir[2];
	struct tw_rate_dir rate[2]; /* throttling evidence (rate.h) */
};
TW_STATIC_ASSERT(sizeof(struct tw_flow) == 24 + 8 + 144 + 48, "tw_flow layout");

#endif
