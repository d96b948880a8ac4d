/* Configuration: one INI file (-c) and --set section.key=value overrides,
 * checked against one table of known keys; every error names the file,
 * the line and the key. */
#ifndef TW_CONFIG_H
#define TW_CONFIG_H
#include <stddef.h>
#include <stdint.h>
#include "capture/sweep.h"
#include "alerts/aggregate.h"       /* [alerts] / [state] keys */
#include "outputs/alertmanager.h"   /* [alertmanager] keys */
#include "outputs/evidence.h"       /* [evidence] keys */
#include "alerts/shutdown.h"        /* [shutdown] keys */
#include "alerts/throttle_region.h" /* [region_throttling] keys */
#include "verdicts/throttle.h"      /* [throttling] keys */
#include "outputs/nats_pub.h"       /* [nats] keys */
#include "hub/hub.h"                /* [hub] keys */
#include "sandbox.h"                /* [sandbox] keys */
#include <limits.h>

struct tw_config {
	struct tw_timeouts timeouts;
	struct tw_thr_cfg throttling; /* [throttling] */
	int prefix_v4;                /* privacy.prefix_v4 */
	int prefix_v6;                /* privacy.prefix_v6 */
	uint32_t max_flows;           /* flows.max (userspace replay table; the BPF backend's IPv4 table) */
	uint32_t max_flows_ipv6;      /* flows.max_ipv6: the BPF backend's IPv6 table, 0: flows.max / 8 */
	uint32_t sample;              /* flows.sample: 1-in-N flow sampling (1: every flow) */
	uint32_t sample_max;          /* flows.sample_max: raised up to this when events are lost */
	uint32_t sample_quiet;        /* flows.sample_quiet (s): halved back after this long without loss */
	uint32_t ring_size;           /* events.ring_size: the eBPF event ring buffer, bytes (a power of two) */
	uint64_t silence_hold_ns;     /* flows.silence_hold: a silent ClientHello waits for context */
	unsigned stats_interval;      /* output.stats_interval (s, 0 = final only) */
	int events_payload;           /* output.events_payload */
	char output_types[256];       /* output.types: record types in the log ("" = by mode; outputs/types.h) */
	struct tw_agg_cfg alerts;     /* [alerts] and state.interval (aggregate.h) */
	struct tw_rthr_cfg region_throttling; /* [region_throttling] (alerts/throttle_region.h) */
	/* operator outputs (README "Metrics", "Syslog") */
	char metrics_listen[128]; /* metrics.listen: ADDR:PORT, "" = no endpoint */
	int metrics_status_page;  /* metrics.status_page: serve /status on that endpoint too */
	struct {
		int enabled;       /* syslog.enabled (default no) */
		char target[128];  /* syslog.target (default /dev/log) */
		char facility[16]; /* syslog.facility (default daemon) */
	} syslog;
	struct tw_am_cfg am;             /* [alertmanager] (alertmanager.h) */
	struct tw_evidence_cfg evidence; /* [evidence] (evidence.h) */
	char control_socket[108];        /* control.socket ("" = the default, live only) */
	char regions[4096];              /* regions.file: prefix -> region/ASN labels (regions.h); "" = none */
	int fingerprints_default;        /* fingerprints.default: load the built-in set first (yes) */
	char fingerprints[4096];         /* fingerprints.files: comma-separated CSV files, loaded before
	                                  * each --fingerprints FILE; "" = none */
	/* [shutdown] (README "Shutdown detection") */
	int shutdown_on;              /* shutdown.enabled */
	int shutdown_v4, shutdown_v6; /* shutdown.prefix_v4 / prefix_v6: series granularity */
	uint32_t shutdown_summary_s;  /* shutdown.summary_interval: prefix_summary records (s, 0 = none) */
	struct tw_shutdown_cfg shutdown;
	struct tw_nats_cfg nats;       /* [nats]: publishing to the hub (nats_pub.h) */
	struct tw_hub_cfg hub;         /* [hub]: tamperwatchd --hub (hub.h) */
	struct tw_sandbox_cfg sandbox; /* [sandbox]: least privilege after setup (sandbox.h) */
	/* deployment.profile (docs/configuration.md "Vantage points"): how the
	 * daemon sits in the network; tw_config_profile applies it */
	int profile;
	int blackhole_min_prefixes_set; /* alerts.blackhole_min_prefixes was given */
};
enum { TW_PROFILE_AUTO = 0, TW_PROFILE_GATEWAY = 1, TW_PROFILE_VANTAGE = 2 };
const char *tw_profile_name(int profile);
/* After the file and every --set: the profile's defaults for the keys the
 * operator did not give (vantage: alerts.blackhole_min_prefixes = 1). */
void tw_config_profile(struct tw_config *c);

void tw_config_default(struct tw_config *c);
/* 0, or -1 with "FILE:LINE: ..." in err. */
int tw_config_load(struct tw_config *c, const char *path, char *err, size_t errlen);
/* "section.key=value"; 0 or -1 with "--set ...: ..." in err. */
int tw_config_set(struct tw_config *c, const char *assignment, char *err, size_t errlen);
/* A comma-separated list (fingerprints.files), split in place: items[] point
 * into list, each trimmed.  The number of items (an empty one included), or
 * -1 when there are more than max. */
int tw_config_list(char *list, const char **items, int max);
#define TW_CONFIG_FP_FILES_MAX 16 /* fingerprints.files; as many again with --fingerprints */
#endif
