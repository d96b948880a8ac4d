#include "outputs/metrics.h"
#include "outputs/bus.h"
#include "util/hostport.h"
#include "events/pipeline.h"
#include "outputs/status.h"
#include "outputs/statuspage.h"
#include "util/textbuf.h"
#include "verdicts/verdict.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- exposition text -------------------------------------------------------- */

struct sb {
	char *p;
	size_t len, cap;
	int oom;
};

static void sb_add(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(struct sb *b, const char *fmt, ...)
{
	for (int tries = 0; tries < 2 && !b->oom; tries++) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
		if (b->p && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t ncap = b->cap ? b->cap : 16384;
		while (ncap - b->len <= (size_t)n)
			ncap *= 2;
		char *np = realloc(b->p, ncap);
		if (!np) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
}

/* label values: backslash, double quote and line feed escaped (format 0.0.4) */
static void sb_label(struct sb *b, const char *name, const char *v, int first)
{
	sb_add(b, "%s%s=\"", first ? "" : ",", name);
	for (size_t i = 0; v[i] && i < 256; i++) {
		if (v[i] == '\\')
			sb_add(b, "\\\\");
		else if (v[i] == '"')
			sb_add(b, "\\\"");
		else if (v[i] == '\n')
			sb_add(b, "\\n");
		else
			sb_add(b, "%c", v[i]);
	}
	sb_add(b, "\"");
}

static void family(struct sb *b, const char *name, const char *type, const char *help)
{
	sb_add(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{k1="v1"} value, with 0, 1 or 2 labels */
static void sample(struct sb *b, const char *name, const char *k1, const char *v1, const char *k2, const char *v2,
                   uint64_t v)
{
	sb_add(b, "%s", name);
	if (k1) {
		sb_add(b, "{");
		sb_label(b, k1, v1, 1);
		if (k2)
			sb_label(b, k2, v2, 0);
		sb_add(b, "}");
	}
	sb_add(b, " %llu\n", (unsigned long long)v);
}

static void counter(struct sb *b, const char *name, const char *help, const char *k1, const char *v1, uint64_t v)
{
	family(b, name, "counter", help);
	sample(b, name, k1, v1, NULL, NULL, v);
}

static const char *const reject_names[TW_MR_MAX] = {
	[TW_MR_NOT_FOUND] = "not_found",     [TW_MR_METHOD] = "method_not_allowed",
	[TW_MR_BAD_REQUEST] = "bad_request", [TW_MR_TOO_LARGE] = "too_large",
	[TW_MR_TIMEOUT] = "timeout",         [TW_MR_TOO_MANY] = "too_many_connections",
	[TW_MR_EVICTED] = "idle_evicted",
};

const char *tw_metrics_reject_name(int r)
{
	return r >= 0 && r < TW_MR_MAX ? reject_names[r] : NULL;
}

struct bus_snap {
	struct tw_bus_count counts[TW_BUS_MAX_COUNTS];
	size_t ncounts, nopen;
	uint64_t lines, alerts, parse_errors, open_overflow, count_overflow, oom;
};

static void render_alerts(struct sb *b, const struct bus_snap *s)
{
	static const char *const states[3] = { "raised", "updated", "resolved" };
	family(b, "tamperwatch_alerts_total", "counter",
	       "Alert lines by category, method, legitimacy and state (raised, updated, resolved).");
	for (size_t i = 0; i < s->ncounts; i++) {
		const struct tw_bus_count *c = &s->counts[i];
		const uint64_t v[3] = { c->raised, c->updated, c->resolved };
		for (int k = 0; k < 3; k++) {
			sb_add(b, "tamperwatch_alerts_total{");
			sb_label(b, "category", c->category, 1);
			sb_label(b, "method", c->method, 0);
			sb_label(b, "legitimacy", c->legitimacy, 0);
			sb_label(b, "state", states[k], 0);
			sb_add(b, "} %llu\n", (unsigned long long)v[k]);
		}
	}
	family(b, "tamperwatch_alerts_open", "gauge",
	       "Alerts raised and not yet resolved, by category, method and legitimacy.");
	for (size_t i = 0; i < s->ncounts; i++) {
		const struct tw_bus_count *c = &s->counts[i];
		sb_add(b, "tamperwatch_alerts_open{");
		sb_label(b, "category", c->category, 1);
		sb_label(b, "method", c->method, 0);
		sb_label(b, "legitimacy", c->legitimacy, 0);
		sb_add(b, "} %llu\n", (unsigned long long)c->open);
	}
	counter(b, "tamperwatch_bus_lines_total", "Lines through the alert bus (alerts, link and gap records).", NULL,
	        NULL, s->lines);
	family(b, "tamperwatch_bus_dropped_total", "counter",
	       "Bus lines not tracked or not parsed, by reason (open_overflow, count_overflow, parse_errors, oom).");
	sample(b, "tamperwatch_bus_dropped_total", "reason", "open_overflow", NULL, NULL, s->open_overflow);
	sample(b, "tamperwatch_bus_dropped_total", "reason", "count_overflow", NULL, NULL, s->count_overflow);
	sample(b, "tamperwatch_bus_dropped_total", "reason", "parse_errors", NULL, NULL, s->parse_errors);
	sample(b, "tamperwatch_bus_dropped_total", "reason", "oom", NULL, NULL, s->oom);
}

static void render_backend(struct sb *b, const struct tw_status *s)
{
	static const struct {
		int cnt;
		const char *name, *help;
	} bc[] = {
		{ TW_CNT_PACKETS, "tamperwatch_packets_total", "Packets seen by the backend." },
		{ TW_CNT_BYTES, "tamperwatch_bytes_total",
		  "Bytes seen by the backend (IP packets with their link header)." },
		{ TW_CNT_TRACKED, "tamperwatch_packets_tracked_total",
		  "TCP and UDP packets that reached the flow table." },
		{ TW_CNT_FLOWS_NEW, "tamperwatch_flows_new_total", "Flows created in the backend's flow table." },
		{ TW_CNT_FLOW_INSERT_FAIL, "tamperwatch_flow_insert_failures_total",
		  "Flows not tracked: flow table full." },
		{ TW_CNT_EVENTS, "tamperwatch_backend_events_total", "Events the backend wrote to the ring buffer." },
		{ TW_CNT_EVENTS_LOST, "tamperwatch_events_lost_total", "Events lost to a full ring buffer." },
		{ TW_CNT_SNIPPET_FAIL, "tamperwatch_snippet_failures_total",
		  "Events sent without their payload snippet: copy failed." },
		{ TW_CNT_NONLINEAR, "tamperwatch_packets_nonlinear_total",
		  "TC: packets skipped, headers not in the linear part." },
		{ TW_CNT_NOT_SAMPLED, "tamperwatch_packets_not_sampled_total",
		  "Packets of flows left out by 1-in-N flow sampling (shutdown detection still counts them)." },
	};
	for (size_t i = 0; i < sizeof(bc) / sizeof(bc[0]); i++)
		counter(b, bc[i].name, bc[i].help, "backend", s->backend, s->counters[bc[i].cnt]);
	family(b, "tamperwatch_flow_sampling", "gauge",
	       "1-in-N flow sampling in force: 1 tracks every flow; raised when events are lost (flows.sample_max).");
	sample(b, "tamperwatch_flow_sampling", "backend", s->backend, NULL, NULL, s->sampling ? s->sampling : 1);
	family(b, "tamperwatch_packets_untracked_total", "counter",
	       "Packets not tracked, by reason (names as in the stats record's untracked object).");
	for (int i = 1; tw_untracked_name(i); i++)
		sample(b, "tamperwatch_packets_untracked_total", "backend", s->backend, "reason", tw_untracked_name(i),
		       s->counters[TW_CNT_PARSE_BASE + i]);
}

static void render_pipeline(struct sb *b, const struct tw_status *s)
{
	/* event types share names (payload, dns): sum by name, in first-seen order */
	const char *names[TW_EV_TYPE_MAX];
	uint64_t sums[TW_EV_TYPE_MAX];
	int n = 0;
	for (unsigned t = 1; t < TW_EV_TYPE_MAX; t++) {
		const char *nm = tw_event_type_name(t);
		int k;
		for (k = 0; k < n && strcmp(names[k], nm); k++)
			;
		if (k == n) {
			names[n] = nm;
			sums[n++] = 0;
		}
		sums[k] += s->events[t];
	}
	family(b, "tamperwatch_events_total", "counter",
	       "Events through the pipeline, by type (event_type of the JSON lines).");
	for (int k = 0; k < n; k++)
		sample(b, "tamperwatch_events_total", "type", names[k], NULL, NULL, sums[k]);
	counter(b, "tamperwatch_events_malformed_total", "Event records that failed validation: dropped.", NULL, NULL,
	        s->events_malformed);
	counter(b, "tamperwatch_output_lines_total", "JSON lines queued to the alert log.", NULL, NULL,
	        s->output_lines);
	counter(b, "tamperwatch_output_write_errors_total", "JSON lines lost to a failed write of the alert log.", NULL,
	        NULL, s->output_write_errors);
	counter(b, "tamperwatch_output_lines_cut_total",
	        "JSON lines a short write of the alert log cut (completed later, or discarded and counted lost).", NULL,
	        NULL, s->output_lines_cut);
	counter(b, "tamperwatch_output_lines_too_long_total", "JSON lines dropped: longer than the line buffer.", NULL,
	        NULL, s->lines_too_long);
	counter(b, "tamperwatch_output_lines_not_selected_total",
	        "Records left out of the alert log by output.types (counted, not lost).", NULL, NULL,
	        s->lines_not_selected);
	family(b, "tamperwatch_events_per_second", "gauge",
	       "Events the daemon took through the pipeline a second, between its last two one-second ticks.");
	sample(b, "tamperwatch_events_per_second", NULL, NULL, NULL, NULL, s->events_per_s);
	family(b, "tamperwatch_tamper_verdicts_total", "counter", "Per-flow tamper verdicts, by method.");
	for (int m = 0; m < TW_METHOD_MAX; m++)
		if (tw_method(m) && tw_method(m)->per_flow)
			sample(b, "tamperwatch_tamper_verdicts_total", "method", tw_method_name(m), NULL, NULL,
			       s->tamper_verdicts[m]);
	counter(b, "tamperwatch_verdict_flows_dropped_total", "Flows not judged: verdict table full.", NULL, NULL,
	        s->verdict_flows_dropped);
	counter(b, "tamperwatch_throttle_flows_dropped_total",
	        "Busy flows not judged for throttling: their rate series found the table full.", NULL, NULL,
	        s->throttle_flows_dropped);
	counter(b, "tamperwatch_redirect_bodies_skipped_total",
	        "DNS-linked HTTP responses not read for ISP redirection: body over 8 KiB.", NULL, NULL,
	        s->redirect_bodies_skipped);
	family(b, "tamperwatch_flows_one_way_total", "counter",
	       "Flows that ended seen in one direction only, by why: the attachment cannot see the other "
	       "direction (not judged), or the path (judged).");
	sample(b, "tamperwatch_flows_one_way_total", "reason", "attachment", NULL, NULL, s->flows_one_way_attachment);
	sample(b, "tamperwatch_flows_one_way_total", "reason", "path", NULL, NULL, s->flows_one_way);
	family(b, "tamperwatch_payload_parse_errors_total", "counter",
	       "Payload snippets a parser read only in part (truncated) or found broken (malformed), by parser.");
	for (int i = 0; tw_verdict_parser_name(i); i++) {
		sample(b, "tamperwatch_payload_parse_errors_total", "parser", tw_verdict_parser_name(i), "result",
		       "truncated", s->payload_parse_errors[i][0]);
		sample(b, "tamperwatch_payload_parse_errors_total", "parser", tw_verdict_parser_name(i), "result",
		       "malformed", s->payload_parse_errors[i][1]);
	}
}

static void render_aggregation(struct sb *b, const struct tw_status *s)
{
	family(b, "tamperwatch_alert_targets", "gauge", "Targets counted by per-target aggregation now.");
	sample(b, "tamperwatch_alert_targets", NULL, NULL, NULL, NULL, s->agg.targets);
	counter(b, "tamperwatch_alert_targets_dropped_total",
	        "Flow outcomes not counted for alerts: alerts.max_targets reached.", NULL, NULL,
	        s->agg.targets_dropped);
	counter(b, "tamperwatch_alert_prefixes_dropped_total",
	        "Flow outcomes whose client prefix is beyond the per-prefix table (never judged dark).", NULL, NULL,
	        s->agg.prefixes_dropped);
	counter(b, "tamperwatch_alert_throttling_uncontrolled_total",
	        "Throttling cases not alerted: the same clients reached no other site fast (no control).", NULL, NULL,
	        s->agg.throttling_uncontrolled);
}

static void render_syslog(struct sb *b, const struct tw_status *s)
{
	if (!s->syslog.enabled)
		return;
	counter(b, "tamperwatch_syslog_messages_total", "Syslog messages handed to the transport.", "transport",
	        s->syslog.transport, s->syslog.sent);
	counter(b, "tamperwatch_syslog_send_failures_total",
	        "Syslog messages lost: send failed, queue full or server unreachable.", "transport",
	        s->syslog.transport, s->syslog.failed);
	counter(b, "tamperwatch_syslog_truncated_total", "Syslog messages cut to the size bound.", "transport",
	        s->syslog.transport, s->syslog.truncated);
	counter(b, "tamperwatch_syslog_connects_total", "Syslog socket (re)connection attempts.", "transport",
	        s->syslog.transport, s->syslog.connects);
	family(b, "tamperwatch_syslog_queued_messages", "gauge", "Syslog messages waiting for the TCP connection.");
	sample(b, "tamperwatch_syslog_queued_messages", "transport", s->syslog.transport, NULL, NULL, s->syslog.queued);
}

static void render_nats(struct sb *b, const struct tw_status *s)
{
	const struct tw_nats_counters *c = &s->nats.c;
	if (!s->nats.enabled)
		return;
	family(b, "tamperwatch_nats_connected", "gauge", "1 while connected to a NATS server (docs/hub.md).");
	sample(b, "tamperwatch_nats_connected", NULL, NULL, NULL, NULL, (uint64_t)c->connected);
	counter(b, "tamperwatch_nats_records_total", "Records handed to the NATS publisher.", NULL, NULL, c->records);
	counter(b, "tamperwatch_nats_published_total", "Records acknowledged by JetStream.", NULL, NULL, c->published);
	counter(b, "tamperwatch_nats_spooled_total",
	        "Records that waited in the spool: not acknowledged at the first try.", NULL, NULL, c->spooled);
	counter(b, "tamperwatch_nats_dropped_total", "Records lost: the spool was full, or no spool at exit.", NULL,
	        NULL, c->dropped);
	counter(b, "tamperwatch_nats_publish_errors_total", "Publish attempts not acknowledged in time or refused.",
	        NULL, NULL, c->publish_errors);
	family(b, "tamperwatch_nats_queue_records", "gauge", "Records waiting to be published.");
	sample(b, "tamperwatch_nats_queue_records", NULL, NULL, NULL, NULL, c->queue);
}

static void render_hub(struct sb *b, const struct tw_status *s)
{
	if (!s->hub.enabled)
		return;
	counter(b, "tamperwatch_hub_records_total", "Records the hub received from sites (duplicates included).", NULL,
	        NULL, s->hub.received);
	counter(b, "tamperwatch_hub_duplicates_total", "Records dropped by the hub as already seen (message ID).", NULL,
	        NULL, s->hub.duplicates);
	counter(b, "tamperwatch_hub_malformed_total", "Records the hub could not read: dropped.", NULL, NULL,
	        s->hub.malformed);
	family(b, "tamperwatch_hub_sites", "gauge", "Sites the hub has heard from.");
	sample(b, "tamperwatch_hub_sites", NULL, NULL, NULL, NULL, s->hub.sites);
	family(b, "tamperwatch_hub_sites_silent", "gauge", "Sites silent for longer than hub.site_timeout.");
	sample(b, "tamperwatch_hub_sites_silent", NULL, NULL, NULL, NULL, s->hub.sites_silent);
}

long tw_metrics_render(struct tw_status *st, struct tw_bus *bus, const struct tw_metrics_http *hs, char **out)
{
	struct tw_status s;
	struct bus_snap bs;
	struct sb b = { 0 };

	/* copies only under the locks: the formatting below holds none */
	pthread_mutex_lock(&st->mu);
	memcpy(&s, st, sizeof(s));
	pthread_mutex_unlock(&st->mu);
	pthread_mutex_lock(&bus->mu);
	bs.ncounts = bus->ncounts < TW_BUS_MAX_COUNTS ? bus->ncounts : TW_BUS_MAX_COUNTS;
	memcpy(bs.counts, bus->counts, bs.ncounts * sizeof(bs.counts[0]));
	bs.nopen = bus->nopen;
	bs.lines = bus->lines;
	bs.alerts = bus->alerts;
	bs.parse_errors = bus->parse_errors;
	bs.open_overflow = bus->open_overflow;
	bs.count_overflow = bus->count_overflow;
	bs.oom = bus->oom;
	pthread_mutex_unlock(&bus->mu);

	family(&b, "tamperwatch_build_info", "gauge", "Always 1: the daemon's version and backend as labels.");
	sample(&b, "tamperwatch_build_info", "version", s.version, "backend", s.backend, 1);
	family(&b, "tamperwatch_start_time_seconds", "gauge",
	       "Start time of the daemon, seconds since the Unix epoch.");
	sb_add(&b, "tamperwatch_start_time_seconds %llu.%03llu\n",
	       (unsigned long long)(s.started_wall_ns / 1000000000ull),
	       (unsigned long long)(s.started_wall_ns % 1000000000ull / 1000000ull));
	family(&b, "tamperwatch_status_updated_time_seconds", "gauge",
	       "When the counters below were last refreshed (the run's clock: capture time on replay); 0 before the "
	       "first tick.");
	sb_add(&b, "tamperwatch_status_updated_time_seconds %llu.%03llu\n",
	       (unsigned long long)(s.updated_wall_ns / 1000000000ull),
	       (unsigned long long)(s.updated_wall_ns % 1000000000ull / 1000000ull));
	family(&b, "tamperwatch_link_up", "gauge", "1 when a watched interface is up and running, 0 when not.");
	for (int i = 0; i < s.nlinks && i < TW_MAX_IFACES; i++)
		if (s.links[i].up >= 0)
			sample(&b, "tamperwatch_link_up", "interface", s.links[i].name, NULL, NULL,
			       (uint64_t)s.links[i].up);
	render_backend(&b, &s);
	render_pipeline(&b, &s);
	render_alerts(&b, &bs);
	render_aggregation(&b, &s);
	render_syslog(&b, &s);
	render_nats(&b, &s);
	render_hub(&b, &s);
	if (hs) {
		counter(&b, "tamperwatch_metrics_requests_total", "Scrapes of /metrics answered.", NULL, NULL,
		        hs->requests);
		family(&b, "tamperwatch_metrics_rejected_total", "counter",
		       "Requests to the metrics endpoint refused, by reason.");
		for (int r = 0; r < TW_MR_MAX; r++)
			sample(&b, "tamperwatch_metrics_rejected_total", "reason", reject_names[r], NULL, NULL,
			       hs->rejected[r]);
		counter(&b, "tamperwatch_metrics_render_failures_total", "Scrapes answered 500: out of memory.", NULL,
		        NULL, hs->oom);
	}
	if (b.oom) {
		free(b.p);
		*out = NULL;
		return -1;
	}
	*out = b.p;
	return (long)b.len;
}

/* ---- HTTP server ------------------------------------------------------------- */

struct conn {
	int fd;
	int local; /* the peer is on loopback */
	uint64_t accepted_ms, deadline_ms;
	size_t len; /* request bytes in req */
	char req[TW_METRICS_MAX_REQUEST];
	char *resp; /* the whole response once decided */
	size_t resp_len, resp_off;
};

struct tw_metrics {
	int lfd;
	int wake[2]; /* the stop signal */
	int started;
	pthread_t th;
	struct tw_status *st;
	struct tw_bus *bus;
	struct tw_spage *page; /* NULL: no status page */
	struct tw_metrics_http hs;
	struct conn conns[TW_METRICS_MAX_CONNS];
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000ull;
}

struct tw_metrics *tw_metrics_open(const char *addr, char *err, size_t errlen, int *code)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char why[160];

	if (tw_hostport_parse(addr, &ss, &sl, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "metrics address '%.100s': %s", addr, why);
		*code = 2;
		return NULL;
	}
	struct tw_metrics *m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "metrics: out of memory");
		*code = 3;
		return NULL;
	}
	m->wake[0] = m->wake[1] = -1;
	for (int i = 0; i < TW_METRICS_MAX_CONNS; i++)
		m->conns[i].fd = -1;
	m->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (m->lfd < 0 || setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(m->lfd, (struct sockaddr *)&ss, sl) < 0 || listen(m->lfd, 64) < 0) {
		/* an address this host does not have is a bad address; anything else is a start failure */
		*code = errno == EADDRNOTAVAIL ? 2 : 3;
		snprintf(err, errlen, "metrics address '%.100s': %s", addr, strerror(errno));
		if (m->lfd >= 0)
			close(m->lfd);
		free(m);
		return NULL;
	}
	if (pipe2(m->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "metrics: pipe: %s", strerror(errno));
		*code = 3;
		close(m->lfd);
		free(m);
		return NULL;
	}
	return m;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->resp);
	c->fd = -1;
	c->resp = NULL;
	c->len = c->resp_len = c->resp_off = 0;
}

