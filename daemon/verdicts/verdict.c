/* Per-flow verdicts.  The kernel side gives us, per flow, the request's
 * first bytes, every RST with where it stood against the flow (TTL and IP-ID
 * baselines, sequence position, stage), races (payload after an RST), the
 * server's first bytes, DNS answers, and a summary at the end.  Here the
 * payloads as the pipeline parsed them (pipeline.h) are joined and, at flow
 * end, the evidence is weighed:
 *
 *   anomaly                     weight  source
 *   ttl_mismatch                 0.60   Weaver/Sommer/Paxson NDSS 2009; Cloudflare SIGCOMM 2023
 *   ipid_mismatch                0.40   Weaver/Sommer/Paxson NDSS 2009
 *   race_data_after_rst          0.80   Weaver/Sommer/Paxson NDSS 2009
 *   multiple_rst_seq             0.50   Wang et al. IMC 2017 (GFW type-2 RST bursts)
 *   blockpage_fingerprint        0.95 / 0.70 (confidence_no_fp or not)  OONI blocking-fingerprints
 *   dns_duplicate_differs        0.80   Hold-On (Duan et al.); GFWatch
 *   dns_ttl_mismatch             0.50   Hold-On
 *   dns_known_forged_address     0.90   GFWatch; OONI fingerprints_dns
 *   syn_timeout (SYN resent)     0.40   Cloudflare SIGCOMM 2023 (SYN->timeout)
 *   request_timeout (resent)     0.40   Cloudflare SIGCOMM 2023 (PSH->timeout)
 *   request_unacked              0.25   the server's TCP never ACKed (CenTrace drop-based blocking; RFC 1122 delayed ACK)
 *   ipid_constant_across_flows   0.60   Citizen Lab "Bad Traffic" 2018 (PacketLogic's IP-ID 0x3412)
 *   ttl_one_hop                  0.30   Citizen Lab "Bad Traffic" 2018 (injector one hop off a stable server TTL)
 *   status_451                   0.30   RFC 7725 (also used by lawful geo-blocks: weak alone)
 *
 * confidence = 1 - prod(1 - w) over the anomalies seen; a flow picked up
 * mid-stream or seen one way only is capped at 0.3 and says so
 * ("limitations").  An RST that fits the server's own TTL and IP-ID, with no
 * race and no burst, is a server's abortive close: no verdict. */
#include "verdicts/verdict.h"
#include "verdicts/throttle_flows.h"
#include "verdicts/quic.h"
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "verdicts/fingerprints.h"
#include "util/jsonbuf.h"
#include "util/hash.h"
#include "util/pool.h"
#include "events/pipeline.h"
#include "events/proto.h"

#define V_MAX_RST 4
#define V_MAX_DNSQ 4
#define V_MAX_ANOM 8
#define V_TTL_SLACK 1   /* route changes of one hop are common */
#define V_IPID_GAP 1024 /* a server's IP-ID moves far less within a flow */
#define V_BASE_SLOTS 65536
#define V_PERSIST_PKTS 8                      /* server packets after which a new TTL is the path's */
#define V_TIMEOUT_CONF 0.40                   /* one unanswered flow: weak alone, aggregation decides */
#define V_RTT_MIN_NS 5000000ull               /* 5 ms: below this, scheduling jitter is much of a round trip */
#define V_RECENT 4096                         /* ring of recent TCP flow outcomes, for cross-flow context */
#define V_CONTEXT_NS (300ull * 1000000000ull) /* how far apart flows still inform each other */
#define V_MAX_PENDING 1024
#define V_DEFER 2                             /* judge_tcp_inner: decided later, with other flows' outcomes */
#define V_ANS_SLOTS 16384                     /* recent DNS answers, by the address they gave */
#define V_ANS_AGE_NS (600ull * 1000000000ull) /* an answer links a web flow this long */
#define V_THR_FLOWS 4096                      /* busy flows whose rate series is kept (about 3 KiB each) */
#define V_REDIR_BODY_MAX 8192                 /* a search/redirect stub page is small; larger bodies are not decoded */
/* How long a live server's TCP takes at most to acknowledge a request,
 * past one round trip: RFC 1122 4.2.3.2 and RFC 9293 3.8.6.3 bound the
 * delayed ACK at 0.5 s (Linux sends within 40-200 ms, Windows 200 ms):
 * the bound every conforming stack keeps, not the usual value */
#define V_ACK_WAIT_NS 500000000ull
#define V_UNACKED_W 0.25 /* request_unacked: with the timeout's 0.40, 0.55 */
#define V_IPID_REPEAT 2  /* flows whose suspect response carried one IP-ID: a crafted constant */

enum req_kind { REQ_NONE = 0, REQ_HTTP, REQ_TLS, REQ_OTHER };
enum resp_kind { RESP_NONE = 0, RESP_HTTP, RESP_TLS_ALERT, RESP_TLS_HELLO, RESP_OTHER };

struct vrst {
	uint8_t ttl, base_ttl, last_ttl, stage, in_window, sender_seen;
	uint8_t too_early; /* came back sooner than the server could have answered */
	uint16_t ipid, ipid_prev;
	uint32_t seq;
	uint32_t c2s_pkts; /* client packets seen by then */
};

/* A DNS query of a flow, as big as it needs (one of V_DNSQ_CLASSES sizes,
 * a cache line for most): its name, then the first response's addresses
 * packed (family 4 or 6, then 4 or 16 bytes, in answer order).  The answer
 * set's text (dns_answers_text) is made from them only when a second
 * response comes to be compared with; the first four are the ones marked
 * suspect when it differs. */
#define V_ANS0_TEXT 160 /* the answer sets are compared as texts cut to this, NUL included */
#define V_PACKED_MAX (TW_DNS_MAX_ANS * 17)
struct vdnsq {
	const struct tw_fp_match *fp;
	uint16_t id;
	uint8_t differs; /* the second response's answer set was another */
	uint8_t nresp;   /* responses seen (stops at 255) */
	uint8_t ttl[2];
	uint8_t rcode[2];
	uint8_t nans; /* addresses packed */
	uint8_t cls;  /* its size class (pool) */
	uint8_t qlen;
	char data[]; /* the name (qlen bytes and a NUL), then the addresses */
};
#define V_DNSQ_CLASSES 4
static const size_t dnsq_size[V_DNSQ_CLASSES] = { 64, 128, 256,
	                                          offsetof(struct vdnsq, data) + TW_NAME_MAX + V_PACKED_MAX };

/* A flow's names and texts: only flows that carried a request or a
 * response have them (taken from a pool on first write; a DNS flow never
 * does), so the flow state itself stays small.  Which of them were written
 * is in the flow (vflow.names_set): a name never written is never touched,
 * neither to clear it nor to read it (each sits on cache lines of its own). */
struct vnames {
	char sni[TW_NAME_MAX];
	char host[TW_NAME_MAX];
	char redir_target[TW_NAME_MAX];
	char redir_host[TW_NAME_MAX];
	char resolver[INET6_ADDRSTRLEN];
};
/* Most flows only ever have one short name (the SNI or the Host): it is
 * kept in a record of one cache line instead (N_SHORT), moved to a whole
 * struct vnames when another name comes or a longer one. */
struct vshort {
	char s[64];
};
enum { N_SNI = 1, N_HOST = 2, N_REDIR_TARGET = 4, N_REDIR_HOST = 8, N_RESOLVER = 16, N_SHORT = 32 };

/* A flow's state: three cache lines.  Only the first is cleared when the
 * flow is created (flow_get); every other field is written before it is
 * read: the request's by on_client_data (read only once req is set), the
 * response's by on_server_data (read only once resp is set), an RST's as it
 * is appended (below nrst), a DNS query's pointer as it is added (below
 * nq).  A DNS flow touches its first line only. */
struct vflow {
	/* line 0: cleared at creation */
	uint64_t id;
	void *n;                     /* struct vnames, or struct vshort (N_SHORT); NULL: none written yet */
	struct vdnsq *q[V_MAX_DNSQ]; /* DNS flows only */
	uint8_t nq;
	uint8_t nrst;
	uint8_t race;
	uint8_t req;  /* enum req_kind */
	uint8_t resp; /* enum resp_kind */
	/* ISP NXDOMAIN redirection: the answer for the Host sent the client
	 * here, and this server sends it on to a search for that name */
	uint8_t isp_redir;
	uint8_t names_set; /* N_*: the names written */
	uint8_t unacked;   /* the server's TCP acknowledged nothing after the handshake (request_unacked) */
	uint8_t pend;      /* why judge_tcp_inner deferred it (PEND_*) */
	/* what judge_dns reads of q[0], kept here by on_dns_response: the
	 * flow's end reads the query itself only to write about it */
	uint8_t q0_nresp, q0_differs, q0_ttl[2], q0_fp;
	/* line 1: the request (on_client_data) */
	uint64_t req_ns;    /* when the request (first client payload) passed */
	uint64_t name_hash; /* of the SNI, else the Host (flow_name_hash), when names_set has one */
	uint32_t req_s2c;   /* server packets seen by then */
	uint8_t req_ttl;    /* its IP TTL here */
	/* the response (on_server_data) */
	uint8_t resp_ttl, resp_base_ttl, resp_last_ttl;
	const struct tw_fp_match *fp;
	int32_t status;
	uint16_t resp_ipid, resp_ipid_prev;
	uint8_t resp_base_known;
	uint8_t resp_suspect_ipid; /* an IP-ID unlike the server's own on a refusal, redirect or alert (ipid_seen) */
	/* a redirect (3xx with a Location) to another site than the one asked */
	uint8_t redir_offsite;
	uint8_t redir_via;
	uint32_t dns_ttl;
	/* lines 1-2: the RSTs */
	struct vrst rst[V_MAX_RST];
};
_Static_assert(sizeof(struct vflow) <= 192, "a flow's state is three cache lines");
#define VFLOW_CLEARED offsetof(struct vflow, req_ns)
_Static_assert(VFLOW_CLEARED <= 64, "the part cleared at creation is one cache line");

struct slot {
	uint64_t id; /* 0 = empty */
	struct vflow *f;
};

/* What a server's packets usually carry: learnt from SYN-ACKs and DNS
 * answers of earlier flows, used where a flow has no baseline of its own
 * (SYN->RST, a lone forged DNS answer). */
struct base {
	uint8_t addr[16];
	uint8_t family;
	uint8_t ttl[4];  /* the TTLs seen most, with their counts: a forged */
	uint16_t n[4];   /* answer's random TTL never becomes the baseline */
	uint32_t rtt_us; /* shortest handshake round trip seen, 0 unknown */
	uint8_t fw_ttl;  /* TTL of resets that followed the server's own reset (an endpoint firewall) */
	uint8_t fw_n;    /* how often, 0 unknown */
};

/* Recent DNS answers, keyed by the address they gave: which name asked for
 * it and which resolver answered (direct-mapped: a collision replaces). */
struct answ {
	uint8_t addr[16];
	uint8_t family;
	uint8_t suspect; /* forged-address fingerprint, resolver TTL mismatch, differing duplicate */
	uint8_t rfamily;
	uint8_t resolver[16];
	uint32_t ttl;
	uint64_t name_hash, ts_ns;
};

