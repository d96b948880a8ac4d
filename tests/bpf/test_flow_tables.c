/* The BPF backend's two flow tables (include/tamperwatch/maps.h): IPv4 flows
 * in tw_flows4 under the 16-byte key, IPv6 flows in tw_flows6, each sized
 * by its own key (flows.max, flows.max_ipv6 or its default share).  The
 * daemon's BPF replay engine, with tables of 1024 IPv4 and 2048 IPv6
 * entries, takes 3000 IPv4 and 1500 IPv6 UDP flows: every event names its
 * flow's addresses; the walk hands back full keys, each one of the flows
 * sent, IPv4 ones in their canonical form; the IPv4 table is full and
 * counts every flow it evicted (sent, less present), the IPv6 one evicted
 * none; flows the daemon removes are not counted as evicted; and the
 * sizes the tables report are the ones asked for. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <tamperwatch/classify.h>
#include <tamperwatch/maps.h>
#include "pktbuild.h"
#include "check.h"
#include "capture/engine.h"
#include "capture/engine_bpf.h"

#define NV4 3000
#define NV6 1500
#define MAX4 1024u
#define MAX6 2048u

static struct tw_flow_key sent[NV4 + NV6];
static int nevents, badevents;

static void build(int i, uint8_t *buf, size_t *len)
{
	struct pb_pkt d;
	memset(&d, 0, sizeof(d));
	d.family = i < NV4 ? 4 : 6;
	d.l4 = 17;
	if (d.family == 4) {
		uint8_t c[4] = { 198, 51, (uint8_t)(i >> 8), (uint8_t)i }, s[4] = { 203, 0, 113, (uint8_t)(i % 5 + 1) };
		memcpy(d.src, c, 4);
		memcpy(d.dst, s, 4);
	} else {
		uint8_t c[16] = { 0x20, 0x01, 0x0d, 0xb8, [14] = (uint8_t)(i >> 8), [15] = (uint8_t)i };
		uint8_t s[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = (uint8_t)(i % 5 + 1) };
		memcpy(d.src, c, 16);
		memcpy(d.dst, s, 16);
	}
	d.sport = (uint16_t)(30000 + i % 20000);
	d.dport = 4433;
	d.payload_len = 40;
	*len = pb_build(&d, buf, 256);
	struct tw_pkt p;
	memset(&p, 0, sizeof(p));
	CHECK(tw_parse(buf, buf + *len, &p) == TW_PARSE_OK, "flow %d parses", i);
	tw_flow_key_make(&p, &sent[i]);
}

/* the first payload of each flow: a client_data event whose client is the sender */
static void on_record(void *arg, const struct tw_event *e, size_t len)
{
	(void)arg;
	if (len < sizeof(*e) || e->type != TW_EV_CLIENT_DATA)
		return;
	nevents++;
	int v4 = e->family == TW_FAMILY_IPV4;
	uint8_t want0 = v4 ? 198 : 0x20;
	if (e->caddr[0] != want0 || e->cport < 30000 || e->sport != 4433 ||
	    (v4 && (e->caddr[4] || e->saddr[4] || e->saddr[0] != 203)))
		badevents++;
}

static int find_sent(const struct tw_flow_key *k)
{
	for (int i = 0; i < NV4 + NV6; i++)
		if (!memcmp(&sent[i], k, sizeof(*k)))
			return i;
	return -1;
}

struct walk {
	int n4, n6, unknown;
	struct tw_flow_key some4[100];
	int nsome;
};

static int walk_cb(void *arg, const struct tw_flow_key *k, const struct tw_flow *f)
{
	struct walk *w = arg;
	(void)f;
	if (find_sent(k) < 0)
		w->unknown++;
	if (k->family == TW_FAMILY_IPV4) {
		w->n4++;
		if (w->nsome < 100)
			w->some4[w->nsome++] = *k;
	} else {
		w->n6++;
	}
	return 0;
}

static void sizes(uint32_t max, uint32_t max6, uint64_t want4, uint64_t want6)
{
	char err[256];
	struct tw_record_sink rs = { on_record, NULL };
	struct tw_engine *e = tw_engine_bpf_new(&rs, 1, max, max6, 0, NULL, err, sizeof(err));
	CHECK(e != NULL, "bpf engine %u/%u: %s", max, max6, err);
	if (!e)
		return;
	struct tw_flow_table_stats ft[TW_FT_MAX];
	CHECK(e->flow_tables && e->flow_tables(e, ft) == TW_FT_MAX && ft[TW_FT_IPV4].size == want4 &&
	              ft[TW_FT_IPV6].size == want6,
	      "flows.max %u, flows.max_ipv6 %u: tables of %llu and %llu entries, want %llu and %llu", max, max6,
	      (unsigned long long)ft[TW_FT_IPV4].size, (unsigned long long)ft[TW_FT_IPV6].size,
	      (unsigned long long)want4, (unsigned long long)want6);
	e->destroy(e);
}

