/* The BPF programs and the userspace mirror of them (the classifier core
 * called as daemon/capture/engine_user.c calls it) must produce the same bytes: a
 * sequence of crafted packets over several interleaved flows (IPv4/IPv6,
 * VLAN, TCP with injected RSTs, SYN-ACK-first, mid-stream, DNS, other UDP,
 * malformed frames in between) is run through tw_xdp, then through tw_tc,
 * and every event record, the counters and the final flow table are
 * compared with the mirror's. */
#include "bpf_harness.h"

static struct harness H;

#define MARKF(f0) (fails == (f0) ? "ok  " : "FAIL")

struct flowdef {
	int family;
	int l4;
	int nvlan;
	uint8_t c[16], s[16];
	uint16_t cport, sport;
};

static const struct flowdef flows[] = {
	/* 0 */ { 4, 6, 0, { 10, 0, 0, 2 }, { 93, 184, 216, 34 }, 41000, 80 },
	/* 1 */ { 6, 6, 2, { 0x20, 0x01, 0x0d, 0xb8, [15] = 5 }, { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 }, 50001, 443 },
	/* 2 */ { 4, 17, 1, { 192, 168, 0, 20 }, { 192, 168, 0, 1 }, 40404, 53 },
	/* 3 */ { 4, 6, 0, { 172, 16, 5, 5 }, { 172, 16, 0, 1 }, 55555, 8080 },
	/* 4 */ { 4, 6, 1, { 10, 9, 9, 9 }, { 10, 0, 0, 1 }, 60000, 443 },
	/* 5 */ { 6, 17, 0, { 0xfd, [15] = 7 }, { 0x26, 0x06, [15] = 0x44 }, 45000, 443 },
	/* 6 */ { 4, 6, 0, { 10, 0, 0, 2 }, { 10, 0, 0, 3 }, 41001, 443 },
};

struct pk {
	int flow; /* -1: a raw malformed frame (kind in .flags) */
	int c2s;
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t win;
	uint8_t ttl;
	uint16_t ipid;
	size_t plen;
	uint64_t gap; /* ns since the previous packet */
	int extra;    /* 1: IPv4 options (IHL 8) / IPv6 hop-by-hop; 2: IPv4 first fragment (MF) */
};

#define SYN TW_TCP_SYN
#define ACK TW_TCP_ACK
#define RST TW_TCP_RST
#define FIN TW_TCP_FIN
#define PSH TW_TCP_PSH

static const struct pk seqlist[] = {
	{ 0, 1, SYN, 1000, 0, 64240, 64, 0x10, 0, 0, 0 },
	{ 1, 1, SYN, 0xfffffff0u, 0, 65535, 64, 0, 0, 1000, 0 },
	{ 0, 0, SYN | ACK, 7000, 1001, 65160, 52, 0, 0, 35000, 0 },
	{ 2, 1, 0, 0, 0, 0, 64, 0x1234, 34, 500, 0 },
	{ 0, 1, ACK, 1001, 7001, 502, 64, 0x11, 0, 20, 0 },
	{ 1, 0, SYN | ACK, 300, 0xfffffff1u, 65535, 55, 0, 0, 40000, 0 },
	{ 0, 1, PSH | ACK, 1001, 7001, 502, 64, 0x12, 517, 7, 1 },
	{ -1, 0, 1, 0, 0, 0, 0, 0, 0, 3, 0 }, /* ICMP */
	{ 1, 1, ACK, 0xfffffff1u, 301, 1024, 64, 0, 0, 11, 0 },
	{ 2, 0, 0, 0, 0, 0, 58, 0x0001, 120, 9000, 0 },
	{ 0, 0, RST | ACK, 7001, 1518, 0, 60, 0x0, 0, 30000, 0 },
	{ 0, 0, RST, 7001 + 1460, 1518, 0, 61, 0x0, 0, 2, 0 },
	{ 2, 0, 0, 0, 0, 0, 47, 0x0002, 88, 10, 0 }, /* second (forged) DNS answer */
	{ 0, 0, RST | ACK, 7001 + 2920, 1518, 0, 62, 0x0, 10, 2, 0 },
	{ 1, 1, PSH | ACK, 0xfffffff1u, 301, 1024, 64, 0, 1500, 100, 1 }, /* crosses 2^32 */
	{ 3, 0, SYN | ACK, 900, 51, 29200, 57, 0x7777, 0, 5000, 0 },      /* SYN-ACK first */
	{ -1, 0, 2, 0, 0, 0, 0, 0, 0, 3, 0 },                             /* IPv4 non-first fragment */
	{ 0, 0, PSH | ACK, 7001, 1518, 509, 52, 0x2, 200, 10000, 0 },     /* data after the RSTs */
	{ 4, 0, PSH | ACK, 123, 456, 1000, 44, 0x99, 64, 1, 0 },          /* mid-stream, server first */
	{ 1, 0, PSH | ACK, 301, 0xfffffff1u + 1500, 2048, 55, 0, 1200, 20000, 0 },
	{ 5, 1, 0, 0, 0, 0, 64, 0, 1200, 33, 1 }, /* QUIC-like initial */
	{ 3, 1, ACK, 51, 901, 1000, 64, 0x10, 0, 77, 0 },
	{ 4, 1, RST, 456, 0, 0, 64, 0x5, 0, 4, 0 },
	{ 5, 0, 0, 0, 0, 0, 50, 0, 1200, 9999, 0 },
	{ 6, 1, SYN, 5, 0, 1000, 64, 0x60, 0, 1, 0 },
	{ 6, 1, SYN, 5, 0, 1000, 64, 0x61, 0, 1000000, 0 }, /* SYN retransmitted */
	{ 6, 0, RST | ACK, 0, 6, 0, 64, 0, 0, 12, 0 },      /* RST to the SYN */
	{ 1, 1, FIN | ACK, 0xfffffff1u + 1500, 1501, 1024, 64, 0, 0, 5, 0 },
	{ 3, 1, PSH | ACK, 51, 901, 1000, 64, 0x11, 300, 6, 2 }, /* first fragment */
	{ 1, 0, FIN | ACK, 1501, 0xfffffff2u + 1500, 2048, 55, 0, 0, 7, 0 },
	{ 1, 1, ACK, 0xfffffff2u + 1500, 1502, 1024, 64, 0, 0, 8, 0 },
	{ 2, 1, 0, 0, 0, 0, 64, 0x1235, 34, 9, 1 },
	{ 0, 1, FIN | ACK, 1518, 7201, 502, 64, 0x13, 0, 10, 0 },
};