/* a short fixed answer; the connection closes after it */
static void respond_error(struct conn *c, const char *status, const char *extra)
{
	char body[64];
	int bl = snprintf(body, sizeof(body), "%s\n", status);
	char *r = malloc(512);
	if (!r) {
		conn_close(c);
		return;
	}
	int n = snprintf(r, 512,
	                 "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n"
	                 "%sConnection: close\r\n\r\n%s",
	                 status, bl, extra, body);
	c->resp = r;
	c->resp_len = (size_t)n;
	c->resp_off = 0;
}

static void respond_body(struct tw_metrics *m, struct conn *c, int head, char *body, long bl, const char *type);

/* no memory to render or to answer: 500, and the request is not counted as answered */
static void respond_oom(struct tw_metrics *m, struct conn *c)
{
	m->hs.requests--;
	m->hs.oom++;
	respond_error(c, "500 Internal Server Error", "");
}

static void respond_metrics(struct tw_metrics *m, struct conn *c, int head)
{
	char *body;
	m->hs.requests++; /* counted before rendering: this scrape sees itself */
	long bl = tw_metrics_render(m->st, m->bus, &m->hs, &body);
	if (bl >= 0 && m->page) { /* the page's own counters follow */
		struct tw_tb t = { 0 };
		tw_tb_add(&t, body, (size_t)bl);
		tw_spage_metrics(m->page, &t);
		free(body);
		body = t.fail ? NULL : t.p;
		bl = t.fail ? -1 : (long)t.n;
		if (t.fail)
			free(t.p);
	}
	if (bl < 0) {
		respond_oom(m, c);
		return;
	}
	respond_body(m, c, head, body, bl, "text/plain; version=0.0.4; charset=utf-8");
}

