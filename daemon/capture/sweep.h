/* Flow end: closed flows linger (to see racing packets after an RST or
 * FIN), idle ones time out; both end with a summary event.  The sweep is
 * the same code for every backend and visits expired flows in flow_id
 * order so replay output is deterministic. */
#ifndef TW_SWEEP_H
#define TW_SWEEP_H
#include <stdint.h>
#include "capture/engine.h"

struct tw_timeouts {
	uint64_t tcp_idle_ns;   /* established or half-open TCP, no packet (default 120 s) */
	uint64_t tcp_closed_ns; /* after FIN both ways or RST (default 5 s) */
	uint64_t udp_idle_ns;   /* UDP (default 30 s) */
	/* a TCP flow that carried at least this many payload bytes and saw a
	 * packet since the previous sweep gets a periodic rate record
	 * (TW_EV_FLOW_RATE) at each sweep: goodput samples for throttling
	 * detection (default 16 KiB; 0: none) */
	uint32_t rate_min_bytes;
};

void tw_timeouts_default(struct tw_timeouts *t);
/* End reason if the flow is over at time now (0: still live). */
int tw_flow_expired(const struct tw_flow *f, uint8_t proto, uint64_t now, const struct tw_timeouts *t);
/* Emit flow end events for every expired flow (all flows if flush) and
 * remove them; periodic rate records for the busy flows that go on.  Returns how many ended; -1 on allocation failure. */
long tw_sweep(struct tw_engine *e, uint64_t now, const struct tw_timeouts *t, int flush);
#endif