/* What became of a recent TCP flow: was its request (or SYN) answered? */
enum { R_ANSWERED = 1, R_SILENT = 2 };
struct recent {
	uint64_t ts_ns, flow_id;
	uint64_t name_hash;  /* SNI or Host, 0 none */
	uint64_t prefix_key; /* client prefix */
	uint8_t addr[16];
	uint8_t family, req, result;
};

/* Why a flow waits for others before it is judged (tw_verdict_tick). */
enum { PEND_SILENCE = 0, PEND_RESPONSE = 1 };

/* Responses carrying an IP-ID unlike their server's, by that IP-ID: an
 * injector that writes one constant into every packet it forges
 * (PacketLogic: 0x3412, Citizen Lab "Bad Traffic") shows up as one value
 * on the responses of unrelated connections. */
struct ipid_seen {
	uint64_t ts_ns; /* the last such response */
	uint32_t flows;
};

/* A flow waiting for its context (tw_verdict_tick): a silent ClientHello,
 * or a suspect response whose IP-ID other flows may repeat. */
struct pending {
	uint64_t due_ns;
	struct tw_event *e; /* the flow end's fixed part (no snippet), in pend_ev */
	struct vflow f;
};

struct tw_verdict {
	struct tw_pipeline *pl;      /* its options (client prefix lengths, clock) and ticks */
	struct tw_line_sink records; /* tamper and redirect records */
	tw_outcome_cb hook, hook2;
	void *hook_arg, *hook2_arg;
	const struct tw_fp_db *fp;
	struct slot *slots;
	size_t mask, count, max;
	/* flow state and DNS query sets, taken per flow and given back at its
	 * end: no malloc per flow once the pools have grown to the working set
	 * (at most max of each; util/pool.h) */
	struct tw_pool flows, names, short_names;
	struct tw_pool dnsq[V_DNSQ_CLASSES]; /* by size (dnsq_size) */
	size_t dnsq_live;                    /* queries held, all sizes: at most max */
	struct base *bases;
	struct answ *answers;
	struct recent *recent;
	struct ipid_seen *ipids;  /* 65536, by IP-ID */
	size_t nrecent;           /* written so far; the ring holds the last V_RECENT */
	struct pending *pend;     /* FIFO ring of V_MAX_PENDING, allocated on first use */
	struct tw_event *pend_ev; /* their flow ends, pend[i].e == &pend_ev[i] */
	uint64_t hold_ns;         /* flows.silence_hold: how long a silent ClientHello waits for context */
	size_t pend_head, npend;
	struct tw_thr_flows *thr; /* rate series of busy flows (throttling) */
	struct tw_thr_cfg thr_cfg;
	struct tw_quic_verdicts *quic; /* UDP/443 flows (verdicts/quic.c) */
	int ingress_only;              /* tw_verdict_set_ingress_only */
	int nlocal;                    /* tw_verdict_add_local */
	struct {
		uint8_t family;
		uint8_t addr[16];
	} local[TW_VERDICT_MAX_LOCAL];
	struct tw_verdict_stats st;
};

/* Seen one way only because the attachment cannot see the other
 * direction: nothing to judge (tw_verdict_set_ingress_only). */
static int one_way(const struct tw_event *e)
{
	return !e->flow.dir[0].packets || !e->flow.dir[1].packets;
}

static int is_local(const struct tw_verdict *v, int family, const uint8_t *a)
{
	size_t n = family == TW_FAMILY_IPV6 ? 16 : 4;
	for (int i = 0; i < v->nlocal; i++)
		if (v->local[i].family == family && !memcmp(v->local[i].addr, a, n))
			return 1;
	return 0;
}

static int attachment_one_way(const struct tw_verdict *v, const struct tw_event *e)
{
	return one_way(e) && (v->ingress_only ||
	                      (v->nlocal && (is_local(v, e->family, e->caddr) || is_local(v, e->family, e->saddr))));
}

/* A name's field in a whole record (N_*), and its size. */
static char *name_field(struct vnames *nm, unsigned which, size_t *cap)
{
	*cap = which == N_RESOLVER ? sizeof(nm->resolver) : TW_NAME_MAX;
	switch (which) {
	case N_SNI: return nm->sni;
	case N_HOST: return nm->host;
	case N_REDIR_TARGET: return nm->redir_target;
	case N_REDIR_HOST: return nm->redir_host;
	default: return nm->resolver;
	}
}

/* One of a flow's names (N_*), "" when never written (f may be NULL). */
static const char *name_get(const struct vflow *f, unsigned which)
{
	size_t cap;
	if (!f || !(f->names_set & which))
		return "";
	if (f->names_set & N_SHORT) /* its one name */
		return ((const struct vshort *)f->n)->s;
	return name_field(f->n, which, &cap);
}
#define SNI(f) name_get(f, N_SNI)
#define HOST(f) name_get(f, N_HOST)

static uint64_t name_hash(const char *n)
{
	return tw_name_hash(n);
}

/* Write one of a flow's names (N_*), cut to its field as snprintf cuts.
 * The record is taken from the pool on the first write (nothing in it is
 * cleared: names_set says what was written); when memory ran out the name
 * is not kept (counted), as if never written. */
static void name_set(struct tw_verdict *v, struct vflow *f, unsigned which, const char *val)
{
	size_t len = strnlen(val, TW_NAME_MAX), cap;
	char *dst;
	if (!f->n && (which & (N_SNI | N_HOST)) && len < sizeof(((struct vshort *)0)->s)) {
		if (!(f->n = tw_pool_get(&v->short_names))) {
			v->st.flows_dropped++;
			return;
		}
		f->names_set = (uint8_t)(which | N_SHORT);
		dst = ((struct vshort *)f->n)->s;
		cap = sizeof(((struct vshort *)0)->s);
	} else {
		struct vnames *nm = f->n;
		if (!nm || (f->names_set & N_SHORT)) { /* a whole record, the short name moved into it */
			if (!(nm = tw_pool_get(&v->names))) {
				v->st.flows_dropped++;
				return;
			}
			if (f->n) {
				unsigned had = f->names_set & (N_SNI | N_HOST);
				char *old = name_field(nm, had, &cap);
				memcpy(old, ((struct vshort *)f->n)->s, strlen(((struct vshort *)f->n)->s) + 1);
				tw_pool_put(&v->short_names, f->n);
			}
			f->n = nm;
			f->names_set &= (uint8_t)~N_SHORT;
		}
		dst = name_field(nm, which, &cap);
		f->names_set |= (uint8_t)which;
	}
	/* as snprintf(dst, cap, "%s", val) */
	if (len > cap - 1)
		len = cap - 1;
	memcpy(dst, val, len);
	dst[len] = 0;
	/* the name the flow asked for, as remember() keeps it: hashed here,
	 * while the name is in the cache, not when the flow ends */
	if (which & (N_SNI | N_HOST))
		f->name_hash = SNI(f)[0] ? name_hash(SNI(f)) : HOST(f)[0] ? name_hash(HOST(f)) : 0;
}

/* a flow's state back to the pools */
static void flow_release(struct tw_verdict *v, struct vflow *f)
{
	for (int i = 0; i < f->nq; i++) {
		v->dnsq_live--;
		tw_pool_put(&v->dnsq[f->q[i]->cls], f->q[i]);
	}
	tw_pool_put((f->names_set & N_SHORT) ? &v->short_names : &v->names, f->n);
	f->nq = 0;
	f->n = NULL;
	f->names_set = 0;
}

static uint64_t mix(uint64_t x)
{
	return tw_hash64(x);
}

static struct slot *slot_find(struct tw_verdict *v, uint64_t id)
{
	size_t i = mix(id) & v->mask;
	for (size_t n = 0; n <= v->mask; n++, i = (i + 1) & v->mask)
		if (v->slots[i].id == id || v->slots[i].id == 0)
			return &v->slots[i];
	return NULL;
}

/* The table grows with the flows it holds (kept at most half full), so a
 * small capture never walks a table sized for the largest. */
static int grow(struct tw_verdict *v)
{
	size_t ncap = (v->mask + 1) * 2;
	struct slot *old = v->slots, *ns = calloc(ncap, sizeof(*ns));
	size_t omask = v->mask;
	if (!ns)
		return -1;
	v->slots = ns;
	v->mask = ncap - 1;
	for (size_t i = 0; i <= omask; i++)
		if (old[i].id)
			*slot_find(v, old[i].id) = old[i];
	free(old);
	return 0;
}

static struct vflow *flow_get(struct tw_verdict *v, uint64_t id, int create)
{
	struct slot *s = slot_find(v, id);
	if (s && s->id == id)
		return s->f;
	if (!create)
		return NULL;
	if (!s || v->count >= v->max) {
		v->st.flows_dropped++;
		return NULL;
	}
	if ((v->count + 1) * 2 > v->mask + 1) {
		if (grow(v) < 0) {
			v->st.flows_dropped++;
			return NULL;
		}
		s = slot_find(v, id);
	}
	struct vflow *f = tw_pool_get(&v->flows);
	if (!f) {
		v->st.flows_dropped++;
		return NULL;
	}
	memset(f, 0, VFLOW_CLEARED); /* the rest is written before it is read (struct vflow) */
	f->id = id;
	s->id = id;
	s->f = f;
	v->count++;
	return f;
}

static void flow_del(struct tw_verdict *v, uint64_t id)
{
	struct slot *s = slot_find(v, id);
	if (!s || s->id != id)
		return;
	flow_release(v, s->f);
	tw_pool_put(&v->flows, s->f);
	size_t i = (size_t)(s - v->slots), j = i;
	for (size_t n = 0; n <= v->mask; n++) {
		j = (j + 1) & v->mask;
		if (!v->slots[j].id)
			break;
		size_t home = mix(v->slots[j].id) & v->mask;
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			v->slots[i] = v->slots[j];
			i = j;
		}
	}
	v->slots[i].id = 0;
	v->slots[i].f = NULL;
	v->count--;
}

static int ttl_differs(uint8_t a, uint8_t b)
{
	return a > b ? a - b > V_TTL_SLACK : b - a > V_TTL_SLACK;
}

static struct base *base_slot(struct tw_verdict *v, int family, const uint8_t *addr)
{
	uint64_t a, b;
	memcpy(&a, addr, 8);
	memcpy(&b, addr + 8, 8);
	return &v->bases[mix(a ^ mix(b) ^ (uint64_t)family) & (V_BASE_SLOTS - 1)];
}

/* The slot for this server, emptied first if it held another one
 * (direct-mapped: a collision replaces). */
static void base_claim(struct base *b, int family, const uint8_t *addr)
{
	if (b->family == family && !memcmp(b->addr, addr, 16))
		return;
	memset(b, 0, sizeof(*b));
	memcpy(b->addr, addr, 16);
	b->family = (uint8_t)family;
}

static void base_learn(struct tw_verdict *v, int family, const uint8_t *addr, uint8_t ttl)
{
	struct base *b = base_slot(v, family, addr);
	int i, low = 0;
	base_claim(b, family, addr);
	for (i = 0; i < 4; i++) {
		if (b->n[i] && !ttl_differs(b->ttl[i], ttl)) {
			if (b->n[i] < 0xffff)
				b->n[i]++;
			return;
		}
		if (b->n[i] < b->n[low])
			low = i;
	}
	b->ttl[low] = ttl; /* replaces the least seen */
	b->n[low] = 1;
}

