// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Empty programs for the benchmarks: pass every packet, touch nothing.
 * bench/bench_live.sh attaches bench_empty_xdp to the gateway's veth as the
 * baseline of native XDP (what any XDP program costs on that link);
 * bench/bench_xdp.c times both with single test runs to subtract the
 * harness's own cost from the per-new-flow rows.  Never loaded by the
 * daemon. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* xdp.frags as tw_xdp: a program without frags support makes veth turn
 * GSO off on the peer, which would lower the baseline's own throughput */
SEC("xdp.frags")
int bench_empty_xdp(struct xdp_md *ctx)
{
	(void)ctx;
	return 2; /* XDP_PASS */
}

SEC("tc")
int bench_empty_tc(struct __sk_buff *skb)
{
	(void)skb;
	return 0; /* TC_ACT_OK */
}
