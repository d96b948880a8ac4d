/* A snapshot of the daemon's counters, made by the main loop once a second
 * (a pipeline tick) and read by the threads that serve operators (metrics
 * endpoint, control socket) under its mutex, so they never touch the
 * engine, the pipeline or the detectors themselves. */
#ifndef TW_STATUS_H
#define TW_STATUS_H
#include "outputs/types.h"
#include <pthread.h>
#include <stdint.h>
#include "verdicts/verdict.h"
#include "alerts/aggregate.h"
#include <tamperwatch/event.h>
#include "capture/attach.h"
#include "capture/engine.h"
#include "events/pipeline.h"
#include "outputs/output.h"
#include "outputs/nats_pub.h"

struct tw_bus;
struct tw_agg;

#define TW_STATUS_TARGETS 32768
#define TW_STATUS_TOP 20
#define TW_STATUS_TARGETS_TICKS 60

struct tw_status_link {
	char name[32];
	char mode[16]; /* "xdp native", "xdp generic", "tc" */
	int up;        /* operational state as last seen (1 up, 0 down, -1 unknown) */
};

struct tw_status {
	pthread_mutex_t mu;
	/* set once before the threads start */
	char backend[16]; /* "xdp", "tc", "replay-user", "replay-bpf" */
	char version[16];
	uint64_t started_wall_ns;
	struct tw_status_link links[TW_MAX_IFACES];
	int nlinks;
	/* refreshed by tw_status_tick */
	uint64_t updated_wall_ns;
	uint64_t counters[TW_CNT_MAX];   /* backend counters summed over CPUs */
	uint32_t sampling;               /* 1-in-N flow sampling in force (capture/sampling.h) */
	uint64_t events[TW_EV_TYPE_MAX]; /* events through the pipeline by type */
	uint64_t events_malformed, lines_too_long, output_lines, output_write_errors;
	uint64_t output_lines_cut;               /* cut by a short write: completed later or discarded */
	uint64_t lines_not_selected;             /* records output.types left out of the log (types.h) */
	uint64_t events_per_s;                   /* events through the pipeline a second of wall time,
	                                          * between the last two ticks (the daemon's own rate) */
	uint64_t rate_events, rate_mono_ns;      /* where that rate was measured from */
	uint64_t tamper_verdicts[TW_METHOD_MAX]; /* by enum tw_method (verdicts/method.h) */
	uint64_t verdict_flows_dropped;
	uint64_t throttle_flows_dropped;  /* busy flows whose rate series was not kept (throttle_flows.h) */
	uint64_t redirect_bodies_skipped; /* verdict.h */
	uint64_t flows_one_way, flows_one_way_attachment;     /* verdict.h */
	uint64_t payload_parse_errors[TW_VERDICT_PARSERS][2]; /* [parser][truncated, malformed] (verdict.h) */
	uint64_t ticks;
	struct tw_agg_stats agg; /* per-target aggregation (aggregate.h); zero without it */
	/* the syslog sink's counters (syslog_out.c), updated as it sends */
	struct {
		int enabled;
		char transport[8];  /* "unix", "udp", "tcp" */
		uint64_t sent;      /* messages handed to the transport */
		uint64_t failed;    /* messages lost: send failed, queue full, not connected at exit */
		uint64_t truncated; /* messages cut to the size bound (sent, counted here too) */
		uint64_t connects;  /* connection attempts (tcp; unix/udp: socket (re)opens) */
		uint64_t queued;    /* tcp: messages waiting for the connection (gauge) */
	} syslog;
	/* the NATS publisher's counters (nats_pub.c), copied at its tick */
	struct {
		int enabled;
		struct tw_nats_counters c;
	} nats;
	/* the hub's counters (hub.c) */
	struct {
		int enabled;
		uint64_t received, duplicates, malformed, sites, sites_silent, state_errors;
	} hub;
	/* operator's views (control socket) */
	uint64_t flows_active;           /* flows in the table at the last sweep */
	char targets[TW_STATUS_TARGETS]; /* most affected targets: a JSON array (aggregate.h) */
	size_t targets_len;
	uint64_t targets_overflow; /* summaries that did not fit: the short list was kept */
	/* the summary walks every target's window: made only while readers ask
	 * (they set targets_until to ticks + TW_STATUS_TARGETS_TICKS) */
	uint64_t targets_until, targets_tick; /* targets_tick: ticks when it was made */
};

struct tw_status_src {
	struct tw_status *st;
	struct tw_engine *eng;
	const struct tw_pipeline *pl;
	const struct tw_event_writer *writer;
	const struct tw_output *out;
	const struct tw_out_types *types; /* NULL: the log is not filtered */
	const struct tw_verdict *verdict; /* NULL: --no-verdicts */
	struct tw_agg *agg;               /* NULL: no per-target summary */
};

void tw_status_init(struct tw_status *st, const char *backend, const char *version);
void tw_status_add_link(struct tw_status *st, const char *name, const char *mode);
void tw_status_set_link_up(struct tw_status *st, const char *name, int up);
/* A pipeline tick (arg: struct tw_status_src). */
void tw_status_tick(void *src, uint64_t now_wall_ns, int final);
/* Refresh links[].up from the interfaces' flags (IFF_UP and IFF_RUNNING);
 * called by tw_status_tick, live only (replay has no links). */
void tw_status_poll_links(struct tw_status *st);
void tw_status_free(struct tw_status *st);
#endif
