/* The userspace engine: the classifier core from include/tamperwatch/ run
 * over frames from a capture, with a flow table of the same capacity as the
 * kernel's.  It mirrors bpf/tamperwatch.bpf.c step for step (parse, flow
 * lookup or insert, tw_track, one event per bit) so both replay engines
 * write the same bytes. */
#include "capture/engine.h"
#include "regions.h"
#include <sys/socket.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tamperwatch/classify.h>
#include <tamperwatch/sample.h>

/* Flows live in a dense array (so sweeping costs what is stored, not the
 * table's capacity); an open-addressing index of array positions finds
 * them.  Removal moves the last entry into the hole. */
struct entry {
	struct tw_flow_key key;
	struct tw_flow flow;
};

#define NO_ENTRY UINT32_MAX

struct user_engine {
	struct tw_engine base;
	uint32_t *index; /* slot -> position in entries, NO_ENTRY if free */
	size_t mask;     /* index capacity - 1 (power of two) */
	struct entry *entries;
	size_t count, cap;
	size_t max_flows;
	uint64_t next_flow_id;
	uint32_t sample_n; /* 1-in-N flow sampling in force (sample.h) */
	uint64_t cnt[TW_CNT_MAX];
	uint8_t evbuf[sizeof(struct tw_event) + TW_SNIPPET_QUIC_MAX];
	/* per-client-prefix counters, as the kernel's tw_pfx (prefix.h) */
	struct tw_prefix_opts pfx;
	const struct tw_regions *nets;
	struct upfx {
		struct tw_pfx_key key;
		struct tw_pfx_val val;
		int used;
	} * ptab;        /* open addressing, 2 x TW_PFX_MAX slots */
	uint32_t *pused; /* slots in use, in order of insertion: polls cost what is stored */
	size_t pcount;
	uint64_t pfx_epoch;
};

