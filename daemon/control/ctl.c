#include "control/ctl.h"
#include "outputs/bus.h"
#include "control/ctlreq.h"
#include "control/report.h"
#include "outputs/status.h"
#include "util/textbuf.h"
#include "control/timeline.h"
#include "verdicts/verdict.h"
#include "util/privsig.h"
#include <tamperwatch/parse.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* one client: its request, then its answer, each with a deadline */
struct conn {
	int fd; /* -1: free slot */
	int writing;
	uint64_t deadline; /* mono_ms */
	size_t n;          /* request bytes in in[] */
	char in[TW_CTL_REQ_MAX + 2];
	struct tw_tb out; /* the whole answer */
	size_t off;       /* bytes of out sent */
};

struct tw_ctl {
	struct tw_ctl_opts o;
	struct conn *conns; /* TW_CTL_MAX_CONN */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *evidence_dir;
	int fd, wake[2];
	pthread_t th;
	struct tw_status *st;
	struct tw_bus *bus;
	struct tw_timeline tl;
	pthread_mutex_t mu; /* guards stats */
	struct tw_ctl_stats stats;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#define COUNT(c, f)                                                                                                    \
	do {                                                                                                           \
		pthread_mutex_lock(&(c)->mu);                                                                          \
		(c)->stats.f++;                                                                                        \
		pthread_mutex_unlock(&(c)->mu);                                                                        \
	} while (0)

/* ---- responses, queued whole; the loop sends them ----------------------- */

/* Error texts may quote the request: its bytes are not trusted to be text,
 * so anything but printable ASCII becomes \xHH and the answer is always
 * valid JSON (and UTF-8). */
static void send_error(struct tw_ctl *c, struct tw_tb *out, const char *msg)
{
	char safe[1024];
	size_t k = 0;
	for (const unsigned char *p = (const unsigned char *)msg; *p && k + 5 < sizeof(safe); p++) {
		if (*p >= 0x20 && *p < 0x7f)
			safe[k++] = (char)*p;
		else
			k += (size_t)snprintf(safe + k, sizeof(safe) - k, "\\x%02x", *p);
	}
	safe[k] = 0;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(safe));
	tw_tb_str(out, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	tw_tb_str(out, "\n");
	if (out->fail)
		COUNT(c, write_errors);
	json_object_put(o);
}

static void send_json(struct tw_ctl *c, struct tw_tb *out, struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (!s || tw_tb_str(out, s) < 0 || tw_tb_str(out, "\n") < 0)
		COUNT(c, write_errors);
}

static struct json_object *u64(uint64_t v)
{
	return json_object_new_uint64(v);
}

/* link state when the main loop does not track it: up and running */
static int link_up(const char *name)
{
	struct ifreq ifr;
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), up = -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0)
		up = (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING);
	if (s >= 0)
		close(s);
	return up;
}

