/* Unit tests of the declared-restrictions file (legit.c): patterns
 * (exact, wildcard, IPv4/IPv6 CIDR), methods, dates, and one-line errors
 * naming file, line and field. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alerts/legit.h"
#include "verdicts/method.h"

#include "check.h"

#define DAY (86400ull * 1000000000ull)
static char path[64];

static struct tw_legit *load(const char *text, char *err, size_t n)
{
	snprintf(path, sizeof(path), "/tmp/tw-legit-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return NULL;
	close(fd);
	err[0] = 0;
	struct tw_legit *l = tw_legit_load(path, err, n);
	unlink(path);
	return l;
}

static void bad(const char *text, const char *want)
{
	char err[512], exp[600];
	struct tw_legit *l = load(text, err, sizeof(err));
	snprintf(exp, sizeof(exp), "%s:%s", path, want);
	CHECK(!l && !strncmp(err, exp, strlen(exp)) && !strchr(err, '\n'), "'%s': got '%s', want '%s...'", text, err,
	      exp);
	tw_legit_free(l);
}

int main(void)
{
	char err[512];
	struct tw_legit *l =
	        load("# declared restrictions\n\n"
	             "*.casino.example, any, Gambling Act s.5, 2020-01-01, \n"
	             "news.example, dns_injection, Court order 77/2024, 2024-03-01, 2024-12-31 # temporary\n"
	             "198.18.0.0/15, blackhole, Decree 9, ,\n"
	             "2001:db8::/32, rst_injection, Decree 10, , \n"
	             "192.0.2.1, any, Decree 11, ,\n",
	             err, sizeof(err));
	CHECK(l && tw_legit_count(l) == 5, "load: %s", err);
	uint64_t t2023 = 19358 * DAY, t2025 = 20089 * DAY, t2024 = 19800 * DAY; /* 2023-01-01, 2025-01-01, 2024-03-18 */
	const struct tw_legit_entry *e;
	e = tw_legit_match(l, "www.casino.example", NULL, t2023);
	CHECK(e && !strcmp(e->legal_ref, "Gambling Act s.5") && !strcmp(e->method, "any"), "wildcard subdomain");
	CHECK(tw_legit_match(l, "casino.example", NULL, t2023), "wildcard base domain");
	CHECK(tw_legit_match(l, "WWW.Casino.Example", NULL, t2023), "case");
	CHECK(!tw_legit_match(l, "notcasino.example", NULL, t2023), "wildcard suffix without dot");
	CHECK(!tw_legit_match(l, "www.casino.example", NULL, 10 * DAY), "before since");
	e = tw_legit_match(l, "news.example", "203.0.113.9", t2024);
	CHECK(e && !strcmp(e->method, "dns_injection"), "exact in range");
	CHECK(!tw_legit_match(l, "news.example", "203.0.113.9", t2025), "after until");
	CHECK(tw_legit_match(l, "news.example", NULL, 20088 * DAY + DAY / 2), "until is inclusive (2024-12-31 noon)");
	CHECK(!tw_legit_match(l, "www.news.example", NULL, t2024), "exact is not a wildcard");
	CHECK(tw_legit_match(l, NULL, "198.19.255.255", t2023), "v4 CIDR");
	CHECK(!tw_legit_match(l, NULL, "198.20.0.0", t2023), "v4 CIDR outside");
	CHECK(tw_legit_match(l, NULL, "2001:db8:ffff::1", t2023), "v6 CIDR");
	CHECK(!tw_legit_match(l, NULL, "2001:db9::1", t2023), "v6 CIDR outside");
	CHECK(tw_legit_match(l, "unrelated.example", "192.0.2.1", t2023), "single address, domain does not match");
	CHECK(!tw_legit_match(l, NULL, "192.0.2.2", t2023), "single address outside");
	CHECK(!tw_legit_match(NULL, "x", "192.0.2.1", t2023), "no file");
	tw_legit_free(l);

	bad("ok.example, any, L, ,\nx.example, any, L\n", "2: expected 5");
	bad("bad domain!, any, L, ,\n", "1: pattern");
	bad("10.0.0.0/33, any, L, ,\n", "1: pattern");
	bad("x.example, shouting, L, ,\n",
	    "1: method: unknown method 'shouting' (any, rst_injection, http_blockpage, "
	    "dns_injection, tls_interference, blackhole, throttling, shutdown, quic_interference)");
	/* every declarable method of the one list (verdicts/method.h) can be
	 * declared; http_injection cannot (no lawful order injects ads) */
	for (int m = 0; m < TW_METHOD_MAX; m++) {
		char line[128];
		if (!tw_method_name(m))
			continue;
		snprintf(line, sizeof(line), "x.example, %s, L, ,\n", tw_method_name(m));
		struct tw_legit *l = load(line, err, sizeof(err));
		if (tw_method(m)->declarable)
			CHECK(l, "%s: %s", tw_method_name(m), err);
		else
			CHECK(!l && strstr(err, ":1: method: 'http_injection' cannot be declared"), "%s: %s",
			      tw_method_name(m), l ? "accepted" : err);
		tw_legit_free(l);
	}
	CHECK(!tw_method(TW_METHOD_HTTP_INJECTION)->declarable, "http_injection is not declarable");
	/* and an alert of it never matches a declaration, even "any" */
	l = load("x.example, any, L, ,\n", err, sizeof(err));
	CHECK(l && tw_legit_for(l, TW_METHOD_RST_INJECTION, "x.example", NULL, t2023) &&
	              !tw_legit_for(l, TW_METHOD_HTTP_INJECTION, "x.example", NULL, t2023),
	      "tw_legit_for: declared for rst_injection, never for http_injection");
	tw_legit_free(l);
	bad("x.example, any, , ,\n", "1: legal_reference");
	bad("x.example, any, L, 2020-13-01,\n", "1: since");
	bad("x.example, any, L, , tomorrow\n", "1: until");
	bad("x.example, any, L, 2021-01-01, 2020-01-01\n", "1: until");
	CHECK(!tw_legit_load("/nonexistent/declared.csv", err, sizeof(err)) && strstr(err, "/nonexistent/declared.csv"),
	      "missing file: %s", err);
	/* issue 20, 9: impossible dates, host bits, NUL bytes, escape bytes, size */
	bad("a.example, any, Law, 2020-02-30,\n", "1: since:");
	bad("a.example, any, Law, , 2023-04-31\n", "1: until:");
	bad("# leap\na.example, any, Law, 2023-02-29,\n", "2: since:");
	bad("198.51.100.7/24, any, Law, ,\n", "1: pattern: '198.51.100.7/24': host bits set in prefix");
	bad("2001:db8::1/32, any, Law, ,\n", "1: pattern: '2001:db8::1/32': host bits set in prefix");
	l = load("a.example, any, Law, 2024-02-29,\n198.51.100.0/24, any, Law, ,\n", err, sizeof(err));
	CHECK(l && tw_legit_count(l) == 2, "leap day and a clean prefix: %s", err);
	tw_legit_free(l);
	bad("a.example, any, L\x1b[2Jaw\x01, , x\x1b]0;t\x07\n",
	    "1: until: expected YYYY-MM-DD or empty, got 'x\\x1b]0;t\\x07'");
	{
		static const char nul[] = "a.example, any, Law, ,\nb.example\0junk, any, Law, ,\n";
		snprintf(path, sizeof(path), "/tmp/tw-legit-XXXXXX");
		int fd = mkstemp(path);
		CHECK(fd >= 0 && write(fd, nul, sizeof(nul) - 1) == (ssize_t)sizeof(nul) - 1, "write");
		close(fd);
		l = tw_legit_load(path, err, sizeof(err));
		CHECK(!l && strstr(err, ":2: NUL byte in the line"), "NUL: %s", err);
		tw_legit_free(l);
		/* more declarations than the bound: refused on the first one too many */
		FILE *fp = fopen(path, "w");
		for (int i = 0; fp && i <= TW_LEGIT_MAX; i++)
			fprintf(fp, "d%d.example, any, Law, ,\n", i);
		if (fp)
			fclose(fp);
		l = tw_legit_load(path, err, sizeof(err));
		char want[64];
		snprintf(want, sizeof(want), ":%d: more than %d declarations", TW_LEGIT_MAX + 1, TW_LEGIT_MAX);
		CHECK(!l && strstr(err, want), "bound: %s", err);
		tw_legit_free(l);
		unlink(path);
	}

	printf("test_legit: %d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
