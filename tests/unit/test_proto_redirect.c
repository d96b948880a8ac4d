/* Unit tests for tw_http_redirect(): Location of a 3xx, meta refresh in a
 * plain, chunked, gzip, zlib or raw-deflate body, and hostile bodies (huge
 * or broken chunk sizes, corrupt and cut streams), every input run from an
 * exact-size heap copy so ASan sees any read past its end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "events/proto.h"

#include "check.h"

static int redir(const void *s, size_t n, struct tw_http_redirect *r)
{
	uint8_t *c = malloc(n ? n : 1);
	memcpy(c, s, n);
	int got = tw_http_redirect(c, n, r);
	free(c);
	return got;
}

static int redir_str(const char *s, struct tw_http_redirect *r)
{
	return redir(s, strlen(s), r);
}

/* windowBits: 31 gzip, 15 zlib, -15 raw deflate */
static size_t squeeze(const char *in, uint8_t *out, size_t cap, int wbits)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 9, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return 0;
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)strlen(in);
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	deflate(&zs, Z_FINISH);
	size_t n = cap - zs.avail_out;
	deflateEnd(&zs);
	return n;
}

static const char page[] =
        "<html><head><meta http-equiv=\"refresh\" content=\"0;url=http://searchguide.isp.example/search/"
        "?q=http://typo-name.example/&t=0\"/></head><body><script>window.location=\"x\";</script></body></html>";

/* head + (chunked?) body of len n */
static size_t response(uint8_t *out, const char *head, const uint8_t *body, size_t n, int chunked)
{
	size_t o = (size_t)sprintf((char *)out, "%s", head);
	if (chunked)
		o += (size_t)sprintf((char *)out + o, "%zx\r\n", n);
	memcpy(out + o, body, n);
	o += n;
	if (chunked)
		o += (size_t)sprintf((char *)out + o, "\r\n0\r\n\r\n");
	return o;
}

