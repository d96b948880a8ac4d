/* tamperwatch: the operator's view of a running tamperwatchd, over its
 * control socket (README "tamperwatch (operator CLI)", daemon/control/ctl.h). */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "util/progress.h"
#include "control/ctl.h"
#include "control/ctlreq.h"
#include "util/fdio.h"

#define MAX_RESPONSE (256u << 20) /* a JSON response line; reports add their announced bytes */
#define IO_TIMEOUT_S 60

enum { EXIT_OK = 0, EXIT_DAEMON = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

static const char *sock_path = TW_CTL_DEFAULT_PATH;

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: tamperwatch [--socket PATH] [--json] COMMAND [OPTIONS]\n"
	        "\n"
	        "The operator's view of a running tamperwatchd, over its control socket.\n"
	        "\n"
	        "Commands:\n"
	        "  status                     backend, interfaces, uptime, packets, bytes, active\n"
	        "                             flows, events (and lost), parse errors, verdicts, open alerts\n"
	        "  alerts [--state open|resolved|all] [--method M] [--category C]\n"
	        "         [--legitimacy L] [--since DURATION]\n"
	        "                             open and recently resolved alerts, newest first (default\n"
	        "                             --state all); DURATION: 90s, 15m, 2h, 7d or seconds\n"
	        "  targets [--top N]          the most affected targets (tampered flows in the alert\n"
	        "                             window) with methods and shares; N from 1 to %d\n"
	        "  throttling [--state open|resolved|all]\n"
	        "                             throttled targets (default --state open): variant, rate,\n"
	        "                             directions, and the same clients' other targets (control)\n"
	        "  report ALERT_ID [-o FILE]  write a privacy-safe report bundle of one alert (.tar.gz:\n"
	        "                             alert.json, timeline.txt, README.txt, evidence.pcap when\n"
	        "                             there is one) to FILE (default tamperwatch-report-ID.tar.gz,\n"
	        "                             '-': standard output)\n"
	        "\n"
	        "Options:\n"
	        "      --socket PATH   the daemon's control socket (default %s)\n"
	        "      --json          machine-readable output: status and targets as one JSON object,\n"
	        "                      alerts as the daemon's alert lines (JSON lines), verbatim\n"
	        "  -h, --help          this text\n"
	        "\n"
	        "Exit status: 0 ok; 1 the daemon answered with an error (printed); 2 bad command\n"
	        "line; 3 the daemon could not be reached (not running, or no permission: the\n"
	        "socket is for root only).\n",
	        TW_CTL_TOP_MAX, TW_CTL_DEFAULT_PATH);
}

static int usage_error(const char *fmt, const char *a)
{
	fprintf(stderr, "tamperwatch: ");
	fprintf(stderr, fmt, a);
	fprintf(stderr, " (try --help)\n");
	return EXIT_USAGE;
}

/* ---- talking to the daemon -------------------------------------------- */

