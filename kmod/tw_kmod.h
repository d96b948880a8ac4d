/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* tamperwatch kernel module: what its parts share.  The module is only a
 * backend: netfilter hooks that parse (hook.c), a flow table (flows.c),
 * per-prefix counters (pfx.c) and generic netlink (genl.c); every decision
 * is the classifier core's, from include/tamperwatch/.
 */
#ifndef TW_KMOD_H
#define TW_KMOD_H

#include <linux/percpu.h>
#include <linux/skbuff.h>
#include <linux/netdevice.h>
#include <net/genetlink.h>
#include <tamperwatch/classify.h>
#include <tamperwatch/prefix.h>
#include <tamperwatch/maps.h>
#include <tamperwatch/genl.h>
#include <tamperwatch/sample.h>

/* --- per-CPU counters (enum tw_counter, struct tw_counters of event.h, as
 * the BPF program's tw_stats) ---
 */
extern struct tw_counters __percpu *tw_stats;

static inline void tw_count(int idx, u64 n)
{
	this_cpu_add(tw_stats->c[idx], n);
}

/* --- flow table (flows.c) --- */
struct tw_kflow {
	struct hlist_node node;
	struct rcu_head rcu;
	struct tw_flow_key key;
	struct tw_flow flow;
};

int tw_flows_init(u32 limit);
void tw_flows_exit(void);
void tw_flows_set_limit(u32 max_flows);
u32 tw_flows_limit(void);
/* under rcu_read_lock */
struct tw_kflow *tw_flow_lookup(const struct tw_flow_key *k);
/* NULL when the table is full or out of memory; *created tells which */
struct tw_kflow *tw_flow_insert(const struct tw_flow_key *k, const struct tw_pkt *p, int src_is_b,
				int *created);
int tw_flow_delete(const struct tw_flow_key *k);
/* dump cursor in cb->args[0..1] */
int tw_flows_dump(struct sk_buff *skb, struct netlink_callback *cb);
u64 tw_flows_count(void);
u64 tw_flows_objs(void);
u64 tw_flows_evicted(void);

/* --- per-prefix counters (pfx.c) --- */
int tw_pfx_init(void);
void tw_pfx_exit(void);
int tw_pfx_configure(int on, u32 v4, u32 v6);
/* first: a new set (a daemon starting): counting starts over */
int tw_pfx_set_nets(const struct tw_lpm_key *nets, u32 n, bool first);
/* 0 counted or not a client network; -1 the prefix table is full */
int tw_pfx_count(const struct tw_pkt *p, u32 frame_len, u32 segs);
bool tw_pfx_on(void);
int tw_pfx_dump_start(struct netlink_callback *cb);
int tw_pfx_dump(struct sk_buff *skb, struct netlink_callback *cb);
u64 tw_pfx_entries(void);

/* --- netfilter hooks (hook.c) --- */
/* 1-in-N flow sampling in force (TW_CMD_SET_CONFIG's TW_A_SAMPLE) */
void tw_sample_set(u32 n);
int tw_hooks_init(void);
void tw_hooks_exit(void);
int tw_iface_add(struct net *net, const char *name, u8 hook);
int tw_iface_del(struct net *net, const char *name);
int tw_iface_param(const char *spec, u8 default_hook);

/* --- generic netlink (genl.c) --- */
extern struct genl_family tw_genl_family;
/* A dump over RCU hash buckets, one entry per put(); the cursor (bucket,
 * entries of it sent) is kept in cb->args[argi] and cb->args[argi + 1].  An
 * entry added or removed between two messages may be missed or sent twice,
 * as with the BPF map's get_next_key walk.
 */
int tw_genl_dump_buckets(struct sk_buff *skb, struct netlink_callback *cb, int argi, u32 nbuckets,
			 struct hlist_head *(*head)(u32 i),
			 int (*put)(struct sk_buff *skb, struct netlink_callback *cb,
				    struct hlist_node *n));
int tw_genl_init(void);
void tw_genl_exit(void);

/* Everything an event needs from the packet's handler. */
struct tw_emit_req {
	struct tw_flow_key key;
	struct tw_pkt pkt;
	struct tw_pkt_ctx pc;
	u64 now;
	u32 ifindex;
	u32 frame_len;
	u32 dir;
	u32 type;
	const struct sk_buff *skb;
	int l3_off; /* offset of the IP header in skb (the frame's byte 14) */
};

void tw_genl_emit(const struct tw_emit_req *r, const struct tw_flow *f);

#endif
