/* Unit tests for the TLS ClientHello / server-first parsers.  Hellos are
 * built byte by byte here so every length field is under test control. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/proto.h"

#include "check.h"

struct buf {
	uint8_t d[16384];
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
static void put24(struct buf *b, unsigned v)
{
	put8(b, v >> 16);
	put16(b, v & 0xffff);
}
static void putn(struct buf *b, const void *s, size_t n)
{
	memcpy(b->d + b->n, s, n);
	b->n += n;
}
static void patch16(struct buf *b, size_t at, unsigned v)
{
	b->d[at] = (uint8_t)(v >> 8);
	b->d[at + 1] = (uint8_t)v;
}

struct hello_opts {
	const char *sni;  /* NULL: no server_name */
	int sni_late;     /* put SNI after a big key_share */
	size_t key_share; /* key_exchange bytes */
	int ech, esni, grease;
	const char *alpn[3];
};

static void ext_sni(struct buf *b, const char *name)
{
	size_t n = strlen(name);
	put16(b, 0x0000);
	put16(b, n + 5);
	put16(b, n + 3);
	put8(b, 0);
	put16(b, n);
	putn(b, name, n);
}

/* Handshake message (type 1 + length + body). */
static void build_hello(struct buf *hs, const struct hello_opts *o)
{
	hs->n = 0;
	put8(hs, 1);
	size_t len_at = hs->n;
	put24(hs, 0);
	put16(hs, 0x0303);
	for (int i = 0; i < 32; i++)
		put8(hs, i * 7);
	put8(hs, 32); /* session id (middlebox compat) */
	for (int i = 0; i < 32; i++)
		put8(hs, 0xa0 + i);
	unsigned suites[] = { 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f };
	put16(hs, (5 + (o->grease ? 1 : 0)) * 2);
	if (o->grease)
		put16(hs, 0x3a3a);
	for (int i = 0; i < 5; i++)
		put16(hs, suites[i]);
	put8(hs, 1);
	put8(hs, 0);
	size_t ext_at = hs->n;
	put16(hs, 0);
	if (o->grease) {
		put16(hs, 0x0a0a);
		put16(hs, 0);
	}
	if (o->sni && !o->sni_late)
		ext_sni(hs, o->sni);
	/* supported_versions */
	put16(hs, 0x002b);
	put16(hs, 5);
	put8(hs, 4);
	put16(hs, 0x0304);
	put16(hs, 0x0303);
	if (o->alpn[0]) {
		size_t tot = 0;
		for (int i = 0; i < 3 && o->alpn[i]; i++)
			tot += 1 + strlen(o->alpn[i]);
		put16(hs, 0x0010);
		put16(hs, tot + 2);
		put16(hs, tot);
		for (int i = 0; i < 3 && o->alpn[i]; i++) {
			put8(hs, strlen(o->alpn[i]));
			putn(hs, o->alpn[i], strlen(o->alpn[i]));
		}
	}
	if (o->key_share) {
		put16(hs, 0x0033);
		put16(hs, o->key_share + 6);
		put16(hs, o->key_share + 4);
		put16(hs, 0x11ec); /* X25519MLKEM768 */
		put16(hs, o->key_share);
		for (size_t i = 0; i < o->key_share; i++)
			put8(hs, (unsigned)(i * 13 + 5));
	}
	if (o->ech) {
		put16(hs, 0xfe0d);
		put16(hs, 40);
		for (int i = 0; i < 40; i++)
			put8(hs, i);
	}
	if (o->esni) {
		put16(hs, 0xffce);
		put16(hs, 8);
		for (int i = 0; i < 8; i++)
			put8(hs, 0x55);
	}
	if (o->grease) {
		put16(hs, 0x1a1a);
		put16(hs, 1);
		put8(hs, 0);
	}
	if (o->sni && o->sni_late)
		ext_sni(hs, o->sni);
	patch16(hs, ext_at, hs->n - ext_at - 2);
	hs->d[len_at] = (uint8_t)((hs->n - 4) >> 16);
	patch16(hs, len_at + 1, (hs->n - 4) & 0xffff);
}

