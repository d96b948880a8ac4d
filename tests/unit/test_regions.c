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
	printf("test_regions: %d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
