// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Per-client-prefix counters for shutdown detection, as the BPF program's
 * tw_client_nets and tw_pfx maps: the keys, the values and the accounting
 * are include/tamperwatch/prefix.h's.  The client networks are kept as a
 * sorted array of disjoint networks (nested ones fold into the outer one:
 * only membership matters), found by binary search.  Prefixes live in a
 * hash with per-CPU values; like the BPF map it never evicts (an evicted
 * prefix would look like a shutdown) and refuses new ones when full.
 */
#include <linux/jhash.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/vmalloc.h>
#include "tw_kmod.h"

#define TW_PFX_BUCKETS 16384

struct tw_net {
	u8 family;
	u8 plen;
	u8 addr[16]; /* host bits zero */
};

struct tw_nets {
	struct rcu_head rcu;
	u32 n;
	struct tw_net e[];
};

struct tw_kpfx {
	struct hlist_node node;
	struct rcu_head rcu;
	struct tw_pfx_key key;
	struct tw_pfx_val __percpu *val;
};

static struct tw_nets __rcu *client_nets;
static struct hlist_head *pfx_buckets;
static DEFINE_SPINLOCK(pfx_lock); /* inserts and clears */
static atomic_t pfx_count = ATOMIC_INIT(0);
static atomic64_t pfx_objs = ATOMIC64_INIT(0); /* allocated, not yet freed */
static u32 pfx_v4 = 24, pfx_v6 = 48;
static bool pfx_enabled;
static u64 pfx_epoch;
static DEFINE_MUTEX(pfx_poll_mutex); /* one epoch move at a time */

bool tw_pfx_on(void)
{
	return READ_ONCE(pfx_enabled);
}

static void mask_addr(u8 *a, u32 plen)
{
	int i;

	for (i = 0; i < 16; i++) {
		int keep = (int)plen - i * 8;

		a[i] &= keep >= 8 ? 0xff : keep <= 0 ? 0 : (u8)(0xff << (8 - keep));
	}
}

static int net_cmp(const void *a, const void *b)
{
	const struct tw_net *x = a, *y = b;
	int c = (int)x->family - (int)y->family;

	if (c)
		return c;
	c = memcmp(x->addr, y->addr, 16);
	if (c)
		return c;
	return (int)x->plen - (int)y->plen;
}

static bool net_contains(const struct tw_net *n, u8 family, const u8 *addr)
{
	u8 a[16];

	if (n->family != family)
		return false;
	memcpy(a, addr, 16);
	mask_addr(a, n->plen);
	return !memcmp(a, n->addr, 16);
}

static bool is_client(u8 family, const u8 *addr)
{
	const struct tw_nets *nets = rcu_dereference(client_nets);
	struct tw_net probe = { .family = family, .plen = 128 };
	int lo = 0, hi;

	if (!nets || !nets->n)
		return false;
	memcpy(probe.addr, addr, 16);
	/* the last network starting at or before the address */
	hi = nets->n - 1;
	if (net_cmp(&nets->e[0], &probe) > 0)
		return false;
	while (lo < hi) {
		int mid = lo + (hi - lo + 1) / 2;

		if (net_cmp(&nets->e[mid], &probe) <= 0)
			lo = mid;
		else
			hi = mid - 1;
	}
	return net_contains(&nets->e[lo], family, addr);
}

static struct hlist_head *pfx_bucket(const struct tw_pfx_key *k)
{
	return &pfx_buckets[jhash(k, sizeof(*k), 0) & (TW_PFX_BUCKETS - 1)];
}

static struct tw_kpfx *pfx_find(const struct tw_pfx_key *k)
{
	struct tw_kpfx *e;

	hlist_for_each_entry_rcu(e, pfx_bucket(k), node)
		if (!memcmp(&e->key, k, sizeof(*k)))
			return e;
	return NULL;
}

static struct tw_kpfx *pfx_insert(const struct tw_pfx_key *k)
{
	struct tw_kpfx *e;