/* Wrap a handshake message into records of at most `frag` bytes. */
static void wrap(struct buf *out, const struct buf *hs, size_t frag)
{
	out->n = 0;
	for (size_t off = 0; off < hs->n; off += frag) {
		size_t k = hs->n - off < frag ? hs->n - off : frag;
		put8(out, 22);
		put16(out, 0x0301);
		put16(out, k);
		putn(out, hs->d + off, k);
	}
}

/* Every strict prefix is TRUNCATED, the whole is OK; never MALFORMED. */
static void check_prefixes(const struct buf *rec, const char *what)
{
	struct tw_tls_hello h;
	int bad = 0;
	for (size_t cut = 0; cut < rec->n; cut++) {
		/* heap copy so ASan catches reads past the cut */
		uint8_t *c = malloc(cut ? cut : 1);
		memcpy(c, rec->d, cut);
		enum tw_parse_rc rc = tw_parse_tls_client_hello(c, cut, &h);
		free(c);
		if (rc != TW_PAYLOAD_TRUNCATED) {
			if (!bad)
				printf("FAIL %s: prefix %zu/%zu -> %s\n", what, cut, rec->n, tw_parse_rc_str(rc));
			bad++;
		}
	}
	CHECK(bad == 0, "%s: %d prefixes not TRUNCATED", what, bad);
	CHECK(tw_parse_tls_client_hello(rec->d, rec->n, &h) == TW_PAYLOAD_OK, "%s: full", what);
	printf("ok   %s: all %zu prefixes TRUNCATED, full OK\n", what, rec->n);
}

static struct buf hs, rec;

static void test_sni_early(void)
{
	struct hello_opts o = { .sni = "Example.COM", .key_share = 32, .alpn = { "h2", "http/1.1" } };
	struct tw_tls_hello h;
	build_hello(&hs, &o);
	wrap(&rec, &hs, 16384);
	enum tw_parse_rc rc = tw_parse_tls_client_hello(rec.d, rec.n, &h);
	CHECK(rc == TW_PAYLOAD_OK, "rc=%s", tw_parse_rc_str(rc));
	CHECK(h.has_sni && strcmp(h.sni, "example.com") == 0, "sni='%s'", h.sni);
	CHECK(strcmp(h.alpn_first, "h2") == 0, "alpn='%s'", h.alpn_first);
	CHECK(strcmp(h.alpn, "h2,http/1.1") == 0 && !h.alpn_cut, "alpn list='%s'", h.alpn);
	CHECK(h.legacy_version == 0x0303 && h.record_version == 0x0301, "versions %04x %04x", h.legacy_version,
	      h.record_version);
	CHECK(!h.has_ech && !h.has_esni, "ech %d esni %d", h.has_ech, h.has_esni);
	CHECK(h.n_records == 1 && h.n_extensions == 4, "records %d exts %d", h.n_records, h.n_extensions);
	printf("ok   early SNI: sni=%s alpn=%s exts=%d\n", h.sni, h.alpn, h.n_extensions);
	check_prefixes(&rec, "early SNI");

	/* the bare handshake message (QUIC CRYPTO data) parses the same */
	struct tw_tls_hello m;
	rc = tw_parse_tls_client_hello_msg(hs.d, hs.n, &m);
	CHECK(rc == TW_PAYLOAD_OK && strcmp(m.sni, "example.com") == 0 && strcmp(m.alpn, h.alpn) == 0 &&
	              m.n_extensions == h.n_extensions && m.n_records == 0,
	      "message form: %s sni='%s'", tw_parse_rc_str(rc), m.sni);
	rc = tw_parse_tls_client_hello_msg(hs.d, hs.n - 1, &m);
	CHECK(rc == TW_PAYLOAD_TRUNCATED, "message form cut by one: %s", tw_parse_rc_str(rc));

	/* a ',' inside a protocol is escaped in the list, kept in alpn_first;
	 * a list too long for alpn keeps the whole protocols that fit */
	struct hello_opts c = { .sni = "a.example", .alpn = { "x,y", "h3", NULL } };
	build_hello(&hs, &c);
	wrap(&rec, &hs, 16384);
	rc = tw_parse_tls_client_hello(rec.d, rec.n, &h);
	CHECK(rc == TW_PAYLOAD_OK && strcmp(h.alpn, "x%2cy,h3") == 0 && strcmp(h.alpn_first, "x,y") == 0,
	      "comma: '%s' '%s'", h.alpn, h.alpn_first);
	char longp[101];
	memset(longp, 'p', 100);
	longp[100] = 0;
	struct hello_opts l = { .sni = "a.example", .alpn = { "h3", longp, "h2" } };
	build_hello(&hs, &l);
	wrap(&rec, &hs, 16384);
	rc = tw_parse_tls_client_hello(rec.d, rec.n, &h);
	CHECK(rc == TW_PAYLOAD_OK && strlen(h.alpn) == 106 && h.alpn_cut == 0, "long list: '%s' cut %d", h.alpn,
	      h.alpn_cut);
	struct hello_opts l2 = { .sni = "a.example", .alpn = { "h3", longp, longp } };
	build_hello(&hs, &l2);
	wrap(&rec, &hs, 16384);
	rc = tw_parse_tls_client_hello(rec.d, rec.n, &h);
	CHECK(rc == TW_PAYLOAD_OK && strlen(h.alpn) == 103 && h.alpn_cut == 1, "too long list: %zu cut %d",
	      strlen(h.alpn), h.alpn_cut);
	printf("ok   ALPN list: comma escaped, over-long list keeps whole protocols and says cut; message form "
	       "parses\n");
}

