/* Evidence pcaps for alerts (README "Evidence").  Keeps the event records
 * of live flows and, after flow end, of the flows that got a tamper verdict
 * (memory bounded, every eviction counted); when an alert line names flow
 * ids (evidence.flow_ids), writes their packets to DIR/<alert id>.pcap
 * (evpcap.h: pseudonymised clients, user payload cut) and forgets them.
 *
 * Hooks: tw_evidence_on_event (every valid event, after the verdict engine saw
 * it), tw_evidence_outcome (a verdict hook), tw_evidence_sink (a bus sink),
 * tw_evidence_tick (a pipeline tick: expiry). */
#ifndef TW_EVIDENCE_H
#define TW_EVIDENCE_H
#include <stddef.h>
#include <stdint.h>
#include <tamperwatch/event.h>
#include "outputs/pseudonym.h"
#include "verdicts/verdict.h"
#include "alerts/aggregate.h" /* tw_evidence_path */

struct json_object;
struct tw_jb;

struct tw_evidence_cfg {
	char dir[512];           /* evidence.dir: "" = evidence off */
	int max_flows_per_alert; /* evidence.max_flows_per_alert */
	int max_bytes_per_file;  /* evidence.max_bytes_per_file */
	int memory;              /* evidence.memory: bytes of retained events */
	int retain;              /* evidence.retain (s): tampered flows kept after flow end */
};
void tw_evidence_cfg_default(struct tw_evidence_cfg *c);

#define TW_EVIDENCE_MAX_EVENTS 32   /* events kept per flow */
#define TW_EVIDENCE_MAX_ALERTS 4096 /* alerts tracked (flows already written) */

struct tw_evidence_stats {
	uint64_t flows;            /* gauge: flows held */
	uint64_t memory_bytes;     /* gauge: bytes held */
	uint64_t evicted_live;     /* flows evicted for memory before a verdict */
	uint64_t evicted_tampered; /* tampered flows evicted for memory before an alert named them */
	uint64_t expired;          /* tampered flows no alert named within evidence.retain */
	uint64_t events_dropped;   /* events past TW_EVIDENCE_MAX_EVENTS in one flow */
	uint64_t flows_written;
	uint64_t flows_missing;    /* named by an alert but not held (evicted, expired, before start) */
	uint64_t flows_over_limit; /* named by an alert beyond evidence.max_flows_per_alert */
	uint64_t packets_written;
	uint64_t packets_over_size; /* not written: file at evidence.max_bytes_per_file */
	uint64_t files_written;     /* file writes (an alert's file is appended to on updates) */
	uint64_t files_replaced;    /* existing file at the path was not one of ours: rewritten */
	uint64_t write_errors;
	uint64_t alerts_evicted; /* alert tracking entries reused: more than TW_EVIDENCE_MAX_ALERTS open */
	uint64_t redacted;       /* client addresses overwritten inside kept payloads */
	uint64_t oom;            /* events not kept: out of memory */
};

struct tw_evidence;

/* Creates cfg->dir if missing.  NULL with err on failure. */
struct tw_evidence *tw_evidence_new(const struct tw_evidence_cfg *cfg, const struct tw_pseudonym *pn,
                                    int64_t clock_offset_ns, char *err, size_t errlen);
void tw_evidence_event(struct tw_evidence *ev, const struct tw_event *e);
void tw_evidence_on_event(void *ev, const struct tw_decoded_event *d);                  /* a tw_event_fn */
void tw_evidence_outcome(void *ev, const struct tw_flow_outcome *o);                    /* a tw_outcome_cb */
void tw_evidence_sink(void *ev, const char *line, size_t len, struct json_object *obj); /* a tw_sink_fn */
void tw_evidence_tick(void *ev, uint64_t now_wall_ns, int final);                       /* a tw_tick_fn */
const struct tw_evidence_stats *tw_evidence_stats(const struct tw_evidence *ev);
/* every flow evicted or expired before an alert could name it */
uint64_t tw_evidence_evictions(const struct tw_evidence *ev);
/* "evidence":{...} member of the stats record (a stats section, stats.h) */
void tw_evidence_stats_json(void *ev, struct tw_jb *b);
void tw_evidence_free(struct tw_evidence *ev);
#endif