static void do_status(struct tw_ctl *c, struct tw_tb *out)
{
	struct tw_status *s = malloc(sizeof(*s));
	if (!s) {
		send_error(c, out, "out of memory");
		return;
	}
	pthread_mutex_lock(&c->st->mu);
	memcpy(s, c->st, sizeof(*s)); /* a copy of the data; its mutex is never used */
	pthread_mutex_unlock(&c->st->mu);
	struct tw_bus *b = c->bus;
	pthread_mutex_lock(&b->mu);
	uint64_t nopen = b->nopen, alerts = b->alerts, bus_perr = b->parse_errors, open_of = b->open_overflow,
	         count_of = b->count_overflow, bus_oom = b->oom;
	pthread_mutex_unlock(&b->mu);
	pthread_mutex_lock(&c->mu);
	struct tw_ctl_stats cs = c->stats;
	pthread_mutex_unlock(&c->mu);
	pthread_mutex_lock(&c->tl.mu);
	uint64_t tl_omit = c->tl.lines_omitted, tl_untr = c->tl.alerts_untracked, tl_evict = c->tl.evicted;
	pthread_mutex_unlock(&c->tl.mu);

	uint64_t now = wall_ns();
	struct json_object *o = json_object_new_object(), *st = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "status", st);
	json_object_object_add(st, "version", json_object_new_string(s->version));
	json_object_object_add(st, "backend", json_object_new_string(s->backend));
	json_object_object_add(st, "pid", json_object_new_int((int)getpid()));
	json_object_object_add(st, "uptime_s",
	                       u64(now > s->started_wall_ns ? (now - s->started_wall_ns) / 1000000000ull : 0));
	json_object_object_add(st, "updated_s_ago",
	                       s->ticks && now > s->updated_wall_ns ? u64((now - s->updated_wall_ns) / 1000000000ull)
	                                                            : NULL);
	struct json_object *ifs = json_object_new_array();
	for (int i = 0; i < s->nlinks && i < TW_MAX_IFACES; i++) {
		struct json_object *l = json_object_new_object();
		json_object_object_add(l, "name", json_object_new_string(s->links[i].name));
		json_object_object_add(l, "mode", json_object_new_string(s->links[i].mode));
		int up = s->links[i].up < 0 ? link_up(s->links[i].name) : s->links[i].up;
		json_object_object_add(l, "up", up < 0 ? NULL : json_object_new_boolean(up));
		json_object_array_add(ifs, l);
	}
	json_object_object_add(st, "interfaces", ifs);
	json_object_object_add(st, "packets", u64(s->counters[TW_CNT_PACKETS]));
	json_object_object_add(st, "bytes", u64(s->counters[TW_CNT_BYTES]));
	json_object_object_add(st, "flows_active", u64(s->flows_active));
	json_object_object_add(st, "flows_new", u64(s->counters[TW_CNT_FLOWS_NEW]));
	json_object_object_add(st, "events", u64(s->counters[TW_CNT_EVENTS]));
	json_object_object_add(st, "events_lost", u64(s->counters[TW_CNT_EVENTS_LOST]));
	/* packets the parser refused (truncated or malformed headers), records
	 * that failed validation, detector lines that were not JSON */
	uint64_t bad_pkts = 0;
	static const int bad[] = { TW_PARSE_TRUNC_L2, TW_PARSE_TRUNC_L3, TW_PARSE_BAD_L3, TW_PARSE_TRUNC_L4,
		                   TW_PARSE_BAD_L4 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		bad_pkts += s->counters[TW_CNT_PARSE_BASE + bad[i]];
	struct json_object *pe = json_object_new_object();
	json_object_object_add(pe, "packets", u64(bad_pkts));
	json_object_object_add(pe, "events_malformed", u64(s->events_malformed));
	json_object_object_add(pe, "alert_lines", u64(bus_perr));
	json_object_object_add(st, "parse_errors", pe);
	json_object_object_add(st, "output_write_errors", u64(s->output_write_errors));
	json_object_object_add(st, "output_lines_cut", u64(s->output_lines_cut));
	struct json_object *vd = json_object_new_object();
	uint64_t vt = 0;
	for (int m = 0; m < TW_METHOD_MAX; m++)
		if (tw_method(m) && tw_method(m)->per_flow) {
			json_object_object_add(vd, tw_method_name(m), u64(s->tamper_verdicts[m]));
			vt += s->tamper_verdicts[m];
		}
	json_object_object_add(st, "verdicts_total", u64(vt));
	json_object_object_add(st, "verdicts", vd);
	json_object_object_add(st, "verdict_flows_dropped", u64(s->verdict_flows_dropped));
	json_object_object_add(st, "open_alerts", u64(nopen));
	json_object_object_add(st, "alert_lines", u64(alerts));
	struct json_object *dr = json_object_new_object(); /* every bound that dropped something */
	json_object_object_add(dr, "alerts_open_untracked", u64(open_of));
	json_object_object_add(dr, "alerts_uncounted", u64(count_of));
	json_object_object_add(dr, "bus_out_of_memory", u64(bus_oom));
	json_object_object_add(dr, "timeline_lines_omitted", u64(tl_omit));
	json_object_object_add(dr, "timeline_alerts_untracked", u64(tl_untr));
	json_object_object_add(dr, "timeline_alerts_evicted", u64(tl_evict));
	json_object_object_add(dr, "targets_summary_short", u64(s->targets_overflow));
	json_object_object_add(st, "dropped", dr);
	struct json_object *ctl = json_object_new_object();
	json_object_object_add(ctl, "socket", json_object_new_string(c->path));
	json_object_object_add(ctl, "requests", u64(cs.requests));
	json_object_object_add(ctl, "refused", u64(cs.refused));
	json_object_object_add(ctl, "bad_requests", u64(cs.bad_requests));
	json_object_object_add(ctl, "timeouts", u64(cs.timeouts));
	json_object_object_add(ctl, "write_errors", u64(cs.write_errors));
	json_object_object_add(st, "control", ctl);
	send_json(c, out, o);
	json_object_put(o);
	free(s);
}