	spin_lock_bh(&pfx_lock);
	e = pfx_find(k);
	if (e || atomic_read(&pfx_count) >= TW_PFX_MAX)
		goto out;
	e = kzalloc(sizeof(*e), GFP_ATOMIC);
	if (!e)
		goto out;
	e->val = alloc_percpu_gfp(struct tw_pfx_val, GFP_ATOMIC | __GFP_ZERO);
	if (!e->val) {
		kfree(e);
		e = NULL;
		goto out;
	}
	e->key = *k;
	atomic64_inc(&pfx_objs);
	atomic_inc(&pfx_count);
	hlist_add_head_rcu(&e->node, pfx_bucket(k));
out:
	spin_unlock_bh(&pfx_lock);
	return e;
}

/* BH disabled (the hook), so this CPU's value is ours alone */
int tw_pfx_count(const struct tw_pkt *p, u32 frame_len, u32 segs)
{
	struct tw_lpm_key lk;
	struct tw_pfx_key k = {};
	struct tw_kpfx *e;
	u32 plen = p->family == TW_FAMILY_IPV4 ? READ_ONCE(pfx_v4) : READ_ONCE(pfx_v6);
	u32 h = tw_pfx_keys(p, plen, &lk, &k);

	if (!is_client(p->family, p->daddr))
		return 0;
	e = pfx_find(&k);
	if (!e)
		e = pfx_insert(&k);
	if (!e)
		return -1;
	tw_pfx_account(this_cpu_ptr(e->val), p, frame_len, segs, h, READ_ONCE(pfx_epoch));
	return 0;
}

static void pfx_free_rcu(struct rcu_head *h)
{
	struct tw_kpfx *e = container_of(h, struct tw_kpfx, rcu);

	free_percpu(e->val);
	kfree(e);
	atomic64_dec(&pfx_objs);
}

static void pfx_clear(void)
{
	int i;

	spin_lock_bh(&pfx_lock);
	for (i = 0; i < TW_PFX_BUCKETS; i++) {
		struct hlist_node *tmp;
		struct tw_kpfx *e;

		hlist_for_each_entry_safe(e, tmp, &pfx_buckets[i], node) {
			hlist_del_rcu(&e->node);
			atomic_dec(&pfx_count);
			call_rcu(&e->rcu, pfx_free_rcu);
		}
	}
	spin_unlock_bh(&pfx_lock);
}

int tw_pfx_configure(int on, u32 v4, u32 v6)
{
	if (v4 > 32 || v6 > 128)
		return -EINVAL;
	WRITE_ONCE(pfx_v4, v4);
	WRITE_ONCE(pfx_v6, v6);
	WRITE_ONCE(pfx_enabled, !!on);
	return 0;
}

/* The client networks arrive in chunks (an attribute holds < 64 KiB): the
 * raw entries are staged and the lookup array rebuilt after each chunk.
 */
static struct tw_net *staged;
static u32 staged_n;
static DEFINE_MUTEX(nets_mutex);

static int net_from_key(const struct tw_lpm_key *k, struct tw_net *n)
{
	u8 fam = k->data[0];
	u32 plen = k->prefixlen - 8;

	if (k->prefixlen < 8 || (fam != TW_FAMILY_IPV4 && fam != TW_FAMILY_IPV6) ||
	    plen > (fam == TW_FAMILY_IPV4 ? 32u : 128u))
		return -EINVAL;
	n->family = fam;
	n->plen = plen;
	memcpy(n->addr, k->data + 1, 16);
	if (fam == TW_FAMILY_IPV4)
		memset(n->addr + 4, 0, 12);
	mask_addr(n->addr, plen);
	return 0;
}

