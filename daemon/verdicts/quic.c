/* QUIC interference verdicts (quic.h).  Weights, as verdict.c combines
 * them (confidence = 1 - prod(1 - w)):
 *
 *   quic_initial_unanswered          0.30  weaker than request_timeout: most
 *                                          servers do not speak QUIC at all
 *   quic_server_answers_others       0.60  the same server answered another
 *                                          QUIC flow: it speaks QUIC, so the
 *                                          silence is about this flow
 *   quic_client_answered_elsewhere   0.03  the client's QUIC to other servers
 *   tcp_fallback_answered            0.03  the client's TCP for the same name
 *   quic_residual_block              0.03  an earlier silent Initial to the
 *                                          same server:port from this client
 *   quic_h3_advertised               0.35  the name's own DNS answer (an
 *                                          HTTPS record, RFC 9460) offered
 *                                          HTTP/3 and the client's QUIC to
 *                                          other servers was answered; 0.03
 *                                          without that client-side control
 *   quic_forged_version_negotiation  0.80  RFC 9000 6.2 / 17.2.1
 *   quic_reset_before_handshake      0.70  RFC 9000 10.3
 *
 * The three context labels stay small on purpose: a server that does not
 * speak QUIC, reached by a client whose other QUIC and TCP work, gives
 * 1 - 0.7 * 0.97^3 = 0.36, under alerts.min_confidence_timeout (0.4): such
 * flows never count towards an alert, however many there are.  Only the
 * server answering QUIC elsewhere (0.72 and up) says the silence was
 * chosen for this flow.  A local firewall dropping UDP/443 for everyone
 * answers no QUIC flow at all: 0.30.
 *
 * The name offering HTTP/3 in its DNS answer is what a server without QUIC
 * does not do (a browser tries QUIC only on such an offer or an Alt-Svc):
 * with the client's QUIC answered elsewhere (its network passes QUIC) the
 * silence is the path's, 1 - 0.7 * 0.65 * 0.97 = 0.56.  Alone it stays a
 * label: a local firewall dropping all UDP/443 (or a path whose MTU cannot
 * carry a 1200-byte Initial) silences names that offer HTTP/3 too. */
#include "verdicts/quic.h"
#include <stdlib.h>
#include <string.h>
#include "util/hash.h"

#define Q_SLOTS 8192                           /* QUIC flows between first datagram and end (direct-mapped) */
#define Q_RECENT 4096                          /* ring of recent outcomes: the context */
#define Q_PENDING 1024                         /* held silences */
#define Q_CONTEXT_NS (300ull * 1000000000ull)  /* how far apart flows still inform each other */
#define Q_RESIDUAL_NS (180ull * 1000000000ull) /* the GFW's residual blocking of a tuple */
#define Q_H3 1024                              /* names offering HTTP/3 in DNS (direct-mapped) */
#define Q_H3_TTL_MIN_S 30                      /* a TTL 0 answer still served the connection it was asked for */
#define Q_H3_TTL_MAX_S 3600

enum { S_NONE = 0, S_ANSWER, S_FORGED_VN, S_RESET };

struct qflow {
	uint64_t id; /* 0: empty */
	uint32_t version;
	uint8_t dcid_len, scid_len, has_initial, server;
	uint8_t dcid[TW_QUIC_CID_MAX], scid[TW_QUIC_CID_MAX];
	char sni[TW_NAME_MAX];
};

enum { K_QUIC = 1, K_TCP = 2 };
struct qrecent {
	uint64_t ts_ns, flow_id, prefix_key, name_hash;
	uint8_t addr[16];
	uint8_t family, kind, answered;
	uint16_t port;
};

struct qpending {
	uint64_t due_ns, prefix_key, name_hash;
	struct tw_event *e; /* a copy of the flow end, without snippet */
	char sni[TW_NAME_MAX];
};

struct qh3 {
	uint64_t name_hash, from_ns, until_ns; /* name_hash 0: empty */
};

struct tw_quic_verdicts {
	struct qflow *slots;
	struct qh3 h3[Q_H3];
	struct qrecent *recent;
	size_t nrecent;
	struct qpending *pend;
	size_t pend_head, npend;
	uint64_t hold_ns;
	tw_quic_judged_fn fn;
	void *arg;
	struct tw_quic_initial scratch; /* large: the server datagram's parse */
	struct tw_quic_vstats st;
};

