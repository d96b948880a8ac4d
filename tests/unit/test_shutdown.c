/* Shutdown detector on synthetic diurnal series (simulated clock: a "day"
 * of DAY seconds, a "week" of 7 days, hourly time-of-week bins).  Outage
 * durations are derived from the IODA investigated-outages CSV at
 * ${TW_CORPUS:-../shared/corpus}.  Run from the repo root. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/jsonbuf.h"
#include "alerts/shutdown.h"
#include "util/state.h"
#include <glob.h>

#include "check.h"

#define NS 1000000000ull
#define DAY 1200u /* simulated day, seconds */
#define WEEK (7u * DAY)
#define IV 10u                /* sample interval */
#define SCALE (86400.0 / DAY) /* real seconds per simulated second */

/* ---- captured output --------------------------------------------------- */
#define MAXL 4096
static char *lines[MAXL];
static uint64_t line_t[MAXL];
static int nlines;
static uint64_t g_now;

static void cap(void *arg, const char *l, size_t n)
{
	(void)arg;
	if (nlines < MAXL) {
		lines[nlines] = strndup(l, n);
		line_t[nlines++] = g_now;
	}
}

static void clear_lines(void)
{
	for (int i = 0; i < nlines; i++)
		free(lines[i]);
	nlines = 0;
}

static int count(const char *a, const char *b, const char *c)
{
	int n = 0;
	for (int i = 0; i < nlines; i++)
		if (strstr(lines[i], a) && (!b || strstr(lines[i], b)) && (!c || strstr(lines[i], c)))
			n++;
	return n;
}

static int find(const char *a, const char *b)
{
	for (int i = 0; i < nlines; i++)
		if (strstr(lines[i], a) && (!b || strstr(lines[i], b)))
			return i;
	return -1;
}

static void timestr(char *out, size_t cap, const char *key, uint64_t ns)
{
	char buf[128];
	struct tw_jb b;
	tw_jb_init(&b, buf, sizeof buf);
	tw_jb_obj_open(&b, NULL);
	tw_jb_time(&b, key, ns);
	tw_jb_obj_close(&b);
	tw_jb_end(&b);
	/* {"key":"..."}\n -> "key":"..." */
	size_t n = strlen(buf);
	snprintf(out, cap, "%.*s", (int)(n - 3), buf + 1);
}

/* ---- synthetic traffic ------------------------------------------------- */
static uint64_t rng = 88172645463325252ull;
static double urand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

/* shape at simulated second t (relative to T0): trough 0.15 at "midnight",
 * 1.0 at "noon", weekend days x0.6, +-10% noise */
/* no libm in the test link: cos by Taylor series on [-pi, pi] */
static double tcos(double x)
{
	while (x > M_PI)
		x -= 2 * M_PI;
	while (x < -M_PI)
		x += 2 * M_PI;
	double term = 1, sum = 1;
	for (int k = 1; k < 20; k++) {
		term *= -x * x / ((2 * k - 1) * (2 * k));
		sum += term;
	}
	return sum;
}

static double shape(uint64_t t)
{
	double ph = (double)(t % DAY) / DAY;
	double f = 0.15 + 0.85 * (0.5 - 0.5 * tcos(2 * M_PI * ph));
	unsigned dow = (unsigned)((t / DAY) % 7);
	if (dow >= 5)
		f *= 0.6;
	return f * (0.9 + 0.2 * urand());
}

enum { NORMAL, FULL, PARTIAL };

static void mk(struct tw_series_sample *x, double f, int mode)
{
	double level = 1;
	memset(x, 0, sizeof *x);
	x->has_classes = 1;
	double cls[TW_SD_NCLASS] = { 0.70, 0.05, 0.15, 0.10 };
	double tot = 0;
	for (int k = 0; k < TW_SD_NCLASS; k++) {
		double v = 10000 * f * cls[k];
		if (mode == FULL)
			v *= 0.05;
		else if (mode == PARTIAL && k != TW_SD_CLASS_DNS)
			v *= 0.0;
		x->class_packets[k] = (uint64_t)v;
		tot += v;
	}
	level = mode == NORMAL ? 1 : mode == FULL ? 0.05 : 0.3;
	x->packets = (uint64_t)tot;
	x->bytes = x->packets * 700;
	x->new_flows = (uint64_t)(300 * f * level);
	x->active_clients = (uint64_t)(600 * f * level);
}

static uint64_t T0; /* aligned to a simulated week */

struct drop {
	uint64_t from, to; /* relative seconds */
	int mode;
	unsigned mask; /* which series (bit i) */
};

