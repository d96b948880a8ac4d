/* Where events go once a backend has produced them: validated, turned into
 * JSON lines and written.  One pipeline per daemon run; every backend (live
 * BPF, BPF test-run replay, userspace replay) feeds the same one, so their
 * output can only differ if their events do. */
#ifndef TW_PIPELINE_H
#define TW_PIPELINE_H
#include <stddef.h>
#include <stdint.h>
#include <tamperwatch/event.h>
#include "outputs/output.h"

struct tw_pipeline_opts {
	int v4_prefix;           /* client addresses are written as this prefix (default 24) */
	int v6_prefix;           /* (default 48) */
	int events_payload;      /* write snippets as base64 (debug; user payload!) */
	int64_t clock_offset_ns; /* added to event times: monotonic -> wall clock live, 0 on replay */
};

struct tw_verdict;
struct tw_evidence;

#define TW_PIPELINE_MAX_TICKS 8
typedef void (*tw_tick_fn)(void *arg, uint64_t now_wall_ns, int final);

struct tw_pipeline {
	struct tw_pipeline_opts opt;
	struct tw_output *out;
	struct tw_verdict *verdict;   /* NULL: events only */
	struct tw_evidence *evidence; /* NULL: no evidence pcaps; sees events after the verdicts */
	/* called once a second of the run's clock (capture time on replay) and
	 * at the end (final = 1), in the order added: time-driven detectors
	 * (aggregation, shutdown) and the status snapshot hang here */
	struct {
		tw_tick_fn fn;
		void *arg;
	} ticks[TW_PIPELINE_MAX_TICKS];
	int nticks;
	/* sees every line tw_pipeline_line writes (the NATS publisher); NULL: none */
	void (*tap)(void *arg, const char *line, size_t len);
	void *tap_arg;
	uint64_t events[TW_EV_TYPE_MAX];
	uint64_t malformed;     /* records that failed validation: dropped, counted */
	uint64_t json_overflow; /* lines too long for the buffer: dropped, counted */
};

void tw_pipeline_init(struct tw_pipeline *pl, struct tw_output *out, const struct tw_pipeline_opts *opt);
/* len: bytes available at e (ring buffer record size) */
void tw_pipeline_event(struct tw_pipeline *pl, const struct tw_event *e, size_t len);
void tw_pipeline_tick(struct tw_pipeline *pl, uint64_t now_ns, int final);
/* 0, or -1 when all TW_PIPELINE_MAX_TICKS slots are taken (a build-time bound) */
int tw_pipeline_add_tick(struct tw_pipeline *pl, tw_tick_fn fn, void *arg);
/* Write one already-built JSON line (stats, detector lines), flushed at once. */
void tw_pipeline_line(struct tw_pipeline *pl, const char *line, size_t len);
/* Text form of an address, and of the client prefix that replaces it. */
void tw_addr_str(int family, const uint8_t *addr, char *out, size_t cap);
void tw_prefix_str(int family, const uint8_t *addr, int plen, char *out, size_t cap);
const char *tw_event_type_name(unsigned type);
#endif
