/* Unit tests for the DNS message parser; messages are built here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/proto.h"

#include "check.h"

struct buf {
	uint8_t d[4096];
	size_t n;
};

static void put8(struct buf *b, unsigned v)
{
	b->d[b->n++] = (uint8_t)v;
}
static void put16(struct buf *b, unsigned v)
{
	put8(b, v >> 8);
	put8(b, v);
}
static void put32(struct buf *b, unsigned v)
{
	put16(b, v >> 16);
	put16(b, v & 0xffff);
}
static void putn(struct buf *b, const void *s, size_t n)
{
	memcpy(b->d + b->n, s, n);
	b->n += n;
}

/* "a.b.c" as labels + root */
static void put_name(struct buf *b, const char *name)
{
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);
		put8(b, l);
		putn(b, name, l);
		name += l + (dot ? 1 : 0);
	}
	put8(b, 0);
}

static void put_ptr(struct buf *b, unsigned off)
{
	put16(b, 0xc000 | off);
}

static void hdr(struct buf *b, unsigned flags, unsigned qd, unsigned an, unsigned ns, unsigned ar)
{
	b->n = 0;
	put16(b, 0x1234);
	put16(b, flags);
	put16(b, qd);
	put16(b, an);
	put16(b, ns);
	put16(b, ar);
}

static enum tw_parse_rc parse(const struct buf *b, size_t n, struct tw_dns_msg *m)
{
	uint8_t *c = malloc(n ? n : 1); /* exact-size heap copy for ASan */
	memcpy(c, b->d, n);
	enum tw_parse_rc rc = tw_parse_dns(c, n, m);
	free(c);
	return rc;
}

static void all_prefixes_truncated(const struct buf *b, const char *what)
{
	static struct tw_dns_msg m;
	int bad = 0;
	for (size_t n = 0; n < b->n; n++) {
		enum tw_parse_rc rc = parse(b, n, &m);
		if (rc != TW_PAYLOAD_TRUNCATED) {
			if (!bad)
				printf("FAIL %s: prefix %zu -> %s\n", what, n, tw_parse_rc_str(rc));
			bad++;
		}
	}
	CHECK(bad == 0, "%s: %d prefixes not TRUNCATED", what, bad);
	printf("ok   %s: all %zu prefixes TRUNCATED\n", what, b->n);
}

static struct tw_dns_msg m;

static void test_query(void)
{
	struct buf b;
	hdr(&b, 0x0100, 1, 0, 0, 0);
	put_name(&b, "WWW.Example.COM");
	put16(&b, 1);
	put16(&b, 1);
	enum tw_parse_rc rc = parse(&b, b.n, &m);
	CHECK(rc == TW_PAYLOAD_OK && !m.is_response && m.rd && m.id == 0x1234 &&
	              strcmp(m.qname, "www.example.com") == 0 && m.qtype == 1 && m.qclass == 1 && m.n_answers == 0,
	      "query rc=%s qname=%s", tw_parse_rc_str(rc), m.qname);
	printf("ok   A query qname=%s\n", m.qname);
	all_prefixes_truncated(&b, "query");

	hdr(&b, 0x0100, 1, 0, 0, 0);
	put8(&b, 0);
	put16(&b, 2);
	put16(&b, 1);
	rc = parse(&b, b.n, &m);
	CHECK(rc == TW_PAYLOAD_OK && strcmp(m.qname, ".") == 0 && m.qtype == 2, "root NS query '%s'", m.qname);

	hdr(&b, 0x0100, 1, 0, 0, 0);
	put8(&b, 5);
	putn(&b, "a.b%Z", 5);
	put8(&b, 4);
	putn(&b, "_tcp", 4);
	put8(&b, 0);
	put16(&b, 33);
	put16(&b, 1);
	rc = parse(&b, b.n, &m);
	CHECK(rc == TW_PAYLOAD_OK && strcmp(m.qname, "a%2eb%25z._tcp") == 0, "escaped qname '%s'", m.qname);
	printf("ok   root and escaped names: '.' and '%s'\n", m.qname);
}