static void test_sni_late(void)
{
	struct hello_opts o = {
		.sni = "late.example.org", .sni_late = 1, .key_share = 1216, .alpn = { "http/1.1" }, .grease = 1
	};
	struct tw_tls_hello h;
	build_hello(&hs, &o);
	wrap(&rec, &hs, 16384);
	CHECK(rec.n > 1024, "hello only %zu bytes", rec.n);
	enum tw_parse_rc rc = tw_parse_tls_client_hello(rec.d, rec.n, &h);
	CHECK(rc == TW_PAYLOAD_OK && h.has_sni && strcmp(h.sni, "late.example.org") == 0, "rc=%s sni=%s",
	      tw_parse_rc_str(rc), h.sni);
	CHECK(strcmp(h.alpn_first, "http%2f1.1") != 0 && strcmp(h.alpn_first, "http/1.1") == 0, "alpn '%s'",
	      h.alpn_first);
	/* the kernel snippet: first 1024 bytes */
	rc = tw_parse_tls_client_hello(rec.d, 1024, &h);
	CHECK(rc == TW_PAYLOAD_TRUNCATED && !h.has_sni, "1024-cut rc=%s has_sni=%d", tw_parse_rc_str(rc), h.has_sni);
	CHECK(strcmp(h.alpn_first, "http/1.1") == 0, "fields before the cut kept: alpn '%s'", h.alpn_first);
	printf("ok   late SNI after 1216-byte key share: full OK; 1024-byte snippet TRUNCATED, has_sni=0\n");
	check_prefixes(&rec, "late SNI");

	/* same hello split over 200-byte records */
	wrap(&rec, &hs, 200);
	rc = tw_parse_tls_client_hello(rec.d, rec.n, &h);
	CHECK(rc == TW_PAYLOAD_OK && h.has_sni && strcmp(h.sni, "late.example.org") == 0 && h.n_records == 7,
	      "split rc=%s sni=%s records=%d", tw_parse_rc_str(rc), h.sni, h.n_records);
	printf("ok   hello split over %d records parsed\n", h.n_records);
	check_prefixes(&rec, "split records");
}

