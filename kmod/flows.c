// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The flow table: a fixed array of hash buckets sized at load for the
 * max_flows parameter, looked up under RCU from the hooks, changed under a
 * per-bucket lock, entries freed after a grace period.  The daemon sets the
 * table size it wants (flows.max, as for the BPF map) up to the parameter.
 * Unlike the BPF LRU map a full table refuses new flows and counts them
 * (TW_CNT_FLOW_INSERT_FAIL); the daemon's sweep ends and removes flows, and
 * a slow idle eviction here keeps the table from filling with flows nobody
 * sweeps (no daemon running), counted as evicted.
 */
#include <linux/jhash.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>
#include <linux/moduleparam.h>
#include "tw_kmod.h"

static unsigned int evict_idle_s = 600;
module_param(evict_idle_s, uint, 0644);
MODULE_PARM_DESC(evict_idle_s, "Idle seconds before the module drops a flow itself (0: never)");

#define TW_EVICT_PERIOD (10 * HZ)

struct tw_bucket {
	struct hlist_head head;
	spinlock_t lock; /* inserts and removals; lookups are RCU */
};

static struct tw_bucket *buckets;
static u32 bucket_mask;
static u32 hash_seed;
static u32 flow_limit, flow_limit_max;
static atomic_t flow_count = ATOMIC_INIT(0);
static atomic64_t flow_objs = ATOMIC64_INIT(0);
static atomic64_t flow_evicted = ATOMIC64_INIT(0);
static atomic64_t next_flow_id = ATOMIC64_INIT(0);
static struct kmem_cache *flow_cache;
static struct delayed_work evict_work;

static struct tw_bucket *bucket_of(const struct tw_flow_key *k)
{
	return &buckets[jhash2((const u32 *)k, sizeof(*k) / 4, hash_seed) & bucket_mask];
}

struct tw_kflow *tw_flow_lookup(const struct tw_flow_key *k)
{
	struct tw_bucket *b = bucket_of(k);
	struct tw_kflow *e;

	hlist_for_each_entry_rcu(e, &b->head, node)
		if (!memcmp(&e->key, k, sizeof(*k)))
			return e;
	return NULL;
}

static void flow_free_rcu(struct rcu_head *h)
{
	kmem_cache_free(flow_cache, container_of(h, struct tw_kflow, rcu));
	atomic64_dec(&flow_objs);
}

/* bucket lock held */
static void flow_unlink(struct tw_kflow *e)
{
	hlist_del_rcu(&e->node);
	atomic_dec(&flow_count);
	call_rcu(&e->rcu, flow_free_rcu);
}

struct tw_kflow *tw_flow_insert(const struct tw_flow_key *k, const struct tw_pkt *p, int src_is_b,
				int *created)
{
	struct tw_bucket *b = bucket_of(k);
	struct tw_kflow *e, *n;

	*created = 0;
	spin_lock_bh(&b->lock);
	/* another CPU may have added it since the lookup */
	hlist_for_each_entry(e, &b->head, node)
		if (!memcmp(&e->key, k, sizeof(*k)))
			goto out;
	e = NULL;
	if (atomic_read(&flow_count) >= READ_ONCE(flow_limit))
		goto out;
	n = kmem_cache_alloc(flow_cache, GFP_ATOMIC);
	if (!n)
		goto out;
	atomic64_inc(&flow_objs);
	n->key = *k;
	tw_flow_init(&n->flow, p, src_is_b, atomic64_inc_return(&next_flow_id));
	atomic_inc(&flow_count);
	hlist_add_head_rcu(&n->node, &b->head);
	*created = 1;
	e = n;
out:
	spin_unlock_bh(&b->lock);
	return e;
}

int tw_flow_delete(const struct tw_flow_key *k)
{
	struct tw_bucket *b = bucket_of(k);
	struct tw_kflow *e;
	int rc = -ENOENT;

	spin_lock_bh(&b->lock);
	hlist_for_each_entry(e, &b->head, node)
		if (!memcmp(&e->key, k, sizeof(*k))) {
			flow_unlink(e);
			rc = 0;
			break;
		}
	spin_unlock_bh(&b->lock);
	return rc;
}

static u64 flow_last_ns(const struct tw_flow *f)
{
	return max(READ_ONCE(f->dir[0].last_ns), READ_ONCE(f->dir[1].last_ns));
}

