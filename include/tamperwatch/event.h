/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Event records: what the kernel side (BPF or module) or the userspace
 * replay hands to the daemon.  One fixed part (versioned header, oriented
 * tuple, the packet that caused the event, where it stands against the flow,
 * and a snapshot of the flow's state) followed by a variable payload snippet.
 * Sizes and offsets are asserted so the producers and the consumer cannot
 * drift; explicit reserved[] instead of packed. */
#ifndef TAMPERWATCH_EVENT_H
#define TAMPERWATCH_EVENT_H

#include "types.h"
#include "flow.h"

/* Bumped on any layout change; the daemon refuses an object of another one. */
#define TW_EVENT_VERSION 4
#define TW_API_VERSION 1

/* Payload bytes copied into first-payload and DNS events.  Large enough for a
 * TLS ClientHello whose SNI comes after a post-quantum key share. */
#define TW_SNIPPET_MAX 1024
/* A QUIC client's first datagram (UDP to port 443) is kept whole up to this
 * (tw_event_snippet_max in classify.h): its Initial fills >= 1200 bytes,
 * AES-GCM authenticates only the whole packet, and clients put PADDING
 * before the CRYPTO frame.  A power of two for the BPF copy's bound; holds
 * any datagram of a 1500-byte MTU. */
#define TW_SNIPPET_QUIC_MAX 2048

enum tw_event_type {
	TW_EV_HANDSHAKE = 1,      /* client ACKed the server's SYN-ACK */
	TW_EV_CLIENT_DATA = 2,    /* first client payload (snippet) */
	TW_EV_SERVER_DATA = 3,    /* first server payload (snippet) */
	TW_EV_RST = 4,            /* every RST */
	TW_EV_FIN = 5,            /* first FIN of each direction */
	TW_EV_DATA_AFTER_RST = 6, /* payload from a side after an RST from that side: a race */
	TW_EV_DNS_QUERY = 7,      /* every UDP/53 query (snippet) */
	TW_EV_DNS_RESPONSE = 8,   /* every UDP/53 response (snippet) */
	TW_EV_FLOW_END = 9,       /* flow closed or idle: summary (made by the sweeper) */
	TW_EV_FLOW_RATE = 10,     /* periodic snapshot of a long flow (made by the sweeper) */
	TW_EV_TYPE_MAX
};

/* Why a flow ended (tw_event.end_reason, flow end only). */
enum tw_end_reason {
	TW_END_NONE = 0,
	TW_END_CLOSED = 1, /* FIN both ways or RST, after the linger time */
	TW_END_IDLE = 2,   /* idle timeout */
	TW_END_FLUSH = 3,  /* end of capture / daemon exit */
};

/* Stage a TCP flow had reached when an RST arrived (tw_event.stage). */
enum tw_stage {
	TW_STAGE_SYN = 1,         /* after the SYN, before a SYN-ACK */
	TW_STAGE_HANDSHAKE = 2,   /* SYN-ACK seen, before any payload */
	TW_STAGE_CLIENT_DATA = 3, /* client sent payload, server has not */
	TW_STAGE_SERVER_DATA = 4, /* server payload seen */
	TW_STAGE_MIDSTREAM = 5,   /* flow picked up mid-stream */
};

/* The stage as the JSON records write it (rst events' "stage", tamper
 * verdicts' "stage"); "unknown" for a value no producer sets. */
static __always_inline const char *tw_stage_name(__u32 stage)
{
	switch (stage) {
	case TW_STAGE_SYN: return "after_syn";
	case TW_STAGE_HANDSHAKE: return "after_handshake";
	case TW_STAGE_CLIENT_DATA: return "after_request";
	case TW_STAGE_SERVER_DATA: return "after_response";
	case TW_STAGE_MIDSTREAM: return "midstream";
	}
	return "unknown";
}

/* The stage's token in a verdict signature ("PSH->RST": Cloudflare's
 * notation, README "Verdicts"); "?" for a value no producer sets. */
static __always_inline const char *tw_stage_sig(__u32 stage)
{
	switch (stage) {
	case TW_STAGE_SYN: return "SYN";
	case TW_STAGE_HANDSHAKE: return "ACK";
	case TW_STAGE_CLIENT_DATA: return "PSH";
	case TW_STAGE_SERVER_DATA: return "DATA";
	case TW_STAGE_MIDSTREAM: return "MID";
	}
	return "?";
}

/* Where the event's packet stands against the flow, measured before the
 * packet updated the flow. */
struct tw_pkt_ctx {
	__s32 seq_rel;          /* seq minus the sender's next expected seq */
	__s32 ack_rel;          /* ack minus the receiver's next seq */
	__u32 rcv_window;       /* receiver's last window, scaled (bytes) */
	__u8 in_window;         /* seq within [next_seq, next_seq + rcv_window] */
	__u8 stage;             /* enum tw_stage */
	__u8 sender_ttl_base;   /* sender's TTL on its SYN/SYN-ACK (or first packet) */
	__u8 sender_seen;       /* sender had sent packets before this one */
	__u16 sender_ipid_last; /* sender's IP-ID on its previous packet */
	__u8 sender_ttl_last;   /* sender's TTL on its previous packet */
	__u8 reserved[5];       /* zero; fills up to since_other_ns's alignment */
	__u64 since_other_ns;   /* time since the other direction's last packet */
};
TW_STATIC_ASSERT(sizeof(struct tw_pkt_ctx) == 32, "tw_pkt_ctx layout");

struct tw_event {
	/* header: common to all record kinds */
	__u16 version; /* TW_EVENT_VERSION */
	__u16 type;    /* enum tw_event_type */
	__u16 len;     /* sizeof(struct tw_event) + snippet_len */
	__u16 snippet_len;
	__u64 ts_ns; /* packet time: monotonic live, capture time on replay */
	__u64 flow_id;
	__u32 ifindex;
	__u8 dir; /* TW_DIR_* of the packet */
	__u8 family;
	__u8 proto;
	__u8 end_reason; /* enum tw_end_reason, flow end only */
	/* oriented tuple */
	__u8 caddr[16]; /* client */
	__u8 saddr[16]; /* server */
	__u16 cport;
	__u16 sport;
	/* the packet */
	__u8 ttl;
	__u8 tcp_flags;
	__u8 pflags; /* TW_PKT_* */
	__u8 reserved0;
	__u32 seq;
	__u32 ack;
	__u16 win;
	__u16 ip_id;
	__u32 payload_len; /* on the wire (the snippet may be shorter) */
	__u32 reserved1[2];
	struct tw_pkt_ctx ctx;
	struct tw_flow flow; /* state after the packet */
	__u8 snippet[];      /* snippet_len bytes */
};
TW_STATIC_ASSERT(__builtin_offsetof(struct tw_event, caddr) == 32, "tw_event header");
TW_STATIC_ASSERT(__builtin_offsetof(struct tw_event, ctx) == 96, "tw_event ctx");
TW_STATIC_ASSERT(__builtin_offsetof(struct tw_event, flow) == 128, "tw_event flow");
TW_STATIC_ASSERT(sizeof(struct tw_event) == 128 + sizeof(struct tw_flow), "tw_event size");

/* Counters kept per CPU by the kernel side (index into the stats map). */
enum tw_counter {
	TW_CNT_PACKETS = 0, /* every packet seen */
	TW_CNT_BYTES,
	TW_CNT_TRACKED,    /* TCP/UDP packets that reached the flow table */
	TW_CNT_PARSE_BASE, /* + enum tw_parse_result (OK not counted here) */
	TW_CNT_FLOWS_NEW = TW_CNT_PARSE_BASE + 16,
	TW_CNT_FLOW_INSERT_FAIL,
	TW_CNT_EVENTS,          /* events written */
	TW_CNT_EVENTS_LOST,     /* events lost to a full ring buffer */
	TW_CNT_SNIPPET_FAIL,    /* snippet copy failed: event sent without it */
	TW_CNT_NONLINEAR,       /* TC: headers not in the linear part: skipped */
	TW_CNT_PFX_INSERT_FAIL, /* packets to a client network not counted: prefix table full */
	TW_CNT_NOT_SAMPLED,     /* packets of flows left out by 1-in-N flow sampling (sample.h) */
	TW_CNT_FLOWS_NEW_V6,    /* of TW_CNT_FLOWS_NEW, IPv6 flows (the BPF backend's tw_flows6) */
	TW_CNT_MAX
};

/* The value of the stats map: one per CPU. */
struct tw_counters {
	__u64 c[TW_CNT_MAX];
};

#endif
