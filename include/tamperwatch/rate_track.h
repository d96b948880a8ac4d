/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Per-packet upkeep of the rate evidence (rate.h), called by tw_track() for
 * every TCP packet that is not an RST, before the packet moves the sender's
 * next_seq.  Steady-state cost: a few compares and stores on the flow entry
 * already in hand; no extra map lookup, helper call or clock read. */
#ifndef TAMPERWATCH_RATE_TRACK_H
#define TAMPERWATCH_RATE_TRACK_H

#include "types.h"
#include "flow.h"
#include "parse.h"
#include "event.h"

/* RTT maxima are kept until the flow's second loss episode. */
#define TW_RATE_RTT_LOSSES 2
/* Loss episodes: a retransmission less than this many RTTs after the
 * previous one belongs to the same recovery. */
#define TW_RATE_EPISODE_RTTS 2
/* ... and never less than this many ticks (the coarse kernel clock moves in
 * jiffies, up to 4 ms). */
#define TW_RATE_EPISODE_MIN_TICKS 8

static __always_inline __u16 tw_rate_sat16(__u16 v)
{
	return v == 0xffff ? v : (__u16)(v + 1);
}

static __always_inline void tw_rate_rtt(struct tw_rate_dir *r, __u64 rtt_ns, int before_loss)
{
	__u64 u = rtt_ns >> TW_RATE_RTT_SHIFT;
	__u16 v = u > 0xffff ? 0xffff : u ? (__u16)u : 1; /* 0 means "no sample" */

	if (!r->rtt_min || v < r->rtt_min)
		r->rtt_min = v;
	if (before_loss && v > r->rtt_max)
		r->rtt_max = v;
}

/* Handshake RTTs, at the packet that answers: the SYN-ACK answers the
 * client's SYN (sample for C2S), the client's ACK answers the SYN-ACK
 * (sample for S2C).  prev_ns: when the answered packet passed.  Only when
 * neither was retransmitted (Karn). */
static __always_inline void tw_rate_handshake(struct tw_flow *f, int answered_dir, __u64 now, __u64 prev_ns)
{
	if (f->dir[0].syn_count == 1 && f->dir[1].syn_count == 1 && prev_ns && now >= prev_ns)
		tw_rate_rtt(&f->rate[answered_dir & 1], now - prev_ns, 1);
}

static __always_inline __u32 tw_rate_rtt_of(const struct tw_rate_dir *r)
{
	return r->rtt_max > r->rtt_min ? r->rtt_max : r->rtt_min;
}

/* The end-to-end RTT in ticks (through the receiver plus through the
 * sender; the largest seen before the losses, so a queue's delay counts),
 * times TW_RATE_EPISODE_RTTS, at least TW_RATE_EPISODE_MIN_TICKS. */
static __always_inline __u32 tw_rate_wait_ticks(const struct tw_rate_dir *a, const struct tw_rate_dir *b)
{
	__u32 rtt = tw_rate_rtt_of(a) + tw_rate_rtt_of(b);
	__u32 t = (rtt << TW_RATE_RTT_SHIFT >> TW_RATE_TICK_SHIFT) * TW_RATE_EPISODE_RTTS;
	return t > TW_RATE_EPISODE_MIN_TICKS ? t : TW_RATE_EPISODE_MIN_TICKS;
}

/* A loss seen now: a new episode unless the last one is recent. */
static __always_inline void tw_rate_loss(struct tw_rate_dir *r, __u16 tick, __u16 wait)
{
	if (!(r->flags & TW_RATE_LOSS) || (__u16)(tick - r->loss_tick) > wait)
		r->loss_eps = tw_rate_sat16(r->loss_eps);
	r->loss_tick = tick;
	r->flags |= TW_RATE_LOSS;
}

/* ctx: where the packet stands, measured by tw_track before the update
 * (the other side's scaled window, the time since its last packet). */
