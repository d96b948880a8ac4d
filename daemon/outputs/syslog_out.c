#include "outputs/syslog_out.h"
#include "util/hostport.h"
#include "util/jsonbuf.h"
#include "outputs/status.h"
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- target and facility --------------------------------------------------- */

int tw_syslog_parse_target(const char *s, struct tw_syslog_target *t, char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	if (!strncmp(s, "unix:", 5))
		s += 5;
	if (s[0] == '/') {
		if (strlen(s) >= sizeof(t->path)) {
			snprintf(err, errlen, "socket path longer than %zu bytes", sizeof(t->path) - 1);
			return -1;
		}
		t->transport = TW_SYSLOG_UNIX;
		memcpy(t->path, s, strlen(s) + 1);
		return 0;
	}
	if (!strncmp(s, "udp://", 6))
		t->transport = TW_SYSLOG_UDP;
	else if (!strncmp(s, "tcp://", 6))
		t->transport = TW_SYSLOG_TCP;
	else {
		snprintf(err, errlen, "expected /PATH, unix:/PATH, udp://ADDR:PORT or tcp://ADDR:PORT");
		return -1;
	}
	return tw_hostport_parse(s + 6, &t->ss, &t->sl, err, errlen);
}

const char *tw_syslog_transport_name(enum tw_syslog_transport t)
{
	return t == TW_SYSLOG_UDP ? "udp" : t == TW_SYSLOG_TCP ? "tcp" : "unix";
}

int tw_syslog_facility(const char *name)
{
	static const char *const names[] = { "kern", "user", "mail", "daemon", "auth",     "syslog",
		                             "lpr",  "news", "uucp", "cron",   "authpriv", "ftp" };
	for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
		if (!strcmp(name, names[i]))
			return i;
	if (!strncmp(name, "local", 5) && name[5] >= '0' && name[5] <= '7' && !name[6])
		return 16 + name[5] - '0';
	return -1;
}

/* ---- the message ------------------------------------------------------------- */

