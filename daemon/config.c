#include "config.h"
#include "util/hostport.h"
#include "outputs/syslog_out.h"
#include "outputs/types.h"
#include <tamperwatch/maps.h>
#include <tamperwatch/sample.h>
#include "util/lineread.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TW_CONFIG_MAX_LINE 1024
#define TW_CONFIG_MAX_LINES 100000
/* events.ring_size: a BPF ring buffer is a power of two of whole pages;
 * the least holds six of the largest events (a flow record and a 2 KB
 * QUIC snippet), 16 KB pages included */
#define TW_RINGBUF_MIN 16384
#define TW_RINGBUF_MAX 1073741824

/* K_RATIO: a double from 0 to 1; K_REAL: a double from min to max;
 * K_U32: a uint32_t field; K_POW2: a uint32_t field, a power of two;
 * K_STR: a char[max] field (max = its size);
 * K_ENUM: an int field, the index of the value in names[] */
enum kind { K_SECONDS, K_INT, K_BOOL, K_RATIO, K_REAL, K_U32, K_POW2, K_STR, K_ENUM };

struct key {
	const char *section, *name;
	enum kind kind;
	long long min, max;
	size_t off;
	const char *const *names; /* K_ENUM: NULL-terminated */
};

static const char *const metric_names[] = { "packets", "bytes", "new_flows", "active_clients", NULL };
static const char *const profile_names[] = { "auto", "gateway", "vantage", NULL };

