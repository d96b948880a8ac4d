// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* tamperwatch flow tracker: one XDP program and one TC program (clsact
 * ingress and egress) built from the same handler.  They only observe:
 * every packet is passed untouched (XDP_PASS, TC_ACT_OK), always.
 *
 * Hot path for a data packet of an established flow: one per-CPU counter
 * lookup (inlined), the shared parser, one flow lookup, a coarse clock read
 * and the classifier core.  The precise clock is read only for packets that
 * can cause an event (SYN/FIN/RST, first payloads, DNS), where arrival time
 * is evidence. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <tamperwatch/classify.h>
#include <tamperwatch/prefix.h>
#include <tamperwatch/maps.h>
#include <tamperwatch/sample.h>

#define XDP_PASS_ 2  /* XDP_PASS */
#define TC_ACT_OK_ 0 /* TC_ACT_OK */

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Filled by the daemon before load (rodata): dead branches are pruned. */
const volatile __u32 tw_cfg_replay = 0; /* clock from tw_replay_now */
const volatile __u32 tw_api_version = TW_API_VERSION;

/* .bss shared with the daemon */
__u64 tw_replay_now = 0;   /* replay: the capture time of the packet under test */
__u64 tw_next_flow_id = 0; /* flow ids in order of creation */

/* .data written by the daemon at any time: 1-in-N flow sampling in force
 * (include/tamperwatch/sample.h).  Decided when a packet finds no flow:
 * a flow left out costs a lookup miss and one hash, no map entry, and is
 * counted (TW_CNT_NOT_SAMPLED, per packet).  Flows already in the table
 * stay when N is raised.  The prefix counters above the decision count
 * every packet (shutdown detection is never sampled). */
__u32 tw_sample_n = 1;

/* The flow tables (maps.h): IPv4 flows under the compact key, IPv6 flows
 * under the full one; the daemon sizes both before load (flows.max,
 * flows.max_ipv6). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TW_FLOWS_DEFAULT);
	__type(key, struct tw_flow_key4);
	__type(value, struct tw_flow);
} tw_flows4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TW_FLOWS_DEFAULT / TW_FLOWS6_SHARE);
	__type(key, struct tw_flow_key);
	__type(value, struct tw_flow);
} tw_flows6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, TW_RINGBUF_BYTES);
} tw_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tw_counters);
} tw_stats SEC(".maps");

/* Per-client-prefix counters for shutdown detection (include/tamperwatch/
 * prefix.h, daemon/shutdown.h).  The daemon puts its client networks into
 * tw_client_nets (LPM, key data = family byte + address, prefixlen = 8 +
 * plen); a packet whose destination is in one travels internet->client and
 * is counted under the destination's /tw_cfg_pfx_v4 or /tw_cfg_pfx_v6
 * prefix.  The daemon moves tw_pfx_epoch forward at each poll (sketch
 * banks).  Empty tw_client_nets: one failed LPM lookup per packet.  Off
 * unless the daemon sets tw_cfg_pfx_on before load. */
const volatile __u32 tw_cfg_pfx_on = 0; /* 0: block pruned at load, no cost */
const volatile __u32 tw_cfg_pfx_v4 = 24;
const volatile __u32 tw_cfg_pfx_v6 = 48;
__u64 tw_pfx_epoch = 0; /* .bss: written by the daemon */

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, TW_CLIENT_NETS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct tw_lpm_key);
	__type(value, __u32);
} tw_client_nets SEC(".maps");

/* Not LRU: an evicted prefix would look like a prefix whose traffic
 * stopped (a false shutdown).  When the table is full, new prefixes are not
 * counted and TW_CNT_PFX_INSERT_FAIL says so; the client networks bound how
 * many prefixes there can be.  Allocated as prefixes appear. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, TW_PFX_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct tw_pfx_key);
	__type(value, struct tw_pfx_val);
} tw_pfx SEC(".maps");

/* zero value for inserts: .rodata, not the stack */
static const struct tw_pfx_val tw_pfx_zero = {};