/* ---- targets ---------------------------------------------------------- */

static void do_targets(struct tw_ctl *c, struct tw_tb *out, const struct tw_ctl_req *rq)
{
	char *txt = malloc(TW_STATUS_TARGETS + 1);
	if (!txt) {
		send_error(c, out, "out of memory");
		return;
	}
	/* ask the main loop for the summary; unless the last tick made one,
	 * wait (bounded) for the next tick to make it */
	struct tw_status *st = c->st;
	pthread_mutex_lock(&st->mu);
	uint64_t asked = st->ticks;
	int fresh = st->targets_tick && st->targets_tick == st->ticks;
	st->targets_until = st->ticks + TW_STATUS_TARGETS_TICKS;
	pthread_mutex_unlock(&st->mu);
	for (uint64_t deadline = mono_ms() + 3000; !fresh && mono_ms() < deadline;) {
		struct timespec ts = { 0, 50 * 1000000 };
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&st->mu);
		fresh = st->targets_tick > asked;
		pthread_mutex_unlock(&st->mu);
	}
	pthread_mutex_lock(&st->mu);
	size_t n = st->targets_len;
	memcpy(txt, st->targets, n);
	pthread_mutex_unlock(&st->mu);
	txt[n] = 0;
	struct json_object *arr = n ? json_tokener_parse(txt) : json_object_new_array();
	free(txt);
	if (!arr || !json_object_is_type(arr, json_type_array)) {
		json_object_put(arr);
		send_error(c, out, "no per-target summary (verdicts are off)");
		return;
	}
	while (json_object_array_length(arr) > (size_t)rq->top)
		json_object_array_del_idx(arr, json_object_array_length(arr) - 1, 1);
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "targets", arr);
	send_json(c, out, o);
	json_object_put(o);
}

/* ---- alerts ----------------------------------------------------------- */