static void test_response_chain(void)
{
	struct buf b;
	hdr(&b, 0x8180, 1, 4, 0, 1);
	size_t qn = b.n;
	put_name(&b, "www.blocked.test");
	put16(&b, 1);
	put16(&b, 1);
	/* www.blocked.test CNAME edge.cdn.test (cdn.test partly compressed) */
	put_ptr(&b, qn);
	put16(&b, 5);
	put16(&b, 1);
	put32(&b, 300);
	size_t rdl = b.n;
	put16(&b, 0);
	size_t edge = b.n;
	put8(&b, 4);
	putn(&b, "edge", 4);
	put8(&b, 3);
	putn(&b, "cdn", 3);
	put_ptr(&b, qn + 12); /* -> "test" */
	b.d[rdl + 1] = (uint8_t)(b.n - rdl - 2);
	/* edge.cdn.test CNAME e1.edge.cdn.test */
	put_ptr(&b, edge);
	put16(&b, 5);
	put16(&b, 1);
	put32(&b, 60);
	put16(&b, 5);
	put8(&b, 2);
	putn(&b, "e1", 2);
	put_ptr(&b, edge);
	/* e1... A 10.10.34.35 and AAAA */
	put_ptr(&b, b.n - 5);
	put16(&b, 1);
	put16(&b, 1);
	put32(&b, 20);
	size_t a_rdlen = b.n;
	put16(&b, 4);
	put8(&b, 10);
	put8(&b, 10);
	put8(&b, 34);
	put8(&b, 35);
	put_ptr(&b, b.n - 19);
	put16(&b, 28);
	put16(&b, 1);
	put32(&b, 20);
	put16(&b, 16);
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	putn(&b, v6, 16);
	/* additional: OPT pseudo-record */
	put8(&b, 0);
	put16(&b, 41);
	put16(&b, 1232);
	put32(&b, 0);
	put16(&b, 0);

	enum tw_parse_rc rc = parse(&b, b.n, &m);
	CHECK(rc == TW_PAYLOAD_OK && m.is_response && m.ra && m.rcode == 0 && m.n_answers == 4 && m.trailing == 0,
	      "chain rc=%s n=%d", tw_parse_rc_str(rc), m.n_answers);
	CHECK(m.answers[0].type == 5 && strcmp(m.answers[0].name, "www.blocked.test") == 0 &&
	              strcmp(m.answers[0].cname, "edge.cdn.test") == 0 && m.answers[0].ttl == 300,
	      "cname0 %s -> %s", m.answers[0].name, m.answers[0].cname);
	CHECK(strcmp(m.answers[1].name, "edge.cdn.test") == 0 && strcmp(m.answers[1].cname, "e1.edge.cdn.test") == 0,
	      "cname1 %s -> %s", m.answers[1].name, m.answers[1].cname);
	CHECK(m.answers[2].family == 4 && memcmp(m.answers[2].addr, "\x0a\x0a\x22\x23", 4) == 0 &&
	              strcmp(m.answers[2].name, "e1.edge.cdn.test") == 0,
	      "A %s", m.answers[2].name);
	CHECK(m.answers[3].family == 6 && memcmp(m.answers[3].addr, v6, 16) == 0 && m.answers[3].type == 28, "AAAA");
	printf("ok   CNAME chain %s -> %s -> %s, A 10.10.34.35, AAAA 2001:db8::1, OPT skipped\n", m.answers[0].name,
	       m.answers[0].cname, m.answers[1].cname);
	all_prefixes_truncated(&b, "CNAME chain response");

	/* answer count larger than present */
	b.d[7] = 9;
	rc = parse(&b, b.n, &m);
	CHECK(rc == TW_PAYLOAD_TRUNCATED && m.n_answers == 4, "ancount 9 of 4(+1 OPT): rc=%s n=%d", tw_parse_rc_str(rc),
	      m.n_answers);
	printf("ok   ancount larger than present -> TRUNCATED, %d answers kept\n", m.n_answers);
	b.d[7] = 4;

	/* A with rdlength 5 */
	struct buf x = b;
	x.d[a_rdlen + 1] = 5;
	rc = parse(&x, x.n, &m);
	CHECK(rc == TW_PAYLOAD_MALFORMED, "A rdlength 5 -> %s", tw_parse_rc_str(rc));
	/* CNAME rdata longer than the name */
	x = b;
	x.d[rdl + 1]++;
	rc = parse(&x, x.n, &m);
	CHECK(rc == TW_PAYLOAD_MALFORMED, "CNAME rdlength mismatch -> %s", tw_parse_rc_str(rc));
	printf("ok   A rdlength 5 and CNAME rdlength mismatch -> MALFORMED\n");
}

