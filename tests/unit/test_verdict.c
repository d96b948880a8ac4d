/* The verdict core's evidence for drops, copied-server injections and
 * endpoint firewalls (docs/detection.md): packets built with pktbuild go
 * through the userspace engine (the shared classifier core), the pipeline
 * and the verdicts, as in a replay; each case checks the tamper records
 * written, and its benign look-alike checks that none is.
 *
 *   request_unacked: a request sent once that the server's TCP never
 *     acknowledged -> blackhole 0.55; the hung application (the server ACKs),
 *     the capture cut short, the client that reset at once, the SYN-ACK sent
 *     twice, the one-sided vantage, the TTL-limited probe -> no verdict
 *   ipid_constant_across_flows: injected redirects with one IP-ID on
 *     several connections -> http_injection naming the target; the lone one
 *     -> none; a redirect naming the site asked -> http_blockpage
 *   ttl_one_hop: a response one hop off a stable server TTL
 *   resets after the server's own reset -> not weighed, counted */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "capture/engine.h"
#include "capture/sweep.h"
#include "events/pipeline.h"
#include "verdicts/verdict.h"
#include "pktbuild.h"

#include "check.h"

#define MS 1000000ull
#define SEC 1000000000ull

struct rig {
	struct tw_pipeline pl;
	struct tw_engine *e;
	struct tw_verdict *v;
	struct tw_timeouts t;
	char out[1 << 16];
	size_t len;
	int lines;
};

static void sink(void *arg, const char *line, size_t len)
{
	struct rig *r = arg;
	if (r->len + len + 2 < sizeof(r->out)) {
		memcpy(r->out + r->len, line, len);
		r->len += len;
		r->out[r->len++] = '\n';
		r->out[r->len] = 0;
	}
	r->lines++;
}

static int rig_open(struct rig *r)
{
	char err[256];
	struct tw_pipeline_opts po = { .v4_prefix = 24, .v6_prefix = 48 };
	memset(r, 0, sizeof(*r));
	tw_pipeline_init(&r->pl, &po);
	tw_timeouts_default(&r->t);
	r->v = tw_verdict_new(&r->pl, NULL, 100000, 30 * SEC, sink, r);
	if (!r->v)
		return -1;
	tw_pipeline_add_consumer(&r->pl, "verdicts", tw_verdict_event, r->v);
	struct tw_record_sink rs = { tw_pipeline_record, &r->pl };
	r->e = tw_engine_user_new(&rs, 100000, NULL, err, sizeof(err));
	return r->e ? 0 : -1;
}

/* end of the run: every flow ends, held verdicts are decided */
static void rig_end(struct rig *r, uint64_t now)
{
	tw_sweep(r->e, now, &r->t, 1);
	tw_pipeline_tick(&r->pl, now, 1);
}

static void rig_close(struct rig *r)
{
	if (r->e)
		r->e->destroy(r->e);
	tw_verdict_free(r->v);
}

/* occurrences of s in the records */
static int count(const struct rig *r, const char *s)
{
	int n = 0;
	for (const char *p = r->out; (p = strstr(p, s)); p += strlen(s))
		n++;
	return n;
}

struct conn {
	uint8_t c[4], s[4];
	uint16_t cport, sport;
	uint32_t cseq, sseq; /* next sequence number each way */
};

static void conn_init(struct conn *k, uint8_t server_last, uint16_t cport)
{
	static const uint8_t c[4] = { 198, 51, 100, 7 };
	memset(k, 0, sizeof(*k));
	memcpy(k->c, c, 4);
	k->s[0] = 203;
	k->s[1] = 0;
	k->s[2] = 113;
	k->s[3] = server_last;
	k->cport = cport;
	k->sport = 80;
	k->cseq = 1000;
	k->sseq = 50000;
}