static int connect_daemon(void)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(sock_path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "tamperwatch: --socket %s: path too long\n", sock_path);
		return -EXIT_USAGE;
	}
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		fprintf(stderr, "tamperwatch: cannot reach tamperwatchd at %s: %s (%s)\n", sock_path, strerror(e),
		        e == EACCES || e == EPERM ? "the control socket is for root: run as root"
		                                  : "is tamperwatchd running? --socket names another path");
		if (fd >= 0)
			close(fd);
		return -EXIT_UNREACHABLE;
	}
	struct timeval tv = { IO_TIMEOUT_S, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

struct resp {
	char *p; /* everything read */
	size_t n, cap;
	size_t line; /* length of the first line (without '\n') */
	struct json_object *o;
};

static int read_more(int fd, struct resp *r)
{
	if (r->n + 65536 + 1 > r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 131072;
		char *np = realloc(r->p, nc);
		if (!np)
			return -1;
		r->p = np;
		r->cap = nc;
	}
	ssize_t got;
	do
		got = recv(fd, r->p + r->n, r->cap - r->n - 1, 0);
	while (got < 0 && errno == EINTR);
	if (got > 0) {
		r->n += (size_t)got;
		r->p[r->n] = 0;
	}
	return (int)(got > 0 ? 1 : got);
}

/* send the request, read the JSON line; 0 or an exit status */
static int request(const struct tw_ctl_req *rq, int *fdp, struct resp *r)
{
	char line[TW_CTL_REQ_MAX + 2];
	long len = tw_ctl_req_format(rq, line, sizeof(line));
	if (len < 0)
		return usage_error("%s: request too long", tw_ctl_cmd_name(rq->cmd));
	int fd = connect_daemon();
	if (fd < 0)
		return -fd;
	/* a daemon that refuses us answers and closes without reading: the
	 * answer is still there to read even when the send fails */
	int send_err = send(fd, line, (size_t)len, MSG_NOSIGNAL) != len ? errno : 0;
	memset(r, 0, sizeof(*r));
	char *nl = NULL;
	while (!(nl = r->p ? memchr(r->p, '\n', r->n) : NULL)) {
		int rc = r->n > MAX_RESPONSE ? -1 : read_more(fd, r);
		if (rc <= 0 && send_err && !r->n) {
			fprintf(stderr, "tamperwatch: %s: sending the request: %s\n", sock_path, strerror(send_err));
			close(fd);
			free(r->p);
			return EXIT_UNREACHABLE;
		}
		if (rc <= 0) {
			fprintf(stderr, "tamperwatch: %s: %s\n", sock_path,
			        rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? "no answer in time"
			        : rc < 0                                            ? "response too large or unreadable"
			                 : "the daemon closed the connection without an answer");
			close(fd);
			return EXIT_DAEMON;
		}
	}
	r->line = (size_t)(nl - r->p);
	struct json_tokener *tok = json_tokener_new();
	r->o = tok ? json_tokener_parse_ex(tok, r->p, (int)r->line) : NULL;
	if (tok)
		json_tokener_free(tok);
	struct json_object *ok, *err;
	if (!r->o || !json_object_object_get_ex(r->o, "ok", &ok)) {
		fprintf(stderr, "tamperwatch: %s: not a tamperwatchd answer\n", sock_path);
		close(fd);
		return EXIT_DAEMON;
	}
	if (!json_object_get_boolean(ok)) {
		fprintf(stderr, "tamperwatch: %s\n",
		        json_object_object_get_ex(r->o, "error", &err) ? json_object_get_string(err)
		                                                       : "the daemon refused the request");
		close(fd);
		return EXIT_DAEMON;
	}
	*fdp = fd;
	return 0;
}

static void resp_free(struct resp *r)
{
	json_object_put(r->o);
	free(r->p);
}

/* ---- helpers for the readable output ---------------------------------- */

static struct json_object *at(struct json_object *o, const char *k1, const char *k2)
{
	struct json_object *a = o, *v = NULL;
	if (k1 && !json_object_object_get_ex(o, k1, &a))
		return NULL;
	if (!json_object_object_get_ex(a, k2, &v))
		return NULL;
	return v;
}

static const char *s_at(struct json_object *o, const char *k1, const char *k2)
{
	struct json_object *v = at(o, k1, k2);
	return v && !json_object_is_type(v, json_type_null) ? json_object_get_string(v) : "-";
}

/* an alert's subject: DOMAIN|IP:PORT/PROTO (port 0 is a site's shaping
 * alert, all its ports: "*"), or for a region-wide throttling alert
 * (scope.level) "region NAME" or its client prefix */
static void alert_subject(struct json_object *a, char *out, size_t cap)
{
	const char *level = s_at(a, "scope", "level"), *dom = s_at(a, "target", "domain"),
	           *port = s_at(a, "target", "port");
	if (strcmp(level, "-")) {
		struct json_object *p = at(a, "scope", "prefixes");
		const char *first = p && json_object_array_length(p)
		                            ? json_object_get_string(json_object_array_get_idx(p, 0))
		                            : "-";
		if (!strcmp(level, "region"))
			snprintf(out, cap, "region %s", s_at(a, "scope", "region"));
		else
			snprintf(out, cap, "%s", first ? first : "-");
		return;
	}
	snprintf(out, cap, "%s:%s/%s", strcmp(dom, "-") ? dom : s_at(a, "target", "ip"), strcmp(port, "0") ? port : "*",
	         s_at(a, "target", "proto"));
}

static unsigned long long u_at(struct json_object *o, const char *k1, const char *k2)
{
	struct json_object *v = at(o, k1, k2);
	return v ? (unsigned long long)json_object_get_uint64(v) : 0;
}

static void print_json(struct json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void join_array(struct json_object *a, char *out, size_t cap)
{
	out[0] = 0;
	size_t n = a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(out);
		snprintf(out + l, cap - l, "%s%s", i ? "," : "",
		         json_object_get_string(json_object_array_get_idx(a, i)));
	}
	if (!n)
		snprintf(out, cap, "-");
}

/* ---- commands ---------------------------------------------------------- */

static int cmd_status(int json)
{
	struct tw_ctl_req rq;
	struct resp r;
	int fd, rc;
	tw_ctl_req_init(&rq, TW_CTL_STATUS);
	if ((rc = request(&rq, &fd, &r)))
		return rc;
	close(fd);
	struct json_object *s = at(r.o, NULL, "status");
	if (json) {
		print_json(s);
		resp_free(&r);
		return 0;
	}
	unsigned long long up = u_at(s, NULL, "uptime_s");
	printf("tamperwatchd %s, backend %s, pid %s, up %llud %02lluh %02llum %02llus\n", s_at(s, NULL, "version"),
	       s_at(s, NULL, "backend"), s_at(s, NULL, "pid"), up / 86400, up / 3600 % 24, up / 60 % 60, up % 60);
	struct json_object *ifs = at(s, NULL, "interfaces");
	size_t nif = ifs ? json_object_array_length(ifs) : 0;
	printf("interfaces:%s\n", nif ? "" : "   none (replay)");
	for (size_t i = 0; i < nif; i++) {
		struct json_object *l = json_object_array_get_idx(ifs, i);
		struct json_object *upv = at(l, NULL, "up");
		printf("  %-16s %-12s %s\n", s_at(l, NULL, "name"), s_at(l, NULL, "mode"),
		       !upv || json_object_is_type(upv, json_type_null) ? "state unknown"
		       : json_object_get_boolean(upv)                   ? "up"
		                                                        : "DOWN");
	}
	printf("packets:      %llu (%llu bytes)\n", u_at(s, NULL, "packets"), u_at(s, NULL, "bytes"));
	printf("flows:        %llu active, %llu new since start\n", u_at(s, NULL, "flows_active"),
	       u_at(s, NULL, "flows_new"));
	printf("events:       %llu, lost %llu\n", u_at(s, NULL, "events"), u_at(s, NULL, "events_lost"));
	printf("parse errors: %llu packets, %llu events, %llu alert lines\n", u_at(s, "parse_errors", "packets"),
	       u_at(s, "parse_errors", "events_malformed"), u_at(s, "parse_errors", "alert_lines"));
	printf("verdicts:     %llu", u_at(s, NULL, "verdicts_total"));
	struct json_object *vd = at(s, NULL, "verdicts");
	int first = 1;
	if (vd) {
		json_object_object_foreach(vd, k, v)
		{
			if (json_object_get_uint64(v)) {
				printf("%s%s %llu", first ? " (" : ", ", k,
				       (unsigned long long)json_object_get_uint64(v));
				first = 0;
			}
		}
	}
	printf("%s\n", first ? "" : ")");
	printf("alerts:       %llu open\n", u_at(s, NULL, "open_alerts"));
	printf("control:      %llu requests, %llu refused, %llu bad, %llu timed out\n", u_at(s, "control", "requests"),
	       u_at(s, "control", "refused"), u_at(s, "control", "bad_requests"), u_at(s, "control", "timeouts"));
	resp_free(&r);
	return 0;
}

static int cmd_alerts(const struct tw_ctl_req *rq, int json)
{
	struct resp r;
	int fd, rc;
	if ((rc = request(rq, &fd, &r)))
		return rc;
	close(fd);
	struct json_object *arr = at(r.o, NULL, "alerts");
	size_t n = arr ? json_object_array_length(arr) : 0;
	unsigned long long omitted = u_at(r.o, NULL, "omitted");
	if (json) {
		/* the daemon's lines verbatim: walk the array in the raw text */
		static const char head[] = "{\"ok\":true,\"alerts\":[";
		const char *p = r.p + sizeof(head) - 1, *end = r.p + r.line;
		if (strncmp(r.p, head, sizeof(head) - 1)) {
			fprintf(stderr, "tamperwatch: unexpected answer layout\n");
			resp_free(&r);
			return EXIT_DAEMON;
		}
		for (size_t i = 0; i < n && p < end; i++) {
			struct json_tokener *tok = json_tokener_new();
			struct json_object *o = tok ? json_tokener_parse_ex(tok, p, (int)(end - p)) : NULL;
			size_t used = tok ? json_tokener_get_parse_end(tok) : 0;
			json_tokener_free(tok);
			json_object_put(o);
			if (!o || !used)
				break;
			printf("%.*s\n", (int)used, p);
			p += used;
			if (p < end && *p == ',')
				p++;
		}
		if (omitted)
			fprintf(stderr, "tamperwatch: %llu more alerts not shown\n", omitted);
		resp_free(&r);
		return 0;
	}
	if (!n) {
		printf("no alerts (%s)\n", tw_ctl_state_name(rq->state));
		resp_free(&r);
		return 0;
	}
	printf("%-16s %-8s %-16s %-10s %-28s %-9s %-7s %s\n", "ID", "STATE", "METHOD", "LEGITIMACY", "TARGET",
	       "TAMPERED", "CLIENTS", "LAST LINE (UTC)");
	for (size_t i = 0; i < n; i++) {
		struct json_object *a = json_object_array_get_idx(arr, i);
		char target[320], tam[48], when[24];
		alert_subject(a, target, sizeof(target));
		snprintf(tam, sizeof(tam), "%llu/%llu", u_at(a, "stats", "affected_flows"), u_at(a, "stats", "flows"));
		snprintf(when, sizeof(when), "%.19s", s_at(a, NULL, "timestamp"));
		printf("%-16s %-8s %-16s %-10s %-28s %-9s %-7s %s\n", s_at(a, "alert", "id"), s_at(a, "alert", "state"),
		       s_at(a, "censorship", "method"), s_at(a, "censorship", "legitimacy"), target, tam,
		       s_at(a, "stats", "clients"), when);
	}
	printf("%zu alert%s%s", n, n == 1 ? "" : "s", omitted ? "" : "\n");
	if (omitted)
		printf(" (%llu more not shown)\n", omitted);
	resp_free(&r);
	return 0;
}

/* rate in bit/s as "130.0k", "1.02M" */
static void fmt_rate(struct json_object *v, char *out, size_t cap)
{
	if (!v || json_object_is_type(v, json_type_null)) {
		snprintf(out, cap, "-");
		return;
	}
	double r = json_object_get_double(v);
	if (r >= 1e6)
		snprintf(out, cap, "%.2fM", r / 1e6);
	else if (r >= 1e3)
		snprintf(out, cap, "%.1fk", r / 1e3);
	else
		snprintf(out, cap, "%.0f", r);
}

/* The throttling alerts (an alerts request with category throttling): the
 * target, how it is throttled and how fast the same clients reach others. */
static int cmd_throttling(const struct tw_ctl_req *rq, int json)
{
	if (json)
		return cmd_alerts(rq, json);
	struct resp r;
	int fd, rc;
	if ((rc = request(rq, &fd, &r)))
		return rc;
	close(fd);
	struct json_object *arr = at(r.o, NULL, "alerts");
	size_t n = arr ? json_object_array_length(arr) : 0;
	if (!n) {
		printf("no throttling alerts (%s)\n", tw_ctl_state_name(rq->state));
		resp_free(&r);
		return 0;
	}
	printf("%-28s %-9s %9s %6s %-19s %9s %7s %-7s %-8s %s\n", "TARGET", "VARIANT", "RATE", "SPREAD", "DIRECTIONS",
	       "CONTROL", "SPEEDUP", "CLIENTS", "STATE", "ID");
	for (size_t i = 0; i < n; i++) {
		struct json_object *a = json_object_array_get_idx(arr, i);
		struct json_object *st = at(a, NULL, "stats"), *c = st ? at(st, NULL, "control") : NULL;
		char target[320], rate[24], crate[24], dirs[64], speed[24];
		alert_subject(a, target, sizeof(target));
		fmt_rate(st ? at(st, NULL, "rate_bps") : NULL, rate, sizeof(rate));
		fmt_rate(c ? at(c, NULL, "rate_bps") : NULL, crate, sizeof(crate));
		join_array(st ? at(st, NULL, "directions") : NULL, dirs, sizeof(dirs));
		struct json_object *sp = c ? at(c, NULL, "speedup") : NULL;
		if (sp && !json_object_is_type(sp, json_type_null))
			snprintf(speed, sizeof(speed), "%.1fx", json_object_get_double(sp));
		else
			snprintf(speed, sizeof(speed), "-");
		printf("%-28s %-9s %9s %6s %-19s %9s %7s %-7s %-8s %s\n", target, s_at(a, "stats", "variant"), rate,
		       s_at(a, "stats", "rate_spread"), dirs, crate, speed, s_at(a, "stats", "clients"),
		       s_at(a, "alert", "state"), s_at(a, "alert", "id"));
	}
	resp_free(&r);
	return 0;
}

static int cmd_targets(const struct tw_ctl_req *rq, int json)
{
	struct resp r;
	int fd, rc;
	if ((rc = request(rq, &fd, &r)))
		return rc;
	close(fd);
	struct json_object *arr = at(r.o, NULL, "targets");
	size_t n = arr ? json_object_array_length(arr) : 0;
	if (json) {
		print_json(r.o);
		resp_free(&r);
		return 0;
	}
	if (!n) {
		printf("no target with tampered flows in the alert window\n");
		resp_free(&r);
		return 0;
	}
	printf("%-32s %-16s %-9s %7s %8s %6s %-28s %7s %s\n", "TARGET", "IP", "PORT", "FLOWS", "TAMPERED", "SHARE",
	       "METHODS", "CLIENTS", "OPEN ALERT");
	for (size_t i = 0; i < n; i++) {
		struct json_object *t = json_object_array_get_idx(arr, i);
		char port[24], methods[200];
		snprintf(port, sizeof(port), "%s/%s", s_at(t, NULL, "port"), s_at(t, NULL, "proto"));
		join_array(at(t, NULL, "methods_seen"), methods, sizeof(methods));
		printf("%-32s %-16s %-9s %7llu %8llu %5.0f%% %-28s %7llu %s\n", s_at(t, NULL, "domain"),
		       s_at(t, NULL, "ip"), port, u_at(t, NULL, "flows"), u_at(t, NULL, "tampered_flows"),
		       100 * json_object_get_double(at(t, NULL, "share")), methods, u_at(t, NULL, "clients"),
		       s_at(t, NULL, "alert_id"));
	}
	resp_free(&r);
	return 0;
}

/* Where a report goes, decided before the daemon is asked.  A new name or a
   regular file: written to PATH.part-PID and renamed over PATH when complete.
   An existing FIFO or character device: written through as a stream (what
   someone naming /dev/stdout or a pipe means), never replaced.  Anything else
   (symbolic link, directory, socket, block device) is refused: a report never
   replaces it or follows it somewhere else.  Returns the fd, -1 with err set. */
static int open_output(const char *path, char *tmp, size_t tmpcap, int *stream, char *err, size_t errlen)
{
	struct stat st;
	*stream = 0;
	tmp[0] = 0;
	if (lstat(path, &st) < 0) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
	} else if (!S_ISREG(st.st_mode)) {
		if (S_ISLNK(st.st_mode)) {
			snprintf(err, errlen, "%s: is a symbolic link; refusing to follow it (name its target)", path);
			return -1;
		}
		if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode)) {
			snprintf(err, errlen,
			         "%s: not a regular file, FIFO or character device; refusing to replace it", path);
			return -1;
		}
		/* O_NOFOLLOW, then fstat: the name may have changed since lstat */
		int fd = open(path, O_WRONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0 || !(S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode))) {
			snprintf(err, errlen, "%s: %s", path,
			         fd < 0 ? (errno == ELOOP ? "is a symbolic link" : strerror(errno))
			                : "changed while being opened");
			if (fd >= 0)
				close(fd);
			return -1;
		}
		*stream = 1;
		return fd;
	}
	if ((size_t)snprintf(tmp, tmpcap, "%s.part-%d", path, (int)getpid()) >= tmpcap) {
		snprintf(err, errlen, "%s: name too long", path);
		tmp[0] = 0;
		return -1;
	}
	/* O_EXCL: never through a name someone planted (a link is not followed) */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		tmp[0] = 0;
	}
	return fd;
}