static void test_nxdomain(void)
{
	struct buf b;
	hdr(&b, 0x8183, 1, 0, 1, 0);
	put_name(&b, "nope.example");
	put16(&b, 1);
	put16(&b, 1);
	put_ptr(&b, 12 + 5); /* example */
	put16(&b, 6);
	put16(&b, 1);
	put32(&b, 900);
	put16(&b, 29);
	put8(&b, 2);
	putn(&b, "ns", 2);
	put_ptr(&b, 17);
	put8(&b, 1);
	putn(&b, "h", 1);
	put_ptr(&b, 17);
	for (int i = 1; i <= 5; i++)
		put32(&b, i);
	enum tw_parse_rc rc = parse(&b, b.n, &m);
	CHECK(rc == TW_PAYLOAD_OK && m.rcode == TW_DNS_RCODE_NXDOMAIN && m.aa == 0 && m.n_answers == 0 &&
	              m.nscount == 1 && strcmp(m.qname, "nope.example") == 0,
	      "nxdomain rc=%s rcode=%d", tw_parse_rc_str(rc), m.rcode);
	printf("ok   NXDOMAIN rcode=%d with SOA in authority\n", m.rcode);
}

static void test_bad_names(void)
{
	struct buf b;
	enum tw_parse_rc rc;

	/* pointer loop: name at 12 points to itself */
	hdr(&b, 0x8180, 1, 0, 0, 0);
	put_ptr(&b, 12);
	put16(&b, 1);
	put16(&b, 1);
	rc = parse(&b, b.n, &m);
	CHECK(rc == TW_PAYLOAD_MALFORMED, "self loop -> %s", tw_parse_rc_str(rc));
	/* two-step loop with a label in between */
	hdr(&b, 0x8180, 1, 0, 0, 0);
	put8(&b, 1);
	put8(&b, 'a');
	put_ptr(&b, 16);
	put8(&b, 1);
	put8(&b, 'b');
	put_ptr(&b, 12);
	rc = parse(&b, b.n, &m);
	CHECK(rc == TW_PAYLOAD_MALFORMED, "a->b->a loop -> %s", tw_parse_rc_str(rc));
	printf("ok   compression pointer loops -> MALFORMED\n");

	/* pointer beyond the snippet: a cut message can hold one */
	hdr(&b, 0x8180, 1, 0, 0, 0);
	put_ptr(&b, 500);
	put16(&b, 1);
	put16(&b, 1);
	rc = parse(&b, b.n, &m);
	CHECK(rc == TW_PAYLOAD_TRUNCATED, "pointer past end -> %s", tw_parse_rc_str(rc));

	/* label of 64 (0x40: extended label type) and 0x80 */
	hdr(&b, 0x0100, 1, 0, 0, 0);
	put8(&b, 64);
	for (int i = 0; i < 64; i++)
		put8(&b, 'x');
	put8(&b, 0);
	put16(&b, 1);
	put16(&b, 1);
	rc = parse(&b, b.n, &m);
	CHECK(rc == TW_PAYLOAD_MALFORMED, "label 64 -> %s", tw_parse_rc_str(rc));
	b.d[12] = 0x80;
	rc = parse(&b, b.n, &m);
	CHECK(rc == TW_PAYLOAD_MALFORMED, "label type 0x80 -> %s", tw_parse_rc_str(rc));
	printf("ok   label > 63 -> MALFORMED\n");

	/* 255-octet name is the max; 257 is too long (4 x 63-byte labels) */
	hdr(&b, 0x0100, 1, 0, 0, 0);
	for (int l = 0; l < 3; l++) {
		put8(&b, 63);
		for (int i = 0; i < 63; i++)
			put8(&b, 'a' + l);
	}
	put8(&b, 61);
	for (int i = 0; i < 61; i++)
		put8(&b, 'd');
	put8(&b, 0);
	put16(&b, 1);
	put16(&b, 1);
	rc = parse(&b, b.n, &m);
	CHECK(rc == TW_PAYLOAD_OK && strlen(m.qname) == 253, "255-octet name rc=%s len %zu", tw_parse_rc_str(rc),
	      strlen(m.qname));
	b.d[12 + 3 * 64] = 62;
	b.n = 12 + 3 * 64;
	put8(&b, 62);
	for (int i = 0; i < 62; i++)
		put8(&b, 'd');
	put8(&b, 0);
	put16(&b, 1);
	put16(&b, 1);
	rc = parse(&b, b.n, &m);
	CHECK(rc == TW_PAYLOAD_MALFORMED, "256-octet name -> %s", tw_parse_rc_str(rc));
	printf("ok   255-octet name OK, 256-octet name -> MALFORMED\n");

	/* name > 255 octets made through pointers: the question points
	 * forward to a chain of six 50-byte labels, each pointing back */
	hdr(&b, 0x8180, 1, 0, 0, 0);
	size_t qptr = b.n;
	put_ptr(&b, 0);
	put16(&b, 1);
	put16(&b, 1);
	size_t prev = 0;
	for (int l = 0; l < 6; l++) {
		size_t here = b.n;
		put8(&b, 50);
		for (int i = 0; i < 50; i++)
			put8(&b, 'p');
		if (l == 0)
			put8(&b, 0);
		else
			put_ptr(&b, prev);
		prev = here;
	}
	b.d[qptr + 1] = (uint8_t)prev;
	b.d[qptr] = (uint8_t)(0xc0 | prev >> 8);
	rc = parse(&b, b.n, &m);
	CHECK(rc == TW_PAYLOAD_MALFORMED, "306-octet name via pointers -> %s", tw_parse_rc_str(rc));
	printf("ok   name > 255 octets through compression -> MALFORMED\n");
}

