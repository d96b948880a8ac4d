/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The classifier core: flow orientation, per-direction bookkeeping and the
 * decision of which transitions deserve an event.  Pure C, compiled into the
 * BPF programs, the kernel module, the userspace replay and the unit tests,
 * so every backend reaches the same verdict on the same packets.  A backend
 * only parses (parse.h), looks the flow up, calls tw_track() and writes the
 * events whose bits it returns. */
#ifndef TAMPERWATCH_CLASSIFY_H
#define TAMPERWATCH_CLASSIFY_H

#include "types.h"
#include "flow.h"
#include "parse.h"
#include "event.h"
#include "rate_track.h"

#define TW_EVBIT(t) (1u << (t))

static __always_inline int tw_seq_after(__u32 a, __u32 b)
{
	return (__s32)(a - b) > 0;
}

/* Canonical key: the (address, port) pair that compares lower comes first.
 * Returns 1 when the packet's source is side b of the key. */
static __always_inline int tw_flow_key_make(const struct tw_pkt *p, struct tw_flow_key *k)
{
	__u64 s0, s1, d0, d1;
	int src_is_b;

	__builtin_memcpy(&s0, p->saddr, 8);
	__builtin_memcpy(&s1, p->saddr + 8, 8);
	__builtin_memcpy(&d0, p->daddr, 8);
	__builtin_memcpy(&d1, p->daddr + 8, 8);
	if (s0 != d0)
		src_is_b = s0 > d0;
	else if (s1 != d1)
		src_is_b = s1 > d1;
	else
		src_is_b = p->sport > p->dport;

	if (src_is_b) {
		tw_copy16(k->addr_a, p->daddr);
		tw_copy16(k->addr_b, p->saddr);
		k->port_a = p->dport;
		k->port_b = p->sport;
	} else {
		tw_copy16(k->addr_a, p->saddr);
		tw_copy16(k->addr_b, p->daddr);
		k->port_a = p->sport;
		k->port_b = p->dport;
	}
	k->family = p->family;
	k->proto = p->proto;
	k->reserved[0] = 0;
	k->reserved[1] = 0;
	return src_is_b;
}

/* tw_flow_key_make for an IPv4 packet, straight into the compact key: the
 * same order (the first 8 address bytes compared as one word are the
 * IPv4 address followed by zeros), the same return value. */
static __always_inline int tw_flow_key4_make(const struct tw_pkt *p, struct tw_flow_key4 *k)
{
	__u32 s, d;
	int src_is_b;

	__builtin_memcpy(&s, p->saddr, 4);
	__builtin_memcpy(&d, p->daddr, 4);
	src_is_b = s != d ? s > d : p->sport > p->dport;
	if (src_is_b)
		tw_flow_key4_set(k, p->daddr, p->saddr, p->dport, p->sport, p->proto);
	else
		tw_flow_key4_set(k, p->saddr, p->daddr, p->sport, p->dport, p->proto);
	return src_is_b;
}

/* Which side is the client of a new flow, from its first packet: the sender
 * of a bare SYN; the receiver of a SYN-ACK; for UDP the side that is not
 * port 53 / not a well-known port.  Anything else is picked up mid-stream
 * and the guess (the lower, well-known port is the server) is flagged. */
static __always_inline void tw_flow_init(struct tw_flow *f, const struct tw_pkt *p, int src_is_b, __u64 flow_id)
{
	__builtin_memset(f, 0, sizeof(*f));
	f->flow_id = flow_id;
	f->dir[0].wscale = 0xff;
	f->dir[1].wscale = 0xff;
	int src_is_client;

	if (p->proto == TW_PROTO_TCP) {
		__u8 fl = p->tcp_flags & (TW_TCP_SYN | TW_TCP_ACK | TW_TCP_RST);
		if (fl == TW_TCP_SYN) {
			src_is_client = 1;
		} else if (fl == (TW_TCP_SYN | TW_TCP_ACK)) {
			src_is_client = 0;
			f->flags |= TW_FLOW_SYNACK_FIRST;
		} else {
			src_is_client = p->sport > p->dport;
			f->flags |= TW_FLOW_MIDSTREAM;
		}
	} else {
		if (p->dport == 53)
			src_is_client = 1;
		else if (p->sport == 53)
			src_is_client = 0;
		else
			src_is_client = !(p->sport < 1024 && p->dport >= 1024);
	}
	f->client_is_b = src_is_client ? (__u8)src_is_b : (__u8)!src_is_b;
}

