/* Rate evidence (include/tamperwatch/rate.h) kept by the real BPF programs:
 * one crafted TCP flow with timestamps, a receive-window-filling segment,
 * duplicate ACKs, three loss episodes (one of two retransmissions, one a
 * hole in the sequence) and a send after an idle period is run through tw_xdp and through tw_tc; the
 * flow entry the kernel keeps must hold the expected samples and counts,
 * byte for byte what the userspace mirror computes. */
#include "bpf_harness.h"

static struct harness H;

#define MS 1000000ull

struct step {
	int c2s;
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t win;
	size_t plen;
	uint64_t at; /* ns of flow time */
	uint32_t tsval, tsecr;
	int ts; /* carries the timestamp option */
};

#define S TW_TCP_SYN
#define A TW_TCP_ACK
#define P (TW_TCP_PSH | TW_TCP_ACK)

/* client 1000.., server 5000..; the client's window is 1000 bytes (no
 * window scaling), so a 1000-byte server segment fills it */
static const struct step steps[] = {
	{ 1, S, 1000, 0, 1000, 0, 0 * MS, 0, 0, 0 },
	{ 0, S | A, 5000, 1001, 65535, 0, 10 * MS, 0, 0, 0 },      /* RTT via server: 10 ms */
	{ 1, A, 1001, 5001, 1000, 0, 12 * MS, 100, 0, 1 },         /* RTT via client: 2 ms; TSval 100 */
	{ 1, P, 1001, 5001, 1000, 100, 13 * MS, 100, 0, 1 },       /* request */
	{ 1, A, 1101, 5001, 1000, 0, 24 * MS, 100, 0, 1 },         /* the client is busy: the echo is a queue's */
	{ 0, P, 5001, 1101, 65535, 1000, 25 * MS, 500, 100, 1 },   /* echo of 100; fills the window */
	{ 1, A, 1101, 6001, 1000, 0, 26 * MS, 101, 500, 1 },       /* echo of 500 */
	{ 0, P, 6001, 1101, 65535, 500, 35 * MS, 501, 100, 1 },    /* 6001..6501 */
	{ 1, A, 1101, 6001, 1000, 0, 36 * MS, 102, 501, 1 },       /* duplicate ACK */
	{ 1, A, 1101, 6001, 1000, 0, 37 * MS, 102, 501, 1 },       /* duplicate ACK */
	{ 0, P, 6001, 1101, 65535, 500, 60 * MS, 502, 100, 1 },    /* retransmission: episode 1 */
	{ 0, P, 6001, 1101, 65535, 500, 62 * MS, 502, 100, 1 },    /* same episode */
	{ 0, P, 6001, 1101, 65535, 500, 300 * MS, 700, 100, 1 },   /* episode 2 */
	{ 1, A, 1101, 6501, 1000, 0, 301 * MS, 103, 700, 1 },      /* all acknowledged */
	{ 0, P, 6501, 1101, 65535, 100, 1300 * MS, 1700, 101, 1 }, /* idle send; echo of 101 after 2 episodes */
	{ 0, P, 6701, 1101, 65535, 100, 1301 * MS, 1701, 101, 1 }, /* a hole (6601..6701 lost upstream): episode 3 */
};

/* the tick of a step's time (TW_RATE_TICK_SHIFT), in RTT units */
#define T0 (1000 * MS)
#define TICK(at) ((T0 + (at)) >> TW_RATE_TICK_SHIFT)
#define TICKS_RTT(a, b) (((TICK(b) - TICK(a)) << TW_RATE_TICK_SHIFT) >> TW_RATE_RTT_SHIFT)

static size_t build(const struct step *s, uint8_t *buf, size_t cap)
{
	uint8_t ts[12] = { 1, 1, 8, 10 };
	struct pb_pkt p = { .family = 4, .src = PB_IP4(10, 0, 0, 2), .dst = PB_IP4(10, 0, 0, 9) };
	if (!s->c2s) {
		memcpy(p.src, (uint8_t[]){ 10, 0, 0, 9 }, 4);
		memcpy(p.dst, (uint8_t[]){ 10, 0, 0, 2 }, 4);
	}
	p.sport = s->c2s ? 40000 : 443;
	p.dport = s->c2s ? 443 : 40000;
	p.seq = s->seq;
	p.ack = s->ack;
	p.flags = s->flags;
	p.win = s->win;
	p.ttl = 64;
	p.payload_len = s->plen;
	p.payload_fill = 0x41;
	if (s->ts) {
		pb_put32(ts + 4, s->tsval);
		pb_put32(ts + 8, s->tsecr);
		p.opt_raw = ts;
		p.opt_raw_len = sizeof(ts);
	}
	return pb_build(&p, buf, cap);
}

