// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Netfilter hooks: IPv4 and IPv6, pre-routing and post-routing or forward,
 * per watched interface.  Every hook returns NF_ACCEPT and never writes the
 * packet: it is copied out with skb_header_pointer and handed to the core.
 *
 * The core parses Ethernet frames (XDP's view), so the handler puts an
 * Ethernet header in front of the copied IP headers; a frame then counts
 * ETH_HLEN + the IP length, as XDP on the wire without padding.  Hooks sit
 * first in pre-routing and forward (before defragmentation: fragments are
 * seen as on the wire) and last in post-routing (after NAT).
 */
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <linux/if_ether.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <net/net_namespace.h>
#include "tw_kmod.h"

/* 1-in-N flow sampling in force (include/tamperwatch/sample.h) */
static u32 tw_sample_n = 1;

void tw_sample_set(u32 n)
{
	WRITE_ONCE(tw_sample_n, n ? n : 1);
}

/* Header bytes copied for the parser: IPv6 with extension headers and a TCP
 * header with options.  Longer header chains are counted as TW_CNT_NONLINEAR.
 */
#define TW_HDR_MAX 320

#define TW_MAX_WATCH 16

struct tw_watch {
	int ifindex;
	u8 hook;
};

struct tw_watchset {
	int n;
	struct tw_watch w[TW_MAX_WATCH];
};

static struct tw_watchset __rcu *watching;
static DEFINE_MUTEX(watch_mutex);

/* Does this hook on this device see the packet for a watched interface? */
static bool watched(const struct nf_hook_state *st, const struct net_device **dev)
{
	const struct tw_watchset *ws = rcu_dereference(watching);
	int i;

	if (!ws)
		return false;
	for (i = 0; i < ws->n; i++) {
		const struct tw_watch *w = &ws->w[i];

		switch (st->hook) {
		case NF_INET_PRE_ROUTING:
			if (w->hook == TW_HOOK_PREPOST && st->in && st->in->ifindex == w->ifindex) {
				*dev = st->in;
				return true;
			}
			break;
		case NF_INET_POST_ROUTING:
			if (w->hook == TW_HOOK_PREPOST && st->out &&
			    st->out->ifindex == w->ifindex) {
				*dev = st->out;
				return true;
			}
			break;
		case NF_INET_FORWARD:
			if (w->hook != TW_HOOK_FORWARD)
				break;
			if (st->in && st->in->ifindex == w->ifindex) {
				*dev = st->in;
				return true;
			}
			if (st->out && st->out->ifindex == w->ifindex) {
				*dev = st->out;
				return true;
			}
			break;
		}
	}
	return false;
}

static void tw_handle(const struct sk_buff *skb, int pf, const struct net_device *dev)
{
	u8 frame[ETH_HLEN + TW_HDR_MAX] __aligned(8);
	struct tw_emit_req r = {};
	struct tw_pkt *p = &r.pkt;
	u32 segs = skb_is_gso(skb) ? skb_shinfo(skb)->gso_segs : 1;
	u32 frame_len = skb->len + ETH_HLEN;
	u32 copy = min_t(u32, skb->len, TW_HDR_MAX);
	int noff = skb_network_offset(skb);
	struct tw_kflow *kf;
	const void *hp;
	int rc, src_is_b, is_new = 0, precise, dir;
	u32 ev, t;
	u64 now;

	if (!segs)
		segs = 1;
	tw_count(TW_CNT_PACKETS, segs);
	tw_count(TW_CNT_BYTES, frame_len);

	memset(frame, 0, ETH_HLEN);
	*(__be16 *)(frame + 12) = htons(pf == NFPROTO_IPV4 ? ETH_P_IP : ETH_P_IPV6);
	hp = skb_header_pointer(skb, noff, copy, frame + ETH_HLEN);
	if (!hp) {
		tw_count(TW_CNT_PARSE_BASE + TW_PARSE_TRUNC_L3, 1);
		return;
	}
	if (hp != frame + ETH_HLEN)
		memcpy(frame + ETH_HLEN, hp, copy);

	rc = tw_parse(frame, frame + ETH_HLEN + copy, p);
	if (rc != TW_PARSE_OK) {
		bool clipped = copy < skb->len;

		if (clipped && (rc == TW_PARSE_TRUNC_L3 || rc == TW_PARSE_TRUNC_L4 ||
				rc == TW_PARSE_IPV6_EXT_LIMIT))
			tw_count(TW_CNT_NONLINEAR, 1);
		else if (rc > 0 && rc < TW_PARSE_RESULT_MAX)
			tw_count(TW_CNT_PARSE_BASE + rc, 1);
		return;
	}
	tw_count(TW_CNT_TRACKED, 1);
	if (tw_pfx_on() && tw_pfx_count(p, frame_len, segs))
		tw_count(TW_CNT_PFX_INSERT_FAIL, 1);
	if ((p->tcp_flags & TW_TCP_SYN) && p->proto == TW_PROTO_TCP && p->opt_len &&
	    p->payload_off <= ETH_HLEN + copy) {
		u8 opts[TW_TCP_OPT_BUF] = {};
		u32 n = min_t(u32, p->opt_len, 40);

		memcpy(opts, frame + p->payload_off - p->opt_len, n);
		tw_parse_tcp_opts(opts, n, p);
	}

	src_is_b = tw_flow_key_make(p, &r.key);
	kf = tw_flow_lookup(&r.key);
	if (!kf) {
		/* the BPF program's sampling (sample.h): decided on a miss */
		if (!tw_flow_sampled(&r.key, READ_ONCE(tw_sample_n))) {
			tw_count(TW_CNT_NOT_SAMPLED, 1);
			return;
		}
		kf = tw_flow_insert(&r.key, p, src_is_b, &is_new);
		if (is_new) {
			tw_count(TW_CNT_FLOWS_NEW, 1);
			if (r.key.family == TW_FAMILY_IPV6)
				tw_count(TW_CNT_FLOWS_NEW_V6, 1);
		}
		if (!kf) {
			tw_count(TW_CNT_FLOW_INSERT_FAIL, 1);
			return;
		}
		is_new = 1;
	}
	/* the BPF program's clock choice: precise where arrival time is evidence */
	precise = is_new || p->proto != TW_PROTO_TCP ||
		  (p->tcp_flags & (TW_TCP_SYN | TW_TCP_FIN | TW_TCP_RST)) ||
		  kf->flow.state != TW_TCP_ESTABLISHED ||
		  (kf->flow.flags & (TW_FLOW_CLIENT_DATA | TW_FLOW_SERVER_DATA)) !=
			  (TW_FLOW_CLIENT_DATA | TW_FLOW_SERVER_DATA);
	now = precise ? ktime_get_ns() : ktime_get_coarse_ns();
	dir = tw_pkt_dir(&kf->flow, src_is_b);
	ev = tw_track(&kf->flow, p, dir, now, segs, frame_len, &r.pc);
	if (!ev)
		return;
	r.now = now;
	r.ifindex = dev->ifindex;
	r.frame_len = frame_len;
	r.dir = dir;
	r.skb = skb;
	r.l3_off = noff;
	for (t = 1; t < TW_EV_TYPE_MAX; t++) {
		if (!(ev & TW_EVBIT(t)))
			continue;
		r.type = t;
		tw_genl_emit(&r, &kf->flow);
	}
}

static unsigned int tw_nf_hook(void *priv, struct sk_buff *skb, const struct nf_hook_state *st)
{
	const struct net_device *dev;

	if (!watched(st, &dev))
		return NF_ACCEPT;
	/* post-routing may run in process context: keep the per-CPU state ours */
	local_bh_disable();
	tw_handle(skb, st->pf, dev);
	local_bh_enable();
	return NF_ACCEPT;
}

#define TW_NF_OP(fam, num, prio)                                                                   \
	{                                                                                          \
		.hook = tw_nf_hook, .pf = (fam), .hooknum = (num), .priority = (prio)              \
	}

static const struct nf_hook_ops tw_nf_ops[] = {
	TW_NF_OP(NFPROTO_IPV4, NF_INET_PRE_ROUTING, NF_IP_PRI_FIRST),
	TW_NF_OP(NFPROTO_IPV4, NF_INET_FORWARD, NF_IP_PRI_FIRST),
	TW_NF_OP(NFPROTO_IPV4, NF_INET_POST_ROUTING, NF_IP_PRI_LAST),
	TW_NF_OP(NFPROTO_IPV6, NF_INET_PRE_ROUTING, NF_IP6_PRI_FIRST),
	TW_NF_OP(NFPROTO_IPV6, NF_INET_FORWARD, NF_IP6_PRI_FIRST),
	TW_NF_OP(NFPROTO_IPV6, NF_INET_POST_ROUTING, NF_IP6_PRI_LAST),
};

/* The watch set is replaced whole (RCU); the hooks read it without locks. */
static int watch_update(int ifindex, int add, u8 hook)
{
	struct tw_watchset *old, *ws;
	int i, rc = 0;

	mutex_lock(&watch_mutex);
	old = rcu_dereference_protected(watching, lockdep_is_held(&watch_mutex));
	ws = kzalloc(sizeof(*ws), GFP_KERNEL);
	if (!ws) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; old && i < old->n; i++)
		if (old->w[i].ifindex != ifindex)
			ws->w[ws->n++] = old->w[i];
	if (add) {
		if (ws->n == TW_MAX_WATCH) {
			kfree(ws);
			rc = -ENOSPC;
			goto out;
		}
		ws->w[ws->n].ifindex = ifindex;
		ws->w[ws->n].hook = hook;
		ws->n++;
	} else if (old && ws->n == old->n) {
		kfree(ws);
		rc = -ENOENT;
		goto out;
	}
	rcu_assign_pointer(watching, ws);
	mutex_unlock(&watch_mutex);
	/* hooks still on the old set finish first: after IFACE_DEL no event of
	 * that interface is sent, so the daemon's last drain gets them all
	 */
	synchronize_net();
	kfree(old);
	return 0;
out:
	mutex_unlock(&watch_mutex);
	return rc;
}