static __always_inline int tw_pkt_dir(const struct tw_flow *f, int src_is_b)
{
	return (src_is_b == f->client_is_b) ? TW_DIR_C2S : TW_DIR_S2C;
}

static __always_inline __u8 tw_stage(const struct tw_flow *f)
{
	if (f->flags & TW_FLOW_SERVER_DATA)
		return TW_STAGE_SERVER_DATA;
	if (f->flags & TW_FLOW_CLIENT_DATA)
		return TW_STAGE_CLIENT_DATA;
	if (f->flags & TW_FLOW_MIDSTREAM)
		return TW_STAGE_MIDSTREAM;
	if (f->dir[TW_DIR_S2C].syn_count)
		return TW_STAGE_HANDSHAKE;
	return TW_STAGE_SYN;
}

static __always_inline __u8 tw_sat8(__u8 v)
{
	return v == 0xff ? v : (__u8)(v + 1);
}

/* Account one packet to its flow and return the TW_EVBIT()s of the events it
 * causes.  ctx receives where the packet stands against the flow, measured
 * before the update.  segs/bytes: wire packets and IP bytes it stands for
 * (a GSO super-packet at TC counts all its segments).  Once-only events are
 * guarded by flow flags without atomics: a flow's packets of one direction
 * reach one CPU at a time (RSS), and a duplicate first-payload event in a
 * rare cross-CPU race is harmless to the daemon, which keys on flow_id. */
