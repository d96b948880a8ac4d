/* Flow sampling (include/tamperwatch/sample.h) in the real BPF object:
 * 2000 TCP connections (IPv4 and IPv6), the client's packets through
 * tw_xdp and the server's through tw_tc, at 1 in 4 and 1 in 2.  Both
 * directions of a connection are kept or left out together (the server's
 * SYN-ACK never creates a flow its client's SYN did not), about a quarter
 * (a half) of the connections are kept, the flows kept at 4 are among those
 * kept at 2, and every packet left out is counted.  Then the daemon's two
 * replay engines (the BPF one through BPF_PROG_TEST_RUN and the userspace
 * one) with per-prefix counters on: they keep exactly the same flows, and
 * the prefix counters see every packet, sampled or not. */
#include "bpf_harness.h"
#include <tamperwatch/sample.h>
#include "capture/engine.h"
#include "capture/engine_bpf.h"
#include "events/pipeline.h"
#include "outputs/output.h"
#include "regions.h"

#define NCONN 2000

static struct harness H;
static uint8_t frames[NCONN][3][128];
static size_t flen[NCONN][3];
static struct tw_flow_key keys[NCONN];

/* connection i: client 198.51.100.x / 2001:db8::x (half each), server 203.0.113.y / 2001:db8:1::y */
static void build(void)
{
	for (int i = 0; i < NCONN; i++) {
		for (int k = 0; k < 3; k++) {
			struct pb_pkt d;
			memset(&d, 0, sizeof(d));
			int c2s = k != 1;
			d.family = i % 2 ? 6 : 4;
			uint8_t c[16] = { 0 }, s[16] = { 0 };
			if (d.family == 4) {
				c[0] = 198, c[1] = 51, c[2] = 100, c[3] = (uint8_t)(i % 250 + 1);
				s[0] = 203, s[1] = 0, s[2] = 113, s[3] = (uint8_t)(i % 7 + 1);
			} else {
				c[0] = 0x20, c[1] = 0x01, c[2] = 0x0d, c[3] = 0xb8, c[15] = (uint8_t)(i % 250 + 1);
				s[0] = 0x20, s[1] = 0x01, s[2] = 0x0d, s[3] = 0xb8, s[5] = 1,
				s[15] = (uint8_t)(i % 7 + 1);
			}
			uint16_t cport = (uint16_t)(20000 + i), sport = i % 3 ? 443 : 80;
			memcpy(c2s ? d.src : d.dst, c, 16);
			memcpy(c2s ? d.dst : d.src, s, 16);
			d.sport = c2s ? cport : sport;
			d.dport = c2s ? sport : cport;
			d.flags = k == 0 ? TW_TCP_SYN : k == 1 ? TW_TCP_SYN | TW_TCP_ACK : TW_TCP_ACK;
			d.seq = k == 1 ? 9000 : k == 0 ? 100 : 101;
			d.ack = k == 1 ? 101 : k == 2 ? 9001 : 0;
			d.win = 1000;
			flen[i][k] = pb_build(&d, frames[i][k], sizeof(frames[i][k]));
		}
		struct tw_pkt p;
		memset(&p, 0, sizeof(p));
		CHECK(tw_parse(frames[i][0], frames[i][0] + flen[i][0], &p) == TW_PARSE_OK, "conn %d parses", i);
		tw_flow_key_make(&p, &keys[i]);
	}
}

static int in_map(const struct tw_flow_key *k)
{
	struct tw_flow f;
	return h_flow_get(&H, k, &f) == 0;
}