static struct json_object *member(struct json_object *o, const char *k)
{
	struct json_object *v;
	return o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static const char *str_of(struct json_object *o, const char *k)
{
	struct json_object *v = member(o, k);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int tw_syslog_severity(struct json_object *obj)
{
	const char *et = str_of(obj, "event_type");
	if (et && !strcmp(et, "alert")) {
		struct json_object *a = member(obj, "alert");
		const char *state = str_of(a, "state");
		if (state && !strcmp(state, "resolved"))
			return 5; /* notice */
		struct json_object *sv = member(a, "severity");
		int sev = sv && json_object_is_type(sv, json_type_int) ? json_object_get_int(sv) : 0;
		return sev == 1 ? 2 : sev == 2 ? 3 : 4; /* crit, err, warning */
	}
	if (et && !strcmp(et, "link")) {
		const char *state = str_of(member(obj, "link"), "state");
		return state && !strcmp(state, "up") ? 5 : 4; /* up: notice; down: warning */
	}
	if (et && !strcmp(et, "gap"))
		return 4; /* we were blind for a while */
	return 6;         /* info */
}

struct out {
	char *p;
	size_t len, cap; /* cap excludes room kept for "]" and the NUL */
	int cut;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len + n > o->cap) {
		n = o->cap - o->len;
		o->cut = 1;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* PRINTUSASCII (33..126) or the NILVALUE, at most max */
static void put_token(struct out *o, const char *s, size_t max)
{
	size_t n = 0;
	if (s)
		while (n < max && s[n] > 32 && s[n] < 127)
			n++;
	if (!n || (s && s[n])) { /* empty or not a clean token: NILVALUE */
		puts_(o, "-");
		return;
	}
	put(o, s, n);
}

#define TW_SYSLOG_MAX_VALUE 512

/* PARAM-VALUE (RFC 5424 6.3.3): '"', '\' and ']' escaped with '\'; control
 * characters become '?'; at most TW_SYSLOG_MAX_VALUE bytes of the value */
static void put_param(struct out *o, const char *name, const char *v)
{
	size_t room = o->cap - o->len, need = strlen(name) + 4;
	if (room < need + 1) {
		o->cut = 1;
		return;
	}
	put(o, " ", 1);
	puts_(o, name);
	put(o, "=\"", 2);
	/* keep 1 byte for the closing quote */
	size_t lim = o->cap - 1;
	for (size_t i = 0; v[i]; i++) {
		unsigned char c = (unsigned char)v[i];
		char e[2] = { '\\', (char)c };
		size_t n = (c == '"' || c == '\\' || c == ']') ? 2 : 1;
		if (i >= TW_SYSLOG_MAX_VALUE || o->len + n > lim) {
			/* never end inside a UTF-8 sequence */
			while (i > 0 && o->len > 0 && ((unsigned char)o->p[o->len - 1] & 0xc0) == 0x80)
				o->len--, i--;
			if (o->len > 0 && ((unsigned char)o->p[o->len - 1] & 0xc0) == 0xc0)
				o->len--;
			o->cut = 1;
			break;
		}
		if (c < 32 || c == 127)
			e[1] = '?';
		memcpy(o->p + o->len, n == 2 ? e : e + 1, n);
		o->len += n;
	}
	o->p[o->len++] = '"';
}

static void put_json_param(struct out *o, const char *name, struct json_object *v)
{
	char num[32];
	if (!v)
		return;
	switch (json_object_get_type(v)) {
	case json_type_string: put_param(o, name, json_object_get_string(v)); break;
	case json_type_int:
		snprintf(num, sizeof(num), "%lld", (long long)json_object_get_int64(v));
		put_param(o, name, num);
		break;
	case json_type_double:
		snprintf(num, sizeof(num), "%.2f", json_object_get_double(v));
		put_param(o, name, num);
		break;
	case json_type_boolean: put_param(o, name, json_object_get_boolean(v) ? "true" : "false"); break;
	default: break; /* null, objects and arrays are not params */
	}
}

/* "2026-11-28T16:10:52.123456+0000" -> "2026-11-28T16:10:52.123456+00:00" */
static void put_timestamp(struct out *o, const char *ts)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd.dddddd+dddd";
	size_t n = ts ? strlen(ts) : 0;
	int okay = n == sizeof(pat) - 1;
	for (size_t i = 0; okay && i < n; i++)
		okay = pat[i] == 'd' ? (ts[i] >= '0' && ts[i] <= '9')
		                     : (pat[i] == '+' ? (ts[i] == '+' || ts[i] == '-') : ts[i] == pat[i]);
	if (!okay) {
		puts_(o, "-");
		return;
	}
	put(o, ts, n - 2);
	put(o, ":", 1);
	put(o, ts + n - 2, 2);
}

/* members of the record's own object (the "link" of a link record, ...) */
static void put_record_params(struct out *o, struct json_object *rec)
{
	int n = 0;
	if (!rec || !json_object_is_type(rec, json_type_object))
		return;
	json_object_object_foreach(rec, k, v)
	{
		size_t kl = strlen(k);
		int clean = kl > 0 && kl <= 32 && strcmp(k, "note");
		for (size_t i = 0; clean && i < kl; i++)
			clean = k[i] > 32 && k[i] < 127 && k[i] != '=' && k[i] != ']' && k[i] != '"';
		if (clean && n++ < 16)
			put_json_param(o, k, v);
	}
}

size_t tw_syslog_format(char *buf, size_t cap, int facility, const char *hostname, int pid, struct json_object *obj,
                        int *truncated)
{
	struct out o = { buf, 0, cap - 2, 0 }; /* room for ']' and NUL */
	const char *et = str_of(obj, "event_type");
	char hdr[64];

	snprintf(hdr, sizeof(hdr), "<%d>1 ", facility * 8 + tw_syslog_severity(obj));
	puts_(&o, hdr);
	put_timestamp(&o, str_of(obj, "timestamp"));
	put(&o, " ", 1);
	put_token(&o, hostname, 255);
	snprintf(hdr, sizeof(hdr), " tamperwatchd %d ", pid);
	puts_(&o, hdr);
	put_token(&o, et, 32); /* MSGID: alert, link, gap */
	put(&o, " [", 2);
	puts_(&o, TW_SYSLOG_SDID);
	const char *msg = NULL;
	if (et && !strcmp(et, "alert")) {
		struct json_object *a = member(obj, "alert"), *c = member(obj, "censorship"),
		                   *t = member(obj, "target");
		put_json_param(&o, "id", member(a, "id"));
		put_json_param(&o, "state", member(a, "state"));
		put_json_param(&o, "category", member(a, "category"));
		put_json_param(&o, "method", member(c, "method"));
		put_json_param(&o, "legitimacy", member(c, "legitimacy"));
		put_json_param(&o, "legal_reference", member(c, "legal_reference")); /* declared: the operator's text */
		put_json_param(&o, "confidence", member(c, "confidence"));
		put_json_param(&o, "domain", member(t, "domain"));
		put_json_param(&o, "ip", member(t, "ip"));
		put_json_param(&o, "port", member(t, "port"));
		put_json_param(&o, "proto", member(t, "proto"));
		put_json_param(&o, "region", member(member(obj, "scope"), "region"));
		put_json_param(&o, "signature_id", member(a, "signature_id"));
		put_json_param(&o, "severity", member(a, "severity"));
		msg = str_of(a, "signature");
	} else if (et) {
		put_record_params(&o, member(obj, et));
		msg = str_of(member(obj, et), "note");
	}
	/* the SD element always closes: its room was kept */
	o.p[o.len++] = ']';
	o.cap += 1;
	if (msg && *msg) {
		put(&o, " ", 1);
		size_t before = o.len;
		put(&o, msg, strlen(msg));
		if (o.cut) /* cut MSG: back off a split UTF-8 sequence */
			while (o.len > before && ((unsigned char)o.p[o.len - 1] & 0x80)) {
				o.len--;
				if (((unsigned char)o.p[o.len] & 0xc0) == 0xc0)
					break;
			}
	}
	buf[o.len] = 0;
	*truncated = o.cut;
	return o.len;
}

/* ---- transports ---------------------------------------------------------------- */

enum { DOWN, CONNECTING, UP };

struct qmsg {
	char *p;
	size_t len;
};

struct tw_syslog {
	struct tw_syslog_target t;
	int facility, pid;
	char hostname[256];
	struct tw_status *st;
	int fd, state;
	uint64_t next_try_ms, backoff_ms;
	/* tcp: framed messages waiting; head sent up to head_off */
	struct qmsg q[TW_SYSLOG_QUEUE_MSGS];
	size_t qhead, qn, qbytes, head_off;
	uint64_t sent, failed, truncated, connects;
	char buf[TW_SYSLOG_MAX + 16];
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000ull;
}

static void publish(struct tw_syslog *s)
{
	if (!s->st)
		return;
	pthread_mutex_lock(&s->st->mu);
	s->st->syslog.sent = s->sent;
	s->st->syslog.failed = s->failed;
	s->st->syslog.truncated = s->truncated;
	s->st->syslog.connects = s->connects;
	s->st->syslog.queued = s->qn;
	pthread_mutex_unlock(&s->st->mu);
}

static void disconnect(struct tw_syslog *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->state = DOWN;
	/* tcp: retry after 1 s, doubling to 60 s while it keeps failing;
	 * a datagram socket is cheap to reopen: every second */
	if (s->t.transport != TW_SYSLOG_TCP || !s->backoff_ms)
		s->backoff_ms = 1000;
	else
		s->backoff_ms = s->backoff_ms * 2 > 60000 ? 60000 : s->backoff_ms * 2;
	s->next_try_ms = mono_ms() + s->backoff_ms;
	if (s->head_off) { /* the receiver got part of it: lost */
		struct qmsg *m = &s->q[s->qhead];
		s->qbytes -= m->len;
		free(m->p);
		m->p = NULL;
		s->qhead = (s->qhead + 1) % TW_SYSLOG_QUEUE_MSGS;
		s->qn--;
		s->head_off = 0;
		s->failed++;
	}
}

static void try_connect(struct tw_syslog *s)
{
	struct sockaddr_un un;
	const struct sockaddr *sa = (const struct sockaddr *)&s->t.ss;
	socklen_t sl = s->t.sl;
	int type = s->t.transport == TW_SYSLOG_TCP ? SOCK_STREAM : SOCK_DGRAM;

	if (s->t.transport == TW_SYSLOG_UNIX) {
		memset(&un, 0, sizeof(un));
		un.sun_family = AF_UNIX;
		memcpy(un.sun_path, s->t.path, sizeof(un.sun_path));
		sa = (const struct sockaddr *)&un;
		sl = sizeof(un);
	}
	s->connects++;
	s->fd = socket(sa->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		disconnect(s);
		return;
	}
	if (connect(s->fd, sa, sl) == 0) {
		s->state = UP;
		s->backoff_ms = 0;
	} else if (errno == EINPROGRESS) {
		s->state = CONNECTING;
	} else {
		disconnect(s);
	}
}

/* tcp: move the connection on and write what the socket takes, never waiting */
static void pump(struct tw_syslog *s)
{
	if (s->state == DOWN && mono_ms() >= s->next_try_ms && s->qn)
		try_connect(s);
	if (s->state == CONNECTING) {
		struct pollfd pf = { .fd = s->fd, .events = POLLOUT };
		int e = 0;
		socklen_t el = sizeof(e);
		if (poll(&pf, 1, 0) <= 0)
			return;
		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e) {
			disconnect(s);
			return;
		}
		s->state = UP;
		s->backoff_ms = 0;
	}
	if (s->state != UP)
		return;
	/* the server sends nothing: readable means it closed (or reset) */
	struct pollfd pf = { .fd = s->fd, .events = POLLIN };
	if (poll(&pf, 1, 0) > 0) {
		char junk[256];
		ssize_t n = recv(s->fd, junk, sizeof(junk), MSG_DONTWAIT);
		if (n <= 0 && !(n < 0 && errno == EAGAIN)) {
			disconnect(s);
			return;
		}
	}
	while (s->qn) {
		struct qmsg *m = &s->q[s->qhead];
		ssize_t n = send(s->fd, m->p + s->head_off, m->len - s->head_off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			disconnect(s);
			return;
		}
		s->head_off += (size_t)n;
		if (s->head_off < m->len)
			return;
		s->head_off = 0;
		s->qbytes -= m->len;
		free(m->p);
		m->p = NULL;
		s->qhead = (s->qhead + 1) % TW_SYSLOG_QUEUE_MSGS;
		s->qn--;
		s->sent++;
	}
}

static void enqueue(struct tw_syslog *s, const char *msg, size_t len)
{
	char pre[16];
	int pl = snprintf(pre, sizeof(pre), "%zu ", len); /* RFC 6587 octet counting */
	size_t total = (size_t)pl + len;
	if (s->qn == TW_SYSLOG_QUEUE_MSGS || s->qbytes + total > TW_SYSLOG_QUEUE_BYTES) {
		s->failed++;
		return;
	}
	char *p = malloc(total);
	if (!p) {
		s->failed++;
		return;
	}
	memcpy(p, pre, (size_t)pl);
	memcpy(p + pl, msg, len);
	struct qmsg *m = &s->q[(s->qhead + s->qn) % TW_SYSLOG_QUEUE_MSGS];
	m->p = p;
	m->len = total;
	s->qn++;
	s->qbytes += total;
}

static void send_dgram(struct tw_syslog *s, const char *msg, size_t len)
{
	if (s->state != UP) {
		if (mono_ms() < s->next_try_ms) {
			s->failed++;
			return;
		}
		try_connect(s);
		if (s->state != UP) {
			s->failed++;
			return;
		}
	}
	if (send(s->fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len) {
		s->sent++;
		return;
	}
	s->failed++;
	/* the unix socket may have been re-created by a syslog restart: reopen
	 * later; udp keeps its socket (errors are ICMP from the last sends) */
	if (s->t.transport == TW_SYSLOG_UNIX && errno != EAGAIN)
		disconnect(s);
}

struct tw_syslog *tw_syslog_new(const struct tw_syslog_target *t, int facility, struct tw_status *st, char *err,
                                size_t errlen)
{
	struct tw_syslog *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "syslog: out of memory");
		return NULL;
	}
	s->t = *t;
	s->facility = facility;
	s->pid = (int)getpid();
	s->st = st;
	s->fd = -1;
	if (gethostname(s->hostname, sizeof(s->hostname) - 1) < 0)
		s->hostname[0] = 0;
	/* a socket we cannot even make is a start failure; a server that is
	 * not there yet is not (datagram sockets connect at the first send) */
	int fd = socket(t->transport == TW_SYSLOG_UNIX ? AF_UNIX : t->ss.ss_family,
	                (t->transport == TW_SYSLOG_TCP ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "syslog: socket: %s", strerror(errno));
		free(s);
		return NULL;
	}
	close(fd);
	if (st) {
		pthread_mutex_lock(&st->mu);
		st->syslog.enabled = 1;
		snprintf(st->syslog.transport, sizeof(st->syslog.transport), "%s",
		         tw_syslog_transport_name(t->transport));
		pthread_mutex_unlock(&st->mu);
	}
	if (t->transport != TW_SYSLOG_TCP)
		try_connect(s); /* failing here is retried at the next message */
	return s;
}