#define OFF(f) offsetof(struct tw_config, f), NULL
static const struct key keys[] = {
	{ "flows", "tcp_idle", K_SECONDS, 1, 86400, OFF(timeouts.tcp_idle_ns) },
	{ "flows", "tcp_closed", K_SECONDS, 0, 3600, OFF(timeouts.tcp_closed_ns) },
	{ "flows", "udp_idle", K_SECONDS, 1, 86400, OFF(timeouts.udp_idle_ns) },
	{ "flows", "rate_min_bytes", K_U32, 0, 1073741824, OFF(timeouts.rate_min_bytes) },
	{ "flows", "max", K_INT, 1024, 16777216, OFF(max_flows) },
	/* the BPF backend's IPv6 flow table (maps.h); 0: flows.max / 8 */
	{ "flows", "max_ipv6", K_U32, 0, 16777216, OFF(max_flows_ipv6) },
	/* 1-in-N flow sampling (docs/configuration.md "Sampling") */
	{ "flows", "sample", K_U32, 1, TW_SAMPLE_MAX, OFF(sample) },
	{ "flows", "sample_max", K_U32, 1, TW_SAMPLE_MAX, OFF(sample_max) },
	{ "flows", "sample_quiet", K_U32, 0, 86400, OFF(sample_quiet) },
	/* the eBPF backend's event ring buffer (docs/configuration.md "[events]") */
	{ "events", "ring_size", K_POW2, TW_RINGBUF_MIN, TW_RINGBUF_MAX, OFF(ring_size) },
	/* per-flow throttling classifier (README "Throttling") */
	{ "throttling", "min_bytes", K_U32, 1024, 1073741824, OFF(throttling.min_bytes) },
	{ "throttling", "min_seconds", K_REAL, 1, 3600, OFF(throttling.min_seconds) },
	{ "throttling", "plateau_cv", K_REAL, 0, 10, OFF(throttling.plateau_cv) },
	{ "throttling", "min_loss_episodes", K_U32, 1, 65535, OFF(throttling.min_loss_eps) },
	{ "throttling", "rtt_growth_ms", K_REAL, 0, 60000, OFF(throttling.rtt_growth_ms) },
	{ "throttling", "rtt_growth_ratio", K_REAL, 0, 1000, OFF(throttling.rtt_growth_ratio) },
	{ "throttling", "window_full", K_RATIO, 0, 1, OFF(throttling.window_full_frac) },
	{ "throttling", "idle", K_RATIO, 0, 1, OFF(throttling.idle_frac) },
	{ "throttling", "timeout_gap_ms", K_REAL, 0, 60000, OFF(throttling.timeout_gap_ms) },
	{ "flows", "silence_hold", K_SECONDS, 1, 3600, OFF(silence_hold_ns) },
	{ "privacy", "prefix_v4", K_INT, 0, 32, OFF(prefix_v4) },
	{ "privacy", "prefix_v6", K_INT, 0, 128, OFF(prefix_v6) },
	{ "output", "stats_interval", K_INT, 0, 86400, OFF(stats_interval) },
	{ "output", "events_payload", K_BOOL, 0, 1, OFF(events_payload) },
	{ "output", "types", K_STR, 0, sizeof(((struct tw_config *)0)->output_types), OFF(output_types) },
	/* per-target alerts (README "Alerts") */
	{ "alerts", "window", K_INT, 10, 86400, OFF(alerts.window) },
	{ "alerts", "min_confidence", K_RATIO, 0, 1, OFF(alerts.min_confidence) },
	{ "alerts", "min_confidence_timeout", K_RATIO, 0, 1, OFF(alerts.min_confidence_timeout) },
	{ "alerts", "min_flows", K_INT, 1, 1000000, OFF(alerts.min_flows) },
	{ "alerts", "min_prefixes", K_INT, 1, 64, OFF(alerts.min_prefixes) },
	{ "alerts", "min_ratio", K_RATIO, 0, 1, OFF(alerts.min_ratio) },
	{ "alerts", "blackhole_min_flows", K_INT, 1, 1000000, OFF(alerts.blackhole_min_flows) },
	{ "alerts", "blackhole_min_prefixes", K_INT, 1, 64, OFF(alerts.blackhole_min_prefixes) },
	{ "alerts", "blackhole_min_ratio", K_RATIO, 0, 1, OFF(alerts.blackhole_min_ratio) },
	{ "alerts", "resolve_after", K_INT, 1, 604800, OFF(alerts.resolve_after) },
	{ "alerts", "resolve_ok_flows", K_INT, 1, 1000, OFF(alerts.resolve_ok_flows) },
	{ "alerts", "update_interval", K_INT, 0, 86400, OFF(alerts.update_interval) },
	{ "alerts", "max_targets", K_INT, 16, 10000000, OFF(alerts.max_targets) },
	{ "alerts", "throttle_control_ratio", K_REAL, 1, 1000, OFF(alerts.throttle_control_ratio) },
	{ "alerts", "throttle_control_flows", K_INT, 1, 1000000, OFF(alerts.throttle_control_flows) },
	{ "alerts", "throttle_queue_ms", K_REAL, 0, 60000, OFF(alerts.throttle_queue_ms) },
	{ "alerts", "throttle_plateau_cv", K_REAL, 0, 10, OFF(alerts.throttle_plateau_cv) },
	/* region-wide throttling (docs/alerts.md "Region-wide throttling") */
	{ "region_throttling", "enabled", K_BOOL, 0, 1, OFF(region_throttling.enabled) },
	{ "region_throttling", "window", K_INT, 10, 86400, OFF(region_throttling.window) },
	{ "region_throttling", "min_flows", K_INT, 1, 1000000, OFF(region_throttling.min_flows) },
	{ "region_throttling", "min_targets", K_INT, 1, 256, OFF(region_throttling.min_targets) },
	{ "region_throttling", "min_ratio", K_RATIO, 0, 1, OFF(region_throttling.min_ratio) },
	{ "region_throttling", "max_spread", K_REAL, 0, 100, OFF(region_throttling.max_spread) },
	{ "region_throttling", "speedup", K_REAL, 1, 1000, OFF(region_throttling.speedup) },
	{ "region_throttling", "baseline_flows", K_INT, 1, 1000000, OFF(region_throttling.baseline_flows) },
	{ "region_throttling", "require_baseline", K_BOOL, 0, 1, OFF(region_throttling.require_baseline) },
	{ "region_throttling", "control_flows", K_INT, 1, 1000000, OFF(region_throttling.control_flows) },
	{ "region_throttling", "resolve_after", K_INT, 1, 86400, OFF(region_throttling.resolve_after) },
	{ "region_throttling", "update_interval", K_INT, 1, 86400, OFF(region_throttling.update_interval) },
	{ "region_throttling", "related_window", K_INT, 0, 604800, OFF(region_throttling.related_window) },
	{ "region_throttling", "max_groups", K_INT, 1, 1000000, OFF(region_throttling.max_groups) },
	{ "state", "interval", K_INT, 1, 86400, OFF(alerts.state_interval) },
	/* operator outputs (README "Metrics", "Syslog"); values checked by check_str */
	{ "metrics", "listen", K_STR, 0, sizeof(((struct tw_config *)0)->metrics_listen), OFF(metrics_listen) },
	{ "metrics", "status_page", K_BOOL, 0, 1, OFF(metrics_status_page) },
	{ "syslog", "enabled", K_BOOL, 0, 1, OFF(syslog.enabled) },
	{ "syslog", "target", K_STR, 0, sizeof(((struct tw_config *)0)->syslog.target), OFF(syslog.target) },
	{ "syslog", "facility", K_STR, 0, sizeof(((struct tw_config *)0)->syslog.facility), OFF(syslog.facility) },
	/* Alertmanager (README "Alertmanager"); strings checked by tw_am_check_key */
	{ "alertmanager", "url", K_STR, 0, sizeof(((struct tw_config *)0)->am.url), OFF(am.url) },
	{ "alertmanager", "labels", K_STR, 0, sizeof(((struct tw_config *)0)->am.labels), OFF(am.labels) },
	{ "alertmanager", "generator_url", K_STR, 0, sizeof(((struct tw_config *)0)->am.generator_url),
	  OFF(am.generator_url) },
	{ "alertmanager", "timeout", K_INT, 1, 300, OFF(am.timeout) },
	{ "alertmanager", "resend_interval", K_INT, 1, 3600, OFF(am.resend_interval) },
	{ "alertmanager", "drain_timeout", K_INT, 0, 600, OFF(am.drain_timeout) },
	{ "alertmanager", "queue_max", K_INT, 16, 1000000, OFF(am.queue_max) },
	/* evidence pcaps (README "Evidence") */
	{ "evidence", "dir", K_STR, 0, sizeof(((struct tw_config *)0)->evidence.dir), OFF(evidence.dir) },
	{ "evidence", "max_flows_per_alert", K_INT, 1, 1000, OFF(evidence.max_flows_per_alert) },
	{ "evidence", "max_bytes_per_file", K_INT, 4096, 1073741824, OFF(evidence.max_bytes_per_file) },
	{ "evidence", "memory", K_INT, 65536, 2147483647, OFF(evidence.memory) },
	{ "evidence", "retain", K_INT, 10, 604800, OFF(evidence.retain) },
	/* the operator's control socket (README "tamperwatch (operator CLI)") */
	{ "control", "socket", K_STR, 1, sizeof(((struct tw_config *)0)->control_socket), OFF(control_socket) },
	/* the operator's client prefix -> region/ASN labels (README "Regions") */
	{ "regions", "file", K_STR, 0, sizeof(((struct tw_config *)0)->regions), OFF(regions) },
	/* block-page / forged-DNS fingerprints (docs/configuration.md: the default set) */
	{ "fingerprints", "default", K_BOOL, 0, 1, OFF(fingerprints_default) },
	{ "fingerprints", "files", K_STR, 0, sizeof(((struct tw_config *)0)->fingerprints), OFF(fingerprints) },
	/* least privilege after setup (docs/hardening.md) */
	{ "sandbox", "seccomp", K_BOOL, 0, 1, OFF(sandbox.seccomp) },
	{ "sandbox", "user", K_STR, 0, sizeof(((struct tw_config *)0)->sandbox.user), OFF(sandbox.user) },
	/* shutdown detection (README "Shutdown detection") */
	{ "shutdown", "enabled", K_BOOL, 0, 1, OFF(shutdown_on) },
	{ "shutdown", "prefix_v4", K_INT, 8, 32, OFF(shutdown_v4) },
	{ "shutdown", "prefix_v6", K_INT, 16, 128, OFF(shutdown_v6) },
	{ "shutdown", "interval", K_U32, 1, 86400, OFF(shutdown.interval_s) },
	{ "shutdown", "period", K_U32, 1, 31536000, OFF(shutdown.period_s) }, /* tiny: the lab */
	{ "shutdown", "bins", K_U32, 1, 100000, OFF(shutdown.bins) },
	{ "shutdown", "history", K_U32, 1, 16, OFF(shutdown.history) },
	{ "shutdown", "warmup", K_U32, 0, 31536000, OFF(shutdown.warmup_s) },
	{ "shutdown", "min_duration", K_U32, 0, 31536000, OFF(shutdown.min_duration_s) },
	{ "shutdown", "recover", K_U32, 0, 31536000, OFF(shutdown.recover_s) },
	{ "shutdown", "drop_frac", K_RATIO, 0, 1, OFF(shutdown.drop_frac) },
	{ "shutdown", "recover_frac", K_RATIO, 0, 1, OFF(shutdown.recover_frac) },
	{ "shutdown", "min_clients", K_REAL, 0, 100000, OFF(shutdown.min_clients) },
	{ "shutdown", "region_min", K_U32, 1, 100000, OFF(shutdown.region_min) },
	{ "shutdown", "metric", K_ENUM, 0, 0, offsetof(struct tw_config, shutdown.metric), metric_names },
	{ "shutdown", "max_series", K_U32, 1, 1000000, OFF(shutdown.max_series) },
	{ "shutdown", "summary_interval", K_U32, 0, 86400, OFF(shutdown_summary_s) },
	/* publishing to the hub (docs/hub.md); strings checked by tw_nats_check_key */
	{ "nats", "url", K_STR, 0, sizeof(((struct tw_config *)0)->nats.url), OFF(nats.url) },
	{ "nats", "stream", K_STR, 1, sizeof(((struct tw_config *)0)->nats.stream), OFF(nats.stream) },
	{ "nats", "subject", K_STR, 1, sizeof(((struct tw_config *)0)->nats.subject), OFF(nats.subject) },
	{ "nats", "site", K_STR, 0, sizeof(((struct tw_config *)0)->nats.site), OFF(nats.site) },
	{ "nats", "network", K_STR, 0, sizeof(((struct tw_config *)0)->nats.network), OFF(nats.network) },
	{ "nats", "region", K_STR, 0, sizeof(((struct tw_config *)0)->nats.region), OFF(nats.region) },
	{ "nats", "user", K_STR, 0, sizeof(((struct tw_config *)0)->nats.user), OFF(nats.user) },
	{ "nats", "password", K_STR, 0, sizeof(((struct tw_config *)0)->nats.password), OFF(nats.password) },
	{ "nats", "nkey", K_STR, 0, sizeof(((struct tw_config *)0)->nats.nkey), OFF(nats.nkey) },
	{ "nats", "nkey_seed", K_STR, 0, sizeof(((struct tw_config *)0)->nats.nkey_seed), OFF(nats.nkey_seed) },
	{ "nats", "ca_file", K_STR, 0, sizeof(((struct tw_config *)0)->nats.ca_file), OFF(nats.ca_file) },
	{ "nats", "spool_dir", K_STR, 0, sizeof(((struct tw_config *)0)->nats.spool_dir), OFF(nats.spool_dir) },
	{ "nats", "spool_max", K_INT, 16, 10000000, OFF(nats.spool_max) },
	{ "nats", "timeout", K_INT, 1, 300, OFF(nats.timeout) },
	{ "nats", "drain_timeout", K_INT, 0, 600, OFF(nats.drain_timeout) },
	{ "nats", "heartbeat", K_INT, 1, 3600, OFF(nats.heartbeat) },
	{ "nats", "replicas", K_INT, 1, 5, OFF(nats.replicas) },
	{ "nats", "duplicates", K_INT, 1, 86400, OFF(nats.duplicates) },
	/* the hub (docs/hub.md) */
	{ "hub", "durable", K_STR, 1, sizeof(((struct tw_config *)0)->hub.durable), OFF(hub.durable) },
	{ "hub", "min_sites", K_INT, 1, 10000, OFF(hub.min_sites) },
	{ "hub", "national_networks", K_INT, 1, 10000, OFF(hub.national_networks) },
	{ "hub", "shutdown_sites", K_INT, 1, 10000, OFF(hub.shutdown_sites) },
	{ "hub", "site_timeout", K_INT, 5, 86400, OFF(hub.site_timeout) },
	{ "hub", "max_seen", K_INT, 1024, 10000000, OFF(hub.max_seen) },
	{ "hub", "collapse_frac", K_RATIO, 0, 1, OFF(hub.collapse_frac) },
	{ "hub", "collapse_min_packets", K_INT, 1, 2147483647, OFF(hub.collapse_min_packets) },
	/* where the daemon sits (docs/configuration.md "Vantage points") */
	{ "deployment", "profile", K_ENUM, 0, 0, offsetof(struct tw_config, profile), profile_names },
};

