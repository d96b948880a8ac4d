/* Unit tests for the HTTP request / response head parsers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/proto.h"

#include "check.h"

static enum tw_parse_rc req(const char *s, struct tw_http_req *r)
{
	size_t n = strlen(s);
	uint8_t *c = malloc(n ? n : 1); /* exact-size heap copy for ASan */
	memcpy(c, s, n);
	enum tw_parse_rc rc = tw_parse_http_request(c, n, r);
	free(c);
	return rc;
}

static enum tw_parse_rc resp(const char *s, size_t n, struct tw_http_resp *r)
{
	uint8_t *c = malloc(n ? n : 1);
	memcpy(c, s, n);
	enum tw_parse_rc rc = tw_parse_http_response(c, n, r);
	free(c);
	return rc;
}

struct req_case {
	const char *in;
	enum tw_parse_rc rc;
	const char *method, *host, *path;
};

static void test_requests(void)
{
	static const struct req_case cases[] = {
		{ "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", TW_PAYLOAD_OK, "GET", "example.com", "/" },
		{ "GET /a?b=c HTTP/1.1\r\nhOsT:   WWW.Example.ORG:8080  \r\nAccept: */*\r\n\r\n", TW_PAYLOAD_OK, "GET",
		  "www.example.org", "/a?b=c" },
		{ "GET / HTTP/1.1\r\nHOST:example.net\r\n\r\n", TW_PAYLOAD_OK, "GET", "example.net", "/" },
		{ "POST /x HTTP/1.0\nUser-Agent: a\nhost: bare-lf.test\n\n", TW_PAYLOAD_OK, "POST", "bare-lf.test",
		  "/x" },
		{ "GET http://Proxy.Example:3128/p HTTP/1.1\r\nHost: other.test\r\n\r\n", TW_PAYLOAD_OK, "GET",
		  "proxy.example", "http://Proxy.Example:3128/p" },
		{ "GET http://user:pw@abs.test/ HTTP/1.1\r\n\r\n", TW_PAYLOAD_OK, "GET", "abs.test",
		  "http://user:pw@abs.test/" },
		{ "CONNECT tunnel.test:443 HTTP/1.1\r\nHost: tunnel.test:443\r\n\r\n", TW_PAYLOAD_OK, "CONNECT",
		  "tunnel.test", "tunnel.test:443" },
		{ "GET / HTTP/1.1\r\nHost: [2001:db8::1]:80\r\n\r\n", TW_PAYLOAD_OK, "GET", "2001%3adb8%3a%3a1", "/" },
		{ "GET / HTTP/1.1\r\nUser-Agent: x\r\n\r\n", TW_PAYLOAD_OK, "GET", "", "/" },
		{ "GET / HTTP/1.1\r\nX-Host: no.test\r\nHost: yes.test\r\n\r\n", TW_PAYLOAD_OK, "GET", "yes.test",
		  "/" },
		{ "GET / HTTP/1.1\r\nHost: first.test\r\nHost: second.test\r\n\r\n", TW_PAYLOAD_OK, "GET", "first.test",
		  "/" },
		{ "GET / HTTP/1.1\r\nGarbage line\r\nHost: g.test\r\n\r\n", TW_PAYLOAD_OK, "GET", "g.test", "/" },
		{ "GET / HTTP/1.1\r\nHost: cut.test\r\nCookie: abc", TW_PAYLOAD_TRUNCATED, "GET", "cut.test", "/" },
		{ "GET /index.html HTTP/1.1\r\nHo", TW_PAYLOAD_TRUNCATED, "GET", "", "/index.html" },
		{ "GET /very/lo", TW_PAYLOAD_TRUNCATED, "GET", "", "/very/lo..." },
		{ "GET /\r\n", TW_PAYLOAD_OK, "GET", "", "/" },
		{ "GE", TW_PAYLOAD_TRUNCATED, "", "", "" },
		{ "get / HTTP/1.1\r\n\r\n", TW_PAYLOAD_NOT_THIS, "", "", "" },
		{ "\x16\x03\x01\x02\x00", TW_PAYLOAD_NOT_THIS, "", "", "" },
		{ "SSH-2.0-OpenSSH_9.2\r\n", TW_PAYLOAD_NOT_THIS, "", "", "" },
		{ "GET / HTTP/2.0\r\n\r\n", TW_PAYLOAD_MALFORMED, "GET", "", "/" },
		{ "GET / XTTP/1.1\r\n\r\n", TW_PAYLOAD_MALFORMED, "GET", "", "/" },
		{ "GET  / HTTP/1.1\r\n\r\n", TW_PAYLOAD_MALFORMED, "GET", "", "" },
		{ "GET /\x01 HTTP/1.1\r\n\r\n", TW_PAYLOAD_MALFORMED, "GET", "", "/" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct req_case *c = &cases[i];
		struct tw_http_req r;
		enum tw_parse_rc rc = req(c->in, &r);
		int ok = rc == c->rc && strcmp(r.method, c->method) == 0 && strcmp(r.host, c->host) == 0 &&
		         strcmp(r.path, c->path) == 0;
		CHECK(ok, "case %zu: rc=%s method='%s' host='%s' path='%s'", i, tw_parse_rc_str(rc), r.method, r.host,
		      r.path);
		if (ok)
			printf("ok   request %2zu -> %-9s method=%s host=%s path=%s\n", i, tw_parse_rc_str(rc),
			       r.method, r.host, r.path);
	}
	struct tw_http_req r;
	req("GET http://h.test/ HTTP/1.1\r\nHost: o.test\r\n\r\n", &r);
	CHECK(r.host_from_target == 1, "host_from_target");

	/* long target: kept at 255 bytes ending in "..." */
	char big[2048];
	strcpy(big, "GET /");
	memset(big + 5, 'a', 600);
	strcpy(big + 605, " HTTP/1.1\r\nHost: long.test\r\n\r\n");
	enum tw_parse_rc rc = req(big, &r);
	CHECK(rc == TW_PAYLOAD_OK && strlen(r.path) == 255 && strcmp(r.path + 252, "...") == 0 &&
	              strcmp(r.host, "long.test") == 0,
	      "long path rc=%s len=%zu", tw_parse_rc_str(rc), strlen(r.path));
	printf("ok   600-byte target kept as %zu bytes ending in '...'\n", strlen(r.path));

	/* every prefix: TRUNCATED (never MALFORMED/NOT_THIS) */
	const char *full = "GET /path?q=1 HTTP/1.1\r\nHost: Prefix.Example:80\r\nUser-Agent: t\r\n\r\n";
	int bad = 0;
	for (size_t n = 0; n < strlen(full); n++) {
		char tmp[256];
		memcpy(tmp, full, n);
		tmp[n] = 0;
		if (req(tmp, &r) != TW_PAYLOAD_TRUNCATED)
			bad++;
	}
	CHECK(bad == 0, "%d request prefixes not TRUNCATED", bad);
	CHECK(req(full, &r) == TW_PAYLOAD_OK && strcmp(r.host, "prefix.example") == 0, "full");
	printf("ok   all %zu request prefixes TRUNCATED\n", strlen(full));
}

static const char block403[] =
        "HTTP/1.1 403 Forbidden\r\n"
        "Server: Protected by WireFilter\r\n"
        "Content-Type: text/html\r\n"
        "Content-Length: 142\r\n"
        "Connection: keep-alive, Close\r\n"
        "\r\n"
        "<html><HEAD><TITLE lang=\"en\">\n   Access   to this\tsite is\r\n blocked   </title></head>"
        "<body>blocked by order</body></html>";

static void test_responses(void)
{
	struct tw_http_resp r;
	enum tw_parse_rc rc;

	rc = resp(block403, strlen(block403), &r);
	CHECK(rc == TW_PAYLOAD_OK && r.status == 403 && strcmp(r.reason, "Forbidden") == 0 &&
	              strcmp(r.server, "Protected by WireFilter") == 0 && r.content_length == 142 &&
	              r.connection_close && r.headers_complete && strncmp(block403 + r.body_off, "<html>", 6) == 0 &&
	              strcmp(r.title, "Access to this site is blocked") == 0,
	      "403: rc=%s status=%d title='%s' server='%s' clen=%ld close=%d", tw_parse_rc_str(rc), r.status, r.title,
	      r.server, r.content_length, r.connection_close);
	printf("ok   403 block page: title='%s' server='%s' clen=%ld close=%d body_off=%zu\n", r.title, r.server,
	       r.content_length, r.connection_close, r.body_off);

	int bad = 0;
	size_t body_off = r.body_off;
	for (size_t n = 0; n < body_off; n++)
		if (resp(block403, n, &r) != TW_PAYLOAD_TRUNCATED)
			bad++;
	for (size_t n = 0; n <= strlen(block403); n++) {
		rc = resp(block403, n, &r);
		if (rc == TW_PAYLOAD_MALFORMED || rc == TW_PAYLOAD_NOT_THIS)
			bad++;
		if (memchr(r.title, 0, sizeof(r.title)) == NULL)
			bad++;
	}
	CHECK(bad == 0, "%d bad response prefixes", bad);
	printf("ok   every cut of the 403 page: TRUNCATED inside the head, OK after\n");
	rc = resp(block403, (size_t)(strstr(block403, "</title>") - block403), &r);
	CHECK(rc == TW_PAYLOAD_OK && strcmp(r.title, "Access to this site is blocked") == 0,
	      "cut before </title>: '%s'", r.title);
	rc = resp(block403, (size_t)(strstr(block403, "site") - block403), &r);
	CHECK(rc == TW_PAYLOAD_OK && strcmp(r.title, "Access to this") == 0, "cut inside title: '%s'", r.title);
	printf("ok   title from a body cut inside the title: '%s'\n", r.title);

	/* the head-only parse (the pipeline's) and the title taken apart (the
	 * event writer's) give what the whole parse gives, at every cut; the
	 * title search skips "<titles" and reads any case */
	static const char tricky[] = "HTTP/1.1 200 OK\r\n\r\n<<titles>x</titles><a <TiTlE\t>Real < one</tItLe>";
	const char *bodies[] = { block403, tricky };
	bad = 0;
	for (int k = 0; k < 2; k++)
		for (size_t n = 0; n <= strlen(bodies[k]); n++) {
			struct tw_http_resp h;
			char t[sizeof(r.title)] = "";
			uint8_t *c = malloc(n ? n : 1);
			memcpy(c, bodies[k], n);
			enum tw_parse_rc rc1 = tw_parse_http_response(c, n, &r),
			                 rc2 = tw_parse_http_response_head(c, n, &h);
			if (h.headers_complete)
				tw_http_title(c + h.body_off, n - h.body_off, t, sizeof(t));
			free(c);
			if (rc1 != rc2 || h.title[0] || strcmp(t, r.title) || h.status != r.status ||
			    h.body_off != r.body_off || h.content_length != r.content_length ||
			    strcmp(h.server, r.server) || strcmp(h.location, r.location))
				bad++;
		}
	rc = resp(tricky, strlen(tricky), &r);
	CHECK(bad == 0 && strcmp(r.title, "Real < one") == 0,
	      "%d cuts where head + title differ from the whole parse; "
	      "title '%s'",
	      bad, r.title);
	printf("ok   head-only parse and tw_http_title agree with the whole parse at every cut: '%s'\n", r.title);

	const char *s200 = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
	rc = resp(s200, strlen(s200), &r);
	CHECK(rc == TW_PAYLOAD_OK && r.status == 200 && r.content_length == 5 && !r.connection_close &&
	              r.title[0] == 0 && r.location[0] == 0,
	      "200");
	const char *s451 = "HTTP/1.0 451 Unavailable For Legal Reasons\r\n\r\n<title>451</title>";
	rc = resp(s451, strlen(s451), &r);
	CHECK(rc == TW_PAYLOAD_OK && r.status == 451 && r.http_minor == 0 &&
	              strcmp(r.reason, "Unavailable For Legal Reasons") == 0 && strcmp(r.title, "451") == 0,
	      "451 reason '%s'", r.reason);
	const char *s302 = "HTTP/1.1 302 Found\r\nlocation: http://warning.or.kr/\r\nContent-Length: 0\r\n\r\n";
	rc = resp(s302, strlen(s302), &r);
	CHECK(rc == TW_PAYLOAD_OK && r.status == 302 && strcmp(r.location, "http://warning.or.kr/") == 0,
	      "302 location '%s'", r.location);
	printf("ok   200 / 451 / 302 (location=%s)\n", r.location);

	const char *fold = "HTTP/1.1 200\r\nX-Folded: a\r\n  continued\r\nthis is garbage\r\nServer:  nginx \r\n"
	                   "Content-Length: 12\r\nContent-Length: 13\r\n\r\n";
	rc = resp(fold, strlen(fold), &r);
	CHECK(rc == TW_PAYLOAD_OK && r.status == 200 && r.reason[0] == 0 && strcmp(r.server, "nginx") == 0 &&
	              r.n_bad_lines == 1 && r.content_length == -1,
	      "folding/garbage: rc=%s server='%s' bad=%d clen=%ld", tw_parse_rc_str(rc), r.server, r.n_bad_lines,
	      r.content_length);
	printf("ok   folding ignored, garbage line counted, conflicting Content-Length -> -1\n");

	const char *bin =
	        "HTTP/1.1 200 \x01\xff\r\nServer: \x80x\r\n\r\n<title>\xd0\x91\xd0\xbb\xd0\xbe\xff\x01k</title>";
	rc = resp(bin, strlen(bin), &r);
	CHECK(rc == TW_PAYLOAD_OK && strcmp(r.reason, "??") == 0 && strcmp(r.server, "?x") == 0 &&
	              strcmp(r.title, "\xd0\x91\xd0\xbb\xd0\xbe? k") == 0,
	      "sanitising: reason '%s' server '%s' title '%s'", r.reason, r.server, r.title);
	printf("ok   non-printables replaced, UTF-8 title kept\n");

	static const struct {
		const char *in;
		enum tw_parse_rc rc;
	} bads[] = {
		{ "HTTP/1.1 2x0 OK\r\n\r\n", TW_PAYLOAD_MALFORMED },
		{ "HTTP/1.1 200OK\r\n\r\n", TW_PAYLOAD_MALFORMED },
		{ "HTTP/2 200\r\n\r\n", TW_PAYLOAD_MALFORMED },
		{ "HTTX/1.1 200 OK\r\n\r\n", TW_PAYLOAD_NOT_THIS },
		{ "\x15\x03\x03\x00\x02\x02\x28", TW_PAYLOAD_NOT_THIS },
		{ "HTT", TW_PAYLOAD_TRUNCATED },
		{ "HTTP/1.1 200 OK\r\nServer: x\r\n", TW_PAYLOAD_TRUNCATED },
	};
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		rc = resp(bads[i].in, strlen(bads[i].in), &r);
		CHECK(rc == bads[i].rc, "bad %zu: %s", i, tw_parse_rc_str(rc));
	}
	printf("ok   %zu malformed / foreign / truncated status lines classified\n", sizeof(bads) / sizeof(bads[0]));

	/* long title: 127 bytes max, never splitting a UTF-8 sequence */
	char big[1024];
	strcpy(big, "HTTP/1.1 200 OK\r\n\r\n<title>");
	size_t o = strlen(big);
	for (int i = 0; i < 100; i++) {
		memcpy(big + o, "\xd0\x96", 2);
		o += 2;
	}
	strcpy(big + o, "</title>");
	rc = resp(big, strlen(big), &r);
	CHECK(rc == TW_PAYLOAD_OK && strlen(r.title) == 126, "long title %zu", strlen(r.title));
	printf("ok   long UTF-8 title cut to %zu bytes on a character boundary\n", strlen(r.title));
}

int main(void)
{
	test_requests();
	test_responses();
	printf("%s: %d checks, %d failures\n", fails ? "FAIL" : "PASS", checks, fails);
	return fails ? 1 : 0;
}