static void respond_page(struct tw_metrics *m, struct conn *c, int head)
{
	char *body;
	m->hs.requests++;
	long bl = tw_spage_render(m->page, m->st, m->bus, &body);
	if (bl < 0) {
		respond_oom(m, c);
		return;
	}
	respond_body(m, c, head, body, bl, "text/html; charset=utf-8");
}

/* the rendered body (taken) behind a 200 header */
static void respond_body(struct tw_metrics *m, struct conn *c, int head, char *body, long bl, const char *type)
{
	char hdr[512];
	int hl = snprintf(hdr, sizeof(hdr),
	                  "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
	                  "Content-Length: %ld\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
	                  type, bl);
	size_t total = (size_t)hl + (head ? 0 : (size_t)bl);
	char *r = malloc(total);
	if (!r) {
		free(body);
		respond_oom(m, c);
		return;
	}
	memcpy(r, hdr, (size_t)hl);
	if (!head)
		memcpy(r + hl, body, (size_t)bl);
	free(body);
	c->resp = r;
	c->resp_len = total;
	c->resp_off = 0;
}

/* a complete request head is in c->req: decide the answer */
static void handle_request(struct tw_metrics *m, struct conn *c)
{
	char *eol = memchr(c->req, '\n', c->len);
	char *sp1 = eol ? memchr(c->req, ' ', (size_t)(eol - c->req)) : NULL;
	char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	if (!sp2 || sp1 == c->req || sp2 == sp1 + 1 || eol - sp2 < 9 || memcmp(sp2 + 1, "HTTP/1.", 7)) {
		m->hs.rejected[TW_MR_BAD_REQUEST]++;
		respond_error(c, "400 Bad Request", "");
		return;
	}
	size_t ml = (size_t)(sp1 - c->req);
	int get = ml == 3 && !memcmp(c->req, "GET", 3), head = ml == 4 && !memcmp(c->req, "HEAD", 4);
	if (!get && !head) {
		m->hs.rejected[TW_MR_METHOD]++;
		respond_error(c, "405 Method Not Allowed", "Allow: GET, HEAD\r\n");
		return;
	}
	/* the path, without a query string (Prometheus sends none, curl users may) */
	const char *path = sp1 + 1;
	size_t pl = (size_t)(sp2 - path);
	const char *q = memchr(path, '?', pl);
	if (q)
		pl = (size_t)(q - path);
	if (m->page && pl == 7 && !memcmp(path, "/status", 7)) {
		respond_page(m, c, head);
		return;
	}
	if (pl != 8 || memcmp(path, "/metrics", 8)) {
		m->hs.rejected[TW_MR_NOT_FOUND]++;
		respond_error(c, "404 Not Found", "");
		return;
	}
	respond_metrics(m, c, head);
}

