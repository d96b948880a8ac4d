/* Per-flow tampering verdicts: joins a flow's events (request, RSTs, first
 * response, DNS answers) and, when the flow ends, decides whether the
 * evidence shows tampering, which method, which signature, which anomalies
 * and with what confidence.  Rules and weights: README "Verdicts". */
#ifndef TW_VERDICT_H
#define TW_VERDICT_H
#include <stdint.h>
#include <tamperwatch/event.h>
#include "events/pipeline.h"
#include "util/line.h"
#include "verdicts/method.h"
#include "verdicts/quic.h"
struct tw_fp_db;
struct tw_verdict;

#define TW_VERDICT_PARSERS 5
struct tw_verdict_stats {
	uint64_t verdicts[TW_METHOD_MAX]; /* by enum tw_method */
	uint64_t flows_dropped;           /* flow contexts not kept: table full */
	uint64_t quic_flows_dropped;      /* QUIC flows forgotten before their end (verdicts/quic.c) */
	uint64_t suppressed_benign;       /* RSTs that matched the server's own pattern */
	uint64_t rst_after_dead_flow;     /* RSTs not weighed: they answered the client's packets after
					   * the server had reset the flow itself, or a client FIN
					   * behind bytes it had sent */
	uint64_t redirect_bodies_skipped; /* DNS-linked HTTP responses not read for ISP
					   * redirection: Content-Length over 8 KiB */
	/* flows that ended seen one way: because the attachment cannot see
	 * the other direction (tw_verdict_set_ingress_only: counted, never
	 * judged), or on an attachment that sees both (judged: a path that
	 * drops one direction is blackholing evidence) */
	uint64_t flows_one_way_attachment;
	uint64_t flows_one_way;
	/* payload snippets a parser could only partly read ([.][0]: truncated)
	 * or found broken ([.][1]: malformed), by parser (tw_verdict_parser_name);
	 * a payload of another protocol is not counted */
	uint64_t parse_errors[TW_VERDICT_PARSERS][2];
	struct tw_quic_vstats quic; /* the QUIC judge's own drops (verdicts/quic.c), as of the last tick */
};

/* A verdict as aggregation sees it: the client only as its prefix. */
#define TW_TAMPER_MAX_ANOM 8
struct tw_tamper {
	const char *method;    /* a method name (method.h) */
	const char *signature; /* e.g. "PSH->RST" */
	const char *stage;
	double confidence; /* after the mid-stream/one-way cap */
	int limited;       /* mid-stream or one-way: capped */
	int n_anomalies;
	const char *anomalies[TW_TAMPER_MAX_ANOM];
	const char *fingerprint;     /* block-page / forged-address fingerprint name, or NULL */
	const char *redirect_target; /* http_injection: the host the injected redirect sends to, or NULL */
	double rate_bps;             /* throttling: the flow's estimated rate, else 0 */
	int throttle_dirs;           /* throttling: bit TW_DIR_* of the throttled directions */
};

/* Every ended flow (and every DNS query) as aggregation sees it: which
 * target, from which client prefix, whether it was answered, and the
 * verdict if there is one.  Strings live until the callback returns. */
struct tw_thr_verdict;
struct tw_flow_outcome {
	uint64_t ts_ns; /* wall clock live, capture time on replay */
	uint64_t flow_id;
	const char *client_prefix; /* "198.51.100.0/24" */
	const char *server_ip;
	uint16_t server_port;
	const char *proto;              /* "tcp" or "udp" */
	const char *domain;             /* SNI, HTTP Host or DNS name; NULL if none seen */
	int answered;                   /* the server sent payload / a DNS answer came */
	const struct tw_tamper *tamper; /* NULL: no verdict */
	/* the flow's rate evidence (a busy TCP flow's series, verdicts/throttle.h),
	 * whatever its verdict; NULL: the flow had no rate series */
	const struct tw_thr_verdict *rate;
	uint32_t sampling; /* 1-in-N flow sampling in force when the flow was admitted (its weight) */
};
typedef void (*tw_outcome_cb)(void *arg, const struct tw_flow_outcome *o);

/* hold_ns: how long a silent ClientHello waits for other flows to tell
 * TLS interference from blackholing (flows.silence_hold); records: where
 * tamper and redirect records go (main: the output, flushed at once).
 * Adds its tick to pl; main adds tw_verdict_event as a consumer. */
struct tw_verdict *tw_verdict_new(struct tw_pipeline *pl, const struct tw_fp_db *fp, uint32_t max_flows,
                                  uint64_t hold_ns, tw_line_fn records, void *records_arg);
void tw_verdict_event(void *v, const struct tw_decoded_event *d); /* a tw_event_fn */
/* Called for every flow outcome (aggregation); one hook. */
void tw_verdict_set_hook(struct tw_verdict *v, tw_outcome_cb cb, void *arg);
/* A second hook (evidence retention), called before the first one: it
 * learns the verdict before an alert raised by the first names the flow. */
void tw_verdict_set_hook2(struct tw_verdict *v, tw_outcome_cb cb, void *arg);
const struct tw_verdict_stats *tw_verdict_stats(const struct tw_verdict *v);
/* Name of parse_errors[i] ("dns", "tls_client_hello", ...), NULL past the last. */
const char *tw_verdict_parser_name(int i);
void tw_verdict_free(struct tw_verdict *v);
struct tw_thr_flows;
/* The throttling classifier's flow table (verdicts/throttle_flows.h), for its counters. */
const struct tw_thr_flows *tw_verdict_throttle(const struct tw_verdict *v);
struct tw_thr_cfg;
/* Thresholds of the throttling classifier ([throttling]; defaults otherwise). */
void tw_verdict_set_throttle(struct tw_verdict *v, const struct tw_thr_cfg *c);
/* The attachment sees only what arrives (XDP on a host's own traffic, or on
 * one link): a flow seen one way is so because of it, not of the path.
 * Such flows are counted (flows_one_way_attachment) and given no verdict,
 * no redirect record and no outcome. */
void tw_verdict_set_ingress_only(struct tw_verdict *v, int on);
/* The same for the flows of this host's own addresses only (XDP on the
 * links of a forwarding gateway: what it forwards arrives on one watched
 * link or another, what it sends itself arrives nowhere).  Up to
 * TW_VERDICT_MAX_LOCAL addresses (family TW_FAMILY_*, IPv4 in the first 4
 * bytes); -1 when full. */
#define TW_VERDICT_MAX_LOCAL 64
int tw_verdict_add_local(struct tw_verdict *v, int family, const uint8_t addr[16]);
#endif
