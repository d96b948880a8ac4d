/* Per-client-prefix counters for shutdown detection (include/tamperwatch/
 * prefix.h), in the real object through BPF_PROG_TEST_RUN:
 *  - packets towards a client network are counted under their /24 (/48)
 *    with exact packets, bytes, answered flows (SYN-ACKs) and port classes;
 *    client->internet packets and other networks are not counted;
 *  - the distinct-client sketch holds exactly the expected bits, in the bank
 *    of the current epoch; moving the epoch leaves the closed bank alone and
 *    the bank reused two epochs later starts empty;
 *  - a configured prefix length (/28) is honoured;
 *  - a full table counts what it cannot hold and evicts nothing;
 *  - with the feature off nothing is counted;
 *  - the daemon's pollers (daemon/capture/engine_bpf.c and the userspace mirror in
 *    daemon/capture/engine_user.c) give identical samples for the same frames. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <tamperwatch/classify.h>
#include <tamperwatch/prefix.h>
#include "tamperwatch.skel.h"
#include "pktbuild.h"
#include "capture/engine.h"
#include "capture/engine_bpf.h"
#include "events/pipeline.h"
#include "outputs/output.h"
#include "regions.h"

static int fails, checks;
#define CHECK(c, ...)                                                                                                  \
	do {                                                                                                           \
		checks++;                                                                                              \
		if (!(c)) {                                                                                            \
			fails++;                                                                                       \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                    \
			printf(__VA_ARGS__);                                                                           \
			printf("\n");                                                                                  \
		}                                                                                                      \
	} while (0)

#define NCPU_MAX 1024

/* one crafted frame: IPv4 or IPv6, server -> client (reply) or client -> server */
struct fr {
	uint8_t buf[256];
	size_t len;
};

static void mk(struct fr *f, int family, const uint8_t *client, const uint8_t *server, int reply, uint16_t sport,
               uint8_t l4, uint8_t flags, size_t payload)
{
	struct pb_pkt p;
	memset(&p, 0, sizeof(p));
	p.family = family;
	size_t alen = family == 4 ? 4 : 16;
	memcpy(reply ? p.dst : p.src, client, alen);
	memcpy(reply ? p.src : p.dst, server, alen);
	p.sport = reply ? sport : 40000;
	p.dport = reply ? 40000 : sport;
	p.l4 = l4;
	p.flags = flags;
	p.payload_len = payload;
	f->len = pb_build(&p, f->buf, sizeof(f->buf));
}

static void run(struct tamperwatch *s, const struct fr *f)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->buf, .data_size_in = (__u32)f->len, .repeat = 1);
	int rc = bpf_prog_test_run_opts(bpf_program__fd(s->progs.tw_xdp), &o);
	CHECK(rc == 0 && o.retval == XDP_PASS, "test run rc %d retval %u", rc, o.retval);
}

static uint64_t bytes_run; /* frame bytes sent towards client networks, for the byte count */

/* a server answer to client 198.51.<net>.<host> from port sport */
static void reply4(struct tamperwatch *s, uint8_t net, uint8_t host, uint16_t sport, uint8_t l4, uint8_t flags)
{
	uint8_t c[4] = { 198, 51, net, host }, srv[4] = { 203, 0, 113, 10 };
	struct fr f;
	mk(&f, 4, c, srv, 1, sport, l4, flags, host % 7);
	bytes_run += f.len;
	run(s, &f);
}

/* the sketch bit of one address, as the contract (prefix.h) defines it:
 * FNV-1a over the address bytes, folded to 8 bits */
static void sketch_set(uint64_t w[TW_PFX_SKETCH_WORDS], const uint8_t *a, int alen)
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < alen; i++)
		h = (h ^ a[i]) * 16777619u;
	uint32_t bit = (h ^ (h >> 16)) & 255;
	w[bit >> 6] |= 1ull << (bit & 63);
}

static void sketch4(uint64_t w[TW_PFX_SKETCH_WORDS], uint8_t net, int from, int to)
{
	for (int h = from; h <= to; h++) {
		uint8_t a[4] = { 198, 51, net, (uint8_t)h };
		sketch_set(w, a, 4);
	}
}

