// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Reference XDP program for bench/bench_xdp.c, and nothing else: the least
 * a flow tracker can do per packet.  The same parser as tw_xdp
 * (tamperwatch/parse.h), the same canonical 40-byte key, then exactly one
 * LRU-hash lookup and one bpf_map_update_elem(), and XDP_PASS.  No clock,
 * no counters, no ring buffer.
 *
 * Not a product program.  The daemon never loads it (only build/
 * bench_ref.skel.h knows it), and it is inert unless the loader arms it:
 * with bench_ref_armed left at 0 (anyone but the benchmark) the program
 * returns XDP_PASS before touching the packet, so attaching it by mistake
 * costs nothing and records nothing.  The benchmark sets the rodata flag
 * before load, and the verifier prunes the check away, so the armed program
 * carries no cost for it. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <tamperwatch/parse.h>
#include <tamperwatch/classify.h>
#include <tamperwatch/maps.h>

#define XDP_PASS_ 2 /* XDP_PASS */

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by bench/bench_xdp.c before load; 0 means "do nothing". */
const volatile __u32 bench_ref_armed = 0;

struct bench_ref_val {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TW_FLOWS_DEFAULT); /* as tw_flows */
	__type(key, struct tw_flow_key);
	__type(value, struct bench_ref_val);
} bench_ref_flows SEC(".maps");

SEC("xdp")
int bench_ref_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct tw_pkt p = {};
	struct tw_flow_key k;
	struct bench_ref_val v = {};

	if (!bench_ref_armed)
		return XDP_PASS_;
	if (tw_parse(data, data_end, &p) != TW_PARSE_OK)
		return XDP_PASS_;
	tw_flow_key_make(&p, &k);

	struct bench_ref_val *old = bpf_map_lookup_elem(&bench_ref_flows, &k);
	if (old)
		v = *old;
	v.packets++;
	v.bytes += (__u64)(data_end - data);
	bpf_map_update_elem(&bench_ref_flows, &k, &v, BPF_ANY);
	return XDP_PASS_;
}
