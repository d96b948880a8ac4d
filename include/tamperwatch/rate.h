/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Rate evidence of a TCP flow, for throttling detection (policing, shaping):
 * what a passive observer can learn per packet at a few compares' cost and
 * 20 bytes per direction, kept in the flow state by every backend
 * (rate_track.h updates it).  Goodput over time comes from the flow's
 * sequence numbers in the periodic and flow-end records; the daemon turns
 * the series into a verdict (daemon/verdicts/throttle.c). */
#ifndef TAMPERWATCH_RATE_H
#define TAMPERWATCH_RATE_H

#include "types.h"

/* Flow-time tick of the loss and timestamp clocks: 2^20 ns (1.05 ms). */
#define TW_RATE_TICK_SHIFT 20
/* RTT unit: 2^16 ns (65.5 us); a __u16 holds up to 4.29 s (saturates). */
#define TW_RATE_RTT_SHIFT 16

/* tw_rate_dir.flags */
#define TW_RATE_ACKED 0x0001   /* ack_last is valid */
#define TW_RATE_TS_SEEN 0x0002 /* tw_dir_state.ts_val holds a TSval of this side */
#define TW_RATE_TS_WAIT 0x0004 /* tw_dir_state.ts_val awaits its echo from the other side */
#define TW_RATE_LOSS 0x0008    /* loss_tick is valid (a loss was seen) */

/* One per direction (index TW_DIR_*), about the data and ACKs that
 * direction sends.  RTTs are "through the other side": from this side's
 * packet passing the observer to the other side's answer passing it back
 * (SYN to SYN-ACK, TSval to its TSecr echo, as pping does). */
struct tw_rate_dir {
	__u32 ack_last;   /* highest ACK this side sent (TW_RATE_ACKED) */
	__u16 rtt_min;    /* smallest RTT sample (TW_RATE_RTT_SHIFT units), 0: none */
	__u16 rtt_max;    /* largest RTT sample before the flow's second loss episode */
	__u16 loss_tick;  /* tick of this side's last retransmission (TW_RATE_LOSS) */
	__u16 loss_eps;   /* loss episodes: retransmissions and holes, 2 RTT apart start a new one */
	__u16 dupacks;    /* ACKs repeated by the other side while this side had data outstanding */
	__u16 win_full;   /* new-data packets that (nearly) filled the other side's receive window */
	__u16 idle_sends; /* new-data packets sent with nothing outstanding: the sender was not busy */
	__u16 flags;      /* TW_RATE_* */
};
TW_STATIC_ASSERT(sizeof(struct tw_rate_dir) == 20, "tw_rate_dir layout");

#endif