/* one packet; from_server picks the direction; ack: the other side's next byte */
static void pkt(struct rig *r, struct conn *k, int from_server, uint8_t flags, uint8_t ttl, uint16_t ipid,
                const char *payload, uint64_t ts)
{
	static uint8_t frame[2048];
	struct pb_pkt p;
	memset(&p, 0, sizeof(p));
	p.family = 4;
	memcpy(p.src, from_server ? k->s : k->c, 4);
	memcpy(p.dst, from_server ? k->c : k->s, 4);
	p.sport = from_server ? k->sport : k->cport;
	p.dport = from_server ? k->cport : k->sport;
	p.ttl = ttl;
	p.ip_id = ipid;
	p.flags = flags;
	p.win = 65535;
	p.seq = from_server ? k->sseq : k->cseq;
	p.ack = (flags & 0x10) ? (from_server ? k->cseq : k->sseq) : 0;
	p.payload = payload;
	p.payload_len = payload ? strlen(payload) : 0;
	size_t n = pb_build(&p, frame, sizeof(frame));
	struct tw_frame f = { .ts_ns = ts, .caplen = (uint32_t)n, .origlen = (uint32_t)n, .data = frame };
	r->e->process(r->e, &f);
	uint32_t adv = (uint32_t)p.payload_len + ((flags & 0x03) ? 1 : 0); /* SYN, FIN */
	if (from_server)
		k->sseq += adv;
	else
		k->cseq += adv;
}

#define SYN 0x02
#define SYNACK 0x12
#define ACK 0x10
#define PSHACK 0x18
#define FINACK 0x11
#define RST 0x04

static const char *REQ = "GET / HTTP/1.1\r\nHost: blocked.example\r\n\r\n";

/* the handshake, 40 ms round trip; the server's TTL and IP-ID given */
static void handshake(struct rig *r, struct conn *k, uint64_t t0, uint8_t sttl, uint16_t sipid)
{
	pkt(r, k, 0, SYN, 64, 100, NULL, t0);
	pkt(r, k, 1, SYNACK, sttl, sipid, NULL, t0 + 40 * MS);
	pkt(r, k, 0, ACK, 64, 101, NULL, t0 + 41 * MS);
}