static __always_inline __u32 tw_track(struct tw_flow *f, const struct tw_pkt *p, int dir, __u64 now, __u32 segs,
                                      __u32 bytes, struct tw_pkt_ctx *ctx)
{
	struct tw_dir_state *d = &f->dir[dir & 1];
	struct tw_dir_state *o = &f->dir[(dir & 1) ^ 1];
	__u32 ev = 0;
	__u8 fl = p->tcp_flags;

	/* --- where the packet stands, before it changes anything --- */
	ctx->sender_seen = d->packets != 0;
	ctx->sender_ttl_base = d->ttl_base;
	ctx->sender_ipid_last = d->ipid_last;
	ctx->sender_ttl_last = d->ttl_last;
	__builtin_memset(ctx->reserved, 0, sizeof(ctx->reserved));
	ctx->since_other_ns = o->last_ns && now > o->last_ns ? now - o->last_ns : 0;
	ctx->stage = tw_stage(f);
	ctx->seq_rel = (__s32)(p->seq - d->next_seq);
	ctx->ack_rel = (__s32)(p->ack - o->next_seq);
	{
		__u32 w = o->win_last;
		__u8 ws = o->wscale;
		if (ws != 0xff && d->wscale != 0xff && !(o->syn_count && o->packets == o->syn_count))
			w <<= (ws & 15);
		ctx->rcv_window = w;
		ctx->in_window =
		        !ctx->sender_seen || ((__s32)(p->seq - d->next_seq) >= 0 && (__u32)(p->seq - d->next_seq) <= w);
	}

	/* --- per-direction counters --- */
	if (d->packets == 0) {
		if (o->packets == 0) {
			f->base_ns = now; /* the flow's first packet: no division on this path */
			f->flags |= (__u16)((dir & 1) * TW_FLOW_FIRST_S2C); /* no branch */
		} else {
			f->later_us = tw_flow_us(f, now);
		}
		d->ttl_base = p->ttl;
		d->ttl_min = p->ttl;
		d->ttl_max = p->ttl;
		d->ipid_base = p->ip_id;
		if (p->proto == TW_PROTO_TCP && !(fl & TW_TCP_SYN))
			d->next_seq = p->seq;
	}
	d->last_ns = now;
	d->packets += segs;
	tw_ctr40_add(&d->bytes_lo, &d->bytes_hi, bytes);
	tw_ctr40_add(&d->payload_lo, &d->payload_hi, p->payload_len);
	d->ttl_last = p->ttl;
	if (p->ttl < d->ttl_min)
		d->ttl_min = p->ttl;
	if (p->ttl > d->ttl_max)
		d->ttl_max = p->ttl;
	d->ipid_last = p->ip_id;
	d->win_last = p->win;

	if (p->proto != TW_PROTO_TCP) {
		if (p->payload_len) {
			if (p->sport == 53 || p->dport == 53)
				ev |= TW_EVBIT(dir == TW_DIR_C2S ? TW_EV_DNS_QUERY : TW_EV_DNS_RESPONSE);
			else if (dir == TW_DIR_C2S && !(f->flags & TW_FLOW_CLIENT_DATA))
				ev |= TW_EVBIT(TW_EV_CLIENT_DATA);
			else if (dir == TW_DIR_S2C && !(f->flags & TW_FLOW_SERVER_DATA))
				ev |= TW_EVBIT(TW_EV_SERVER_DATA);
			f->flags |= dir == TW_DIR_C2S ? TW_FLOW_CLIENT_DATA : TW_FLOW_SERVER_DATA;
		}
		return ev;
	}

	/* --- TCP --- */
	if (fl & TW_TCP_SYN) {
		d->syn_count = tw_sat8(d->syn_count);
		d->isn = p->seq;
		d->next_seq = p->seq + 1;
		d->ttl_base = p->ttl; /* the baseline a forged packet must match */
		d->ipid_base = p->ip_id;
		if (p->pflags & TW_PKT_HAS_WSCALE)
			d->wscale = p->wscale;
		if ((fl & TW_TCP_ACK) && dir == TW_DIR_S2C && f->state < TW_TCP_SYN_RCVD) {
			tw_rate_handshake(f, TW_DIR_C2S, now, o->last_ns);
			f->state = TW_TCP_SYN_RCVD;
		} else if (!(fl & TW_TCP_ACK) && dir == TW_DIR_C2S && f->state == TW_TCP_NONE)
			f->state = TW_TCP_SYN_SENT;
	}

	if (fl & TW_TCP_RST) {
		d->rst_count = tw_sat8(d->rst_count);
		if (!(f->flags & (TW_FLOW_RST_C2S | TW_FLOW_RST_S2C)))
			f->flags |= TW_FLOW_RST_FROM(dir & 1);
		f->state = TW_TCP_RESET;
		return ev | TW_EVBIT(TW_EV_RST);
	}

	if (dir == TW_DIR_C2S && (fl & TW_TCP_ACK) && !(fl & TW_TCP_SYN) && f->state == TW_TCP_SYN_RCVD &&
	    p->ack == o->isn + 1) {
		f->state = TW_TCP_ESTABLISHED;
		ev |= TW_EVBIT(TW_EV_HANDSHAKE);
		tw_rate_handshake(f, TW_DIR_S2C, now, o->last_ns);
	}

	tw_rate_track(f, p, dir, now, ctx);

	if (p->payload_len) {
		__u32 end = p->seq + p->payload_len;
		if (tw_seq_after(end, d->next_seq))
			d->next_seq = end;
		else
			d->retrans++;
		if (dir == TW_DIR_C2S) {
			if (!(f->flags & TW_FLOW_CLIENT_DATA)) {
				f->flags |= TW_FLOW_CLIENT_DATA;
				d->first_data_seq = p->seq;
				ev |= TW_EVBIT(TW_EV_CLIENT_DATA);
			}
		} else if (!(f->flags & TW_FLOW_SERVER_DATA)) {
			f->flags |= TW_FLOW_SERVER_DATA;
			d->first_data_seq = p->seq;
			ev |= TW_EVBIT(TW_EV_SERVER_DATA);
		}
		if ((f->flags & TW_FLOW_RST_FROM(dir & 1)) && !(f->flags & TW_FLOW_DATA_AFTER_RST)) {
			f->flags |= TW_FLOW_DATA_AFTER_RST;
			ev |= TW_EVBIT(TW_EV_DATA_AFTER_RST);
		}
	}

	if (fl & TW_TCP_FIN) {
		__u32 end = p->seq + p->payload_len + 1;
		if (tw_seq_after(end, d->next_seq))
			d->next_seq = end;
		if (d->fin_count == 0)
			ev |= TW_EVBIT(TW_EV_FIN);
		d->fin_count = tw_sat8(d->fin_count);
		if (f->state != TW_TCP_RESET)
			f->state = o->fin_count ? TW_TCP_CLOSED : TW_TCP_CLOSING;
	}
	return ev;
}

