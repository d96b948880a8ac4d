/* Prefix -> region labels: parsing, longest-prefix lookup, one-line errors. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "regions.h"

#include "check.h"

static const char *look(struct tw_regions *r, const char *ip, uint32_t *asn)
{
	uint8_t a[16] = { 0 };
	int fam = strchr(ip, ':') ? AF_INET6 : AF_INET;
	inet_pton(fam, ip, a);
	const struct tw_region_entry *e = tw_regions_lookup(r, fam, a);
	if (asn)
		*asn = e ? e->asn : 0;
	return e ? e->region : NULL;
}

static void bad(const char *text, const char *want)
{
	struct tw_regions r = { 0 };
	char err[256] = "";
	int rc = tw_regions_parse(&r, "t.conf", text, err, sizeof err);
	CHECK(rc == -1, "accepted bad input: %s", text);
	CHECK(strstr(err, want) != NULL, "error '%s' lacks '%s'", err, want);
	CHECK(strchr(err, '\n') == NULL, "error spans lines");
	CHECK(r.n == 0, "entries kept after error");
	tw_regions_free(&r);
}

int main(void)
{
	struct tw_regions r = { 0 };
	char err[256];
	const char *good = "# labels\n"
	                   "198.51.100.0/24  north  64500\n"
	                   "198.51.0.0/16    country AS64501   # wider\n"
	                   "\n"
	                   "2001:db8:10::/48 north\n"
	                   "203.0.113.128/25 south\r\n";
	CHECK(tw_regions_parse(&r, "t.conf", good, err, sizeof err) == 0, "%s", err);
	CHECK(r.n == 4, "n=%zu", r.n);
	uint32_t asn;
	const char *g = look(&r, "198.51.100.7", &asn);
	CHECK(g && !strcmp(g, "north") && asn == 64500, "got %s/%u", g ? g : "-", asn);
	g = look(&r, "198.51.7.1", &asn);
	CHECK(g && !strcmp(g, "country") && asn == 64501, "LPM fallback got %s/%u", g ? g : "-", asn);
	g = look(&r, "2001:db8:10:ff::1", NULL);
	CHECK(g && !strcmp(g, "north"), "v6 got %s", g ? g : "-");
	CHECK(look(&r, "2001:db8:11::1", NULL) == NULL, "v6 outside matched");
	CHECK(look(&r, "203.0.113.5", NULL) == NULL, "outside /25 matched");
	g = look(&r, "203.0.113.200", NULL);
	CHECK(g && !strcmp(g, "south"), "CRLF line got %s", g ? g : "-");
	tw_regions_free(&r);

	bad("198.51.100.0/24 north\n10.0.0.1/24 x\n", "t.conf:2: host bits");
	bad("198.51.100.0 north\n", "t.conf:1: prefix needs a /length");
	bad("198.51.100.0/33 north\n", "t.conf:1: IPv4 prefix length");
	bad("nonsense/24 north\n", "not an IPv4 or IPv6");
	bad("10.0.0.0/8\n", "expected 'PREFIX REGION [ASN]'");
	bad("10.0.0.0/8 r 1 2\n", "too many fields");
	bad("10.0.0.0/8 bad/region\n", "region must be");
	bad("10.0.0.0/8 r ASx\n", "ASN must be");
	bad("\n\n10.0.0.0/8 r\n10.0.0.0/8 s\n", "t.conf:4: duplicate prefix");

	/* from a file, and a missing file */
	char path[] = "/tmp/tw_regions_XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0, "mkstemp");
	if (fd >= 0) {
		const char *t = "192.0.2.0/24 lab 65000\n";
		CHECK(write(fd, t, strlen(t)) == (ssize_t)strlen(t), "write");
		close(fd);
		struct tw_regions f = { 0 };
		CHECK(tw_regions_load(&f, path, err, sizeof err) == 0, "%s", err);
		g = look(&f, "192.0.2.9", &asn);
		CHECK(g && !strcmp(g, "lab") && asn == 65000, "file got %s", g ? g : "-");
		tw_regions_free(&f);
		unlink(path);
		CHECK(tw_regions_load(&f, path, err, sizeof err) == -1, "missing file accepted");
		CHECK(strstr(err, path) != NULL, "error lacks file name: %s", err);
	}
	/* duplicates found by sorting: still reported at the repeating line, and
	 * before a bad line further down, after one above it */
	bad("10.0.0.0/8 r\n10.1.0.0/16 s\n10.0.0.0/8 t\nnonsense\n", "t.conf:3: duplicate prefix");
	bad("10.0.0.0/8 r\nnonsense\n10.0.0.0/8 t\n", "t.conf:2: expected");
	bad("10.0.0.0/8 r\n10.1.0.0/16 s\n10.1.0.0/16 u\n10.0.0.0/8 t\n", "t.conf:3: duplicate prefix");
	bad("2001:db8::/32 r\n10.0.0.0/8 s\n2001:db8:0::/32 t\n", "t.conf:3: duplicate prefix");
	{ /* a second file repeating a prefix of the first */
		struct tw_regions two = { 0 };
		CHECK(tw_regions_parse(&two, "a.conf", "10.0.0.0/8 r\n", err, sizeof err) == 0, "%s", err);
		CHECK(tw_regions_parse(&two, "b.conf", "\n10.0.0.0/8 s\n", err, sizeof err) == -1 &&
		              strstr(err, "b.conf:2: duplicate prefix") && two.n == 1,
		      "second file: %s", err);
		tw_regions_free(&two);
	}

	/* the sorted table against a plain longest-prefix scan: 20,000 random
	 * prefixes of random lengths, 20,000 random addresses, same answers */
	{
		struct tw_regions big = { 0 };
		size_t cap = 20000 * 64, len = 0;
		char *text = malloc(cap);
		uint8_t(*pa)[16] = calloc(20000, 16);
		int *pl = calloc(20000, sizeof(int)), *pf = calloc(20000, sizeof(int)), np = 0;
		srand(7);
		for (int i = 0; i < 20000 && text; i++) {
			int v6 = rand() % 4 == 0, plen = v6 ? 16 + rand() % 113 : 8 + rand() % 25;
			uint8_t a[16] = { 0 };
			for (int k = 0; k < (v6 ? 16 : 4); k++)
				a[k] = (uint8_t)(v6 && k < 2 ? (k ? 0x0d : 0x20) : k < 1 ? 10 : rand() % 4);
			for (int k = 0; k < 16; k++) { /* clear the host bits */
				int keep = plen - 8 * k;
				a[k] &= keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
			}
			int dup = 0;
			for (int j = 0; j < np && !dup; j++) /* the file must not repeat one */
				dup = pl[j] == plen && pf[j] == v6 && !memcmp(pa[j], a, 16);
			if (dup)
				continue;
			char ip[64];
			inet_ntop(v6 ? AF_INET6 : AF_INET, a, ip, sizeof ip);
			len += (size_t)snprintf(text + len, cap - len, "%s/%d r%d\n", ip, plen, np);
			memcpy(pa[np], a, 16);
			pl[np] = plen;
			pf[np++] = v6;
		}
		CHECK(text && tw_regions_parse(&big, "big.conf", text, err, sizeof err) == 0 && big.n == (size_t)np,
		      "big: %s", err);
		int same = 0;
		for (int i = 0; i < 20000; i++) {
			int v6 = rand() % 4 == 0;
			uint8_t a[16] = { 0 };
			for (int k = 0; k < (v6 ? 16 : 4); k++)
				a[k] = (uint8_t)(v6 && k < 2 ? (k ? 0x0d : 0x20) : k < 1 ? 10 : rand() % 4);
			int best = -1;
			for (int j = 0; j < np; j++) {
				if (pf[j] != v6 || (best >= 0 && pl[j] <= pl[best]))
					continue;
				int ok = 1;
				for (int k = 0; k < 16 && ok; k++) {
					int keep = pl[j] - 8 * k;
					uint8_t m = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
					ok = (a[k] & m) == pa[j][k];
				}
				if (ok)
					best = j;
			}
			const struct tw_region_entry *e = tw_regions_lookup(&big, v6 ? AF_INET6 : AF_INET, a);
			char want[16];
			snprintf(want, sizeof want, "r%d", best);
			same += best < 0 ? e == NULL : e && !strcmp(e->region, want);
		}
		CHECK(same == 20000, "%d of 20000 lookups agree with a linear scan", same);
		free(text);
		free(pa);
		free(pl);
		free(pf);
		tw_regions_free(&big);
	}

	printf("test_regions: %d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