/* One run at 1 in n; kept[i]: connection i is in the flow table. */
static int run_bpf(uint32_t n, uint8_t *kept)
{
	uint64_t t = 1700000000000000000ull, cnt[TW_CNT_MAX];
	uint32_t rv;
	int nkept = 0, split = 0;

	h_reset(&H);
	H.skel->data->tw_sample_n = n;
	for (int i = 0; i < NCONN; i++) {
		/* the SYN-ACK first through TC: the server's side decides alone */
		CHECK(h_run(&H, 0, frames[i][1], flen[i][1], t += 1000, &rv) == 0, "tc run");
		int after_server = in_map(&keys[i]);
		CHECK(h_run(&H, 1, frames[i][0], flen[i][0], t += 1000, &rv) == 0, "xdp run");
		CHECK(h_run(&H, 1, frames[i][2], flen[i][2], t += 1000, &rv) == 0, "xdp run");
		kept[i] = (uint8_t)in_map(&keys[i]);
		split += after_server != kept[i];
		nkept += kept[i];
		CHECK(kept[i] == tw_flow_sampled(&keys[i], n), "conn %d: the program and sample.h agree (n=%u)", i, n);
		H.got.n = 0; /* events are not under test here */
	}
	h_counters(&H, cnt);
	CHECK(split == 0, "n=%u: %d connections whose two directions were not sampled together", n, split);
	CHECK(cnt[TW_CNT_NOT_SAMPLED] == 3ull * (uint64_t)(NCONN - nkept), "n=%u: packets not sampled %llu, want %d", n,
	      (unsigned long long)cnt[TW_CNT_NOT_SAMPLED], 3 * (NCONN - nkept));
	CHECK(cnt[TW_CNT_FLOWS_NEW] == (uint64_t)nkept, "n=%u: flows created %llu, kept %d", n,
	      (unsigned long long)cnt[TW_CNT_FLOWS_NEW], nkept);
	return nkept;
}

struct keyset {
	int n;
	struct tw_flow_key k[NCONN];
};

static int collect_key(void *arg, const struct tw_flow_key *k, const struct tw_flow *f)
{
	struct keyset *s = arg;
	(void)f;
	if (s->n < NCONN)
		s->k[s->n++] = *k;
	return 0;
}

static int cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct tw_flow_key));
}

struct pfxsum {
	uint64_t packets;
};

static void add_pfx(void *arg, const struct tw_pfx_sample *s)
{
	((struct pfxsum *)arg)->packets += s->packets;
}