static int popcount4(const uint64_t *w)
{
	return __builtin_popcountll(w[0]) + __builtin_popcountll(w[1]) + __builtin_popcountll(w[2]) +
	       __builtin_popcountll(w[3]);
}

/* one prefix's value summed over CPUs; each sketch bank ORed over the CPUs
 * whose bank holds epoch `epoch[bank]` (-1: any) */
struct sum {
	uint64_t packets, bytes, new_flows, cls[TW_PFX_NCLASS];
	uint64_t bank[2][TW_PFX_SKETCH_WORDS];
	int bank_epoch_ok[2];
};

static int read_key(struct tamperwatch *s, const struct tw_pfx_key *k, const long long epoch[2], struct sum *out)
{
	int ncpu = libbpf_num_possible_cpus();
	static struct tw_pfx_val v[NCPU_MAX];
	memset(out, 0, sizeof(*out));
	if (ncpu > NCPU_MAX || bpf_map_lookup_elem(bpf_map__fd(s->maps.tw_pfx), k, v))
		return -1;
	out->bank_epoch_ok[0] = out->bank_epoch_ok[1] = 1;
	for (int c = 0; c < ncpu; c++) {
		out->packets += v[c].packets;
		out->bytes += v[c].bytes;
		out->new_flows += v[c].new_flows;
		for (int i = 0; i < TW_PFX_NCLASS; i++)
			out->cls[i] += v[c].class_packets[i];
		for (int b = 0; b < 2; b++) {
			int has = 0;
			for (int i = 0; i < TW_PFX_SKETCH_WORDS; i++) {
				out->bank[b][i] |= v[c].clients[b][i];
				has |= v[c].clients[b][i] != 0;
			}
			/* a CPU whose bank holds bits must hold them for the expected epoch */
			if (has && epoch[b] >= 0 && v[c].sk_epoch[b] != (uint64_t)epoch[b])
				out->bank_epoch_ok[b] = 0;
		}
	}
	return 0;
}

static struct tw_pfx_key key4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint8_t plen)
{
	struct tw_pfx_key k;
	memset(&k, 0, sizeof(k));
	k.family = TW_FAMILY_IPV4;
	k.plen = plen;
	k.addr[0] = a;
	k.addr[1] = b;
	k.addr[2] = c;
	k.addr[3] = d;
	return k;
}

static uint64_t counter(struct tamperwatch *s, int which)
{
	int ncpu = libbpf_num_possible_cpus();
	static struct {
		uint64_t c[TW_CNT_MAX];
	} v[NCPU_MAX];
	__u32 zero = 0;
	uint64_t t = 0;
	if (ncpu > NCPU_MAX || bpf_map_lookup_elem(bpf_map__fd(s->maps.tw_stats), &zero, v))
		return UINT64_MAX;
	for (int c = 0; c < ncpu; c++)
		t += v[c].c[which];
	return t;
}

static int add_net(struct tamperwatch *s, int family, const uint8_t *addr, int plen)
{
	struct tw_lpm_key lk;
	memset(&lk, 0, sizeof(lk));
	lk.prefixlen = 8 + (uint32_t)plen;
	lk.data[0] = family == 4 ? TW_FAMILY_IPV4 : TW_FAMILY_IPV6;
	memcpy(lk.data + 1, addr, family == 4 ? 4 : 16);
	__u32 one = 1;
	return bpf_map_update_elem(bpf_map__fd(s->maps.tw_client_nets), &lk, &one, BPF_ANY);
}

static struct tamperwatch *open_obj(int on, uint32_t v4_len, uint32_t max_pfx)
{
	struct tamperwatch *s = tamperwatch__open();
	if (!s)
		return NULL;
	s->rodata->tw_cfg_replay = 1;
	s->rodata->tw_cfg_pfx_on = (__u32)on;
	s->rodata->tw_cfg_pfx_v4 = v4_len;
	bpf_map__set_max_entries(s->maps.tw_flows4, 4096);
	bpf_map__set_max_entries(s->maps.tw_flows6, 4096);
	if (max_pfx)
		bpf_map__set_max_entries(s->maps.tw_pfx, max_pfx);
	if (tamperwatch__load(s)) {
		tamperwatch__destroy(s);
		return NULL;
	}
	static const uint8_t n4[4] = { 198, 51, 100, 0 }, n18[4] = { 198, 18, 0, 0 };
	static const uint8_t n6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	if (add_net(s, 4, n4, 24) || add_net(s, 4, n18, 15) || add_net(s, 6, n6, 32)) {
		tamperwatch__destroy(s);
		return NULL;
	}
	return s;
}