int tw_pfx_set_nets(const struct tw_lpm_key *in, u32 n, bool first)
{
	struct tw_nets *nets, *old;
	u32 i, kept = 0;
	int rc = 0;

	mutex_lock(&nets_mutex);
	if (first)
		staged_n = 0;
	if (n > TW_GENL_MAX_NETS - staged_n) {
		rc = -E2BIG;
		goto out;
	}
	for (i = 0; i < n; i++) {
		rc = net_from_key(&in[i], &staged[staged_n + i]);
		if (rc)
			goto out;
	}
	staged_n += n;
	nets = kvzalloc(struct_size(nets, e, staged_n), GFP_KERNEL);
	if (!nets) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(nets->e, staged, staged_n * sizeof(*staged));
	sort(nets->e, staged_n, sizeof(nets->e[0]), net_cmp, NULL);
	/* networks are nested or disjoint: drop those inside the one before */
	for (i = 0; i < staged_n; i++) {
		if (kept && net_contains(&nets->e[kept - 1], nets->e[i].family, nets->e[i].addr))
			continue;
		nets->e[kept++] = nets->e[i];
	}
	nets->n = kept;
	spin_lock_bh(&pfx_lock);
	old = rcu_replace_pointer(client_nets, nets, lockdep_is_held(&pfx_lock));
	spin_unlock_bh(&pfx_lock);
	if (old)
		kvfree_rcu(old, rcu);
	if (first)
		pfx_clear();
out:
	mutex_unlock(&nets_mutex);
	return rc;
}

u64 tw_pfx_entries(void)
{
	return atomic_read(&pfx_count);
}

/* A poll closes the sketch epoch: writers move to the other bank, the
 * closed one is read (prefix.h).
 */
int tw_pfx_dump_start(struct netlink_callback *cb)
{
	mutex_lock(&pfx_poll_mutex);
	cb->args[0] = READ_ONCE(pfx_epoch);
	/* pairs with the hooks' READ_ONCE: they move to the other bank */
	smp_store_release(&pfx_epoch, cb->args[0] + 1);
	mutex_unlock(&pfx_poll_mutex);
	cb->args[1] = 0;
	cb->args[2] = 0;
	return 0;
}

static void pfx_sum(const struct tw_kpfx *e, u64 closed, struct tw_genl_pfx *s)
{
	int cpu, j;

	memset(s, 0, sizeof(*s));
	s->key = e->key;
	for_each_possible_cpu(cpu) {
		const struct tw_pfx_val *v = per_cpu_ptr(e->val, cpu);

		s->packets += v->packets;
		s->bytes += v->bytes;
		s->new_flows += v->new_flows;
		for (j = 0; j < TW_PFX_NCLASS; j++)
			s->class_packets[j] += v->class_packets[j];
		if (v->sk_epoch[closed & 1] == closed)
			for (j = 0; j < TW_PFX_SKETCH_WORDS; j++)
				s->clients[j] |= v->clients[closed & 1][j];
	}
}

static int put_pfx(struct sk_buff *skb, struct netlink_callback *cb, struct hlist_node *n)
{
	struct nlattr *a;
	void *hdr;

	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq, &tw_genl_family,
			  NLM_F_MULTI, TW_CMD_PFX_POLL);
	if (!hdr)
		return -EMSGSIZE;
	a = nla_reserve_64bit(skb, TW_A_PFX, sizeof(struct tw_genl_pfx), TW_A_PAD);
	if (!a) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	/* cb->args[0]: the epoch the dump closed */
	pfx_sum(hlist_entry(n, struct tw_kpfx, node), cb->args[0], nla_data(a));
	genlmsg_end(skb, hdr);
	return 0;
}

static struct hlist_head *pfx_head(u32 i)
{
	return &pfx_buckets[i];
}

int tw_pfx_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	return tw_genl_dump_buckets(skb, cb, 1, TW_PFX_BUCKETS, pfx_head, put_pfx);
}

int tw_pfx_init(void)
{
	pfx_buckets = kvcalloc(TW_PFX_BUCKETS, sizeof(*pfx_buckets), GFP_KERNEL);
	staged = kvcalloc(TW_GENL_MAX_NETS, sizeof(*staged), GFP_KERNEL);
	if (pfx_buckets && staged)
		return 0;
	kvfree(pfx_buckets);
	kvfree(staged);
	return -ENOMEM;
}

/* hooks and netlink are gone */
void tw_pfx_exit(void)
{
	struct tw_nets *nets = rcu_dereference_protected(client_nets, 1);

	pfx_clear();
	rcu_barrier();
	if (atomic64_read(&pfx_objs))
		pr_err("tamperwatch: %lld prefix objects not freed\n",
		       (long long)atomic64_read(&pfx_objs));
	else
		pr_info("tamperwatch: all prefixes freed\n");
	kvfree(nets);
	kvfree(pfx_buckets);
	kvfree(staged);
}