/* a separate subprogram: its frame is not added to tw_handle's own */
static __noinline int tw_pfx_count(const struct tw_pkt *p, __u32 frame_len, __u32 segs)
{
	struct tw_lpm_key lk = {};
	struct tw_pfx_key k = {};
	__u32 plen = p->family == TW_FAMILY_IPV4 ? tw_cfg_pfx_v4 : tw_cfg_pfx_v6;
	__u32 h = tw_pfx_keys(p, plen, &lk, &k);

	if (!bpf_map_lookup_elem(&tw_client_nets, &lk))
		return 0;
	struct tw_pfx_val *v = bpf_map_lookup_elem(&tw_pfx, &k);
	if (!v) {
		bpf_map_update_elem(&tw_pfx, &k, &tw_pfx_zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&tw_pfx, &k);
		if (!v)
			return -1;
	}
	tw_pfx_account(v, p, frame_len, segs, h, tw_pfx_epoch);
	return 0;
}

/* Room to build a new flow: too large for the 512-byte BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tw_flow);
} tw_scratch SEC(".maps");

/* Everything an event needs from the packet's handler, handed to the
 * functions below by pointer; one per CPU (tw_req): a program runs to its
 * end on its CPU before the next one there starts (as tw_scratch). */
struct tw_emit_req {
	struct tw_flow_key key;   /* IPv6; IPv4: made from key4 when needed */
	struct tw_flow_key4 key4; /* IPv4 (v4) */
	struct tw_pkt pkt;
	struct tw_pkt_ctx pc;
	__u64 now;
	__u32 ifindex;
	__u32 frame_len;
	__u32 segs;
	__u32 src_is_b;
	__u32 v4;
	__u32 dir;
	__u32 type;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tw_emit_req);
} tw_req SEC(".maps");

/* Write one event.  Global functions (verified once, not once per call site
 * and path), one per hook because the snippet copy helper differs. */