static void test_many_answers(void)
{
	struct buf b;
	hdr(&b, 0x8180, 1, 20, 0, 0);
	put_name(&b, "many.test");
	put16(&b, 1);
	put16(&b, 1);
	for (int i = 0; i < 20; i++) {
		put_ptr(&b, 12);
		put16(&b, 1);
		put16(&b, 1);
		put32(&b, 5);
		put16(&b, 4);
		put8(&b, 192);
		put8(&b, 0);
		put8(&b, 2);
		put8(&b, i);
	}
	enum tw_parse_rc rc = parse(&b, b.n, &m);
	CHECK(rc == TW_PAYLOAD_OK && m.n_answers == TW_DNS_MAX_ANS && m.answers_truncated &&
	              m.answers[15].addr[3] == 15,
	      "20 answers rc=%s n=%d trunc=%d", tw_parse_rc_str(rc), m.n_answers, m.answers_truncated);
	printf("ok   20 A answers: %d kept, answers_truncated=%d\n", m.n_answers, m.answers_truncated);
	all_prefixes_truncated(&b, "20-answer response");

	/* an MX answer is skipped by rdlength, trailing bytes reported */
	hdr(&b, 0x8180, 1, 2, 0, 0);
	put_name(&b, "mx.test");
	put16(&b, 15);
	put16(&b, 1);
	put_ptr(&b, 12);
	put16(&b, 15);
	put16(&b, 1);
	put32(&b, 5);
	put16(&b, 4);
	put16(&b, 10);
	put_ptr(&b, 12);
	put_ptr(&b, 12);
	put16(&b, 1);
	put16(&b, 1);
	put32(&b, 5);
	put16(&b, 4);
	put32(&b, 0x7f000001);
	put8(&b, 0xee);
	put8(&b, 0xee);
	rc = parse(&b, b.n, &m);
	CHECK(rc == TW_PAYLOAD_OK && m.n_answers == 1 && m.answers[0].family == 4 && m.trailing == 2,
	      "mx skip rc=%s n=%d trailing=%zu", tw_parse_rc_str(rc), m.n_answers, m.trailing);
	printf("ok   MX skipped by rdlength, trailing bytes=%zu\n", m.trailing);
}

static void test_mutations(void)
{
	struct buf b;
	hdr(&b, 0x8180, 1, 3, 0, 0);
	put_name(&b, "mut.example.org");
	put16(&b, 1);
	put16(&b, 1);
	put_ptr(&b, 12);
	put16(&b, 5);
	put16(&b, 1);
	put32(&b, 5);
	put16(&b, 6);
	put8(&b, 3);
	putn(&b, "cdn", 3);
	put_ptr(&b, 16);
	put_ptr(&b, 12);
	put16(&b, 1);
	put16(&b, 1);
	put32(&b, 5);
	put16(&b, 4);
	put32(&b, 0x01020304);
	put_ptr(&b, 12);
	put16(&b, 28);
	put16(&b, 1);
	put32(&b, 5);
	put16(&b, 16);
	for (int i = 0; i < 16; i++)
		put8(&b, i);
	uint32_t s = 99;
	int counts[4] = { 0 };
	for (int it = 0; it < 30000; it++) {
		struct buf x = b;
		for (int f = 0; f < 1 + it % 3; f++) {
			s = s * 1103515245u + 12345u;
			x.d[(s >> 8) % x.n] = (uint8_t)(s >> 20);
		}
		enum tw_parse_rc rc = parse(&x, x.n, &m);
		CHECK(rc <= TW_PAYLOAD_NOT_THIS && m.n_answers <= TW_DNS_MAX_ANS, "rc %d", rc);
		counts[rc]++;
	}
	printf("ok   30000 mutated responses: ok=%d truncated=%d malformed=%d\n", counts[0], counts[1], counts[2]);
}

