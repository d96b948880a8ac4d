/* The alert bus: every line a detector makes (aggregation and shutdown
 * alerts, link and gap records) goes to the JSON-lines log and then, parsed
 * once, to each sink added here (syslog, Alertmanager, evidence, ...).
 * Sinks read the alert schema of docs/schema.md, the same contract external
 * tools read, so a sink never depends on a detector's internals.
 *
 * The bus also keeps what the operator's views need, under one mutex so the
 * metrics and control-socket threads can read it: open alerts by id (latest
 * line), the last TW_BUS_RECENT alert lines, and alert counts by category,
 * method, legitimacy and state.  Every bound that drops something counts it. */
#ifndef TW_BUS_H
#define TW_BUS_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "util/line.h"

struct json_object;

/* obj: the parsed line (owned by the bus, valid during the call); called
 * on the main thread, in the order sinks were added. */
typedef void (*tw_sink_fn)(void *arg, const char *line, size_t len, struct json_object *obj);

#define TW_BUS_MAX_SINKS 8
#define TW_BUS_RECENT 256
#define TW_BUS_MAX_OPEN 4096
#define TW_BUS_MAX_COUNTS 128

struct tw_bus_count {
	char category[16];   /* blocking | throttling | shutdown */
	char method[24];     /* rst_injection, ..., shutdown */
	char legitimacy[16]; /* declared | undeclared | "" (shutdown) */
	uint64_t raised, updated, resolved;
	uint64_t open; /* raised and not yet resolved */
};

struct tw_bus_alert {
	char id[64];
	char *line; /* latest line of this alert (with '\n') */
	size_t len;
};

struct tw_bus {
	pthread_mutex_t mu;      /* guards everything below for reader threads */
	struct tw_line_sink log; /* the JSON-lines log, written and flushed at once */
	struct {
		const char *name;
		tw_sink_fn fn;
		void *arg;
	} sinks[TW_BUS_MAX_SINKS];
	int nsinks;
	struct tw_bus_alert *open;
	size_t nopen, open_cap;
	char *recent[TW_BUS_RECENT]; /* ring of alert lines, oldest overwritten */
	size_t recent_len[TW_BUS_RECENT];
	uint64_t recent_next; /* total alert lines ever put in the ring */
	struct tw_bus_count counts[TW_BUS_MAX_COUNTS];
	size_t ncounts;
	uint64_t lines;          /* every line through the bus */
	uint64_t alerts;         /* lines with event_type "alert" */
	uint64_t parse_errors;   /* lines a detector made that are not JSON: a bug, counted */
	uint64_t open_overflow;  /* raised alerts not tracked: more than TW_BUS_MAX_OPEN open */
	uint64_t count_overflow; /* alerts not counted: more than TW_BUS_MAX_COUNTS label sets */
	uint64_t oom;
};

/* log: where every line is written first (main: the output, flushed) */
void tw_bus_init(struct tw_bus *b, tw_line_fn log, void *log_arg);
void tw_bus_free(struct tw_bus *b);
/* 0, or -1 when all TW_BUS_MAX_SINKS are taken (a build-time bound). */
int tw_bus_add_sink(struct tw_bus *b, const char *name, tw_sink_fn fn, void *arg);
/* One finished line (with '\n'): written to the log, tracked, handed to the sinks. */
void tw_bus_line(struct tw_bus *b, const char *line, size_t len);
/* obj.key of a parsed line (obj NULL: the top-level key) as a string ("" when missing or not a string):
 * for sinks reading the schema. */
const char *tw_bus_field(struct json_object *o, const char *obj, const char *key);
/* A tw_agg_emit_cb / shutdown emit hook: arg is the bus. */
void tw_bus_emit(void *bus, const char *line, size_t len);
#endif