static void test_counts_and_epochs(void)
{
	struct tamperwatch *s = open_obj(1, 24, 0);
	CHECK(s != NULL, "load with counters on");
	if (!s)
		return;
	bytes_run = 0;
	/* epoch 0: 50 clients of 198.51.100.0/24 get a SYN-ACK from a web
	 * server and a DNS answer; 5 get an SSH segment, 3 an NTP answer */
	for (int h = 1; h <= 50; h++) {
		reply4(s, 100, (uint8_t)h, 443, 6, 0x12);
		reply4(s, 100, (uint8_t)h, 53, 17, 0);
	}
	for (int h = 1; h <= 5; h++)
		reply4(s, 100, (uint8_t)h, 22, 6, 0x18);
	for (int h = 1; h <= 3; h++)
		reply4(s, 100, (uint8_t)h, 123, 17, 0);
	uint64_t want_bytes = bytes_run;
	/* client -> internet, and answers to a network that is not a client network */
	for (int h = 1; h <= 10; h++) {
		uint8_t c[4] = { 198, 51, 100, (uint8_t)h }, srv[4] = { 203, 0, 113, 10 };
		struct fr f;
		mk(&f, 4, c, srv, 0, 443, 6, 0x02, 0);
		run(s, &f);
		reply4(s, 101, (uint8_t)h, 443, 6, 0x12);
	}

	struct tw_pfx_key k = key4(198, 51, 100, 0, 24);
	struct sum v;
	long long ep0[2] = { 0, -1 };
	CHECK(read_key(s, &k, ep0, &v) == 0, "198.51.100.0/24 counted");
	CHECK(v.packets == 108, "packets %llu, want 108", (unsigned long long)v.packets);
	CHECK(v.bytes == want_bytes, "bytes %llu, want %llu", (unsigned long long)v.bytes,
	      (unsigned long long)want_bytes);
	CHECK(v.new_flows == 50, "answered flows %llu, want 50", (unsigned long long)v.new_flows);
	CHECK(v.cls[0] == 50 && v.cls[1] == 50 && v.cls[2] == 5 && v.cls[3] == 3,
	      "classes web %llu dns %llu tcp_other %llu other %llu, want 50 50 5 3", (unsigned long long)v.cls[0],
	      (unsigned long long)v.cls[1], (unsigned long long)v.cls[2], (unsigned long long)v.cls[3]);
	uint64_t want[TW_PFX_SKETCH_WORDS] = { 0 };
	sketch4(want, 100, 1, 50);
	CHECK(!memcmp(v.bank[0], want, sizeof(want)) && v.bank_epoch_ok[0],
	      "epoch 0: bank 0 holds the 50 clients' bits (%d bits, want %d)", popcount4(v.bank[0]), popcount4(want));
	CHECK(popcount4(v.bank[1]) == 0, "epoch 0: bank 1 untouched (%d bits)", popcount4(v.bank[1]));
	struct tw_pfx_key k101 = key4(198, 51, 101, 0, 24);
	CHECK(read_key(s, &k101, ep0, &v) != 0, "198.51.101.0/24 is not a client network: not counted");
	struct tw_pfx_key khost = key4(198, 51, 100, 1, 24);
	CHECK(read_key(s, &khost, ep0, &v) != 0, "key has its host bits cleared");
	printf("ok: 108 packets (%llu bytes) to 50 clients of 198.51.100.0/24: web 50, dns 50, tcp_other 5, other 3, "
	       "answered 50, sketch %d bits in bank 0; client->internet and other networks not counted\n",
	       (unsigned long long)want_bytes, popcount4(want));

	/* epoch 1: writers move to bank 1; bank 0 (epoch 0) stays as it was */
	s->bss->tw_pfx_epoch = 1;
	for (int h = 200; h <= 204; h++)
		reply4(s, 100, (uint8_t)h, 443, 6, 0x10);
	long long ep1[2] = { 0, 1 };
	CHECK(read_key(s, &k, ep1, &v) == 0, "read after epoch 1");
	uint64_t want1[TW_PFX_SKETCH_WORDS] = { 0 };
	sketch4(want1, 100, 200, 204);
	CHECK(!memcmp(v.bank[0], want, sizeof(want)) && v.bank_epoch_ok[0], "epoch 1: closed bank 0 unchanged");
	CHECK(!memcmp(v.bank[1], want1, sizeof(want1)) && v.bank_epoch_ok[1],
	      "epoch 1: bank 1 holds the 5 new clients only (%d bits, want %d)", popcount4(v.bank[1]),
	      popcount4(want1));
	CHECK(v.packets == 113, "packets go on accumulating: %llu, want 113", (unsigned long long)v.packets);

	/* epoch 2: bank 0 is reused and starts empty; bank 1 (epoch 1) stays */
	s->bss->tw_pfx_epoch = 2;
	for (int h = 210; h <= 212; h++)
		reply4(s, 100, (uint8_t)h, 443, 6, 0x10);
	long long ep2[2] = { 2, 1 };
	CHECK(read_key(s, &k, ep2, &v) == 0, "read after epoch 2");
	uint64_t want2[TW_PFX_SKETCH_WORDS] = { 0 };
	sketch4(want2, 100, 210, 212);
	CHECK(!memcmp(v.bank[0], want2, sizeof(want2)) && v.bank_epoch_ok[0],
	      "epoch 2: bank 0 cleared and holds the 3 new clients (%d bits, want %d)", popcount4(v.bank[0]),
	      popcount4(want2));
	CHECK(!memcmp(v.bank[1], want1, sizeof(want1)) && v.bank_epoch_ok[1], "epoch 2: closed bank 1 unchanged");
	printf("ok: epoch 1 writes bank 1 (%d bits) and leaves bank 0; epoch 2 clears bank 0 before use (%d bits)\n",
	       popcount4(want1), popcount4(want2));

	/* IPv6: two clients in 2001:db8:a::/48, one in 2001:db8:b::/48, one outside the client network */
	static const uint8_t srv6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, [15] = 1 };
	static const uint8_t c6[4][16] = {
		{ 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x0a, 0x00, 0x01, [15] = 5 },
		{ 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x0a, 0x00, 0x02, [15] = 7 },
		{ 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x0b, [15] = 1 },
		{ 0x20, 0x01, 0x0d, 0xb9, 0x00, 0x0a, [15] = 1 },
	};
	for (int i = 0; i < 4; i++) {
		struct fr f;
		mk(&f, 6, c6[i], srv6, 1, 443, 6, 0x12, 0);
		run(s, &f);
	}
	struct tw_pfx_key ka, kb, kc;
	memset(&ka, 0, sizeof(ka));
	ka.family = TW_FAMILY_IPV6;
	ka.plen = 48;
	memcpy(ka.addr, c6[0], 6);
	kb = ka;
	kb.addr[5] = 0x0b;
	kc = ka;
	kc.addr[3] = 0xb9;
	long long any[2] = { 2, -1 };
	CHECK(read_key(s, &ka, any, &v) == 0 && v.packets == 2 && v.new_flows == 2 && popcount4(v.bank[0]) >= 1,
	      "2001:db8:a::/48: %llu packets, want 2", (unsigned long long)v.packets);
	CHECK(read_key(s, &kb, any, &v) == 0 && v.packets == 1, "2001:db8:b::/48: %llu packets, want 1",
	      (unsigned long long)v.packets);
	CHECK(read_key(s, &kc, any, &v) != 0, "2001:db9:a::/48 is outside the client network");
	CHECK(counter(s, TW_CNT_PFX_INSERT_FAIL) == 0, "no insert failure with room in the table");
	printf("ok: IPv6 counted per /48 (2 + 1 packets), other networks not\n");
	tamperwatch__destroy(s);
}

