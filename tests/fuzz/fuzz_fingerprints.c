/* libFuzzer target: fingerprint CSV loader and matcher.
 * Input byte 0 selects: even = load the rest as a CSV file (then match it
 * against itself), odd = match the rest as an HTTP response / DNS answer
 * against a fixed db (the real OONI files if found, plus built-in rows
 * exercising every pattern type and regexp translation). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verdicts/fingerprints.h"

static struct tw_fp_db *fixed;

static void quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static const char builtin[] =
        "name,scope,other_names,location_found,pattern_type,pattern,confidence_no_fp,expected_countries,source,"
        "exp_url,notes\n"
        "t1,isp,,body,contains,blocked by order,5,XX,t,,\n"
        "t2,fp,,body,contains,abc,5,,t,,\n"
        "t3,nat,,body,full,<html></html>,5,,t,,\n"
        "t4,nat,,body,prefix,<html><head><title>Blocked,6,,t,,\n"
        "t5,isp,,body,regexp,\"Order \\d+ (?:was )?blocked[.!]?\",7,,t,,\n"
        "t6,isp,,body,regexp,(?i)access\\s+denied\\W,5,,t,,\n"
        "t7,isp,,header.location,prefix,http://block.example/,5,,t,,\n"
        "t8,isp,,header.server,full,Censor/1.0,5,,t,,\n"
        "t9,isp,,header.x-foo,contains,bar,5,,t,,\n"
        "t10,isp,,dns,full,10.10.34.35,5,,t,,\n"
        "t11,isp,,dns,regexp,^sinkhole\\.,5,,t,,\n"
        "t12,isp,,dns,contains,block,5,,t,,\n"
        "t13,isp,,body,regexp,\"{\"\"a\"\":.*x{2,3}\",5,,t,,\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char err[512], path[1024];
	const char *corpus = getenv("TW_CORPUS");
	fixed = tw_fp_db_new();
	tw_fp_db_set_warn(fixed, quiet, NULL);
	if (tw_fp_db_load_mem(fixed, "builtin", (const uint8_t *)builtin, sizeof(builtin) - 1, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_fingerprints: builtin db: %s\n", err);
		abort();
	}
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/ooni__blocking-fingerprints/fingerprints_%s.csv",
		         corpus && *corpus ? corpus : "../shared/corpus", i ? "dns" : "http");
		if (tw_fp_db_load(fixed, path, err, sizeof(err)) != 0)
			fprintf(stderr, "fuzz_fingerprints: (optional) %s\n", err);
	}
	fprintf(stderr, "fuzz_fingerprints: fixed db has %zu rows\n", tw_fp_db_count(fixed, NULL));
	return 0;
}

static void dns_from(const struct tw_fp_db *db, const uint8_t *d, size_t n)
{
	char a[300];
	if (n > sizeof(a) - 1)
		n = sizeof(a) - 1;
	memcpy(a, d, n);
	a[n] = '\0';
	tw_fp_match_dns(db, a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct tw_fp_match *all[32];
	if (size == 0)
		return 0;
	const uint8_t *d = data + 1;
	size_t n = size - 1;
	if (data[0] & 1) {
		const struct tw_fp_match *m = tw_fp_match_http(fixed, d, n);
		size_t k = tw_fp_match_http_all(fixed, d, n, all, 32);
		if ((m == NULL) != (k == 0) || k > 32)
			abort();
		dns_from(fixed, d, n);
		return 0;
	}
	struct tw_fp_db *db = tw_fp_db_new();
	char err[256];
	tw_fp_db_set_warn(db, quiet, NULL);
	if (tw_fp_db_load_mem(db, "fuzz", d, n, err, sizeof(err)) == 0) {
		tw_fp_match_http(db, d, n);
		dns_from(db, d, n);
	} else if (!memchr(err, 0, sizeof(err)) || strncmp(err, "fuzz", 4) != 0) {
		abort();
	}
	tw_fp_db_free(db);
	return 0;
}
