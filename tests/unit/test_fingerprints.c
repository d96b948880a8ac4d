/* Fingerprint loader/matcher tests against the real OONI files (patterns
 * are picked from the files at run time) and crafted bad files.
 * Run from the repo root; corpus at ${TW_CORPUS:-../shared/corpus}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "verdicts/fingerprints.h"
#include "verdicts/fp_default.h"

#include "check.h"

/* ---- an independent, minimal RFC 4180 reader for picking rows -------- */

#define MAXF 16
struct row {
	char *f[MAXF];
	int nf;
};

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	if (fread(b, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(b);
		return NULL;
	}
	fclose(f);
	b[n] = 0;
	*len = (size_t)n;
	return b;
}

static int read_rows(const char *path, struct row **out)
{
	size_t len, i = 0;
	char *b = slurp(path, &len);
	if (!b)
		return -1;
	int nrows = 0, cap = 0;
	struct row *rows = NULL;
	while (i < len) {
		struct row r = { .nf = 0 };
		for (;;) {
			char *fb = malloc(len + 1);
			size_t o = 0;
			if (b[i] == '"') {
				i++;
				while (i < len) {
					if (b[i] == '"' && b[i + 1] == '"') {
						fb[o++] = '"';
						i += 2;
					} else if (b[i] == '"') {
						i++;
						break;
					} else {
						fb[o++] = b[i++];
					}
				}
			}
			while (i < len && b[i] != ',' && b[i] != '\n' && b[i] != '\r')
				fb[o++] = b[i++];
			fb[o] = 0;
			if (r.nf < MAXF)
				r.f[r.nf++] = fb;
			else
				free(fb);
			if (i < len && b[i] == ',') {
				i++;
				continue;
			}
			if (i < len && b[i] == '\r')
				i++;
			if (i < len && b[i] == '\n')
				i++;
			break;
		}
		if (r.nf == 1 && !r.f[0][0]) {
			free(r.f[0]);
			continue;
		}
		if (nrows == cap) {
			cap = cap ? cap * 2 : 256;
			rows = realloc(rows, (size_t)cap * sizeof(*rows));
		}
		rows[nrows++] = r;
	}
	free(b);
	*out = rows;
	return nrows;
}

static void free_rows(struct row *rows, int n)
{
	for (int i = 0; i < n; i++)
		for (int k = 0; k < rows[i].nf; k++)
			free(rows[i].f[k]);
	free(rows);
}

enum { F_NAME, F_SCOPE, F_OTHER, F_LOC, F_PTYPE, F_PAT, F_CONF };

/* ---- helpers ------------------------------------------------------------ */

static const struct tw_fp_match *all[64];

static int matched(const struct tw_fp_db *db, const char *resp, const char *name)
{
	size_t n = tw_fp_match_http_all(db, (const uint8_t *)resp, strlen(resp), all, 64);
	for (size_t i = 0; i < n; i++)
		if (strcmp(all[i]->name, name) == 0)
			return 1;
	return 0;
}

/* A string matching a regexp made only of literals, "\X", "." and ".*". */
static int regexp_sample(const char *re, char *out, size_t outsz)
{
	size_t o = 0;
	for (size_t i = 0; re[i]; i++) {
		if (o + 2 >= outsz)
			return 0;
		if (re[i] == '.' && re[i + 1] == '*') {
			i++;
		} else if (re[i] == '\\' && re[i + 1] && strchr(".()[]{}*+?|^$\\/", re[i + 1])) {
			out[o++] = re[++i];
		} else if (re[i] == '.') {
			out[o++] = 'x';
		} else if (strchr("()[]{}*+?|^$\\", re[i])) {
			return 0;
		} else {
			out[o++] = re[i];
		}
	}
	out[o] = 0;
	return 1;
}

static char path_http[1024], path_dns[1024];