/* The baseline: the TTL seen most, if it clearly dominates. */
static int base_ttl(struct tw_verdict *v, int family, const uint8_t *addr, uint8_t *ttl)
{
	struct base *b = base_slot(v, family, addr);
	int best = 0;
	if (b->family != family || memcmp(b->addr, addr, 16))
		return 0;
	for (int i = 0; i < 4; i++)
		if (b->n[i] > b->n[best])
			best = i;
	/* at least twice, and more than twice as often as any other TTL */
	for (int i = 0; i < 4; i++)
		if (i != best && b->n[i] * 2 >= b->n[best])
			return 0;
	if (b->n[best] < 2)
		return 0;
	*ttl = b->ttl[best];
	return 1;
}

/* The round trip from here to the server and back, from this flow's
 * handshake (SYN to SYN-ACK, each sent once); 0 if unknown. */
static uint64_t handshake_rtt(const struct tw_flow *fl)
{
	const struct tw_dir_state *c = &fl->dir[TW_DIR_C2S], *s = &fl->dir[TW_DIR_S2C];
	if ((fl->flags & (TW_FLOW_MIDSTREAM | TW_FLOW_SYNACK_FIRST)) || c->syn_count != 1 || s->syn_count != 1)
		return 0;
	uint64_t cf = tw_flow_first_ns(fl, TW_DIR_C2S), sf = tw_flow_first_ns(fl, TW_DIR_S2C);
	return sf > cf ? sf - cf : 0;
}

/* The shortest round trip earlier flows measured to this server: one flow
 * whose SYN-ACK was held up must not make the server look far away. */
static void base_learn_rtt(struct tw_verdict *v, int family, const uint8_t *addr, uint64_t rtt_ns)
{
	struct base *b = base_slot(v, family, addr);
	uint64_t us = rtt_ns / 1000;
	if (!us || us > UINT32_MAX)
		return;
	base_claim(b, family, addr);
	if (!b->rtt_us || us < b->rtt_us)
		b->rtt_us = (uint32_t)us;
}

/* An endpoint firewall: after the server reset a flow itself, the
 * client's later packets drew resets on another TTL.  Seen twice on one
 * TTL, that device's resets on this server's other flows are not a
 * censor's (the CenTrace ft.com pair: TTL 237 against the server's 44). */
static void base_learn_fw(struct tw_verdict *v, int family, const uint8_t *addr, uint8_t ttl)
{
	struct base *b = base_slot(v, family, addr);
	base_claim(b, family, addr);
	if (b->fw_n && !ttl_differs(b->fw_ttl, ttl)) {
		if (b->fw_n < 0xff)
			b->fw_n++;
		return;
	}
	b->fw_ttl = ttl; /* another device: starts over */
	b->fw_n = 1;
}

static int base_fw(struct tw_verdict *v, int family, const uint8_t *addr, uint8_t *ttl)
{
	struct base *b = base_slot(v, family, addr);
	if (b->family != family || memcmp(b->addr, addr, 16) || b->fw_n < 2)
		return 0;
	*ttl = b->fw_ttl;
	return 1;
}

static uint64_t base_rtt(struct tw_verdict *v, int family, const uint8_t *addr)
{
	struct base *b = base_slot(v, family, addr);
	if (b->family != family || memcmp(b->addr, addr, 16))
		return 0;
	return (uint64_t)b->rtt_us * 1000;
}

/* An in-path censor drops the request and answers it with an RST that
 * copies the server's TTL and IP-ID, so nothing in the packet gives it
 * away (in-path devices such as Russia's TSPU, Xue et al., IMC), but it sits nearer
 * than the server: its RST can come back sooner than any answer of the
 * server could.  An RST right after the request, with nothing from the
 * server in between, sooner than half the round trip the handshake took
 * (the factor Hold-On uses for DNS answers) cannot be the server's. */
static int rst_too_early(struct tw_verdict *v, const struct vflow *f, const struct tw_event *e)
{
	if (e->ctx.stage != TW_STAGE_CLIENT_DATA || f->req == REQ_NONE || !f->req_ns || e->ts_ns < f->req_ns)
		return 0;
	uint64_t rtt = handshake_rtt(&e->flow), known = base_rtt(v, e->family, e->saddr);
	if (known && (!rtt || known < rtt))
		rtt = known;
	if (rtt < V_RTT_MIN_NS)
		return 0;
	/* this RST is the server's first packet since the request */
	if (e->flow.dir[TW_DIR_S2C].packets != f->req_s2c + 1)
		return 0;
	return (e->ts_ns - f->req_ns) * 2 < rtt;
}

static void verdict_tick(void *arg, uint64_t now_wall_ns, int final);
static void verdict_prefetch(void *arg, const struct tw_event *e);
static int ipid_jumps(uint16_t now, uint16_t prev);
static void quic_judged(void *arg, const struct tw_quic_judged *j);

struct tw_verdict *tw_verdict_new(struct tw_pipeline *pl, const struct tw_fp_db *fp, uint32_t max_flows,
                                  uint64_t hold_ns, tw_line_fn records, void *records_arg)
{
	struct tw_verdict *v = calloc(1, sizeof(*v));
	size_t cap = 4096;
	if (!v)
		return NULL;
	v->slots = calloc(cap, sizeof(*v->slots));
	v->bases = calloc(V_BASE_SLOTS, sizeof(*v->bases));
	v->answers = calloc(V_ANS_SLOTS, sizeof(*v->answers));
	v->recent = calloc(V_RECENT, sizeof(*v->recent));
	v->ipids = calloc(65536, sizeof(*v->ipids));
	v->thr = tw_thr_flows_new(V_THR_FLOWS);
	v->quic = tw_quic_verdicts_new(hold_ns, quic_judged, v);
	tw_thr_cfg_default(&v->thr_cfg);
	if (!v->slots || !v->bases || !v->answers || !v->recent || !v->ipids || !v->thr || !v->quic) {
		tw_verdict_free(v);
		return NULL;
	}
	v->mask = cap - 1;
	v->max = max_flows;
	/* chunks of about 200-300 KB each: few system calls as they grow */
	tw_pool_init(&v->flows, sizeof(struct vflow), 1024, max_flows ? max_flows : 1);
	for (int i = 0; i < V_DNSQ_CLASSES; i++)
		tw_pool_init(&v->dnsq[i], dnsq_size[i], (256u << 10) / dnsq_size[i], max_flows ? max_flows : 1);
	tw_pool_init(&v->names, sizeof(struct vnames), 256, max_flows ? max_flows : 1);
	tw_pool_init(&v->short_names, sizeof(struct vshort), 4096, max_flows ? max_flows : 1);
	v->hold_ns = hold_ns;
	v->pl = pl;
	v->records.fn = records;
	v->records.arg = records_arg;
	v->fp = fp;
	/* before aggregation's tick (main.c adds it later): held verdicts
	 * reach aggregation in the same tick they are written */
	tw_pipeline_add_tick(pl, verdict_tick, v);
	tw_pipeline_add_prefetch(pl, verdict_prefetch, v);
	return v;
}

const struct tw_thr_flows *tw_verdict_throttle(const struct tw_verdict *v)
{
	return v->thr;
}

void tw_verdict_set_throttle(struct tw_verdict *v, const struct tw_thr_cfg *c)
{
	v->thr_cfg = *c;
}

void tw_verdict_set_ingress_only(struct tw_verdict *v, int on)
{
	v->ingress_only = on != 0;
}

int tw_verdict_add_local(struct tw_verdict *v, int family, const uint8_t addr[16])
{
	if (is_local(v, family, addr))
		return 0;
	if (v->nlocal == TW_VERDICT_MAX_LOCAL)
		return -1;
	v->local[v->nlocal].family = (uint8_t)family;
	memset(v->local[v->nlocal].addr, 0, 16);
	memcpy(v->local[v->nlocal].addr, addr, family == TW_FAMILY_IPV6 ? 16 : 4);
	v->nlocal++;
	return 0;
}

void tw_verdict_free(struct tw_verdict *v)
{
	if (!v)
		return;
	tw_thr_flows_free(v->thr);
	tw_quic_verdicts_free(v->quic);
	tw_pool_destroy(&v->flows); /* every flow state still held */
	for (int i = 0; i < V_DNSQ_CLASSES; i++)
		tw_pool_destroy(&v->dnsq[i]);
	tw_pool_destroy(&v->names);
	tw_pool_destroy(&v->short_names);
	free(v->slots);
	free(v->bases);
	free(v->answers);
	free(v->recent);
	free(v->ipids);
	free(v->pend);
	free(v->pend_ev);
	free(v);
}

void tw_verdict_set_hook(struct tw_verdict *v, tw_outcome_cb cb, void *arg)
{
	v->hook = cb;
	v->hook_arg = arg;
}

void tw_verdict_set_hook2(struct tw_verdict *v, tw_outcome_cb cb, void *arg)
{
	v->hook2 = cb;
	v->hook2_arg = arg;
}

/* Tell aggregation how a flow (or one DNS query) ended. */
static void outcome(struct tw_verdict *v, const struct tw_event *e, const char *domain, int answered,
                    const struct tw_tamper *t, const struct tw_thr_verdict *rate)
{
	char cp[INET6_ADDRSTRLEN + 8], sip[INET6_ADDRSTRLEN];
	struct tw_pipeline *pl = v->pl;
	if ((!v->hook && !v->hook2) || attachment_one_way(v, e))
		return;
	tw_prefix_str(e->family, e->caddr, e->family == TW_FAMILY_IPV6 ? pl->opt.v6_prefix : pl->opt.v4_prefix, cp,
	              sizeof(cp));
	tw_addr_str(e->family, e->saddr, sip, sizeof(sip));
	struct tw_flow_outcome o = {
		.ts_ns = (uint64_t)((int64_t)e->ts_ns + pl->opt.clock_offset_ns),
		.flow_id = e->flow_id,
		.client_prefix = cp,
		.server_ip = sip,
		.server_port = e->sport,
		.proto = e->proto == TW_PROTO_TCP ? "tcp" : "udp",
		.domain = domain && domain[0] ? domain : NULL,
		.answered = answered,
		.tamper = t,
		.rate = rate,
		.sampling = tw_sampling_admitted(pl->sampling, e),
	};
	/* evidence first: it must know the verdict before an alert the first
	 * hook raises names this flow */
	if (v->hook2)
		v->hook2(v->hook2_arg, &o);
	if (v->hook)
		v->hook(v->hook_arg, &o);
}

const struct tw_verdict_stats *tw_verdict_stats(const struct tw_verdict *v)
{
	return &v->st;
}

static struct answ *answ_slot(struct tw_verdict *v, int family, const uint8_t *addr)
{
	uint64_t a, b;
	memcpy(&a, addr, 8);
	memcpy(&b, addr + 8, 8);
	return &v->answers[mix(mix(a) ^ b ^ ((uint64_t)family << 56)) & (V_ANS_SLOTS - 1)];
}