static int head_complete(const struct conn *c)
{
	return memmem(c->req, c->len, "\r\n\r\n", 4) || memmem(c->req, c->len, "\n\n", 2);
}

static void conn_read(struct tw_metrics *m, struct conn *c)
{
	ssize_t n = recv(c->fd, c->req + c->len, sizeof(c->req) - c->len, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_close(c); /* the client went away before asking */
		return;
	}
	if (n < 0)
		return;
	c->len += (size_t)n;
	if (head_complete(c))
		handle_request(m, c);
	else if (c->len == sizeof(c->req)) {
		m->hs.rejected[TW_MR_TOO_LARGE]++;
		respond_error(c, "431 Request Header Fields Too Large", "");
	}
}

static void conn_write(struct conn *c)
{
	ssize_t n = send(c->fd, c->resp + c->resp_off, c->resp_len - c->resp_off, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->resp_off += (size_t)n;
	if (c->resp_off == c->resp_len) {
		shutdown(c->fd, SHUT_WR);
		conn_close(c);
	}
}

static int is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family != AF_INET6)
		return 0;
	const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

/* A slot for a new peer: a free one (remote peers leave the last
 * TW_METRICS_LOCAL_CONNS to loopback scrapes), else the one whose client
 * has waited longest without sending its request, once that is at least
 * TW_METRICS_EVICT_MS (a scraper sends at once), among the peers the new one
 * may displace (a remote peer never displaces a local one).  NULL: none. */
