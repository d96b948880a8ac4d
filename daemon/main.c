/* tamperwatchd: watch links (eBPF, live) or replay captures, and write what
 * the detector sees as JSON lines.  See README.md and --help.
 *
 * main() is four steps: the command line (parse_args), the configuration
 * and the files it names (configure), everything the run needs, wired in
 * the one-way order of docs/architecture.md (setup), the run itself (run);
 * whatever of it was made is taken down by one function (teardown). */
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "config.h"
#include "stats.h"
#include "capture/sampling.h"
#include "regions.h"
#include "util/hostport.h"
#include "util/state.h"
#include "capture/engine_bpf.h"
#include "capture/engine_kmod.h"
#include "capture/linkwatch.h"
#include "capture/run.h"
#include "events/pipeline.h"
#include "verdicts/fingerprints.h"
#include "verdicts/fp_default.h"
#include "verdicts/verdict.h"
#include "alerts/aggregate.h"
#include "alerts/legit.h"
#include "alerts/shutdown.h"
#include "alerts/shutdown_feed.h"
#include "alerts/throttle_region.h"
#include "outputs/alertmanager.h"
#include "outputs/bus.h"
#include "outputs/evidence.h"
#include "outputs/metrics.h"
#include "outputs/statuspage.h"
#include "outputs/nats_pub.h"
#include "outputs/output.h"
#include "outputs/pseudonym.h"
#include "outputs/status.h"
#include "outputs/syslog_out.h"
#include "outputs/types.h"
#include "control/ctl.h"
#include "hub/hub.h"
#include "sandbox.h"

#define TW_VERSION "0.1.0"
#define TW_MAX_REPLAY 256
#define TW_MAX_SETS 64
#define TW_MAX_FPS 16

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: tamperwatchd -i IFACE [-i IFACE]... [--mode xdp|tc|kmod] [options]\n"
	        "       tamperwatchd --replay FILE [--replay FILE]... [--replay-engine user|bpf] [options]\n"
	        "\n"
	        "Watches links for Internet censorship (forged resets, injected answers, blocking)\n"
	        "and writes one JSON object per event, EVE style, to the alert log.\n"
	        "\n"
	        "Live (root):\n"
	        "  -i, --interface IFACE   watch IFACE (repeatable, up to %d); packets are only\n"
	        "                          observed, never changed, dropped or delayed\n"
	        "      --mode xdp|tc|kmod  XDP (native, else generic with a message) or\n"
	        "                          TC clsact ingress+egress (sees GSO super-packets), or\n"
	        "                          kmod: the tamperwatch kernel module's netfilter hooks;\n"
	        "                          default: XDP on a gateway, TC on a host that forwards\n"
	        "                          nothing or with the vantage profile\n"
	        "      --profile P         auto (default), gateway or vantage: where the daemon\n"
	        "                          sits (= --set deployment.profile=P; docs/configuration.md)\n"
	        "Replay (no root needed with the user engine):\n"
	        "      --replay FILE       read a pcap or pcapng capture, plain or gzip; '-' is stdin\n"
	        "                          (repeatable: files are read in order, one clock)\n"
	        "      --replay-engine E   user (default): the classifier core in userspace;\n"
	        "                          bpf (root): every packet through the real XDP program\n"
	        "                          with BPF_PROG_TEST_RUN. Both write identical output.\n"
	        "Output and configuration:\n"
	        "      --alerts PATH|-     JSON-lines output (default '-': standard output); the\n"
	        "                          file is appended to and reopened on SIGHUP\n"
	        "  -c, --config FILE       INI configuration file (tamperwatchd.conf(5))\n"
	        "      --set SEC.KEY=VAL   override one configuration key (repeatable)\n"
	        "      --check-config      validate the configuration and exit\n"
	        "      --set output.types=LIST  record types written to the log: alert, tamper,\n"
	        "                          redirect, link, gap, stats, the event types, or the\n"
	        "                          groups gateway, events, all (default: gateway, live\n"
	        "                          and on replay; docs/configuration.md)\n"
	        "      --events            also write the per-packet event types (handshake,\n"
	        "                          payload, rst, data_after_rst, fin, dns, flow, flow_rate)\n"
	        "      --events-payload    include payload snippets (base64) in events: user data,\n"
	        "                          for debugging only (output.events_payload)\n"
	        "      --fingerprints FILE block-page / forged-DNS fingerprints in the CSV format of\n"
	        "                          OONI's blocking-fingerprints (repeatable: add your own;\n"
	        "                          loaded after the built-in default set)\n"
	        "      --no-verdicts       write events only, no per-flow tamper verdicts\n"
	        "      --state DIR         keep open alerts, their windows, the shutdown baselines\n"
	        "                          and the Alertmanager spool in DIR across restarts\n"
	        "      --declared FILE     the operator's declared restrictions (docs/alerts.md)\n"
	        "      --set regions.file=FILE  client prefix -> region/ASN labels for the alerts'\n"
	        "                          scope (docs/alerts.md)\n"
	        "      --metrics ADDR:PORT serve Prometheus metrics on http://ADDR:PORT/metrics\n"
	        "                          (or metrics.listen; e.g. 127.0.0.1:9464, [::1]:9464;\n"
	        "                          off unless given; docs/outputs.md)\n"
	        "      --status-page       also serve a status page at http://ADDR:PORT/status on\n"
	        "                          the metrics listener (or metrics.status_page=yes)\n"
	        "      --set syslog.enabled=yes  also send alerts to syslog, RFC 5424 (keys\n"
	        "                          syslog.target, syslog.facility; docs/outputs.md)\n"
	        "      --alertmanager URL  send alerts to Prometheus Alertmanager at URL (comma-\n"
	        "                          separated for a cluster; = --set alertmanager.url=URL)\n"
	        "      --evidence DIR      write DIR/<alert id>.pcap for each blocking alert: the\n"
	        "                          packets of a sample of its flows, clients pseudonymised\n"
	        "                          (keyed; key in --state DIR), user payload cut\n"
	        "                          (evidence.dir; docs/evidence.md)\n"
	        "      --control PATH      the operator's control socket for tamperwatch(1) (live\n"
	        "                          default " TW_CTL_DEFAULT_PATH ";\n"
	        "                          replay: only when given; control.socket)\n"
	        "      --hub -c FILE       run the hub: correlate what sites publish to NATS\n"
	        "                          ([nats], [hub]; docs/hub.md)\n"
	        "  -h, --help              this text\n"
	        "  -V, --version           version\n"
	        "\n"
	        "Shutdown detection (docs/shutdown.md): in the configuration,\n"
	        "  [shutdown] enabled = true and [regions] file = FILE (the client networks and\n"
	        "  their region labels); shutdown alerts, and link and gap records for our own\n"
	        "  outages, go to the same output\n"
	        "\n"
	        "Exit status: 0 ok; 1 an input had a fault (reported; the rest was processed) or\n"
	        "output lines were lost (reported);\n"
	        "2 bad command line or configuration; 3 the backend could not start.\n",
	        TW_MAX_IFACES);
}

/* ---- backends ------------------------------------------------------------ */

/* The backends, by --mode (live) and --replay-engine (replay).  Adding one
 * is one entry: its name, how the status names it and how it is made. */
