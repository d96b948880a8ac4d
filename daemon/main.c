/* tamperwatchd: watch links (eBPF, live) or replay captures, and write what
 * the detector sees as JSON lines.  See README.md and --help. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "config.h"
#include "capture/engine_bpf.h"
#include "verdicts/fingerprints.h"
#include "verdicts/verdict.h"
#include "alerts/aggregate.h"
#include "alerts/legit.h"
#include "capture/run.h"
#include "outputs/bus.h"
#include "control/status.h"
#include "outputs/metrics.h"
#include "outputs/syslog_out.h"
#include "util/hostport.h"
#include "outputs/alertmanager.h"
#include "outputs/evidence.h"
#include "outputs/pseudonym.h"
#include "control/ctl.h"
#include "regions.h"
#include "alerts/shutdown.h"
#include "alerts/shutdown_feed.h"
#include "util/state.h"
#include "capture/linkwatch.h"
#include "outputs/nats_pub.h" /* nats: publisher */
#include "hub/hub.h"          /* nats: --hub */

#define TW_VERSION "0.1.0"
#define TW_MAX_REPLAY 256

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: tamperwatchd -i IFACE [-i IFACE]... [--mode xdp|tc] [options]\n"
	        "       tamperwatchd --replay FILE [--replay FILE]... [--replay-engine user|bpf] [options]\n"
	        "\n"
	        "Watches links for Internet censorship (forged resets, injected answers, blocking)\n"
	        "and writes one JSON object per event, EVE style, to the alert log.\n"
	        "\n"
	        "Live (root):\n"
	        "  -i, --interface IFACE   watch IFACE (repeatable, up to %d); packets are only\n"
	        "                          observed, never changed, dropped or delayed\n"
	        "      --mode xdp|tc       XDP (default; native, else generic with a message) or\n"
	        "                          TC clsact ingress+egress (sees GSO super-packets)\n"
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
	        "      --events-payload    include payload snippets (base64) in events: user data,\n"
	        "                          for debugging only (output.events_payload)\n"
	        "      --fingerprints FILE block-page / forged-DNS fingerprints in the CSV format of\n"
	        "                          OONI's blocking-fingerprints (repeatable: add your own)\n"
	        "      --no-verdicts       write events only, no per-flow tamper verdicts\n"
	        "      --state DIR         keep open alerts, their windows, the shutdown baselines\n"
	        "                          and the Alertmanager spool in DIR across restarts\n"
	        "      --declared FILE     the operator's declared restrictions (docs/alerts.md)\n"
	        "      --set regions.file=FILE  client prefix -> region/ASN labels for the alerts'\n"
	        "                          scope (docs/alerts.md)\n"
	        "      --metrics ADDR:PORT serve Prometheus metrics on http://ADDR:PORT/metrics\n"
	        "                          (or metrics.listen; e.g. 127.0.0.1:9464, [::1]:9464;\n"
	        "                          off unless given; docs/outputs.md)\n"
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
	        "Exit status: 0 ok; 1 an input had a fault (reported; the rest was processed);\n"
	        "2 bad command line or configuration; 3 the backend could not start.\n",
	        TW_MAX_IFACES);
}

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		tw_hup = 1;
	else
		tw_stop = 1;
}

struct link_ctx {
	struct tw_shutdown *sd;
	struct tw_status *st;
};

/* our own link went down or came back: never a shutdown (linkwatch.h) */
static void on_link(void *arg, const char *name, int link_up, int all_up)
{
	struct link_ctx *c = arg;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(stderr, "tamperwatchd: link %s is %s\n", name, link_up ? "up" : "down");
	tw_status_set_link_up(c->st, name, link_up);
	if (c->sd)
		tw_shutdown_link_iface(c->sd, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec, name, link_up,
		                       all_up);
}

static int64_t clock_offset(void)
{
	struct timespec r, m;
	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &m);
	return ((int64_t)r.tv_sec - m.tv_sec) * 1000000000ll + ((int64_t)r.tv_nsec - m.tv_nsec);
}

