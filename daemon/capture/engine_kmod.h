/* The kernel module engine: kmod/ loaded into this kernel, driven over its
 * generic netlink family (include/tamperwatch/genl.h) with libnl-genl.
 * Live only: the module watches the interfaces it is given with netfilter
 * hooks and multicasts the same event records as the BPF ring buffer. */
#ifndef TW_ENGINE_KMOD_H
#define TW_ENGINE_KMOD_H
#include "capture/engine.h"
#include <tamperwatch/genl.h>

/* hook: enum tw_genl_hook for every interface.  NULL with one line in err
 * (module missing, another API version, an interface refused). */
struct tw_engine *tw_engine_kmod_new(const struct tw_record_sink *events, const char *const *ifaces, int nif, int hook,
                                     uint32_t max_flows, const struct tw_prefix_opts *pfx, char *err, size_t errlen);
#endif