static void answ_put(struct tw_verdict *v, const struct tw_dns_answer *x, uint64_t nh, const struct tw_event *e,
                     int suspect)
{
	int fam = x->family == 4 ? TW_FAMILY_IPV4 : TW_FAMILY_IPV6;
	uint8_t addr[16] = { 0 };
	memcpy(addr, x->addr, x->family == 4 ? 4 : 16);
	struct answ *s = answ_slot(v, fam, addr);
	/* the same address and name again keeps a mark it already has */
	int keep = s->family == fam && !memcmp(s->addr, addr, 16) && s->name_hash == nh && s->suspect;
	memcpy(s->addr, addr, 16);
	s->family = (uint8_t)fam;
	s->name_hash = nh;
	s->ts_ns = e->ts_ns;
	s->ttl = x->ttl;
	s->rfamily = e->family;
	memcpy(s->resolver, e->saddr, 16);
	s->suspect = (uint8_t)(suspect || keep);
}

/* The answer that gave this address for this name, if recent. */
static struct answ *answ_find(struct tw_verdict *v, int family, const uint8_t *addr, uint64_t nh, uint64_t now)
{
	struct answ *s = answ_slot(v, family, addr);
	if (s->family != family || memcmp(s->addr, addr, 16) || s->name_hash != nh)
		return NULL;
	if (now > s->ts_ns + V_ANS_AGE_NS)
		return NULL;
	return s;
}

/* append n bytes of s at out[*o], cut to what the buffer holds (cap with
 * its terminating NUL) */
static void app(char *out, size_t cap, size_t *o, const char *s, size_t n)
{
	if (*o + 1 >= cap)
		return;
	if (n > cap - 1 - *o)
		n = cap - 1 - *o;
	memcpy(out + *o, s, n);
	*o += n;
	out[*o] = 0;
}

/* A response's addresses (A and AAAA answers, in order), packed as
 * struct vdnsq keeps them; their count in *n, the bytes returned. */
static size_t pack_answers(const struct tw_dns_msg *m, uint8_t *out, uint8_t *n)
{
	size_t o = 0;
	*n = 0;
	for (int i = 0; i < m->n_answers && i < TW_DNS_MAX_ANS; i++) {
		const struct tw_dns_answer *x = &m->answers[i];
		if (x->family != 4 && x->family != 6)
			continue;
		out[o++] = x->family;
		memcpy(out + o, x->addr, x->family == 4 ? 4 : 16);
		o += x->family == 4 ? 4 : 16;
		(*n)++;
	}
	return o;
}

/* The i-th packed address, as a family (TW_FAMILY_*) and 16 bytes zero-padded. */
static const uint8_t *packed_next(const uint8_t *p, int *family, uint8_t addr[16])
{
	int l = p[0] == 4 ? 4 : 16;
	*family = p[0] == 4 ? TW_FAMILY_IPV4 : TW_FAMILY_IPV6;
	memset(addr, 0, 16);
	memcpy(addr, p + 1, (size_t)l);
	return p + 1 + l;
}

/* "rcode=N A1 A2 ..." (addresses only: CNAMEs vary legitimately), cut to
 * cap - 1 characters: only compared, never written out.  From n packed
 * addresses (pack_answers); made only when a query has a second response. */
static void dns_answers_text(uint8_t rcode, const uint8_t *packed, int n, char *out, size_t cap)
{
	size_t o = 0;
	char a[INET6_ADDRSTRLEN + 1];
	out[0] = 0;
	app(out, cap, &o, "rcode=", 6);
	app(out, cap, &o, a, (size_t)snprintf(a, sizeof(a), "%u", rcode));
	for (int i = 0; i < n && o + 1 < cap; i++) {
		int fam;
		uint8_t addr[16];
		packed = packed_next(packed, &fam, addr);
		a[0] = ' ';
		tw_addr_str(fam, addr, a + 1, sizeof(a) - 1);
		app(out, cap, &o, a, 1 + strlen(a + 1));
	}
}

enum { P_DNS, P_TLS_HELLO, P_HTTP_REQ, P_HTTP_RESP, P_TLS_SERVER };
static const char *const parser_names[TW_VERDICT_PARSERS] = { "dns", "tls_client_hello", "http_request",
	                                                      "http_response", "tls_server" };

const char *tw_verdict_parser_name(int i)
{
	return i >= 0 && i < TW_VERDICT_PARSERS ? parser_names[i] : NULL;
}

/* every parse result passes here: truncated and malformed are counted */
static enum tw_parse_rc counted(struct tw_verdict *v, int parser, enum tw_parse_rc rc)
{
	if (rc == TW_PAYLOAD_TRUNCATED || rc == TW_PAYLOAD_MALFORMED)
		v->st.parse_errors[parser][rc == TW_PAYLOAD_MALFORMED]++;
	return rc;
}

/* d: a DNS answer, its DNS view parsed (pipeline.h) */
static void on_dns_response(struct tw_verdict *v, struct vflow *f, const struct tw_decoded_event *d)
{
	const struct tw_event *e = d->ev;
	const struct tw_dns_msg *m = &d->dns.msg;
	if (d->view != TW_VIEW_DNS || counted(v, P_DNS, d->dns.rc) == TW_PAYLOAD_MALFORMED || !m->is_response)
		return;
	/* the recent-answers slots each address goes to (answ_put, below):
	 * asked for now, they arrive while the query is looked up */
	for (int i = 0; i < m->n_answers && i < TW_DNS_MAX_ANS; i++) {
		const struct tw_dns_answer *x = &m->answers[i];
		uint8_t addr[16] = { 0 };
		if (x->family != 4 && x->family != 6)
			continue;
		memcpy(addr, x->addr, x->family == 4 ? 4 : 16);
		__builtin_prefetch(answ_slot(v, x->family == 4 ? TW_FAMILY_IPV4 : TW_FAMILY_IPV6, addr), 1);
	}
	struct vdnsq *q = NULL;
	uint8_t packed[V_PACKED_MAX], npacked;
	size_t plen = pack_answers(m, packed, &npacked);
	for (int i = 0; i < f->nq; i++)
		if (f->q[i]->id == m->id)
			q = f->q[i];
	if (!q) {
		if (f->nq == V_MAX_DNSQ)
			return;
		/* the first response: the name and its addresses, in the smallest size that holds them */
		size_t ql = strnlen(m->qname, TW_NAME_MAX - 1), need = offsetof(struct vdnsq, data) + ql + 1 + plen;
		int cls = 0;
		while (dnsq_size[cls] < need)
			cls++;
		if (v->dnsq_live >= v->max || !(q = tw_pool_get(&v->dnsq[cls]))) {
			v->st.flows_dropped++;
			return;
		}
		v->dnsq_live++;
		q->cls = (uint8_t)cls;
		q->nresp = 0;
		q->differs = 0;
		q->ttl[1] = 0;
		q->fp = NULL;
		f->q[f->nq++] = q;
		q->id = m->id;
		q->qlen = (uint8_t)ql;
		memcpy(q->data, m->qname, ql);
		q->data[ql] = 0;
		q->nans = npacked;
		memcpy(q->data + ql + 1, packed, plen);
	}
	/* learnt as answers arrive, so queries judged at a flush already
	 * know the resolver; the most frequent TTL wins (base_ttl) */
	uint8_t rbase;
	int ttl_odd = base_ttl(v, e->family, e->saddr, &rbase) && ttl_differs(e->ttl, rbase);
	base_learn(v, e->family, e->saddr, e->ttl);
	int differs = 0;
	const uint8_t *ans0 = (const uint8_t *)q->data + q->qlen + 1;
	if (q->nresp < 2) {
		q->ttl[q->nresp] = e->ttl;
		q->rcode[q->nresp] = m->rcode;
		if (q->nresp == 1) {
			char t0[V_ANS0_TEXT], t1[V_ANS0_TEXT];
			dns_answers_text(q->rcode[0], ans0, q->nans, t0, sizeof(t0));
			dns_answers_text(m->rcode, packed, npacked, t1, sizeof(t1));
			differs = strcmp(t0, t1) != 0;
		}
		q->differs = (uint8_t)differs;
	}
	if (q->nresp < 255)
		q->nresp++;
	int forged = 0;
	for (int i = 0; v->fp && i < m->n_answers; i++) {
		char a[INET6_ADDRSTRLEN] = "";
		const struct tw_dns_answer *x = &m->answers[i];
		if (x->family == 4)
			inet_ntop(AF_INET, x->addr, a, sizeof(a));
		else if (x->family == 6)
			inet_ntop(AF_INET6, x->addr, a, sizeof(a));
		else
			continue;
		const struct tw_fp_match *fm = tw_fp_match_dns(v->fp, a);
		if (fm && !fm->is_false_positive_scope) {
			forged = 1;
			if (!q->fp)
				q->fp = fm;
		}
	}
	/* an HTTPS record's HTTP/3 offer, for the QUIC flows that follow; a
	 * broken one counts as a malformed DNS payload */
	v->st.parse_errors[P_DNS][1] += (unsigned)m->https_bad;
	if (m->h3 && m->qtype == TW_DNS_HTTPS && !forged && !ttl_odd && !differs)
		tw_quic_note_h3(v->quic, e->ts_ns, m->qname, m->h3_ttl);
	/* remember which name each address answered, for the web flows that
	 * follow; what looks forged is marked so it is never called benign */
	uint64_t nh = name_hash(m->qname);
	for (int i = 0; i < m->n_answers; i++) {
		const struct tw_dns_answer *x = &m->answers[i];
		if (x->family != 4 && x->family != 6)
			continue;
		answ_put(v, x, nh, e, forged || ttl_odd || differs);
	}
	/* the first response's first four addresses, now suspect too */
	for (int i = 0; differs && i < q->nans && i < 4; i++) {
		int fam;
		uint8_t addr[16];
		ans0 = packed_next(ans0, &fam, addr);
		struct answ *s = answ_find(v, fam, addr, nh, e->ts_ns);
		if (s)
			s->suspect = 1;
	}
	if (q == f->q[0]) {
		f->q0_nresp = q->nresp;
		f->q0_differs = q->differs;
		f->q0_ttl[0] = q->ttl[0];
		f->q0_ttl[1] = q->ttl[1];
		f->q0_fp = q->fp != NULL;
	}
}

/* d: the client's first payload, its request view parsed (pipeline.h) */
static void on_client_data(struct tw_verdict *v, struct vflow *f, const struct tw_decoded_event *d)
{
	const struct tw_event *e = d->ev;
	int parsed = d->view == TW_VIEW_REQUEST;
	f->req_ns = e->ts_ns;
	f->req_s2c = e->flow.dir[TW_DIR_S2C].packets;
	f->req_ttl = e->ttl;
	if (parsed && counted(v, P_TLS_HELLO, d->req.tls_rc) <= TW_PAYLOAD_TRUNCATED) {
		f->req = REQ_TLS;
		if (d->req.tls.has_sni)
			name_set(v, f, N_SNI, d->req.tls.sni);
	} else if (parsed && counted(v, P_HTTP_REQ, d->req.http_rc) <= TW_PAYLOAD_TRUNCATED) {
		f->req = REQ_HTTP;
		name_set(v, f, N_HOST, d->req.http.host);
	} else {
		f->req = REQ_OTHER;
	}
}

/* The last two labels of a name, three under a two-letter country code
 * whose second level is short ("example.co.uk"): the registrable domain,
 * approximately (no public suffix list). */