static void test_no_sni_ech_grease(void)
{
	struct tw_tls_hello h;
	struct hello_opts o = { .key_share = 32, .grease = 1 };
	build_hello(&hs, &o);
	wrap(&rec, &hs, 16384);
	enum tw_parse_rc rc = tw_parse_tls_client_hello(rec.d, rec.n, &h);
	CHECK(rc == TW_PAYLOAD_OK && !h.has_sni && h.sni[0] == 0, "no sni: rc=%s has=%d", tw_parse_rc_str(rc),
	      h.has_sni);
	printf("ok   no SNI -> OK, has_sni=0\n");

	struct hello_opts e = {
		.sni = "public.cloudflare-ech.com", .key_share = 32, .ech = 1, .grease = 1, .alpn = { "h2" }
	};
	build_hello(&hs, &e);
	wrap(&rec, &hs, 16384);
	rc = tw_parse_tls_client_hello(rec.d, rec.n, &h);
	CHECK(rc == TW_PAYLOAD_OK && h.has_ech && !h.has_esni && strcmp(h.sni, "public.cloudflare-ech.com") == 0,
	      "ech: rc=%s ech=%d sni=%s", tw_parse_rc_str(rc), h.has_ech, h.sni);
	printf("ok   ECH outer hello with GREASE: has_ech=1 sni=%s\n", h.sni);
	check_prefixes(&rec, "ECH+GREASE");

	struct hello_opts s = { .sni = "x.test", .esni = 1 };
	build_hello(&hs, &s);
	wrap(&rec, &hs, 16384);
	rc = tw_parse_tls_client_hello(rec.d, rec.n, &h);
	CHECK(rc == TW_PAYLOAD_OK && h.has_esni && !h.has_ech, "esni: rc=%s", tw_parse_rc_str(rc));
	printf("ok   ESNI 0xffce flagged\n");

	struct hello_opts w = { .sni = "WeiRD\x01na%me.Test" };
	build_hello(&hs, &w);
	wrap(&rec, &hs, 16384);
	rc = tw_parse_tls_client_hello(rec.d, rec.n, &h);
	CHECK(rc == TW_PAYLOAD_OK && strcmp(h.sni, "weird%01na%25me.test") == 0, "escaped sni '%s'", h.sni);
	printf("ok   SNI escaping: %s\n", h.sni);
}

static void expect(const struct buf *b, enum tw_parse_rc want, const char *what)
{
	struct tw_tls_hello h;
	enum tw_parse_rc rc = tw_parse_tls_client_hello(b->d, b->n, &h);
	CHECK(rc == want, "%s: got %s want %s", what, tw_parse_rc_str(rc), tw_parse_rc_str(want));
	if (rc == want)
		printf("ok   %s -> %s\n", what, tw_parse_rc_str(rc));
}

