/* QUIC interference verdicts (daemon/verdicts/quic.c) on event sequences:
 * the client's first datagram as the pipeline decodes it, the server's
 * first datagram as raw bytes (a version negotiation, a short header, a
 * long header), and the flow end.  Checked: an unanswered Initial with no
 * control stays weak (0.30: a server without QUIC looks the same); the
 * same server answering QUIC for another name makes it strong; the
 * benign look-alikes (a server without QUIC while the client's other
 * QUIC and TCP work, a local firewall dropping every Initial) stay under
 * alerts.min_confidence_timeout (0.4); a second silent Initial on the tuple is residual blocking; a
 * version negotiation listing the client's version or not echoing its
 * connection IDs is forged, a genuine one is an answer; a short header as
 * the server's first datagram is a reset before any handshake; the hold
 * decides by the capture clock; the flow table evicts and counts.  The
 * name's DNS offer of HTTP/3 (an HTTPS record) with the client's QUIC
 * answered elsewhere makes it over 0.5; the same offer with no QUIC answered
 * anywhere, an offer for another name, expired or seen after the Initial,
 * and a client whose network is down stay under 0.4. */
#include "verdicts/quic.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/hash.h"
#include "check.h"

#define S (1000000000ull)

static struct tw_quic_judged got[64];
static char got_sni[64][TW_NAME_MAX];
static int ngot;

static void judged(void *arg, const struct tw_quic_judged *j)
{
	(void)arg;
	if (ngot < 64) {
		got[ngot] = *j;
		snprintf(got_sni[ngot], sizeof(got_sni[0]), "%s", j->sni);
		got[ngot].e = NULL; /* not valid after the callback */
		ngot++;
	}
}

static double conf(const struct tw_quic_judged *j)
{
	double keep = 1;
	for (int i = 0; i < j->n; i++)
		keep *= 1 - j->w[i];
	return 1 - keep;
}

static int has(const struct tw_quic_judged *j, const char *a)
{
	for (int i = 0; i < j->n; i++)
		if (!strcmp(j->anom[i], a))
			return 1;
	return 0;
}

static struct tw_event *ev(int type, uint64_t id, uint64_t ts, uint8_t server, const uint8_t *snip, size_t n)
{
	struct tw_event *e = calloc(1, sizeof(*e) + n);
	e->type = (uint16_t)type;
	e->flow_id = id;
	e->ts_ns = ts;
	e->proto = TW_PROTO_UDP;
	e->family = TW_FAMILY_IPV4;
	e->caddr[0] = 10;
	e->caddr[3] = 7;
	e->saddr[0] = 203;
	e->saddr[3] = server;
	e->cport = (uint16_t)(40000 + id);
	e->sport = 443;
	e->snippet_len = (uint16_t)n;
	e->payload_len = (uint32_t)n;
	e->flow.base_ns = ts; /* the client's first packet: the flow's base */
	e->flow.dir[TW_DIR_C2S].packets = 1;
	if (n)
		memcpy(e->snippet, snip, n);
	return e;
}