/* Fill the fixed part of an event (everything but the snippet). */
static __always_inline void tw_event_fill(struct tw_event *e, __u16 type, const struct tw_flow_key *k,
                                          const struct tw_flow *f, const struct tw_pkt *p, const struct tw_pkt_ctx *ctx,
                                          int dir, __u64 now, __u32 ifindex)
{
	e->version = TW_EVENT_VERSION;
	e->type = type;
	e->len = sizeof(*e);
	e->snippet_len = 0;
	e->ts_ns = now;
	e->flow_id = f->flow_id;
	e->ifindex = ifindex;
	e->dir = (__u8)dir;
	e->family = k->family;
	e->proto = k->proto;
	e->end_reason = 0;
	if (f->client_is_b) {
		tw_copy16(e->caddr, k->addr_b);
		tw_copy16(e->saddr, k->addr_a);
		e->cport = k->port_b;
		e->sport = k->port_a;
	} else {
		tw_copy16(e->caddr, k->addr_a);
		tw_copy16(e->saddr, k->addr_b);
		e->cport = k->port_a;
		e->sport = k->port_b;
	}
	if (p) {
		e->ttl = p->ttl;
		e->tcp_flags = p->tcp_flags;
		e->pflags = p->pflags;
		e->seq = p->seq;
		e->ack = p->ack;
		e->win = p->win;
		e->ip_id = p->ip_id;
		e->payload_len = p->payload_len;
	} else {
		e->ttl = 0;
		e->tcp_flags = 0;
		e->pflags = 0;
		e->seq = 0;
		e->ack = 0;
		e->win = 0;
		e->ip_id = 0;
		e->payload_len = 0;
	}
	e->reserved0 = 0;
	e->reserved1[0] = 0;
	e->reserved1[1] = 0;
	if (ctx)
		__builtin_memcpy(&e->ctx, ctx, sizeof(*ctx));
	else
		__builtin_memset(&e->ctx, 0, sizeof(e->ctx));
	__builtin_memcpy(&e->flow, f, sizeof(*f));
}

/* Snippet length for an event: payload events carry the payload's head. */
static __always_inline __u32 tw_event_wants_snippet(__u32 type)
{
	return type == TW_EV_CLIENT_DATA || type == TW_EV_SERVER_DATA || type == TW_EV_DNS_QUERY ||
	       type == TW_EV_DNS_RESPONSE || type == TW_EV_DATA_AFTER_RST || type == TW_EV_RST;
}

/* Largest snippet of a payload event: TW_SNIPPET_QUIC_MAX for the first
 * client payload of a UDP flow to port 443 (a QUIC Initial), else
 * TW_SNIPPET_MAX. */
static __always_inline __u32 tw_event_snippet_max(__u32 type, __u8 proto, __u16 server_port)
{
	if (type == TW_EV_CLIENT_DATA && proto == TW_PROTO_UDP && server_port == 443)
		return TW_SNIPPET_QUIC_MAX;
	return TW_SNIPPET_MAX;
}

#endif