const char *tw_profile_name(int profile)
{
	return profile >= 0 && profile < TW_PROFILE_VANTAGE + 1 ? profile_names[profile] : "?";
}

void tw_config_profile(struct tw_config *c)
{
	/* one vantage point is one client: silence from one prefix is enough,
	 * the client's other targets answered being the control (aggregate.c,
	 * dark prefixes) */
	if (c->profile == TW_PROFILE_VANTAGE && !c->blackhole_min_prefixes_set)
		c->alerts.blackhole_min_prefixes = 1;
	c->alerts.require_control = c->profile == TW_PROFILE_VANTAGE;
}

static char *trim(char *s);

int tw_config_list(char *list, const char **items, int max)
{
	int n = 0;
	for (char *p = list, *comma; p; p = comma) {
		if ((comma = strchr(p, ',')))
			*comma++ = 0;
		if (n == max)
			return -1;
		items[n++] = trim(p);
	}
	return n;
}

/* string values: 0, or -1 with the reason in why */
static int check_str(const char *section, const char *name, const char *value, char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	struct tw_syslog_target t;
	socklen_t sl;

	if (!strcmp(section, "fingerprints") && *value) {
		char list[sizeof(((struct tw_config *)0)->fingerprints)];
		const char *items[TW_CONFIG_FP_FILES_MAX];
		snprintf(list, sizeof(list), "%s", value); /* length checked by the caller */
		int n = tw_config_list(list, items, TW_CONFIG_FP_FILES_MAX);
		if (n < 0) {
			snprintf(why, whylen, "more than %d files", TW_CONFIG_FP_FILES_MAX);
			return -1;
		}
		for (int i = 0; i < n; i++)
			if (!*items[i]) {
				snprintf(why, whylen, "empty file name in the list (item %d)", i + 1);
				return -1;
			}
	}
	if (!strcmp(section, "output") && !strcmp(name, "types")) {
		uint32_t mask = 0;
		return *value ? tw_out_types_parse(value, &mask, why, whylen) : 0;
	}
	if (!strcmp(section, "sandbox") && !strcmp(name, "user")) /* a POSIX user name */
		for (const char *p = value; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
			      (p > value && ((*p >= '0' && *p <= '9') || *p == '-' || *p == '.')))) {
				snprintf(why, whylen, "not a user name");
				return -1;
			}
	if (!strcmp(section, "metrics") && !strcmp(name, "listen"))
		return *value ? tw_hostport_parse(value, &ss, &sl, why, whylen) : 0;
	if (!strcmp(section, "syslog") && !strcmp(name, "target"))
		return tw_syslog_parse_target(value, &t, why, whylen);
	if (!strcmp(section, "alertmanager"))
		return tw_am_check_key(name, value, why, whylen);
	if (!strcmp(section, "nats") || !strcmp(section, "hub"))
		return tw_nats_check_key(name, value, why, whylen);
	if (!strcmp(section, "syslog") && !strcmp(name, "facility") && tw_syslog_facility(value) < 0) {
		snprintf(why, whylen,
		         "expected kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp or "
		         "local0..local7");
		return -1;
	}
	return 0;
}

