/* alerts.state across versions (docs/state.md): a file written by the
 * daemon before records named their fields (tests/fixtures/alerts-state-v1,
 * record version 1) loads with the current code and gives the alert that
 * daemon gave after a restart, byte for byte (id, first_seen, methods,
 * window); saved again it is version 2 and gives the same; a malformed
 * version 2 file is set aside with a message that names the record, its
 * kind and the field.  Runs from the repository root (make unit). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alerts/aggregate.h"
#include "util/state.h"

#include "check.h"

#define FIXTURE "tests/fixtures/alerts-state-v1"
#define T_UPDATE 1700000205000000000ull /* the old daemon's first tick after the restart */

static char got[4][16384];
static int ngot;
static void cap(void *arg, const char *l, size_t n)
{
	(void)arg;
	if (ngot < 4 && n < sizeof(got[0])) {
		memcpy(got[ngot], l, n);
		got[ngot++][n] = 0;
	}
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b = malloc(1 << 20);
	size_t n = f && b ? fread(b, 1, (1 << 20) - 1, f) : 0;
	if (f)
		fclose(f);
	if (b)
		b[n] = 0;
	*len = n;
	return b;
}

static struct tw_agg *load(const char *dir)
{
	struct tw_agg_cfg c;
	char err[512] = "";
	tw_agg_cfg_default(&c);
	ngot = 0;
	struct tw_agg *a = tw_agg_new(&c, NULL, dir, cap, NULL, err, sizeof(err));
	CHECK(a, "%s", err);
	return a;
}

/* the restored alert, as the old daemon announced it at T_UPDATE */
static void check_update(struct tw_agg *a, const char *want, const char *what)
{
	CHECK(tw_agg_open_alerts(a) == 1, "%s: %zu open alerts", what, tw_agg_open_alerts(a));
	tw_agg_tick(a, T_UPDATE, 0);
	CHECK(ngot == 1 && !strcmp(got[0], want), "%s: got %d lines:\n%s\nwant:\n%s", what, ngot, ngot ? got[0] : "",
	      want);
}

/* the state body saved in dir (decompressed), malloc'd */
static char *body(const char *dir, size_t *len)
{
	void *data = NULL;
	char err[512];
	CHECK(tw_state_load(dir, "alerts.state", &data, len, err, sizeof(err)) == TW_STATE_LOADED, "%s", err);
	return data;
}

/* body with the first `from` replaced by `to`, saved in dir and loaded: the
 * message tw_agg_new wrote on stderr must contain want */
static void malformed(const char *dir, const char *good, const char *from, const char *to, const char *want)
{
	char text[16384], err[512], log[300], msg[2048] = "";
	const char *at = strstr(good, from);
	CHECK(at, "'%s' not in the state", from);
	if (!at)
		return;
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - good), good, to, at + strlen(from));
	CHECK(tw_state_save(dir, "alerts.state", text, strlen(text), err, sizeof(err)) == 0, "%s", err);
	snprintf(log, sizeof(log), "%s/stderr", dir);
	fflush(stderr);
	int saved = dup(2);
	CHECK(freopen(log, "w", stderr) != NULL, "stderr");
	struct tw_agg *a = load(dir);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	FILE *f = fopen(log, "r");
	if (f) {
		size_t n = fread(msg, 1, sizeof(msg) - 1, f);
		msg[n] = 0;
		fclose(f);
	}
	CHECK(a && tw_agg_open_alerts(a) == 0 && strstr(msg, want) && strstr(msg, "moved aside") &&
	              strchr(msg, '\n') == msg + strlen(msg) - 1,
	      "%s -> %s: want '%s' in one line, got '%s'", from, to, want, msg);
	tw_agg_free(a);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -f %s/alerts.state.corrupt-* %s", dir, log);
	CHECK(system(cmd) == 0, "cleanup");
}

/* a byte of the version 1 body changed (every third one, cycling through
 * a newline, a letter, a digit, '%' and a cut there): restored or set
 * aside, never a crash (ASan/UBSan watch), and some still restore */
static void mutations(const char *dir, const char *good, size_t len)
{
	static const char subst[] = { '\n', 'x', '9', '%', 0 };
	char *m = malloc(len + 1), err[512];
	int tries = 0, restored = 0;
	for (size_t i = 0; m && i < len; i += 3) {
		char c = subst[(i / 3) % sizeof(subst)];
		memcpy(m, good, len);
		m[i] = c;
		if (tw_state_save(dir, "alerts.state", m, c ? len : i, err, sizeof(err)) < 0)
			continue;
		fflush(stderr);
		int saved = dup(2);
		CHECK(freopen("/dev/null", "w", stderr) != NULL, "stderr");
		struct tw_agg *a = load(dir);
		fflush(stderr);
		dup2(saved, 2);
		close(saved);
		tries++;
		restored += a && tw_agg_open_alerts(a) == 1;
		if (a)
			tw_agg_tick(a, T_UPDATE, 0);
		tw_agg_free(a);
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "rm -f %s/alerts.state*", dir);
		CHECK(system(cmd) == 0, "cleanup");
	}
	CHECK(tries == (int)((len + 2) / 3) && restored > 0 && restored < tries, "%d tries, %d restored", tries,
	      restored);
	free(m);
}