static int cmd_report(const struct tw_ctl_req *rq, const char *outfile, int json)
{
	struct resp r;
	int fd, rc, stream = 0;
	char def[128], tmp[4200] = "", oerr[4400];
	if (!outfile) {
		snprintf(def, sizeof(def), "tamperwatch-report-%s.tar.gz", rq->id);
		outfile = def;
	}
	int to_stdout = !strcmp(outfile, "-");
	int out = 1;
	if (!to_stdout && (out = open_output(outfile, tmp, sizeof(tmp), &stream, oerr, sizeof(oerr))) < 0) {
		fprintf(stderr, "tamperwatch: %s\n", oerr);
		return EXIT_DAEMON;
	}
	if ((rc = request(rq, &fd, &r))) {
		if (!to_stdout) {
			close(out);
			if (tmp[0])
				unlink(tmp);
		}
		return rc;
	}
	unsigned long long want = u_at(r.o, "report", "bytes");
	/* the bytes after the JSON line, then the rest from the socket */
	unsigned long long have = 0;
	const char *msg = NULL;
	size_t first = r.n - r.line - 1;
	if (first > want)
		first = (size_t)want;
	if (first && tw_write_full(out, r.p + r.line + 1, first) < 0)
		msg = strerror(errno);
	have = first;
	char buf[65536];
	struct tw_progress pg; /* a large bundle (evidence up to 64 MiB): progress on a terminal */
	tw_progress_init(&pg, "report");
	while (!msg && have < want) {
		tw_progress_update(&pg, UINT64_MAX, have, have, want);
		size_t ask = want - have < sizeof(buf) ? (size_t)(want - have) : sizeof(buf);
		ssize_t got = recv(fd, buf, ask, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			msg = got < 0 ? strerror(errno) : "the daemon closed the connection early";
			break;
		}
		if (tw_write_full(out, buf, (size_t)got) < 0)
			msg = strerror(errno);
		have += (unsigned long long)got;
	}
	tw_progress_end(&pg);
	close(fd);
	if (!to_stdout && (close(out) < 0) && !msg)
		msg = strerror(errno);
	if (!msg && tmp[0] && rename(tmp, outfile) < 0)
		msg = strerror(errno);
	if (msg) {
		fprintf(stderr, "tamperwatch: report %s: %s: %s\n", rq->id, to_stdout ? "standard output" : outfile,
		        msg);
		if (tmp[0])
			unlink(tmp);
		resp_free(&r);
		return EXIT_DAEMON;
	}
	if (json && !to_stdout) {
		json_object_object_add(at(r.o, NULL, "report"), "file", json_object_new_string(outfile));
		print_json(at(r.o, NULL, "report"));
	} else if (!to_stdout) {
		struct json_object *note = at(r.o, "report", "evidence_note");
		struct json_object *pnote = at(r.o, "report", "plot_note");
		printf("wrote %s%s (%llu bytes, %s records; evidence capture %s%s%s; plot %s%s%s)\n",
		       stream ? "through " : "", outfile, want, s_at(r.o, "report", "records"),
		       json_object_get_boolean(at(r.o, "report", "evidence")) ? "included" : "not included",
		       note ? ": " : "", note ? json_object_get_string(note) : "",
		       json_object_get_boolean(at(r.o, "report", "plot")) ? "included" : "not included",
		       pnote ? ": " : "", pnote ? json_object_get_string(pnote) : "");
	}
	resp_free(&r);
	return 0;
}