static void test_real_files(void)
{
	struct tw_fp_db *db = tw_fp_db_new();
	char err[512] = "";
	struct row *hr, *dr;
	int nh = read_rows(path_http, &hr), nd = read_rows(path_dns, &dr);
	CHECK(nh > 1000 && nd > 100, "reader: %d %d rows", nh, nd);

	int rc1 = tw_fp_db_load(db, path_http, err, sizeof(err));
	CHECK(rc1 == 0, "load http: %s", err);
	size_t skipped_h, n_h = tw_fp_db_count(db, &skipped_h);
	int rc2 = tw_fp_db_load(db, path_dns, err, sizeof(err));
	CHECK(rc2 == 0, "load dns: %s", err);
	size_t skipped, n = tw_fp_db_count(db, &skipped);
	size_t rows = (size_t)(nh - 1) + (size_t)(nd - 1);
	CHECK(n_h + skipped_h == (size_t)(nh - 1), "http: loaded %zu + skipped %zu != %d rows", n_h, skipped_h, nh - 1);
	CHECK(n + skipped == rows, "loaded %zu + skipped %zu != %zu rows", n, skipped, rows);
	CHECK(skipped <= rows / 50, "skipped %zu is not small", skipped);
	printf("ok   OONI files: %d http + %d dns data rows; loaded %zu, skipped %zu (regexps POSIX can't do)\n",
	       nh - 1, nd - 1, n, skipped);

	/* one row per (location kind, pattern_type) present in the http file */
	const char *kinds[] = { "body", "header.location", "header.server", "header.via" };
	const char *types[] = { "full", "prefix", "contains", "regexp" };
	int tried = 0;
	for (int k = 0; k < 4; k++) {
		for (int t = 0; t < 4; t++) {
			int found = 0;
			for (int i = 1; i < nh && !found; i++) {
				struct row *r = &hr[i];
				if (strcmp(r->f[F_LOC], kinds[k]) || strcmp(r->f[F_PTYPE], types[t]))
					continue;
				char resp[4096], sample[2048];
				const char *pat = r->f[F_PAT];
				if (t == 3) {
					if (!regexp_sample(pat, sample, sizeof(sample)))
						continue;
					pat = sample;
				}
				if (k == 0) {
					const char *pre = t == 2 || t == 3 ? "<html>intro " : "";
					const char *post = t == 0 ? "" : " outro</html>";
					snprintf(resp, sizeof(resp),
					         "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n%s%s%s", pre, pat,
					         post);
				} else {
					const char *hn = kinds[k] + 7;
					snprintf(resp, sizeof(resp), "HTTP/1.1 302 Found\r\n%c%s:  %s%s%s \r\n\r\n",
					         hn[0] - 32, hn + 1, t >= 2 ? "zz" : "", pat, t >= 1 ? "/x" : "");
				}
				found = 1;
				tried++;
				const struct tw_fp_match *best =
				        tw_fp_match_http(db, (const uint8_t *)resp, strlen(resp));
				int ok = matched(db, resp, r->f[F_NAME]);
				CHECK(ok && best && best->confidence_no_fp >= atoi(r->f[F_CONF]),
				      "%s %s row %s (pattern '%s') not matched", kinds[k], types[t], r->f[F_NAME],
				      r->f[F_PAT]);
				if (ok)
					printf("ok   %-15s %-8s row %-28s matched (best: %s, conf %d, scope %s)\n",
					       kinds[k], types[t], r->f[F_NAME], best->name, best->confidence_no_fp,
					       best->scope);
				/* the same pattern cut in half must not match as full/prefix */
				if (t <= 1 && k > 0) {
					char cut[4096];
					snprintf(cut, sizeof(cut), "HTTP/1.1 302 Found\r\n%c%s: %.*s\r\n\r\n",
					         kinds[k][7] - 32, kinds[k] + 8, (int)strlen(r->f[F_PAT]) / 2,
					         r->f[F_PAT]);
					CHECK(!matched(db, cut, r->f[F_NAME]), "half pattern matched %s", r->f[F_NAME]);
				}
			}
		}
	}
	CHECK(tried >= 8, "only %d kinds tried", tried);

	/* a row with scope fp */
	int fp_done = 0;
	for (int i = 1; i < nh && !fp_done; i++) {
		struct row *r = &hr[i];
		if (strcmp(r->f[F_SCOPE], "fp") || strcmp(r->f[F_LOC], "body") || strcmp(r->f[F_PTYPE], "contains"))
			continue;
		char resp[4096];
		snprintf(resp, sizeof(resp), "HTTP/1.1 503 x\r\n\r\n<p>%s</p>", r->f[F_PAT]);
		size_t k = tw_fp_match_http_all(db, (const uint8_t *)resp, strlen(resp), all, 64);
		for (size_t j = 0; j < k; j++)
			if (strcmp(all[j]->name, r->f[F_NAME]) == 0) {
				fp_done = 1;
				CHECK(all[j]->is_false_positive_scope && strcmp(all[j]->scope, "fp") == 0, "fp flag");
			}
		CHECK(fp_done, "fp row %s not matched", r->f[F_NAME]);
		printf("ok   fp-scope row %s reported with is_false_positive_scope=1\n", r->f[F_NAME]);
	}
	CHECK(fp_done, "no fp row found");
	/* and a real block page row is not flagged */
	const char *etisalat = "HTTP/1.1 200 OK\r\n\r\nit-security-operations@etisalat.ae";
	const struct tw_fp_match *m = tw_fp_match_http(db, (const uint8_t *)etisalat, strlen(etisalat));
	CHECK(m && !m->is_false_positive_scope, "censorship row flagged fp");

	const char *benign = "HTTP/1.1 200 OK\r\nServer: tamperwatch-test\r\nContent-Type: text/html\r\n"
	                     "Location: https://tamperwatch.invalid/q\r\n\r\n"
	                     "<html><head><title>tamperwatch benign test</title></head>"
	                     "<body><p>lorem ipsum dolor sit amet qwxz 12345</p></body></html>";
	m = tw_fp_match_http(db, (const uint8_t *)benign, strlen(benign));
	CHECK(m == NULL, "benign page matched %s (%s)", m ? m->name : "", m ? m->pattern : "");
	printf("ok   benign page matches nothing\n");
	/* body fingerprints must not fire on an incomplete head */
	char head_cut[4096];
	snprintf(head_cut, sizeof(head_cut), "HTTP/1.1 200 OK\r\nX: it-security-operations@etisalat.ae");
	CHECK(tw_fp_match_http(db, (const uint8_t *)head_cut, strlen(head_cut)) == NULL, "cut head matched");

	/* DNS: first IPv4 row, and a hostname row with case/trailing dot */
	int dns_ip = 0, dns_host = 0;
	for (int i = 1; i < nd; i++) {
		struct row *r = &dr[i];
		int is_ip = strspn(r->f[F_PAT], "0123456789.") == strlen(r->f[F_PAT]);
		if (is_ip && !dns_ip) {
			m = tw_fp_match_dns(db, r->f[F_PAT]);
			CHECK(m && strcmp(m->pattern, r->f[F_PAT]) == 0 && strcmp(m->location, "dns") == 0, "dns ip %s",
			      r->f[F_PAT]);
			printf("ok   DNS answer %s -> %s (%s, conf %d)\n", r->f[F_PAT], m ? m->name : "-",
			       m ? m->countries : "", m ? m->confidence_no_fp : 0);
			dns_ip = 1;
		} else if (!is_ip && !dns_host && strchr(r->f[F_PAT], '.') && !strchr(r->f[F_PAT], ':')) {
			char up[300];
			size_t j = 0;
			for (; r->f[F_PAT][j] && j < 290; j++)
				up[j] = (char)(r->f[F_PAT][j] >= 'a' && r->f[F_PAT][j] <= 'z' ? r->f[F_PAT][j] - 32
				                                                              : r->f[F_PAT][j]);
			up[j++] = '.';
			up[j] = 0;
			m = tw_fp_match_dns(db, up);
			CHECK(m && strcmp(m->pattern, r->f[F_PAT]) == 0, "dns host %s", up);
			printf("ok   DNS CNAME %s -> %s\n", up, m ? m->name : "-");
			dns_host = 1;
		}
	}
	CHECK(dns_ip && dns_host, "dns rows");
	CHECK(tw_fp_match_dns(db, "203.0.113.77") == NULL, "benign IP matched");
	CHECK(tw_fp_match_dns(db, "8.7.198.4") == NULL, "prefix of a full IP matched");
	printf("ok   benign IP 203.0.113.77 and IP prefix 8.7.198.4 match nothing\n");

	/* speed: a 1 KiB benign body against every loaded fingerprint */
	char body[1200];
	int bl = snprintf(body, sizeof(body), "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n");
	for (; bl < 1100; bl++)
		body[bl] = "<div class=\"a\">lorem ipsum dolor sit amet, consectetur</div>\n"[bl % 58];
	body[bl] = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int iters = 2000, hits = 0;
	for (int i = 0; i < iters; i++)
		hits += tw_fp_match_http(db, (const uint8_t *)body, (size_t)bl) != NULL;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double us = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1e3 / iters;
	CHECK(us < 2000, "%.1f us per match", us);
	printf("ok   matching a 1 KiB response: %.1f us per call under ASan (%d hits)\n", us, hits);

	tw_fp_db_free(db);
	free_rows(hr, nh);
	free_rows(dr, nd);
}