static void test_prefix_len(void)
{
	struct tamperwatch *s = open_obj(1, 28, 0);
	CHECK(s != NULL, "load with /28");
	if (!s)
		return;
	reply4(s, 100, 20, 443, 6, 0x12);
	reply4(s, 100, 40, 443, 6, 0x12);
	struct sum v;
	long long any[2] = { -1, -1 };
	struct tw_pfx_key a = key4(198, 51, 100, 16, 28), b = key4(198, 51, 100, 32, 28);
	CHECK(read_key(s, &a, any, &v) == 0 && v.packets == 1, "198.51.100.16/28 counted once");
	CHECK(read_key(s, &b, any, &v) == 0 && v.packets == 1, "198.51.100.32/28 counted once");
	printf("ok: tw_cfg_pfx_v4 = 28 counts per /28\n");
	tamperwatch__destroy(s);
}

static void test_table_full(void)
{
	struct tamperwatch *s = open_obj(1, 24, 2);
	CHECK(s != NULL, "load with a 2-entry prefix table");
	if (!s)
		return;
	uint8_t srv[4] = { 203, 0, 113, 10 };
	for (int round = 0; round < 2; round++)
		for (int n = 1; n <= 3; n++) {
			uint8_t c[4] = { 198, 18, (uint8_t)n, 9 };
			struct fr f;
			mk(&f, 4, c, srv, 1, 443, 6, 0x10, 0);
			run(s, &f);
		}
	struct sum v;
	long long any[2] = { -1, -1 };
	struct tw_pfx_key k1 = key4(198, 18, 1, 0, 24), k2 = key4(198, 18, 2, 0, 24), k3 = key4(198, 18, 3, 0, 24);
	CHECK(read_key(s, &k1, any, &v) == 0 && v.packets == 2, "first prefix kept and counted twice");
	CHECK(read_key(s, &k2, any, &v) == 0 && v.packets == 2, "second prefix kept and counted twice");
	CHECK(read_key(s, &k3, any, &v) != 0, "third prefix not inserted (and nothing evicted)");
	uint64_t full = counter(s, TW_CNT_PFX_INSERT_FAIL);
	CHECK(full == 2, "table-full counter %llu, want 2", (unsigned long long)full);
	printf("ok: full table: 2 packets counted as not counted, no prefix evicted\n");
	tamperwatch__destroy(s);
}