static void test_malformed(void)
{
	struct hello_opts o = { .sni = "a.example", .key_share = 64, .alpn = { "h2" } };
	struct buf bad;
	build_hello(&hs, &o);
	wrap(&rec, &hs, 16384);
	/* offsets within the record: 5 record hdr + 4 hs hdr + 34 + 1 + 32 sid */
	size_t sid_at = 5 + 4 + 34, cs_at = sid_at + 33, ext_len_at = cs_at + 2 + 10 + 2;
	size_t sni_ext_at = ext_len_at + 2;

	bad = rec;
	patch16(&bad, 3, 0);
	expect(&bad, TW_PAYLOAD_MALFORMED, "record length 0");
	bad = rec;
	patch16(&bad, 3, 20000);
	expect(&bad, TW_PAYLOAD_MALFORMED, "record length > 2^14");
	bad = rec;
	bad.d[5] = 2;
	expect(&bad, TW_PAYLOAD_MALFORMED, "handshake type ServerHello from client");
	bad = rec;
	bad.d[sid_at] = 33;
	expect(&bad, TW_PAYLOAD_MALFORMED, "session id length 33");
	bad = rec;
	patch16(&bad, cs_at, 9);
	expect(&bad, TW_PAYLOAD_MALFORMED, "odd cipher suites length");
	bad = rec;
	patch16(&bad, ext_len_at, (bad.d[ext_len_at] << 8 | bad.d[ext_len_at + 1]) + 1);
	expect(&bad, TW_PAYLOAD_MALFORMED, "extensions length past handshake end");
	bad = rec;
	patch16(&bad, ext_len_at, (bad.d[ext_len_at] << 8 | bad.d[ext_len_at + 1]) - 1);
	expect(&bad, TW_PAYLOAD_MALFORMED, "extensions length short of handshake end");
	bad = rec;
	patch16(&bad, sni_ext_at + 2, 1000);
	expect(&bad, TW_PAYLOAD_MALFORMED, "SNI ext length overruns block");
	bad = rec;
	patch16(&bad, sni_ext_at + 4, 3);
	expect(&bad, TW_PAYLOAD_MALFORMED, "SNI list length mismatch");
	bad = rec;
	patch16(&bad, sni_ext_at + 7, 60);
	expect(&bad, TW_PAYLOAD_MALFORMED, "SNI name length overruns list");
	bad = rec;
	bad.d[9] = 2;
	expect(&bad, TW_PAYLOAD_MALFORMED, "legacy_version major 2");
	bad = rec;
	bad.d[2] = 9;
	expect(&bad, TW_PAYLOAD_MALFORMED, "record version 3.9");
	/* second record of another content type inside a split hello */
	wrap(&bad, &hs, 100);
	bad.d[105] = 23;
	expect(&bad, TW_PAYLOAD_MALFORMED, "app-data record inside split hello");

	memcpy(bad.d, "GET / HTTP/1.1\r\n", 16);
	bad.n = 16;
	expect(&bad, TW_PAYLOAD_NOT_THIS, "HTTP request");
	bad.d[0] = 22;
	bad.d[1] = 2;
	bad.n = 2;
	expect(&bad, TW_PAYLOAD_NOT_THIS, "0x16 0x02 (not TLS)");
	bad.n = 0;
	expect(&bad, TW_PAYLOAD_TRUNCATED, "empty");
}

/* Deterministic mutation: never crash, never an invalid rc. */
static void test_mutations(void)
{
	struct hello_opts o = { .sni = "mut.example", .key_share = 300, .alpn = { "h2", "x" }, .ech = 1, .grease = 1 };
	build_hello(&hs, &o);
	wrap(&rec, &hs, 150);
	uint32_t s = 12345;
	int counts[4] = { 0 };
	for (int it = 0; it < 20000; it++) {
		struct buf m = rec;
		int flips = 1 + it % 4;
		for (int f = 0; f < flips; f++) {
			s = s * 1103515245u + 12345u;
			m.d[(s >> 8) % m.n] = (uint8_t)(s >> 20);
		}
		s = s * 1103515245u + 12345u;
		size_t n = (s >> 4) % (m.n + 1);
		uint8_t *c = malloc(n ? n : 1);
		memcpy(c, m.d, n);
		struct tw_tls_hello h;
		enum tw_parse_rc rc = tw_parse_tls_client_hello(c, n, &h);
		free(c);
		CHECK(rc >= TW_PAYLOAD_OK && rc <= TW_PAYLOAD_NOT_THIS, "rc %d", rc);
		CHECK(memchr(h.sni, 0, sizeof(h.sni)) != NULL, "sni not terminated");
		counts[rc]++;
	}
	printf("ok   20000 mutated hellos: ok=%d truncated=%d malformed=%d not_this=%d\n", counts[0], counts[1],
	       counts[2], counts[3]);
}

