/* The userspace engine's flow table: it grows as flows arrive, finds every
 * flow again from either direction, removes from anywhere (the dense array
 * moves its last entry into the hole), sweeps by capture time, and refuses
 * flows beyond flows.max with a counter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "capture/engine.h"
#include "outputs/output.h"
#include "events/pipeline.h"
#include "capture/sweep.h"
#include "pktbuild.h"

#include "check.h"

static uint8_t frame[2048];

static void feed(struct tw_engine *e, uint32_t i, uint8_t flags, int reply, uint64_t ts)
{
	struct pb_pkt p;
	memset(&p, 0, sizeof(p));
	p.family = 4;
	uint8_t c[4] = { 198, 51, (uint8_t)(100 + (i >> 16)), (uint8_t)(i >> 8) };
	uint8_t s[4] = { 203, 0, 113, 5 };
	memcpy(reply ? p.dst : p.src, c, 4);
	memcpy(reply ? p.src : p.dst, s, 4);
	uint16_t cport = (uint16_t)(1024 + (i & 0xff) * 200);
	p.sport = reply ? 443 : cport;
	p.dport = reply ? cport : 443;
	p.flags = flags;
	p.seq = reply ? 9000 : 100;
	p.ack = reply ? 101 : 0;
	size_t n = pb_build(&p, frame, sizeof(frame));
	struct tw_frame f = { .ts_ns = ts, .caplen = (uint32_t)n, .origlen = (uint32_t)n, .data = frame };
	e->process(e, &f);
}

struct count {
	size_t n;
	uint64_t min_id, max_id;
};
static int count_cb(void *arg, const struct tw_flow_key *k, const struct tw_flow *f)
{
	struct count *c = arg;
	(void)k;
	c->n++;
	if (!c->min_id || f->flow_id < c->min_id)
		c->min_id = f->flow_id;
	if (f->flow_id > c->max_id)
		c->max_id = f->flow_id;
	return 0;
}

static int remove_odd_cb(void *arg, const struct tw_flow_key *k, const struct tw_flow *f)
{
	struct tw_flow_key *list = arg;
	if (f->flow_id & 1)
		list[f->flow_id] = *k;
	return 0;
}

int main(void)
{
	char err[256];
	struct tw_output out;
	struct tw_pipeline pl;
	struct tw_pipeline_opts po = { .v4_prefix = 24, .v6_prefix = 48 };
	struct tw_timeouts t;
	uint64_t cnt[TW_CNT_MAX];
	const uint32_t N = 20000;

	if (tw_output_open(&out, "/dev/null", err, sizeof(err)) < 0) {
		printf("%s\n", err);
		return 1;
	}
	tw_pipeline_init(&pl, &po);
	/* events written as JSON lines, as the daemon does */
	struct tw_event_writer w;
	tw_event_writer_init(&w, &pl.opt, tw_output_line, &out);
	tw_pipeline_add_consumer(&pl, "events", tw_event_write, &w);
	struct tw_record_sink rs = { tw_pipeline_record, &pl };
	tw_timeouts_default(&t);
	struct tw_engine *e = tw_engine_user_new(&rs, 30000, NULL, err, sizeof(err));
	CHECK(e != NULL, "engine: %s", err);
	if (!e)
		return 1;

	/* N flows, SYN then SYN-ACK: each reply must find its flow */
	for (uint32_t i = 0; i < N; i++)
		feed(e, i, 0x02, 0, 1000000000ull + i);
	for (uint32_t i = 0; i < N; i++)
		feed(e, i, 0x12, 1, 2000000000ull + i);
	e->counters(e, cnt, NULL, 0, NULL);
	CHECK(cnt[TW_CNT_FLOWS_NEW] == N, "flows_new %llu, want %u", (unsigned long long)cnt[TW_CNT_FLOWS_NEW], N);
	CHECK(cnt[TW_CNT_TRACKED] == 2 * N, "tracked %llu", (unsigned long long)cnt[TW_CNT_TRACKED]);
	struct count c = { 0 };
	e->for_each_flow(e, count_cb, &c);
	CHECK(c.n == N && c.min_id == 1 && c.max_id == N, "walk: %zu flows, ids %llu..%llu", c.n,
	      (unsigned long long)c.min_id, (unsigned long long)c.max_id);
	printf("ok: %u flows inserted through index growth, replies found them (%zu walked)\n", N, c.n);

	/* remove every odd flow id; the rest must still be found */
	struct tw_flow_key *keys = calloc(N + 1, sizeof(*keys));
	e->for_each_flow(e, remove_odd_cb, keys);
	size_t removed = 0;
	for (uint32_t id = 1; id <= N; id += 2)
		removed += e->remove_flow(e, &keys[id]) == 0;
	CHECK(removed == N / 2, "removed %zu", removed);
	CHECK(e->remove_flow(e, &keys[1]) != 0, "removing twice must fail");
	memset(&c, 0, sizeof(c));
	e->for_each_flow(e, count_cb, &c);
	CHECK(c.n == N / 2, "after removal %zu flows", c.n);
	/* a packet of a remaining flow does not create a new one */
	feed(e, 1, 0x10, 0, 3000000000ull); /* flow id 2 (i = 1) */
	e->counters(e, cnt, NULL, 0, NULL);
	CHECK(cnt[TW_CNT_FLOWS_NEW] == N, "a remaining flow was not found: flows_new %llu",
	      (unsigned long long)cnt[TW_CNT_FLOWS_NEW]);
	printf("ok: removed %zu flows from anywhere, the other %zu still found\n", removed, c.n);

	/* sweep on capture time: nothing yet, then everything idle */
	CHECK(tw_sweep(e, 3000000000ull, &t, 0) == 0, "nothing is idle yet");
	long ended = tw_sweep(e, 3000000000ull + t.tcp_idle_ns, &t, 0);
	CHECK(ended == (long)(N / 2), "idle sweep ended %ld, want %u", ended, N / 2);
	CHECK(pl.events[TW_EV_FLOW_END] == N / 2, "flow end events %llu",
	      (unsigned long long)pl.events[TW_EV_FLOW_END]);
	printf("ok: idle sweep on capture time ended %ld flows\n", ended);

	/* beyond flows.max: refused and counted, never silently */
	for (uint32_t i = 0; i < 30005; i++)
		feed(e, 100000 + i, 0x02, 0, 4000000000ull);
	e->counters(e, cnt, NULL, 0, NULL);
	CHECK(cnt[TW_CNT_FLOW_INSERT_FAIL] == 5, "insert failures %llu, want 5",
	      (unsigned long long)cnt[TW_CNT_FLOW_INSERT_FAIL]);
	printf("ok: flows beyond flows.max counted (%llu)\n", (unsigned long long)cnt[TW_CNT_FLOW_INSERT_FAIL]);

	free(keys);
	e->destroy(e);
	tw_output_close(&out);
	printf("%d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