static const char *reg_domain(const char *n)
{
	size_t len = strlen(n);
	if (len && n[len - 1] == '.')
		len--;
	const char *dots[3] = { NULL, NULL, NULL };
	int nd = 0;
	for (size_t i = len; i-- > 0 && nd < 3;)
		if (n[i] == '.')
			dots[nd++] = n + i;
	if (nd < 1)
		return n;
	size_t tld = (size_t)(n + len - dots[0] - 1);
	size_t sld = nd >= 2 ? (size_t)(dots[0] - dots[1] - 1) : (size_t)(dots[0] - n);
	int three = tld == 2 && sld <= 3;
	int need = three ? 3 : 2;
	return nd >= need ? dots[need - 1] + 1 : n;
}

static int same_reg_domain(const char *a, const char *b)
{
	const char *ra = reg_domain(a), *rb = reg_domain(b);
	size_t la = strlen(ra), lb = strlen(rb);
	if (la && ra[la - 1] == '.')
		la--;
	if (lb && rb[lb - 1] == '.')
		lb--;
	return la == lb && !strncasecmp(ra, rb, la);
}

static int is_ip_literal(const char *h)
{
	if (strstr(h, "%3a"))
		return 1; /* an IPv6 literal, escaped */
	for (; *h; h++)
		if (!((*h >= '0' && *h <= '9') || *h == '.'))
			return 0;
	return 1;
}

/* ISP NXDOMAIN redirection (Weaver, Kreibich, Paxson, "Redirecting DNS for
 * Ads and Profit", FOCI 2011): the resolver answers a name that does not
 * exist with the address of the ISP's search server, which sends the
 * client on to a search for that very name.  Seen here: the address came
 * from a DNS answer for the Host (nothing about that answer looked forged),
 * and the response sends the client to another registrable domain with the
 * Host in the query string.  Only DNS-linked responses are decoded. */
static void isp_redirect_check(struct tw_verdict *v, struct vflow *f, const struct tw_event *e,
                               const struct tw_http_resp *r)
{
	struct tw_http_redirect rd;
	const char *host = HOST(f);
	if (!host[0] || is_ip_literal(host))
		return;
	const struct answ *a = answ_find(v, e->family, e->saddr, name_hash(host), e->ts_ns);
	if (!a || a->suspect)
		return;
	/* a response this check should read but does not: counted, so a
	 * redirector with large pages shows up in the stats, not as nothing */
	if (r->content_length > V_REDIR_BODY_MAX) {
		v->st.redirect_bodies_skipped++;
		return;
	}
	if (!tw_http_redirect(e->snippet, e->snippet_len, &rd))
		return;
	if (!rd.host[0] || same_reg_domain(rd.host, host))
		return;
	char want[TW_NAME_MAX];
	size_t hl = strlen(host);
	snprintf(want, sizeof(want), "%.*s", (int)(hl && host[hl - 1] == '.' ? hl - 1 : hl), host);
	if (!strcasestr(rd.url + rd.query_off, want))
		return;
	char resolver[INET6_ADDRSTRLEN];
	f->isp_redir = 1;
	f->redir_via = (uint8_t)rd.via;
	name_set(v, f, N_REDIR_HOST, rd.host);
	tw_addr_str(a->rfamily, a->resolver, resolver, sizeof(resolver));
	name_set(v, f, N_RESOLVER, resolver);
	f->dns_ttl = a->ttl;
}

/* A redirect (Location or meta refresh) to another site than the one the
 * client asked for: the target is kept, to be named if the response turns
 * out to be injected (http_injection).  Without a name asked (no Host, or
 * an address), any target other than the server itself is another site.
 * A redirect that names the site asked in its URL, or that goes to an
 * address, is a filter's notice ("redirect.cgi?u=www.bglad.com&c=porn",
 * CenTrace testdata), not an injector's ads or spyware: a block page. */
static void redirect_target(struct tw_verdict *v, struct vflow *f, const struct tw_event *e)
{
	struct tw_http_redirect rd;
	char sip[INET6_ADDRSTRLEN];
	if (!tw_http_redirect(e->snippet, e->snippet_len, &rd) || !rd.host[0])
		return;
	tw_addr_str(e->family, e->saddr, sip, sizeof(sip));
	const char *host = HOST(f);
	if (host[0] && !is_ip_literal(host)) {
		char want[TW_NAME_MAX];
		size_t hl = strlen(host);
		snprintf(want, sizeof(want), "%.*s", (int)(hl && host[hl - 1] == '.' ? hl - 1 : hl), host);
		f->redir_offsite = !same_reg_domain(rd.host, host) && !strcasestr(rd.url, want);
	} else {
		f->redir_offsite = strcasecmp(rd.host, sip) != 0;
	}
	if (is_ip_literal(rd.host))
		f->redir_offsite = 0;
	name_set(v, f, N_REDIR_TARGET, rd.host);
}

/* A refusal, redirect or TLS alert whose IP-ID is unlike the server's own
 * packets before it: counted by that IP-ID across flows (ipid_seen). */
static void note_suspect_ipid(struct tw_verdict *v, struct vflow *f, const struct tw_event *e)
{
	int refusal = (f->resp == RESP_HTTP && (f->status < 200 || f->status >= 300)) || f->resp == RESP_TLS_ALERT;
	if (!refusal || e->family != TW_FAMILY_IPV4 || !e->ip_id || !f->resp_base_known ||
	    !ipid_jumps(e->ip_id, f->resp_ipid_prev))
		return;
	struct ipid_seen *s = &v->ipids[e->ip_id];
	if (e->ts_ns > s->ts_ns + V_CONTEXT_NS)
		s->flows = 0; /* an old coincidence says nothing now */
	if (s->flows < UINT32_MAX)
		s->flows++;
	s->ts_ns = e->ts_ns;
	f->resp_suspect_ipid = 1;
}

/* d: the server's first payload, its response view parsed (pipeline.h) */
static void on_server_data(struct tw_verdict *v, struct vflow *f, const struct tw_decoded_event *d)
{
	const struct tw_event *e = d->ev;
	const struct tw_http_resp *r = &d->resp.http;
	int parsed = d->view == TW_VIEW_RESPONSE;
	if (f->resp == RESP_NONE) { /* the first response: what it may not write (struct vflow) */
		f->fp = NULL;
		f->status = 0;
		f->resp_suspect_ipid = 0;
		f->redir_offsite = 0;
	}
	f->resp_ttl = e->ttl;
	f->resp_ipid = e->ip_id;
	f->resp_base_ttl = e->ctx.sender_ttl_base;
	f->resp_last_ttl = e->ctx.sender_ttl_last;
	f->resp_ipid_prev = e->ctx.sender_ipid_last;
	f->resp_base_known = (uint8_t)e->ctx.sender_seen;
	if (parsed && counted(v, P_HTTP_RESP, d->resp.http_rc) <= TW_PAYLOAD_TRUNCATED) {
		f->resp = RESP_HTTP;
		f->status = r->status;
		if (v->fp) {
			const struct tw_fp_match *m = tw_fp_match_http(v->fp, e->snippet, e->snippet_len);
			if (m && !m->is_false_positive_scope)
				f->fp = m;
		}
		if (f->req == REQ_HTTP && !f->fp)
			isp_redirect_check(v, f, e, r);
		if (f->req == REQ_HTTP && r->status >= 300 && r->status < 400)
			redirect_target(v, f, e);
	} else if (parsed && counted(v, P_TLS_SERVER, d->resp.tls_rc) <= TW_PAYLOAD_TRUNCATED) {
		f->resp = d->resp.tls.is_alert ? RESP_TLS_ALERT : RESP_TLS_HELLO;
	} else {
		f->resp = RESP_OTHER;
	}
	note_suspect_ipid(v, f, e);
}

struct anomalies {
	const char *name[V_MAX_ANOM];
	double w[V_MAX_ANOM];
	int n;
};

static void anom(struct anomalies *a, const char *name, double w)
{
	for (int i = 0; i < a->n; i++)
		if (!strcmp(a->name[i], name))
			return;
	if (a->n < V_MAX_ANOM) {
		a->name[a->n] = name;
		a->w[a->n] = w;
		a->n++;
	}
}

static double confidence(const struct anomalies *a)
{
	double keep = 1.0;
	for (int i = 0; i < a->n; i++)
		keep *= 1.0 - a->w[i];
	return 1.0 - keep;
}

static int ipid_jumps(uint16_t now, uint16_t prev)
{
	uint16_t d = (uint16_t)(now - prev);
	if (prev == 0 && now == 0)
		return 0;
	/* a server that sends IP-ID 0 (DF) does so on every packet */
	if (prev == 0 || now == 0)
		return 1;
	return d > V_IPID_GAP && d < (uint16_t)(65536 - V_IPID_GAP);
}

/* The members every per-flow record starts with (docs/schema.md): time, type,
 * flow, the client as its prefix only, the server, ports, protocol. */
static void record_head(const struct tw_pipeline *pl, struct tw_jb *b, const struct tw_event *e, const char *type)
{
	char s[INET6_ADDRSTRLEN + 8];

	tw_jb_obj_open(b, NULL);
	tw_jb_time(b, "timestamp", (uint64_t)((int64_t)e->ts_ns + pl->opt.clock_offset_ns));
	tw_jb_str(b, "event_type", type);
	tw_jb_u64(b, "flow_id", e->flow_id);
	tw_prefix_str(e->family, e->caddr, e->family == TW_FAMILY_IPV6 ? pl->opt.v6_prefix : pl->opt.v4_prefix, s,
	              sizeof(s));
	tw_jb_str(b, "src_prefix", s);
	tw_addr_str(e->family, e->saddr, s, sizeof(s));
	tw_jb_str(b, "dest_ip", s);
	tw_jb_u64(b, "dest_port", e->sport);
	tw_jb_u64(b, "src_port", e->cport);
	tw_jb_str(b, "proto", e->proto == TW_PROTO_TCP ? "TCP" : "UDP");
}