#define NPK (sizeof(seqlist) / sizeof(seqlist[0]))

static uint8_t frames[NPK][2048];
static size_t flen[NPK];
static uint64_t ftime[NPK];

static void build_all(void)
{
	uint64_t t = 1700000000000000000ull;
	static uint8_t pay[2048];
	for (size_t i = 0; i < NPK; i++) {
		const struct pk *k = &seqlist[i];
		struct pb_pkt d;
		memset(&d, 0, sizeof(d));
		t += k->gap;
		ftime[i] = t;
		if (k->flow < 0) {
			d.family = 4;
			d.src[0] = 10;
			d.dst[0] = 11;
			if (k->flags == 1) {
				d.l4 = 1;
				d.payload_len = 56;
			} else {
				d.frag_off = 185;
				d.payload_len = 100;
			}
			flen[i] = pb_build(&d, frames[i], sizeof(frames[i]));
			continue;
		}
		const struct flowdef *f = &flows[k->flow];
		d.family = f->family;
		d.l4 = (uint8_t)f->l4;
		d.nvlan = f->nvlan;
		d.vlan_tci[0] = 10;
		d.vlan_tci[1] = 20;
		memcpy(d.src, k->c2s ? f->c : f->s, 16);
		memcpy(d.dst, k->c2s ? f->s : f->c, 16);
		d.sport = k->c2s ? f->cport : f->sport;
		d.dport = k->c2s ? f->sport : f->cport;
		d.flags = k->flags;
		d.seq = k->seq;
		d.ack = k->ack;
		d.win = k->win;
		d.ttl = k->ttl;
		d.ip_id = k->ipid;
		d.df = 1;
		if (k->flags & SYN) {
			d.mss = 1400;
			d.has_wscale = 1;
			d.wscale = (uint8_t)(k->c2s ? 9 : 6);
		}
		if (k->extra == 1 && f->family == 4)
			d.ip_opt_len = 12;
		if (k->extra == 1 && f->family == 6) {
			d.next = 1;
			d.ext[0].type = 0;
		}
		if (k->extra == 2) {
			d.mf = 1;
			d.df = 0;
		}
		for (size_t j = 0; j < k->plen; j++)
			pay[j] = (uint8_t)(i * 31 + j);
		d.payload = pay;
		d.payload_len = k->plen;
		flen[i] = pb_build(&d, frames[i], sizeof(frames[i]));
		if (!flen[i]) {
			printf("FAIL: packet %zu does not fit\n", i);
			exit(1);
		}
	}
}