static uint64_t key_hash(const struct tw_flow_key *k)
{
	/* the 40-byte key as five words, multiply-mixed: no seed needed offline */
	uint64_t w[5], h = 0x9e3779b97f4a7c15ull;
	memcpy(w, k, sizeof(w));
	for (int i = 0; i < 5; i++) {
		h ^= w[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	return h;
}

/* The index slot holding k, or the free slot where it would go. */
static size_t find_slot(const struct user_engine *u, const struct tw_flow_key *k, int *found)
{
	size_t i = key_hash(k) & u->mask;
	/* the index is at most half full, so a free slot ends every probe */
	for (;; i = (i + 1) & u->mask) {
		uint32_t e = u->index[i];
		if (e == NO_ENTRY) {
			*found = 0;
			return i;
		}
		if (memcmp(&u->entries[e].key, k, sizeof(*k)) == 0) {
			*found = 1;
			return i;
		}
	}
}

/* The index doubles as flows arrive (kept at most half full), so a small
 * capture never pays for the largest table. */
static int grow_index(struct user_engine *u)
{
	size_t ncap = (u->mask + 1) * 2;
	uint32_t *ni = malloc(ncap * sizeof(*ni));
	if (!ni)
		return -1;
	memset(ni, 0xff, ncap * sizeof(*ni));
	free(u->index);
	u->index = ni;
	u->mask = ncap - 1;
	for (size_t e = 0; e < u->count; e++) {
		size_t i = key_hash(&u->entries[e].key) & u->mask;
		while (u->index[i] != NO_ENTRY)
			i = (i + 1) & u->mask;
		u->index[i] = (uint32_t)e;
	}
	return 0;
}

static void emit(struct user_engine *u, uint32_t type, const struct tw_flow_key *k, const struct tw_flow *f,
                 const struct tw_pkt *p, const struct tw_pkt_ctx *pc, int dir, uint64_t now, const struct tw_frame *fr)
{
	struct tw_event *e = (struct tw_event *)u->evbuf;
	uint32_t snip = 0;

	tw_event_fill(e, (__u16)type, k, f, p, pc, dir, now, 0);
	if (tw_event_wants_snippet(type) && p->payload_off < fr->caplen) {
		snip = fr->caplen - p->payload_off;
		if (snip > p->payload_len)
			snip = p->payload_len;
		uint32_t max = tw_event_snippet_max(type, p->proto, dir == TW_DIR_C2S ? p->dport : p->sport);
		if (snip > max)
			snip = max;
		memcpy(e->snippet, fr->data + p->payload_off, snip);
		e->snippet_len = (__u16)snip;
		e->len = (__u16)(sizeof(*e) + snip);
	}
	u->cnt[TW_CNT_EVENTS]++;
	u->base.events.fn(u->base.events.arg, e, e->len);
}

#define PTAB_SLOTS (2 * TW_PFX_MAX)

static void pfx_count(struct user_engine *u, const struct tw_pkt *p, uint32_t frame_len)
{
	struct tw_lpm_key lk;
	struct tw_pfx_key k;
	memset(&lk, 0, sizeof(lk));
	memset(&k, 0, sizeof(k));
	uint32_t h = tw_pfx_keys(p, p->family == TW_FAMILY_IPV4 ? (uint32_t)u->pfx.v4_len : (uint32_t)u->pfx.v6_len,
	                         &lk, &k);
	if (!u->nets || !tw_regions_lookup(u->nets, p->family == TW_FAMILY_IPV4 ? AF_INET : AF_INET6, p->daddr))
		return;
	uint64_t hh = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < sizeof(k); i++)
		hh = (hh ^ ((const uint8_t *)&k)[i]) * 0x100000001b3ull;
	size_t i = hh % PTAB_SLOTS;
	for (size_t n = 0; n < PTAB_SLOTS; n++, i = (i + 1) % PTAB_SLOTS) {
		struct upfx *e = &u->ptab[i];
		if (e->used && !memcmp(&e->key, &k, sizeof(k))) {
			tw_pfx_account(&e->val, p, frame_len, 1, h, u->pfx_epoch);
			return;
		}
		if (!e->used) {
			if (u->pcount >= TW_PFX_MAX)
				break;
			e->used = 1;
			e->key = k;
			memset(&e->val, 0, sizeof(e->val));
			u->pused[u->pcount++] = (uint32_t)i;
			tw_pfx_account(&e->val, p, frame_len, 1, h, u->pfx_epoch);
			return;
		}
	}
	u->cnt[TW_CNT_PFX_INSERT_FAIL]++;
}

static int user_set_nets(struct tw_engine *eng, const struct tw_regions *r, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	((struct user_engine *)eng)->nets = r;
	return 0;
}

static long user_poll_prefixes(struct tw_engine *eng, tw_pfx_cb cb, void *arg)
{
	struct user_engine *u = (struct user_engine *)eng;
	uint64_t closed = u->pfx_epoch++;
	long n = 0;
	for (size_t i = 0; i < u->pcount; i++) {
		const struct upfx *e = &u->ptab[u->pused[i]];
		struct tw_pfx_sample s;
		memset(&s, 0, sizeof(s));
		s.key = e->key;
		s.packets = e->val.packets;
		s.bytes = e->val.bytes;
		s.new_flows = e->val.new_flows;
		memcpy(s.class_packets, e->val.class_packets, sizeof(s.class_packets));
		if (e->val.sk_epoch[closed & 1] == closed)
			memcpy(s.clients, e->val.clients[closed & 1], sizeof(s.clients));
		cb(arg, &s);
		n++;
	}
	return n;
}

static int user_process(struct tw_engine *eng, const struct tw_frame *fr)
{
	struct user_engine *u = (struct user_engine *)eng;
	const uint8_t *data = fr->data, *end = fr->data + fr->caplen;
	struct tw_pkt p;
	struct tw_flow_key key;
	struct tw_pkt_ctx pc;
	int found;

	u->cnt[TW_CNT_PACKETS]++;
	u->cnt[TW_CNT_BYTES] += fr->caplen;
	memset(&p, 0, sizeof(p));
	memset(&pc, 0, sizeof(pc)); /* the kernel side zeroes it too: identical bytes */
	int rc = tw_parse(data, end, &p);
	if (rc != TW_PARSE_OK) {
		if (rc > 0 && rc < TW_PARSE_RESULT_MAX)
			u->cnt[TW_CNT_PARSE_BASE + rc]++;
		return 0;
	}
	u->cnt[TW_CNT_TRACKED]++;
	if (u->ptab)
		pfx_count(u, &p, fr->caplen);
	/* options only when all of them were captured, as the kernel's
	 * bpf_*_load_bytes() would refuse a short copy */
	if (p.proto == TW_PROTO_TCP && (p.tcp_flags & TW_TCP_SYN) && p.opt_len && p.payload_off <= fr->caplen)
		tw_parse_tcp_opts(data + p.payload_off - p.opt_len, p.opt_len, &p);

	int src_is_b = tw_flow_key_make(&p, &key);
	size_t slot = find_slot(u, &key, &found);
	struct entry *en;
	if (found) {
		en = &u->entries[u->index[slot]];
	} else {
		if (!tw_flow_sampled(&key, u->sample_n)) { /* as the kernel: no entry, no flow id */
			u->cnt[TW_CNT_NOT_SAMPLED]++;
			return 0;
		}
		if (u->count >= u->max_flows) {
			u->next_flow_id++; /* the kernel burns an id on a failed insert too */
			u->cnt[TW_CNT_FLOW_INSERT_FAIL]++;
			return 0;
		}
		if (u->count == u->cap) {
			size_t ncap = u->cap ? u->cap * 2 : 4096;
			if (ncap > u->max_flows)
				ncap = u->max_flows;
			struct entry *ne = realloc(u->entries, ncap * sizeof(*ne));
			if (!ne) {
				u->next_flow_id++;
				u->cnt[TW_CNT_FLOW_INSERT_FAIL]++;
				return 0;
			}
			u->entries = ne;
			u->cap = ncap;
		}
		if ((u->count + 1) * 2 > u->mask + 1) {
			if (grow_index(u) < 0) {
				u->next_flow_id++;
				u->cnt[TW_CNT_FLOW_INSERT_FAIL]++;
				return 0;
			}
			slot = find_slot(u, &key, &found);
		}
		en = &u->entries[u->count];
		en->key = key;
		tw_flow_init(&en->flow, &p, src_is_b, ++u->next_flow_id);
		u->index[slot] = (uint32_t)u->count++;
		u->cnt[TW_CNT_FLOWS_NEW]++;
		if (key.family == TW_FAMILY_IPV6)
			u->cnt[TW_CNT_FLOWS_NEW_V6]++;
	}
	int dir = tw_pkt_dir(&en->flow, src_is_b);
	uint32_t ev = tw_track(&en->flow, &p, dir, fr->ts_ns, 1, fr->caplen, &pc);
	for (uint32_t t = 1; t < TW_EV_TYPE_MAX; t++)
		if (ev & TW_EVBIT(t))
			emit(u, t, &key, &en->flow, &p, &pc, dir, fr->ts_ns, fr);
	return 0;
}

static int user_for_each(struct tw_engine *eng, tw_flow_cb cb, void *arg)
{
	struct user_engine *u = (struct user_engine *)eng;
	for (size_t i = 0; i < u->count; i++)
		if (cb(arg, &u->entries[i].key, &u->entries[i].flow))
			return 1;
	return 0;
}

static int user_remove(struct tw_engine *eng, const struct tw_flow_key *k)
{
	struct user_engine *u = (struct user_engine *)eng;
	int found;
	size_t i = find_slot(u, k, &found);
	if (!found)
		return -ENOENT;
	uint32_t pos = u->index[i];
	/* backward-shift deletion in the index keeps probe chains intact */
	size_t j = i;
	for (;;) {
		j = (j + 1) & u->mask;
		if (u->index[j] == NO_ENTRY)
			break;
		size_t home = key_hash(&u->entries[u->index[j]].key) & u->mask;
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			u->index[i] = u->index[j];
			i = j;
		}
	}
	u->index[i] = NO_ENTRY;
	/* move the last entry into the hole and repoint its index slot */
	size_t last = --u->count;
	if (pos != last) {
		u->entries[pos] = u->entries[last];
		/* its slot is on its probe chain and still names `last` */
		size_t s = key_hash(&u->entries[pos].key) & u->mask;
		while (u->index[s] != last)
			s = (s + 1) & u->mask;
		u->index[s] = pos;
	}
	return 0;
}