struct backend {
	const char *name;
	int live;              /* 1: --mode NAME; 0: --replay-engine NAME */
	enum tw_mode attach;   /* live: how the programs go on the links */
	const char *status;    /* the backend as the status snapshot and metrics name it */
	const char *not_built; /* non-NULL: refused on the command line, saying this */
	/* live, non-NULL: the engine watches the links itself (nothing for
	 * attach.c to put on them), as this says */
	const char *watches;
	/* NULL with err: the backend could not start; ifaces: -i (live) */
	struct tw_engine *(*make)(const struct tw_record_sink *events, const struct tw_config *cfg, int replay,
	                          const char *const *ifaces, int nif, const struct tw_prefix_opts *pfx, char *err,
	                          size_t errlen);
};

static struct tw_engine *make_bpf(const struct tw_record_sink *events, const struct tw_config *cfg, int replay,
                                  const char *const *ifaces, int nif, const struct tw_prefix_opts *pfx, char *err,
                                  size_t errlen)
{
	(void)ifaces, (void)nif; /* attach.c puts the programs on the links */
	return tw_engine_bpf_new(events, replay, cfg->max_flows, cfg->max_flows_ipv6, cfg->ring_size, pfx, err,
	                         errlen);
}

static struct tw_engine *make_user(const struct tw_record_sink *events, const struct tw_config *cfg, int replay,
                                   const char *const *ifaces, int nif, const struct tw_prefix_opts *pfx, char *err,
                                   size_t errlen)
{
	(void)replay, (void)ifaces, (void)nif;
	return tw_engine_user_new(events, cfg->max_flows, pfx, err, errlen);
}

/* the module's netfilter hooks watch the links, told over generic netlink */
static struct tw_engine *make_kmod(const struct tw_record_sink *events, const struct tw_config *cfg, int replay,
                                   const char *const *ifaces, int nif, const struct tw_prefix_opts *pfx, char *err,
                                   size_t errlen)
{
	(void)replay; /* live only: --mode */
	return tw_engine_kmod_new(events, ifaces, nif, TW_HOOK_PREPOST, cfg->max_flows, pfx, err, errlen);
}

static const struct backend backends[] = {
	{ "xdp", 1, TW_MODE_XDP, "xdp", NULL, NULL, make_bpf },
	{ "tc", 1, TW_MODE_TC, "tc", NULL, NULL, make_bpf },
	{ "kmod", 1, TW_MODE_XDP, "kmod", NULL, "kmod netfilter pre/post-routing", make_kmod },
	{ "user", 0, TW_MODE_XDP, "replay-user", NULL, NULL, make_user },
	{ "bpf", 0, TW_MODE_XDP, "replay-bpf", NULL, NULL, make_bpf },
};
#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))

static const struct backend *backend_find(const char *name, int live)
{
	for (size_t i = 0; i < NBACKENDS; i++)
		if (backends[i].live == live && !strcmp(backends[i].name, name))
			return &backends[i];
	return NULL;
}

/* "xdp or tc": the names the command line accepts */
static void backend_names(int live, char *out, size_t cap)
{
	size_t n = 0, k = 0, total = 0;
	for (size_t i = 0; i < NBACKENDS; i++)
		total += backends[i].live == live && !backends[i].not_built;
	out[0] = 0;
	for (size_t i = 0; i < NBACKENDS && n < cap; i++) {
		if (backends[i].live != live || backends[i].not_built)
			continue;
		const char *sep = k == 0 ? "" : k + 1 == total ? " or " : ", ";
		int w = snprintf(out + n, cap - n, "%s%s", sep, backends[i].name);
		n += w > 0 ? (size_t)w : 0;
		k++;
	}
}

/* ---- the command line ------------------------------------------------------ */

struct args {
	const char *ifaces[TW_MAX_IFACES];
	int nif;
	char *replay[TW_MAX_REPLAY];
	int nreplay;
	const char *sets[TW_MAX_SETS];
	int nsets;
	const char *fps[TW_MAX_FPS];
	int nfp;
	int verdicts, check_only, payload;
	int events;                 /* --events: the per-packet event types too (outputs/types.h) */
	int hub;                    /* --hub: run the hub instead (hub/hub.h) */
	const struct backend *mode; /* --mode (default: by the profile, below) */
	int mode_given;
	const struct backend *engine; /* --replay-engine; NULL: not given (user) */
	const char *alerts, *config_path, *state_dir, *declared;
	const char *metrics_addr, *am_url, *evidence_arg, *control;
	int status_page; /* --status-page */
};

