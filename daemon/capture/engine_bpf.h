/* The BPF engine: the real bpf/tamperwatch.bpf.c object, loaded into this
 * kernel.  Live it is attached to links (attach.c) and its ring buffer is
 * polled; on replay every frame goes through BPF_PROG_TEST_RUN with the
 * capture's timestamp handed to the program through .bss. */
#ifndef TW_ENGINE_BPF_H
#define TW_ENGINE_BPF_H
#include "capture/engine.h"

/* max_flows sizes the kernel's IPv4 flow map (flows.max), max_ipv6 its
 * IPv6 one (flows.max_ipv6; 0: the default share, maps.h); ring_bytes the
 * event ring buffer (events.ring_size, a power of two of whole pages; 0:
 * the default, TW_RINGBUF_BYTES). */
/* pfx NULL: no per-prefix counters. */
struct tw_engine *tw_engine_bpf_new(const struct tw_record_sink *events, int replay, uint32_t max_flows,
                                    uint32_t max_ipv6, uint32_t ring_bytes, const struct tw_prefix_opts *pfx,
                                    char *err, size_t errlen);
/* xdp 0: the TC program, which a replay engine does not load (-1). */
int tw_engine_bpf_prog_fd(struct tw_engine *e, int xdp);
/* Live: wait up to timeout_ms for events and hand them to the record sink. */
int tw_engine_bpf_poll(struct tw_engine *e, int timeout_ms);
/* One clear line for why BPF cannot be used here (root, BTF, bpf()). */
int tw_bpf_preflight(char *err, size_t errlen);
#endif