struct tw_quic_verdicts *tw_quic_verdicts_new(uint64_t hold_ns, tw_quic_judged_fn fn, void *arg)
{
	struct tw_quic_verdicts *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->slots = calloc(Q_SLOTS, sizeof(*q->slots));
	q->recent = calloc(Q_RECENT, sizeof(*q->recent));
	q->pend = calloc(Q_PENDING, sizeof(*q->pend));
	if (!q->slots || !q->recent || !q->pend) {
		tw_quic_verdicts_free(q);
		return NULL;
	}
	q->hold_ns = hold_ns;
	q->fn = fn;
	q->arg = arg;
	return q;
}

void tw_quic_verdicts_free(struct tw_quic_verdicts *q)
{
	if (!q)
		return;
	for (size_t i = 0; q->pend && i < q->npend; i++)
		free(q->pend[(q->pend_head + i) % Q_PENDING].e);
	free(q->pend);
	free(q->recent);
	free(q->slots);
	free(q);
}

const struct tw_quic_vstats *tw_quic_vstats(const struct tw_quic_verdicts *q)
{
	return &q->st;
}

/* The flow's slot; create: take it over (the flow it held is forgotten, counted). */
static struct qflow *slot(struct tw_quic_verdicts *q, uint64_t id, int create)
{
	struct qflow *f = &q->slots[tw_hash64(id) & (Q_SLOTS - 1)];
	if (f->id == id)
		return f;
	if (!create)
		return NULL;
	if (f->id)
		q->st.flows_evicted++;
	memset(f, 0, sizeof(*f));
	f->id = id;
	return f;
}

static int cid_eq(const uint8_t *a, uint8_t alen, const uint8_t *b, uint8_t blen)
{
	return alen == blen && !memcmp(a, b, alen < TW_QUIC_CID_MAX ? alen : TW_QUIC_CID_MAX);
}

/* What the server's first datagram says about the client's Initial. */
static int judge_server(struct tw_quic_verdicts *q, const struct qflow *f, const struct tw_event *e)
{
	struct tw_quic_initial *s = &q->scratch;
	enum tw_quic_status st = tw_parse_quic_initial(e->snippet, e->snippet_len, e->payload_len, s);
	if (st == TW_QUIC_SHORT_HEADER)
		return S_RESET; /* nothing of the server's came before: this is its first datagram */
	if (st == TW_QUIC_VERSION_NEG) {
		int lists_ours = 0;
		for (int i = 0; i < s->n_versions && i < TW_QUIC_VN_MAX; i++)
			lists_ours |= s->versions[i] == f->version;
		/* the server echoes the client's IDs, swapped */
		int echoes = cid_eq(s->dcid, s->dcid_len, f->scid, f->scid_len) &&
		             cid_eq(s->scid, s->scid_len, f->dcid, f->dcid_len);
		return lists_ours || !echoes ? S_FORGED_VN : S_ANSWER;
	}
	if (st == TW_QUIC_MALFORMED && !s->version)
		q->st.server_unparsed++;
	return S_ANSWER; /* a long header of the server's: an Initial, Handshake, Retry */
}

void tw_quic_data(struct tw_quic_verdicts *q, const struct tw_decoded_event *d)
{
	const struct tw_event *e = d->ev;
	struct qflow *f;
	if (e->type == TW_EV_CLIENT_DATA && d->view == TW_VIEW_QUIC) {
		const struct tw_quic_initial *in = &d->quic.q;
		if (d->quic.st != TW_QUIC_OK && d->quic.st != TW_QUIC_TRUNCATED)
			return; /* not a client Initial we could read */
		if (!(f = slot(q, e->flow_id, 1)))
			return;
		f->has_initial = 1;
		f->version = in->version;
		f->dcid_len = in->dcid_len;
		f->scid_len = in->scid_len;
		memcpy(f->dcid, in->dcid, sizeof(f->dcid));
		memcpy(f->scid, in->scid, sizeof(f->scid));
		if (in->hello.has_sni)
			memcpy(f->sni, in->hello.sni, sizeof(f->sni));
	} else if (e->type == TW_EV_SERVER_DATA && (f = slot(q, e->flow_id, 0)) && f->has_initial && !f->server) {
		f->server = (uint8_t)judge_server(q, f, e);
	}
}

