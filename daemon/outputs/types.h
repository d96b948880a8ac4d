/* Which record types reach the JSON-lines log (output.types, --events), as
 * the types of Suricata's EVE log: each record's event_type is on or off.
 * The other outputs (metrics, syslog, Alertmanager, NATS, the control
 * socket) are not filtered: they take what they take.  Records left out
 * are counted (stats: lines_not_selected), never lost silently. */
#ifndef TW_OUTPUT_TYPES_H
#define TW_OUTPUT_TYPES_H
#include <stddef.h>
#include <stdint.h>

/* "" (output.types unset): the gateway set TW_TYPES_GATEWAY, live and on
 * replay.  --events adds TW_TYPES_EVENTS to whatever is set. */
#define TW_TYPES_GATEWAY "alert,tamper,redirect,link,gap,stats"
#define TW_TYPES_EVENTS "handshake,payload,rst,data_after_rst,fin,dns,flow,flow_rate"

struct tw_out_types {
	uint32_t on;           /* bit i: tw_out_type_name(i) is written */
	uint32_t ev_on;        /* bit t: events of TW_EV type t are written (for the event writer) */
	uint64_t not_selected; /* detector lines left out by type (events: the writer counts its own) */
};

/* name of type i, NULL past the last */
const char *tw_out_type_name(int i);
/* Parse a comma-separated list of type names and the groups "all",
 * "events" (TW_TYPES_EVENTS) and "gateway" (TW_TYPES_GATEWAY) into *mask
 * (OR-ed in).  0, or -1 with the reason in why. */
int tw_out_types_parse(const char *list, uint32_t *mask, char *why, size_t whylen);
/* Set t->on to mask and derive t->ev_on. */
void tw_out_types_set(struct tw_out_types *t, uint32_t mask);
/* 1 when the line (a JSON record starting {"timestamp":...,"event_type":"X")
 * is of a type that is on, or of no type known here (never hidden). */
int tw_out_types_line_on(const struct tw_out_types *t, const char *line, size_t len);
/* The types that are on, comma-separated, for the startup message. */
void tw_out_types_str(uint32_t mask, char *out, size_t cap);
#endif