/* -1 to go on, or the exit status (0 after --help and --version). */
static int parse_args(int argc, char **argv, struct args *a)
{
	enum { O_METRICS = 400, O_STATUS_PAGE }; /* operator outputs */
	enum {
		O_MODE = 256,
		O_ALERTS,
		O_REPLAY,
		O_ENGINE,
		O_SET,
		O_CHECK,
		O_PAYLOAD,
		O_FP,
		O_NOVERDICT,
		O_STATE,
		O_DECLARED,
		O_AM,
		O_EVIDENCE,
		O_CONTROL,
		O_HUB,
		O_EVENTS,
		O_PROFILE
	};
	static const struct option longopts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "mode", required_argument, NULL, O_MODE },
		{ "alerts", required_argument, NULL, O_ALERTS },
		{ "replay", required_argument, NULL, O_REPLAY },
		{ "replay-engine", required_argument, NULL, O_ENGINE },
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, O_SET },
		{ "check-config", no_argument, NULL, O_CHECK },
		{ "events-payload", no_argument, NULL, O_PAYLOAD },
		{ "fingerprints", required_argument, NULL, O_FP },
		{ "no-verdicts", no_argument, NULL, O_NOVERDICT },
		{ "state", required_argument, NULL, O_STATE },
		{ "declared", required_argument, NULL, O_DECLARED },
		{ "metrics", required_argument, NULL, O_METRICS },
		{ "status-page", no_argument, NULL, O_STATUS_PAGE },
		{ "alertmanager", required_argument, NULL, O_AM },
		{ "evidence", required_argument, NULL, O_EVIDENCE },
		{ "control", required_argument, NULL, O_CONTROL },
		{ "hub", no_argument, NULL, O_HUB },
		{ "events", no_argument, NULL, O_EVENTS },
		{ "profile", required_argument, NULL, O_PROFILE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	char names[64];
	int opt;

	memset(a, 0, sizeof(*a));
	a->verdicts = 1;
	a->mode = backend_find("xdp", 1);
	a->alerts = "-";
	while ((opt = getopt_long(argc, argv, "i:c:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			if (a->nif == TW_MAX_IFACES) {
				fprintf(stderr, "tamperwatchd: at most %d interfaces\n", TW_MAX_IFACES);
				return 2;
			}
			a->ifaces[a->nif++] = optarg;
			break;
		case O_MODE:
			if (!(a->mode = backend_find(optarg, 1))) {
				backend_names(1, names, sizeof(names));
				fprintf(stderr, "tamperwatchd: --mode: expected %s, got '%s'\n", names, optarg);
				return 2;
			}
			if (a->mode->not_built) {
				fprintf(stderr, "tamperwatchd: --mode %s: %s\n", a->mode->name, a->mode->not_built);
				return 2;
			}
			a->mode_given = 1;
			break;
		case O_ALERTS: a->alerts = optarg; break;
		case O_REPLAY:
			if (a->nreplay == TW_MAX_REPLAY) {
				fprintf(stderr, "tamperwatchd: at most %d --replay files\n", TW_MAX_REPLAY);
				return 2;
			}
			a->replay[a->nreplay++] = optarg;
			break;
		case O_ENGINE:
			if (!(a->engine = backend_find(optarg, 0)) || a->engine->not_built) {
				backend_names(0, names, sizeof(names));
				fprintf(stderr, "tamperwatchd: --replay-engine: expected %s, got '%s'\n", names,
				        optarg);
				return 2;
			}
			break;
		case 'c': a->config_path = optarg; break;
		case O_SET:
			if (a->nsets == TW_MAX_SETS) {
				fprintf(stderr, "tamperwatchd: at most %d --set options\n", TW_MAX_SETS);
				return 2;
			}
			a->sets[a->nsets++] = optarg;
			break;
		case O_CHECK: a->check_only = 1; break;
		case O_PAYLOAD: a->payload = 1; break;
		case O_FP:
			if (a->nfp == TW_MAX_FPS) {
				fprintf(stderr, "tamperwatchd: at most %d --fingerprints files\n", TW_MAX_FPS);
				return 2;
			}
			a->fps[a->nfp++] = optarg;
			break;
		case O_NOVERDICT: a->verdicts = 0; break;
		case O_STATE: a->state_dir = optarg; break;
		case O_DECLARED: a->declared = optarg; break;
		case O_METRICS: a->metrics_addr = optarg; break;
		case O_STATUS_PAGE: a->status_page = 1; break;
		case O_AM: a->am_url = optarg; break;
		case O_EVIDENCE: a->evidence_arg = optarg; break;
		case O_CONTROL: a->control = optarg; break;
		case O_HUB: a->hub = 1; break;
		case O_EVENTS: a->events = 1; break;
		case O_PROFILE: { /* = --set deployment.profile=NAME, checked with the configuration */
			static char sets[4][64];
			static int n;
			if (a->nsets == TW_MAX_SETS || n == 4) {
				fprintf(stderr, "tamperwatchd: too many --set / --profile options\n");
				return 2;
			}
			snprintf(sets[n], sizeof(sets[n]), "deployment.profile=%.40s", optarg);
			a->sets[a->nsets++] = sets[n++];
			break;
		}
		case 'h': usage(stdout); return 0;
		case 'V': printf("tamperwatchd %s (event format %d)\n", TW_VERSION, TW_EVENT_VERSION); return 0;
		default: fprintf(stderr, "tamperwatchd: try --help\n"); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tamperwatchd: unexpected argument '%s' (try --help)\n", argv[optind]);
		return 2;
	}
	return -1;
}

/* ---- the daemon ---------------------------------------------------------- */

#define NSINKS 6    /* entries of sinks[] below */
#define SINK_NATS 5 /* sinks[SINK_NATS]: the NATS publisher, fed every line of the log */

/* Everything a run is made of; zero until made, so teardown takes down
 * whatever exists, whichever step failed. */
struct daemon {
	struct args a;
	struct tw_config cfg;
	const struct backend *be;
	char mode_note[200]; /* live: which mode and why, said on attach */
	int ingress_only;    /* live XDP that cannot see each flow's other direction (live_backend) */
	int xdp_gateway;     /* live XDP on several links of a forwarding host: its own flows one way */
	struct tw_fp_db *fpdb;
	struct tw_legit *legit;
	struct tw_regions regions;
	struct tw_link links[TW_MAX_IFACES];
	struct tw_output out;
	int out_open;
	struct tw_pipeline pl;
	struct tw_event_writer writer;
	struct tw_out_types types; /* which records the log gets (output.types, --events) */
	struct tw_bus bus;
	int bus_ready;
	struct tw_status status;
	int status_ready;
	struct tw_status_src status_src;
	struct tw_verdict *verdict;
	struct tw_agg *agg;
	struct tw_rthr *rthr; /* region-wide throttling (alerts/throttle_region.c) */
	struct tw_engine *eng;
	struct tw_shutdown *sd;
	struct tw_sdfeed *feed;
	struct tw_spage *page; /* the status page (metrics.status_page); NULL: off */
	void *sink[NSINKS];    /* sinks[i]'s object, NULL when not configured */
	struct tw_stats_src stats;
	struct tw_sampling sampling; /* 1-in-N flow sampling in force (capture/sampling.h) */
};

/* our own link went down or came back: never a shutdown (linkwatch.h) */
static void on_link(void *arg, const char *name, int link_up, int all_up)
{
	struct daemon *d = arg;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(stderr, "tamperwatchd: link %s is %s\n", name, link_up ? "up" : "down");
	tw_status_set_link_up(&d->status, name, link_up);
	if (d->sd)
		tw_shutdown_link_iface(d->sd, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec, name, link_up,
		                       all_up);
}

static int64_t clock_offset(void)
{
	struct timespec r, m;
	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &m);
	return ((int64_t)r.tv_sec - m.tv_sec) * 1000000000ll + ((int64_t)r.tv_nsec - m.tv_nsec);
}

/* ---- outputs: one table ---------------------------------------------------- */

/* Each operator output once (as Suricata's output modules): open makes it
 * when the configuration asks for it (0, *obj left NULL when it does not;
 * else the exit status, err saying why; *obj is set as soon as there is
 * something to close), then it gets every alert line (on_record, a bus
 * sink), a tick after the detectors' ticks, a member of the stats record,
 * and close.  setup and teardown walk this table; adding an output is one
 * entry.  The JSON-lines log is not here: everything is written to it
 * first (events, records, the bus), it is the daemon's own output. */
struct sink {
	const char *name;
	int (*open)(struct daemon *d, void **obj, char *err, size_t errlen);
	tw_sink_fn on_record;
	tw_tick_fn tick;
	tw_stats_section_fn stats;
	void (*close)(void *obj);
};

/* Evidence pcaps (README "Evidence"): retention sees every event after the
 * verdicts (a pipeline consumer), every outcome (a verdict hook) and
 * expires on its own tick, before aggregation's: an alert finds what was
 * kept until it was raised.  The files are written by its bus sink. */
static int open_evidence(struct daemon *d, void **obj, char *err, size_t errlen)
{
	struct tw_config *cfg = &d->cfg;
	struct tw_pseudonym pn;
	struct tw_evidence *ev;

	if (!d->verdict || !cfg->evidence.dir[0])
		return 0;
	if (tw_pseudonym_init(&pn, d->a.state_dir, cfg->prefix_v4, cfg->prefix_v6, err, errlen) < 0 ||
	    !(ev = tw_evidence_new(&cfg->evidence, &pn, d->pl.opt.clock_offset_ns, err, errlen)))
		return 3;
	*obj = ev;
	if (!pn.persistent)
		fprintf(stderr, "tamperwatchd: evidence: no --state: client pseudonyms use a key for this run only\n");
	tw_verdict_set_hook2(d->verdict, tw_evidence_outcome, ev);
	if (tw_pipeline_add_consumer(&d->pl, "evidence", tw_evidence_on_event, ev) < 0 ||
	    tw_pipeline_add_tick(&d->pl, tw_evidence_tick, ev) < 0) {
		snprintf(err, errlen, "evidence: no free consumer or tick slot (a build-time bound)");
		return 3;
	}
	cfg->alerts.evidence_dir = cfg->evidence.dir;
	return 0;
}

static void close_evidence(void *ev)
{
	tw_evidence_free(ev);
}

