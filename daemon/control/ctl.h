/* The control socket (README "tamperwatch (operator CLI)"): a Unix stream
 * socket served by one thread, up to TW_CTL_MAX_CONN clients at once (one
 * poll loop; more wait in the listen backlog), so a client that sends
 * nothing or reads slowly delays nobody else.  Per connection: one request line
 * (ctlreq.h, at most TW_CTL_REQ_MAX bytes, read within TW_CTL_READ_MS),
 * one JSON response (for report: the JSON line, then the .tar.gz bytes it
 * announces), then close.  Only uid 0 and the daemon's own uid are served
 * (SO_PEERCRED); the socket file is mode 0600.  The thread reads the status
 * snapshot, the bus and the alert timelines under their mutexes and never
 * touches the engine or the detectors. */
#ifndef TW_CTL_H
#define TW_CTL_H
#include <stddef.h>
#include <stdint.h>

#define TW_CTL_DEFAULT_PATH "/run/tamperwatch/tamperwatchd.sock"
#define TW_CTL_READ_MS 2000
#define TW_CTL_WRITE_MS 30000
#define TW_CTL_MAX_ALERTS 1000
#define TW_CTL_MAX_CONN 32 /* clients served at once */

struct tw_status;
struct tw_bus;
struct tw_ctl;

struct tw_ctl_opts {
	const char *path;         /* socket path (at most 107 bytes) */
	const char *evidence_dir; /* evidence pcaps must resolve inside it (report.h); NULL: see there */
	const char *version;      /* detector version for reports */
};

struct tw_ctl_stats {
	uint64_t requests;     /* requests answered (errors included) */
	uint64_t refused;      /* connections from a uid that may not talk to us */
	uint64_t bad_requests; /* unparsable, too long or unknown */
	uint64_t timeouts;     /* no complete request within TW_CTL_READ_MS */
	uint64_t write_errors; /* responses cut short (peer gone, too slow) */
};

/* Claim the socket path (a stale socket of a dead daemon is replaced; a
 * live one, or a path that is not a socket, is an error), register the
 * timeline sink on bus, start the thread.  NULL with a one-line err. */
struct tw_ctl *tw_ctl_start(const struct tw_ctl_opts *o, struct tw_status *st, struct tw_bus *bus, char *err,
                            size_t errlen);
/* A bus sink (main's sink table): every alert line, for the timelines. */
struct json_object;
void tw_ctl_on_record(void *c, const char *line, size_t len, struct json_object *obj);
/* Stop the thread, remove the socket file, free.  NULL is a no-op. */
void tw_ctl_stop(struct tw_ctl *c);
#endif