static void compare(int xdp, const struct mirror *m)
{
	const char *hook = xdp ? "xdp" : "tc";
	int f0 = fails;

	CHECK(H.got.n == m->out.n, "[%s] %d events from BPF, %d from the mirror", hook, H.got.n, m->out.n);
	for (int i = 0; i < H.got.n && i < m->out.n; i++) {
		const struct tw_event *b = (const struct tw_event *)H.got.ev[i];
		const struct tw_event *u = (const struct tw_event *)m->out.ev[i];
		CHECK(H.got.len[i] >= b->len, "[%s] event %d: record %zu shorter than len %u", hook, i, H.got.len[i],
		      b->len);
		int same = b->len == u->len && memcmp(b, u, u->len) == 0;
		long at =
		        same ? -1
		             : h_first_diff((const uint8_t *)b, (const uint8_t *)u, b->len < u->len ? b->len : u->len);
		CHECK(same, "[%s] event %d (%s flow %llu): differs from the mirror (len %u vs %u, first byte %ld)",
		      hook, i, ev_name(u->type), (unsigned long long)u->flow_id, b->len, u->len, at);
		printf("%s [%s] event %2d %-15s flow %llu dir %u len %4u: %s\n", same ? "ok  " : "FAIL", hook, i,
		       ev_name(b->type), (unsigned long long)b->flow_id, b->dir, b->len,
		       same ? "byte-identical to the mirror" : "DIFFERS");
	}

	uint64_t cnt[TW_CNT_MAX];
	h_counters(&H, cnt);
	for (int i = 0; i < TW_CNT_MAX; i++)
		CHECK(cnt[i] == m->cnt[i], "[%s] counter %d: BPF %llu, mirror %llu", hook, i,
		      (unsigned long long)cnt[i], (unsigned long long)m->cnt[i]);
	printf("%s [%s] all %d counters equal (packets %llu, tracked %llu, flows %llu, events %llu, OTHER_L4 %llu, "
	       "FRAGMENT %llu)\n",
	       MARKF(f0), hook, TW_CNT_MAX, (unsigned long long)cnt[TW_CNT_PACKETS],
	       (unsigned long long)cnt[TW_CNT_TRACKED], (unsigned long long)cnt[TW_CNT_FLOWS_NEW],
	       (unsigned long long)cnt[TW_CNT_EVENTS], (unsigned long long)cnt[TW_CNT_PARSE_BASE + TW_PARSE_OTHER_L4],
	       (unsigned long long)cnt[TW_CNT_PARSE_BASE + TW_PARSE_FRAGMENT]);

	/* final flow table */
	int n4, n6, m4 = 0;
	int nk = h_flow_count(&H, &n4, &n6);
	for (int i = 0; i < m->n; i++)
		m4 += m->key[i].family == TW_FAMILY_IPV4;
	CHECK(nk == m->n && n4 == m4, "[%s] %d flows in the maps (%d IPv4, %d IPv6), mirror has %d (%d IPv4)", hook, nk,
	      n4, n6, m->n, m4);
	for (int i = 0; i < m->n; i++) {
		struct tw_flow f;
		int rc = h_flow_get(&H, &m->key[i], &f);
		CHECK(rc == 0 && memcmp(&f, &m->flow[i], sizeof(f)) == 0, "[%s] flow %d (id %llu): %s", hook, i,
		      (unsigned long long)m->flow[i].flow_id, rc ? "missing" : "state differs");
	}
	printf("%s [%s] final flow table: %d flows, each equal to the mirror's\n", MARKF(f0), hook, m->n);
}

int main(void)
{
	static struct mirror m;
	h_open(&H);
	build_all();
	for (int xdp = 1; xdp >= 0; xdp--) {
		const char *hook = xdp ? "xdp" : "tc";
		h_reset(&H);
		memset(&m, 0, sizeof(m));
		for (size_t i = 0; i < NPK; i++) {
			uint32_t rv = 99;
			int err = h_run(&H, xdp, frames[i], flen[i], ftime[i], &rv);
			CHECK(err == 0 && rv == (xdp ? 2u : 0u), "[%s] packet %zu: err %d verdict %u", hook, i, err,
			      rv);
			m_process(&m, frames[i], flen[i], ftime[i]);
		}
		printf("---- [%s] %zu packets over %zu flows (+2 malformed): %d events\n", hook, NPK,
		       sizeof(flows) / sizeof(flows[0]), H.got.n);
		compare(xdp, &m);
	}
	/* the sequence must exercise every event kind the programs write */
	int kinds = 0;
	for (int i = 0; i < m.out.n; i++)
		kinds |= 1 << ((const struct tw_event *)m.out.ev[i])->type;
	for (int t = TW_EV_HANDSHAKE; t <= TW_EV_DNS_RESPONSE; t++)
		CHECK(kinds & (1 << t), "no %s event in the sequence", ev_name((unsigned)t));
	printf("%s sequence covers every event kind HANDSHAKE..DNS_RESPONSE\n", fails ? "FAIL" : "ok  ");
	h_close(&H);
	printf("%s: %d checks, %d failures\n", fails ? "FAIL" : "PASS", checks, fails);
	return fails ? 1 : 0;
}