void tw_config_default(struct tw_config *c)
{
	memset(c, 0, sizeof(*c));
	tw_timeouts_default(&c->timeouts);
	tw_thr_cfg_default(&c->throttling);
	tw_rthr_cfg_default(&c->region_throttling);
	c->prefix_v4 = 24;
	c->prefix_v6 = 48;
	c->max_flows = TW_FLOWS_DEFAULT; /* include/tamperwatch/maps.h says why */
	c->sample = 1;
	c->sample_max = 64;
	c->sample_quiet = 600;
	c->ring_size = TW_RINGBUF_BYTES;
	c->silence_hold_ns = 30ull * 1000000000ull;
	c->stats_interval = 60;
	c->sandbox.seccomp = 1;
	c->fingerprints_default = 1;
	tw_agg_cfg_default(&c->alerts);
	snprintf(c->syslog.target, sizeof(c->syslog.target), "/dev/log");
	snprintf(c->syslog.facility, sizeof(c->syslog.facility), "daemon");
	tw_am_cfg_default(&c->am);
	tw_evidence_cfg_default(&c->evidence);
	c->shutdown_v4 = 24;
	c->shutdown_v6 = 48;
	tw_shutdown_cfg_default(&c->shutdown);
	tw_nats_cfg_default(&c->nats);
	tw_hub_cfg_default(&c->hub);
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = 0;
	return s;
}

