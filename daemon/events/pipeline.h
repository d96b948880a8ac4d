/* Where events go once a backend has produced them: validated, counted,
 * decoded once and handed to every consumer (the event writer below, the
 * verdict engine, evidence retention) in the order they were added.  One
 * pipeline per daemon run; every backend (live BPF, BPF test-run replay,
 * userspace replay) feeds the same one, so their output can only differ if
 * their events do.  Consumers sit in higher layers and register here: this
 * layer knows none of them (docs/architecture.md). */
#ifndef TW_PIPELINE_H
#define TW_PIPELINE_H
#include <stddef.h>
#include <stdint.h>
#include <tamperwatch/event.h>
#include "events/proto.h"
#include "util/line.h"
#include "capture/sampling.h"

struct tw_pipeline_opts {
	int v4_prefix;           /* client addresses are written as this prefix (default 24) */
	int v6_prefix;           /* (default 48) */
	int events_payload;      /* write snippets as base64 (debug; user payload!) */
	int64_t clock_offset_ns; /* added to event times: monotonic -> wall clock live, 0 on replay */
};

/* One valid event as every consumer sees it, built once per event: the
 * record and what its snippet says, parsed here once (proto.h).  Which view
 * is filled depends on the event: DNS events the DNS message; TCP to the
 * server a TLS ClientHello, else an HTTP request; TCP to the client an HTTP
 * response, else the first TLS record.  A parser not run reads
 * TW_PAYLOAD_NOT_THIS.  The request and response views are parsed for every
 * client and server data event (the verdicts count what even an empty one
 * gives), the others only when the event carries a snippet.  A QUIC
 * client's first datagram (UDP to port 443) is decrypted once into the QUIC
 * view. */
enum tw_view { TW_VIEW_NONE, TW_VIEW_DNS, TW_VIEW_REQUEST, TW_VIEW_RESPONSE, TW_VIEW_QUIC };
struct tw_decoded_event {
	const struct tw_event *ev;
	enum tw_view view;
	union {
		struct {
			enum tw_parse_rc rc;
			struct tw_dns_msg msg;
		} dns;
		struct {
			enum tw_parse_rc tls_rc, http_rc; /* http parsed only when tls_rc > TRUNCATED */
			struct tw_tls_hello tls;
			struct tw_http_req http;
		} req;
		struct {
			enum tw_parse_rc http_rc, tls_rc; /* tls parsed only when http_rc > TRUNCATED */
			struct tw_http_resp http;
			struct tw_tls_server tls;
		} resp;
		struct {
			enum tw_quic_status st;
			struct tw_quic_initial q;
		} quic;
	};
};
typedef void (*tw_event_fn)(void *arg, const struct tw_decoded_event *d);
/* A consumer's look-ahead: called with each valid event before it is
 * decoded, it only starts the loads the consumer will need for it (cache
 * prefetches of its tables: the decoding then runs while they arrive); it
 * changes nothing. */
typedef void (*tw_prefetch_fn)(void *arg, const struct tw_event *e);

#define TW_PIPELINE_MAX_CONSUMERS 4
#define TW_PIPELINE_MAX_TICKS 16
typedef void (*tw_tick_fn)(void *arg, uint64_t now_wall_ns, int final);

struct tw_pipeline {
	struct tw_pipeline_opts opt;
	struct {
		const char *name;
		tw_event_fn fn;
		void *arg;
	} consumers[TW_PIPELINE_MAX_CONSUMERS];
	int nconsumers;
	struct {
		tw_prefetch_fn fn;
		void *arg;
	} prefetch[TW_PIPELINE_MAX_CONSUMERS];
	int nprefetch;
	/* called once a second of the run's clock (capture time on replay) and
	 * at the end (final = 1), in the order added: time-driven detectors
	 * (aggregation, shutdown) and the status snapshot hang here */
	struct {
		tw_tick_fn fn;
		void *arg;
	} ticks[TW_PIPELINE_MAX_TICKS];
	int nticks;
	uint64_t events[TW_EV_TYPE_MAX];
	uint64_t malformed;                 /* records that failed validation: dropped, counted */
	const struct tw_sampling *sampling; /* 1-in-N flow sampling in force (main); NULL: 1 */
	struct tw_decoded_event dec;        /* the event being handed out (large: not on the stack) */
};

void tw_pipeline_init(struct tw_pipeline *pl, const struct tw_pipeline_opts *opt);
/* 0, or -1 when all TW_PIPELINE_MAX_CONSUMERS slots are taken (a build-time bound) */
int tw_pipeline_add_consumer(struct tw_pipeline *pl, const char *name, tw_event_fn fn, void *arg);
/* 0, or -1 when all TW_PIPELINE_MAX_CONSUMERS slots are taken */
int tw_pipeline_add_prefetch(struct tw_pipeline *pl, tw_prefetch_fn fn, void *arg);
/* len: bytes available at e (ring buffer record size) */
void tw_pipeline_event(struct tw_pipeline *pl, const struct tw_event *e, size_t len);
/* The same, as a capture backend's record callback (tw_record_fn, engine.h): arg is the pipeline. */
void tw_pipeline_record(void *pl, const struct tw_event *e, size_t len);
void tw_pipeline_tick(struct tw_pipeline *pl, uint64_t now_ns, int final);
/* 0, or -1 when all TW_PIPELINE_MAX_TICKS slots are taken (a build-time bound) */
int tw_pipeline_add_tick(struct tw_pipeline *pl, tw_tick_fn fn, void *arg);

/* The event writer: one JSON line per event (DESIGN.md, events), a consumer.
 * Lines are queued: they reach the file at the next flush. */
struct tw_event_writer {
	const struct tw_pipeline_opts *opt;
	struct tw_line_sink out;
	uint32_t ev_on;          /* bit t: events of type t are written (output.types; all by default) */
	uint64_t not_selected;   /* events of a type left out of the log (output.types): counted */
	uint64_t lines_too_long; /* events whose line did not fit the buffer: dropped, counted */
};
void tw_event_writer_init(struct tw_event_writer *w, const struct tw_pipeline_opts *opt, tw_line_fn fn, void *arg);
void tw_event_write(void *writer, const struct tw_decoded_event *d); /* a tw_event_fn */
/* Text form of an address, and of the client prefix that replaces it. */
void tw_addr_str(int family, const uint8_t *addr, char *out, size_t cap);
void tw_prefix_str(int family, const uint8_t *addr, int plen, char *out, size_t cap);
const char *tw_event_type_name(unsigned type);
#endif
