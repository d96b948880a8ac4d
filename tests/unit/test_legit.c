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
	bad("x.example, shouting, L, ,\n", "1: method: unknown method 'shouting' (any, rst_injection, http_blockpage, "
	                                   "dns_injection, tls_interference, blackhole, throttling, shutdown)");
	/* every method of the one list (verdicts/method.h) can be declared */
	for (int m = 0; m < TW_METHOD_MAX; m++) {
		char line[128];
		if (!tw_method_name(m))
			continue;
		snprintf(line, sizeof(line), "x.example, %s, L, ,\n", tw_method_name(m));
		struct tw_legit *l = load(line, err, sizeof(err));
		CHECK(l, "%s: %s", tw_method_name(m), err);
		tw_legit_free(l);
	}
	bad("x.example, any, , ,\n", "1: legal_reference");
	bad("x.example, any, L, 2020-13-01,\n", "1: since");
	bad("x.example, any, L, , tomorrow\n", "1: until");
	bad("x.example, any, L, 2021-01-01, 2020-01-01\n", "1: until");
	CHECK(!tw_legit_load("/nonexistent/declared.csv", err, sizeof(err)) && strstr(err, "/nonexistent/declared.csv"),
	      "missing file: %s", err);
	printf("test_legit: %d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