static int write_tamper(struct tw_verdict *v, const struct tw_event *e, const struct vflow *f, int method,
                        const char *signature, const char *stage, struct anomalies *a, const char *dns_qname,
                        const char *detail_key, const char *detail, struct tw_tamper *out)
{
	static char buf[8192];
	struct tw_pipeline *pl = v->pl;
	struct tw_jb b;
	const struct tw_flow *fl = &e->flow;
	const char *lim[3];
	int nlim = 0;
	double c = confidence(a);

	/* weak evidence alone (an IP-ID jump, a 451) is not a verdict; a
	 * timeout is reported weak, since only many of them make a case */
	size_t sl = strlen(signature);
	if (attachment_one_way(v, e))
		return 0;
	if (c < 0.5 && method != TW_METHOD_BLACKHOLE && (sl < 9 || strcmp(signature + sl - 9, "->timeout")))
		return 0;
	if (fl->flags & TW_FLOW_MIDSTREAM)
		lim[nlim++] = "midstream";
	if (e->proto == TW_PROTO_TCP && (!fl->dir[0].packets || !fl->dir[1].packets) && method != TW_METHOD_BLACKHOLE)
		lim[nlim++] = "one_way";
	if (nlim && c > 0.3)
		c = 0.3;
	v->st.verdicts[method]++;

	tw_jb_init(&b, buf, sizeof(buf));
	record_head(pl, &b, e, "tamper");
	tw_jb_obj_open(&b, "tamper");
	tw_jb_str(&b, "method", tw_method_name(method));
	tw_jb_str(&b, "signature", signature);
	tw_jb_str(&b, "stage", stage);
	tw_jb_arr_open(&b, "anomalies");
	for (int i = 0; i < a->n; i++)
		tw_jb_str(&b, NULL, a->name[i]);
	tw_jb_arr_close(&b);
	tw_jb_dbl(&b, "confidence", c, 2);
	tw_jb_u64(&b, "sampling", tw_sampling_admitted(pl->sampling, e));
	tw_jb_str(&b, "sni", SNI(f)[0] ? SNI(f) : NULL);
	tw_jb_str(&b, "http_host", HOST(f)[0] ? HOST(f) : NULL);
	tw_jb_str(&b, "dns_qname", dns_qname);
	if (detail_key)
		tw_jb_str(&b, detail_key, detail);
	if (nlim) {
		tw_jb_arr_open(&b, "limitations");
		for (int i = 0; i < nlim; i++)
			tw_jb_str(&b, NULL, lim[i]);
		tw_jb_arr_close(&b);
	}
	tw_jb_obj_close(&b);
	tw_jb_obj_close(&b);
	long n = tw_jb_end(&b);
	if (n > 0)
		tw_line_put(&v->records, buf, (size_t)n);
	memset(out, 0, sizeof(*out));
	out->method = tw_method_name(method);
	out->signature = signature;
	out->stage = stage;
	out->confidence = c;
	out->limited = nlim > 0;
	for (int i = 0; i < a->n && i < TW_TAMPER_MAX_ANOM; i++)
		out->anomalies[out->n_anomalies++] = a->name[i];
	out->fingerprint = detail_key && !strcmp(detail_key, "fingerprint") ? detail : NULL;
	out->redirect_target = detail_key && !strcmp(detail_key, "redirect_target") ? detail : NULL;
	return 1;
}

static void judge_dns(struct tw_verdict *v, const struct tw_event *e, struct vflow *f)
{
	uint8_t base;
	int have_base = base_ttl(v, e->family, e->saddr, &base);
	for (int i = 0; i < f->nq; i++) {
		struct vdnsq *q = f->q[i];
		/* the first query as the flow keeps it (on_dns_response): q is
		 * read only when something is written about it */
		int nresp = i ? q->nresp : f->q0_nresp, differs = i ? q->differs : f->q0_differs;
		uint8_t ttl0 = i ? q->ttl[0] : f->q0_ttl[0], ttl1 = i ? q->ttl[1] : f->q0_ttl[1];
		int has_fp = i ? q->fp != NULL : f->q0_fp;
		struct anomalies a;
		a.n = 0;
		const char *sig = "DNS->forged";
		if (nresp >= 2 && differs) {
			anom(&a, "dns_duplicate_differs", 0.80);
			sig = "DNS->duplicate";
			if (ttl_differs(ttl0, ttl1))
				anom(&a, "dns_ttl_mismatch", 0.50);
		} else if (have_base && nresp >= 1 && ttl_differs(ttl0, base)) {
			anom(&a, "dns_ttl_mismatch", 0.50);
		}
		if (has_fp)
			anom(&a, "dns_known_forged_address", 0.90);
		struct tw_tamper t;
		int w = a.n && write_tamper(v, e, f, TW_METHOD_DNS_INJECTION, sig, "dns", &a, q->data,
		                            has_fp ? "fingerprint" : NULL, has_fp ? q->fp->name : NULL, &t);
		outcome(v, e, q->data, nresp > 0, w ? &t : NULL, NULL);
	}
}

/* Not tampering, labelled: the ISP's NXDOMAIN redirection (README
 * "Redirect records"). */
static void write_redirect(struct tw_verdict *v, const struct tw_event *e, const struct vflow *f)
{
	static char buf[4096];
	struct tw_pipeline *pl = v->pl;
	struct tw_jb b;

	if (attachment_one_way(v, e))
		return;
	tw_jb_init(&b, buf, sizeof(buf));
	record_head(pl, &b, e, "redirect");
	tw_jb_obj_open(&b, "redirect");
	tw_jb_str(&b, "label", "isp_redirect");
	tw_jb_str(&b, "http_host", HOST(f));
	tw_jb_u64(&b, "status", (uint64_t)f->status);
	tw_jb_str(&b, "via", f->redir_via == TW_REDIR_LOCATION ? "location" : "meta_refresh");
	tw_jb_str(&b, "target_host", name_get(f, N_REDIR_HOST));
	tw_jb_str(&b, "resolver", name_get(f, N_RESOLVER));
	tw_jb_u64(&b, "dns_ttl", f->dns_ttl);
	tw_jb_arr_open(&b, "evidence");
	tw_jb_str(&b, NULL, "dns_answer_for_host");
	tw_jb_str(&b, NULL, "redirect_carries_host");
	tw_jb_str(&b, NULL, "other_domain");
	tw_jb_arr_close(&b);
	tw_jb_obj_close(&b);
	tw_jb_obj_close(&b);
	long n = tw_jb_end(&b);
	if (n > 0)
		tw_line_put(&v->records, buf, (size_t)n);
}

/* The SYN resent and never answered until the flow timed out. */
static int syn_unanswered(const struct tw_event *e)
{
	const struct tw_flow *fl = &e->flow;
	return fl->state == TW_TCP_SYN_SENT && !fl->dir[TW_DIR_S2C].packets && fl->dir[TW_DIR_C2S].syn_count >= 2 &&
	       !(fl->flags & TW_FLOW_MIDSTREAM) && (e->end_reason == TW_END_IDLE || e->end_reason == TW_END_FLUSH);
}

/* The request was resent and nothing at all came back after the SYN-ACK
 * (not even an ACK), until the client gave up or the flow timed out; a
 * server that resets is not silent. */
static int request_unanswered(const struct tw_event *e)
{
	const struct tw_flow *fl = &e->flow;
	const struct tw_dir_state *c2s = &fl->dir[TW_DIR_C2S], *s2c = &fl->dir[TW_DIR_S2C];
	return (fl->flags & TW_FLOW_CLIENT_DATA) && !(fl->flags & TW_FLOW_SERVER_DATA) && s2c->syn_count &&
	       !(fl->flags & TW_FLOW_MIDSTREAM) &&
	       ((c2s->retrans >= 1 && s2c->packets <= s2c->syn_count) ||
	        /* a server that never got the request may still time out and
		 * close or reset, with nothing else in between */
	        (c2s->retrans >= 2 && s2c->packets <= (uint32_t)s2c->syn_count + s2c->fin_count + s2c->rst_count));
}

/* The client's prefix (as records name it), as a number. */
static uint64_t prefix_key(const struct tw_verdict *v, const struct tw_event *e)
{
	int bits = e->family == TW_FAMILY_IPV6 ? v->pl->opt.v6_prefix : v->pl->opt.v4_prefix;
	uint8_t a[16] = { 0 };
	for (int i = 0; i < 16 && bits > 0; i++, bits -= 8)
		a[i] = bits >= 8 ? e->caddr[i] : (uint8_t)(e->caddr[i] & (0xff00 >> bits));
	uint64_t x, y;
	memcpy(&x, a, 8);
	memcpy(&y, a + 8, 8);
	return mix(mix(x ^ e->family) ^ y);
}

/* the SNI's hash, else the Host's, 0 if neither (name_set hashed it) */
static uint64_t flow_name_hash(const struct vflow *f)
{
	return f && (f->names_set & (N_SNI | N_HOST)) ? f->name_hash : 0;
}

static int request_unacked(struct tw_verdict *v, const struct tw_event *e, const struct vflow *f);

/* Keep what became of a flow that asked something (or whose SYN went
 * unanswered): answered, or silent. */
static void remember(struct tw_verdict *v, const struct tw_event *e, const struct vflow *f)
{
	int result = (e->flow.flags & TW_FLOW_SERVER_DATA)                                      ? R_ANSWERED
	             : (syn_unanswered(e) || request_unanswered(e) || request_unacked(v, e, f)) ? R_SILENT
	                                                                                        : 0;
	if (!result || (e->flow.flags & TW_FLOW_MIDSTREAM) || attachment_one_way(v, e))
		return;
	struct recent *r = &v->recent[v->nrecent++ % V_RECENT];
	r->ts_ns = e->ts_ns;
	r->flow_id = e->flow_id;
	r->name_hash = flow_name_hash(f);
	r->prefix_key = prefix_key(v, e);
	memcpy(r->addr, e->saddr, 16);
	r->family = e->family;
	r->req = (uint8_t)(f ? f->req : REQ_NONE);
	r->result = (uint8_t)result;
	tw_quic_note_tcp(v->quic, e->ts_ns, r->prefix_key, r->name_hash, result == R_ANSWERED);
}

/* A ClientHello went unanswered.  Was it the name (TLS interference) or
 * the server, whatever was asked (blackhole)?  Per flow the two look the
 * same; other flows near in time tell: requests that carry no ClientHello
 * for this name (plain HTTP, another SNI, a SYN) to the same server, or
 * plain HTTP for the same name, that went unanswered too, make it a
 * blackhole; such requests answered from the same client prefix make it
 * the name.  Evidence from the flow's own client prefix comes first; an
 * answer from another prefix says nothing (the censor may spare it). */
static int resolve_silence(const struct tw_verdict *v, const struct pending *p, const char **why)
{
	uint64_t nh = flow_name_hash(&p->f), pk = prefix_key(v, p->e);
	int silent_here = 0, silent_elsewhere = 0, answered_here = 0;
	size_t n = v->nrecent < V_RECENT ? v->nrecent : V_RECENT;
	for (size_t i = 0; i < n; i++) {
		const struct recent *r = &v->recent[i];
		if (r->flow_id == p->e->flow_id)
			continue;
		uint64_t d = r->ts_ns > p->e->ts_ns ? r->ts_ns - p->e->ts_ns : p->e->ts_ns - r->ts_ns;
		if (d > V_CONTEXT_NS)
			continue;
		int same_server = r->family == p->e->family && !memcmp(r->addr, p->e->saddr, 16);
		int same_hello = r->req == REQ_TLS && r->name_hash == nh;
		int other_request = (same_server && !same_hello) || (r->req == REQ_HTTP && nh && r->name_hash == nh);
		if (!other_request)
			continue;
		if (r->result == R_SILENT)
			*(r->prefix_key == pk ? &silent_here : &silent_elsewhere) = 1;
		else if (r->prefix_key == pk)
			answered_here = 1;
	}
	if (silent_here || (silent_elsewhere && !answered_here)) {
		*why = "other_requests_unanswered";
		return TW_METHOD_BLACKHOLE;
	}
	*why = answered_here ? "other_requests_answered" : NULL;
	return TW_METHOD_TLS_INTERFERENCE;
}

static int judge_response(struct tw_verdict *v, const struct tw_event *e, struct vflow *f, int may_defer,
                          struct tw_tamper *t);