static const char *keys[] = { "198.51.100.0/24", "198.51.101.0/24", "203.0.113.0/24" };
static const char *regs[] = { "north", "north", "south" };

/* run series [0,nser) from..to (relative s) with drops; link down window */
static void run(struct tw_shutdown *s, int nser, uint64_t from, uint64_t to, const struct drop *d, int nd,
                uint64_t ld_from, uint64_t ld_to)
{
	for (uint64_t t = from; t < to; t += IV) {
		uint64_t now = (T0 + t) * NS;
		g_now = now;
		int link_down = ld_to && t >= ld_from && t < ld_to;
		if (ld_to && t == ld_from)
			tw_shutdown_link(s, now, 0);
		if (ld_to && t == ld_to)
			tw_shutdown_link(s, now, 1);
		for (int i = 0; i < nser; i++) {
			int mode = NORMAL;
			for (int j = 0; j < nd; j++)
				if ((d[j].mask & (1u << i)) && t >= d[j].from && t < d[j].to)
					mode = d[j].mode;
			struct tw_series_sample x;
			mk(&x, shape(t) * (1 + 0.05 * i), mode);
			if (link_down)
				memset(&x, 0, sizeof x);
			/* one-interval glitch every 3 days: not an outage */
			if (t % (3 * DAY) == 400)
				mk(&x, shape(t) * 0.05, NORMAL);
			tw_shutdown_sample(s, now, keys[i], regs[i], &x);
		}
		tw_shutdown_tick(s, now, 0);
	}
}

static void test_cfg(struct tw_shutdown_cfg *c)
{
	tw_shutdown_cfg_default(c);
	c->interval_s = IV;
	c->period_s = WEEK;
	c->bins = 168;
	c->history = 3;
	c->warmup_s = WEEK;
	c->min_duration_s = 60;
	c->recover_s = 60;
	c->emit = cap;
}