static void test_off(void)
{
	struct tamperwatch *s = open_obj(0, 24, 0);
	CHECK(s != NULL, "load with counters off");
	if (!s)
		return;
	reply4(s, 100, 1, 443, 6, 0x12);
	struct sum v;
	long long any[2] = { -1, -1 };
	struct tw_pfx_key k = key4(198, 51, 100, 0, 24);
	CHECK(read_key(s, &k, any, &v) != 0, "counters off: nothing counted");
	printf("ok: with the feature off nothing is counted\n");
	tamperwatch__destroy(s);
}

/* ---- the daemon's pollers: BPF engine and the userspace mirror --------- */

#define MAXS 16
struct got {
	int n;
	struct tw_pfx_sample s[MAXS];
};

static void collect(void *arg, const struct tw_pfx_sample *s)
{
	struct got *g = arg;
	if (g->n < MAXS)
		g->s[g->n++] = *s;
}

static int cmp_sample(const void *a, const void *b)
{
	return memcmp(&((const struct tw_pfx_sample *)a)->key, &((const struct tw_pfx_sample *)b)->key,
	              sizeof(struct tw_pfx_key));
}

static void feed_engine(struct tw_engine *e, int epoch)
{
	uint8_t srv[4] = { 203, 0, 113, 10 };
	static const uint8_t srv6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, [15] = 1 };
	int n = epoch == 0 ? 30 : 7;
	for (int h = 1; h <= n; h++) {
		uint8_t c[4] = { 198, 51, 100, (uint8_t)(h + 10 * epoch) },
		        c6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0x0a, [15] = (uint8_t)h };
		struct fr f[4];
		mk(&f[0], 4, c, srv, 1, 443, 6, 0x12, 0);
		mk(&f[1], 4, c, srv, 1, 53, 17, 0, 30);
		mk(&f[2], 4, c, srv, 0, 443, 6, 0x10, 0); /* the client's own packet: not counted */
		mk(&f[3], 6, c6, srv6, 1, 443, 6, 0x10, 100);
		for (int i = 0; i < 4; i++) {
			struct tw_frame fr = { .ts_ns = 1700000000000000000ull + (uint64_t)(epoch * 100 + h) * 1000000,
				               .caplen = (uint32_t)f[i].len,
				               .origlen = (uint32_t)f[i].len,
				               .data = f[i].buf };
			CHECK(e->process(e, &fr) == 0, "%s: process", e->name);
		}
	}
}

