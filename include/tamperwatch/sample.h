/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Flow sampling, 1 in N, shared by every backend (the BPF programs, the
 * kernel module, the userspace engine), so that all of them keep exactly
 * the same flows.  The decision is a hash of the canonical key
 * (tw_flow_key_make): both directions of a connection give the same key,
 * so they are kept or left out together.  A flow is kept when its 32-bit
 * hash h satisfies h * N < 2^32, i.e. h lies in the lowest 1/N of the hash
 * space: a flow kept at N is kept at every smaller N too (raising the rate
 * from 2 to 4 leaves out only flows that 2 already kept some of, never
 * adds one), and no division is needed in BPF.
 *
 * The hash is over the key's fields, not its bytes (a change of the key's
 * layout does not move flows in or out), unseeded: every backend and every
 * run keeps the same flows of the same traffic (tests/bpf compares them).
 * Prefix counters (prefix.h, shutdown detection) are never sampled. */
#ifndef TAMPERWATCH_SAMPLE_H
#define TAMPERWATCH_SAMPLE_H

#include "types.h"
#include "flow.h"

#define TW_SAMPLE_MAX 65536 /* flows.sample and flows.sample_max at most */

static __always_inline __u64 tw_sample_mix(__u64 h, __u64 w)
{
	h ^= w;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 32;
	return h;
}

/* 32-bit hash of a canonical flow key (its fields, in a fixed order). */
static __always_inline __u32 tw_flow_sample_hash(const struct tw_flow_key *k)
{
	__u64 a0, a1, b0, b1;
	__u64 h = 0x9e3779b97f4a7c15ull;

	__builtin_memcpy(&a0, k->addr_a, 8);
	__builtin_memcpy(&a1, k->addr_a + 8, 8);
	__builtin_memcpy(&b0, k->addr_b, 8);
	__builtin_memcpy(&b1, k->addr_b + 8, 8);
	h = tw_sample_mix(h, a0);
	h = tw_sample_mix(h, a1);
	h = tw_sample_mix(h, b0);
	h = tw_sample_mix(h, b1);
	h = tw_sample_mix(h,
	                  (__u64)k->port_a | (__u64)k->port_b << 16 | (__u64)k->family << 32 | (__u64)k->proto << 40);
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 29;
	return (__u32)(h >> 32);
}

/* 1: the flow of key k is tracked at 1-in-n sampling (n 0 or 1: every flow). */
static __always_inline int tw_flow_sampled(const struct tw_flow_key *k, __u32 n)
{
	if (n <= 1)
		return 1;
	return ((__u64)tw_flow_sample_hash(k) * n) >> 32 == 0;
}

#endif