int main(void)
{
	char err[256];
	static uint8_t frames[NV4 + NV6][256];
	static size_t flen[NV4 + NV6];

	if (geteuid() != 0) {
		printf("SKIP: not root\n");
		return 77;
	}
	for (int i = 0; i < NV4 + NV6; i++)
		build(i, frames[i], &flen[i]);

	sizes(MAX4, MAX6, MAX4, MAX6);
	sizes(16384, 0, 16384, 16384 / TW_FLOWS6_SHARE);
	sizes(4096, 0, 4096, TW_FLOWS_MIN);
	printf("%s table sizes: flows.max and flows.max_ipv6 as set; unset, flows.max / %d (at least %d)\n",
	       fails ? "FAIL" : "ok  ", TW_FLOWS6_SHARE, TW_FLOWS_MIN);

	struct tw_record_sink rs = { on_record, NULL };
	struct tw_engine *e = tw_engine_bpf_new(&rs, 1, MAX4, MAX6, 0, NULL, err, sizeof(err));
	CHECK(e != NULL, "bpf engine: %s", err);
	if (!e)
		return 1;
	uint64_t t = 1700000000000000000ull;
	for (int i = 0; i < NV4 + NV6; i++) {
		struct tw_frame f = {
			.ts_ns = t += 1000, .caplen = (uint32_t)flen[i], .origlen = (uint32_t)flen[i], .data = frames[i]
		};
		CHECK(e->process(e, &f) == 0, "process flow %d", i);
	}
	CHECK(nevents == NV4 + NV6 && badevents == 0, "%d client_data events (want %d), %d with wrong addresses",
	      nevents, NV4 + NV6, badevents);

	uint64_t c[TW_CNT_MAX];
	e->counters(e, c, NULL, 0, NULL);
	CHECK(c[TW_CNT_FLOWS_NEW] == NV4 + NV6 && c[TW_CNT_FLOWS_NEW_V6] == NV6 && c[TW_CNT_FLOW_INSERT_FAIL] == 0,
	      "flows new %llu (IPv6 %llu), insert failed %llu", (unsigned long long)c[TW_CNT_FLOWS_NEW],
	      (unsigned long long)c[TW_CNT_FLOWS_NEW_V6], (unsigned long long)c[TW_CNT_FLOW_INSERT_FAIL]);

	static struct walk w;
	e->for_each_flow(e, walk_cb, &w);
	struct tw_flow_table_stats ft[TW_FT_MAX];
	e->flow_tables(e, ft);
	CHECK(w.unknown == 0, "%d walked keys are none of the flows sent", w.unknown);
	CHECK(w.n4 > 0 && (uint32_t)w.n4 <= MAX4 && w.n6 == NV6, "walked %d IPv4 flows (at most %u), %d IPv6 (want %d)",
	      w.n4, MAX4, w.n6, NV6);
	CHECK(ft[TW_FT_IPV4].evicted == (uint64_t)(NV4 - w.n4) && ft[TW_FT_IPV6].evicted == 0,
	      "evicted: IPv4 %llu (want %d), IPv6 %llu (want 0)", (unsigned long long)ft[TW_FT_IPV4].evicted,
	      NV4 - w.n4, (unsigned long long)ft[TW_FT_IPV6].evicted);
	printf("%s %d IPv4 flows into a %u-entry table: %d kept, %llu counted evicted; %d IPv6 flows all kept\n",
	       fails ? "FAIL" : "ok  ", NV4, MAX4, w.n4, (unsigned long long)ft[TW_FT_IPV4].evicted, NV6);

	/* the daemon ends some flows: removed, not evicted */
	int removed = 0;
	for (int i = 0; i < w.nsome; i++)
		removed += e->remove_flow(e, &w.some4[i]) == 0;
	int f0 = fails;
	CHECK(removed == w.nsome && w.nsome == 100, "removed %d of %d IPv4 flows by their full keys", removed, w.nsome);
	int before4 = w.n4;
	memset(&w, 0, sizeof(w));
	e->for_each_flow(e, walk_cb, &w);
	e->flow_tables(e, ft);
	CHECK(w.n4 == before4 - removed && ft[TW_FT_IPV4].evicted == (uint64_t)(NV4 - before4),
	      "after removing %d: %d IPv4 flows (want %d), evicted %llu (want %d, unchanged)", removed, w.n4,
	      before4 - removed, (unsigned long long)ft[TW_FT_IPV4].evicted, NV4 - before4);
	printf("%s flows removed by the daemon (%d) leave the eviction count as it was\n",
	       fails == f0 ? "ok  " : "FAIL", removed);
	e->destroy(e);
	printf("%d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