/* Interfaces of the initial network namespace: the hooks are registered there. */
static int ifindex_of(struct net *net, const char *name)
{
	struct net_device *dev;
	int ifindex;

	if (net != &init_net)
		return -EOPNOTSUPP;
	dev = dev_get_by_name(net, name);
	if (!dev)
		return -ENODEV;
	ifindex = dev->ifindex;
	dev_put(dev);
	return ifindex;
}

int tw_iface_add(struct net *net, const char *name, u8 hook)
{
	int ifindex = ifindex_of(net, name);

	if (hook > TW_HOOK_FORWARD)
		return -EINVAL;
	return ifindex < 0 ? ifindex : watch_update(ifindex, 1, hook);
}

int tw_iface_del(struct net *net, const char *name)
{
	int ifindex = ifindex_of(net, name);

	return ifindex < 0 ? ifindex : watch_update(ifindex, 0, 0);
}

/* "eth0,eth1:forward": the ifaces= module parameter */
int tw_iface_param(const char *spec, u8 default_hook)
{
	char *s = kstrdup(spec, GFP_KERNEL), *cur, *tok;
	int rc = 0;

	if (!s)
		return -ENOMEM;
	cur = s;
	while (!rc && (tok = strsep(&cur, ",")) != NULL) {
		char *mode = strchr(tok, ':');
		u8 hook = default_hook;

		if (!*tok)
			continue;
		if (mode) {
			*mode++ = 0;
			if (!strcmp(mode, "forward"))
				hook = TW_HOOK_FORWARD;
			else if (!strcmp(mode, "prepost"))
				hook = TW_HOOK_PREPOST;
			else
				rc = -EINVAL;
		}
		if (!rc)
			rc = tw_iface_add(&init_net, tok, hook);
		if (rc)
			pr_err("tamperwatch: ifaces=%s: %s: error %d\n", spec, tok, rc);
	}
	kfree(s);
	return rc;
}

int tw_hooks_init(void)
{
	return nf_register_net_hooks(&init_net, tw_nf_ops, ARRAY_SIZE(tw_nf_ops));
}

/* After this no hook runs (unregistering waits for the ones in flight). */
void tw_hooks_exit(void)
{
	struct tw_watchset *ws;

	nf_unregister_net_hooks(&init_net, tw_nf_ops, ARRAY_SIZE(tw_nf_ops));
	synchronize_net();
	ws = rcu_dereference_protected(watching, 1);
	RCU_INIT_POINTER(watching, NULL);
	kfree(ws);
}