/* A response to an HTTPS query (RFC 9460) carrying one record of rdata rd. */
static void https_msg(struct buf *b, uint32_t ttl, const uint8_t *rd, size_t n)
{
	hdr(b, 0x8180, 1, 1, 0, 0);
	put_name(b, "www.h3.test");
	put16(b, TW_DNS_HTTPS);
	put16(b, 1);
	put_ptr(b, 12);
	put16(b, TW_DNS_HTTPS);
	put16(b, 1);
	put32(b, ttl);
	put16(b, (unsigned)n);
	putn(b, rd, n);
}

static void test_https(void)
{
	/* RFC 9460 Appendix D.2, figure 5: alpn=h2,h3-19 (no "h3") */
	static const uint8_t d2[] = { 0x00, 0x10, 0x03, 'f',  'o',  'o', 0x07, 'e',  'x',  'a',  'm',
		                      'p',  'l',  'e',  0x03, 'c',  'o', 'm',  0x00, 0x00, 0x01, 0x00,
		                      0x09, 0x02, 'h',  '2',  0x05, 'h', '3',  '-',  '1',  '9' };
	/* the same with alpn=h3,h2 and a port (key 3) after it */
	static const uint8_t h3[] = { 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x06, 0x02, 'h', '3',
		                      0x02, 'h',  '2',  0x00, 0x03, 0x00, 0x02, 0x01, 0xbb };
	/* RFC 9460 Appendix D.1: AliasMode, no parameters */
	static const uint8_t alias[] = { 0x00, 0x00, 0x03, 'f', 'o',  'o', 0x07, 'e', 'x', 'a',
		                         'm',  'p',  'l',  'e', 0x03, 'c', 'o',  'm', 0x00 };
	struct buf b;
	https_msg(&b, 300, d2, sizeof(d2));
	enum tw_parse_rc rc = parse(&b, b.n, &m);
	CHECK(rc == TW_PAYLOAD_OK && m.qtype == TW_DNS_HTTPS && !m.h3 && !m.https_bad, "h2,h3-19: rc=%s h3=%d bad=%d",
	      tw_parse_rc_str(rc), m.h3, m.https_bad);
	https_msg(&b, 300, h3, sizeof(h3));
	rc = parse(&b, b.n, &m);
	CHECK(rc == TW_PAYLOAD_OK && m.h3 && m.h3_ttl == 300 && !m.https_bad && !strcmp(m.qname, "www.h3.test"),
	      "h3,h2: rc=%s h3=%d ttl=%u", tw_parse_rc_str(rc), m.h3, m.h3_ttl);
	all_prefixes_truncated(&b, "HTTPS response");
	https_msg(&b, 60, alias, sizeof(alias));
	rc = parse(&b, b.n, &m);
	CHECK(rc == TW_PAYLOAD_OK && !m.h3 && !m.https_bad, "AliasMode: h3=%d bad=%d", m.h3, m.https_bad);
	/* broken records are counted and skipped, the message parses on */
	uint8_t x[sizeof(h3)];
	memcpy(x, h3, sizeof(x));
	x[2] = 0xc0; /* a compressed TargetName (2.2: never) */
	https_msg(&b, 300, x, sizeof(x));
	rc = parse(&b, b.n, &m);
	CHECK(rc == TW_PAYLOAD_OK && !m.h3 && m.https_bad == 1, "compressed target: h3=%d bad=%d", m.h3, m.https_bad);
	memcpy(x, h3, sizeof(x));
	x[10] = 0; /* an empty protocol id */
	https_msg(&b, 300, x, sizeof(x));
	rc = parse(&b, b.n, &m);
	CHECK(rc == TW_PAYLOAD_OK && m.https_bad == 1, "empty alpn id: bad=%d", m.https_bad);
	memcpy(x, h3, sizeof(x));
	x[6] = 0x40; /* alpn longer than the rdata */
	https_msg(&b, 300, x, sizeof(x));
	rc = parse(&b, b.n, &m);
	CHECK(rc == TW_PAYLOAD_OK && !m.h3 && m.https_bad == 1, "alpn past rdata: h3=%d bad=%d", m.h3, m.https_bad);
	https_msg(&b, 300, h3, 2); /* priority only */
	rc = parse(&b, b.n, &m);
	CHECK(rc == TW_PAYLOAD_OK && m.https_bad == 1, "2-byte rdata: bad=%d", m.https_bad);
	printf("ok   HTTPS records: RFC 9460 D.1/D.2 vectors, h3 offered, broken ones counted\n");
}

int main(void)
{
	test_query();
	test_response_chain();
	test_nxdomain();
	test_https();
	test_bad_names();
	test_many_answers();
	test_mutations();
	printf("%s: %d checks, %d failures\n", fails ? "FAIL" : "PASS", checks, fails);
	return fails ? 1 : 0;
}
