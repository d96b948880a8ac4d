/* QUIC interference, per flow (DESIGN.md "What it detects", quic_interference;
 * README "Verdicts").  A QUIC flow is a UDP flow to port 443 whose client's
 * first datagram is a long-header Initial (decrypted by the pipeline:
 * events/proto_quic.c, its SNI and ALPN).  Three things make a verdict:
 *
 *   INITIAL->timeout  the Initial with an SNI got nothing back.  Weak per
 *                     flow (a server without QUIC looks the same), so it is
 *                     held (flows.silence_hold) and weighed against the
 *                     other flows of that time: the same server answering
 *                     QUIC for another flow makes it the name, not the
 *                     server; an earlier unanswered Initial from the same
 *                     client to the same server:port is the GFW's residual
 *                     blocking of the tuple (Zohaib et al., USENIX Security
 *                     2025: 180 s); the name's own DNS answer offering
 *                     HTTP/3 (an HTTPS record, RFC 9460) while the client's
 *                     QUIC to other servers is answered says the path, not
 *                     the server, is silent (tw_quic_note_h3).
 *   INITIAL->VN       a version negotiation that no server may send: it lists
 *                     the version the client chose, or does not echo the
 *                     client's connection IDs (RFC 9000 6.2, 17.2.1).
 *   INITIAL->RESET    a short-header datagram as the server's first answer:
 *                     a stateless reset before any handshake, which the
 *                     client cannot even verify (RFC 9000 10.3); a server
 *                     answers an Initial with a long header.
 *
 * verdict.c owns the records: this file keeps the QUIC flows, the context
 * and the hold, and hands each judged flow back through a callback. */
#ifndef TW_QUIC_VERDICT_H
#define TW_QUIC_VERDICT_H
#include <stdint.h>
#include <tamperwatch/event.h>
#include "events/pipeline.h"

#define TW_QV_MAX_ANOM 7
struct tw_quic_judged {
	const struct tw_event *e; /* the flow end */
	const char *sni;          /* the Initial's SNI, "" if none */
	int answered;             /* the server sent anything */
	const char *signature;    /* NULL: no verdict (an outcome only) */
	int n;
	const char *anom[TW_QV_MAX_ANOM];
	double w[TW_QV_MAX_ANOM];
};
typedef void (*tw_quic_judged_fn)(void *arg, const struct tw_quic_judged *j);

struct tw_quic_vstats {
	uint64_t flows_evicted;       /* QUIC flows forgotten before their end: table slot reused */
	uint64_t pending_forced;      /* held silences decided early: hold queue full */
	uint64_t server_unparsed;     /* server first datagrams too broken to judge */
	uint64_t h3_evicted;          /* HTTP/3 offers forgotten before their TTL: table slot reused */
	uint64_t context_overwritten; /* outcomes pushed out of the context ring while still inside its window */
};

struct tw_quic_verdicts;
/* hold_ns: how long an unanswered Initial waits for its context */
struct tw_quic_verdicts *tw_quic_verdicts_new(uint64_t hold_ns, tw_quic_judged_fn fn, void *arg);
void tw_quic_verdicts_free(struct tw_quic_verdicts *q);
/* A UDP event of a flow to server port 443. */
static inline int tw_quic_flow(const struct tw_event *e)
{
	return e->proto == TW_PROTO_UDP && e->sport == 443;
}
/* The client's (QUIC view) or the server's first datagram. */
void tw_quic_data(struct tw_quic_verdicts *q, const struct tw_decoded_event *d);
/* The flow ended; prefix_key: its client prefix, as verdict.c keys it. */
void tw_quic_end(struct tw_quic_verdicts *q, const struct tw_event *e, uint64_t prefix_key);
/* A TCP flow that asked for name_hash (SNI or Host; util/hash.h) ended,
 * answered or not: a fallback to TCP after a silent Initial. */
void tw_quic_note_tcp(struct tw_quic_verdicts *q, uint64_t ts_ns, uint64_t prefix_key, uint64_t name_hash,
                      int answered);
/* A DNS answer (not suspected of being forged) whose HTTPS record offers
 * HTTP/3 for name (RFC 9460 alpn "h3"), valid ttl_s seconds from ts_ns. */
void tw_quic_note_h3(struct tw_quic_verdicts *q, uint64_t ts_ns, const char *name, uint32_t ttl_s);
/* Decide held silences due by now_ns (capture clock); all when final. */
void tw_quic_tick(struct tw_quic_verdicts *q, uint64_t now_ns, int final);
const struct tw_quic_vstats *tw_quic_vstats(const struct tw_quic_verdicts *q);
#endif