static void test_pollers(void)
{
	char err[256];
	struct tw_output out;
	struct tw_pipeline pl;
	struct tw_pipeline_opts po = { .v4_prefix = 24, .v6_prefix = 48 };
	struct tw_regions r = { 0 };
	if (tw_output_open(&out, "/dev/null", err, sizeof(err)) < 0) {
		CHECK(0, "%s", err);
		return;
	}
	tw_pipeline_init(&pl, &po);
	/* events written as JSON lines, as the daemon does */
	struct tw_event_writer w;
	tw_event_writer_init(&w, &pl.opt, tw_output_line, &out);
	tw_pipeline_add_consumer(&pl, "events", tw_event_write, &w);
	struct tw_record_sink rs = { tw_pipeline_record, &pl };
	CHECK(tw_regions_parse(&r, "nets", "198.51.100.0/24 north\n2001:db8::/32 east\n", err, sizeof(err)) == 0,
	      "regions: %s", err);
	struct tw_prefix_opts pfx = { 1, 24, 48 };
	struct tw_engine *eb = tw_engine_bpf_new(&rs, 1, 4096, 0, 0, &pfx, err, sizeof(err));
	CHECK(eb != NULL, "bpf engine: %s", err);
	struct tw_engine *eu = tw_engine_user_new(&rs, 4096, &pfx, err, sizeof(err));
	CHECK(eu != NULL, "user engine: %s", err);
	if (!eb || !eu)
		goto out;
	CHECK(eb->set_client_nets(eb, &r, err, sizeof(err)) == 0, "bpf nets: %s", err);
	CHECK(eu->set_client_nets(eu, &r, err, sizeof(err)) == 0, "user nets: %s", err);
	for (int epoch = 0; epoch < 2; epoch++) {
		struct got gb = { 0 }, gu = { 0 };
		feed_engine(eb, epoch);
		feed_engine(eu, epoch);
		long nb = eb->poll_prefixes(eb, collect, &gb), nu = eu->poll_prefixes(eu, collect, &gu);
		CHECK(nb == 2 && nu == 2 && gb.n == 2 && gu.n == 2, "epoch %d: prefixes bpf %ld user %ld, want 2",
		      epoch, nb, nu);
		qsort(gb.s, (size_t)gb.n, sizeof(gb.s[0]), cmp_sample);
		qsort(gu.s, (size_t)gu.n, sizeof(gu.s[0]), cmp_sample);
		CHECK(gb.n == gu.n && !memcmp(gb.s, gu.s, sizeof(gb.s[0]) * (size_t)gb.n),
		      "epoch %d: the BPF engine's samples equal the userspace mirror's", epoch);
		const struct tw_pfx_sample *v4 = &gb.s[0];
		int n = epoch == 0 ? 30 : 7;
		uint64_t want[TW_PFX_SKETCH_WORDS] = { 0 };
		sketch4(want, 100, 1 + 10 * epoch, n + 10 * epoch);
		CHECK(v4->key.family == TW_FAMILY_IPV4 && v4->packets == (epoch ? 74u : 60u) &&
		              v4->class_packets[0] == (epoch ? 37u : 30u) &&
		              v4->class_packets[1] == (epoch ? 37u : 30u),
		      "epoch %d: 198.51.100.0/24 cumulative packets %llu", epoch, (unsigned long long)v4->packets);
		CHECK(!memcmp(v4->clients, want, sizeof(want)),
		      "epoch %d: the poll returns the closed epoch's clients only (%d bits, want %d)", epoch,
		      popcount4(v4->clients), popcount4(want));
	}
	printf("ok: daemon pollers: BPF engine and userspace mirror give identical samples over two epochs\n");
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
	if (geteuid() != 0 || access("/sys/kernel/btf/vmlinux", R_OK)) {
		printf("needs root and BTF to load BPF programs\n");
		return 77;
	}
	libbpf_set_print(NULL);
	test_counts_and_epochs();
	test_prefix_len();
	test_table_full();
	test_off();
	test_pollers();
	printf("%d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