static int open_syslog(struct daemon *d, void **obj, char *err, size_t errlen)
{
	struct tw_syslog_target st;
	if (!d->cfg.syslog.enabled)
		return 0;
	tw_syslog_parse_target(d->cfg.syslog.target, &st, err, errlen); /* checked with the config */
	*obj = tw_syslog_new(&st, tw_syslog_facility(d->cfg.syslog.facility), &d->status, err, errlen);
	return *obj ? 0 : 3;
}

static void close_syslog(void *s)
{
	tw_syslog_free(s);
}

/* Alertmanager: delivers on its own threads; its tick, after the
 * detectors', drains at the end what they wrote last */
static int open_alertmanager(struct daemon *d, void **obj, char *err, size_t errlen)
{
	if (!d->cfg.am.url[0])
		return 0;
	*obj = tw_am_new(&d->cfg.am, d->a.state_dir, err, errlen);
	return *obj ? 0 : 3;
}

static void close_alertmanager(void *am)
{
	tw_am_free(am);
}

/* the operator's control socket: live by default, replay only when asked */
static int open_control(struct daemon *d, void **obj, char *err, size_t errlen)
{
	const char *path = d->a.control;
	if (!path && d->cfg.control_socket[0])
		path = d->cfg.control_socket;
	if (!path && d->a.nreplay)
		return 0;
	struct tw_ctl_opts co = { .path = path ? path : TW_CTL_DEFAULT_PATH,
		                  .version = TW_VERSION,
		                  .evidence_dir = d->cfg.evidence.dir[0] ? d->cfg.evidence.dir : NULL };
	*obj = tw_ctl_start(&co, &d->status, &d->bus, err, errlen);
	return *obj ? 0 : 3;
}

static void close_control(void *c)
{
	tw_ctl_stop(c);
}

/* Prometheus metrics: bound before anything is attached to a link (run),
 * so a bad address or a port in use fails startup with nothing attached */
static int open_metrics(struct daemon *d, void **obj, char *err, size_t errlen)
{
	const char *addr = d->cfg.metrics_listen;
	struct sockaddr_storage mss;
	socklen_t msl;
	int code = 2;

	if (!addr[0])
		return 0;
	struct tw_metrics *m = tw_metrics_open(addr, err, errlen, &code);
	if (!(*obj = m))
		return code;
	tw_hostport_parse(addr, &mss, &msl, err, errlen); /* parsed by tw_metrics_open */
	fprintf(stderr, "tamperwatchd: metrics on http://%s/metrics%s\n", addr,
	        tw_hostport_is_loopback(&mss) ? "" : " (not loopback: reachable from the network)");
	if (d->cfg.metrics_status_page) {
		if (!(d->page = tw_spage_new())) {
			snprintf(err, errlen, "status page: out of memory");
			return 3;
		}
		if (tw_bus_add_sink(&d->bus, "status_page", tw_spage_sink, d->page) < 0) {
			snprintf(err, errlen, "status_page: no free alert bus sink (a build-time bound)");
			return 3;
		}
		tw_metrics_set_page(m, d->page);
		fprintf(stderr, "tamperwatchd: status page on http://%s/status\n", addr);
	}
	return tw_metrics_start(m, &d->status, &d->bus, err, errlen) < 0 ? 3 : 0;
}

static void close_metrics(void *m)
{
	tw_metrics_stop(m);
}

/* the NATS JetStream publisher (docs/hub.md): it is not a bus sink, it
 * gets every line the log gets (log_line) */
static int open_nats(struct daemon *d, void **obj, char *err, size_t errlen)
{
	if (!d->cfg.nats.url[0])
		return 0;
	*obj = tw_nats_pub_new(&d->cfg.nats, d->a.state_dir, &d->status, err, errlen);
	return *obj ? 0 : 3;
}

static void close_nats(void *p)
{
	tw_nats_pub_free(p);
}

static const struct sink sinks[NSINKS] = {
	{ "evidence", open_evidence, tw_evidence_sink, NULL, tw_evidence_stats_json, close_evidence },
	{ "syslog", open_syslog, tw_syslog_sink, tw_syslog_tick, tw_syslog_stats, close_syslog },
	{ "alertmanager", open_alertmanager, tw_am_sink, tw_am_tick, tw_am_stats, close_alertmanager },
	{ "control", open_control, tw_ctl_on_record, NULL, NULL, close_control },
	{ "metrics", open_metrics, NULL, NULL, NULL, close_metrics },
	[SINK_NATS] = { "nats", open_nats, NULL, tw_nats_pub_tick, tw_nats_pub_stats, close_nats },
};

/* The line sink of every detector line (verdicts, the bus's alerts, link
 * and gap records, the stats record): written to the log at once, then
 * handed to the NATS publisher when there is one (it takes the records a
 * site publishes and ignores the rest). */
static void log_line(void *arg, const char *line, size_t len)
{
	struct daemon *d = arg;
	if (tw_out_types_line_on(&d->types, line, len))
		tw_output_line_now(&d->out, line, len);
	else
		d->types.not_selected++;
	if (d->sink[SINK_NATS])
		tw_nats_pub_line(d->sink[SINK_NATS], line, len);
}

/* open every configured output and hand it the alert lines */
static int sinks_open(struct daemon *d, char *err, size_t errlen)
{
	for (int i = 0; i < NSINKS; i++) {
		int rc = sinks[i].open(d, &d->sink[i], err, errlen);
		if (rc)
			return rc;
		if (d->sink[i] && sinks[i].on_record &&
		    tw_bus_add_sink(&d->bus, sinks[i].name, sinks[i].on_record, d->sink[i]) < 0) {
			snprintf(err, errlen, "%s: no free alert bus sink (a build-time bound)", sinks[i].name);
			return 3;
		}
	}
	return 0;
}

/* their ticks (after the detectors') and stats sections (after theirs) */
static int sinks_schedule(struct daemon *d, char *err, size_t errlen)
{
	for (int i = 0; i < NSINKS; i++) {
		if (!d->sink[i])
			continue;
		if ((sinks[i].tick && tw_pipeline_add_tick(&d->pl, sinks[i].tick, d->sink[i]) < 0) ||
		    (sinks[i].stats && tw_stats_add_section(&d->stats, sinks[i].stats, d->sink[i]) < 0)) {
			snprintf(err, errlen, "%s: no free tick or stats slot (a build-time bound)", sinks[i].name);
			return 3;
		}
	}
	return 0;
}

/* XDP on a forwarding gateway sees what it forwards both ways, but what
 * the gateway sends itself arrives on no watched link: its own flows (its
 * resolver, NTP, management) are one way because of the attachment.  The
 * namespace's addresses at start are handed to the verdicts (verdict.h);
 * one added later is not known.  0, or -1 with one line said. */