static void resolve_pending(struct tw_verdict *v, struct pending *p)
{
	struct anomalies a = { .n = 0 };
	struct tw_tamper t;
	const char *why;
	if (p->f.pend == PEND_RESPONSE) {
		int w = judge_response(v, p->e, &p->f, 0, &t);
		if (!w && p->f.isp_redir)
			write_redirect(v, p->e, &p->f);
		outcome(v, p->e, SNI(&p->f)[0] ? SNI(&p->f) : HOST(&p->f), 1, w ? &t : NULL, NULL);
		flow_release(v, &p->f);
		return;
	}
	int m = resolve_silence(v, p, &why);
	anom(&a, "request_timeout", V_TIMEOUT_CONF);
	if (p->f.unacked)
		anom(&a, "request_unacked", V_UNACKED_W);
	int w = write_tamper(v, p->e, &p->f, m, "PSH->timeout", tw_stage_name(TW_STAGE_CLIENT_DATA), &a, NULL,
	                     why ? "cross_flow" : NULL, why, &t);
	outcome(v, p->e, SNI(&p->f)[0] ? SNI(&p->f) : HOST(&p->f), 0, w ? &t : NULL, NULL);
	flow_release(v, &p->f);
}

/* f's names go with the pending copy (given back when it is decided); its
 * DNS queries stay with f */
static void defer(struct tw_verdict *v, const struct tw_event *e, struct vflow *f)
{
	if (!v->pend) {
		v->pend = calloc(V_MAX_PENDING, sizeof(*v->pend));
		v->pend_ev = calloc(V_MAX_PENDING, sizeof(*v->pend_ev));
		if (!v->pend || !v->pend_ev) {
			free(v->pend);
			free(v->pend_ev);
			v->pend = NULL;
			v->pend_ev = NULL;
			v->st.flows_dropped++;
			return;
		}
	}
	if (v->npend == V_MAX_PENDING) { /* full: the oldest is decided now */
		resolve_pending(v, &v->pend[v->pend_head]);
		v->pend_head = (v->pend_head + 1) % V_MAX_PENDING;
		v->npend--;
	}
	size_t slot = (v->pend_head + v->npend++) % V_MAX_PENDING;
	struct tw_event *copy = &v->pend_ev[slot];
	memcpy(copy, e, sizeof(*copy));
	copy->snippet_len = 0;
	copy->len = sizeof(*copy);
	struct pending *p = &v->pend[slot];
	p->e = copy;
	p->f = *f;
	memset(p->f.q, 0, sizeof(p->f.q));
	p->f.nq = 0;
	f->n = NULL;
	f->names_set = 0;
	p->due_ns = e->ts_ns + v->hold_ns;
}

/* Every tick (and at the end): decide the silent ClientHellos whose hold
 * is over, in the order their flows ended. */
static void verdict_tick(void *arg, uint64_t now_wall_ns, int final)
{
	struct tw_verdict *v = arg;
	uint64_t now = (uint64_t)((int64_t)now_wall_ns - v->pl->opt.clock_offset_ns);
	while (v->npend && (final || v->pend[v->pend_head].due_ns <= now)) {
		resolve_pending(v, &v->pend[v->pend_head]);
		v->pend_head = (v->pend_head + 1) % V_MAX_PENDING;
		v->npend--;
	}
	tw_quic_tick(v->quic, now, final);
	v->st.quic = *tw_quic_vstats(v->quic);
	v->st.quic_flows_dropped = v->st.quic.flows_evicted;
}

/* A QUIC flow judged (verdicts/quic.c): its record and its outcome. */
static void quic_judged(void *arg, const struct tw_quic_judged *j)
{
	struct tw_verdict *v = arg;
	struct anomalies a = { .n = 0 };
	static struct vnames nm; /* only sni is ever written */
	struct vflow f = { .req = REQ_TLS, .n = &nm, .names_set = N_SNI };
	struct tw_tamper t;
	int w = 0;
	snprintf(nm.sni, sizeof(nm.sni), "%s", j->sni);
	for (int i = 0; i < j->n; i++)
		anom(&a, j->anom[i], j->w[i]);
	if (j->signature)
		w = write_tamper(v, j->e, &f, TW_METHOD_QUIC_INTERFERENCE, j->signature,
		                 tw_stage_name(TW_STAGE_CLIENT_DATA), &a, NULL, NULL, NULL, &t);
	outcome(v, j->e, j->sni, j->answered, w ? &t : NULL, NULL);
}

static int judge_tcp_inner(struct tw_verdict *v, const struct tw_event *e, struct vflow *f, struct tw_tamper *t);

/* A flow without another verdict whose rate series shows policing
 * (verdicts/throttle.c).  Shaping is no verdict per flow: a flow holding
 * a steady share of a queue is as much a congested bottleneck's (lab
 * benign-congestion: a flow at 3.3 Mbit/s, spread 0.24, +443 ms); it is a
 * candidate that aggregation judges per site, against the control
 * (alerts/aggregate.c). */
static int judge_throttle(struct tw_verdict *v, const struct tw_event *e, const struct vflow *f,
                          const struct tw_thr_verdict *tv, struct tw_tamper *t)
{
	if (tv->kind != TW_THR_POLICING || attachment_one_way(v, e))
		return 0;
	v->st.verdicts[TW_METHOD_THROTTLING]++;
	tw_thr_write_tamper(v->pl, &v->records, record_head, e, f ? SNI(f) : NULL, f ? HOST(f) : NULL, tv, t);
	return 1;
}

static void judge_tcp(struct tw_verdict *v, const struct tw_event *e, struct vflow *f)
{
	struct tw_tamper t;
	struct tw_thr_verdict tv;
	/* the flow's rate series, classified and forgotten whatever the
	 * verdict: aggregation compares its rate with the same clients' other
	 * targets */
	int rated = tw_thr_flows_end(v->thr, e, &v->thr_cfg, &tv);
	int w = judge_tcp_inner(v, e, f, &t);
	if (!w && rated)
		w = judge_throttle(v, e, f, &tv, &t);
	remember(v, e, f);
	if (w == V_DEFER) {
		defer(v, e, f);
		return;
	}
	if (!w && f && f->isp_redir)
		write_redirect(v, e, f);
	const char *domain = f ? (SNI(f)[0] ? SNI(f) : HOST(f)) : NULL;
	/* flows that never carried a request say nothing about a target's reachability
	 * unless they were cut before it (SYN timeouts, resets after the handshake);
	 * nor, without a verdict, do flows first seen mid-stream: mostly the
	 * retransmissions of a flow already judged, outliving its table entry
	 * (a blocked ClientHello resent once the censor lets it through) */
	if (w || ((e->flow.flags & TW_FLOW_CLIENT_DATA) && !(e->flow.flags & TW_FLOW_MIDSTREAM)))
		outcome(v, e, domain, (e->flow.flags & TW_FLOW_SERVER_DATA) != 0, w ? &t : NULL, rated ? &tv : NULL);
}

/* The server's stable TTL (its packets in this flow so far and its
 * earlier flows' SYN-ACKs agree), and a response one hop off it: an
 * injector that copies the server's TTL but sits one hop nearer or
 * further (Citizen Lab "Bad Traffic": PacketLogic in Turk Telekom).  One
 * hop is also an ECMP or route change: weak alone. */
static int ttl_one_hop(struct tw_verdict *v, const struct tw_event *e, const struct vflow *f)
{
	uint8_t b;
	if (!f->resp_base_known || f->resp_base_ttl != f->resp_last_ttl)
		return 0;
	if (!base_ttl(v, e->family, e->saddr, &b) || b != f->resp_base_ttl)
		return 0;
	int d = (int)f->resp_ttl - (int)f->resp_base_ttl;
	return d == 1 || d == -1;
}

/* Other flows' suspect responses carried this IP-ID too, recently. */
static int ipid_repeats(const struct tw_verdict *v, uint16_t id, uint64_t now)
{
	const struct ipid_seen *s = &v->ipids[id];
	uint64_t d = s->ts_ns > now ? s->ts_ns - now : now - s->ts_ns;
	return s->flows >= V_IPID_REPEAT && d <= V_CONTEXT_NS;
}

/* The server's first answer: an injected block page, redirect or TLS
 * alert?  (judged first: an injector's page is often followed by the real
 * server's own RST, which carries the server's TTL).  1: a verdict;
 * V_DEFER: an IP-ID unlike the server's that other flows may yet repeat
 * (may_defer; decided by verdict_tick); 0: none. */
static int judge_response(struct tw_verdict *v, const struct tw_event *e, struct vflow *f, int may_defer,
                          struct tw_tamper *t)
{
	static char sig[64]; /* out->signature points here until the next verdict */
	const struct tw_dir_state *s2c = &e->flow.dir[TW_DIR_S2C];
	struct anomalies a = { .n = 0 };
	if (!f || (f->resp != RESP_HTTP && f->resp != RESP_TLS_ALERT))
		return 0;
	/* a TTL that differs from the SYN-ACK's but then carries a long
	 * transfer is a route, SYN-proxy or load-balancer change */
	int persists = s2c->ttl_last == f->resp_ttl && s2c->packets >= V_PERSIST_PKTS;
	if (f->resp_base_known && ttl_differs(f->resp_ttl, f->resp_base_ttl) &&
	    ttl_differs(f->resp_ttl, f->resp_last_ttl) && !persists)
		anom(&a, "ttl_mismatch", 0.60);
	else if (!persists && ttl_one_hop(v, e, f))
		anom(&a, "ttl_one_hop", 0.30);
	if (e->family == TW_FAMILY_IPV4 && f->resp_base_known && ipid_jumps(f->resp_ipid, f->resp_ipid_prev))
		anom(&a, "ipid_mismatch", 0.40);
	int repeated = f->resp_suspect_ipid && ipid_repeats(v, f->resp_ipid, e->ts_ns);
	if (repeated)
		anom(&a, "ipid_constant_across_flows", 0.60);
	/* SYN proxies and load balancers answer the handshake with their
	 * own TTL: a 2xx page with only a TTL/IP-ID difference is not a
	 * block page; a refusal or redirect with it is */
	if (f->resp == RESP_HTTP && !f->fp && f->status >= 200 && f->status < 300)
		a.n = 0;
	if (f->resp == RESP_HTTP) {
		if (f->fp)
			anom(&a, "blockpage_fingerprint", f->fp->confidence_no_fp ? 0.95 : 0.70);
		if (f->status == 451)
			anom(&a, "status_451", 0.30);
	}
	if (a.n && confidence(&a) >= 0.5) {
		const char *stage = tw_stage_name(TW_STAGE_CLIENT_DATA);
		if (f->resp == RESP_TLS_ALERT)
			return write_tamper(v, e, f, TW_METHOD_TLS_INTERFERENCE, "PSH->ALERT", stage, &a, NULL, NULL,
			                    NULL, t);
		snprintf(sig, sizeof(sig), "PSH->HTTP%d", f->status);
		/* a block page is recognised by its fingerprint; an injected
		 * redirect elsewhere that is none is an injection (ads, spyware) */
		if (!f->fp && f->redir_offsite)
			return write_tamper(v, e, f, TW_METHOD_HTTP_INJECTION, sig, stage, &a, NULL, "redirect_target",
			                    name_get(f, N_REDIR_TARGET), t);
		return write_tamper(v, e, f, TW_METHOD_HTTP_BLOCKPAGE, sig, stage, &a, NULL,
		                    f->fp ? "fingerprint" : NULL, f->fp ? f->fp->name : NULL, t);
	}
	if (may_defer && f->resp_suspect_ipid && !repeated) {
		f->pend = PEND_RESPONSE;
		return V_DEFER;
	}
	return 0;
}