/* where: "FILE:LINE" or "--set" for messages */
static int assign(struct tw_config *c, const char *where, const char *section, const char *name, const char *value,
                  char *err, size_t errlen)
{
	const struct key *k = NULL;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name))
			k = &keys[i];
	if (!k) {
		snprintf(err, errlen, "%s: unknown key '%s' in section [%s]", where, name, section);
		return -1;
	}
	if (!strcmp(section, "alerts") && !strcmp(name, "blackhole_min_prefixes"))
		c->blackhole_min_prefixes_set = 1; /* the profile leaves it alone (a bad value fails anyway) */
	char *p = (char *)c + k->off;
	if (k->kind == K_STR) {
		char why[256];
		size_t n = strlen(value);
		if (n < (size_t)k->min || n >= (size_t)k->max) {
			snprintf(err, errlen, "%s: %s.%s: expected %lld to %lld characters, got %zu", where, section,
			         name, k->min, k->max - 1, n);
			return -1;
		}
		if (check_str(section, name, value, why, sizeof(why)) < 0) {
			if (!strcmp(section, "alertmanager") ||
			    !strcmp(section, "nats")) /* may hold a password: never echoed */
				snprintf(err, errlen, "%s: %s.%s: %s", where, section, name, why);
			else
				snprintf(err, errlen, "%s: %s.%s: '%.200s': %s", where, section, name, value, why);
			return -1;
		}
		memcpy(p, value, n + 1);
		return 0;
	}
	if (k->kind == K_BOOL) {
		int v;
		if (!strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "1"))
			v = 1;
		else if (!strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "0"))
			v = 0;
		else {
			snprintf(err, errlen, "%s: %s.%s: expected true or false, got '%s'", where, section, name,
			         value);
			return -1;
		}
		*(int *)p = v;
		return 0;
	}
	if (k->kind == K_ENUM) {
		char list[256] = "";
		for (int i = 0; k->names[i]; i++) {
			if (!strcmp(value, k->names[i])) {
				*(int *)p = i;
				return 0;
			}
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", k->names[i]);
		}
		snprintf(err, errlen, "%s: %s.%s: expected one of %s, got '%s'", where, section, name, list, value);
		return -1;
	}
	char *end;
	errno = 0;
	if (k->kind == K_REAL) {
		double d = strtod(value, &end);
		if (errno || end == value || *end || !(d >= (double)k->min && d <= (double)k->max)) {
			snprintf(err, errlen, "%s: %s.%s: expected a number from %lld to %lld, got '%s'", where,
			         section, name, k->min, k->max, value);
			return -1;
		}
		*(double *)p = d;
		return 0;
	}
	if (k->kind == K_RATIO) {
		double d = strtod(value, &end);
		if (errno || end == value || *end || !(d >= 0 && d <= 1)) {
			snprintf(err, errlen, "%s: %s.%s: expected a number from 0 to 1, got '%s'", where, section,
			         name, value);
			return -1;
		}
		*(double *)p = d;
		return 0;
	}
	long long v = strtoll(value, &end, 10);
	/* flows.max_ipv6: 0 is the default share of flows.max (maps.h) */
	int share = k->off == offsetof(struct tw_config, max_flows_ipv6);
	if (errno || end == value || *end || v < k->min || v > k->max || (share && v && v < TW_FLOWS_MIN)) {
		snprintf(err, errlen, "%s: %s.%s: expected %sa whole number from %lld to %lld%s, got '%s'", where,
		         section, name, share ? "0 (flows.max / 8) or " : "", share ? (long long)TW_FLOWS_MIN : k->min,
		         k->max, k->kind == K_SECONDS ? " (seconds)" : "", value);
		return -1;
	}
	if (k->kind == K_POW2 && (v & (v - 1))) {
		snprintf(err, errlen, "%s: %s.%s: expected a power of two from %lld to %lld, got '%s'", where, section,
		         name, k->min, k->max, value);
		return -1;
	}
	if (k->kind == K_SECONDS)
		*(uint64_t *)p = (uint64_t)v * 1000000000ull;
	else if (k->kind == K_U32 || k->kind == K_POW2)
		*(uint32_t *)p = (uint32_t)v;
	else if (k->off == offsetof(struct tw_config, max_flows) ||
	         k->off == offsetof(struct tw_config, stats_interval))
		*(uint32_t *)p = (uint32_t)v;
	else
		*(int *)p = (int)v;
	return 0;
}