/* The daemon's engines, as --replay-engine bpf and user run them. */
static void engines(void)
{
	char err[256];
	struct tw_output out;
	struct tw_pipeline pl;
	struct tw_pipeline_opts po = { .v4_prefix = 24, .v6_prefix = 48 };
	struct tw_regions r = { 0 };
	static struct keyset sb, su;
	struct pfxsum pb = { 0 }, pu = { 0 };
	uint64_t cb[TW_CNT_MAX], cu[TW_CNT_MAX];

	if (tw_output_open(&out, "/dev/null", err, sizeof(err)) < 0) {
		CHECK(0, "%s", err);
		return;
	}
	tw_pipeline_init(&pl, &po);
	struct tw_event_writer w;
	tw_event_writer_init(&w, &pl.opt, tw_output_line, &out);
	tw_pipeline_add_consumer(&pl, "events", tw_event_write, &w);
	struct tw_record_sink rs = { tw_pipeline_record, &pl };
	CHECK(tw_regions_parse(&r, "nets", "198.51.100.0/24 north\n2001:db8::/64 east\n", err, sizeof(err)) == 0,
	      "regions: %s", err);
	struct tw_prefix_opts pfx = { 1, 24, 48 };
	struct tw_engine *eb = tw_engine_bpf_new(&rs, 1, 65536, 0, 0, &pfx, err, sizeof(err));
	CHECK(eb != NULL, "bpf engine: %s", err);
	struct tw_engine *eu = tw_engine_user_new(&rs, 65536, &pfx, err, sizeof(err));
	CHECK(eu != NULL, "user engine: %s", err);
	if (!eb || !eu)
		goto out;
	CHECK(eb->set_client_nets(eb, &r, err, sizeof(err)) == 0, "bpf nets: %s", err);
	CHECK(eu->set_client_nets(eu, &r, err, sizeof(err)) == 0, "user nets: %s", err);
	CHECK(eb->set_sampling(eb, 4) == 0 && eu->set_sampling(eu, 4) == 0, "set_sampling");
	uint64_t t = 1700000000000000000ull;
	for (int i = 0; i < NCONN; i++)
		for (int k = 0; k < 3; k++) {
			struct tw_frame f = { .ts_ns = t += 1000,
				              .caplen = (uint32_t)flen[i][k],
				              .origlen = (uint32_t)flen[i][k],
				              .data = frames[i][k] };
			CHECK(eb->process(eb, &f) == 0 && eu->process(eu, &f) == 0, "process");
		}
	eb->for_each_flow(eb, collect_key, &sb);
	eu->for_each_flow(eu, collect_key, &su);
	qsort(sb.k, (size_t)sb.n, sizeof(sb.k[0]), cmp_key);
	qsort(su.k, (size_t)su.n, sizeof(su.k[0]), cmp_key);
	CHECK(sb.n == su.n && sb.n > 0 && !memcmp(sb.k, su.k, sizeof(sb.k[0]) * (size_t)sb.n),
	      "the BPF and userspace engines keep the same flows at 1 in 4 (%d and %d)", sb.n, su.n);
	eb->counters(eb, cb, NULL, 0, NULL);
	eu->counters(eu, cu, NULL, 0, NULL);
	CHECK(cb[TW_CNT_NOT_SAMPLED] == cu[TW_CNT_NOT_SAMPLED] &&
	              cb[TW_CNT_NOT_SAMPLED] == 3ull * (uint64_t)(NCONN - sb.n),
	      "packets not sampled: bpf %llu user %llu", (unsigned long long)cb[TW_CNT_NOT_SAMPLED],
	      (unsigned long long)cu[TW_CNT_NOT_SAMPLED]);
	/* shutdown detection is never sampled: the server's packets to the
	 * clients (one SYN-ACK per connection) are all counted */
	eb->poll_prefixes(eb, add_pfx, &pb);
	eu->poll_prefixes(eu, add_pfx, &pu);
	CHECK(pb.packets == NCONN && pu.packets == NCONN,
	      "prefix counters count every packet to the clients: bpf %llu user %llu, want %d",
	      (unsigned long long)pb.packets, (unsigned long long)pu.packets, NCONN);
	printf("ok: engines: bpf and user keep the same %d of %d flows at 1 in 4; prefix counters saw all %d "
	       "packets to the clients\n",
	       sb.n, NCONN, NCONN);
out:
	if (eb)
		eb->destroy(eb);
	if (eu)
		eu->destroy(eu);
	tw_regions_free(&r);
	tw_output_close(&out);
}

int main(void)
{
	static uint8_t k4[NCONN], k2[NCONN];
	h_open(&H);
	build();
	int n4 = run_bpf(4, k4);
	CHECK(n4 >= NCONN / 5 && n4 <= NCONN * 3 / 10, "1 in 4: kept %d of %d connections, want about %d", n4, NCONN,
	      NCONN / 4);
	int n2 = run_bpf(2, k2);
	CHECK(n2 >= NCONN * 2 / 5 && n2 <= NCONN * 3 / 5, "1 in 2: kept %d of %d, want about %d", n2, NCONN, NCONN / 2);
	int notnested = 0;
	for (int i = 0; i < NCONN; i++)
		notnested += k4[i] && !k2[i];
	CHECK(notnested == 0, "%d flows kept at 1 in 4 but not at 1 in 2", notnested);
	int n1 = run_bpf(1, k2);
	CHECK(n1 == NCONN, "1 in 1: kept %d of %d", n1, NCONN);
	printf("ok: tw_xdp/tw_tc: both directions sampled together; kept %d (1 in 4), %d (1 in 2), %d (1 in 1) of %d\n",
	       n4, n2, n1, NCONN);
	h_close(&H);
	engines();
	printf("%d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
