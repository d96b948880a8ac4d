// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Generic netlink: the "tamperwatch" family (include/tamperwatch/genl.h).
 * Events go to the "events" multicast group, one struct tw_event per
 * message.  An event that cannot be delivered (no daemon listening, its
 * socket full: the daemon sets NETLINK_BROADCAST_ERROR so a full socket is
 * reported here) is counted in TW_CNT_EVENTS_LOST on the CPU that made it,
 * as a full ring buffer is on the BPF path.  Commands need CAP_NET_ADMIN.
 */
#include <linux/cpumask.h>
#include "tw_kmod.h"

static const struct nla_policy tw_policy[TW_A_MAX + 1] = {
	[TW_A_MAX_FLOWS] = { .type = NLA_U32 },
	[TW_A_PFX_ON] = { .type = NLA_U8 },
	[TW_A_PFX_V4] = { .type = NLA_U8 },
	[TW_A_PFX_V6] = { .type = NLA_U8 },
	[TW_A_IFNAME] = { .type = NLA_NUL_STRING, .len = IFNAMSIZ - 1 },
	[TW_A_HOOK] = { .type = NLA_U8 },
	[TW_A_FLOW_KEY] = NLA_POLICY_EXACT_LEN(sizeof(struct tw_flow_key)),
	[TW_A_NETS] = { .type = NLA_BINARY, .len = TW_GENL_NETS_CHUNK * sizeof(struct tw_lpm_key) },
	[TW_A_NETS_FIRST] = { .type = NLA_FLAG },
	[TW_A_SAMPLE] = { .type = NLA_U32 }, /* 1..TW_SAMPLE_MAX, checked below (policy bounds are s16) */
};

static const struct genl_multicast_group tw_mcgrps[] = {
	{ .name = TW_GENL_MCGRP_EVENTS },
};

void tw_genl_emit(const struct tw_emit_req *r, const struct tw_flow *f)
{
	u16 server_port = r->dir == TW_DIR_C2S ? r->pkt.dport : r->pkt.sport;
	u32 snip = 0, len;
	struct tw_event *e;
	struct sk_buff *msg;
	struct nlattr *a;
	void *hdr;

	/* bounded as the BPF program bounds it: a QUIC client's first datagram
	 * up to TW_SNIPPET_QUIC_MAX, anything else up to TW_SNIPPET_MAX
	 */
	if (tw_event_wants_snippet(r->type) && r->pkt.payload_off < r->frame_len)
		snip = min3(r->frame_len - r->pkt.payload_off, (u32)r->pkt.payload_len,
			    tw_event_snippet_max(r->type, r->pkt.proto, server_port));
	if (!genl_has_listeners(&tw_genl_family, &init_net, 0))
		goto lost;
	len = sizeof(*e) + snip;
	msg = genlmsg_new(nla_total_size_64bit(len), GFP_ATOMIC);
	if (!msg)
		goto lost;
	hdr = genlmsg_put(msg, 0, 0, &tw_genl_family, 0, TW_CMD_EVENT);
	a = hdr ? nla_reserve_64bit(msg, TW_A_EVENT, len, TW_A_PAD) : NULL;
	if (!a) {
		nlmsg_free(msg);
		goto lost;
	}
	e = nla_data(a);
	tw_event_fill(e, (u16)r->type, &r->key, f, &r->pkt, &r->pc, r->dir, r->now, r->ifindex);
	if (snip) {
		/* payload_off counts the Ethernet header the hook put in front */
		int off = r->l3_off + r->pkt.payload_off - ETH_HLEN;

		if (skb_copy_bits(r->skb, off, e->snippet, snip) == 0) {
			e->snippet_len = snip;
			e->len = len;
		} else {
			memset(e->snippet, 0, snip);
			tw_count(TW_CNT_SNIPPET_FAIL, 1);
		}
	}
	genlmsg_end(msg, hdr);
	if (genlmsg_multicast(&tw_genl_family, msg, 0, 0, GFP_ATOMIC))
		goto lost;
	tw_count(TW_CNT_EVENTS, 1);
	return;
lost:
	tw_count(TW_CNT_EVENTS_LOST, 1);
}