/* ---- command line ------------------------------------------------------ */

/* "--opt VALUE" or "--opt=VALUE": the value, advancing *i; NULL if not this option */
static const char *optval(int argc, char **argv, int *i, const char *name, int *missing)
{
	size_t n = strlen(name);
	if (strncmp(argv[*i], name, n))
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n])
		return NULL;
	if (*i + 1 >= argc) {
		*missing = 1;
		return NULL;
	}
	return argv[++*i];
}

static int set_str(char *dst, size_t cap, const char *opt, const char *v)
{
	if (!tw_ctl_token_ok(v) || strlen(v) >= cap)
		return usage_error("bad value for %s", opt);
	snprintf(dst, cap, "%s", v);
	return 0;
}

int main(int argc, char **argv)
{
	int json = 0, missing = 0;
	const char *cmd = NULL, *outfile = NULL, *v;
	struct tw_ctl_req rq;
	tw_ctl_req_init(&rq, TW_CTL_NONE);

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(a, "--json")) {
			json = 1;
			continue;
		}
		if ((v = optval(argc, argv, &i, "--socket", &missing))) {
			sock_path = v;
			continue;
		}
		if (missing)
			return usage_error("%s needs a value", a);
		if (!cmd) {
			if (a[0] == '-')
				return usage_error("unknown option '%s'", a);
			cmd = a;
			if (!strcmp(cmd, "status"))
				rq.cmd = TW_CTL_STATUS;
			else if (!strcmp(cmd, "alerts"))
				rq.cmd = TW_CTL_ALERTS;
			else if (!strcmp(cmd, "targets"))
				rq.cmd = TW_CTL_TARGETS;
			else if (!strcmp(cmd, "throttling")) {
				/* the throttling alerts, open unless --state says otherwise */
				rq.cmd = TW_CTL_ALERTS;
				rq.state = TW_CTL_OPEN;
				snprintf(rq.category, sizeof(rq.category), "throttling");
			} else if (!strcmp(cmd, "report"))
				rq.cmd = TW_CTL_REPORT;
			else
				return usage_error("unknown command '%s'", cmd);
			continue;
		}
		int rc = -1;
		if (rq.cmd == TW_CTL_ALERTS) {
			int thr = !strcmp(cmd, "throttling"); /* --state only */
			if ((v = optval(argc, argv, &i, "--state", &missing))) {
				if (!strcmp(v, "open"))
					rq.state = TW_CTL_OPEN;
				else if (!strcmp(v, "resolved"))
					rq.state = TW_CTL_RESOLVED;
				else if (!strcmp(v, "all"))
					rq.state = TW_CTL_ALL;
				else
					return usage_error("--state: expected open, resolved or all, got '%s'", v);
				rc = 0;
			} else if (thr)
				rc = -1;
			else if ((v = optval(argc, argv, &i, "--method", &missing)))
				rc = set_str(rq.method, sizeof(rq.method), "--method", v);
			else if ((v = optval(argc, argv, &i, "--category", &missing)))
				rc = set_str(rq.category, sizeof(rq.category), "--category", v);
			else if ((v = optval(argc, argv, &i, "--legitimacy", &missing)))
				rc = set_str(rq.legitimacy, sizeof(rq.legitimacy), "--legitimacy", v);
			else if ((v = optval(argc, argv, &i, "--since", &missing))) {
				if (tw_ctl_parse_duration(v, &rq.since_s) < 0)
					return usage_error(
					        "--since: expected a duration such as 90s, 15m, 2h or 7d, got '%s'", v);
				rc = 0;
			}
		} else if (rq.cmd == TW_CTL_TARGETS) {
			if ((v = optval(argc, argv, &i, "--top", &missing))) {
				char *end;
				long n = strtol(v, &end, 10);
				if (*end || n < 1 || n > TW_CTL_TOP_MAX)
					return usage_error("--top: expected a whole number from 1 to 20, got '%s'", v);
				rq.top = (int)n;
				rc = 0;
			}
		} else if (rq.cmd == TW_CTL_REPORT) {
			if ((v = optval(argc, argv, &i, "-o", &missing)) ||
			    (v = optval(argc, argv, &i, "--output", &missing))) {
				outfile = v;
				rc = 0;
			} else if (!missing && a[0] != '-' && !rq.id[0]) {
				if (!tw_ctl_token_ok(a) || strlen(a) >= sizeof(rq.id))
					return usage_error("'%s' is not an alert id", a);
				snprintf(rq.id, sizeof(rq.id), "%s", a);
				rc = 0;
			}
		}
		if (missing)
			return usage_error("%s needs a value", a);
		if (rc > 0)
			return rc;
		if (rc < 0)
			return usage_error("unexpected argument '%s'", a);
	}
	switch (rq.cmd) {
	case TW_CTL_STATUS: return cmd_status(json);
	case TW_CTL_ALERTS: return !strcmp(cmd, "throttling") ? cmd_throttling(&rq, json) : cmd_alerts(&rq, json);
	case TW_CTL_TARGETS: return cmd_targets(&rq, json);
	case TW_CTL_REPORT:
		if (!rq.id[0])
			return usage_error("%s: which alert? (tamperwatch report ALERT_ID)", "report");
		return cmd_report(&rq, outfile, json);
	default: return usage_error("%s", "no command given: status, alerts, targets, throttling or report");
	}
}
