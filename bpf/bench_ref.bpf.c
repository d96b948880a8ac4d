// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Reference programs for bench/bench_xdp.c, and nothing else: the least a
 * flow tracker can do per packet, to put tw_xdp / tw_tc's cost beside.
 *
 * In place (the reference of the ratios, issue 16): the same parser as
 * tw_xdp (tamperwatch/parse.h), the same canonical 40-byte key, one
 * LRU-hash lookup, then packet and byte counters and a bpf_ktime_get_ns()
 * timestamp updated in place; bpf_map_update_elem() only on a miss (a new
 * flow).  bench_ref_inplace_xdp and bench_ref_inplace_tc are the same code
 * on the two hooks, over one map.
 *
 * Update (second row, for context): the same parse and key, one lookup and
 * one bpf_map_update_elem() on every packet (a new LRU element each time),
 * no clock.  The older reference, kept to show how much an update costs.
 *
 * Not a product program.  The daemon never loads it, and it is inert
 * unless the loader arms it: with bench_ref_armed left at 0 (anyone but the
 * benchmark) every program returns "pass" before touching the packet, so
 * attaching it by mistake costs nothing and records nothing.  The benchmark
 * sets the rodata flag before load, and the verifier prunes the check away,
 * so the armed program carries no cost for it. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <tamperwatch/parse.h>
#include <tamperwatch/classify.h>
#include <tamperwatch/maps.h>

#define XDP_PASS_ 2  /* XDP_PASS */
#define TC_ACT_OK_ 0 /* TC_ACT_OK */

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by bench/bench_xdp.c before load; 0 means "do nothing". */
const volatile __u32 bench_ref_armed = 0;

struct bench_ref_val {
	__u64 packets;
	__u64 bytes;
};

struct bench_ref_inplace_val {
	__u64 packets;
	__u64 bytes;
	__u64 last_ns;
};

/* both sized by the benchmark before load, to tw_flows' size */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TW_FLOWS_DEFAULT);
	__type(key, struct tw_flow_key);
	__type(value, struct bench_ref_val);
} bench_ref_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct tw_flow_key);
	__type(value, struct bench_ref_inplace_val);
} bench_ref_inplace_flows SEC(".maps");

static __always_inline void ref_inplace(void *data, void *data_end, __u32 len)
{
	struct tw_pkt p = {};
	struct tw_flow_key k;

	if (tw_parse(data, data_end, &p) != TW_PARSE_OK)
		return;
	tw_flow_key_make(&p, &k);
	struct bench_ref_inplace_val *v = bpf_map_lookup_elem(&bench_ref_inplace_flows, &k);
	if (v) {
		v->packets++;
		v->bytes += len;
		v->last_ns = bpf_ktime_get_ns();
		return;
	}
	struct bench_ref_inplace_val nv = { .packets = 1, .bytes = len, .last_ns = bpf_ktime_get_ns() };
	bpf_map_update_elem(&bench_ref_inplace_flows, &k, &nv, BPF_NOEXIST);
}

SEC("xdp")
int bench_ref_inplace_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (bench_ref_armed)
		ref_inplace(data, data_end, (__u32)(data_end - data));
	return XDP_PASS_;
}

SEC("tc")
int bench_ref_inplace_tc(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	if (bench_ref_armed)
		ref_inplace(data, data_end, skb->len);
	return TC_ACT_OK_;
}

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
