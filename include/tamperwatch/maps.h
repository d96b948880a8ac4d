/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Sizes of the kernel side's maps, used by the BPF program that declares
 * them and by the daemon that sizes, fills and reads them (the userspace
 * replay engine keeps the same prefix bound, so both backends count the
 * same prefixes).  Entries, except where a unit is named. */
#ifndef TAMPERWATCH_MAPS_H
#define TAMPERWATCH_MAPS_H
#include "types.h"

/* The kernel's flow tables (LRU, preallocated: the memory is taken at
 * load): tw_flows4, IPv4 flows under the 16-byte struct tw_flow_key4,
 * sized by flows.max; tw_flows6, IPv6 flows under the 40-byte struct
 * tw_flow_key, sized by flows.max_ipv6 (default flows.max / 8).  A packet
 * looks up one of them, chosen by its family.
 *
 * TW_FLOWS_DEFAULT, the default of flows.max: a gateway, ~10 k clients x
 * ~50 concurrent flows, with 2x headroom for bursts and scans.  Per flow
 * the kernel takes its element header (48 B), the key rounded up to 8 B,
 * the struct tw_flow and a 16-byte bucket (buckets are a power of two: a
 * size that is not one pays up to twice that): 256 B an IPv4 flow and
 * 280 B an IPv6 flow at these sizes, 305 MB of kernel memory for both
 * tables (bench_xdp, 2026-12-06 22:20, from the maps' own accounting; one
 * table of 1 Mi flows at 288 B took 302 MB before the split). */
#define TW_FLOWS_DEFAULT 1048576
#define TW_FLOWS6_SHARE 8 /* flows.max_ipv6 unset: flows.max / this (at least TW_FLOWS_MIN) */
#define TW_FLOWS_MIN 1024

/* flows.max_ipv6 in force: set (non-zero), or the share of flows.max. */
static inline __u32 tw_flows6_max(__u32 max_flows, __u32 max_ipv6)
{
	__u32 n = max_ipv6 ? max_ipv6 : max_flows / TW_FLOWS6_SHARE;
	return n < TW_FLOWS_MIN ? TW_FLOWS_MIN : n;
}

#define TW_RINGBUF_BYTES (8 << 20) /* tw_events: bytes, a power of two (a BPF ring buffer's rule) */
#define TW_CLIENT_NETS_MAX 4096    /* tw_client_nets (LPM): client networks of regions.file */
#define TW_PFX_MAX 65536           /* tw_pfx: client prefixes counted at once (not LRU: see the BPF program) */
TW_STATIC_ASSERT((TW_RINGBUF_BYTES & (TW_RINGBUF_BYTES - 1)) == 0, "ring buffer size: a power of two");

#endif