static void test_unacked(void)
{
	struct rig r;
	struct conn k;

	/* the path drops the request: nothing from the server, the client closes 3 s later */
	CHECK(rig_open(&r) == 0, "rig");
	conn_init(&k, 5, 40001);
	handshake(&r, &k, SEC, 50, 7000);
	pkt(&r, &k, 0, PSHACK, 64, 102, REQ, SEC + 42 * MS);
	pkt(&r, &k, 0, FINACK, 64, 103, NULL, 4 * SEC);
	rig_end(&r, 5 * SEC);
	CHECK(count(&r, "\"method\":\"blackhole\"") == 1 && count(&r, "\"request_unacked\"") == 1 &&
	              count(&r, "\"confidence\":0.55") == 1,
	      "request sent once, never ACKed: %s", r.out);
	rig_close(&r);

	/* resent and never ACKed: the same evidence on top of the timeout */
	CHECK(rig_open(&r) == 0, "rig");
	conn_init(&k, 5, 40002);
	handshake(&r, &k, SEC, 50, 7000);
	pkt(&r, &k, 0, PSHACK, 64, 102, REQ, SEC + 42 * MS);
	k.cseq -= (uint32_t)strlen(REQ);
	pkt(&r, &k, 0, PSHACK, 64, 103, REQ, SEC + 400 * MS);
	k.cseq -= (uint32_t)strlen(REQ);
	pkt(&r, &k, 0, PSHACK, 64, 104, REQ, SEC + 1200 * MS);
	rig_end(&r, 5 * SEC);
	CHECK(count(&r, "\"request_timeout\",\"request_unacked\"") == 1 && count(&r, "\"confidence\":0.55") == 1,
	      "request resent, never ACKed: %s", r.out);
	rig_close(&r);

	/* the hung application: the server's TCP ACKs, then nothing */
	CHECK(rig_open(&r) == 0, "rig");
	conn_init(&k, 5, 40003);
	handshake(&r, &k, SEC, 50, 7000);
	pkt(&r, &k, 0, PSHACK, 64, 102, REQ, SEC + 42 * MS);
	pkt(&r, &k, 1, ACK, 50, 7001, NULL, SEC + 120 * MS);
	pkt(&r, &k, 0, FINACK, 64, 103, NULL, 4 * SEC);
	rig_end(&r, 5 * SEC);
	CHECK(r.lines == 0, "hung application (request ACKed): %s", r.out);
	rig_close(&r);

	/* the capture ends 100 ms after the request: not watched long enough */
	CHECK(rig_open(&r) == 0, "rig");
	conn_init(&k, 5, 40004);
	handshake(&r, &k, SEC, 50, 7000);
	pkt(&r, &k, 0, PSHACK, 64, 102, REQ, SEC + 42 * MS);
	pkt(&r, &k, 0, ACK, 64, 103, NULL, SEC + 142 * MS);
	rig_end(&r, SEC + 150 * MS);
	CHECK(r.lines == 0, "capture cut short: %s", r.out);
	rig_close(&r);

	/* the client resets 100 ms after its request */
	CHECK(rig_open(&r) == 0, "rig");
	conn_init(&k, 5, 40005);
	handshake(&r, &k, SEC, 50, 7000);
	pkt(&r, &k, 0, PSHACK, 64, 102, REQ, SEC + 42 * MS);
	pkt(&r, &k, 0, RST | ACK, 64, 103, NULL, SEC + 142 * MS);
	rig_end(&r, 10 * SEC);
	CHECK(r.lines == 0, "client gave up at once: %s", r.out);
	rig_close(&r);

	/* the SYN-ACK came twice: a live server whose accept queue is full
	 * (an earlier clean flow taught the round trip to that server) */
	CHECK(rig_open(&r) == 0, "rig");
	conn_init(&k, 5, 40009);
	handshake(&r, &k, SEC / 2, 50, 6000);
	pkt(&r, &k, 0, RST | ACK, 64, 102, NULL, SEC / 2 + 50 * MS);
	tw_sweep(r.e, 7 * SEC, &r.t, 0);
	conn_init(&k, 5, 40006);
	pkt(&r, &k, 0, SYN, 64, 100, NULL, 8 * SEC);
	pkt(&r, &k, 1, SYNACK, 50, 7000, NULL, 8 * SEC + 40 * MS);
	k.sseq--;
	pkt(&r, &k, 1, SYNACK, 50, 7001, NULL, 8 * SEC + 1040 * MS);
	pkt(&r, &k, 0, ACK, 64, 101, NULL, 8 * SEC + 1041 * MS);
	pkt(&r, &k, 0, PSHACK, 64, 102, REQ, 8 * SEC + 1042 * MS);
	pkt(&r, &k, 0, FINACK, 64, 103, NULL, 12 * SEC);
	rig_end(&r, 13 * SEC);
	CHECK(r.lines == 0, "SYN-ACK resent: %s", r.out);
	rig_close(&r);

	/* one-sided vantage: the client acknowledges server bytes never seen here */
	CHECK(rig_open(&r) == 0, "rig");
	conn_init(&k, 5, 40007);
	handshake(&r, &k, SEC, 50, 7000);
	pkt(&r, &k, 0, PSHACK, 64, 102, REQ, SEC + 42 * MS);
	k.sseq += 1400; /* the server's answer went another way */
	pkt(&r, &k, 0, ACK, 64, 103, NULL, SEC + 300 * MS);
	pkt(&r, &k, 0, FINACK, 64, 104, NULL, 4 * SEC);
	rig_end(&r, 5 * SEC);
	CHECK(count(&r, "request_unacked") == 0, "asymmetric routing: %s", r.out);
	rig_close(&r);

	/* a TTL-limited probe: the request's TTL 3 dies before the server, 14 hops away */
	CHECK(rig_open(&r) == 0, "rig");
	conn_init(&k, 5, 40008);
	handshake(&r, &k, SEC, 50, 7000);
	pkt(&r, &k, 0, PSHACK, 3, 102, REQ, SEC + 42 * MS);
	pkt(&r, &k, 0, FINACK, 64, 103, NULL, 4 * SEC);
	rig_end(&r, 5 * SEC);
	CHECK(r.lines == 0, "TTL-limited request: %s", r.out);
	rig_close(&r);
	printf("ok: request_unacked: drops at 0.55; hung application, cut capture, quick reset, SYN-ACK resent,\n"
	       "    one-sided vantage and TTL-limited probe not evidence\n");
}