static struct conn *slot_for(struct tw_metrics *m, int local, uint64_t now)
{
	struct conn *free_slot = NULL, *oldest = NULL;
	int remote = 0;
	for (int i = 0; i < TW_METRICS_MAX_CONNS; i++) {
		struct conn *c = &m->conns[i];
		if (c->fd < 0) {
			free_slot = free_slot ? free_slot : c;
			continue;
		}
		remote += !c->local;
		if (!c->resp && (local || !c->local) && now - c->accepted_ms >= TW_METRICS_EVICT_MS &&
		    (!oldest || c->accepted_ms < oldest->accepted_ms))
			oldest = c;
	}
	if (free_slot && (local || remote < TW_METRICS_MAX_CONNS - TW_METRICS_LOCAL_CONNS))
		return free_slot;
	if (oldest) {
		m->hs.rejected[TW_MR_EVICTED]++;
		conn_close(oldest);
	}
	return oldest;
}

static void accept_all(struct tw_metrics *m)
{
	for (int k = 0; k < 64; k++) { /* bounded per wake-up */
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(m->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		uint64_t now = mono_ms();
		int local = is_loopback(&ss);
		struct conn *c = slot_for(m, local, now);
		if (!c) {
			static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
			                           "Connection: close\r\n\r\n";
			m->hs.rejected[TW_MR_TOO_MANY]++;
			if (send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
				/* nothing more to do for it */
			}
			close(fd);
			continue;
		}
		c->fd = fd;
		c->local = local;
		c->len = 0;
		c->accepted_ms = now;
		c->deadline_ms = now + TW_METRICS_TIMEOUT_MS;
	}
}

static void *serve(void *arg)
{
	struct tw_metrics *m = arg;
	struct pollfd pf[2 + TW_METRICS_MAX_CONNS];
	int idx[2 + TW_METRICS_MAX_CONNS];

	for (;;) {
		uint64_t now = mono_ms(), next = now + 1000;
		int n = 0;
		pf[n++] = (struct pollfd){ .fd = m->wake[0], .events = POLLIN };
		pf[n++] = (struct pollfd){ .fd = m->lfd, .events = POLLIN };
		for (int i = 0; i < TW_METRICS_MAX_CONNS; i++) {
			struct conn *c = &m->conns[i];
			if (c->fd < 0)
				continue;
			if (now >= c->deadline_ms) {
				m->hs.rejected[TW_MR_TIMEOUT]++;
				conn_close(c);
				continue;
			}
			if (c->deadline_ms < next)
				next = c->deadline_ms;
			idx[n] = i;
			pf[n++] = (struct pollfd){ .fd = c->fd, .events = c->resp ? POLLOUT : POLLIN };
		}
		int r = poll(pf, (nfds_t)n, (int)(next - now));
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0)
			continue;
		if (pf[0].revents)
			break;
		for (int k = 2; k < n; k++) {
			struct conn *c = &m->conns[idx[k]];
			if (!pf[k].revents || c->fd < 0)
				continue;
			if (c->resp)
				conn_write(c);
			else
				conn_read(m, c);
			if (c->fd >= 0 && c->resp && c->resp_off == 0)
				conn_write(c); /* answer at once: usually fits the socket buffer */
		}
		if (pf[1].revents)
			accept_all(m);
	}
	for (int i = 0; i < TW_METRICS_MAX_CONNS; i++)
		conn_close(&m->conns[i]);
	return NULL;
}

void tw_metrics_set_page(struct tw_metrics *m, struct tw_spage *page)
{
	m->page = page;
}

int tw_metrics_start(struct tw_metrics *m, struct tw_status *st, struct tw_bus *bus, char *err, size_t errlen)
{
	m->st = st;
	m->bus = bus;
	int rc = pthread_create(&m->th, NULL, serve, m);
	if (rc) {
		snprintf(err, errlen, "metrics: cannot start the server thread: %s", strerror(rc));
		return -1;
	}
	m->started = 1;
	return 0;
}

void tw_metrics_stop(struct tw_metrics *m)
{
	if (!m)
		return;
	if (m->started) {
		if (write(m->wake[1], "x", 1) < 0) {
			/* a non-blocking pipe with room: cannot fail in practice */
		}
		pthread_join(m->th, NULL);
	}
	close(m->wake[0]);
	close(m->wake[1]);
	close(m->lfd);
	free(m);
}
