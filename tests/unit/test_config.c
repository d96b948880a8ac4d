/* Unit tests for the configuration (daemon/config.c): every kind of key
 * through --set and through a file, the errors naming file, line and key,
 * and no secret echoed back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"
#include <tamperwatch/maps.h>
#include "control/ctl.h"
#include "check.h"

static int set(struct tw_config *c, const char *a, char *err, size_t n)
{
	err[0] = 0;
	return tw_config_set(c, a, err, n);
}

static int load_bytes(struct tw_config *c, const char *text, size_t len, char *path, char *err, size_t n)
{
	snprintf(path, 64, "/tmp/tw-config-test.XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		return -2;
	close(fd);
	err[0] = 0;
	int rc = tw_config_load(c, path, err, n);
	unlink(path);
	return rc;
}

static int load_text(struct tw_config *c, const char *text, char *path, char *err, size_t n)
{
	return load_bytes(c, text, strlen(text), path, err, n);
}

/* no byte of err below 0x20 or 0x7f: a message never drives a terminal */
static int printable(const char *err)
{
	for (const unsigned char *p = (const unsigned char *)err; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

int main(void)
{
	struct tw_config c;
	char err[1024], path[64];

	tw_config_default(&c);
	CHECK(c.syslog.enabled == 0 && !strcmp(c.syslog.target, "/dev/log") && !strcmp(c.syslog.facility, "daemon"),
	      "syslog defaults");
	CHECK(c.regions[0] == 0 && c.metrics_listen[0] == 0 && c.am.url[0] == 0, "outputs off by default");
	CHECK(c.fingerprints[0] == 0, "no fingerprint files by default");
	CHECK(c.fingerprints_default == 1, "the built-in fingerprint set is on by default");
	CHECK(c.max_flows == 1048576, "flows.max default sized for a gateway: %u", c.max_flows);

	/* booleans: true/yes/1 and false/no/0, nothing else */
	const char *yes[] = { "true", "yes", "1" }, *no[] = { "false", "no", "0" };
	for (int i = 0; i < 3; i++) {
		char a[64];
		snprintf(a, sizeof(a), "syslog.enabled=%s", yes[i]);
		CHECK(set(&c, a, err, sizeof(err)) == 0 && c.syslog.enabled == 1, "%s: %s", a, err);
		snprintf(a, sizeof(a), "output.events_payload=%s", no[i]);
		CHECK(set(&c, a, err, sizeof(err)) == 0 && c.events_payload == 0, "%s: %s", a, err);
	}
	CHECK(set(&c, "syslog.enabled=maybe", err, sizeof(err)) < 0 && strstr(err, "syslog.enabled") &&
	              strstr(err, "expected true or false"),
	      "bad bool: %s", err);

	/* integers and ratios: bounds named */
	CHECK(set(&c, "flows.max=4194304", err, sizeof(err)) == 0 && c.max_flows == 4194304, "%s", err);
	CHECK(set(&c, "flows.max=16777216", err, sizeof(err)) == 0 && c.max_flows == 16777216, "%s", err);
	CHECK(set(&c, "flows.max=16777217", err, sizeof(err)) < 0 && strstr(err, "flows.max") &&
	              c.max_flows == 16777216,
	      "%s", err);
	CHECK(set(&c, "flows.max=1023", err, sizeof(err)) < 0 && strstr(err, "flows.max"), "%s", err);
	/* the BPF backend's IPv6 table: unset, a share of flows.max (maps.h) */
	CHECK(c.max_flows_ipv6 == 0 && tw_flows6_max(1048576, 0) == 131072 && tw_flows6_max(4096, 0) == 1024 &&
	              tw_flows6_max(1048576, 4096) == 4096,
	      "flows.max_ipv6 unset: flows.max / 8, at least 1024; set: as set");
	CHECK(set(&c, "flows.max_ipv6=65536", err, sizeof(err)) == 0 && c.max_flows_ipv6 == 65536, "%s", err);
	CHECK(set(&c, "flows.max_ipv6=1000", err, sizeof(err)) < 0 && strstr(err, "flows.max_ipv6") &&
	              c.max_flows_ipv6 == 65536,
	      "%s", err);
	CHECK(set(&c, "flows.max_ipv6=1", err, sizeof(err)) < 0 &&
	              strstr(err, "0 (flows.max / 8) or a whole number from 1024"),
	      "%s", err);
	CHECK(set(&c, "flows.max_ipv6=0", err, sizeof(err)) == 0 && c.max_flows_ipv6 == 0, "%s", err);
	CHECK(set(&c, "flows.max_ipv6=16777217", err, sizeof(err)) < 0 && strstr(err, "flows.max_ipv6"), "%s", err);
	CHECK(set(&c, "alerts.min_flows=7", err, sizeof(err)) == 0 && c.alerts.min_flows == 7, "%s", err);
	CHECK(set(&c, "alerts.min_flows=x", err, sizeof(err)) < 0 && strstr(err, "alerts.min_flows"), "%s", err);
	CHECK(set(&c, "alerts.min_ratio=1.5", err, sizeof(err)) < 0 && strstr(err, "from 0 to 1"), "%s", err);
	CHECK(set(&c, "alerts.min_ratio=0.25", err, sizeof(err)) == 0 && c.alerts.min_ratio == 0.25, "%s", err);

	/* strings: length bounds, then the output's own check */
	CHECK(set(&c, "regions.file=/etc/tamperwatch/regions", err, sizeof(err)) == 0 &&
	              !strcmp(c.regions, "/etc/tamperwatch/regions"),
	      "%s", err);
	char longv[300];
	memset(longv, 'a', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = 0;
	memcpy(longv, "control.socket=/", 16);
	CHECK(set(&c, longv, err, sizeof(err)) < 0 && strstr(err, "control.socket") && strstr(err, "characters"),
	      "long string: %s", err);
	char huge[600];
	memset(huge, 'b', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = 0;
	memcpy(huge, "regions.file=/", 14);
	CHECK(set(&c, huge, err, sizeof(err)) < 0 && strstr(err, "longer than"), "huge --set: %s", err);
	CHECK(set(&c, "control.socket=", err, sizeof(err)) < 0 && strstr(err, "control.socket"),
	      "empty control socket: %s", err);
	CHECK(set(&c, "syslog.target=udp://127.0.0.1:514", err, sizeof(err)) == 0, "%s", err);
	CHECK(set(&c, "syslog.target=ftp://x", err, sizeof(err)) < 0 && strstr(err, "syslog.target"), "%s", err);
	CHECK(set(&c, "syslog.facility=local3", err, sizeof(err)) == 0, "%s", err);
	CHECK(set(&c, "syslog.facility=mars", err, sizeof(err)) < 0 && strstr(err, "local0..local7"), "%s", err);
	CHECK(set(&c, "metrics.listen=127.0.0.1:9464", err, sizeof(err)) == 0, "%s", err);
	CHECK(set(&c, "metrics.listen=localhost:9464", err, sizeof(err)) < 0 && strstr(err, "metrics.listen"), "%s",
	      err);
	CHECK(set(&c, "alertmanager.url=http://127.0.0.1:9093", err, sizeof(err)) == 0, "%s", err);
	/* an Alertmanager URL may carry a password: a rejected one is not echoed */
	CHECK(set(&c, "alertmanager.url=gopher://user:s3cret@host/", err, sizeof(err)) < 0 &&
	              strstr(err, "alertmanager.url") && !strstr(err, "s3cret") && strstr(err, "gopher://***@host/"),
	      "secret echoed or accepted: %s", err);
	CHECK(set(&c, "alertmanager.url=http://user:s3cret@host:9093/a b", err, sizeof(err)) < 0 &&
	              !strstr(err, "s3cret"),
	      "secret echoed: %s", err);

	/* fingerprints.files: a comma-separated list, items trimmed, none empty, at most 16 */
	CHECK(set(&c, "fingerprints.files=/usr/share/tamperwatch/fingerprints.csv, /etc/tamperwatch/mine.csv", err,
	          sizeof(err)) == 0,
	      "%s", err);
	char fpl[sizeof(c.fingerprints)];
	const char *fpi[TW_CONFIG_FP_FILES_MAX];
	snprintf(fpl, sizeof(fpl), "%s", c.fingerprints);
	CHECK(tw_config_list(fpl, fpi, TW_CONFIG_FP_FILES_MAX) == 2 &&
	              !strcmp(fpi[0], "/usr/share/tamperwatch/fingerprints.csv") &&
	              !strcmp(fpi[1], "/etc/tamperwatch/mine.csv"),
	      "list split and trimmed");
	CHECK(set(&c, "fingerprints.files=a.csv,,b.csv", err, sizeof(err)) < 0 && strstr(err, "fingerprints.files") &&
	              strstr(err, "empty file name") && strstr(err, "item 2"),
	      "empty item: %s", err);
	CHECK(set(&c, "fingerprints.files=a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p", err, sizeof(err)) == 0, "16 files: %s",
	      err);
	CHECK(set(&c, "fingerprints.files=a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", err, sizeof(err)) < 0 &&
	              strstr(err, "more than 16 files"),
	      "17 files: %s", err);
	CHECK(set(&c, "fingerprints.files=", err, sizeof(err)) == 0 && c.fingerprints[0] == 0, "none: %s", err);

	/* unknown keys, missing '=' */
	CHECK(set(&c, "alerts.nope=1", err, sizeof(err)) < 0 && strstr(err, "unknown key"), "%s", err);
	CHECK(set(&c, "alerts.window", err, sizeof(err)) < 0 && err[0], "no '=': %s", err);

	/* a file: errors name the file and the line */
	tw_config_default(&c);
	int rc = load_text(&c, "# comment\n[syslog]\nenabled = yes\nfacility = local1\n[alerts]\nmin_flows = 5\n", path,
	                   err, sizeof(err));
	CHECK(rc == 0 && c.syslog.enabled == 1 && !strcmp(c.syslog.facility, "local1") && c.alerts.min_flows == 5,
	      "good file: rc %d: %s", rc, err);
	rc = load_text(&c, "[syslog]\n\nenabled = perhaps\n", path, err, sizeof(err));
	CHECK(rc < 0 && strstr(err, path) && strstr(err, ":3") && strstr(err, "syslog.enabled"), "bad file: %s", err);
	rc = load_text(&c, "[regions]\nfile = /x\nbogus = 1\n", path, err, sizeof(err));
	CHECK(rc < 0 && strstr(err, ":3") && strstr(err, "bogus"), "unknown key in file: %s", err);

	/* etc/tamperwatchd.conf lists every key commented out with its default:
	 * uncommented, it must give exactly the built-in defaults (what differs on
	 * purpose: the control socket's spelled-out
	 * default path) */
	FILE *in = fopen("etc/tamperwatchd.conf", "r");
	CHECK(in != NULL, "etc/tamperwatchd.conf: run from the repository root");
	if (in) {
		char text[16384] = "", line[1100];
		size_t used = 0;
		while (fgets(line, sizeof(line), in) && used + sizeof(line) < sizeof(text)) {
			const char *l = line;
			size_t k = 1;
			while (line[0] == '#' && ((line[k] >= 'a' && line[k] <= 'z') || line[k] == '_' ||
			                          (line[k] >= '0' && line[k] <= '9')))
				k++;
			if (line[0] == '#' && k > 1 && !strncmp(line + k, " =", 2))
				l = line + 1; /* "#key = value" -> "key = value" */
			used += (size_t)snprintf(text + used, sizeof(text) - used, "%s", l);
		}
		CHECK(feof(in), "etc/tamperwatchd.conf larger than the test's buffer");
		fclose(in);
		struct tw_config dflt;
		tw_config_default(&dflt);
		tw_config_default(&c);
		rc = load_text(&c, text, path, err, sizeof(err));
		CHECK(rc == 0, "etc/tamperwatchd.conf uncommented: %s", err);
		CHECK(c.fingerprints[0] == 0 && c.fingerprints_default == 1, "fingerprints: '%s', default %d",
		      c.fingerprints, c.fingerprints_default);
		CHECK(!strcmp(c.control_socket, TW_CTL_DEFAULT_PATH), "control.socket: '%s'", c.control_socket);
		memset(c.control_socket, 0, sizeof(c.control_socket));
		c.blackhole_min_prefixes_set = 0; /* given in the file, as every key is */
		CHECK(!memcmp(&c, &dflt, sizeof(c)), "a value in etc/tamperwatchd.conf is not the built-in default");
	}
	/* hostile bytes (issue 20, 9): a NUL refused on its own line, never a
	 * value cut short; "[   ]" refused where it is; control bytes escaped */
	static const char nul[] = "[flows]\ntcp_idle = 5\0junk\nudp_idle = 7\n";
	tw_config_default(&c);
	rc = load_bytes(&c, nul, sizeof(nul) - 1, path, err, sizeof(err));
	CHECK(rc < 0 && strstr(err, ":2: NUL byte in the line"), "NUL: rc %d: %s", rc, err);
	static const char nul3[] = "[flows]\n\ntcp_idle = 5\0\n";
	rc = load_bytes(&c, nul3, sizeof(nul3) - 1, path, err, sizeof(err));
	CHECK(rc < 0 && strstr(err, ":3: NUL byte"), "NUL line 3: %s", err);
	rc = load_text(&c, "# x\n[   ]\n\ntcp_idle = 5\n", path, err, sizeof(err));
	CHECK(rc < 0 && strstr(err, ":2: empty section name"), "[   ]: %s", err);
	rc = load_text(&c, "[flows]\ntcp_idle = \x1b[2J\x1b]0;pwned\x07\n", path, err, sizeof(err));
	CHECK(rc < 0 && printable(err) && strstr(err, "\\x1b[2J\\x1b]0;pwned\\x07"), "escape bytes: %s", err);
	CHECK(set(&c, "flows.tcp_idle=\x1b[31m", err, sizeof(err)) < 0 && printable(err) && strstr(err, "\\x1b[31m"),
	      "--set escape bytes: %s", err);
	rc = load_text(&c, "[flows]\ntcp_idle = 5\nudp_idle = 7\n", path, err, sizeof(err));
	CHECK(rc == 0 && c.timeouts.udp_idle_ns == 7000000000ull, "good file after: %s", err);

	printf("%d checks, %d failed\n", checks, fails);
	/* deployment.profile: vantage makes one prefix enough for silence,
	 * unless the operator gave alerts.blackhole_min_prefixes (before or after) */
	tw_config_default(&c);
	CHECK(c.profile == TW_PROFILE_AUTO && c.alerts.blackhole_min_prefixes == 2, "profile default");
	CHECK(set(&c, "deployment.profile=vantage", err, sizeof(err)) == 0, "%s", err);
	tw_config_profile(&c);
	CHECK(c.profile == TW_PROFILE_VANTAGE && c.alerts.blackhole_min_prefixes == 1, "vantage: %d",
	      c.alerts.blackhole_min_prefixes);
	tw_config_default(&c);
	rc = load_text(&c, "[alerts]\nblackhole_min_prefixes = 3\n[deployment]\nprofile = vantage\n", path, err,
	               sizeof(err));
	tw_config_profile(&c);
	CHECK(rc == 0 && c.alerts.blackhole_min_prefixes == 3, "given wins over the profile: %d %s",
	      c.alerts.blackhole_min_prefixes, err);
	tw_config_default(&c);
	CHECK(set(&c, "deployment.profile=gateway", err, sizeof(err)) == 0, "%s", err);
	tw_config_profile(&c);
	CHECK(c.alerts.blackhole_min_prefixes == 2 && !strcmp(tw_profile_name(c.profile), "gateway"), "gateway");
	CHECK(set(&c, "deployment.profile=laptop", err, sizeof(err)) < 0 &&
	              strstr(err, "expected one of auto, gateway, vantage, got 'laptop'"),
	      "bad profile: %s", err);
	return fails ? 1 : 0;
}