static const char *jget(struct json_object *o, const char *k1, const char *k2)
{
	struct json_object *a = o, *v;
	if (k1 && !json_object_object_get_ex(o, k1, &a))
		return "";
	if (!json_object_object_get_ex(a, k2, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

/* "2026-11-28T16:10:52.123456+0000" -> ns since the epoch (0: unparsable) */
static uint64_t parse_ts(const char *s)
{
	struct tm tm;
	unsigned us = 0;
	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%6u", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
	           &tm.tm_sec, &us) < 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	return t < 0 ? 0 : (uint64_t)t * 1000000000ull + (uint64_t)us * 1000ull;
}

struct cand {
	char *line; /* owned */
	char id[64];
	char ts[40];
};

static int by_ts_desc(const void *a, const void *b)
{
	return strcmp(((const struct cand *)b)->ts, ((const struct cand *)a)->ts);
}

static int keep(const struct tw_ctl_req *rq, struct json_object *o, uint64_t now)
{
	int resolved = !strcmp(jget(o, "alert", "state"), "resolved");
	if ((rq->state == TW_CTL_OPEN && resolved) || (rq->state == TW_CTL_RESOLVED && !resolved))
		return 0;
	if (rq->method[0] && strcmp(rq->method, jget(o, "censorship", "method")))
		return 0;
	if (rq->category[0] && strcmp(rq->category, jget(o, "alert", "category")))
		return 0;
	if (rq->legitimacy[0] && strcmp(rq->legitimacy, jget(o, "censorship", "legitimacy")))
		return 0;
	if (rq->since_s && parse_ts(jget(o, NULL, "timestamp")) + rq->since_s * 1000000000ull < now)
		return 0;
	return 1;
}

static void do_alerts(struct tw_ctl *c, struct tw_tb *out, const struct tw_ctl_req *rq)
{
	struct tw_bus *b = c->bus;
	struct cand *v;
	size_t n = 0, cap;
	int oom = 0;

	/* copies under the lock, the parsing after it */
	pthread_mutex_lock(&b->mu);
	cap = b->nopen + TW_BUS_RECENT;
	v = calloc(cap, sizeof(*v));
	if (v) {
		for (size_t i = 0; i < b->nopen; i++)
			if (!(v[n++].line = strndup(b->open[i].line, b->open[i].len)))
				oom = 1;
		uint64_t have = b->recent_next < TW_BUS_RECENT ? b->recent_next : TW_BUS_RECENT;
		for (uint64_t k = 0; k < have; k++) { /* newest first */
			size_t slot = (size_t)((b->recent_next - 1 - k) % TW_BUS_RECENT);
			if (b->recent[slot] && !(v[n++].line = strndup(b->recent[slot], b->recent_len[slot])))
				oom = 1;
		}
	}
	pthread_mutex_unlock(&b->mu);
	pthread_mutex_lock(&c->st->mu);
	uint64_t now = c->st->updated_wall_ns; /* the run's clock: capture time on replay */
	pthread_mutex_unlock(&c->st->mu);
	if (!now)
		now = wall_ns();
	char(*ids)[64] = calloc(n ? n : 1, sizeof(*ids));
	if (!v || oom || !ids) {
		for (size_t i = 0; v && i < n; i++)
			free(v[i].line);
		free(v);
		free(ids);
		send_error(c, out, "out of memory");
		return;
	}
	/* the latest line per id (open ones come first: theirs is the latest);
	 * an id whose latest line is filtered out is not shown from older lines */
	size_t m = 0, nid = 0;
	for (size_t i = 0; i < n; i++) {
		char *line = v[i].line;
		v[i].line = NULL;
		struct json_object *o = json_tokener_parse(line);
		const char *id = o ? jget(o, "alert", "id") : "";
		int dup = !*id || strlen(id) >= sizeof(ids[0]);
		for (size_t j = 0; j < nid && !dup; j++)
			dup = !strcmp(ids[j], id);
		if (!dup) {
			memcpy(ids[nid++], id, strlen(id) + 1);
			if (keep(rq, o, now)) { /* m <= i: slot m is already consumed */
				v[m].line = line;
				snprintf(v[m].id, sizeof(v[m].id), "%s", id);
				snprintf(v[m].ts, sizeof(v[m].ts), "%s", jget(o, NULL, "timestamp"));
				m++;
				line = NULL;
			}
		}
		free(line);
		json_object_put(o);
	}
	free(ids);
	qsort(v, m, sizeof(*v), by_ts_desc);
	struct tw_tb r = { 0 };
	tw_tb_str(&r, "{\"ok\":true,\"alerts\":[");
	size_t shown = m < TW_CTL_MAX_ALERTS ? m : TW_CTL_MAX_ALERTS;
	for (size_t i = 0; i < shown; i++) {
		size_t len = strlen(v[i].line);
		while (len && (v[i].line[len - 1] == '\n' || v[i].line[len - 1] == '\r'))
			len--;
		if (i)
			tw_tb_str(&r, ",");
		tw_tb_add(&r, v[i].line, len);
	}
	char tail[64];
	snprintf(tail, sizeof(tail), "],\"omitted\":%zu}\n", m - shown);
	tw_tb_str(&r, tail);
	for (size_t i = 0; i < m; i++)
		free(v[i].line);
	free(v);
	if (r.fail)
		send_error(c, out, "out of memory");
	else if (tw_tb_add(out, r.p, r.n) < 0)
		COUNT(c, write_errors);
	free(r.p);
}

/* ---- report ----------------------------------------------------------- */

static void do_report(struct tw_ctl *c, struct tw_tb *out, const struct tw_ctl_req *rq)
{
	char **lines, err[600], msg[800];
	uint64_t omitted;
	long n = tw_timeline_get(&c->tl, rq->id, &lines, &omitted);
	if (n < 0) {
		send_error(c, out, "out of memory");
		return;
	}
	if (n == 0) {
		snprintf(msg, sizeof(msg),
		         "no alert %s: not open and not among the %d most recently resolved alerts this daemon keeps",
		         rq->id, TW_TL_MAX_RESOLVED);
		send_error(c, out, msg);
		return;
	}
	struct tw_report_in in = {
		.id = rq->id,
		.lines = lines,
		.nlines = n,
		.omitted = omitted,
		.version = c->o.version,
		.evidence_dir = c->evidence_dir,
		.now_ns = wall_ns(),
	};
	struct tw_report r;
	int rc = tw_report_build(&in, &r, err, sizeof(err));
	tw_timeline_lines_free(lines, n);
	if (rc < 0) {
		send_error(c, out, err);
		return;
	}
	struct json_object *o = json_object_new_object(), *ro = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "report", ro);
	json_object_object_add(ro, "id", json_object_new_string(rq->id));
	json_object_object_add(ro, "bytes", json_object_new_uint64(r.len));
	json_object_object_add(ro, "records", json_object_new_int64(n));
	json_object_object_add(ro, "evidence", json_object_new_boolean(r.evidence));
	if (r.note[0])
		json_object_object_add(ro, "evidence_note", json_object_new_string(r.note));
	json_object_object_add(ro, "plot", json_object_new_boolean(r.plot));
	if (!r.plot)
		json_object_object_add(ro, "plot_note", json_object_new_string(r.plot_note));
	send_json(c, out, o);
	json_object_put(o);
	/* then exactly the announced bytes */
	if (tw_tb_add(out, r.data, r.len) < 0)
		COUNT(c, write_errors);
	free(r.data);
}

/* ---- connections: up to TW_CTL_MAX_CONN at once, one poll loop ---------- */

/* The request is complete (len), too long (-1), cut by EOF before any byte
 * (-2: a starting daemon probing whether the socket is live) or late (-3):
 * queue the answer.  The request is read before any answer, even a
 * refusal, so the peer does not lose it to a reset for unread data. */
static void answer(struct tw_ctl *c, struct conn *k, long len)
{
	struct ucred cr;
	socklen_t crl = sizeof(cr);
	char err[256];
	struct tw_tb *out = &k->out;

	if (getsockopt(k->fd, SOL_SOCKET, SO_PEERCRED, &cr, &crl) < 0 || crl != sizeof(cr) ||
	    (cr.uid != 0 && cr.uid != geteuid())) {
		COUNT(c, refused);
		snprintf(err, sizeof(err), "permission denied: uid %d may not use the control socket (root only)",
		         crl == sizeof(cr) ? (int)cr.uid : -1);
		send_error(c, out, err);
		return;
	}
	if (len == -2)
		return;
	if (len == -3) {
		COUNT(c, timeouts);
		send_error(c, out, "no complete request line in time");
		return;
	}
	if (len == -1) {
		COUNT(c, bad_requests);
		snprintf(err, sizeof(err), "request longer than %d bytes", TW_CTL_REQ_MAX);
		send_error(c, out, err);
		return;
	}
	struct tw_ctl_req rq;
	COUNT(c, requests);
	if (tw_ctl_req_parse(k->in, (size_t)len, &rq, err, sizeof(err)) < 0) {
		COUNT(c, bad_requests);
		send_error(c, out, err);
		return;
	}
	switch (rq.cmd) {
	case TW_CTL_STATUS: do_status(c, out); break;
	case TW_CTL_ALERTS: do_alerts(c, out, &rq); break;
	case TW_CTL_TARGETS: do_targets(c, out, &rq); break;
	case TW_CTL_REPORT: do_report(c, out, &rq); break;
	default: send_error(c, out, "unknown command"); break;
	}
}

/* Close after the answer: closing a Unix socket with unread input resets
 * the peer, which may then lose the answer; so end our side, and discard
 * what is already queued (bounded) first. */
static void finish(struct conn *k)
{
	char sink[4096];
	shutdown(k->fd, SHUT_WR);
	for (int i = 0; i < 16; i++)
		if (recv(k->fd, sink, sizeof(sink), MSG_DONTWAIT) <= 0)
			break;
	close(k->fd);
	free(k->out.p);
	memset(&k->out, 0, sizeof(k->out));
	k->fd = -1;
}

static void to_writing(struct tw_ctl *c, struct conn *k, long len)
{
	answer(c, k, len);
	if (!k->out.n || k->out.fail) { /* nothing to say, or no memory to say it */
		finish(k);
		return;
	}
	k->writing = 1;
	k->off = 0;
	k->deadline = mono_ms() + (len == -3 ? TW_CTL_READ_MS : TW_CTL_WRITE_MS);
}

static void on_readable(struct tw_ctl *c, struct conn *k)
{
	ssize_t got = recv(k->fd, k->in + k->n, sizeof(k->in) - k->n, MSG_DONTWAIT);
	if (got < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (got <= 0) {
		to_writing(c, k, k->n ? (long)k->n : -2); /* EOF: what came is the request */
		return;
	}
	k->n += (size_t)got;
	char *nl = memchr(k->in, '\n', k->n);
	if (nl)
		to_writing(c, k, nl - k->in);
	else if (k->n > TW_CTL_REQ_MAX)
		to_writing(c, k, -1);
}

static void on_writable(struct tw_ctl *c, struct conn *k)
{
	ssize_t w = send(k->fd, k->out.p + k->off, k->out.n - k->off, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (w <= 0) {
		COUNT(c, write_errors);
		finish(k);
		return;
	}
	k->off += (size_t)w;
	if (k->off == k->out.n)
		finish(k);
}

static void accept_one(struct tw_ctl *c)
{
	for (int i = 0; i < TW_CTL_MAX_CONN; i++) {
		if (c->conns[i].fd >= 0)
			continue;
		int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			/* out of descriptors: the pending connection stays readable;
			 * pause instead of spinning on it */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				struct timespec ts = { 0, 100 * 1000000 };
				nanosleep(&ts, NULL);
			}
			return;
		}
		struct conn *k = &c->conns[i];
		memset(k, 0, sizeof(*k));
		k->fd = fd;
		k->deadline = mono_ms() + TW_CTL_READ_MS;
		return; /* one per wakeup */
	}
}

static void *thread_main(void *arg)
{
	struct tw_ctl *c = arg;
	struct pollfd pf[2 + TW_CTL_MAX_CONN];
	int at[2 + TW_CTL_MAX_CONN];
	for (;;) {
		uint64_t now = mono_ms();
		int n = 2, timeout = -1, full = 1;
		for (int i = 0; i < TW_CTL_MAX_CONN; i++) {
			struct conn *k = &c->conns[i];
			if (k->fd < 0) {
				full = 0;
				continue;
			}
			if (now >= k->deadline) { /* late: a request gets an answer, an answer is given up */
				if (k->writing) {
					COUNT(c, write_errors);
					finish(k);
				} else {
					to_writing(c, k, -3);
				}
				if (k->fd < 0) {
					full = 0;
					continue;
				}
			}
			int left = (int)(k->deadline - now);
			if (timeout < 0 || left < timeout)
				timeout = left;
			pf[n] = (struct pollfd){ k->fd, k->writing ? POLLOUT : POLLIN, 0 };
			at[n++] = i;
		}
		/* all slots taken: new clients wait in the backlog until one frees */
		pf[0] = (struct pollfd){ c->wake[0], POLLIN, 0 };
		pf[1] = (struct pollfd){ full ? -1 : c->fd, POLLIN, 0 };
		int r = poll(pf, (nfds_t)n, timeout);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || pf[0].revents)
			break;
		for (int j = 2; j < n; j++) {
			struct conn *k = &c->conns[at[j]];
			if (!pf[j].revents)
				continue;
			if (k->writing)
				on_writable(c, k);
			else
				on_readable(c, k);
		}
		if (pf[1].revents & POLLIN)
			accept_one(c);
	}
	for (int i = 0; i < TW_CTL_MAX_CONN; i++)
		if (c->conns[i].fd >= 0)
			finish(&c->conns[i]);
	return NULL;
}