static void remember(struct tw_quic_verdicts *q, uint64_t ts, uint64_t flow_id, uint64_t pk, uint64_t nh,
                     const struct tw_event *e, int kind, int answered)
{
	struct qrecent *r = &q->recent[q->nrecent++ % Q_RECENT];
	if (q->nrecent > Q_RECENT && r->ts_ns + Q_CONTEXT_NS > ts)
		q->st.context_overwritten++; /* a later flow loses this one as context */
	memset(r, 0, sizeof(*r));
	r->ts_ns = ts;
	r->flow_id = flow_id;
	r->prefix_key = pk;
	r->name_hash = nh;
	r->kind = (uint8_t)kind;
	r->answered = (uint8_t)answered;
	if (e) {
		memcpy(r->addr, e->saddr, 16);
		r->family = e->family;
		r->port = e->sport;
	}
}

void tw_quic_note_tcp(struct tw_quic_verdicts *q, uint64_t ts_ns, uint64_t prefix_key, uint64_t name_hash, int answered)
{
	if (name_hash)
		remember(q, ts_ns, 0, prefix_key, name_hash, NULL, K_TCP, answered);
}

/* Names compare without case (DNS answers may carry the 0x20 mix of the
 * query); "" hashes to 0. */
static uint64_t lname_hash(const char *n)
{
	char l[TW_NAME_MAX];
	size_t i = 0;
	for (; n[i] && i + 1 < sizeof(l); i++)
		l[i] = (char)(n[i] >= 'A' && n[i] <= 'Z' ? n[i] + 32 : n[i]);
	l[i] = '\0';
	return i ? tw_name_hash(l) : 0;
}

void tw_quic_note_h3(struct tw_quic_verdicts *q, uint64_t ts_ns, const char *name, uint32_t ttl_s)
{
	uint64_t nh = lname_hash(name);
	if (!nh)
		return;
	struct qh3 *h = &q->h3[tw_hash64(nh) & (Q_H3 - 1)];
	if (h->name_hash && h->name_hash != nh && h->until_ns > ts_ns)
		q->st.h3_evicted++;
	if (ttl_s < Q_H3_TTL_MIN_S)
		ttl_s = Q_H3_TTL_MIN_S;
	if (ttl_s > Q_H3_TTL_MAX_S)
		ttl_s = Q_H3_TTL_MAX_S;
	if (h->name_hash != nh || h->until_ns < ts_ns)
		h->from_ns = ts_ns; /* a new offer; a refresh keeps its start */
	h->name_hash = nh;
	h->until_ns = ts_ns + ttl_s * 1000000000ull;
}

/* Did the name offer HTTP/3 in a DNS answer in force when the flow began? */
static int h3_offered(const struct tw_quic_verdicts *q, const char *sni, uint64_t start)
{
	uint64_t nh = lname_hash(sni);
	const struct qh3 *h = &q->h3[tw_hash64(nh) & (Q_H3 - 1)];
	return nh && h->name_hash == nh && h->from_ns <= start && start <= h->until_ns;
}

static void add(struct tw_quic_judged *j, const char *name, double w)
{
	if (j->n < TW_QV_MAX_ANOM) {
		j->anom[j->n] = name;
		j->w[j->n++] = w;
	}
}

