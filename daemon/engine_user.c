/* The userspace engine: the classifier core from include/tamperwatch/ run
 * over frames from a capture, with a flow table of the same capacity as the
 * kernel's.  It mirrors bpf/tamperwatch.bpf.c step for step (parse, flow
 * lookup or insert, tw_track, one event per bit) so both replay engines
 * write the same bytes. */
#include "engine.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tamperwatch/classify.h>

struct slot {
	struct tw_flow_key key;
	struct tw_flow flow;
	uint8_t used;
};

struct user_engine {
	struct tw_engine base;
	struct slot *slots;
	size_t mask;             /* capacity - 1 (power of two) */
	size_t count;
	size_t max_flows;
	uint64_t next_flow_id;
	uint64_t cnt[TW_CNT_MAX];
	uint8_t evbuf[sizeof(struct tw_event) + TW_SNIPPET_MAX];
};

static uint64_t key_hash(const struct tw_flow_key *k)
{
	/* FNV-1a over the key bytes: adequate spread, no seed needed offline */
	const uint8_t *p = (const uint8_t *)k;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < sizeof(*k); i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h;
}

static struct slot *find(struct user_engine *u, const struct tw_flow_key *k, int *found)
{
	size_t i = key_hash(k) & u->mask;
	for (size_t n = 0; n <= u->mask; n++, i = (i + 1) & u->mask) {
		struct slot *s = &u->slots[i];
		if (!s->used) {
			*found = 0;
			return s;
		}
		if (memcmp(&s->key, k, sizeof(*k)) == 0) {
			*found = 1;
			return s;
		}
	}
	*found = 0;
	return NULL;
}

static void emit(struct user_engine *u, uint32_t type, const struct tw_flow_key *k,
		 const struct tw_flow *f, const struct tw_pkt *p, const struct tw_pkt_ctx *pc,
		 int dir, uint64_t now, const struct tw_frame *fr)
{
	struct tw_event *e = (struct tw_event *)u->evbuf;
	uint32_t snip = 0;

	tw_event_fill(e, (__u16)type, k, f, p, pc, dir, now, 0);
	if (tw_event_wants_snippet(type) && p->payload_off < fr->caplen) {
		snip = fr->caplen - p->payload_off;
		if (snip > p->payload_len)
			snip = p->payload_len;
		if (snip > TW_SNIPPET_MAX)
			snip = TW_SNIPPET_MAX;
		memcpy(e->snippet, fr->data + p->payload_off, snip);
		e->snippet_len = (__u16)snip;
		e->len = (__u16)(sizeof(*e) + snip);
	}
	u->cnt[TW_CNT_EVENTS]++;
	tw_pipeline_event(u->base.pl, e, e->len);
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
	int rc = tw_parse(data, end, &p);
	if (rc != TW_PARSE_OK) {
		if (rc > 0 && rc < TW_PARSE_RESULT_MAX)
			u->cnt[TW_CNT_PARSE_BASE + rc]++;
		return 0;
	}
	u->cnt[TW_CNT_TRACKED]++;
	/* options only when all of them were captured, as the kernel's
	 * bpf_*_load_bytes() would refuse a short copy */
	if (p.proto == TW_PROTO_TCP && (p.tcp_flags & TW_TCP_SYN) && p.opt_len &&
	    p.payload_off <= fr->caplen)
		tw_parse_tcp_opts(data + p.payload_off - p.opt_len, p.opt_len, &p);

	int src_is_b = tw_flow_key_make(&p, &key);
	struct slot *s = find(u, &key, &found);
	if (!found) {
		if (!s || u->count >= u->max_flows) {
			u->next_flow_id++;      /* the kernel burns an id on a failed insert too */
			u->cnt[TW_CNT_FLOW_INSERT_FAIL]++;
			return 0;
		}
		s->used = 1;
		s->key = key;
		tw_flow_init(&s->flow, &p, src_is_b, ++u->next_flow_id);
		u->count++;
		u->cnt[TW_CNT_FLOWS_NEW]++;
	}
	int dir = tw_pkt_dir(&s->flow, src_is_b);
	uint32_t ev = tw_track(&s->flow, &p, dir, fr->ts_ns, 1, fr->caplen, &pc);
	for (uint32_t t = 1; t < TW_EV_TYPE_MAX; t++)
		if (ev & TW_EVBIT(t))
			emit(u, t, &key, &s->flow, &p, &pc, dir, fr->ts_ns, fr);
	return 0;
}

static int user_for_each(struct tw_engine *eng, tw_flow_cb cb, void *arg)
{
	struct user_engine *u = (struct user_engine *)eng;
	for (size_t i = 0; i <= u->mask; i++)
		if (u->slots[i].used && cb(arg, &u->slots[i].key, &u->slots[i].flow))
			return 1;
	return 0;
}

static int user_remove(struct tw_engine *eng, const struct tw_flow_key *k)
{
	struct user_engine *u = (struct user_engine *)eng;
	int found;
	struct slot *s = find(u, k, &found);
	if (!found)
		return -ENOENT;
	/* backward-shift deletion keeps probe chains intact without tombstones */
	size_t i = (size_t)(s - u->slots), j = i;
	for (size_t n = 0; n <= u->mask; n++) {
		j = (j + 1) & u->mask;
		if (!u->slots[j].used)
			break;
		size_t home = key_hash(&u->slots[j].key) & u->mask;
		/* move j into the hole at i unless its home lies cyclically in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			u->slots[i] = u->slots[j];
			i = j;
		}
	}
	u->slots[i].used = 0;
	u->count--;
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

static void user_destroy(struct tw_engine *eng)
{
	struct user_engine *u = (struct user_engine *)eng;
	free(u->slots);
	free(u);
}

struct tw_engine *tw_engine_user_new(struct tw_pipeline *pl, uint32_t max_flows, char *err, size_t errlen)
{
	struct user_engine *u = calloc(1, sizeof(*u));
	size_t cap = 1024;
	while (cap < (size_t)max_flows * 2)
		cap <<= 1;
	if (u)
		u->slots = calloc(cap, sizeof(*u->slots));
	if (!u || !u->slots) {
		snprintf(err, errlen, "userspace engine: out of memory for %u flows", max_flows);
		free(u);
		return NULL;
	}
	u->mask = cap - 1;
	u->max_flows = max_flows;
	u->base.name = "user";
	u->base.pl = pl;
	u->base.process = user_process;
	u->base.for_each_flow = user_for_each;
	u->base.remove_flow = user_remove;
	u->base.counters = user_counters;
	u->base.destroy = user_destroy;
	return &u->base;
}