/* a connection answered by a 307: the server's own IDs run from sipid,
 * the response carries rttl/ripid */
static void redirected(struct rig *r, uint8_t server, uint16_t cport, uint64_t t0, uint8_t sttl, uint16_t sipid,
                       uint8_t rttl, uint16_t ripid, const char *location)
{
	char resp[512];
	struct conn k;
	conn_init(&k, server, cport);
	snprintf(resp, sizeof(resp), "HTTP/1.1 307 Temporary Redirect\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n",
	         location);
	handshake(r, &k, t0, sttl, sipid);
	pkt(r, &k, 0, PSHACK, 64, 102, REQ, t0 + 42 * MS);
	pkt(r, &k, 1, ACK, sttl, (uint16_t)(sipid + 1), NULL, t0 + 80 * MS);
	pkt(r, &k, 1, PSHACK | 0x01, rttl, ripid, resp, t0 + 82 * MS);
	pkt(r, &k, 0, FINACK, 64, 103, NULL, t0 + 83 * MS);
	pkt(r, &k, 1, ACK, rttl, ripid, NULL, t0 + 120 * MS);
}

static void test_injection(void)
{
	struct rig r;

	/* PacketLogic: one IP-ID on every injected redirect, the server's TTL */
	CHECK(rig_open(&r) == 0, "rig");
	for (int i = 0; i < 3; i++)
		redirected(&r, (uint8_t)(10 + i), (uint16_t)(41000 + i), (uint64_t)(1 + 2 * i) * SEC, 237,
		           (uint16_t)(0x1000 * (i + 1)), 237, 0x3412, "http://ads.injector.example/static1.html");
	rig_end(&r, 20 * SEC);
	CHECK(count(&r, "\"method\":\"http_injection\"") == 3 && count(&r, "\"ipid_constant_across_flows\"") == 3 &&
	              count(&r, "\"redirect_target\":\"ads.injector.example\"") == 3,
	      "constant IP-ID on three connections: %s", r.out);
	CHECK(tw_verdict_stats(r.v)->verdicts[TW_METHOD_HTTP_INJECTION] == 3, "counted by method");
	rig_close(&r);

	/* one such response alone: an IP-ID jump only, 0.4, no verdict */
	CHECK(rig_open(&r) == 0, "rig");
	redirected(&r, 10, 41010, SEC, 237, 0x1000, 237, 0x3412, "http://ads.injector.example/static1.html");
	rig_end(&r, 60 * SEC);
	CHECK(r.lines == 0, "a lone suspect redirect: %s", r.out);
	rig_close(&r);

	/* different IP-IDs on each: no constant */
	CHECK(rig_open(&r) == 0, "rig");
	for (int i = 0; i < 3; i++)
		redirected(&r, (uint8_t)(10 + i), (uint16_t)(41020 + i), (uint64_t)(1 + 2 * i) * SEC, 237,
		           (uint16_t)(0x1000 * (i + 1)), 237, (uint16_t)(0x8000 + 0x1111 * i),
		           "http://ads.injector.example/");
	rig_end(&r, 20 * SEC);
	CHECK(r.lines == 0, "IP-IDs that differ: %s", r.out);
	rig_close(&r);

	/* a filter's notice naming the site asked: a block page */
	CHECK(rig_open(&r) == 0, "rig");
	for (int i = 0; i < 2; i++)
		redirected(&r, (uint8_t)(10 + i), (uint16_t)(41030 + i), (uint64_t)(1 + 2 * i) * SEC, 50,
		           (uint16_t)(0x1000 * (i + 1)), 50, 0x3412,
		           "http://filter.isp.example/redirect.cgi?u=blocked.example&c=porn");
	rig_end(&r, 20 * SEC);
	CHECK(count(&r, "\"method\":\"http_blockpage\"") == 2 && count(&r, "http_injection") == 0,
	      "redirect naming the site: %s", r.out);
	rig_close(&r);

	/* one hop off a stable TTL: two clean flows teach 50, then a 307 at 51 */
	CHECK(rig_open(&r) == 0, "rig");
	for (int i = 0; i < 2; i++) {
		struct conn k;
		conn_init(&k, 20, (uint16_t)(41040 + i));
		handshake(&r, &k, (uint64_t)(1 + i) * SEC, 50, (uint16_t)(0x2000 + 16 * i));
		pkt(&r, &k, 0, FINACK, 64, 102, NULL, (uint64_t)(1 + i) * SEC + 50 * MS);
		pkt(&r, &k, 1, FINACK, 50, (uint16_t)(0x2001 + 16 * i), NULL, (uint64_t)(1 + i) * SEC + 90 * MS);
		pkt(&r, &k, 0, ACK, 64, 103, NULL, (uint64_t)(1 + i) * SEC + 91 * MS);
	}
	tw_sweep(r.e, 15 * SEC, &r.t, 0);
	redirected(&r, 20, 41042, 16 * SEC, 50, 0x2100, 51, 0x9999, "http://ads.injector.example/");
	rig_end(&r, 30 * SEC);
	CHECK(count(&r, "\"ttl_one_hop\",\"ipid_mismatch\"") == 1 && count(&r, "\"method\":\"http_injection\"") == 1,
	      "one hop off a stable TTL: %s", r.out);
	rig_close(&r);
	printf("ok: constant IP-ID across connections -> http_injection naming its target; lone, varied and\n"
	       "    site-naming redirects not; ttl_one_hop on a stable server TTL\n");
}

