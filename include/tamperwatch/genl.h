/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The kernel module's generic netlink API (kmod/, daemon/capture/
 * engine_kmod.c).  Events travel on the multicast group as the same
 * struct tw_event records the BPF ring buffer carries; commands configure
 * the module and read its counters, flows and per-prefix counters.
 * TW_GENL_API_VERSION is bumped on any change here or in the records; the
 * daemon refuses a module that speaks another one. */
#ifndef TAMPERWATCH_GENL_H
#define TAMPERWATCH_GENL_H

#include "types.h"
#include "flow.h"
#include "prefix.h"
#include "maps.h"

#define TW_GENL_NAME "tamperwatch"
#define TW_GENL_MCGRP_EVENTS "events"
#ifndef TW_GENL_API_VERSION   /* the kmod test builds a module of another version */
#define TW_GENL_API_VERSION 2 /* 2: TW_A_SAMPLE, TW_CNT_NOT_SAMPLED */
#endif

enum tw_genl_cmd {
	TW_CMD_UNSPEC,
	TW_CMD_HELLO,        /* reply: API_VERSION, EVENT_VERSION, NCPU, MAX_FLOWS_LIMIT */
	TW_CMD_SET_CONFIG,   /* MAX_FLOWS, PFX_ON, PFX_V4, PFX_V6, SAMPLE (each optional) */
	TW_CMD_IFACE_ADD,    /* IFNAME [HOOK]: watch an interface */
	TW_CMD_IFACE_DEL,    /* IFNAME */
	TW_CMD_GET_COUNTERS, /* reply: COUNTERS, FLOWS, FLOW_OBJS, EVICTED, PFX_COUNT */
	TW_CMD_FLOW_GET,     /* dump: one FLOW per message */
	TW_CMD_FLOW_DEL,     /* FLOW_KEY */
	TW_CMD_CLIENT_NETS,  /* NETS [NETS_FIRST]: adds client networks; FIRST starts over */
	TW_CMD_PFX_POLL,     /* dump: closes the sketch epoch, one PFX per message */
	TW_CMD_EVENT,        /* multicast only: EVENT */
	__TW_CMD_MAX
};

enum tw_genl_attr {
	TW_A_UNSPEC,
	TW_A_PAD,
	TW_A_API_VERSION,     /* u32 */
	TW_A_EVENT_VERSION,   /* u32 */
	TW_A_NCPU,            /* u32: CPUs the per-CPU counters cover */
	TW_A_MAX_FLOWS,       /* u32: flow table size (flows.max) */
	TW_A_MAX_FLOWS_LIMIT, /* u32: the module's max_flows parameter */
	TW_A_PFX_ON,          /* u8 */
	TW_A_PFX_V4,          /* u8 */
	TW_A_PFX_V6,          /* u8 */
	TW_A_IFNAME,          /* string */
	TW_A_HOOK,            /* u8: enum tw_genl_hook */
	TW_A_COUNTERS,        /* binary: NCPU x __u64[TW_CNT_MAX], CPU by CPU */
	TW_A_FLOWS,           /* u64: flows in the table */
	TW_A_FLOW_OBJS,       /* u64: flow objects allocated, freed or not yet */
	TW_A_EVICTED,         /* u64: flows the module evicted idle (no daemon sweep) */
	TW_A_PFX_COUNT,       /* u64: prefixes counted */
	TW_A_FLOW,            /* binary: struct tw_genl_flow */
	TW_A_FLOW_KEY,        /* binary: struct tw_flow_key */
	TW_A_NETS,            /* binary: array of struct tw_lpm_key */
	TW_A_PFX,             /* binary: struct tw_genl_pfx */
	TW_A_EVENT,           /* binary: struct tw_event + snippet */
	TW_A_NETS_FIRST,      /* flag: the first chunk of client networks */
	TW_A_SAMPLE,          /* u32: 1-in-N flow sampling in force (sample.h), 1..TW_SAMPLE_MAX */
	__TW_A_MAX
};
#define TW_A_MAX (__TW_A_MAX - 1)

/* Where an interface's packets are seen. */
enum tw_genl_hook {
	TW_HOOK_PREPOST = 0, /* pre-routing in and post-routing out of it (default) */
	TW_HOOK_FORWARD = 1, /* forwarded packets entering or leaving it */
};

struct tw_genl_flow {
	struct tw_flow_key key;
	struct tw_flow flow;
};

/* One counted prefix at a poll: counters summed over CPUs, the sketch of
 * the epoch the poll closed (ORed over CPUs). */
struct tw_genl_pfx {
	struct tw_pfx_key key;
	__u32 reserved;
	__u64 packets, bytes, new_flows;
	__u64 class_packets[TW_PFX_NCLASS];
	__u64 clients[TW_PFX_SKETCH_WORDS];
};
TW_STATIC_ASSERT(sizeof(struct tw_genl_pfx) == 24 + (3 + TW_PFX_NCLASS + TW_PFX_SKETCH_WORDS) * 8, "tw_genl_pfx");

#define TW_GENL_MAX_NETS TW_CLIENT_NETS_MAX /* client networks (as the BPF LPM map) */
#define TW_GENL_NETS_CHUNK 2048             /* per message: an attribute holds < 64 KiB */

#endif