int tw_genl_dump_buckets(struct sk_buff *skb, struct netlink_callback *cb, int argi, u32 nbuckets,
			 struct hlist_head *(*head)(u32 i),
			 int (*put)(struct sk_buff *skb, struct netlink_callback *cb,
				    struct hlist_node *n))
{
	u32 i = cb->args[argi];
	long skip = cb->args[argi + 1];

	rcu_read_lock();
	for (; i < nbuckets; i++, skip = 0) {
		struct hlist_node *n;
		long pos = 0;

		__hlist_for_each_rcu(n, head(i)) {
			if (pos < skip) {
				pos++;
				continue;
			}
			if (put(skb, cb, n)) {
				/* full: this entry opens the next message */
				rcu_read_unlock();
				cb->args[argi] = i;
				cb->args[argi + 1] = pos;
				return skb->len;
			}
			pos++;
		}
	}
	rcu_read_unlock();
	cb->args[argi] = i;
	cb->args[argi + 1] = 0;
	return skb->len;
}

static int tw_cmd_hello(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	void *hdr;

	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &tw_genl_family, 0, TW_CMD_HELLO);
	if (!hdr || nla_put_u32(msg, TW_A_API_VERSION, TW_GENL_API_VERSION) ||
	    nla_put_u32(msg, TW_A_EVENT_VERSION, TW_EVENT_VERSION) ||
	    nla_put_u32(msg, TW_A_NCPU, nr_cpu_ids) ||
	    nla_put_u32(msg, TW_A_MAX_FLOWS_LIMIT, tw_flows_limit())) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

static int tw_cmd_set_config(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr **a = info->attrs;
	int on = tw_pfx_on();

	if (a[TW_A_MAX_FLOWS]) {
		u32 n = nla_get_u32(a[TW_A_MAX_FLOWS]);

		if (n > tw_flows_limit()) {
			GENL_SET_ERR_MSG(info, "max flows above the module's max_flows parameter");
			return -ERANGE;
		}
		tw_flows_set_limit(n);
	}
	if (a[TW_A_SAMPLE]) {
		u32 n = nla_get_u32(a[TW_A_SAMPLE]);

		if (n < 1 || n > TW_SAMPLE_MAX) {
			GENL_SET_ERR_MSG(info, "flow sampling outside 1..65536");
			return -ERANGE;
		}
		tw_sample_set(n);
	}
	if (a[TW_A_PFX_ON])
		on = nla_get_u8(a[TW_A_PFX_ON]);
	if (a[TW_A_PFX_ON] || a[TW_A_PFX_V4] || a[TW_A_PFX_V6])
		return tw_pfx_configure(on, a[TW_A_PFX_V4] ? nla_get_u8(a[TW_A_PFX_V4]) : 24,
					a[TW_A_PFX_V6] ? nla_get_u8(a[TW_A_PFX_V6]) : 48);
	return 0;
}

static int tw_cmd_iface(struct sk_buff *skb, struct genl_info *info)
{
	const char *name;

	if (!info->attrs[TW_A_IFNAME])
		return -EINVAL;
	name = nla_data(info->attrs[TW_A_IFNAME]);
	if (info->genlhdr->cmd == TW_CMD_IFACE_DEL)
		return tw_iface_del(genl_info_net(info), name);
	return tw_iface_add(genl_info_net(info), name,
			    info->attrs[TW_A_HOOK] ? nla_get_u8(info->attrs[TW_A_HOOK])
						   : TW_HOOK_PREPOST);
}