static __always_inline int tw_emit(void *ctx, int is_xdp, struct tw_emit_req *r, struct tw_flow *f)
{
	__u32 zero = 0;
	struct tw_counters *cnt = bpf_map_lookup_elem(&tw_stats, &zero);
	struct tw_event *e;
	__u32 snip = 0;
	int quic = 0;

	if (!r || !f || !cnt)
		return 0;
	if (tw_event_wants_snippet(r->type)) {
		if (r->pkt.payload_off < r->frame_len) {
			snip = r->frame_len - r->pkt.payload_off;
			if (snip > r->pkt.payload_len)
				snip = r->pkt.payload_len;
		}
		quic = tw_event_snippet_max(r->type, r->pkt.proto,
		                            r->dir == TW_DIR_C2S ? r->pkt.dport : r->pkt.sport) == TW_SNIPPET_QUIC_MAX;
	}
	/* three size classes (the verifier wants a constant): most RSTs and
	 * FINs carry no payload and take a quarter of the room; only a QUIC
	 * client's first datagram takes the large one */
	if (snip && quic)
		e = bpf_ringbuf_reserve(&tw_events, sizeof(*e) + TW_SNIPPET_QUIC_MAX, 0);
	else if (snip)
		e = bpf_ringbuf_reserve(&tw_events, sizeof(*e) + TW_SNIPPET_MAX, 0);
	else
		e = bpf_ringbuf_reserve(&tw_events, sizeof(*e), 0);
	if (!e) {
		cnt->c[TW_CNT_EVENTS_LOST]++;
		return 0;
	}
	tw_event_fill(e, (__u16)r->type, &r->key, f, &r->pkt, &r->pc, r->dir, r->now, r->ifindex);
	if (quic && snip > TW_SNIPPET_QUIC_MAX)
		snip = TW_SNIPPET_QUIC_MAX;
	else if (!quic && snip > TW_SNIPPET_MAX)
		snip = TW_SNIPPET_MAX;
	if (snip > 0) {
		/* the same value in a form the verifier can bound: [1, MAX]
		 * (both maxima are powers of two) */
		if (quic)
			snip = ((snip - 1) & (TW_SNIPPET_QUIC_MAX - 1)) + 1;
		else
			snip = ((snip - 1) & (TW_SNIPPET_MAX - 1)) + 1;
		long rc;
		if (is_xdp)
			rc = bpf_xdp_load_bytes(ctx, r->pkt.payload_off, e->snippet, snip);
		else
			rc = bpf_skb_load_bytes(ctx, r->pkt.payload_off, e->snippet, snip);
		if (rc == 0) {
			e->snippet_len = (__u16)snip;
			e->len = (__u16)(sizeof(*e) + snip);
		} else {
			cnt->c[TW_CNT_SNIPPET_FAIL]++;
		}
	}
	cnt->c[TW_CNT_EVENTS]++;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

__noinline int tw_emit_xdp(struct xdp_md *ctx, struct tw_emit_req *r, struct tw_flow *f)
{
	return tw_emit(ctx, 1, r, f);
}

__noinline int tw_emit_tc(struct __sk_buff *ctx, struct tw_emit_req *r, struct tw_flow *f)
{
	return tw_emit(ctx, 0, r, f);
}

/* TCP options of a SYN: copied out with one helper call, parsed on the
 * stack copy (see tw_parse_tcp_opts).  A subprogram of its own: the copy's
 * frame is not added to tw_handle's, which also calls the emit functions. */
static __noinline void tw_syn_opts(void *ctx, int is_xdp, struct tw_pkt *p)
{
	__u8 buf[TW_TCP_OPT_BUF];
	__u32 n = p->opt_len;
	__u32 off = p->payload_off - n;
	long rc;

	if (n > 40)
		n = 40;
	n = ((n - 1) & 63) + 1; /* [1, 64] for the verifier; n is already 1..40 */
	if (n > 40)
		return;
	if (is_xdp)
		rc = bpf_xdp_load_bytes(ctx, off, buf, n);
	else
		rc = bpf_skb_load_bytes(ctx, off, buf, n);
	if (rc == 0)
		tw_parse_tcp_opts(buf, n, p);
}

static __always_inline __u64 tw_now(int precise)
{
	if (tw_cfg_replay)
		return tw_replay_now;
	return precise ? bpf_ktime_get_ns() : bpf_ktime_get_coarse_ns();
}

/* Everything after the flow lookup: the clock, the classifier core, the
 * events.  Global functions (verified once): a pointer into tw_flows4 and
 * one into tw_flows6 differ to the verifier, and inlined, everything after
 * the lookup was verified once per table and path (close to the verifier's
 * limit of a million instructions).  One per hook (the emit differs).
 * Debian 12's 6.1 verifier prunes less: with the classifier core inlined
 * into tw_handle it gave up after 1 M instructions processed ("BPF program
 * is too large", E2BIG); tests/kmod/test_bpf_guest.sh loads it there. */
static __always_inline int tw_flow_pkt(void *ctx, int is_xdp, struct tw_emit_req *r, struct tw_flow *f, __u32 is_new)
{
	if (!r || !f)
		return 0;
	struct tw_pkt *pp = &r->pkt;
	/* Steady state (established TCP data/ACK with both sides' payload
	 * already seen) takes the coarse clock; everything else may be
	 * evidence and gets the precise one. */
	int precise =
	        is_new || pp->proto != TW_PROTO_TCP || (pp->tcp_flags & (TW_TCP_SYN | TW_TCP_FIN | TW_TCP_RST)) ||
	        f->state != TW_TCP_ESTABLISHED ||
	        (f->flags & (TW_FLOW_CLIENT_DATA | TW_FLOW_SERVER_DATA)) != (TW_FLOW_CLIENT_DATA | TW_FLOW_SERVER_DATA);
	__u64 now = tw_now(precise);

	int dir = tw_pkt_dir(f, (int)r->src_is_b);
	__u32 ev = tw_track(f, pp, dir, now, r->segs, r->frame_len, &r->pc);
	if (!ev)
		return 0;

	if (r->v4)
		tw_flow_key_of4(&r->key4, &r->key);
	r->now = now;
	r->dir = dir;
#pragma clang loop unroll(disable)
	for (__u32 t = 1; t < TW_EV_TYPE_MAX; t++) {
		if (!(ev & TW_EVBIT(t)))
			continue;
		r->type = t;
		if (is_xdp)
			tw_emit_xdp(ctx, r, f);
		else
			tw_emit_tc(ctx, r, f);
	}
	return 0;
}

__noinline int tw_flow_pkt_xdp(struct xdp_md *ctx, struct tw_emit_req *r, struct tw_flow *f, __u32 is_new)
{
	return tw_flow_pkt(ctx, 1, r, f, is_new);
}

__noinline int tw_flow_pkt_tc(struct __sk_buff *ctx, struct tw_emit_req *r, struct tw_flow *f, __u32 is_new)
{
	return tw_flow_pkt(ctx, 0, r, f, is_new);
}

static __always_inline int tw_handle(void *ctx, int is_xdp, void *data, void *data_end, __u32 frame_len, __u32 segs,
                                     __u32 ifindex)
{
	__u32 zero = 0;
	struct tw_counters *cnt = bpf_map_lookup_elem(&tw_stats, &zero);
	if (!cnt)
		return 0;
	cnt->c[TW_CNT_PACKETS] += segs;
	cnt->c[TW_CNT_BYTES] += frame_len;

	/* the request lives in tw_req, not on the stack: three frames deep
	 * (tw_handle, tw_flow_pkt_*, tw_emit_*) it would not fit in 512 B */
	struct tw_emit_req *rq = bpf_map_lookup_elem(&tw_req, &zero);
	if (!rq)
		return 0;
	__builtin_memset(rq, 0, sizeof(*rq));
	struct tw_pkt *pp = &rq->pkt;
	int rc = tw_parse(data, data_end, pp);
	if (rc != TW_PARSE_OK) {
		if (rc > 0 && rc < TW_PARSE_RESULT_MAX)
			cnt->c[TW_CNT_PARSE_BASE + rc]++;
		return 0;
	}
	cnt->c[TW_CNT_TRACKED]++;
	if (tw_cfg_pfx_on && tw_pfx_count(pp, frame_len, segs))
		cnt->c[TW_CNT_PFX_INSERT_FAIL]++;
	if ((pp->tcp_flags & TW_TCP_SYN) && pp->proto == TW_PROTO_TCP && pp->opt_len)
		tw_syn_opts(ctx, is_xdp, pp);

	/* one lookup, in the family's table; the full key (events, the
	 * sampling hash) is made from the compact one only when needed */
	int v4 = pp->family == TW_FAMILY_IPV4;
	int src_is_b;
	struct tw_flow *f;
	if (v4) {
		src_is_b = tw_flow_key4_make(pp, &rq->key4);
		f = bpf_map_lookup_elem(&tw_flows4, &rq->key4);
	} else {
		src_is_b = tw_flow_key_make(pp, &rq->key);
		f = bpf_map_lookup_elem(&tw_flows6, &rq->key);
	}
	int is_new = 0;
	if (!f) {
		if (v4)
			tw_flow_key_of4(&rq->key4, &rq->key);
		if (!tw_flow_sampled(&rq->key, tw_sample_n)) {
			cnt->c[TW_CNT_NOT_SAMPLED]++;
			return 0;
		}
		struct tw_flow *nf = bpf_map_lookup_elem(&tw_scratch, &zero);
		if (!nf)
			return 0;
		tw_flow_init(nf, pp, src_is_b, __sync_fetch_and_add(&tw_next_flow_id, 1) + 1);
		if (v4) {
			if (bpf_map_update_elem(&tw_flows4, &rq->key4, nf, BPF_NOEXIST) == 0)
				cnt->c[TW_CNT_FLOWS_NEW]++;
			f = bpf_map_lookup_elem(&tw_flows4, &rq->key4);
		} else {
			if (bpf_map_update_elem(&tw_flows6, &rq->key, nf, BPF_NOEXIST) == 0) {
				cnt->c[TW_CNT_FLOWS_NEW]++;
				cnt->c[TW_CNT_FLOWS_NEW_V6]++;
			}
			f = bpf_map_lookup_elem(&tw_flows6, &rq->key);
		}
		if (!f) {
			cnt->c[TW_CNT_FLOW_INSERT_FAIL]++;
			return 0;
		}
		is_new = 1;
	}

	rq->ifindex = tw_cfg_replay ? 0 : ifindex; /* test runs report lo */
	rq->frame_len = frame_len;
	rq->segs = segs;
	rq->src_is_b = (__u32)src_is_b;
	rq->v4 = (__u32)v4;
	if (is_xdp)
		return tw_flow_pkt_xdp(ctx, rq, f, (__u32)is_new);
	return tw_flow_pkt_tc(ctx, rq, f, (__u32)is_new);
}

SEC("xdp.frags")
int tw_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 len = bpf_xdp_get_buff_len(ctx);

	tw_handle(ctx, 1, data, data_end, len, 1, ctx->ingress_ifindex);
	return XDP_PASS_;
}

SEC("tc")
int tw_tc(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 segs = skb->gso_segs ? skb->gso_segs : 1;

	tw_handle(skb, 0, data, data_end, skb->len, segs, skb->ifindex);
	return TC_ACT_OK_;
}