/* The server's TCP acknowledged nothing after a completed handshake: not
 * the request, not a FIN, nothing, for longer than any live stack delays
 * an ACK (V_ACK_WAIT_NS past a round trip).  A hung or slow application
 * still has its kernel ACK the request; a path that drops it does not.
 * Not evidence when this vantage may miss the server's packets (the
 * client acknowledges bytes we never saw: asymmetric routing), when the
 * SYN-ACK came twice (a live server whose accept queue is full), when the
 * request's TTL was cut short to expire on the way (a traceroute-style
 * probe), or when the flow was not watched long enough after the request
 * (the client gave up, the capture ended). */
static int request_unacked(struct tw_verdict *v, const struct tw_event *e, const struct vflow *f)
{
	const struct tw_flow *fl = &e->flow;
	const struct tw_dir_state *c2s = &fl->dir[TW_DIR_C2S], *s2c = &fl->dir[TW_DIR_S2C];
	if (!f || f->req == REQ_NONE || !f->req_ns || !(fl->flags & TW_FLOW_CLIENT_DATA) ||
	    (fl->flags & (TW_FLOW_SERVER_DATA | TW_FLOW_MIDSTREAM | TW_FLOW_SYNACK_FIRST)))
		return 0;
	if (s2c->syn_count != 1 || !c2s->syn_count || s2c->packets != s2c->syn_count)
		return 0;
	const struct tw_rate_dir *ca = &fl->rate[TW_DIR_C2S];
	if ((ca->flags & TW_RATE_ACKED) && (int32_t)(ca->ack_last - s2c->next_seq) > 0)
		return 0;
	/* hops to the server from its TTL (initial 64, 128 or 255) */
	int init = s2c->ttl_base <= 64 ? 64 : s2c->ttl_base <= 128 ? 128 : 255, hops = init - s2c->ttl_base;
	if (f->req_ttl + 1 < c2s->ttl_base && f->req_ttl <= hops + 1)
		return 0;
	uint64_t rtt = handshake_rtt(fl), known = base_rtt(v, e->family, e->saddr);
	if (!rtt)
		rtt = known;
	if (!rtt || e->ts_ns < f->req_ns)
		return 0;
	/* watched until the idle timeout, or until a later packet at least that long after the request */
	return e->end_reason == TW_END_IDLE || e->ts_ns - f->req_ns >= rtt + V_ACK_WAIT_NS;
}

static int judge_tcp_inner(struct tw_verdict *v, const struct tw_event *e, struct vflow *f, struct tw_tamper *t)
{
	struct anomalies a = { .n = 0 };
	static char sig[64]; /* out->signature points here until the next verdict */

	int resp = judge_response(v, e, f, 1, t);
	if (resp == 1)
		return 1;

	if (f && f->nrst) {
		/* RSTs that claim to come from the server */
		const struct vrst *r0 = &f->rst[0];
		uint8_t base = r0->base_ttl;
		int have_base = r0->sender_seen || base_ttl(v, e->family, e->saddr, &base);
		int burst = 0, strong = 0;
		/* the server reset the flow itself first (its TTL, its IP-ID):
		 * resets that answer the client's later packets come from a
		 * device that keeps no state for a dead flow (an endpoint
		 * firewall: the CenTrace ft.com pair), not from a censor */
		uint8_t fw = 0;
		int fw_known = base_fw(v, e->family, e->saddr, &fw);
		int server_reset =
		        have_base && !ttl_differs(r0->ttl, base) && !r0->too_early &&
		        !(e->family == TW_FAMILY_IPV4 && r0->sender_seen && ipid_jumps(r0->ipid, r0->ipid_prev));
		for (int i = 0; i < f->nrst; i++) {
			const struct vrst *r = &f->rst[i];
			if (!f->race && i && server_reset && r->c2s_pkts > r0->c2s_pkts) {
				v->st.rst_after_dead_flow++;
				base_learn_fw(v, e->family, e->saddr, r->ttl);
				continue;
			}
			/* the same device resetting this server's other flows, on a
			 * TTL no reset of the server's own carried */
			if (!f->race && !r->too_early && fw_known && !ttl_differs(r->ttl, fw) && have_base &&
			    ttl_differs(r->ttl, base)) {
				v->st.rst_after_dead_flow++;
				continue;
			}
			/* a TTL that persists on the server's later packets is a route change */
			if (have_base && ttl_differs(r->ttl, base) &&
			    (!r->sender_seen || ttl_differs(r->ttl, r->last_ttl))) {
				anom(&a, "ttl_mismatch", 0.60);
				strong = 1;
			}
			if (e->family == TW_FAMILY_IPV4 && r->sender_seen && ipid_jumps(r->ipid, r->ipid_prev))
				anom(&a, "ipid_mismatch", 0.40);
			/* spread sequence numbers (not the +1 after a FIN) */
			if (i && (uint32_t)(r->seq - f->rst[0].seq + 2) > 4)
				burst = 1;
		}
		for (int i = 0; i < f->nrst; i++)
			if (f->rst[i].too_early) {
				anom(&a, "rst_faster_than_rtt", 0.60);
				strong = 1;
			}
		if (f->race) {
			anom(&a, "race_data_after_rst", 0.80);
			strong = 1;
		}
		/* kernels send their own RSTs with fresh IP-IDs, and some servers
		 * answer every late segment with one: an IP-ID jump or a burst
		 * only adds to a TTL mismatch or a lost race */
		if (strong) {
			if (burst)
				anom(&a, "multiple_rst_seq", 0.50);
			snprintf(sig, sizeof(sig), "%s->RST%s", tw_stage_sig(r0->stage), f->nrst > 1 ? ";RST" : "");
			/* an on-path injector shows itself (a lost race, a burst): that
			 * is RST injection whatever the trigger; a lone forged reset
			 * right after a ClientHello is TLS interference */
			int method = (r0->stage == TW_STAGE_CLIENT_DATA && f->req == REQ_TLS && !f->race && !burst)
			                     ? TW_METHOD_TLS_INTERFERENCE
			                     : TW_METHOD_RST_INJECTION;
			return write_tamper(v, e, f, method, sig, tw_stage_name(r0->stage), &a, NULL, NULL, NULL, t);
		}
		/* the server's own reset: benign, unless it closes a silence below */
		v->st.suppressed_benign++;
		a.n = 0;
	}

	/* silence: the SYN, or the request, never answered */
	if (syn_unanswered(e)) {
		anom(&a, "syn_timeout", V_TIMEOUT_CONF);
		return write_tamper(v, e, f, TW_METHOD_BLACKHOLE, "SYN->timeout", tw_stage_name(TW_STAGE_SYN), &a, NULL,
		                    NULL, NULL, t);
	}
	int unacked = request_unacked(v, e, f);
	if (request_unanswered(e) || unacked) {
		/* a silent ClientHello: the SNI, or the address whatever was
		 * asked?  Other flows to that server tell (verdict_tick) */
		if (f && f->req == REQ_TLS) {
			f->unacked = (uint8_t)unacked;
			f->pend = PEND_SILENCE;
			return V_DEFER;
		}
		anom(&a, "request_timeout", V_TIMEOUT_CONF);
		if (unacked)
			anom(&a, "request_unacked", V_UNACKED_W);
		return write_tamper(v, e, f, TW_METHOD_BLACKHOLE, "PSH->timeout", tw_stage_name(TW_STAGE_CLIENT_DATA),
		                    &a, NULL, NULL, NULL, t);
	}
	return resp;
}

/* Before the pipeline decodes an event (tw_prefetch_fn): the flow table's
 * slot and the server's baseline it will read are asked for, so that they
 * arrive while the payload is parsed rather than after. */
static void verdict_prefetch(void *arg, const struct tw_event *e)
{
	const struct tw_verdict *v = arg;
	switch (e->type) {
	case TW_EV_DNS_RESPONSE:
	case TW_EV_FLOW_END: __builtin_prefetch(base_slot((struct tw_verdict *)v, e->family, e->saddr)); break;
	case TW_EV_CLIENT_DATA:
	case TW_EV_SERVER_DATA:
	case TW_EV_RST:
	case TW_EV_DATA_AFTER_RST: break;
	default: return; /* no flow state */
	}
	__builtin_prefetch(&v->slots[mix(e->flow_id) & v->mask]);
}

void tw_verdict_event(void *verdict, const struct tw_decoded_event *d)
{
	struct tw_verdict *v = verdict;
	const struct tw_event *e = d->ev;
	struct vflow *f;

	switch (e->type) {
	case TW_EV_CLIENT_DATA:
		if (e->proto == TW_PROTO_TCP && (f = flow_get(v, e->flow_id, 1)))
			on_client_data(v, f, d);
		else if (tw_quic_flow(e))
			tw_quic_data(v->quic, d);
		break;
	case TW_EV_SERVER_DATA:
		if (e->proto == TW_PROTO_TCP && (f = flow_get(v, e->flow_id, 1)))
			on_server_data(v, f, d);
		else if (tw_quic_flow(e))
			tw_quic_data(v->quic, d);
		break;
	case TW_EV_RST:
		if (e->dir != TW_DIR_S2C)
			break; /* the client's own abort */
		if ((f = flow_get(v, e->flow_id, 1)) && f->nrst < V_MAX_RST) {
			struct vrst *r = &f->rst[f->nrst++];
			r->ttl = e->ttl;
			r->ipid = e->ip_id;
			r->seq = e->seq;
			r->stage = e->ctx.stage;
			r->in_window = e->ctx.in_window;
			r->sender_seen = e->ctx.sender_seen;
			r->base_ttl = e->ctx.sender_ttl_base;
			r->last_ttl = e->ctx.sender_ttl_last;
			r->ipid_prev = e->ctx.sender_ipid_last;
			r->c2s_pkts = e->flow.dir[TW_DIR_C2S].packets;
			r->too_early = (uint8_t)rst_too_early(v, f, e);
		}
		break;
	case TW_EV_DATA_AFTER_RST:
		if (e->dir == TW_DIR_S2C && (f = flow_get(v, e->flow_id, 1)))
			f->race = 1;
		break;
	case TW_EV_DNS_RESPONSE:
		if ((f = flow_get(v, e->flow_id, 1)))
			on_dns_response(v, f, d);
		break;
	case TW_EV_FLOW_RATE:
		if (e->proto == TW_PROTO_TCP)
			tw_thr_flows_sample(v->thr, e);
		break;
	case TW_EV_FLOW_END:
		f = flow_get(v, e->flow_id, 0);
		if (attachment_one_way(v, e))
			v->st.flows_one_way_attachment++;
		else if (one_way(e))
			v->st.flows_one_way++;
		if (e->proto == TW_PROTO_TCP) {
			/* the server's SYN-ACK TTL is this server's baseline for later flows */
			if (e->flow.dir[TW_DIR_S2C].syn_count && !(f && f->nrst))
				base_learn(v, e->family, e->saddr, e->flow.dir[TW_DIR_S2C].ttl_base);
			base_learn_rtt(v, e->family, e->saddr, handshake_rtt(&e->flow));
			judge_tcp(v, e, f);
		} else if (tw_quic_flow(e)) {
			tw_quic_end(v->quic, e, prefix_key(v, e));
		} else if (f) {
			judge_dns(v, e, f);
		}
		if (f)
			flow_del(v, e->flow_id);
		break;
	default: break;
	}
}