/* ---- crafted files --------------------------------------------------------- */

static const char HDR[] = "name,scope,other_names,location_found,pattern_type,pattern,confidence_no_fp,"
                          "expected_countries,source,exp_url,notes\r\n";

static char tmpdir[] = "/tmp/tw_fp_test.XXXXXX";

static const char *write_tmp(const char *name, const char *content, size_t len)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "wb");
	fwrite(content, 1, len, f);
	fclose(f);
	return path;
}

static char warnbuf[2048];
static int nwarn;

static void capture_warn(void *arg, const char *msg)
{
	(void)arg;
	nwarn++;
	snprintf(warnbuf, sizeof(warnbuf), "%s", msg);
}

static void expect_err(const char *fname, const char *content, const char *want_prefix_fmt, int line,
                       const char *want_reason)
{
	struct tw_fp_db *db = tw_fp_db_new();
	char err[512] = "", want[600];
	const char *path = write_tmp(fname, content, strlen(content));
	int rc = tw_fp_db_load(db, path, err, sizeof(err));
	snprintf(want, sizeof(want), want_prefix_fmt, path, line);
	CHECK(rc == -1 && strncmp(err, want, strlen(want)) == 0 && strstr(err, want_reason),
	      "%s: rc=%d err='%s' want '%s...%s'", fname, rc, err, want, want_reason);
	CHECK(tw_fp_db_count(db, NULL) == 0, "failed load left rows");
	if (rc == -1)
		printf("ok   %-18s -> %s\n", fname, err);
	tw_fp_db_free(db);
}