/* A silent Initial, weighed against what happened around it. */
static void resolve(struct tw_quic_verdicts *q, struct qpending *p)
{
	const struct tw_event *e = p->e;
	uint64_t start = tw_flow_first_ns(&e->flow, TW_DIR_C2S);
	int server_quic = 0, client_quic = 0, tcp_ok = 0, residual = 0;
	size_t n = q->nrecent < Q_RECENT ? q->nrecent : Q_RECENT;
	for (size_t i = 0; i < n; i++) {
		const struct qrecent *r = &q->recent[i];
		uint64_t d = r->ts_ns > e->ts_ns ? r->ts_ns - e->ts_ns : e->ts_ns - r->ts_ns;
		if ((r->kind == K_QUIC && r->flow_id == e->flow_id) || d > Q_CONTEXT_NS)
			continue;
		if (r->kind == K_TCP) {
			tcp_ok |= r->answered && r->prefix_key == p->prefix_key && r->name_hash == p->name_hash;
			continue;
		}
		int same_server = r->family == e->family && !memcmp(r->addr, e->saddr, 16);
		if (r->answered) {
			server_quic |= same_server;
			client_quic |= !same_server && r->prefix_key == p->prefix_key;
		} else if (same_server && r->port == e->sport && r->prefix_key == p->prefix_key && r->name_hash &&
		           r->ts_ns <= start && start - r->ts_ns <= Q_RESIDUAL_NS) {
			residual = 1; /* a silent Initial before this one, on the same tuple */
		}
	}
	struct tw_quic_judged j = { .e = e, .sni = p->sni, .answered = 0, .signature = "INITIAL->timeout" };
	add(&j, "quic_initial_unanswered", 0.30);
	if (server_quic)
		add(&j, "quic_server_answers_others", 0.60);
	if (client_quic)
		add(&j, "quic_client_answered_elsewhere", 0.03);
	if (tcp_ok)
		add(&j, "tcp_fallback_answered", 0.03);
	if (residual)
		add(&j, "quic_residual_block", 0.03);
	if (h3_offered(q, p->sni, start))
		add(&j, "quic_h3_advertised", client_quic ? 0.35 : 0.03);
	q->fn(q->arg, &j);
	free(p->e);
	p->e = NULL;
}

static void pop(struct tw_quic_verdicts *q)
{
	resolve(q, &q->pend[q->pend_head]);
	q->pend_head = (q->pend_head + 1) % Q_PENDING;
	q->npend--;
}

void tw_quic_end(struct tw_quic_verdicts *q, const struct tw_event *e, uint64_t prefix_key)
{
	struct qflow *f = slot(q, e->flow_id, 0);
	if (!f)
		return; /* no Initial seen (not QUIC, or picked up mid-flow) */
	struct qflow fl = *f;
	f->id = 0;
	uint64_t nh = fl.sni[0] ? tw_name_hash(fl.sni) : 0;
	int answered = e->flow.dir[TW_DIR_S2C].packets > 0;
	/* a forged answer is not an answer; the record of it says what it was */
	remember(q, e->ts_ns, e->flow_id, prefix_key, nh, e, K_QUIC,
	         answered && fl.server != S_FORGED_VN && fl.server != S_RESET);
	struct tw_quic_judged j = { .e = e, .sni = fl.sni, .answered = answered };
	if (fl.server == S_FORGED_VN) {
		j.signature = "INITIAL->VN";
		add(&j, "quic_forged_version_negotiation", 0.80);
	} else if (fl.server == S_RESET) {
		j.signature = "INITIAL->RESET";
		add(&j, "quic_reset_before_handshake", 0.70);
	} else if (!answered && fl.sni[0]) {
		/* held: the flows around it decide (resolve) */
		if (q->npend == Q_PENDING) {
			q->st.pending_forced++;
			pop(q);
		}
		struct tw_event *copy = malloc(sizeof(*copy));
		if (!copy) {
			q->st.pending_forced++;
			return;
		}
		memcpy(copy, e, sizeof(*copy));
		copy->snippet_len = 0;
		copy->len = sizeof(*copy);
		struct qpending *p = &q->pend[(q->pend_head + q->npend++) % Q_PENDING];
		p->e = copy;
		p->due_ns = e->ts_ns + q->hold_ns;
		p->prefix_key = prefix_key;
		p->name_hash = nh;
		memcpy(p->sni, fl.sni, sizeof(p->sni));
		return;
	}
	if (j.signature || fl.sni[0])
		q->fn(q->arg, &j);
}

void tw_quic_tick(struct tw_quic_verdicts *q, uint64_t now_ns, int final)
{
	while (q->npend && (final || q->pend[q->pend_head].due_ns <= now_ns))
		pop(q);
}