static int tw_cmd_counters(struct sk_buff *skb, struct genl_info *info)
{
	size_t clen = (size_t)nr_cpu_ids * sizeof(struct tw_counters);
	struct sk_buff *msg = genlmsg_new(nla_total_size_64bit(clen) + 256, GFP_KERNEL);
	struct nlattr *a;
	void *hdr;
	int cpu;

	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &tw_genl_family, 0, TW_CMD_GET_COUNTERS);
	a = hdr ? nla_reserve_64bit(msg, TW_A_COUNTERS, clen, TW_A_PAD) : NULL;
	if (!a)
		goto nospace;
	memset(nla_data(a), 0, clen);
	for_each_possible_cpu(cpu)
		memcpy((u8 *)nla_data(a) + cpu * sizeof(struct tw_counters),
		       per_cpu_ptr(tw_stats, cpu), sizeof(struct tw_counters));
	if (nla_put_u64_64bit(msg, TW_A_FLOWS, tw_flows_count(), TW_A_PAD) ||
	    nla_put_u64_64bit(msg, TW_A_FLOW_OBJS, tw_flows_objs(), TW_A_PAD) ||
	    nla_put_u64_64bit(msg, TW_A_EVICTED, tw_flows_evicted(), TW_A_PAD) ||
	    nla_put_u64_64bit(msg, TW_A_PFX_COUNT, tw_pfx_entries(), TW_A_PAD))
		goto nospace;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
nospace:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

static int tw_cmd_flow_del(struct sk_buff *skb, struct genl_info *info)
{
	if (!info->attrs[TW_A_FLOW_KEY])
		return -EINVAL;
	return tw_flow_delete(nla_data(info->attrs[TW_A_FLOW_KEY]));
}

static int tw_cmd_client_nets(struct sk_buff *skb, struct genl_info *info)
{
	const struct nlattr *a = info->attrs[TW_A_NETS];
	u32 len = a ? nla_len(a) : 0;

	if (len % sizeof(struct tw_lpm_key)) {
		GENL_SET_ERR_MSG(info, "client networks: not a whole number of entries");
		return -EINVAL;
	}
	return tw_pfx_set_nets(a ? nla_data(a) : NULL, len / sizeof(struct tw_lpm_key),
			       nla_get_flag(info->attrs[TW_A_NETS_FIRST]));
}

static const struct genl_ops tw_ops[] = {
	{ .cmd = TW_CMD_HELLO, .doit = tw_cmd_hello, .flags = GENL_ADMIN_PERM },
	{ .cmd = TW_CMD_SET_CONFIG, .doit = tw_cmd_set_config, .flags = GENL_ADMIN_PERM },
	{ .cmd = TW_CMD_IFACE_ADD, .doit = tw_cmd_iface, .flags = GENL_ADMIN_PERM },
	{ .cmd = TW_CMD_IFACE_DEL, .doit = tw_cmd_iface, .flags = GENL_ADMIN_PERM },
	{ .cmd = TW_CMD_GET_COUNTERS, .doit = tw_cmd_counters, .flags = GENL_ADMIN_PERM },
	{ .cmd = TW_CMD_FLOW_GET, .dumpit = tw_flows_dump, .flags = GENL_ADMIN_PERM },
	{ .cmd = TW_CMD_FLOW_DEL, .doit = tw_cmd_flow_del, .flags = GENL_ADMIN_PERM },
	{ .cmd = TW_CMD_CLIENT_NETS, .doit = tw_cmd_client_nets, .flags = GENL_ADMIN_PERM },
	{ .cmd = TW_CMD_PFX_POLL,
	  .start = tw_pfx_dump_start,
	  .dumpit = tw_pfx_dump,
	  .flags = GENL_ADMIN_PERM },
};

struct genl_family tw_genl_family __ro_after_init = {
	.name = TW_GENL_NAME,
	.version = TW_GENL_API_VERSION,
	.maxattr = TW_A_MAX,
	.policy = tw_policy,
	.module = THIS_MODULE,
	.ops = tw_ops,
	.n_ops = ARRAY_SIZE(tw_ops),
	.mcgrps = tw_mcgrps,
	.n_mcgrps = ARRAY_SIZE(tw_mcgrps),
	.resv_start_op = TW_CMD_PFX_POLL + 1,
};

int tw_genl_init(void)
{
	return genl_register_family(&tw_genl_family);
}

/* Waits for running commands and dumps; events already queued to a
 * socket belong to that socket.
 */
void tw_genl_exit(void)
{
	genl_unregister_family(&tw_genl_family);
}