static int local_addresses(struct tw_verdict *v)
{
	struct ifaddrs *ifa, *i;
	int n = 0, over = 0;
	if (getifaddrs(&ifa) < 0) {
		fprintf(stderr, "tamperwatchd: cannot list this host's addresses (%s): its own flows are judged\n",
		        strerror(errno));
		return -1;
	}
	for (i = ifa; i; i = i->ifa_next) {
		uint8_t a[16] = { 0 };
		int fam;
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			memcpy(a, &((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr, 4);
			fam = TW_FAMILY_IPV4;
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			memcpy(a, &((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr, 16);
			fam = TW_FAMILY_IPV6;
		} else {
			continue;
		}
		if (tw_verdict_add_local(v, fam, a) < 0)
			over++;
		else
			n++;
	}
	freeifaddrs(ifa);
	if (over)
		fprintf(stderr,
		        "tamperwatchd: this host has more than %d addresses: the flows of %d of them are judged as "
		        "forwarded ones\n",
		        TW_VERDICT_MAX_LOCAL, over);
	return over ? -1 : 0;
}

/* ---- configuration --------------------------------------------------------- */

/* The configuration and the files it names; -1 to go on, or the exit status
 * (0 after --check-config). */
/* 1 if this network namespace forwards packets (IPv4 or IPv6), 0 if not,
 * -1 if the sysctls cannot be read. */
static int forwarding(void)
{
	static const char *const paths[] = { "/proc/sys/net/ipv4/conf/all/forwarding",
		                             "/proc/sys/net/ipv6/conf/all/forwarding" };
	int any = 0, read_one = 0;
	for (int i = 0; i < 2; i++) {
		FILE *f = fopen(paths[i], "r");
		int v = 0;
		if (!f)
			continue;
		if (fscanf(f, "%d", &v) == 1) {
			read_one = 1;
			any |= v != 0;
		}
		fclose(f);
	}
	return read_one ? any : -1;
}

/* Live without --mode: a gateway (forwarding between the watched links)
 * keeps XDP, which sees each packet once on its way in; a host watching
 * its own traffic (the vantage profile, or deployment.profile = auto on a
 * host that forwards nothing) needs the egress side too, which only TC
 * sees.  Which and why goes to d->mode_note, said when attaching (a
 * configuration error stays one line). */
static const struct backend *live_backend(struct daemon *d)
{
	const struct args *a = &d->a;
	int prof = d->cfg.profile, fwd = prof == TW_PROFILE_AUTO ? forwarding() : -1;
	int host = prof == TW_PROFILE_VANTAGE || (prof == TW_PROFILE_AUTO && fwd == 0);
	const struct backend *be = a->mode;
	if (!a->mode_given && host) {
		snprintf(d->mode_note, sizeof(d->mode_note),
		         "%s: both directions, with TC (ingress+egress); --mode xdp for ingress only",
		         prof == TW_PROFILE_VANTAGE ? "profile vantage"
		                                    : "this host forwards no packets (its own traffic)");
		be = backend_find("tc", 1);
	} else if (!a->mode_given) {
		snprintf(d->mode_note, sizeof(d->mode_note),
		         "%s: XDP, each packet once as it arrives on a watched link",
		         prof == TW_PROFILE_GATEWAY ? "profile gateway" : "this host forwards packets (a gateway)");
	}
	/* XDP sees what arrives: on a host's own traffic, or on one link of a
	 * gateway, each flow's other direction leaves unseen.  Such flows are
	 * counted, not judged (verdict.h) */
	d->ingress_only = be && be->attach == TW_MODE_XDP && !be->watches && (host || a->nif == 1);
	d->xdp_gateway = be && be->attach == TW_MODE_XDP && !be->watches && !d->ingress_only;
	if (d->ingress_only)
		snprintf(d->mode_note, sizeof(d->mode_note),
		         "%s: XDP sees only what arrives: flows seen one way are counted "
		         "(flows_one_way_attachment), not judged; --mode tc for both directions",
		         host ? (prof == TW_PROFILE_VANTAGE ? "profile vantage" : "this host forwards no packets")
		              : "one watched link");
	return be;
}

static int configure(struct daemon *d)
{
	const struct args *a = &d->a;
	struct tw_config *cfg = &d->cfg;
	char err[1024];

	tw_config_default(cfg);
	if (a->config_path && tw_config_load(cfg, a->config_path, err, sizeof(err)) < 0) {
		fprintf(stderr, "tamperwatchd: %s\n", err);
		return 2;
	}
	for (int i = 0; i < a->nsets; i++)
		if (tw_config_set(cfg, a->sets[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "tamperwatchd: %s\n", err);
			return 2;
		}
	if (a->am_url) {
		char set[1100];
		snprintf(set, sizeof(set), "alertmanager.url=%.1050s", a->am_url);
		if (tw_config_set(cfg, set, err, sizeof(err)) < 0) {
			fprintf(stderr, "tamperwatchd: --alertmanager: %s\n", err);
			return 2;
		}
	}
	tw_config_profile(cfg);
	if (a->payload)
		cfg->events_payload = 1;
	/* operator outputs: the flag wins over metrics.listen (checked with the config) */
	if (a->metrics_addr) {
		struct sockaddr_storage mss;
		socklen_t msl;
		if (tw_hostport_parse(a->metrics_addr, &mss, &msl, err, sizeof(err)) <
		    0) { /* fits metrics_listen then */
			fprintf(stderr, "tamperwatchd: metrics address '%.100s': %s\n", a->metrics_addr, err);
			return 2;
		}
		snprintf(cfg->metrics_listen, sizeof(cfg->metrics_listen), "%s", a->metrics_addr);
	}
	if (a->status_page)
		cfg->metrics_status_page = 1;
	if (cfg->metrics_status_page && !cfg->metrics_listen[0]) {
		fprintf(stderr, "tamperwatchd: the status page is served on the metrics listener: give --metrics "
		                "ADDR:PORT (or metrics.listen)\n");
		return 2;
	}
	/* --hub: main runs the hub (hub/hub.h) with this configuration; the
	 * files below are a gateway's */
	if (a->hub) {
		if (!a->check_only)
			return -1;
		printf("tamperwatchd: configuration OK\n");
		return 0;
	}
	/* --evidence overrides evidence.dir */
	if (a->evidence_arg && snprintf(cfg->evidence.dir, sizeof(cfg->evidence.dir), "%s", a->evidence_arg) >=
	                               (int)sizeof(cfg->evidence.dir)) {
		fprintf(stderr, "tamperwatchd: --evidence: path longer than %zu bytes\n",
		        sizeof(cfg->evidence.dir) - 1);
		return 2;
	}
	if (cfg->evidence.dir[0] && !a->verdicts) {
		fprintf(stderr, "tamperwatchd: --evidence needs verdicts (drop --no-verdicts)\n");
		return 2;
	}
	/* fingerprints.files (checked with the configuration), then each --fingerprints */
	char fplist[sizeof(cfg->fingerprints)];
	const char *fpfiles[TW_CONFIG_FP_FILES_MAX + TW_MAX_FPS];
	snprintf(fplist, sizeof(fplist), "%s", cfg->fingerprints);
	int nfpfiles = fplist[0] ? tw_config_list(fplist, fpfiles, TW_CONFIG_FP_FILES_MAX) : 0;
	if (nfpfiles < 0) {
		fprintf(stderr, "tamperwatchd: fingerprints.files: more than %d files\n", TW_CONFIG_FP_FILES_MAX);
		return 2;
	}
	for (int i = 0; i < a->nfp; i++)
		fpfiles[nfpfiles++] = a->fps[i];
	if (nfpfiles || cfg->fingerprints_default) {
		if (!(d->fpdb = tw_fp_db_new())) {
			fprintf(stderr, "tamperwatchd: out of memory\n");
			return 2;
		}
		/* the built-in default set first (fingerprints.default) */
		if (cfg->fingerprints_default && tw_fp_db_load_default(d->fpdb, err, sizeof(err)) < 0) {
			fprintf(stderr, "tamperwatchd: %s\n", err);
			return 2;
		}
		for (int i = 0; i < nfpfiles; i++)
			if (tw_fp_db_load(d->fpdb, fpfiles[i], err, sizeof(err)) < 0) {
				fprintf(stderr, "tamperwatchd: %s\n", err);
				return 2;
			}
	}
	/* declared restrictions: a bad file fails startup */
	if (a->declared && !(d->legit = tw_legit_load(a->declared, err, sizeof(err)))) {
		fprintf(stderr, "tamperwatchd: %s\n", err);
		return 2;
	}
	/* client prefix -> region/ASN labels (alert scope; the client networks
	 * of shutdown detection): a bad file fails startup */
	if (cfg->regions[0]) {
		if (tw_regions_load(&d->regions, cfg->regions, err, sizeof(err)) < 0) {
			fprintf(stderr, "tamperwatchd: %s\n", err);
			return 2;
		}
		cfg->alerts.regions = &d->regions;
	}
	if (cfg->shutdown_summary_s && !cfg->shutdown_on) {
		fprintf(stderr, "tamperwatchd: shutdown.summary_interval needs shutdown.enabled = true "
		                "(the summaries come from its per-prefix counters; docs/shutdown.md)\n");
		return 2;
	}
	if (cfg->shutdown_summary_s && cfg->shutdown_summary_s < cfg->shutdown.interval_s) {
		fprintf(stderr,
		        "tamperwatchd: configuration: shutdown.summary_interval (%u) may not be shorter than "
		        "shutdown.interval (%u)\n",
		        cfg->shutdown_summary_s, cfg->shutdown.interval_s);
		return 2;
	}
	if (cfg->shutdown_on) {
		if (!cfg->regions[0]) {
			fprintf(stderr, "tamperwatchd: shutdown.enabled needs regions.file = FILE "
			                "(the client networks and their region labels; docs/shutdown.md)\n");
			return 2;
		}
		if (!d->regions.n) {
			fprintf(stderr, "tamperwatchd: %s: no client networks listed\n", cfg->regions);
			return 2;
		}
		if (tw_shutdown_cfg_check(&cfg->shutdown, err, sizeof(err)) < 0) {
			fprintf(stderr, "tamperwatchd: configuration: %s\n", err);
			return 2;
		}
		/* series are named by their prefix: never finer than privacy allows */
		if (cfg->shutdown_v4 > cfg->prefix_v4 || cfg->shutdown_v6 > cfg->prefix_v6) {
			fprintf(stderr,
			        "tamperwatchd: configuration: shutdown.prefix_v4/prefix_v6 (%d/%d) may not be "
			        "longer than privacy.prefix_v4/prefix_v6 (%d/%d)\n",
			        cfg->shutdown_v4, cfg->shutdown_v6, cfg->prefix_v4, cfg->prefix_v6);
			return 2;
		}
		uint64_t span = tw_sdfeed_span(&d->regions, cfg->shutdown_v4, cfg->shutdown_v6);
		if (span > TW_PFX_MAX)
			fprintf(stderr,
			        "tamperwatchd: warning: the client networks span %llu counting prefixes; at most %d "
			        "are counted (stats: prefix_counter_full)\n",
			        (unsigned long long)span, TW_PFX_MAX);
	}
	if (a->check_only) {
		if (cfg->regions[0])
			printf("tamperwatchd: %zu client networks labelled with regions%s\n", d->regions.n,
			       cfg->shutdown_on ? " (shutdown detection on)" : "");
		if (d->legit)
			printf("tamperwatchd: %zu declared restrictions loaded\n", tw_legit_count(d->legit));
		if (d->fpdb) {
			size_t skipped = 0, n = tw_fp_db_count(d->fpdb, &skipped);
			printf("tamperwatchd: %zu fingerprints loaded, %zu skipped\n", n, skipped);
		}
		printf("tamperwatchd: configuration OK\n");
		return 0;
	}
	if (a->nif && a->nreplay) {
		fprintf(stderr, "tamperwatchd: give either -i (live) or --replay, not both\n");
		return 2;
	}
	if (!a->nif && !a->nreplay) {
		fprintf(stderr, "tamperwatchd: nothing to watch: give -i IFACE or --replay FILE (try --help)\n");
		return 2;
	}
	if (a->mode->watches && a->nreplay) { /* a kernel backend with nothing to replay through */
		fprintf(stderr, "tamperwatchd: --mode %s is live only (-i IFACE)\n", a->mode->name);
		return 2;
	}
	if (a->engine && !a->nreplay) {
		fprintf(stderr, "tamperwatchd: --replay-engine goes with --replay\n");
		return 2;
	}
	d->be = !a->nreplay ? live_backend(d) : a->engine ? a->engine : backend_find("user", 0);
	return -1;
}

/* ---- setup: built bottom up, in the order of docs/architecture.md ---------- */

/* Every flow outcome to the per-target alerts, then to region-wide
 * throttling (one verdict hook: the second one is evidence retention's). */
static void outcome_fanout(void *arg, const struct tw_flow_outcome *o)
{
	struct daemon *d = arg;
	tw_agg_outcome(d->agg, o);
	if (d->rthr)
		tw_rthr_outcome(d->rthr, o);
}

static int shutdown_setup(struct daemon *d, char *err, size_t errlen)
{
	struct tw_config *cfg = &d->cfg;
	const char *state_dir = d->a.state_dir;

	cfg->shutdown.emit = tw_bus_emit;
	cfg->shutdown.emit_arg = &d->bus;
	if (d->page) {
		cfg->shutdown.observe = tw_spage_observe;
		cfg->shutdown.observe_arg = d->page;
	}
	char why[512];
	if (d->eng->set_client_nets(d->eng, &d->regions, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "shutdown detection: %s", why);
		return 3;
	}
	if (!(d->sd = tw_shutdown_new(&cfg->shutdown))) {
		snprintf(err, errlen, "shutdown detection: out of memory");
		return 3;
	}
	if (state_dir && mkdir(state_dir, 0700) < 0 && errno != EEXIST) { /* without [alerts] too */
		snprintf(err, errlen, "--state %s: %s", state_dir, strerror(errno));
		return 3;
	}
	int rc = state_dir ? tw_shutdown_load(d->sd, state_dir, err, errlen) : TW_STATE_NONE;
	if (rc == TW_STATE_UNREADABLE) /* left in place: not ours to overwrite */
		return 3;
	if (rc == TW_STATE_CORRUPT)
		fprintf(stderr, "tamperwatchd: %s\n", err);
	/* prefix summaries are records, not alerts: to the log (and NATS), not the bus */
	struct tw_sdfeed_opts fo = {
		cfg->shutdown.interval_s, state_dir,      (uint32_t)cfg->alerts.state_interval, d->a.nreplay > 0,
		cfg->shutdown_summary_s,  { log_line, d }
	};
	if (!(d->feed = tw_sdfeed_new(d->eng, d->sd, &d->regions, &fo))) {
		snprintf(err, errlen, "out of memory");
		return 3;
	}
	if (tw_pipeline_add_tick(&d->pl, tw_sdfeed_tick, d->feed) < 0 ||
	    tw_stats_add_section(&d->stats, tw_sdfeed_stats_json, d->feed) < 0) {
		snprintf(err, errlen, "shutdown: no free tick or stats slot (a build-time bound)");
		return 3;
	}
	return 0;
}

static int setup_steps(struct daemon *d, char *err, size_t errlen)
{
	const struct args *a = &d->a;
	struct tw_config *cfg = &d->cfg;
	int rc;

	for (int i = 0; i < a->nif; i++)
		if (tw_link_resolve(&d->links[i], a->ifaces[i], d->be->attach, err, errlen) < 0)
			return 2;
	if (tw_output_open(&d->out, a->alerts, err, errlen) < 0)
		return 2;
	d->out_open = 1;

	/* events: decoded once, handed to the event writer, the verdicts and
	 * evidence retention, in that order (pipeline.h) */
	struct tw_pipeline_opts po = {
		.v4_prefix = cfg->prefix_v4,
		.v6_prefix = cfg->prefix_v6,
		.events_payload = cfg->events_payload,
		.clock_offset_ns = a->nreplay ? 0 : clock_offset(),
	};
	tw_pipeline_init(&d->pl, &po);
	tw_sampling_init(&d->sampling, cfg->sample, cfg->sample_max, cfg->sample_quiet);
	d->pl.sampling = &d->sampling;
	tw_event_writer_init(&d->writer, &d->pl.opt, tw_output_line, &d->out);
	uint32_t types = 0;
	char why[256];
	/* replay as live: what a gateway keeps; --events for the per-packet events */
	if (tw_out_types_parse(cfg->output_types[0] ? cfg->output_types : TW_TYPES_GATEWAY, &types, why, sizeof(why)) <
	    0) { /* checked with the configuration */
		snprintf(err, errlen, "output.types: %s", why);
		return 2;
	}
	if (a->events)
		tw_out_types_parse(TW_TYPES_EVENTS, &types, why, sizeof(why));
	tw_out_types_set(&d->types, types);
	d->writer.ev_on = d->types.ev_on;
	tw_pipeline_add_consumer(&d->pl, "events", tw_event_write, &d->writer);
	/* detector lines: to the log, then to every sink (bus.h) */
	tw_bus_init(&d->bus, log_line, d);
	d->bus_ready = 1;
	/* the operator's views read this snapshot, refreshed every tick */
	tw_status_init(&d->status, d->be->status, TW_VERSION);
	d->status_ready = 1;
	d->stats = (struct tw_stats_src){ .pl = &d->pl,
		                          .writer = &d->writer,
		                          .out = &d->out,
		                          .types = &d->types,
		                          .status = &d->status,
		                          .line = { log_line, d } };

	if (a->verdicts) {
		d->verdict = tw_verdict_new(&d->pl, d->fpdb, cfg->max_flows, cfg->silence_hold_ns, log_line, d);
		if (!d->verdict) {
			snprintf(err, errlen, "out of memory for the verdict table");
			return 3;
		}
		tw_verdict_set_throttle(d->verdict, &cfg->throttling);
		tw_verdict_set_ingress_only(d->verdict, d->ingress_only);
		if (d->xdp_gateway)
			local_addresses(d->verdict);
		tw_pipeline_add_consumer(&d->pl, "verdicts", tw_verdict_event, d->verdict);
		d->stats.verdict = d->verdict;
	}

	tw_run_signals();

	struct tw_prefix_opts pfx = { cfg->shutdown_on, cfg->shutdown_v4, cfg->shutdown_v6 };
	struct tw_record_sink records = { tw_pipeline_record, &d->pl };
	if (!(d->eng = d->be->make(&records, cfg, a->nreplay > 0, a->ifaces, a->nif, &pfx, err, errlen)))
		return 3;
	d->stats.eng = d->eng;
	d->stats.sampling = &d->sampling;
	/* every backend from the operator's rate (the kernel module keeps the
	 * last daemon's otherwise) */
	if (d->eng->set_sampling && d->eng->set_sampling(d->eng, cfg->sample) < 0) {
		snprintf(err, errlen, "cannot set flow sampling 1 in %u in the backend: %s", cfg->sample,
		         strerror(errno));
		return 3;
	}
	if (cfg->sample > 1)
		fprintf(stderr, "tamperwatchd: flow sampling: 1 in %u flows tracked (flows.sample)\n", cfg->sample);

	/* the outputs, once the backend has started: they claim sockets, spools
	 * and threads, and the first error of a run that cannot start is the
	 * backend's */
	if ((rc = sinks_open(d, err, errlen)))
		return rc;

	/* per-target alerts on top of the verdicts */
	if (d->verdict) {
		cfg->alerts.sampling = &d->sampling;
		d->agg = tw_agg_new(&cfg->alerts, d->legit, a->state_dir, tw_bus_emit, &d->bus, err, errlen);
		if (!d->agg)
			return 3;
		tw_verdict_set_hook(d->verdict, outcome_fanout, d);
		if (tw_pipeline_add_tick(&d->pl, tw_agg_tick, d->agg) < 0 ||
		    tw_stats_add_section(&d->stats, tw_agg_stats_json, d->agg) < 0) {
			snprintf(err, errlen, "alerts: no free tick or stats slot (a build-time bound)");
			return 3;
		}
		cfg->region_throttling.regions = cfg->alerts.regions;
		if (cfg->region_throttling.enabled) {
			if (!(d->rthr = tw_rthr_new(&cfg->region_throttling, tw_bus_emit, &d->bus))) {
				snprintf(err, errlen, "region_throttling: out of memory");
				return 3;
			}
			if (tw_pipeline_add_tick(&d->pl, tw_rthr_tick, d->rthr) < 0 ||
			    tw_stats_add_section(&d->stats, tw_rthr_stats_json, d->rthr) < 0) {
				snprintf(err, errlen,
				         "region_throttling: no free tick or stats slot (a build-time bound)");
				return 3;
			}
			/* a shutdown of a throttled region names the throttling alert */
			cfg->shutdown.related = tw_rthr_related;
			cfg->shutdown.related_arg = d->rthr;
		}
	}

	/* shutdown detection on the engine's per-prefix counters */
	if (cfg->shutdown_on && (rc = shutdown_setup(d, err, errlen)))
		return rc;

	d->status_src = (struct tw_status_src){ &d->status, d->eng,    &d->pl,     &d->writer,
		                                &d->out,    &d->types, d->verdict, d->agg };
	if (tw_pipeline_add_tick(&d->pl, tw_status_tick, &d->status_src) < 0) {
		snprintf(err, errlen, "status: no free tick slot (a build-time bound)");
		return 3;
	}
	if (d->page) {
		tw_spage_set_agg(d->page, d->agg);
		if (tw_pipeline_add_tick(&d->pl, tw_spage_tick, d->page) < 0) {
			snprintf(err, errlen, "status page: no free tick slot (a build-time bound)");
			return 3;
		}
	}
	return sinks_schedule(d, err, errlen);
}

/* -1 to go on, or the exit status */
static int setup(struct daemon *d)
{
	char err[1024];
	int rc = setup_steps(d, err, sizeof(err));
	if (rc)
		fprintf(stderr, "tamperwatchd: %s\n", err);
	return rc ? rc : -1;
}

/* ---- run ----------------------------------------------------------------- */

/* what the run loops drive above capture (run.h) */
/* Live: events lost since the last tick raise the sampling rate (and a
 * quiet spell lowers it): capture/sampling.h has the rule.  Replay loses
 * nothing (each frame's events are read before the next frame). */
static void sampling_tick(struct daemon *d)
{
	uint64_t c[TW_CNT_MAX];
	struct timespec ts;
	memset(c, 0, sizeof(c));
	d->eng->counters(d->eng, c, NULL, 0, NULL);
	clock_gettime(CLOCK_REALTIME, &ts); /* the outcomes' clock live */
	uint32_t was = tw_sampling_rate(&d->sampling);
	uint32_t n = tw_sampling_update(&d->sampling, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec,
	                                c[TW_CNT_EVENTS_LOST]);
	if (!n)
		return;
	if (!d->eng->set_sampling || d->eng->set_sampling(d->eng, n) < 0) {
		fprintf(stderr, "tamperwatchd: cannot set flow sampling 1 in %u in the backend: %s (1 in %u stays)\n",
		        n, strerror(errno), was);
		tw_sampling_undo(&d->sampling, was); /* the records say what the backend does */
		return;
	}
	/* from now on new flows come in at n: the backend's clock (a flow's
	 * base_ns), so that a verdict carries its flow's admission rate */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	tw_sampling_applied(&d->sampling, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec, n);
	fprintf(stderr, "tamperwatchd: flow sampling %s from 1 in %u to 1 in %u flows (%s)\n",
	        n > was ? "raised" : "lowered", was, n,
	        n > was ? "events were lost" : "no event lost for flows.sample_quiet");
}

static void run_tick(void *arg, uint64_t now_ns, int final)
{
	struct daemon *d = arg;
	if (!d->a.nreplay && !final)
		sampling_tick(d);
	tw_pipeline_tick(&d->pl, now_ns, final);
}

static void run_stats(void *arg, uint64_t ts_ns, const struct tw_replay_totals *tot, int final)
{
	struct daemon *d = arg;
	tw_stats_write(&d->stats, ts_ns, tot, final);
}

static void run_flush(void *arg)
{
	struct daemon *d = arg;
	tw_output_flush(&d->out);
}

static void run_reopen(void *arg)
{
	struct daemon *d = arg;
	char err[256];
	if (tw_output_reopen(&d->out, err, sizeof(err)) < 0)
		fprintf(stderr, "tamperwatchd: SIGHUP: %s (still writing to the old file)\n", err);
}

/* least privilege for the rest of the run (sandbox.h); 0, or an exit status */
static int enter_sandbox(struct daemon *d)
{
	char err[512];
	enum tw_sandbox_mode m = d->a.nreplay
	                                 ? (strcmp(d->be->name, "bpf") ? TW_SANDBOX_REPLAY_USER : TW_SANDBOX_REPLAY_BPF)
	                         : d->be->watches ? TW_SANDBOX_LIVE_KMOD
	                                          : TW_SANDBOX_LIVE_BPF;
	if (tw_sandbox_enter(m, &d->cfg.sandbox, err, sizeof(err)) == 0)
		return 0;
	fprintf(stderr, "tamperwatchd: %s\n", err);
	return 3;
}

static int run_live(struct daemon *d, const struct tw_run_hooks *hooks)
{
	const struct args *a = &d->a;
	int own = d->be->watches != NULL; /* the engine watches the links: nothing to attach */
	int xdp_fd = own ? -1 : tw_engine_bpf_prog_fd(d->eng, 1), tc_fd = own ? -1 : tw_engine_bpf_prog_fd(d->eng, 0);
	char err[1024];

	if (d->mode_note[0])
		fprintf(stderr, "tamperwatchd: %s\n", d->mode_note);
	for (int i = 0; i < a->nif && own; i++) {
		fprintf(stderr, "tamperwatchd: watching %s (%s)\n", d->links[i].name, d->be->watches);
		tw_status_add_link(&d->status, d->links[i].name, d->be->name);
	}
	for (int i = 0; i < a->nif && !own; i++) {
		struct tw_link *l = &d->links[i];
		if (tw_link_attach(l, xdp_fd, tc_fd, err, sizeof(err)) < 0) {
			fprintf(stderr, "tamperwatchd: %s\n", err);
			for (int j = 0; j <= i; j++)
				tw_link_detach(&d->links[j], xdp_fd);
			return 3;
		}
		const char *how = d->be->attach == TW_MODE_TC                   ? "tc"
		                  : (l->xdp_flags & 2 /* XDP_FLAGS_SKB_MODE */) ? "xdp generic"
		                                                                : "xdp native";
		fprintf(stderr, "tamperwatchd: watching %s (%s)\n", l->name,
		        d->be->attach == TW_MODE_TC ? "tc clsact ingress+egress" : how);
		tw_status_add_link(&d->status, l->name, how);
	}
	struct tw_linkwatch *lw = tw_linkwatch_new(d->links, a->nif, on_link, d, err, sizeof(err));
	if (!lw)
		fprintf(stderr, "tamperwatchd: %s (continuing without it)\n", err);
	int rc = enter_sandbox(d); /* attached: what is left needs far less */
	if (rc) {
		tw_linkwatch_free(lw);
		for (int i = 0; i < a->nif && !own; i++)
			tw_link_detach(&d->links[i], xdp_fd);
		return rc;
	}
	rc = tw_live_run(d->eng, hooks, d->links, own ? 0 : a->nif, &d->cfg.timeouts, d->cfg.stats_interval, lw);
	tw_linkwatch_free(lw);
	fprintf(stderr, "tamperwatchd: stopped; detached from %d interface(s)\n", a->nif);
	return rc ? 1 : 0;
}

static int run(struct daemon *d)
{
	struct tw_run_hooks hooks = { d, run_tick, run_stats, run_flush, run_reopen };
	if (d->a.nreplay) {
		struct tw_replay_totals tot;
		int rc = enter_sandbox(d);
		if (rc)
			return rc;
		return tw_replay_run(d->eng, &hooks, d->a.replay, d->a.nreplay, &d->cfg.timeouts, &tot) ? 1 : 0;
	}
	return run_live(d, &hooks);
}

/* ---- teardown: whatever exists, top down ----------------------------------- */

static void teardown(struct daemon *d)
{
	for (int i = NSINKS - 1; i >= 0; i--)
		if (d->sink[i]) {
			sinks[i].close(d->sink[i]);
			d->sink[i] = NULL; /* log_line hands no more lines to it */
		}
	if (d->eng)
		d->eng->destroy(d->eng);
	tw_verdict_free(d->verdict);
	tw_agg_free(d->agg);
	tw_rthr_free(d->rthr);
	tw_sdfeed_free(d->feed);
	tw_shutdown_free(d->sd);
	tw_spage_free(d->page); /* after the metrics thread that reads it */
	if (d->bus_ready)
		tw_bus_free(&d->bus);
	if (d->status_ready)
		tw_status_free(&d->status);
	tw_legit_free(d->legit);
	tw_regions_free(&d->regions);
	tw_fp_db_free(d->fpdb);
	if (d->out_open)
		tw_output_close(&d->out);
}

int main(int argc, char **argv)
{
	/* least privilege: nothing this process starts may gain privileges (it execs
	 * nothing; this holds if that ever changes); first, so every thread inherits it */
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	static struct daemon d; /* large (the status snapshot): not on the stack */
	int rc = parse_args(argc, argv, &d.a);
	if (rc < 0)
		rc = configure(&d);
	if (rc < 0 && d.a.hub) /* --hub: consume what sites publish instead */
		rc = tw_hub_run(&d.cfg, d.a.alerts, d.a.state_dir, TW_VERSION);
	if (rc < 0)
		rc = setup(&d);
	if (rc < 0)
		rc = run(&d);
	teardown(&d); /* closes the log: lines still queued then are counted lost */
	if (rc == 0 && d.out.write_errors)
		rc = 1; /* lost output is a fault too */
	return rc;
}