static void test_bad_files(void)
{
	char buf[200000];

	snprintf(buf, sizeof(buf),
	         "%sa,isp,,body,contains,x,5,,,,\r\nb,isp,,body,contains,\"open quote,5,,,,\r\n"
	         "c,isp,,body,contains,y,5,,,,\r\n",
	         HDR);
	expect_err("unterminated.csv", buf, "%s:%d: ", 3, "unterminated quote");
	expect_err("wrongheader.csv", "nom,portee,lieu\na,b,c\n", "%s:%d: ", 1, "bad header");
	snprintf(buf, sizeof(buf), "%sa,isp,,body,contains,x,5,,,,\nb,isp,,body,glob,*x*,5,,,,\n", HDR);
	expect_err("badtype.csv", buf, "%s:%d: ", 3, "unknown pattern_type 'glob'");
	snprintf(buf, sizeof(buf), "%sa,isp,,cookie,contains,x,5,,,,\n", HDR);
	expect_err("badloc.csv", buf, "%s:%d: ", 2, "unknown location_found");
	snprintf(buf, sizeof(buf), "%sa,isp,,body,contains,x,5,,,\n", HDR);
	expect_err("fields.csv", buf, "%s:%d: ", 2, "expected 11 fields, got 10");
	snprintf(buf, sizeof(buf), "%sa,isp,,body,contains,x,high,,,,\n", HDR);
	expect_err("conf.csv", buf, "%s:%d: ", 2, "bad confidence_no_fp");
	snprintf(buf, sizeof(buf), "%sa,isp,,body,contains,\"x\"y,5,,,,\n", HDR);
	expect_err("afterquote.csv", buf, "%s:%d: ", 2, "after closing quote");
	snprintf(buf, sizeof(buf), "%sa,isp,,body,contains,,5,,,,\n", HDR);
	expect_err("emptypat.csv", buf, "%s:%d: ", 2, "empty pattern");
	/* a 70 KB line */
	size_t o = (size_t)snprintf(buf, sizeof(buf), "%sa,isp,,body,contains,", HDR);
	memset(buf + o, 'z', 70000);
	strcpy(buf + o + 70000, ",5,,,,\n");
	expect_err("longline.csv", buf, "%s:%d: ", 2, "line too long");
	expect_err("empty.csv", "", "%s: ", 0, "empty file");

	struct tw_fp_db *db = tw_fp_db_new();
	char err[512] = "";
	int rc = tw_fp_db_load(db, "/nonexistent/fp.csv", err, sizeof(err));
	CHECK(rc == -1 && strstr(err, "/nonexistent/fp.csv: "), "missing file: %s", err);
	printf("ok   missing file -> %s\n", err);

	/* quoting, embedded newlines, CRLF, reordered and extra columns,
	 * regexp translation and skipping */
	tw_fp_db_set_warn(db, capture_warn, NULL);
	const char *good = "\xef\xbb\xbfpattern,name,location_found,pattern_type,scope,confidence_no_fp,extra\r\n"
	                   "\"a \"\"quoted\"\", with comma\",q1,body,contains,isp,7,\"multi\r\nline\r\nnote\"\r\n"
	                   "\"line1\nline2\",nl,body,contains,nat,5,\r\n"
	                   "\r\n"
	                   "\"Order \\d+ blocked\",re_digit,body,regexp,isp,6,\r\n"
	                   "(?i)forbidden by censor,re_icase,body,regexp,isp,6,\r\n"
	                   "\"{\"\"msg\"\":.*\"\"id\"\":\",re_brace,body,regexp,fp,5,\r\n"
	                   "(?=lookahead)x,re_bad,body,regexp,isp,5,\r\n"
	                   "\"^^  ********************** x{2}*\",re_stack,body,regexp,isp,5,\r\n"
	                   "\"a(b\",re_bad2,body,regexp,isp,5,\r\n"
	                   "Squid,via,header.via,prefix,inst,5,\r\n"
	                   "10.10.34.3,dns1,dns,full,nat,9,\r\n"
	                   "10.10.34.34,dns2,dns,full,nat,5,\r\n"
	                   "10.10.34.34,dns3,dns,full,isp,8,\r\n"
	                   "^sinkhole\\.,dnsre,dns,regexp,isp,4,";
	const char *path = write_tmp("good.csv", good, strlen(good));
	rc = tw_fp_db_load(db, path, err, sizeof(err));
	size_t skipped, n = tw_fp_db_count(db, &skipped);
	CHECK(rc == 0 && n == 10 && skipped == 3 && nwarn == 3, "good.csv: rc=%d err=%s n=%zu skipped=%zu warn=%d", rc,
	      err, n, skipped, nwarn);
	char want[600];
	snprintf(want, sizeof(want), "%s:13: warning: skipped re_bad2: regexp 'a(b'", path);
	CHECK(strncmp(warnbuf, want, strlen(want)) == 0, "warning '%s'", warnbuf);
	printf("ok   crafted file: %zu loaded, %zu skipped; last warning: %s\n", n, skipped, warnbuf);

	struct {
		const char *resp;
		const char *name; /* NULL: nothing */
	} cases[] = {
		{ "HTTP/1.1 200 OK\r\n\r\nxx a \"quoted\", with comma yy", "q1" },
		{ "HTTP/1.1 200 OK\r\n\r\n<p>line1\nline2</p>", "nl" },
		{ "HTTP/1.1 200 OK\r\n\r\n<p>line1\r\nline2</p>", NULL },
		{ "HTTP/1.1 200 OK\r\n\r\nYour Order 1234 blocked.", "re_digit" },
		{ "HTTP/1.1 200 OK\r\n\r\nYour Order X blocked.", NULL },
		{ "HTTP/1.1 200 OK\r\n\r\nFORBIDDEN BY Censor", "re_icase" },
		{ "HTTP/1.1 200 OK\r\n\r\n{\"msg\": \"hi\", \"id\": 3}", "re_brace" },
		{ "HTTP/1.1 200 OK\r\nvia: Squid/4.1\r\n\r\n", "via" },
		{ "HTTP/1.1 200 OK\r\nX-Via: Squid/4.1\r\n\r\n", NULL },
		{ "Your Order 77 blocked (no HTTP head: all body)", "re_digit" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tw_fp_match *m =
		        tw_fp_match_http(db, (const uint8_t *)cases[i].resp, strlen(cases[i].resp));
		int ok = cases[i].name ? (m && strcmp(m->name, cases[i].name) == 0) : m == NULL;
		CHECK(ok, "case %zu: got %s want %s", i, m ? m->name : "NULL", cases[i].name ? cases[i].name : "NULL");
	}
	const struct tw_fp_match *m = tw_fp_match_http(db, (const uint8_t *)cases[0].resp, strlen(cases[0].resp));
	CHECK(m && m->confidence_no_fp == 7 && strcmp(m->scope, "isp") == 0 && m->line == 2 &&
	              strcmp(m->pattern_type, "contains") == 0,
	      "fields of q1");
	m = tw_fp_match_http(db, (const uint8_t *)cases[6].resp, strlen(cases[6].resp));
	CHECK(m && m->is_false_positive_scope, "fp scope on re_brace");
	printf("ok   quoted/multiline patterns, \\d, (?i), literal '{', header.via, fp scope matched as expected\n");

	m = tw_fp_match_dns(db, "10.10.34.34");
	CHECK(m && strcmp(m->name, "dns3") == 0, "dns best by confidence: %s", m ? m->name : "NULL");
	m = tw_fp_match_dns(db, "10.10.34.3");
	CHECK(m && strcmp(m->name, "dns1") == 0, "dns1");
	m = tw_fp_match_dns(db, "Sinkhole.Example.NET.");
	CHECK(m && strcmp(m->name, "dnsre") == 0, "dns regexp icase");
	CHECK(tw_fp_match_dns(db, "10.10.34.345") == NULL, "dns no match");
	printf("ok   DNS: duplicate IP -> highest confidence row, regexp case-insensitive\n");

	/* a failed second load leaves the db as it was */
	snprintf(buf, sizeof(buf), "%sz,isp,,body,contains,zzz,5,,,,\nbad,isp,,body,nope,x,5,,,,\n", HDR);
	path = write_tmp("second.csv", buf, strlen(buf));
	rc = tw_fp_db_load(db, path, err, sizeof(err));
	CHECK(rc == -1 && tw_fp_db_count(db, &skipped) == 10 && skipped == 3, "rollback");
	CHECK(tw_fp_match_http(db, (const uint8_t *)cases[0].resp, strlen(cases[0].resp)) != NULL,
	      "index after rollback");
	/* a good second load adds */
	snprintf(buf, sizeof(buf), "%sz,isp,,body,contains,zzzz,5,,,,\n", HDR);
	path = write_tmp("third.csv", buf, strlen(buf));
	rc = tw_fp_db_load(db, path, err, sizeof(err));
	CHECK(rc == 0 && tw_fp_db_count(db, NULL) == 11, "second file");
	CHECK(tw_fp_match_http(db, (const uint8_t *)"HTTP/1.1 200 OK\r\n\r\nazzzzb", 25) != NULL, "second file match");
	printf("ok   failed load rolled back; second file added (11 rows)\n");
	tw_fp_db_free(db);

	/* in-memory loader */
	db = tw_fp_db_new();
	snprintf(buf, sizeof(buf), "%sm,isp,,body,contains,memory,5,,,,", HDR);
	rc = tw_fp_db_load_mem(db, "mem", (const uint8_t *)buf, strlen(buf), err, sizeof(err));
	CHECK(rc == 0 && tw_fp_db_count(db, NULL) == 1, "mem load: %s", err);
	rc = tw_fp_db_load_mem(db, "mem2", (const uint8_t *)"name\n", 5, err, sizeof(err));
	CHECK(rc == -1 && strcmp(err, "mem2:1: bad header: no 'location_found' column") == 0, "mem2: %s", err);
	tw_fp_db_free(db);
}

/* the set built into the daemon is data/fingerprints.csv as it is now, it
 * loads whole, it names the FortiGate block page, and a user's file adds to
 * it (run from the repository root) */
static void test_builtin(void)
{
	size_t len = 0;
	char *want = slurp("data/fingerprints.csv", &len);
	CHECK(want != NULL, "data/fingerprints.csv: run from the repository root");
	if (!want)
		return;
	size_t rows = 0;
	for (size_t i = 0; i < len; i++)
		rows += want[i] == '\n';
	rows--; /* the header */
	CHECK(tw_fp_default_size() == len, "built-in set: %zu bytes, data/fingerprints.csv %zu (rebuild?)",
	      tw_fp_default_size(), len);
	struct tw_fp_db *db = tw_fp_db_new();
	char err[512] = "";
	CHECK(db && tw_fp_db_load_default(db, err, sizeof(err)) == 0, "built-in set: %s", err);
	size_t skipped = 1, n = tw_fp_db_count(db, &skipped);
	CHECK(n == rows && skipped == 0, "built-in set: %zu rows loaded, %zu skipped; the file has %zu", n, skipped,
	      rows);
	static const char page[] = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><head>"
	                           "<title>Application Control Violation</title></head><body><h1>FortiGate "
	                           "Application Control</h1>Application Blocked</body></html>";
	const struct tw_fp_match *m = tw_fp_match_http(db, (const uint8_t *)page, sizeof(page) - 1);
	CHECK(m && !strncmp(m->name, "tw.fortigate_appctrl_", 21) && !strcmp(m->file, TW_FP_DEFAULT_NAME),
	      "FortiGate page: %s from %s", m ? m->name : "no match", m ? m->file : "-");
	/* a user's rows load after it: both sets match */
	static const char mine[] = "name,location_found,pattern_type,pattern,confidence_no_fp\n"
	                           "local.ours,body,contains,Blocked by our own filter,10\n";
	CHECK(tw_fp_db_load_mem(db, "mine.csv", (const uint8_t *)mine, sizeof(mine) - 1, err, sizeof(err)) == 0,
	      "user file after the built-in set: %s", err);
	CHECK(tw_fp_db_count(db, NULL) == rows + 1, "merged: %zu rows", tw_fp_db_count(db, NULL));
	static const char ours[] = "HTTP/1.1 403 Forbidden\r\n\r\nBlocked by our own filter";
	m = tw_fp_match_http(db, (const uint8_t *)ours, sizeof(ours) - 1);
	CHECK(m && !strcmp(m->name, "local.ours") && !strcmp(m->file, "mine.csv"), "user row: %s",
	      m ? m->name : "no match");
	m = tw_fp_match_http(db, (const uint8_t *)page, sizeof(page) - 1);
	CHECK(m && !strncmp(m->name, "tw.fortigate_", 13), "built-in row still matches after the merge");
	tw_fp_db_free(db);
	free(want);
}

int main(void)
{
	test_builtin();
	const char *corpus = getenv("TW_CORPUS");
	if (!corpus || !*corpus)
		corpus = "../shared/corpus";
	snprintf(path_http, sizeof(path_http), "%s/ooni__blocking-fingerprints/fingerprints_http.csv", corpus);
	snprintf(path_dns, sizeof(path_dns), "%s/ooni__blocking-fingerprints/fingerprints_dns.csv", corpus);
	if (access(path_http, R_OK) != 0 || access(path_dns, R_OK) != 0) {
		printf("SKIP: OONI fingerprint files not found under %s (set TW_CORPUS)\n", corpus);
		return 77;
	}
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_real_files();
	test_bad_files();
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("note: could not remove %s\n", tmpdir);
	printf("%s: %d checks, %d failures\n", fails ? "FAIL" : "PASS", checks, fails);
	return fails ? 1 : 0;
}