static void user_counters(struct tw_engine *eng, uint64_t out[TW_CNT_MAX], uint64_t *lost, int max_cpu, int *ncpu)
{
	struct user_engine *u = (struct user_engine *)eng;
	memcpy(out, u->cnt, sizeof(u->cnt));
	if (lost && max_cpu > 0)
		lost[0] = 0;
	if (ncpu)
		*ncpu = 1;
}

static int user_set_sampling(struct tw_engine *eng, uint32_t n)
{
	((struct user_engine *)eng)->sample_n = n ? n : 1;
	return 0;
}

static void user_destroy(struct tw_engine *eng)
{
	struct user_engine *u = (struct user_engine *)eng;
	free(u->index);
	free(u->entries);
	free(u->ptab);
	free(u->pused);
	free(u);
}

struct tw_engine *tw_engine_user_new(const struct tw_record_sink *events, uint32_t max_flows,
                                     const struct tw_prefix_opts *pfx, char *err, size_t errlen)
{
	struct user_engine *u = calloc(1, sizeof(*u));
	size_t cap = 8192;
	if (u)
		u->index = malloc(cap * sizeof(*u->index));
	if (!u || !u->index) {
		snprintf(err, errlen, "userspace engine: out of memory for %u flows", max_flows);
		free(u);
		return NULL;
	}
	memset(u->index, 0xff, cap * sizeof(*u->index)); /* all NO_ENTRY */
	u->mask = cap - 1;
	u->max_flows = max_flows;
	u->base.name = "user";
	u->base.events = *events;
	u->base.process = user_process;
	u->base.for_each_flow = user_for_each;
	u->base.remove_flow = user_remove;
	u->base.counters = user_counters;
	u->base.set_sampling = user_set_sampling;
	u->base.destroy = user_destroy;
	u->sample_n = 1;
	if (pfx && pfx->on) {
		u->pfx = *pfx;
		u->ptab = calloc(PTAB_SLOTS, sizeof(*u->ptab));
		u->pused = calloc(TW_PFX_MAX, sizeof(*u->pused));
		if (!u->ptab || !u->pused) {
			snprintf(err, errlen, "userspace engine: out of memory for the prefix counters");
			user_destroy(&u->base);
			return NULL;
		}
		u->base.set_client_nets = user_set_nets;
		u->base.poll_prefixes = user_poll_prefixes;
	}
	return &u->base;
}