int main(int argc, char **argv)
{
	enum { O_METRICS = 400 }; /* operator outputs */
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
		O_HUB /* nats */
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
		{ "alertmanager", required_argument, NULL, O_AM },
		{ "evidence", required_argument, NULL, O_EVIDENCE },
		{ "control", required_argument, NULL, O_CONTROL },
		{ "hub", no_argument, NULL, O_HUB }, /* nats */
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ifaces[TW_MAX_IFACES];
	char *replay[TW_MAX_REPLAY];
	const char *sets[64];
	const char *fps[16];
	int nfp = 0, verdicts = 1;
	int nif = 0, nreplay = 0, nsets = 0, check_only = 0, payload = 0;
	enum tw_mode mode = TW_MODE_XDP;
	const char *alerts = "-", *config_path = NULL, *engine_name = NULL;
	const char *state_dir = NULL, *declared = NULL;
	const char *metrics_addr = NULL;
	const char *am_url = NULL;
	const char *evidence_arg = NULL;
	const char *control = NULL; /* --control */
	int hub = 0;                /* nats: --hub */
	struct tw_config cfg;
	char err[1024];
	int opt;

	while ((opt = getopt_long(argc, argv, "i:c:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			if (nif == TW_MAX_IFACES) {
				fprintf(stderr, "tamperwatchd: at most %d interfaces\n", TW_MAX_IFACES);
				return 2;
			}
			ifaces[nif++] = optarg;
			break;
		case O_MODE:
			if (!strcmp(optarg, "xdp"))
				mode = TW_MODE_XDP;
			else if (!strcmp(optarg, "tc"))
				mode = TW_MODE_TC;
			else if (!strcmp(optarg, "kmod")) {
				fprintf(stderr,
				        "tamperwatchd: --mode kmod: the kernel module backend is not built yet\n");
				return 2;
			} else {
				fprintf(stderr, "tamperwatchd: --mode: expected xdp or tc, got '%s'\n", optarg);
				return 2;
			}
			break;
		case O_ALERTS: alerts = optarg; break;
		case O_REPLAY:
			if (nreplay == TW_MAX_REPLAY) {
				fprintf(stderr, "tamperwatchd: at most %d --replay files\n", TW_MAX_REPLAY);
				return 2;
			}
			replay[nreplay++] = optarg;
			break;
		case O_ENGINE:
			if (strcmp(optarg, "user") && strcmp(optarg, "bpf")) {
				fprintf(stderr, "tamperwatchd: --replay-engine: expected user or bpf, got '%s'\n",
				        optarg);
				return 2;
			}
			engine_name = optarg;
			break;
		case 'c': config_path = optarg; break;
		case O_SET:
			if (nsets == 64) {
				fprintf(stderr, "tamperwatchd: at most 64 --set options\n");
				return 2;
			}
			sets[nsets++] = optarg;
			break;
		case O_CHECK: check_only = 1; break;
		case O_PAYLOAD: payload = 1; break;
		case O_FP:
			if (nfp == 16) {
				fprintf(stderr, "tamperwatchd: at most 16 --fingerprints files\n");
				return 2;
			}
			fps[nfp++] = optarg;
			break;
		case O_NOVERDICT: verdicts = 0; break;
		case O_STATE: state_dir = optarg; break;
		case O_DECLARED: declared = optarg; break;
		case O_METRICS: metrics_addr = optarg; break;
		case O_AM: am_url = optarg; break;
		case O_EVIDENCE: evidence_arg = optarg; break;
		case O_CONTROL: control = optarg; break;
		case O_HUB: hub = 1; break; /* nats */
		case 'h': usage(stdout); return 0;
		case 'V': printf("tamperwatchd %s (event format %d)\n", TW_VERSION, TW_EVENT_VERSION); return 0;
		default: fprintf(stderr, "tamperwatchd: try --help\n"); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tamperwatchd: unexpected argument '%s' (try --help)\n", argv[optind]);
		return 2;
	}

	tw_config_default(&cfg);
	if (config_path && tw_config_load(&cfg, config_path, err, sizeof(err)) < 0) {
		fprintf(stderr, "tamperwatchd: %s\n", err);
		return 2;
	}
	for (int i = 0; i < nsets; i++)
		if (tw_config_set(&cfg, sets[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "tamperwatchd: %s\n", err);
			return 2;
		}
	if (am_url) {
		char set[1100];
		snprintf(set, sizeof(set), "alertmanager.url=%.1050s", am_url);
		if (tw_config_set(&cfg, set, err, sizeof(err)) < 0) {
			fprintf(stderr, "tamperwatchd: --alertmanager: %s\n", err);
			return 2;
		}
	}
	if (payload)
		cfg.events_payload = 1;
	/* operator outputs: the flag wins over metrics.listen (checked with the config) */
	if (metrics_addr) {
		struct sockaddr_storage mss;
		socklen_t msl;
		if (tw_hostport_parse(metrics_addr, &mss, &msl, err, sizeof(err)) < 0) { /* fits metrics_listen then */
			fprintf(stderr, "tamperwatchd: metrics address '%.100s': %s\n", metrics_addr, err);
			return 2;
		}
		snprintf(cfg.metrics_listen, sizeof(cfg.metrics_listen), "%s", metrics_addr);
	}
	/* nats: the hub consumes what sites publish (hub/hub.h) */
	if (hub) {
		if (check_only) {
			printf("tamperwatchd: configuration OK\n");
			return 0;
		}
		return tw_hub_run(&cfg, alerts, state_dir, TW_VERSION);
	}
	/* --evidence overrides evidence.dir */
	if (evidence_arg &&
	    snprintf(cfg.evidence.dir, sizeof(cfg.evidence.dir), "%s", evidence_arg) >= (int)sizeof(cfg.evidence.dir)) {
		fprintf(stderr, "tamperwatchd: --evidence: path longer than %zu bytes\n", sizeof(cfg.evidence.dir) - 1);
		return 2;
	}
	if (cfg.evidence.dir[0] && !verdicts) {
		fprintf(stderr, "tamperwatchd: --evidence needs verdicts (drop --no-verdicts)\n");
		return 2;
	}
	/* fingerprints.files (checked with the configuration), then each --fingerprints */
	char fplist[sizeof(cfg.fingerprints)];
	const char *fpfiles[TW_CONFIG_FP_FILES_MAX + 16];
	snprintf(fplist, sizeof(fplist), "%s", cfg.fingerprints);
	int nfpfiles = fplist[0] ? tw_config_list(fplist, fpfiles, TW_CONFIG_FP_FILES_MAX) : 0;
	if (nfpfiles < 0) {
		fprintf(stderr, "tamperwatchd: fingerprints.files: more than %d files\n", TW_CONFIG_FP_FILES_MAX);
		return 2;
	}
	for (int i = 0; i < nfp; i++)
		fpfiles[nfpfiles++] = fps[i];
	struct tw_fp_db *fpdb = NULL;
	if (nfpfiles) {
		fpdb = tw_fp_db_new();
		if (!fpdb) {
			fprintf(stderr, "tamperwatchd: out of memory\n");
			return 2;
		}
		for (int i = 0; i < nfpfiles; i++)
			if (tw_fp_db_load(fpdb, fpfiles[i], err, sizeof(err)) < 0) {
				fprintf(stderr, "tamperwatchd: %s\n", err);
				tw_fp_db_free(fpdb);
				return 2;
			}
	}
	/* declared restrictions: a bad file fails startup */
	struct tw_legit *legit = NULL;
	if (declared && !(legit = tw_legit_load(declared, err, sizeof(err)))) {
		fprintf(stderr, "tamperwatchd: %s\n", err);
		tw_fp_db_free(fpdb);
		return 2;
	}
	/* client prefix -> region/ASN labels (alert scope; the client networks
	 * of shutdown detection): a bad file fails startup */
	struct tw_regions regions = { 0 };
	if (cfg.regions[0]) {
		if (tw_regions_load(&regions, cfg.regions, err, sizeof(err)) < 0) {
			fprintf(stderr, "tamperwatchd: %s\n", err);
			tw_legit_free(legit);
			tw_fp_db_free(fpdb);
			return 2;
		}
		cfg.alerts.regions = &regions;
	}
	if (cfg.shutdown_on) {
		if (!cfg.regions[0]) {
			fprintf(stderr, "tamperwatchd: shutdown.enabled needs regions.file = FILE "
			                "(the client networks and their region labels; docs/shutdown.md)\n");
			return 2;
		}
		if (!regions.n) {
			fprintf(stderr, "tamperwatchd: %s: no client networks listed\n", cfg.regions);
			return 2;
		}
		if (tw_shutdown_cfg_check(&cfg.shutdown, err, sizeof(err)) < 0) {
			fprintf(stderr, "tamperwatchd: configuration: %s\n", err);
			return 2;
		}
		/* series are named by their prefix: never finer than privacy allows */
		if (cfg.shutdown_v4 > cfg.prefix_v4 || cfg.shutdown_v6 > cfg.prefix_v6) {
			fprintf(stderr,
			        "tamperwatchd: configuration: shutdown.prefix_v4/prefix_v6 (%d/%d) may not be "
			        "longer than privacy.prefix_v4/prefix_v6 (%d/%d)\n",
			        cfg.shutdown_v4, cfg.shutdown_v6, cfg.prefix_v4, cfg.prefix_v6);
			return 2;
		}
		uint64_t span = tw_sdfeed_span(&regions, cfg.shutdown_v4, cfg.shutdown_v6);
		if (span > TW_PFX_MAX)
			fprintf(stderr,
			        "tamperwatchd: warning: the client networks span %llu counting prefixes; at most %d "
			        "are counted (stats: prefix_counter_full)\n",
			        (unsigned long long)span, TW_PFX_MAX);
	}
	if (check_only) {
		if (cfg.regions[0])
			printf("tamperwatchd: %zu client networks labelled with regions%s\n", regions.n,
			       cfg.shutdown_on ? " (shutdown detection on)" : "");
		tw_regions_free(&regions);
		if (legit)
			printf("tamperwatchd: %zu declared restrictions loaded\n", tw_legit_count(legit));
		tw_legit_free(legit);
		if (fpdb) {
			size_t skipped = 0, n = tw_fp_db_count(fpdb, &skipped);
			printf("tamperwatchd: %zu fingerprints loaded, %zu skipped\n", n, skipped);
			tw_fp_db_free(fpdb);
		}
		printf("tamperwatchd: configuration OK\n");
		return 0;
	}
	if (nif && nreplay) {
		fprintf(stderr, "tamperwatchd: give either -i (live) or --replay, not both\n");
		return 2;
	}
	if (!nif && !nreplay) {
		fprintf(stderr, "tamperwatchd: nothing to watch: give -i IFACE or --replay FILE (try --help)\n");
		return 2;
	}
	if (engine_name && !nreplay) {
		fprintf(stderr, "tamperwatchd: --replay-engine goes with --replay\n");
		return 2;
	}
	/* operator outputs: bound before the backend starts, so a bad address or
	 * a port in use fails startup with nothing attached */
	struct tw_metrics *metrics = NULL;
	struct tw_syslog *syslog_out = NULL;
	if (cfg.metrics_listen[0]) {
		int code = 2;
		struct sockaddr_storage mss;
		socklen_t msl;
		if (!(metrics = tw_metrics_open(cfg.metrics_listen, err, sizeof(err), &code))) {
			fprintf(stderr, "tamperwatchd: %s\n", err);
			return code;
		}
		tw_hostport_parse(cfg.metrics_listen, &mss, &msl, err, sizeof(err));
		fprintf(stderr, "tamperwatchd: metrics on http://%s/metrics%s\n", cfg.metrics_listen,
		        tw_hostport_is_loopback(&mss) ? "" : " (not loopback: reachable from the network)");
	}

	struct tw_link links[TW_MAX_IFACES];
	for (int i = 0; i < nif; i++)
		if (tw_link_resolve(&links[i], ifaces[i], mode, err, sizeof(err)) < 0) {
			fprintf(stderr, "tamperwatchd: %s\n", err);
			return 2;
		}

	struct tw_output out;
	if (tw_output_open(&out, alerts, err, sizeof(err)) < 0) {
		fprintf(stderr, "tamperwatchd: %s\n", err);
		return 2;
	}
	struct tw_pipeline pl;
	struct tw_pipeline_opts po = {
		.v4_prefix = cfg.prefix_v4,
		.v6_prefix = cfg.prefix_v6,
		.events_payload = cfg.events_payload,
		.clock_offset_ns = nreplay ? 0 : clock_offset(),
	};
	tw_pipeline_init(&pl, &out, &po);
	/* alerts: to the log, then to every sink (bus.h) */
	struct tw_bus bus;
	tw_bus_init(&bus, &pl);
	if (verdicts) {
		pl.verdict = tw_verdict_new(&pl, fpdb, cfg.max_flows, cfg.silence_hold_ns);
		if (!pl.verdict) {
			fprintf(stderr, "tamperwatchd: out of memory for the verdict table\n");
			return 3;
		}
	}
	/* evidence pcaps (README "Evidence"): retention sees every event after
	 * the verdicts and every outcome; the files are written by a bus sink */
	struct tw_evidence *evid = NULL;
	if (pl.verdict && cfg.evidence.dir[0]) {
		struct tw_pseudonym pn;
		if (tw_pseudonym_init(&pn, state_dir, cfg.prefix_v4, cfg.prefix_v6, err, sizeof(err)) < 0 ||
		    !(evid = tw_evidence_new(&cfg.evidence, &pn, po.clock_offset_ns, err, sizeof(err)))) {
			fprintf(stderr, "tamperwatchd: %s\n", err);
			return 3;
		}
		if (!pn.persistent)
			fprintf(stderr,
			        "tamperwatchd: evidence: no --state: client pseudonyms use a key for this run only\n");
		pl.evidence = evid;
		tw_verdict_set_hook2(pl.verdict, tw_evidence_outcome, evid);
		if (tw_bus_add_sink(&bus, "evidence", tw_evidence_sink, evid) < 0 ||
		    tw_pipeline_add_tick(&pl, tw_evidence_tick, evid) < 0) {
			fprintf(stderr, "tamperwatchd: evidence: no free sink or tick slot (a build-time bound)\n");
			return 3;
		}
		cfg.alerts.evidence_dir = cfg.evidence.dir;
	}
	/* per-target alerts on top of the verdicts */
	struct tw_agg *agg = NULL;
	if (pl.verdict) {
		agg = tw_agg_new(&cfg.alerts, legit, state_dir, tw_bus_emit, &bus, err, sizeof(err));
		if (!agg) {
			fprintf(stderr, "tamperwatchd: %s\n", err);
			return 3;
		}
		tw_verdict_set_hook(pl.verdict, tw_agg_outcome, agg);
		tw_pipeline_add_tick(&pl, tw_agg_tick, agg);
		if (tw_stats_add_section(tw_agg_stats_json, agg) < 0)
			fprintf(stderr, "tamperwatchd: no room for the alerts stats section\n");
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct tw_engine *eng;
	int use_bpf = !nreplay || (engine_name && !strcmp(engine_name, "bpf"));
	struct tw_prefix_opts pfx = { cfg.shutdown_on, cfg.shutdown_v4, cfg.shutdown_v6 };
	if (use_bpf)
		eng = tw_engine_bpf_new(&pl, nreplay > 0, cfg.max_flows, &pfx, err, sizeof(err));
	else
		eng = tw_engine_user_new(&pl, cfg.max_flows, &pfx, err, sizeof(err));
	if (!eng) {
		fprintf(stderr, "tamperwatchd: %s\n", err);
		tw_output_close(&out);
		return 3;
	}

	/* shutdown detection on the engine's per-prefix counters */
	struct tw_shutdown *sd = NULL;
	struct tw_sdfeed *feed = NULL;
	if (cfg.shutdown_on) {
		cfg.shutdown.emit = tw_bus_emit;
		cfg.shutdown.emit_arg = &bus;
		if (eng->set_client_nets(eng, &regions, err, sizeof(err)) < 0) {
			fprintf(stderr, "tamperwatchd: shutdown detection: %s\n", err);
			eng->destroy(eng);
			return 3;
		}
		if (!(sd = tw_shutdown_new(&cfg.shutdown, &pl))) {
			fprintf(stderr, "tamperwatchd: shutdown detection: out of memory\n");
			eng->destroy(eng);
			return 3;
		}
		if (state_dir && mkdir(state_dir, 0700) < 0 && errno != EEXIST) { /* without [alerts] too */
			fprintf(stderr, "tamperwatchd: --state %s: %s\n", state_dir, strerror(errno));
			eng->destroy(eng);
			return 3;
		}
		int rc = state_dir ? tw_shutdown_load(sd, state_dir, err, sizeof(err)) : TW_STATE_NONE;
		if (rc == TW_STATE_UNREADABLE) { /* left in place: not ours to overwrite */
			fprintf(stderr, "tamperwatchd: %s\n", err);
			eng->destroy(eng);
			return 3;
		}
		if (rc == TW_STATE_CORRUPT)
			fprintf(stderr, "tamperwatchd: %s\n", err);
		struct tw_sdfeed_opts fo = { cfg.shutdown.interval_s, state_dir, (uint32_t)cfg.alerts.state_interval,
			                     nreplay > 0 };
		feed = tw_sdfeed_new(eng, sd, &regions, &fo);
		if (!feed) {
			fprintf(stderr, "tamperwatchd: out of memory\n");
			eng->destroy(eng);
			return 3;
		}
		if (tw_pipeline_add_tick(&pl, tw_sdfeed_tick, feed) < 0 ||
		    tw_stats_add_section(tw_sdfeed_stats_json, feed) < 0) {
			fprintf(stderr, "tamperwatchd: shutdown: no free tick or stats slot (a build-time bound)\n");
			return 3;
		}
	}

	/* the operator's views read this snapshot, refreshed every tick */
	struct tw_status status;
	struct tw_status_src status_src = { &status, eng, agg };
	tw_status_init(&status,
	               nreplay              ? (use_bpf ? "replay-bpf" : "replay-user")
	               : mode == TW_MODE_TC ? "tc"
	                                    : "xdp",
	               TW_VERSION);
	tw_pipeline_add_tick(&pl, tw_status_tick, &status_src);
	if (metrics && tw_metrics_start(metrics, &status, &bus, err, sizeof(err)) < 0) {
		fprintf(stderr, "tamperwatchd: %s\n", err);
		return 3;
	}
	if (cfg.syslog.enabled) {
		struct tw_syslog_target st;
		tw_syslog_parse_target(cfg.syslog.target, &st, err, sizeof(err)); /* checked with the config */
		syslog_out = tw_syslog_new(&st, tw_syslog_facility(cfg.syslog.facility), &status, err, sizeof(err));
		if (!syslog_out) {
			fprintf(stderr, "tamperwatchd: %s\n", err);
			return 3;
		}
		if (tw_bus_add_sink(&bus, "syslog", tw_syslog_sink, syslog_out) < 0 ||
		    tw_pipeline_add_tick(&pl, tw_syslog_tick, syslog_out) < 0 ||
		    tw_stats_add_section(tw_syslog_stats, syslog_out) < 0) {
			fprintf(stderr,
			        "tamperwatchd: syslog: no free sink, tick or stats slot (a build-time bound)\n");
			return 3;
		}
	}

	/* Alertmanager: a bus sink delivering on its own threads; its tick goes
	 * after the detectors' so the final one drains what they wrote last */
	struct tw_am *am = NULL;
	if (cfg.am.url[0]) {
		am = tw_am_new(&cfg.am, state_dir, err, sizeof(err));
		if (!am) {
			fprintf(stderr, "tamperwatchd: %s\n", err);
			eng->destroy(eng);
			tw_output_close(&out);
			return 3;
		}
		if (tw_bus_add_sink(&bus, "alertmanager", tw_am_sink, am) < 0 ||
		    tw_pipeline_add_tick(&pl, tw_am_tick, am) < 0) {
			fprintf(stderr, "tamperwatchd: alertmanager: no free sink or tick slot (a build-time bound)\n");
			return 3;
		}
	}

	/* nats: the publisher (docs/hub.md) sees every line the log gets */
	struct tw_nats_pub *natspub = NULL;
	if (cfg.nats.url[0]) {
		if (!(natspub = tw_nats_pub_new(&cfg.nats, state_dir, &status, err, sizeof(err)))) {
			fprintf(stderr, "tamperwatchd: %s\n", err);
			return 3;
		}
		pl.tap = tw_nats_pub_line;
		pl.tap_arg = natspub;
		if (tw_pipeline_add_tick(&pl, tw_nats_pub_tick, natspub) < 0 ||
		    tw_stats_add_section(tw_nats_pub_stats, natspub) < 0) {
			fprintf(stderr, "tamperwatchd: nats: no free tick or stats slot (a build-time bound)\n");
			return 3;
		}
	}

	/* the operator's control socket: live by default, replay only when asked */
	struct tw_ctl *ctl = NULL;
	if (!control && cfg.control_socket[0])
		control = cfg.control_socket;
	if (control || !nreplay) {
		struct tw_ctl_opts co = { .path = control ? control : TW_CTL_DEFAULT_PATH,
			                  .version = TW_VERSION,
			                  .evidence_dir = cfg.evidence.dir[0] ? cfg.evidence.dir : NULL };
		ctl = tw_ctl_start(&co, &status, &bus, err, sizeof(err));
		if (!ctl) {
			fprintf(stderr, "tamperwatchd: %s\n", err);
			eng->destroy(eng);
			tw_output_close(&out);
			return 3;
		}
	}

	int rc;
	if (nreplay) {
		struct tw_replay_totals tot;
		rc = tw_replay_run(eng, replay, nreplay, &cfg.timeouts, &tot);
	} else {
		int xdp_fd = tw_engine_bpf_prog_fd(eng, 1), tc_fd = tw_engine_bpf_prog_fd(eng, 0);
		rc = 0;
		for (int i = 0; i < nif; i++) {
			if (tw_link_attach(&links[i], xdp_fd, tc_fd, err, sizeof(err)) < 0) {
				fprintf(stderr, "tamperwatchd: %s\n", err);
				for (int j = 0; j <= i; j++)
					tw_link_detach(&links[j], xdp_fd);
				eng->destroy(eng);
				tw_output_close(&out);
				return 3;
			}
			const char *how = mode == TW_MODE_TC                                  ? "tc"
			                  : (links[i].xdp_flags & 2 /* XDP_FLAGS_SKB_MODE */) ? "xdp generic"
			                                                                      : "xdp native";
			fprintf(stderr, "tamperwatchd: watching %s (%s)\n", links[i].name,
			        mode == TW_MODE_TC ? "tc clsact ingress+egress" : how);
			tw_status_add_link(&status, links[i].name, how);
		}
		struct link_ctx lctx = { sd, &status };
		struct tw_linkwatch *lw = tw_linkwatch_new(links, nif, on_link, &lctx, err, sizeof(err));
		if (!lw)
			fprintf(stderr, "tamperwatchd: %s (continuing without it)\n", err);
		rc = tw_live_run(eng, links, nif, &cfg.timeouts, cfg.stats_interval, lw);
		tw_linkwatch_free(lw);
		fprintf(stderr, "tamperwatchd: stopped; detached from %d interface(s)\n", nif);
	}
	tw_metrics_stop(metrics);
	tw_syslog_free(syslog_out);
	tw_ctl_stop(ctl);
	eng->destroy(eng);
	tw_am_free(am);
	tw_stats_remove_section(natspub); /* nats */
	tw_nats_pub_free(natspub);
	tw_verdict_free(pl.verdict);
	tw_stats_remove_section(agg);
	tw_agg_free(agg);
	tw_evidence_free(evid);
	tw_sdfeed_free(feed);
	tw_shutdown_free(sd);
	tw_bus_free(&bus);
	tw_status_free(&status);
	tw_legit_free(legit);
	tw_regions_free(&regions);
	tw_fp_db_free(fpdb);
	tw_output_close(&out);
	return rc ? 1 : 0;
}
