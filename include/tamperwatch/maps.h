/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Sizes of the kernel side's maps, used by the BPF program that declares
 * them and by the daemon that sizes, fills and reads them (the userspace
 * replay engine keeps the same prefix bound, so both backends count the
 * same prefixes).  Entries, except where a unit is named. */
#ifndef TAMPERWATCH_MAPS_H
#define TAMPERWATCH_MAPS_H
#include "types.h"

/* tw_flows (LRU): the default of flows.max, which sizes it at load.  A
 * gateway: ~10 k clients x ~50 concurrent flows, with 2x headroom for
 * bursts and scans.  The map is preallocated: per flow the kernel's element
 * header (48 B), the 40-byte key, the 184-byte struct tw_flow and a 16-byte
 * bucket (buckets are a power of two: a size that is not one pays up to
 * twice that), 288 B a flow at this size (make bench reads it from the
 * map's own accounting), so ~300 MB of kernel memory. */
#define TW_FLOWS_DEFAULT 1048576

#define TW_RINGBUF_BYTES (8 << 20) /* tw_events: bytes, a power of two (a BPF ring buffer's rule) */
#define TW_CLIENT_NETS_MAX 4096    /* tw_client_nets (LPM): client networks of regions.file */
#define TW_PFX_MAX 65536           /* tw_pfx: client prefixes counted at once (not LRU: see the BPF program) */
TW_STATIC_ASSERT((TW_RINGBUF_BYTES & (TW_RINGBUF_BYTES - 1)) == 0, "ring buffer size: a power of two");

#endif