int main(void)
{
	char dir[] = "/tmp/tw-statecompat-XXXXXX", cmd[600];
	size_t wl, len;
	CHECK(mkdtemp(dir), "mkdtemp");
	char *want = slurp(FIXTURE "/updated.json", &wl);
	CHECK(want && wl > 100, FIXTURE "/updated.json missing");
	snprintf(cmd, sizeof(cmd), "cp " FIXTURE "/alerts.state %s/", dir);
	CHECK(system(cmd) == 0, "copy the fixture");
	char *v1 = body(dir, &len);
	CHECK(v1 && !strncmp(v1, "V 1 ", 4), "the fixture is not record version 1");
	free(v1);

	/* version 1, as the old daemon left it */
	struct tw_agg *a = load(dir);
	check_update(a, want, "version 1");
	tw_agg_free(a);
	/* saved by this code (version 3), loaded again: the same alert */
	CHECK(system(cmd) == 0, "copy the fixture");
	struct tw_agg *b = load(dir);
	CHECK(tw_agg_save(b) == 0, "save");
	tw_agg_free(b);
	char *v2 = body(dir, &len);
	CHECK(v2 && !strncmp(v2, "V 3 now=", 8) && strstr(v2, " methods=rst_injection,blackhole ") &&
	              strstr(v2, " method=blackhole tampered=1 silent=1 ") &&
	              strstr(v2, " rated=0 rate_kind=none rate_bps=0 rate_s=0 rtt_grow_ms=0 thr_dirs=0\n"),
	      "version 3 body:\n%s", v2 ? v2 : "");
	b = load(dir);
	check_update(b, want, "version 3");
	tw_agg_free(b);
	/* version 2 (the same records without the rates): still loads */
	{
		static char old[16384];
		size_t o = 0;
		const char *drop = " rated=0 rate_kind=none rate_bps=0 rate_s=0 rtt_grow_ms=0 thr_dirs=0";
		for (const char *q = v2; *q && o + 1 < sizeof(old);) {
			if (!strncmp(q, drop, strlen(drop))) {
				q += strlen(drop);
				continue;
			}
			old[o++] = *q++;
		}
		old[o] = 0;
		old[2] = '2';
		char err[512];
		CHECK(tw_state_save(dir, "alerts.state", old, o, err, sizeof(err)) == 0, "%s", err);
		b = load(dir);
		check_update(b, want, "version 2");
		tw_agg_free(b);
	}

	/* malformed version 2: record, kind and field named */
	static const char *const bad2[][3] = {
		{ "method=rst_injection", "method=shouting",
		  "record 3 (A): field 'method': not a per-flow method's name" },
		{ "method=rst_injection", "method=shutdown",
		  "record 3 (A): field 'method': not a per-flow method's name" },
		{ " proto=tcp", "", "record 2 (T): field 'proto' missing" },
		{ "ok_run=", "ok_run=0 ok_run=", "record 3 (A): field 'ok_run' given twice" },
		{ "port=80", "port=65536", "record 2 (T): field 'port': not a port" },
		{ "E flow_id=2", "E flow_id=-2", "record 8 (E): field 'flow_id': not an unsigned" },
		{ "methods=rst_injection,blackhole", "methods=rst_injection,,blackhole",
		  "record 3 (A): field 'methods'" },
		{ "tampered=1 silent=1", "tampered=1 silent=2", "field 'silent': not 0 or 1" },
		{ "conf_sum=", "colour=red conf_sum=", "record 3 (A): unknown field 'colour'" },
		{ "baseline=-1", "baseline=nan", "field 'baseline': not a finite number" },
		{ "V 3 ", "V 4 ", "record 1 (V): not a record version" },
		{ "rate_kind=none", "rate_kind=fast", "(R): field 'rate_kind': not a rate kind" },
		{ "thr_dirs=0", "thr_dirs=4", "(R): field 'thr_dirs': not 0 to 3" },
		{ "rate_bps=0 ", "rate_bps=-1 ", "(R): field 'rate_bps': not a finite number >= 0" },
		{ " rtt_grow_ms=0", "", "(R): field 'rtt_grow_ms' missing" },
		{ "method=blackhole tampered=1", "method=none tampered=1",
		  "(R): field 'tampered': a flow without a verdict" },
		{ "\nEND\n", "\n", "no END" },
	};
	for (size_t i = 0; i < sizeof(bad2) / sizeof(bad2[0]); i++)
		malformed(dir, v2, bad2[i][0], bad2[i][1], bad2[i][2]);
	/* version 1 with a method number past the per-flow ones (shutdown) */
	snprintf(cmd, sizeof(cmd), "cp " FIXTURE "/alerts.state %s/", dir);
	CHECK(system(cmd) == 0, "copy the fixture");
	v1 = body(dir, &len);
	malformed(dir, v1, " 1 1700000000036000000", " 7 1700000000036000000",
	          "record 3 (A): field 'method': not the number of a per-flow method");
	malformed(dir, v1, " 34 2\n", " 34\n", "record 3 (A): field 'em_methods' missing");
	malformed(dir, v1, "0.40000000000000002 5 2", "0.40000000000000002 0 2",
	          "record 18 (R): field 'tampered': a flow without a verdict");
	mutations(dir, v1, len);
	free(v1);
	free(v2);
	free(want);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "cleanup");
	printf("%d checks, %d failed\n", checks, fails);
	return fails != 0;
}