/* ---- setup ------------------------------------------------------------ */

static int claim(struct tw_ctl *c, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat st;
	char dir[sizeof(sa.sun_path)];

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	/* the directory: created 0700 when missing (one level) */
	snprintf(dir, sizeof(dir), "%s", c->path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "control socket directory %s: %s", dir, strerror(errno));
			return -1;
		}
	}
	if (lstat(c->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "control socket %s: exists and is not a socket", c->path);
			return -1;
		}
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0) {
			snprintf(err, errlen, "control socket: %s", strerror(errno));
			return -1;
		}
		int rc = connect(s, (struct sockaddr *)&sa, sizeof(sa));
		int e = errno;
		close(s);
		if (rc == 0) {
			snprintf(err, errlen, "control socket %s: another tamperwatchd is listening on it", c->path);
			return -1;
		}
		if (e != ECONNREFUSED) {
			snprintf(err, errlen, "control socket %s: %s", c->path, strerror(e));
			return -1;
		}
		/* a socket nobody listens on: left by a daemon that died */
		if (unlink(c->path) < 0 && errno != ENOENT) {
			snprintf(err, errlen, "control socket %s: stale, and cannot remove it: %s", c->path,
			         strerror(errno));
			return -1;
		}
		fprintf(stderr, "tamperwatchd: control socket %s: replaced a stale socket\n", c->path);
	}
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		return -1;
	}
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "control socket %s: %s", c->path,
		         errno == EADDRINUSE ? "another tamperwatchd took it" : strerror(errno));
		return -1;
	}
	/* nobody can connect before listen(): the mode is right before anyone can */
	if (chmod(c->path, 0600) < 0 || listen(c->fd, 16) < 0) {
		snprintf(err, errlen, "control socket %s: %s", c->path, strerror(errno));
		unlink(c->path);
		return -1;
	}
	return 0;
}