static void test_location(void)
{
	struct tw_http_redirect r;
	CHECK(redir_str("HTTP/1.1 302 Found\r\nLocation: http://User@Search.ISP.example:8080/s?q=abc.example\r\n\r\n",
	                &r) == 1,
	      "302");
	CHECK(r.via == TW_REDIR_LOCATION && r.status == 302, "via %d status %d", r.via, r.status);
	CHECK(!strcmp(r.host, "search.isp.example"), "host '%s'", r.host);
	CHECK(!strcmp(r.url + r.query_off, "?q=abc.example"), "query '%s'", r.url + r.query_off);
	CHECK(redir_str("HTTP/1.1 301 Moved\r\nLocation: /login?next=/\r\n\r\n", &r) == 1 && r.host[0] == 0,
	      "relative: host '%s'", r.host);
	CHECK(redir_str("HTTP/1.1 307 X\r\nLocation: //[2001:db8::1]:81/x\r\n\r\n", &r) == 1 &&
	              !strcmp(r.host, "2001%3adb8%3a%3a1"),
	      "v6 literal '%s'", r.host);
	CHECK(redir_str("HTTP/1.1 200 OK\r\nLocation: http://a.example/\r\nContent-Length: 2\r\n\r\nok", &r) == 0,
	      "Location on a 200 is not a redirect");
	CHECK(redir_str("HTTP/1.1 302 Found\r\nLocation: http://cut.example/\r\nServ", &r) == 1 &&
	              !strcmp(r.host, "cut.example"),
	      "headers cut after Location: '%s'", r.host);
	CHECK(redir_str("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &r) == 0, "a request is not a response");
}

static void test_meta(void)
{
	static uint8_t buf[8192], z[4096];
	struct tw_http_redirect r;
	size_t n = response(buf, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n", (const uint8_t *)page,
	                    strlen(page), 0);
	CHECK(redir(buf, n, &r) == 1 && r.via == TW_REDIR_META_REFRESH && !r.body_decoded, "plain meta");
	CHECK(!strcmp(r.host, "searchguide.isp.example"), "host '%s'", r.host);
	CHECK(strstr(r.url + r.query_off, "typo-name.example") != NULL, "query '%s'", r.url);
	CHECK(r.url[strlen(r.url) - 1] == '0', "url ends at the attribute's quote: '%s'", r.url);

	/* what the Level 3 search guide sent: chunked and gzip */
	size_t zn = squeeze(page, z, sizeof(z), 31);
	n = response(buf, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n", z, zn, 1);
	CHECK(redir(buf, n, &r) == 1 && r.body_decoded && !strcmp(r.host, "searchguide.isp.example"),
	      "chunked gzip: host '%s'", r.host);
	zn = squeeze(page, z, sizeof(z), 15);
	n = response(buf, "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\n\r\n", z, zn, 0);
	CHECK(redir(buf, n, &r) == 1 && r.body_decoded, "zlib deflate");
	zn = squeeze(page, z, sizeof(z), -15);
	n = response(buf, "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\n\r\n", z, zn, 0);
	CHECK(redir(buf, n, &r) == 1 && r.body_decoded, "raw deflate");
	n = response(buf, "HTTP/1.1 200 OK\r\nContent-Encoding: br\r\n\r\n", z, zn, 0);
	CHECK(redir(buf, n, &r) == 0, "brotli is not undone");
	n = response(buf, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip, deflate\r\n\r\n", z, zn, 0);
	CHECK(redir(buf, n, &r) == 0, "stacked codings are not undone");

	CHECK(redir_str("HTTP/1.1 200 OK\r\n\r\n<meta http-equiv=refresh content=5;URL=https://x.example/p?q=1>", &r) ==
	                      1 &&
	              !strcmp(r.host, "x.example") && !strcmp(r.url, "https://x.example/p?q=1"),
	      "unquoted: '%s'", r.url);
	CHECK(redir_str("HTTP/1.1 200 OK\r\n\r\n<meta http-equiv=\"refresh\" content=\"0; url='http://q.example/'\">",
	                &r) == 1 &&
	              !strcmp(r.url, "http://q.example/"),
	      "inner quotes: '%s'", r.url);
	CHECK(redir_str("HTTP/1.1 200 OK\r\n\r\n<meta http-equiv=\"refresh\" content=\"30\"><p>hi</p>", &r) == 0,
	      "refresh without url");
	CHECK(redir_str("HTTP/1.1 200 OK\r\n\r\n<meta name=\"description\" content=\"url=http://a.example/\">", &r) ==
	              0,
	      "not a refresh");
	CHECK(redir_str("HTTP/1.1 200 OK\r\n\r\n<html>no meta here</html>", &r) == 0, "ordinary page");
}

static void test_hostile(void)
{
	static uint8_t buf[8192], z[4096];
	struct tw_http_redirect r;
	const char *bad[] = {
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n<meta http-equiv=refresh "
		"content=0;url=http://a/>",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc",
		"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n\x1f\x8b\x08\x00garbage that is no deflate stream",
		"HTTP/1.1 200 OK\r\n\r\n<meta http-equiv=\"refresh\" content=\"0;url=",
		"HTTP/1.1 200 OK\r\n\r\n<meta http-equiv",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(redir_str(bad[i], &r) == 0 && r.url[0] == 0, "hostile %zu gives nothing", i);

	/* a meta refresh longer than the url field is cut and marked */
	char longp[1400];
	int k = snprintf(longp, sizeof(longp),
	                 "HTTP/1.1 200 OK\r\n\r\n<meta http-equiv=refresh content=\"0;url=http://l.example/?q=");
	memset(longp + k, 'a', 1000);
	strcpy(longp + k + 1000, "\">");
	CHECK(redir_str(longp, &r) == 1 && strlen(r.url) == sizeof(r.url) - 1 &&
	              !strcmp(r.url + strlen(r.url) - 3, "..."),
	      "long url cut with ...");

	/* every prefix of the chunked gzip page: no read past the end, and
	 * whatever is found is a well-formed string */
	size_t zn = squeeze(page, z, sizeof(z), 31);
	size_t n = response(buf, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n", z,
	                    zn, 1);
	int found = 0;
	for (size_t cut = 0; cut <= n; cut++) {
		int got = redir(buf, cut, &r);
		CHECK(memchr(r.url, 0, sizeof(r.url)) && memchr(r.host, 0, sizeof(r.host)), "terminated at %zu", cut);
		found += got;
	}
	CHECK(found >= 1, "the whole page is found");
	/* a stream cut in the middle of the gzip data keeps what inflated */
	int partial = 0;
	for (size_t cut = n - zn; cut < n; cut++)
		partial |= redir(buf, cut, &r) && strstr(r.url, "typo-name.example");
	CHECK(partial, "a cut gzip stream still gives the url it already held");
}

int main(void)
{
	test_location();
	test_meta();
	test_hostile();
	printf("%d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