static void test_server(void)
{
	struct tw_tls_server s;
	static const uint8_t alert[] = { 21, 3, 3, 0, 2, 2, 40 };
	enum tw_parse_rc rc = tw_parse_tls_server_first(alert, sizeof(alert), &s);
	CHECK(rc == TW_PAYLOAD_OK && s.is_alert && s.alert_level == 2 && s.alert_desc == 40 && !s.is_server_hello,
	      "alert rc=%s", tw_parse_rc_str(rc));
	printf("ok   alert fatal/handshake_failure recognised\n");
	for (size_t n = 0; n < sizeof(alert); n++) {
		rc = tw_parse_tls_server_first(alert, n, &s);
		CHECK(rc == TW_PAYLOAD_TRUNCATED, "alert prefix %zu -> %s", n, tw_parse_rc_str(rc));
	}
	static const uint8_t alert_bad[] = { 21, 3, 3, 0, 2, 7, 40 };
	CHECK(tw_parse_tls_server_first(alert_bad, 7, &s) == TW_PAYLOAD_MALFORMED, "alert level 7");
	static const uint8_t alert_long[] = { 21, 3, 3, 0, 3, 2, 40, 0 };
	CHECK(tw_parse_tls_server_first(alert_long, 8, &s) == TW_PAYLOAD_MALFORMED, "alert len 3");

	struct buf sh;
	struct buf shrec;
	sh.n = 0;
	put8(&sh, 2);
	put24(&sh, 0);
	put16(&sh, 0x0303);
	for (int i = 0; i < 32; i++)
		put8(&sh, i);
	put8(&sh, 0);
	put16(&sh, 0x1301);
	put8(&sh, 0);
	put16(&sh, 6);
	put16(&sh, 0x002b);
	put16(&sh, 2);
	put16(&sh, 0x0304);
	patch16(&sh, 2, sh.n - 4);
	wrap(&shrec, &sh, 16384);
	shrec.d[1] = 3;
	shrec.d[2] = 3;
	rc = tw_parse_tls_server_first(shrec.d, shrec.n, &s);
	CHECK(rc == TW_PAYLOAD_OK && s.is_server_hello && !s.is_alert && s.cipher_suite == 0x1301 &&
	              s.server_version == 0x0303 && !s.is_hello_retry,
	      "server hello rc=%s cs=%04x", tw_parse_rc_str(rc), s.cipher_suite);
	printf("ok   ServerHello recognised, cipher %04x\n", s.cipher_suite);
	int bad = 0;
	for (size_t n = 0; n < shrec.n; n++) {
		rc = tw_parse_tls_server_first(shrec.d, n, &s);
		/* OK is allowed once the cipher suite is in */
		if (rc == TW_PAYLOAD_MALFORMED || rc == TW_PAYLOAD_NOT_THIS)
			bad++;
	}
	CHECK(bad == 0, "ServerHello prefixes: %d bad", bad);
	static const uint8_t hrr[32] = { 0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
		                         0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
		                         0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c };
	memcpy(shrec.d + 5 + 4 + 2, hrr, 32);
	rc = tw_parse_tls_server_first(shrec.d, shrec.n, &s);
	CHECK(rc == TW_PAYLOAD_OK && s.is_server_hello && s.is_hello_retry, "HRR");
	printf("ok   HelloRetryRequest flagged\n");

	static const char http[] = "HTTP/1.1 403 Forbidden\r\n\r\n";
	rc = tw_parse_tls_server_first((const uint8_t *)http, strlen(http), &s);
	CHECK(rc == TW_PAYLOAD_NOT_THIS, "injected HTTP on 443 -> %s", tw_parse_rc_str(rc));
	static const uint8_t appd[] = { 23, 3, 3, 0, 4, 1, 2, 3, 4 };
	rc = tw_parse_tls_server_first(appd, sizeof(appd), &s);
	CHECK(rc == TW_PAYLOAD_OK && s.record_type == 23 && !s.is_alert && !s.is_server_hello, "app data first");
	shrec.d[5] = 11; /* Certificate before ServerHello */
	rc = tw_parse_tls_server_first(shrec.d, shrec.n, &s);
	CHECK(rc == TW_PAYLOAD_MALFORMED, "certificate first -> %s", tw_parse_rc_str(rc));
	printf("ok   server: HTTP -> NOT_THIS, app data -> OK(type 23), Certificate first -> MALFORMED\n");
}

int main(void)
{
	test_sni_early();
	test_sni_late();
	test_no_sni_ech_grease();
	test_malformed();
	test_mutations();
	test_server();
	printf("%s: %d checks, %d failures\n", fails ? "FAIL" : "PASS", checks, fails);
	return fails ? 1 : 0;
}