struct tw_ctl *tw_ctl_start(const struct tw_ctl_opts *o, struct tw_status *st, struct tw_bus *bus, char *err,
                            size_t errlen)
{
	struct tw_ctl *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->fd = c->wake[0] = c->wake[1] = -1;
	if (!o->path || !*o->path || strlen(o->path) >= sizeof(c->path)) {
		snprintf(err, errlen, "control socket path empty or longer than %zu bytes", sizeof(c->path) - 1);
		free(c);
		return NULL;
	}
	c->o = *o;
	memcpy(c->path, o->path, strlen(o->path) + 1);
	c->o.path = c->path;
	c->st = st;
	c->bus = bus;
	pthread_mutex_init(&c->mu, NULL);
	if (!(c->conns = calloc(TW_CTL_MAX_CONN, sizeof(*c->conns)))) {
		snprintf(err, errlen, "out of memory");
		free(c);
		return NULL;
	}
	for (int i = 0; i < TW_CTL_MAX_CONN; i++)
		c->conns[i].fd = -1;
	tw_timeline_init(&c->tl);
	if (o->evidence_dir && !(c->evidence_dir = strdup(o->evidence_dir))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (claim(c, err, errlen) < 0)
		goto fail;
	/* a client gone between poll and accept must not block the loop in accept */
	if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		goto fail_unlink;
	}
	if (pipe2(c->wake, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		goto fail_unlink;
	}
	/* signals go to the main loop: the thread starts with them blocked, but
	 * for the sandbox's request to drop capabilities (util/privsig.h) */
	sigset_t all, old;
	sigfillset(&all);
	sigdelset(&all, TW_SIG_PRIVDROP);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&c->th, NULL, thread_main, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		snprintf(err, errlen, "control socket thread: %s", strerror(rc));
		goto fail_unlink;
	}
	return c;
fail_unlink:
	unlink(c->path);
fail:
	if (c->fd >= 0)
		close(c->fd);
	if (c->wake[0] >= 0) {
		close(c->wake[0]);
		close(c->wake[1]);
	}
	free(c->evidence_dir);
	free(c->conns);
	tw_timeline_free(&c->tl);
	pthread_mutex_destroy(&c->mu);
	free(c);
	return NULL;
}

void tw_ctl_on_record(void *c, const char *line, size_t len, struct json_object *obj)
{
	tw_timeline_sink(&((struct tw_ctl *)c)->tl, line, len, obj);
}

void tw_ctl_stop(struct tw_ctl *c)
{
	if (!c)
		return;
	ssize_t w = write(c->wake[1], "x", 1);
	(void)w;
	pthread_join(c->th, NULL);
	close(c->fd);
	close(c->wake[0]);
	close(c->wake[1]);
	unlink(c->path);
	tw_timeline_free(&c->tl);
	pthread_mutex_destroy(&c->mu);
	free(c->evidence_dir);
	free(c->conns);
	free(c);
}