static __always_inline void tw_rate_track(struct tw_flow *f, const struct tw_pkt *p, int dir, __u64 now,
                                          const struct tw_pkt_ctx *ctx)
{
	struct tw_dir_state *d = &f->dir[dir & 1];
	struct tw_rate_dir *r = &f->rate[dir & 1];
	struct tw_rate_dir *ro = &f->rate[(dir & 1) ^ 1];
	struct tw_dir_state *od = &f->dir[(dir & 1) ^ 1];
	__u16 tick = (__u16)(now >> TW_RATE_TICK_SHIFT);
	/* RTT growth that a queue causes shows before the losses; a sample
	 * after them can hold a retransmission timeout.  The first episode
	 * is allowed: a queue's own overflow at slow start ends one. */
	int before_loss = (__u32)r->loss_eps + ro->loss_eps < TW_RATE_RTT_LOSSES;

	/* RTT through the other side from TCP timestamps (pping): the first
	 * time a TSval passes, then the first echo of exactly that value */
	if (p->pflags & TW_PKT_HAS_TS) {
		__u16 ecr = (__u16)p->tsecr, val = (__u16)p->tsval;
		if (ro->flags & TW_RATE_TS_WAIT) {
			if (ecr == od->ts_val) {
				__s16 dt = (__s16)(__u16)(tick - od->ts_tick);
				__u64 ns = dt > 0 ? (__u64)dt << TW_RATE_TICK_SHIFT : 0;
				/* an echo after a silence of the other side is a
				 * timeout (a tail dropped before the observer),
				 * not a queue: only the minimum takes it */
				tw_rate_rtt(ro, ns, before_loss && ctx->since_other_ns < (ns >> 1));
				ro->flags &= ~TW_RATE_TS_WAIT;
			} else if ((__s16)(__u16)(ecr - od->ts_val) > 0) {
				ro->flags &= ~TW_RATE_TS_WAIT; /* its echo passed unseen */
			}
		}
		if (!(r->flags & TW_RATE_TS_WAIT) &&
		    (!(r->flags & TW_RATE_TS_SEEN) || (__s16)(__u16)(val - d->ts_val) > 0)) {
			d->ts_val = val;
			d->ts_tick = tick;
			r->flags |= TW_RATE_TS_WAIT | TW_RATE_TS_SEEN;
		}
	}

	/* what this side acknowledges of the other side's data */
	if (p->tcp_flags & TW_TCP_ACK) {
		if (!(r->flags & TW_RATE_ACKED) || (__s32)(p->ack - r->ack_last) > 0) {
			r->ack_last = p->ack;
			r->flags |= TW_RATE_ACKED;
		} else if (p->ack == r->ack_last && !p->payload_len && !(p->tcp_flags & (TW_TCP_SYN | TW_TCP_FIN)) &&
		           (__s32)(f->dir[(dir & 1) ^ 1].next_seq - p->ack) > 0) {
			ro->dupacks = tw_rate_sat16(ro->dupacks);
		}
	}

	if (!p->payload_len)
		return;
	__u32 end = p->seq + p->payload_len;
	__u16 wait = (__u16)tw_rate_wait_ticks(r, ro);
	if ((__s32)(end - d->next_seq) > 0) {
		/* a hole before it: what it skips was lost on the sender's side
		 * of the observer (or reordered) */
		if ((__s32)(p->seq - d->next_seq) > 0)
			tw_rate_loss(r, tick, wait);
		/* new data: had the sender been idle (everything acknowledged
		 * and the ACK long past: it had nothing to send), and did it
		 * fill the receiver's window? */
		if (ro->flags & TW_RATE_ACKED) {
			__s32 out = (__s32)(d->next_seq - ro->ack_last);
			__s32 after = (__s32)(end - ro->ack_last);
			__u32 w = ctx->rcv_window;
			if (out <= 0 && (ctx->since_other_ns >> TW_RATE_TICK_SHIFT) > wait)
				r->idle_sends = tw_rate_sat16(r->idle_sends);
			if (w && after > 0 && ((__u64)after * 8 >= (__u64)w * 7))
				r->win_full = tw_rate_sat16(r->win_full);
		}
		return;
	}
	/* at or below what was sent: a retransmission */
	tw_rate_loss(r, tick, wait);
}

/* Goodput so far of one direction's data: the bytes the other side has
 * acknowledged (a byte that passed the observer may still be lost
 * beyond it, or sit behind a hole), the FIN left out. */
static __always_inline __u32 tw_rate_delivered(const struct tw_flow *f, int dir)
{
	const struct tw_dir_state *d = &f->dir[dir & 1];
	const struct tw_rate_dir *ro = &f->rate[(dir & 1) ^ 1];
	__u32 sent = d->next_seq - d->first_data_seq - (d->fin_count ? 1 : 0);
	__u32 acked = ro->ack_last - d->first_data_seq;

	if (!(ro->flags & TW_RATE_ACKED) || (__s32)acked < 0)
		return 0;
	return acked < sent ? acked : sent;
}

#endif
