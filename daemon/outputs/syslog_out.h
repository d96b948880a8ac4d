/* Syslog output: a bus sink (bus.h) that sends every detector line (alerts,
 * link and gap records) as an RFC 5424 message with structured data, to the
 * local syslog socket (unix datagram, /dev/log by default), or over UDP or
 * TCP (octet-counting framing, RFC 6587).  A syslog server that is down or
 * slow never blocks the daemon: sends never wait, TCP messages wait in a
 * bounded queue while the connection is retried with backoff, and every
 * message lost is counted (stats record "syslog", metric
 * tamperwatch_syslog_send_failures_total).  README "Syslog" has the format. */
#ifndef TW_SYSLOG_OUT_H
#define TW_SYSLOG_OUT_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

struct json_object;
struct tw_status;
struct tw_jb;

/* 32473 is the example private enterprise number IANA reserves for
 * documentation (RFC 5612); the SD-ID is well formed (name@number). */
#define TW_SYSLOG_SDID "tamperwatch@32473"
#define TW_SYSLOG_MAX 4096        /* one message, framing excluded */
#define TW_SYSLOG_QUEUE_MSGS 1024 /* tcp: messages waiting for the connection */
#define TW_SYSLOG_QUEUE_BYTES (1u << 20)
#define TW_SYSLOG_DRAIN_MS 2000 /* at the end of the run, for queued tcp messages */

enum tw_syslog_transport { TW_SYSLOG_UNIX, TW_SYSLOG_UDP, TW_SYSLOG_TCP };

struct tw_syslog_target {
	enum tw_syslog_transport transport;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* unix */
	struct sockaddr_storage ss;                             /* udp, tcp */
	socklen_t sl;
};

/* "/path" or "unix:/path", "udp://ADDR:PORT", "tcp://ADDR:PORT" (hostport.h
 * literals); 0, or -1 with a one-line reason in err. */
int tw_syslog_parse_target(const char *s, struct tw_syslog_target *t, char *err, size_t errlen);
const char *tw_syslog_transport_name(enum tw_syslog_transport t);
/* Facility code (0..23) for a name (kern, user, mail, daemon, auth, syslog,
 * lpr, news, uucp, cron, authpriv, ftp, local0..local7), -1 if unknown. */
int tw_syslog_facility(const char *name);
/* RFC 5424 severity (0..7) of a bus record (README "Syslog"). */
int tw_syslog_severity(struct json_object *obj);
/* One RFC 5424 message (no framing, no NUL counted) for a bus record into
 * buf (cap >= 512): its length; *truncated set when MSG or a value was cut
 * to fit.  hostname: NULL or "" for the NILVALUE. */
size_t tw_syslog_format(char *buf, size_t cap, int facility, const char *hostname, int pid, struct json_object *obj,
                        int *truncated);

struct tw_syslog;
/* NULL with err when the socket cannot be made (a server that is down is
 * not an error: it is retried).  st: where the counters are published. */
struct tw_syslog *tw_syslog_new(const struct tw_syslog_target *t, int facility, struct tw_status *st, char *err,
                                size_t errlen);
/* tw_sink_fn (bus.h) */
void tw_syslog_sink(void *arg, const char *line, size_t len, struct json_object *obj);
/* tw_tick_fn (pipeline.h): retries the connection and flushes the queue;
 * final: waits up to TW_SYSLOG_DRAIN_MS for the queue to drain. */
void tw_syslog_tick(void *arg, uint64_t now, int final);
/* tw_stats_extra_fn (stats.h): the "syslog" object of the stats record */
void tw_syslog_stats(void *arg, struct tw_jb *b);
/* Messages still queued are counted as failed. */
void tw_syslog_free(struct tw_syslog *s);
#endif