static const uint8_t DCID[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, SCID[4] = { 9, 9, 9, 9 };

static void client(struct tw_quic_verdicts *q, uint64_t id, uint64_t ts, uint8_t server, const char *sni)
{
	struct tw_event *e = ev(TW_EV_CLIENT_DATA, id, ts, server, NULL, 0);
	struct tw_decoded_event *d = calloc(1, sizeof(*d));
	d->ev = e;
	d->view = TW_VIEW_QUIC;
	d->quic.st = TW_QUIC_OK;
	d->quic.q.version = TW_QUIC_V1;
	d->quic.q.dcid_len = sizeof(DCID);
	memcpy(d->quic.q.dcid, DCID, sizeof(DCID));
	d->quic.q.scid_len = sizeof(SCID);
	memcpy(d->quic.q.scid, SCID, sizeof(SCID));
	if (sni) {
		d->quic.q.hello.has_sni = 1;
		snprintf(d->quic.q.hello.sni, sizeof(d->quic.q.hello.sni), "%s", sni);
	}
	tw_quic_data(q, d);
	free(d);
	free(e);
}

static void server(struct tw_quic_verdicts *q, uint64_t id, uint64_t ts, uint8_t srv, const uint8_t *p, size_t n)
{
	struct tw_event *e = ev(TW_EV_SERVER_DATA, id, ts, srv, p, n);
	struct tw_decoded_event d = { .ev = e, .view = TW_VIEW_NONE };
	tw_quic_data(q, &d);
	free(e);
}

static void end(struct tw_quic_verdicts *q, uint64_t id, uint64_t start, uint64_t ts, uint8_t srv, uint32_t s2c)
{
	struct tw_event *e = ev(TW_EV_FLOW_END, id, ts, srv, NULL, 0);
	e->flow.base_ns = start;
	e->flow.dir[TW_DIR_C2S].packets = 3;
	e->flow.dir[TW_DIR_S2C].packets = s2c;
	tw_quic_end(q, e, 77);
	free(e);
}

/* A version negotiation: the server's IDs are the client's, swapped (or not). */
static size_t vn(uint8_t *b, int swap, uint32_t listed)
{
	size_t o = 0;
	b[o++] = 0xc5;
	memset(b + o, 0, 4);
	o += 4;
	const uint8_t *d = swap ? SCID : DCID, *s = swap ? DCID : SCID;
	size_t dl = swap ? sizeof(SCID) : sizeof(DCID), sl = swap ? sizeof(DCID) : sizeof(SCID);
	b[o++] = (uint8_t)dl;
	memcpy(b + o, d, dl);
	o += dl;
	b[o++] = (uint8_t)sl;
	memcpy(b + o, s, sl);
	o += sl;
	uint32_t vs[2] = { 0x6b3343cfu, listed };
	for (int i = 0; i < 2; i++)
		for (int k = 3; k >= 0; k--)
			b[o++] = (uint8_t)(vs[i] >> (8 * k));
	return o;
}

/* A server Initial's first bytes (a long header of version 1; not decryptable with client keys). */
static size_t server_initial(uint8_t *b)
{
	size_t o = 0;
	b[o++] = 0xc1;
	b[o++] = 0, b[o++] = 0, b[o++] = 0, b[o++] = 1;
	b[o++] = sizeof(SCID);
	memcpy(b + o, SCID, sizeof(SCID));
	o += sizeof(SCID);
	b[o++] = 0;
	b[o++] = 0; /* token */
	b[o++] = 0x40, b[o++] = 60;
	memset(b + o, 0xab, 62);
	return o + 62;
}

int main(void)
{
	uint8_t b[256];
	size_t n;

	/* 1. no control at all (the GFW victim's view; a local firewall): weak */
	struct tw_quic_verdicts *q = tw_quic_verdicts_new(30 * S, judged, NULL);
	CHECK(q, "new");
	ngot = 0;
	client(q, 1, 100 * S, 1, "blocked.example");
	end(q, 1, 100 * S, 101 * S, 1, 0);
	CHECK(ngot == 0, "held, not judged at once: %d", ngot);
	tw_quic_tick(q, 120 * S, 0);
	CHECK(ngot == 0, "still held before the hold is over");
	client(q, 2, 111 * S, 1, "blocked.example");
	end(q, 2, 111 * S, 112 * S, 1, 0);
	tw_quic_tick(q, 131 * S, 0);
	CHECK(ngot == 1, "the first judged after 30 s: %d", ngot);
	CHECK(got[0].signature && !strcmp(got[0].signature, "INITIAL->timeout"), "signature");
	CHECK(!strcmp(got_sni[0], "blocked.example"), "sni %s", got_sni[0]);
	CHECK(conf(&got[0]) < 0.31 && has(&got[0], "quic_initial_unanswered"), "weak alone: %.2f", conf(&got[0]));
	tw_quic_tick(q, 0, 1);
	CHECK(ngot == 2, "final tick decides the rest");
	CHECK(has(&got[1], "quic_residual_block") && conf(&got[1]) < 0.4, "residual, still weak: %.2f", conf(&got[1]));
	tw_quic_verdicts_free(q);

	/* 2. the same server answers QUIC for another name: the name is blocked */
	q = tw_quic_verdicts_new(30 * S, judged, NULL);
	ngot = 0;
	client(q, 10, 100 * S, 1, "ok.example");
	n = server_initial(b);
	server(q, 10, 100 * S + 1000, 1, b, n);
	end(q, 10, 100 * S, 102 * S, 1, 5);
	CHECK(ngot == 1 && !got[0].signature && got[0].answered, "an answered flow: an outcome, no verdict");
	client(q, 11, 103 * S, 1, "blocked.example");
	end(q, 11, 103 * S, 104 * S, 1, 0);
	tw_quic_note_tcp(q, 105 * S, 77, tw_name_hash("blocked.example"), 1);
	tw_quic_tick(q, 0, 1);
	CHECK(ngot == 2 && got[1].signature, "judged");
	CHECK(has(&got[1], "quic_server_answers_others") && has(&got[1], "tcp_fallback_answered"), "context");
	CHECK(conf(&got[1]) >= 0.7, "strong: %.2f", conf(&got[1]));
	tw_quic_verdicts_free(q);

	/* 3. benign look-alike: a server that does not speak QUIC (another
	 * server answers the client's QUIC, TCP to the name works) */
	q = tw_quic_verdicts_new(30 * S, judged, NULL);
	ngot = 0;
	client(q, 20, 100 * S, 2, "elsewhere.example");
	n = server_initial(b);
	server(q, 20, 100 * S + 1000, 2, b, n);
	end(q, 20, 100 * S, 101 * S, 2, 4);
	for (int i = 0; i < 3; i++) {
		client(q, 21 + i, (110 + i * 5) * S, 1, "noquic.example");
		end(q, 21 + i, (110 + i * 5) * S, (111 + i * 5) * S, 1, 0);
	}
	tw_quic_note_tcp(q, 112 * S, 77, tw_name_hash("noquic.example"), 1);
	tw_quic_tick(q, 0, 1);
	CHECK(ngot == 4, "%d", ngot);
	for (int i = 1; i < 4; i++) {
		CHECK(has(&got[i], "quic_client_answered_elsewhere") && has(&got[i], "tcp_fallback_answered"), "ctx %d",
		      i);
		/* under alerts.min_confidence_timeout: never counts towards an alert */
		CHECK(conf(&got[i]) < 0.4, "server without QUIC stays under 0.4: %.2f", conf(&got[i]));
	}
	tw_quic_verdicts_free(q);

	/* 4. version negotiation: genuine, listing the client's version, IDs not echoed */
	q = tw_quic_verdicts_new(30 * S, judged, NULL);
	ngot = 0;
	client(q, 30, 100 * S, 3, "a.example");
	n = vn(b, 1, 0xff00001du);
	server(q, 30, 100 * S + 1000, 3, b, n);
	end(q, 30, 100 * S, 101 * S, 3, 1);
	CHECK(ngot == 1 && !got[0].signature && got[0].answered, "a genuine version negotiation answers");
	client(q, 31, 100 * S, 3, "b.example");
	n = vn(b, 1, TW_QUIC_V1);
	server(q, 31, 100 * S + 1000, 3, b, n);
	end(q, 31, 100 * S, 101 * S, 3, 1);
	CHECK(ngot == 2 && got[1].signature && !strcmp(got[1].signature, "INITIAL->VN"), "lists ours: forged");
	CHECK(conf(&got[1]) >= 0.8 && has(&got[1], "quic_forged_version_negotiation"), "%.2f", conf(&got[1]));
	client(q, 32, 100 * S, 3, "c.example");
	n = vn(b, 0, 0xff00001du);
	server(q, 32, 100 * S + 1000, 3, b, n);
	end(q, 32, 100 * S, 101 * S, 3, 1);
	CHECK(ngot == 3 && got[2].signature && !strcmp(got[2].signature, "INITIAL->VN"), "IDs not echoed: forged");

	/* 5. a short header as the server's first datagram */
	client(q, 40, 100 * S, 4, "d.example");
	memset(b, 0x5c, 40);
	b[0] = 0x47;
	server(q, 40, 100 * S + 1000, 4, b, 40);
	end(q, 40, 100 * S, 101 * S, 4, 1);
	CHECK(ngot == 4 && got[3].signature && !strcmp(got[3].signature, "INITIAL->RESET"), "reset");
	CHECK(conf(&got[3]) >= 0.7, "%.2f", conf(&got[3]));

	/* 6. a flow with no Initial seen: nothing; a flow without an SNI, unanswered: nothing */
	end(q, 50, 100 * S, 101 * S, 5, 0);
	client(q, 51, 100 * S, 5, NULL);
	end(q, 51, 100 * S, 101 * S, 5, 0);
	tw_quic_tick(q, 0, 1);
	CHECK(ngot == 4, "no verdict without an Initial or an SNI: %d", ngot);

	/* 7. bounded: more open flows than slots evict and count */
	for (uint64_t i = 0; i < 20000; i++)
		client(q, 1000 + i, 200 * S, 6, "many.example");
	CHECK(tw_quic_vstats(q)->flows_evicted > 0, "evictions counted");
	tw_quic_verdicts_free(q);
	q = tw_quic_verdicts_new(30 * S, judged, NULL);
	/* the context ring: outcomes pushed out inside the window are counted,
	 * older ones are not (they no longer inform anything) */
	for (uint64_t i = 0; i < 4096; i++)
		tw_quic_note_tcp(q, 300 * S, 77, i + 1, 1);
	CHECK(tw_quic_vstats(q)->context_overwritten == 0, "a full ring overwrites nothing yet: %llu",
	      (unsigned long long)tw_quic_vstats(q)->context_overwritten);
	for (uint64_t i = 0; i < 10; i++)
		tw_quic_note_tcp(q, 301 * S, 77, i + 1, 1);
	CHECK(tw_quic_vstats(q)->context_overwritten == 10, "10 outcomes inside the window pushed out: %llu",
	      (unsigned long long)tw_quic_vstats(q)->context_overwritten);
	for (uint64_t i = 0; i < 4096; i++)
		tw_quic_note_tcp(q, 1000 * S, 77, i + 1, 1);
	CHECK(tw_quic_vstats(q)->context_overwritten == 10, "outcomes older than the window pushed out: not counted");
	tw_quic_verdicts_free(q);
	/* 8. the name offered HTTP/3 in its DNS answer (an HTTPS record) and the
	 * client's QUIC to another server is answered: the path dropped it */
	q = tw_quic_verdicts_new(30 * S, judged, NULL);
	ngot = 0;
	tw_quic_note_h3(q, 99 * S, "WWW.Blocked.example", 300); /* 0x20 case mix of a resolver */
	tw_quic_note_h3(q, 99 * S, "other.example", 300);
	client(q, 60, 100 * S, 2, "elsewhere.example");
	n = server_initial(b);
	server(q, 60, 100 * S + 1000, 2, b, n);
	end(q, 60, 100 * S, 101 * S, 2, 4);
	client(q, 61, 102 * S, 1, "www.blocked.example");
	end(q, 61, 102 * S, 103 * S, 1, 0);
	tw_quic_tick(q, 0, 1);
	CHECK(ngot == 2 && got[1].signature, "judged: %d", ngot);
	CHECK(has(&got[1], "quic_h3_advertised") && has(&got[1], "quic_client_answered_elsewhere"), "offer + control");
	CHECK(conf(&got[1]) >= 0.5 && conf(&got[1]) < 0.6, "offered and the client's QUIC works: %.2f", conf(&got[1]));
	tw_quic_verdicts_free(q);

	/* 9. look-alike: the same offer, but nothing answers the client's QUIC
	 * anywhere (a local firewall dropping UDP/443, a path that cannot carry
	 * a 1200-byte Initial): a label, under 0.4 */
	q = tw_quic_verdicts_new(30 * S, judged, NULL);
	ngot = 0;
	tw_quic_note_h3(q, 99 * S, "www.blocked.example", 300);
	client(q, 70, 100 * S, 2, "elsewhere.example");
	end(q, 70, 100 * S, 101 * S, 2, 0);
	client(q, 71, 102 * S, 1, "www.blocked.example");
	end(q, 71, 102 * S, 103 * S, 1, 0);
	tw_quic_tick(q, 0, 1);
	CHECK(ngot == 2, "%d", ngot);
	for (int i = 0; i < 2; i++)
		CHECK(!has(&got[i], "quic_client_answered_elsewhere") && conf(&got[i]) < 0.4, "no control: %.2f",
		      conf(&got[i]));
	CHECK(has(&got[1], "quic_h3_advertised"), "the offer is still named");
	tw_quic_verdicts_free(q);

	/* 10. no offer in force: another name's, one that expired (TTL 60 s),
	 * one seen only after the Initial: a server without QUIC stays weak */
	q = tw_quic_verdicts_new(30 * S, judged, NULL);
	ngot = 0;
	tw_quic_note_h3(q, 10 * S, "late.example", 60);
	tw_quic_note_h3(q, 99 * S, "another.example", 300);
	client(q, 80, 100 * S, 2, "elsewhere.example");
	n = server_initial(b);
	server(q, 80, 100 * S + 1000, 2, b, n);
	end(q, 80, 100 * S, 101 * S, 2, 4);
	client(q, 81, 102 * S, 1, "late.example");
	end(q, 81, 102 * S, 103 * S, 1, 0);
	client(q, 82, 102 * S, 3, "noquic.example");
	tw_quic_note_h3(q, 103 * S, "noquic.example", 300);
	end(q, 82, 102 * S, 104 * S, 3, 0);
	tw_quic_tick(q, 0, 1);
	CHECK(ngot == 3, "%d", ngot);
	for (int i = 1; i < 3; i++)
		CHECK(!has(&got[i], "quic_h3_advertised") && conf(&got[i]) < 0.4, "no offer in force %d: %.2f", i,
		      conf(&got[i]));
	tw_quic_verdicts_free(q);

	/* 11. a client whose network is down: its other QUIC and its TCP to the
	 * name unanswered too: no control label, weak */
	q = tw_quic_verdicts_new(30 * S, judged, NULL);
	ngot = 0;
	for (int i = 0; i < 4; i++) {
		client(q, 90 + i, (100 + i) * S, (uint8_t)(1 + i), "down.example");
		end(q, 90 + i, (100 + i) * S, (101 + i) * S, (uint8_t)(1 + i), 0);
	}
	tw_quic_note_tcp(q, 105 * S, 77, tw_name_hash("down.example"), 0);
	tw_quic_tick(q, 0, 1);
	CHECK(ngot == 4, "%d", ngot);
	for (int i = 0; i < 4; i++)
		CHECK(!has(&got[i], "quic_client_answered_elsewhere") && !has(&got[i], "tcp_fallback_answered") &&
		              conf(&got[i]) < 0.4,
		      "network down %d: %.2f", i, conf(&got[i]));
	tw_quic_verdicts_free(q);
	printf("test_quic_verdict: %d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