static void test_server_reset(void)
{
	struct rig r;
	struct conn k;

	/* the server resets after the handshake (its TTL 44, IP-ID 0); the
	 * client's later packets draw RSTs at TTL 237 from a firewall */
	CHECK(rig_open(&r) == 0, "rig");
	conn_init(&k, 30, 42000);
	handshake(&r, &k, SEC, 44, 0);
	pkt(&r, &k, 1, RST, 44, 0, NULL, SEC + 80 * MS);
	pkt(&r, &k, 0, PSHACK, 64, 102, REQ, SEC + 300 * MS);
	pkt(&r, &k, 1, RST, 237, 0x441c, NULL, SEC + 340 * MS);
	pkt(&r, &k, 0, FINACK, 64, 103, NULL, 2 * SEC);
	pkt(&r, &k, 1, RST, 237, 0x451c, NULL, 2 * SEC + 40 * MS);
	rig_end(&r, 20 * SEC);
	CHECK(r.lines == 0, "resets after the server's own: %s", r.out);
	CHECK(tw_verdict_stats(r.v)->rst_after_dead_flow == 2, "not weighed, counted: %llu",
	      (unsigned long long)tw_verdict_stats(r.v)->rst_after_dead_flow);
	rig_close(&r);

	/* the look-alike that is injection: the first RST is not the server's */
	CHECK(rig_open(&r) == 0, "rig");
	conn_init(&k, 30, 42001);
	handshake(&r, &k, SEC, 44, 0);
	pkt(&r, &k, 0, PSHACK, 64, 102, REQ, SEC + 300 * MS);
	pkt(&r, &k, 1, RST, 237, 0x441c, NULL, SEC + 340 * MS);
	pkt(&r, &k, 1, RST, 237, 0x451c, NULL, SEC + 341 * MS);
	rig_end(&r, 20 * SEC);
	CHECK(count(&r, "\"method\":\"rst_injection\"") == 1, "a forged first reset still counts: %s", r.out);
	rig_close(&r);
	printf("ok: resets after the server's own reset not weighed (counted); a forged first reset still is\n");
}

/* SYNs resent and never answered, then a forged-looking reset after a
 * request on a second connection: on a view that sees both directions, a
 * blackhole SYN->timeout verdict and flows_one_way; where the attachment
 * sees only what arrives (ingress_only), or the flows are this host's own
 * (add_local, a gateway's addresses), none, counted instead. */