static void run(int xdp)
{
	const char *hook = xdp ? "xdp" : "tc";
	struct mirror m;
	uint8_t buf[2048];
	uint32_t rv;
	int f0 = fails;

	h_reset(&H);
	memset(&m, 0, sizeof(m));
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		size_t n = build(&steps[i], buf, sizeof(buf));
		uint64_t now = T0 + steps[i].at;
		CHECK(n > 0, "step %zu: frame", i);
		CHECK(h_run(&H, xdp, buf, n, now, &rv) == 0, "%s step %zu: test run", hook, i);
		m_process(&m, buf, n, now);
	}
	uint64_t cnt[TW_CNT_MAX];
	h_counters(&H, cnt);
	CHECK(cnt[TW_CNT_TRACKED] == m.cnt[TW_CNT_TRACKED] && cnt[TW_CNT_FLOWS_NEW] == 1,
	      "%s: tracked %llu (mirror %llu), new flows %llu", hook, (unsigned long long)cnt[TW_CNT_TRACKED],
	      (unsigned long long)m.cnt[TW_CNT_TRACKED], (unsigned long long)cnt[TW_CNT_FLOWS_NEW]);
	struct tw_flow f;
	CHECK(m.n == 1, "mirror: %d flows", m.n);
	CHECK(h_flow_get(&H, &m.key[0], &f) == 0, "%s: flow entry missing", hook);
	const struct tw_rate_dir *c = &f.rate[TW_DIR_C2S], *s = &f.rate[TW_DIR_S2C];

	/* RTT through the server: SYN->SYN-ACK 10 ms, TSval 100 (12 ms) echoed
	 * at 25 ms; the echo of 101 comes after the second loss episode and must not
	 * raise the maximum */
	CHECK(c->rtt_min == (10 * MS) >> TW_RATE_RTT_SHIFT, "%s: c2s rtt_min %u", hook, c->rtt_min);
	CHECK(c->rtt_max == TICKS_RTT(12 * MS, 25 * MS), "%s: c2s rtt_max %u", hook, c->rtt_max);
	/* RTT through the client: SYN-ACK->ACK 2 ms, TSval 500 echoed a tick later */
	CHECK(s->rtt_min == TICKS_RTT(25 * MS, 26 * MS), "%s: s2c rtt_min %u", hook, s->rtt_min);
	CHECK(s->rtt_max == (2 * MS) >> TW_RATE_RTT_SHIFT, "%s: s2c rtt_max %u", hook, s->rtt_max);
	CHECK(s->loss_eps == 3 && c->loss_eps == 0, "%s: loss episodes s2c %u c2s %u", hook, s->loss_eps, c->loss_eps);
	CHECK(f.dir[TW_DIR_S2C].retrans == 3, "%s: retransmissions %u", hook, f.dir[TW_DIR_S2C].retrans);
	CHECK(s->dupacks == 2 && c->dupacks == 0, "%s: dupacks s2c %u c2s %u", hook, s->dupacks, c->dupacks);
	CHECK(s->win_full == 1, "%s: window-full sends %u", hook, s->win_full);
	CHECK(s->idle_sends == 1, "%s: idle sends %u", hook, s->idle_sends);
	CHECK(c->ack_last == 6501 && s->ack_last == 1101, "%s: acks %u %u", hook, c->ack_last, s->ack_last);
	CHECK(memcmp(&f, &m.flow[0], sizeof(f)) == 0, "%s: flow state differs from the userspace core at byte %ld",
	      hook, h_first_diff((const uint8_t *)&f, (const uint8_t *)&m.flow[0], sizeof(f)));
	printf("%s [%s] rate evidence: rtt c2s %u..%u s2c %u..%u, %u episodes, %u dupacks, %u window-full, %u idle\n",
	       fails == f0 ? "ok  " : "FAIL", hook, c->rtt_min, c->rtt_max, s->rtt_min, s->rtt_max, s->loss_eps,
	       s->dupacks, s->win_full, s->idle_sends);
}

int main(void)
{
	h_open(&H);
	run(1);
	run(0);
	h_close(&H);
	printf("%d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