/* messages quote the file's bytes: never raw control bytes to a terminal */
static void escape_err(char *err, size_t errlen)
{
	char safe[2048];
	tw_line_escape(err, safe, sizeof(safe));
	snprintf(err, errlen, "%s", safe);
}

int tw_config_load(struct tw_config *c, const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	char line[TW_CONFIG_MAX_LINE + 2], section[64] = "", where[512];
	int lineno = 0;

	if (!fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	int r;
	while ((r = tw_line_read(fp, line, TW_CONFIG_MAX_LINE + 1)) != TW_LINE_EOF) {
		snprintf(where, sizeof(where), "%s:%d", path, ++lineno);
		if (lineno > TW_CONFIG_MAX_LINES || r == TW_LINE_TOO_LONG) {
			snprintf(err, errlen, "%s: line too long or file too large", where);
			goto fail;
		}
		if (r == TW_LINE_NUL) {
			snprintf(err, errlen, "%s: NUL byte in the line", where);
			goto fail;
		}
		char *s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *e = strchr(s, ']');
			if (!e || e[1] || e - s - 1 <= 0 || (size_t)(e - s - 1) >= sizeof(section)) {
				snprintf(err, errlen, "%s: malformed section header '%s'", where, s);
				goto fail;
			}
			*e = 0;
			snprintf(section, sizeof(section), "%s", trim(s + 1));
			if (!*section) {
				snprintf(err, errlen, "%s: empty section name", where);
				goto fail;
			}
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "%s: expected 'key = value', got '%.60s'", where, s);
			goto fail;
		}
		*eq = 0;
		char *k = trim(s), *v = trim(eq + 1);
		if (!*section) {
			snprintf(err, errlen, "%s: key '%s' outside any [section]", where, k);
			goto fail;
		}
		if (assign(c, where, section, k, v, err, errlen) < 0)
			goto fail;
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: read error", path);
		goto fail;
	}
	fclose(fp);
	return 0;
fail:
	fclose(fp);
	escape_err(err, errlen);
	return -1;
}

int tw_config_set(struct tw_config *c, const char *a, char *err, size_t errlen)
{
	char buf[512], where[300];
	if (strlen(a) >= sizeof(buf)) {
		snprintf(err, errlen, "--set: assignment longer than %zu bytes", sizeof(buf) - 1);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", a);
	char *eq = strchr(buf, '='), *dot = strchr(buf, '.');
	if (!eq || !dot || dot > eq) {
		snprintf(err, errlen, "--set %.200s: expected section.key=value", a);
		return -1;
	}
	*eq = 0;
	*dot = 0;
	/* the value is not part of `where`: assign() shows it where it is no secret */
	snprintf(where, sizeof(where), "--set %.100s.%.100s", trim(buf), trim(dot + 1));
	if (assign(c, where, trim(buf), trim(dot + 1), trim(eq + 1), err, errlen) < 0) {
		escape_err(err, errlen);
		return -1;
	}
	return 0;
}