static void evict_fn(struct work_struct *w)
{
	u64 idle = (u64)READ_ONCE(evict_idle_s) * NSEC_PER_SEC;
	u64 now = ktime_get_ns();
	u32 i;

	for (i = 0; idle && i <= bucket_mask; i++) {
		struct tw_bucket *b = &buckets[i];
		struct hlist_node *tmp;
		struct tw_kflow *e;

		if (hlist_empty(&b->head))
			continue;
		spin_lock_bh(&b->lock);
		hlist_for_each_entry_safe(e, tmp, &b->head, node)
			if (now > flow_last_ns(&e->flow) + idle) {
				flow_unlink(e);
				atomic64_inc(&flow_evicted);
			}
		spin_unlock_bh(&b->lock);
		if ((i & 1023) == 1023)
			cond_resched();
	}
	schedule_delayed_work(&evict_work, TW_EVICT_PERIOD);
}

static int put_flow(struct sk_buff *skb, struct netlink_callback *cb, struct hlist_node *n)
{
	const struct tw_kflow *e = hlist_entry(n, struct tw_kflow, node);
	struct tw_genl_flow *gf;
	struct nlattr *a;
	void *hdr;

	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq, &tw_genl_family,
			  NLM_F_MULTI, TW_CMD_FLOW_GET);
	if (!hdr)
		return -EMSGSIZE;
	a = nla_reserve_64bit(skb, TW_A_FLOW, sizeof(*gf), TW_A_PAD);
	if (!a) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	gf = nla_data(a);
	gf->key = e->key;
	memcpy(&gf->flow, &e->flow, sizeof(gf->flow));
	genlmsg_end(skb, hdr);
	return 0;
}

static struct hlist_head *flow_head(u32 i)
{
	return &buckets[i].head;
}

int tw_flows_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	return tw_genl_dump_buckets(skb, cb, 0, bucket_mask + 1, flow_head, put_flow);
}

void tw_flows_set_limit(u32 max_flows)
{
	WRITE_ONCE(flow_limit, min(max_flows, flow_limit_max));
}

u32 tw_flows_limit(void)
{
	return flow_limit_max;
}

u64 tw_flows_count(void)
{
	return atomic_read(&flow_count);
}

u64 tw_flows_objs(void)
{
	return atomic64_read(&flow_objs);
}

u64 tw_flows_evicted(void)
{
	return atomic64_read(&flow_evicted);
}

int tw_flows_init(u32 limit)
{
	u32 n = roundup_pow_of_two(max(limit / 2, 1024u)), i;

	flow_cache = KMEM_CACHE(tw_kflow, 0);
	if (!flow_cache)
		return -ENOMEM;
	buckets = kvcalloc(n, sizeof(*buckets), GFP_KERNEL);
	if (!buckets) {
		kmem_cache_destroy(flow_cache);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		INIT_HLIST_HEAD(&buckets[i].head);
		spin_lock_init(&buckets[i].lock);
	}
	bucket_mask = n - 1;
	hash_seed = get_random_u32();
	flow_limit = limit;
	flow_limit_max = limit;
	INIT_DELAYED_WORK(&evict_work, evict_fn);
	schedule_delayed_work(&evict_work, TW_EVICT_PERIOD);
	return 0;
}

/* The hooks are gone and no netlink call is running: free every flow, wait
 * for the frees queued behind grace periods, and say if any is left.
 */
void tw_flows_exit(void)
{
	u32 i;

	cancel_delayed_work_sync(&evict_work);
	for (i = 0; i <= bucket_mask; i++) {
		struct hlist_node *tmp;
		struct tw_kflow *e;

		spin_lock_bh(&buckets[i].lock);
		hlist_for_each_entry_safe(e, tmp, &buckets[i].head, node)
			flow_unlink(e);
		spin_unlock_bh(&buckets[i].lock);
	}
	rcu_barrier();
	if (atomic64_read(&flow_objs))
		pr_err("tamperwatch: %lld flow objects not freed\n",
		       (long long)atomic64_read(&flow_objs));
	else
		pr_info("tamperwatch: all flows freed\n");
	kvfree(buckets);
	kmem_cache_destroy(flow_cache);
}