static void one_way_flows(struct rig *r, uint64_t t0)
{
	struct conn k, k2;
	conn_init(&k, 31, 43000);
	pkt(r, &k, 0, SYN, 64, 100, NULL, t0);
	pkt(r, &k, 0, SYN, 64, 101, NULL, t0 + SEC);
	pkt(r, &k, 0, SYN, 64, 102, NULL, t0 + 3 * SEC);
	/* only the server's side: an HTTP 451 page at a TTL unlike its own */
	conn_init(&k2, 32, 43001);
	pkt(r, &k2, 1, SYNACK, 50, 7, NULL, t0);
	pkt(r, &k2, 1, PSHACK, 50, 8, "HTTP/1.1 451 Unavailable\r\nContent-Length: 0\r\n\r\n", t0 + 50 * MS);
	pkt(r, &k2, 1, RST, 200, 0x7777, NULL, t0 + 51 * MS);
}

static void test_one_way_attachment(void)
{
	struct rig r;
	uint8_t gw[16] = { 203, 0, 113, 31 }, other[16] = { 192, 0, 2, 1 };

	CHECK(rig_open(&r) == 0, "rig");
	one_way_flows(&r, SEC);
	rig_end(&r, 60 * SEC);
	const struct tw_verdict_stats *st = tw_verdict_stats(r.v);
	CHECK(count(&r, "\"signature\":\"SYN->timeout\"") == 1, "both ways: the silent SYN judged: %s", r.out);
	CHECK(st->flows_one_way == 2 && st->flows_one_way_attachment == 0, "both ways: %llu one way, %llu attachment",
	      (unsigned long long)st->flows_one_way, (unsigned long long)st->flows_one_way_attachment);
	rig_close(&r);

	CHECK(rig_open(&r) == 0, "rig");
	tw_verdict_set_ingress_only(r.v, 1);
	one_way_flows(&r, SEC);
	rig_end(&r, 60 * SEC);
	st = tw_verdict_stats(r.v);
	CHECK(r.lines == 0, "ingress only: no record: %s", r.out);
	CHECK(st->flows_one_way == 0 && st->flows_one_way_attachment == 2,
	      "ingress only: %llu one way, %llu attachment", (unsigned long long)st->flows_one_way,
	      (unsigned long long)st->flows_one_way_attachment);
	rig_close(&r);

	/* a gateway's own address (the SYNs' server): that flow counted, not
	 * judged; the other flow, not the gateway's, judged as before */
	CHECK(rig_open(&r) == 0, "rig");
	CHECK(tw_verdict_add_local(r.v, 4, other) == 0 && tw_verdict_add_local(r.v, 4, gw) == 0 &&
	              tw_verdict_add_local(r.v, 4, gw) == 0,
	      "add_local");
	one_way_flows(&r, SEC);
	rig_end(&r, 60 * SEC);
	st = tw_verdict_stats(r.v);
	CHECK(count(&r, "SYN->timeout") == 0, "the gateway's own SYNs: no verdict: %s", r.out);
	CHECK(st->flows_one_way == 1 && st->flows_one_way_attachment == 1, "local: %llu one way, %llu attachment",
	      (unsigned long long)st->flows_one_way, (unsigned long long)st->flows_one_way_attachment);
	rig_close(&r);

	CHECK(rig_open(&r) == 0, "rig");
	int full = 0;
	for (int i = 0; i < TW_VERDICT_MAX_LOCAL + 1; i++) {
		uint8_t a[16] = { 10, 0, (uint8_t)(i >> 8), (uint8_t)i };
		full += tw_verdict_add_local(r.v, 4, a) < 0;
	}
	CHECK(full == 1, "the %dth local address refused: %d", TW_VERDICT_MAX_LOCAL + 1, full);
	rig_close(&r);
	printf("ok: one-way flows judged on a view of both directions (flows_one_way); with an ingress-only\n"
	       "    attachment or this host's own address, counted (flows_one_way_attachment), never judged\n");
}

int main(void)
{
	test_unacked();
	test_injection();
	test_server_reset();
	test_one_way_attachment();
	printf("%d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