/* ---- IODA-derived outage duration ------------------------------------- */
static int csv_fields(const char *p, const char **end, char f[][256], int maxf)
{
	int n = 0;
	size_t l = 0;
	int q = 0;
	if (!*p)
		return -1;
	for (;; p++) {
		char ch = *p;
		if (q) {
			if (ch == '"' && p[1] == '"') {
				if (n < maxf && l < 255)
					f[n][l++] = '"';
				p++;
			} else if (ch == '"') {
				q = 0;
			} else if (!ch) {
				break;
			} else if (n < maxf && l < 255) {
				f[n][l++] = ch;
			}
			continue;
		}
		if (ch == '"') {
			q = 1;
			continue;
		}
		if (ch == ',' || ch == '\n' || !ch) {
			if (n < maxf)
				f[n][l] = 0;
			n++;
			l = 0;
			if (ch != ',') {
				*end = ch ? p + 1 : p;
				return n;
			}
			continue;
		}
		if (ch != '\r' && n < maxf && l < 255)
			f[n][l++] = ch;
	}
	*end = p;
	return n;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* median duration (s) of IODA rows whose cause mentions a government
 * shutdown; 0 if the corpus is not there */
static double ioda_median(int *nrows)
{
	const char *root = getenv("TW_CORPUS") ? getenv("TW_CORPUS") : "../shared/corpus";
	char path[1024];
	snprintf(path, sizeof path,
	         "%s/InetIntel__internet_outages/data/ioda/ioda_investigated_outages_cleaned_phase1+2.csv", root);
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(buf);
		return 0;
	}
	fclose(f);
	buf[n] = 0;
	static char fld[16][256];
	static double dur[4096];
	int nd = 0, row = 0;
	const char *p = buf, *e;
	int nf;
	while ((nf = csv_fields(p, &e, fld, 16)) > 0) {
		p = e;
		if (row++ == 0 || nf < 11)
			continue;
		char cause[256];
		snprintf(cause, sizeof cause, "%s", fld[10]);
		for (char *c = cause; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		if (!strstr(cause, "government") && !strstr(cause, "shutdown"))
			continue;
		struct tm a = { 0 }, b = { 0 };
		char *ea = strptime(fld[1], "%A, %B %d, %Y, %I:%M:%S %p", &a);
		char *eb = strptime(fld[2], "%A, %B %d, %Y, %I:%M:%S %p", &b);
		if (!ea || !eb)
			continue;
		double d = difftime(timegm(&b), timegm(&a));
		if (d > 0 && nd < 4096)
			dur[nd++] = d;
		if (!*p)
			break;
	}
	free(buf);
	*nrows = nd;
	if (!nd)
		return 0;
	qsort(dur, (size_t)nd, sizeof dur[0], cmpd);
	return nd % 2 ? dur[nd / 2] : (dur[nd / 2 - 1] + dur[nd / 2]) / 2;
}

/* ---- tests ----------------------------------------------------------------- */
static uint64_t DROP; /* simulated drop duration, s */

static void test_diurnal_and_drop(void)
{
	struct tw_shutdown_cfg c;
	test_cfg(&c);
	struct tw_shutdown *s = tw_shutdown_new(&c);
	CHECK(s != NULL, "new");
	clear_lines();
	/* weeks 0..3 normal: warm-up (week 0), troughs, weekends, noise, glitches */
	run(s, 1, 0, 4 * WEEK, NULL, 0, 0, 0);
	CHECK(count("\"event_type\":\"alert\"", NULL, NULL) == 0, "false alerts in normal weeks: %d (first: %s)",
	      count("\"event_type\":\"alert\"", NULL, NULL), nlines ? lines[0] : "");
	/* week 4: a daytime drop (day 1, 09:00 equivalent) and a night drop (day 3, 01:00) */
	uint64_t d1 = 4 * WEEK + 1 * DAY + DAY * 9 / 24, d2 = 4 * WEEK + 3 * DAY + DAY / 24;
	d1 -= d1 % IV;
	d2 -= d2 % IV;
	struct drop dr[2] = { { d1, d1 + DROP, FULL, 1 }, { d2, d2 + DROP, FULL, 1 } };
	run(s, 1, 4 * WEEK, 5 * WEEK, dr, 2, 0, 0);
	CHECK(count("\"state\":\"raised\"", NULL, NULL) == 2, "raised %d, want 2",
	      count("\"state\":\"raised\"", NULL, NULL));
	CHECK(count("\"state\":\"resolved\"", NULL, NULL) == 2, "resolved %d",
	      count("\"state\":\"resolved\"", NULL, NULL));
	uint64_t starts[2] = { d1, d2 };
	for (int k = 0; k < 2; k++) {
		int r = -1, seen = 0;
		for (int i = 0; i < nlines; i++)
			if (strstr(lines[i], "\"state\":\"raised\"") && seen++ == k)
				r = i;
		if (r < 0)
			break;
		double delay = (double)(line_t[r] - (T0 + starts[k]) * NS) / 1e9;
		printf("  drop %d (%s): detection delay %.0f s simulated (min_duration %u s, interval %u s) = %.0f min "
		       "real-time equivalent\n",
		       k + 1, k ? "night" : "day", delay, c.min_duration_s, IV, delay * SCALE / 60);
		CHECK(delay >= c.min_duration_s && delay <= c.min_duration_s + 2 * IV, "delay %.0f", delay);
		CHECK(strstr(lines[r], "\"prefixes\":[\"198.51.100.0/24\"]") &&
		              strstr(lines[r], "\"region\":\"north\""),
		      "scope: %s", lines[r]);
		CHECK(strstr(lines[r], "\"category\":\"shutdown\"") && strstr(lines[r], "\"method\":\"shutdown\""),
		      "%s", lines[r]);
		CHECK(strstr(lines[r], "\"partial\":false"), "full drop marked partial: %s", lines[r]);
		char id[64];
		const char *ip = strstr(lines[r], "\"id\":\"");
		snprintf(id, sizeof id, "%.27s", ip ? ip : "");
		int res = find(id, "\"state\":\"resolved\"");
		CHECK(res > r, "no resolved with %s", id);
		if (res > r) {
			char st[96], en[96];
			timestr(st, sizeof st, "start", (T0 + starts[k]) * NS);
			timestr(en, sizeof en, "end", (T0 + starts[k] + DROP) * NS);
			CHECK(strstr(lines[res], st) && strstr(lines[res], en), "want %s %s in %s", st, en, lines[res]);
			const char *dp = strstr(lines[res], "\"depth\":");
			double depth = dp ? atof(dp + 8) : 0;
			CHECK(depth >= 0.85, "depth %.3f", depth);
			printf("  drop %d resolved: depth %.3f, %s\n", k + 1, depth, st);
		}
	}
	tw_shutdown_free(s);
}

static void test_partial(void)
{
	struct tw_shutdown_cfg c;
	test_cfg(&c);
	struct tw_shutdown *s = tw_shutdown_new(&c);
	clear_lines();
	run(s, 1, 0, 3 * WEEK, NULL, 0, 0, 0);
	uint64_t d = 3 * WEEK + 2 * DAY + DAY / 2;
	d -= d % IV;
	struct drop dr = { d, d + DROP, PARTIAL, 1 };
	run(s, 1, 3 * WEEK, 3 * WEEK + 3 * DAY, &dr, 1, 0, 0);
	int r = find("\"state\":\"raised\"", NULL);
	CHECK(r >= 0, "no alert on partial drop");
	if (r >= 0) {
		CHECK(strstr(lines[r], "\"partial\":true") && strstr(lines[r], "\"level\":\"partial\"") &&
		              strstr(lines[r], "\"passing\":[\"dns\"]") && strstr(lines[r], "\"signature_id\":2702"),
		      "not partial: %s", lines[r]);
	}
	CHECK(count("\"state\":\"raised\"", NULL, NULL) == 1, "raised %d", count("\"state\":\"raised\"", NULL, NULL));
	tw_shutdown_free(s);
}

static void test_warmup(void)
{
	struct tw_shutdown_cfg c;
	test_cfg(&c);
	c.warmup_s = 2 * WEEK;
	struct tw_shutdown *s = tw_shutdown_new(&c);
	clear_lines();
	uint64_t d = WEEK + 2 * DAY + DAY / 2; /* baselines exist (week 0) but warm-up runs */
	d -= d % IV;
	uint64_t d2 = d + WEEK; /* after warm-up */
	struct drop dr[2] = { { d, d + DROP, FULL, 1 }, { d2, d2 + DROP, FULL, 1 } };
	run(s, 1, 0, 2 * WEEK, dr, 2, 0, 0);
	CHECK(count("\"event_type\":\"alert\"", NULL, NULL) == 0, "alert during warm-up: %s", nlines ? lines[0] : "");
	run(s, 1, 2 * WEEK, 3 * WEEK, dr, 2, 0, 0);
	CHECK(count("\"state\":\"raised\"", NULL, NULL) == 1, "no alert after warm-up");
	tw_shutdown_free(s);
}

static void test_link_and_gap(void)
{
	struct tw_shutdown_cfg c;
	test_cfg(&c);
	struct tw_shutdown *s = tw_shutdown_new(&c);
	clear_lines();
	run(s, 1, 0, 3 * WEEK, NULL, 0, 0, 0);
	uint64_t lf = 3 * WEEK + DAY + DAY / 2, lt = lf + DROP;
	lf -= lf % IV;
	lt -= lt % IV;
	uint64_t probe = (T0 + lf + 100) * NS;
	double before = tw_shutdown_baseline(s, keys[0], probe);
	run(s, 1, 3 * WEEK, 3 * WEEK + 3 * DAY, NULL, 0, lf, lt);
	CHECK(count("\"event_type\":\"alert\"", NULL, NULL) == 0, "link down raised an alert: %s",
	      lines[find("\"event_type\":\"alert\"", NULL) < 0 ? 0 : find("\"event_type\":\"alert\"", NULL)]);
	CHECK(count("\"event_type\":\"link\"", "\"state\":\"down\"", NULL) == 1, "no link down record");
	CHECK(count("\"event_type\":\"link\"", "\"state\":\"up\"", NULL) == 1, "no link up record");
	double after = tw_shutdown_baseline(s, keys[0], probe);
	CHECK(before > 0 && after == before, "baseline learned the link-down window: %.1f -> %.1f", before, after);
	/* capture gap: no samples at all (tick only), reported, no alert */
	clear_lines();
	uint64_t gf = 3 * WEEK + 4 * DAY + DAY / 2, gt = gf + DROP;
	gf -= gf % IV;
	run(s, 1, 3 * WEEK + 3 * DAY, gf, NULL, 0, 0, 0);
	tw_shutdown_gap(s, (T0 + gf) * NS, (T0 + gt) * NS, "capture_drop");
	for (uint64_t t = gf; t < gt; t += IV) {
		g_now = (T0 + t) * NS;
		tw_shutdown_tick(s, g_now, 0);
	}
	run(s, 1, gt, 4 * WEEK, NULL, 0, 0, 0);
	CHECK(count("\"event_type\":\"gap\"", "capture_drop", NULL) == 1, "no gap record");
	CHECK(count("\"event_type\":\"alert\"", NULL, NULL) == 0, "gap raised an alert");
	tw_shutdown_free(s);
}

/* the one file tw_state_set_aside made of path (path.corrupt-TIME), removed;
 * 0 if there is not exactly one */
static int take_aside(const char *path)
{
	char pat[320];
	glob_t g;
	snprintf(pat, sizeof pat, "%s.corrupt-*", path);
	int n = glob(pat, 0, NULL, &g) == 0 ? (int)g.gl_pathc : 0;
	for (int i = 0; i < n; i++)
		unlink(g.gl_pathv[i]);
	if (n)
		globfree(&g);
	return n == 1;
}

static void test_state(void)
{
	struct tw_shutdown_cfg c;
	test_cfg(&c);
	char dir[] = "/tmp/tw_sd_XXXXXX";
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	char path[256], err[4600];
	snprintf(path, sizeof path, "%s/" TW_SHUTDOWN_STATE, dir);

	struct tw_shutdown *a = tw_shutdown_new(&c);
	clear_lines();
	run(a, 2, 0, 3 * WEEK, NULL, 0, 0, 0);
	CHECK(tw_shutdown_save(a, dir, err, sizeof err) == 0, "save: %s", err);
	struct stat sb;
	CHECK(stat(path, &sb) == 0 && sb.st_size > 0, "no state file");
	printf("  state: 2 series, %lld bytes compressed\n", (long long)sb.st_size);
	struct tw_shutdown *b = tw_shutdown_new(&c);
	CHECK(tw_shutdown_load(b, dir, err, sizeof err) == TW_STATE_LOADED, "load: %s", err);
	uint64_t probe = (T0 + 3 * WEEK + DAY + 77) * NS;
	CHECK(tw_shutdown_baseline(a, keys[1], probe) == tw_shutdown_baseline(b, keys[1], probe) &&
	              tw_shutdown_baseline(b, keys[1], probe) > 0,
	      "baselines differ after load");

	/* both continue after a 1-"hour" pause with the same drop */
	uint64_t resume = 3 * WEEK + DAY / 24, d = 3 * WEEK + DAY + DAY / 2;
	d -= d % IV;
	struct drop dr = { d, d + DROP, FULL, 1 };
	uint64_t saved_rng = rng;
	clear_lines();
	run(a, 2, resume, 3 * WEEK + 2 * DAY, &dr, 1, 0, 0);
	int ra = find("\"state\":\"raised\"", NULL);
	uint64_t ta = ra >= 0 ? line_t[ra] : 0;
	int na = count("\"state\":\"raised\"", NULL, NULL);
	rng = saved_rng;
	clear_lines();
	run(b, 2, resume, 3 * WEEK + 2 * DAY, &dr, 1, 0, 0);
	int rb = find("\"state\":\"raised\"", NULL);
	CHECK(rb >= 0 && ra >= 0 && line_t[rb] == ta && count("\"state\":\"raised\"", NULL, NULL) == na,
	      "restarted detector differs: a %d@%llu b %d", na, (unsigned long long)ta,
	      count("\"state\":\"raised\"", NULL, NULL));
	CHECK(count("\"event_type\":\"gap\"", "\"why\":\"restart\"", NULL) == 1, "restart gap not reported");
	tw_shutdown_free(a);
	tw_shutdown_free(b);

	/* a layout change is refused, not misread */
	struct tw_shutdown_cfg c2 = c;
	c2.history = 4;
	struct tw_shutdown *e = tw_shutdown_new(&c2);
	CHECK(tw_shutdown_load(e, dir, err, sizeof err) == TW_STATE_CORRUPT && strstr(err, "layout"),
	      "layout change: %s", err);
	tw_shutdown_free(e);
	char old[300];
	snprintf(old, sizeof old, "%s.old", path);
	CHECK(rename(old, path) == 0, "layout change: not kept as .old");

	/* damage: to the container (flipped byte, truncation, garbage, format
	 * 1) and to a well-wrapped body (short, long, another body version) ->
	 * one line naming the file, moved aside, fresh start */
	void *body = NULL;
	size_t blen = 0;
	CHECK(tw_state_load(dir, TW_SHUTDOWN_STATE, &body, &blen, err, sizeof err) == TW_STATE_LOADED, "%s", err);
	FILE *f = fopen(path, "rb");
	static uint8_t buf[1 << 20];
	size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
	if (f)
		fclose(f);
	CHECK(n > 100 && blen > 100, "read state");
	static const char *what[] = { "flipped",    "truncated", "garbage",     "format 1",
		                      "short body", "long body", "body version" };
	for (int k = 0; k < 7; k++) {
		f = fopen(path, "wb");
		if (k == 0) {
			buf[n / 2] ^= 0x5a;
			fwrite(buf, 1, n, f);
			buf[n / 2] ^= 0x5a;
		} else if (k == 1) {
			fwrite(buf, 1, n / 2, f);
		} else if (k == 2) {
			fputs("garbage, not state\n", f);
		} else if (k == 3) { /* the header of format 1: its own container */
			fwrite("TWSD\1\0\0\0", 1, 8, f);
			fwrite(buf + 8, 1, n - 8, f);
		}
		fclose(f);
		if (k >= 4) {
			uint8_t *x = malloc(blen + 1);
			memcpy(x, body, blen);
			x[blen] = 0;
			if (k == 6)
				x[4] = 1;
			CHECK(tw_state_save(dir, TW_SHUTDOWN_STATE, x,
			                    k == 4   ? blen - 1
			                    : k == 5 ? blen + 1
			                             : blen,
			                    err, sizeof err) == 0,
			      "%s", err);
			free(x);
		}
		struct tw_shutdown *x = tw_shutdown_new(&c);
		err[0] = 0;
		int rc = tw_shutdown_load(x, dir, err, sizeof err);
		CHECK(rc == TW_STATE_CORRUPT, "%s state accepted: %d", what[k], rc);
		CHECK(strstr(err, path) && strstr(err, "moved aside") && !strchr(err, '\n'), "err: %s", err);
		CHECK(k != 3 || strstr(err, "format 1 (written before open alerts were kept)"), "format 1: %s", err);
		CHECK(take_aside(path) && access(path, F_OK) != 0, "%s file not moved aside", what[k]);
		CHECK(tw_shutdown_baseline(x, keys[0], probe) < 0, "%s state left baselines", what[k]);
		printf("  %s: %s\n", what[k], err);
		tw_shutdown_free(x);
	}
	free(body);
	struct tw_shutdown *x = tw_shutdown_new(&c);
	CHECK(tw_shutdown_load(x, dir, err, sizeof err) == TW_STATE_NONE, "missing file is not a fresh start");
	/* a file the system will not let us read is left alone: the caller stops */
	CHECK(mkdir(path, 0700) == 0, "mkdir");
	CHECK(tw_shutdown_load(x, dir, err, sizeof err) == TW_STATE_UNREADABLE && strstr(err, "Is a directory"), "%s",
	      err);
	CHECK(rmdir(path) == 0, "the unreadable state was moved");
	tw_shutdown_free(x);
	rmdir(dir);
}

/* An open shutdown across a restart (README "Shutdown detection", State):
 * the restored detector raises nothing again and goes on exactly as the one
 * that never stopped, the same ids resolved once; restored after the
 * shutdown ended, it resolves on the traffic it sees come back. */
static void test_state_open_alert(void)
{
	struct tw_shutdown_cfg c;
	test_cfg(&c);
	char dir[] = "/tmp/tw_sd_XXXXXX";
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	char err[4600];
	struct tw_shutdown *a = tw_shutdown_new(&c);
	clear_lines();
	run(a, 2, 0, 3 * WEEK, NULL, 0, 0, 0);
	uint64_t d = 3 * WEEK + DAY + DAY / 2, mid = d + DROP / 2;
	d -= d % IV;
	mid -= mid % IV;
	struct drop dr = { d, d + DROP, FULL, 3 }; /* both north series: two prefix alerts and a region alert */
	clear_lines();
	run(a, 2, 3 * WEEK, mid, &dr, 1, 0, 0);
	char ids[3][32] = { "", "", "" }, first[3][64] = { "", "", "" };
	int nid = 0;
	for (int i = 0; i < nlines && nid < 3; i++)
		if (strstr(lines[i], "\"state\":\"raised\"")) {
			const char *p = strstr(lines[i], "\"id\":\""), *q = strstr(lines[i], "\"first_seen\":\"");
			snprintf(ids[nid], sizeof ids[nid], "%.25s", p ? p : "");
			snprintf(first[nid++], sizeof first[0], "%.45s", q ? q : "");
		}
	CHECK(nid == 3 && count("\"state\":\"raised\"", NULL, NULL) == 3 &&
	              !count("\"state\":\"resolved\"", NULL, NULL),
	      "want 2 prefix alerts and a region alert open at the save, got %d", nid);
	CHECK(tw_shutdown_save(a, dir, err, sizeof err) == 0, "save: %s", err);

	/* restarted at once: byte for byte the run that never stopped */
	struct tw_shutdown *b = tw_shutdown_new(&c);
	CHECK(tw_shutdown_load(b, dir, err, sizeof err) == TW_STATE_LOADED, "load: %s", err);
	uint64_t saved_rng = rng;
	clear_lines();
	run(a, 2, mid, mid + DAY, &dr, 1, 0, 0);
	int na = nlines;
	char **la = calloc((size_t)na + 1, sizeof *la);
	for (int i = 0; i < na; i++)
		la[i] = strdup(lines[i]);
	rng = saved_rng;
	clear_lines();
	run(b, 2, mid, mid + DAY, &dr, 1, 0, 0);
	CHECK(count("\"state\":\"raised\"", NULL, NULL) == 0, "raised again after the restart: %s",
	      lines[find("\"state\":\"raised\"", NULL) < 0 ? 0 : find("\"state\":\"raised\"", NULL)]);
	for (int k = 0; k < nid; k++)
		CHECK(count(ids[k], "\"state\":\"resolved\"", first[k]) == 1, "%s (%s) not resolved once", ids[k],
		      first[k]);
	int same = nlines == na;
	for (int i = 0; same && i < na; i++)
		same = !strcmp(la[i], lines[i]);
	CHECK(same && na >= 3, "restored run differs from the uninterrupted one (%d vs %d lines)", nlines, na);
	for (int i = 0; i < na; i++)
		free(la[i]);
	free(la);

	/* restarted 2 "hours" after the restore: resolved on the first
	 * evaluable sample after the restart gap, once, under the same ids */
	uint64_t late = d + DROP + DAY / 12;
	late -= late % IV;
	struct tw_shutdown *l = tw_shutdown_new(&c);
	CHECK(tw_shutdown_load(l, dir, err, sizeof err) == TW_STATE_LOADED, "load: %s", err);
	clear_lines();
	run(l, 2, late, late + DAY / 4, NULL, 0, 0, 0);
	char end[96];
	timestr(end, sizeof end, "end", (T0 + late + IV) * NS);
	CHECK(count("\"event_type\":\"gap\"", "\"why\":\"restart\"", NULL) == 1, "no restart gap");
	CHECK(count("\"state\":\"raised\"", NULL, NULL) == 0, "raised after a late restart");
	for (int k = 0; k < nid; k++) {
		int r = find(ids[k], "\"state\":\"resolved\"");
		CHECK(count(ids[k], "\"state\":\"resolved\"", first[k]) == 1,
		      "%s not resolved once after a late restart", ids[k]);
		CHECK(r >= 0 && (strstr(lines[r], "2703") || strstr(lines[r], end)) &&
		              line_t[r] >= (T0 + late + IV + c.recover_s) * NS,
		      "%s: not resolved on evidence: %s", ids[k], r >= 0 ? lines[r] : "");
	}
	/* the restart gap comes first when a tick does: a restored series that
	 * nothing reports is judged silent only after it */
	struct tw_shutdown *m = tw_shutdown_new(&c);
	CHECK(tw_shutdown_load(m, dir, err, sizeof err) == TW_STATE_LOADED, "load: %s", err);
	clear_lines();
	tw_shutdown_tick(m, (T0 + late) * NS, 0);
	tw_shutdown_tick(m, (T0 + late + IV / 2) * NS, 0); /* still inside the gap's interval */
	CHECK(nlines >= 1 && strstr(lines[0], "\"why\":\"restart\"") && count("\"signature_id\":2701", NULL, NULL) == 0,
	      "a tick after a load: want the restart gap first and no prefix judged, got %d lines: %s", nlines,
	      nlines ? lines[nlines - 1] : "");
	tw_shutdown_free(m);
	printf("  open alerts across a restart: %d ids, none raised again, resolved once (at once and %u s late)\n",
	       nid, (unsigned)(late - d - DROP));

	/* every byte of the detection records and open region alerts changed:
	 * loaded or moved aside, never a crash (ASan) */
	void *body = NULL;
	size_t blen = 0, tail = 400, bad = 0;
	CHECK(tw_state_load(dir, TW_SHUTDOWN_STATE, &body, &blen, err, sizeof err) == TW_STATE_LOADED, "%s", err);
	for (size_t i = blen > tail ? blen - tail : 0; i < blen; i++) {
		uint8_t *x = malloc(blen);
		memcpy(x, body, blen);
		x[i] ^= 0xff;
		tw_state_save(dir, TW_SHUTDOWN_STATE, x, blen, err, sizeof err);
		free(x);
		struct tw_shutdown *y = tw_shutdown_new(&c);
		int rc = tw_shutdown_load(y, dir, err, sizeof err);
		CHECK(rc == TW_STATE_LOADED || rc == TW_STATE_CORRUPT, "byte %zu: %d %s", i, rc, err);
		if (rc == TW_STATE_CORRUPT) {
			bad++;
			char path[300];
			snprintf(path, sizeof path, "%s/" TW_SHUTDOWN_STATE, dir);
			take_aside(path);
		}
		tw_shutdown_free(y);
	}
	printf("  %zu of the last %zu body bytes changed: %zu refused, the rest loaded\n", tail, tail, bad);
	free(body);
	char path[300];
	snprintf(path, sizeof path, "%s/" TW_SHUTDOWN_STATE, dir);
	unlink(path);
	rmdir(dir);
	tw_shutdown_free(a);
	tw_shutdown_free(b);
	tw_shutdown_free(l);
}

static void test_region(void)
{
	struct tw_shutdown_cfg c;
	test_cfg(&c);
	struct tw_shutdown *s = tw_shutdown_new(&c);
	clear_lines();
	run(s, 3, 0, 3 * WEEK, NULL, 0, 0, 0);
	uint64_t d = 3 * WEEK + DAY + DAY / 2, d2 = 3 * WEEK + 3 * DAY + DAY / 2;
	d -= d % IV;
	d2 -= d2 % IV;
	/* north (series 0 and 1) together; later series 0 alone; south alone */
	struct drop dr[3] = { { d, d + DROP, FULL, 3 }, { d2, d2 + DROP, FULL, 1 }, { d2, d2 + DROP, FULL, 4 } };
	run(s, 3, 3 * WEEK, 3 * WEEK + 5 * DAY, dr, 3, 0, 0);
	CHECK(count("\"signature_id\":2703", "\"state\":\"raised\"", NULL) == 1, "region alerts raised %d, want 1",
	      count("\"signature_id\":2703", "\"state\":\"raised\"", NULL));
	int r = find("\"signature_id\":2703", "\"state\":\"raised\"");
	if (r >= 0) {
		CHECK(strstr(lines[r], "\"prefixes\":[\"198.51.100.0/24\",\"198.51.101.0/24\"]") &&
		              strstr(lines[r], "\"region\":\"north\"") && !strstr(lines[r], "203.0.113"),
		      "%s", lines[r]);
		printf("  region alert: %.200s...\n", lines[r]);
	}
	CHECK(count("\"signature_id\":2703", "\"state\":\"resolved\"", NULL) == 1, "region alert not resolved");
	/* the resolved alert names the prefixes it was about, not the few still down */
	r = find("\"signature_id\":2703", "\"state\":\"resolved\"");
	if (r >= 0)
		CHECK(strstr(lines[r], "\"prefixes\":[\"198.51.100.0/24\",\"198.51.101.0/24\"]") != NULL, "%s",
		      lines[r]);
	CHECK(count("\"signature_id\":2701", "\"state\":\"raised\"", NULL) == 4, "prefix alerts %d, want 4",
	      count("\"signature_id\":2701", "\"state\":\"raised\"", NULL));
	tw_shutdown_free(s);
}

static void test_sparse_and_cfg(void)
{
	struct tw_shutdown_cfg c;
	test_cfg(&c);
	c.min_clients = 1e6; /* every series is too sparse to judge */
	struct tw_shutdown *s = tw_shutdown_new(&c);
	clear_lines();
	run(s, 1, 0, 2 * WEEK, NULL, 0, 0, 0);
	uint64_t d = 2 * WEEK + DAY;
	struct drop dr = { d, d + DROP, FULL, 1 };
	run(s, 1, 2 * WEEK, 2 * WEEK + 2 * DAY, &dr, 1, 0, 0);
	CHECK(count("\"event_type\":\"alert\"", NULL, NULL) == 0, "sparse series alerted");
	tw_shutdown_free(s);
	char err[256] = "";
	test_cfg(&c);
	c.period_s = WEEK + 1;
	CHECK(tw_shutdown_cfg_check(&c, err, sizeof err) == -1 && strstr(err, "period_s"), "bad cfg: %s", err);
	CHECK(tw_shutdown_new(&c) == NULL, "bad cfg accepted");
	tw_shutdown_cfg_default(&c);
	CHECK(tw_shutdown_cfg_check(&c, err, sizeof err) == 0, "defaults invalid: %s", err);
}

int main(void)
{
	T0 = 1790000000ull;
	T0 -= T0 % WEEK;
	int nrows = 0;
	double med = ioda_median(&nrows);
	if (med > 0) {
		printf("IODA: %d outages with a government/shutdown cause, median duration %.0f s (%.1f h)\n", nrows,
		       med, med / 3600);
	} else {
		med = 4 * 3600;
		printf("IODA corpus not found: using 4 h as the outage duration\n");
	}
	DROP = (uint64_t)(med / SCALE);
	if (DROP < 5 * 60)
		DROP = 5 * 60;
	if (DROP > DAY / 3)
		DROP = DAY / 3;
	DROP -= DROP % IV;
	printf("simulated drop duration %llu s (day = %u s, scale %.0fx)\n", (unsigned long long)DROP, DAY, SCALE);

	test_diurnal_and_drop();
	test_partial();
	test_warmup();
	test_link_and_gap();
	test_state();
	test_state_open_alert();
	test_region();
	test_sparse_and_cfg();
	clear_lines();
	printf("test_shutdown: %d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