void tw_syslog_sink(void *arg, const char *line, size_t len, struct json_object *obj)
{
	struct tw_syslog *s = arg;
	int cut = 0;
	(void)line;
	(void)len;
	size_t n = tw_syslog_format(s->buf, TW_SYSLOG_MAX, s->facility, s->hostname, s->pid, obj, &cut);
	if (cut)
		s->truncated++;
	if (s->t.transport == TW_SYSLOG_TCP) {
		enqueue(s, s->buf, n);
		pump(s);
	} else {
		send_dgram(s, s->buf, n);
	}
	publish(s);
}

/* what is still queued is lost: counted */
static void drop_queue(struct tw_syslog *s)
{
	while (s->qn) {
		free(s->q[s->qhead].p);
		s->q[s->qhead].p = NULL;
		s->qhead = (s->qhead + 1) % TW_SYSLOG_QUEUE_MSGS;
		s->qn--;
		s->failed++;
	}
	s->qbytes = 0;
	s->head_off = 0;
}

void tw_syslog_tick(void *arg, uint64_t now, int final)
{
	struct tw_syslog *s = arg;
	(void)now;
	if (s->t.transport == TW_SYSLOG_TCP) {
		pump(s);
		/* end of the run: a bounded wait for the queue, then what is left is lost */
		uint64_t until = mono_ms() + TW_SYSLOG_DRAIN_MS;
		while (final && s->qn && mono_ms() < until) {
			if (s->state == DOWN)
				s->next_try_ms = 0;
			if (s->fd >= 0) {
				struct pollfd pf = { .fd = s->fd, .events = POLLOUT };
				poll(&pf, 1, 50);
			} else {
				poll(NULL, 0, 50);
			}
			pump(s);
		}
		if (final)
			drop_queue(s);
	}
	publish(s);
}

void tw_syslog_stats(void *arg, struct tw_jb *b)
{
	struct tw_syslog *s = arg;
	tw_jb_obj_open(b, "syslog");
	tw_jb_str(b, "transport", tw_syslog_transport_name(s->t.transport));
	tw_jb_u64(b, "sent", s->sent);
	tw_jb_u64(b, "failed", s->failed);
	tw_jb_u64(b, "truncated", s->truncated);
	tw_jb_u64(b, "connects", s->connects);
	tw_jb_u64(b, "queued", s->qn);
	tw_jb_obj_close(b);
}

void tw_syslog_free(struct tw_syslog *s)
{
	if (!s)
		return;
	drop_queue(s);
	publish(s);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}
