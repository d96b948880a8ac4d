/* Unit tests of the shared parser (parse.h) and classifier core
 * (classify.h), in userspace under ASan/UBSan.  Frames come from
 * tests/pktbuild.h; every parse runs on a heap copy that ends exactly at the
 * end of the frame, so a read past the end is caught. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tamperwatch/classify.h>
#include "pktbuild.h"

#include "check.h"

static const char *rc_name(int rc)
{
	static const char *n[] = { "OK",       "NOT_IP",         "TRUNC_L2", "TRUNC_L3", "BAD_L3",
		                   "FRAGMENT", "IPV6_EXT_LIMIT", "OTHER_L4", "TRUNC_L4", "BAD_L4" };
	return rc >= 0 && rc < TW_PARSE_RESULT_MAX ? n[rc] : "?";
}

/* Parse the first len bytes of frame from an exact-size heap copy; on a SYN
 * parse its options as the backends do (only when all were captured). */
static int parse_n(const uint8_t *frame, size_t len, struct tw_pkt *p)
{
	/* placed 2 bytes into the allocation like the kernel's NET_IP_ALIGN,
	 * so the IP and L4 headers are 4-byte aligned (parse.h reads them
	 * through struct pointers; UBSan checks alignment) and the end of the
	 * frame is the end of the allocation (ASan checks overreads) */
	uint8_t *m = malloc(len + 2);
	uint8_t *c = m + 2;
	memcpy(c, frame, len);
	memset(p, 0, sizeof(*p));
	int rc = tw_parse(c, c + len, p);
	if (rc == TW_PARSE_OK && p->proto == TW_PROTO_TCP && (p->tcp_flags & TW_TCP_SYN) && p->opt_len &&
	    p->payload_off <= len)
		tw_parse_tcp_opts(c + p->payload_off - p->opt_len, p->opt_len, p);
	free(m);
	return rc;
}

static uint8_t fbuf[16384];

static size_t build(const struct pb_pkt *d)
{
	size_t n = pb_build(d, fbuf, sizeof(fbuf));
	if (!n) {
		printf("FAIL: packet does not fit\n");
		exit(1);
	}
	return n;
}

#define A4(a, b, c, d)                                                                                                 \
	{                                                                                                              \
		a, b, c, d                                                                                             \
	}
#define A6(last)                                                                                                       \
	{                                                                                                              \
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last                                          \
	}

/* ------------------------------------------------------------------ parse */

struct parse_case {
	const char *name;
	struct pb_pkt pkt;
	int cut; /* >0: hand only this many bytes; <0: drop this many from the end */
	int rc;
};

static const struct parse_case parse_cases[] = {
	{ "IPv4 TCP",
	  { .family = 4, .src = A4(10, 0, 0, 1), .dst = A4(10, 0, 0, 2), .sport = 1, .dport = 2, .flags = TW_TCP_ACK },
	  0,
	  TW_PARSE_OK },
	{ "IPv6 TCP", { .family = 6, .src = A6(1), .dst = A6(2), .flags = TW_TCP_ACK }, 0, TW_PARSE_OK },
	{ "IPv4 UDP", { .family = 4, .l4 = 17, .sport = 5353, .dport = 53 }, 0, TW_PARSE_OK },
	{ "ARP ethertype", { .family = 4, .ethertype = 0x0806 }, 0, TW_PARSE_NOT_IP },
	{ "three VLAN tags (only two walked)",
	  { .family = 4, .nvlan = 2, .vlan_tpid = { 0x8100, 0x8100 }, .ethertype = 0x8100 },
	  0,
	  TW_PARSE_NOT_IP },
	{ "13-byte frame", { .family = 4 }, 13, TW_PARSE_TRUNC_L2 },
	{ "empty frame", { .family = 4 }, -100000, TW_PARSE_TRUNC_L2 },
	{ "truncated VLAN tag (14 bytes, TPID 0x8100)", { .family = 4, .nvlan = 1 }, 14, TW_PARSE_TRUNC_L2 },
	{ "truncated 2nd VLAN tag", { .family = 4, .nvlan = 2 }, 20, TW_PARSE_TRUNC_L2 },
	{ "IPv4 header cut at 19 bytes", { .family = 4 }, 14 + 19, TW_PARSE_TRUNC_L3 },
	{ "IPv4 IHL 6, options cut", { .family = 4, .ip_opt_len = 4 }, 14 + 22, TW_PARSE_TRUNC_L3 },
	{ "IPv6 header cut at 39 bytes", { .family = 6 }, 14 + 39, TW_PARSE_TRUNC_L3 },
	{ "IPv6 ext header cut",
	  { .family = 6, .next = 1, .ext = { { .type = 60, .hdrlen = 0 } } },
	  14 + 41,
	  TW_PARSE_TRUNC_L3 },
	{ "IPv6 fragment header cut at 6 bytes",
	  { .family = 6, .next = 1, .ext = { { .type = 44 } } },
	  14 + 46,
	  TW_PARSE_TRUNC_L3 },
	{ "IPv4 IHL 4", { .family = 4, .ihl = 4 }, 0, TW_PARSE_BAD_L3 },
	{ "IPv4 version 6 under ethertype IPv4", { .family = 4, .ip_ver = 6 }, 0, TW_PARSE_BAD_L3 },
	{ "IPv6 version 4 under ethertype IPv6", { .family = 6, .ip_ver = 4 }, 0, TW_PARSE_BAD_L3 },
	{ "IPv4 total length 19 < IHL*4", { .family = 4, .ip_tot_len = 19 }, 0, TW_PARSE_BAD_L3 },
	{ "IPv6 ext header longer than payload length",
	  { .family = 6, .ip6_plen = 8, .next = 1, .ext = { { .type = 0, .hdrlen = 1 } } },
	  0,
	  TW_PARSE_BAD_L3 },
	{ "IPv4 non-first fragment", { .family = 4, .frag_off = 185 }, 0, TW_PARSE_FRAGMENT },
	{ "IPv4 last fragment (offset, no MF)", { .family = 4, .frag_off = 1, .l4 = 17 }, 0, TW_PARSE_FRAGMENT },
	{ "IPv6 fragment header offset 10",
	  { .family = 6, .next = 1, .ext = { { .type = 44, .frag_off = 10, .more = 1 } } },
	  0,
	  TW_PARSE_FRAGMENT },
	{ "IPv6 fragment header offset 1 (8 bytes)",
	  { .family = 6, .next = 1, .ext = { { .type = 44, .frag_off = 1 } } },
	  0,
	  TW_PARSE_FRAGMENT },
	{ "IPv6 fragment after hop-by-hop",
	  { .family = 6, .next = 2, .ext = { { .type = 0 }, { .type = 44, .frag_off = 3 } } },
	  0,
	  TW_PARSE_FRAGMENT },
	{ "IPv6 6 ext headers (the limit)",
	  { .family = 6,
	    .next = 6,
	    .ext = { { .type = 0 },
	             { .type = 60 },
	             { .type = 43, .hdrlen = 2 },
	             { .type = 51, .hdrlen = 4 },
	             { .type = 44, .more = 1 },
	             { .type = 60 } } },
	  0,
	  TW_PARSE_OK },
	{ "IPv6 7 ext headers",
	  { .family = 6,
	    .next = 7,
	    .ext = { { .type = 0 },
	             { .type = 60 },
	             { .type = 60 },
	             { .type = 60 },
	             { .type = 60 },
	             { .type = 60 },
	             { .type = 60 } } },
	  0,
	  TW_PARSE_IPV6_EXT_LIMIT },
	{ "IPv4 ICMP", { .family = 4, .l4 = 1, .payload_len = 8 }, 0, TW_PARSE_OTHER_L4 },
	{ "IPv6 ICMPv6", { .family = 6, .l4 = 58, .payload_len = 8 }, 0, TW_PARSE_OTHER_L4 },
	{ "IPv6 ESP after dest opts",
	  { .family = 6, .l4 = 50, .next = 1, .ext = { { .type = 60 } }, .payload_len = 16 },
	  0,
	  TW_PARSE_OTHER_L4 },
	{ "TCP header cut at 19 bytes", { .family = 4 }, 14 + 20 + 19, TW_PARSE_TRUNC_L4 },
	{ "IPv6 TCP header cut at 10 bytes", { .family = 6 }, 14 + 40 + 10, TW_PARSE_TRUNC_L4 },
	{ "UDP header cut at 7 bytes", { .family = 4, .l4 = 17 }, 14 + 20 + 7, TW_PARSE_TRUNC_L4 },
	{ "TCP data offset 4", { .family = 4, .doff = 4 }, 0, TW_PARSE_BAD_L4 },
	{ "IPv6 TCP data offset 1", { .family = 6, .doff = 1 }, 0, TW_PARSE_BAD_L4 },
};

static void test_parse_results(void)
{
	static int seen[TW_PARSE_RESULT_MAX];
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		size_t n = build(&c->pkt);
		if (c->cut > 0)
			n = (size_t)c->cut;
		else if (c->cut < 0)
			n = (size_t)-c->cut > n ? 0 : n - (size_t)-c->cut;
		struct tw_pkt p;
		int rc = parse_n(fbuf, n, &p);
		CHECK(rc == c->rc, "%s: got %s, want %s", c->name, rc_name(rc), rc_name(c->rc));
		seen[c->rc]++;
		printf("ok   parse %-45s %4zu bytes -> %s\n", c->name, n, rc_name(rc));
		/* every prefix of a valid frame: a result, never a read past the end */
		if (c->rc == TW_PARSE_OK) {
			for (size_t k = 0; k < n; k++) {
				int r2 = parse_n(fbuf, k, &p);
				CHECK(r2 != TW_PARSE_OK || k >= (size_t)pb_payload_off(&c->pkt),
				      "%s: prefix %zu parsed OK", c->name, k);
			}
		}
	}
	for (int r = 0; r < TW_PARSE_RESULT_MAX; r++)
		CHECK(seen[r] > 0, "parse result %s has no case", rc_name(r));
	printf("ok   every parse result code has a case\n");
}

static void test_parse_fields(void)
{
	struct tw_pkt p;
	static const uint8_t pl[] = "hello, world";
	int rc;

	/* two VLAN tags */
	struct pb_pkt v = { .family = 4,
		            .nvlan = 2,
		            .vlan_tci = { 100, 200 },
		            .src = A4(10, 0, 0, 1),
		            .dst = A4(10, 0, 0, 2),
		            .sport = 1234,
		            .dport = 80,
		            .seq = 0x11223344,
		            .ack = 0x55667788,
		            .win = 0xabcd,
		            .flags = TW_TCP_ACK | TW_TCP_PSH,
		            .ttl = 77,
		            .ip_id = 0xbeef,
		            .df = 1,
		            .payload = pl,
		            .payload_len = 12 };
	size_t n = build(&v);
	rc = parse_n(fbuf, n, &p);
	CHECK(rc == TW_PARSE_OK, "two vlans rc %s", rc_name(rc));
	CHECK(p.pflags == (TW_PKT_VLAN | TW_PKT_DF), "pflags %#x", p.pflags);
	CHECK(p.payload_off == 14 + 8 + 20 + 20, "payload_off %u", p.payload_off);
	CHECK(p.payload_len == 12, "payload_len %u", p.payload_len);
	CHECK(p.sport == 1234 && p.dport == 80, "ports %u %u", p.sport, p.dport);
	CHECK(p.seq == 0x11223344 && p.ack == 0x55667788 && p.win == 0xabcd, "seq/ack/win");
	CHECK(p.tcp_flags == (TW_TCP_ACK | TW_TCP_PSH) && p.ttl == 77 && p.ip_id == 0xbeef, "flags/ttl/id");
	CHECK(p.family == TW_FAMILY_IPV4 && p.proto == TW_PROTO_TCP, "family/proto");
	CHECK(memcmp(p.saddr, (uint8_t[16]){ 10, 0, 0, 1 }, 16) == 0 &&
	              memcmp(p.daddr, (uint8_t[16]){ 10, 0, 0, 2 }, 16) == 0,
	      "addresses, rest zero");
	CHECK(memcmp(fbuf + p.payload_off, pl, 12) == 0, "payload bytes at payload_off");
	printf("ok   two VLAN tags (802.1ad + 802.1Q): fields, payload_off %u, payload_len %u\n", p.payload_off,
	       p.payload_len);

	/* IPv4 options: IHL 6..15 */
	for (int ol = 4; ol <= 40; ol += 4) {
		struct pb_pkt o = { .family = 4,
			            .ip_opt_len = (uint8_t)ol,
			            .l4 = 17,
			            .sport = 53,
			            .dport = 3333,
			            .payload = pl,
			            .payload_len = 5 };
		n = build(&o);
		rc = parse_n(fbuf, n, &p);
		CHECK(rc == TW_PARSE_OK && p.payload_off == 14 + 20 + ol + 8 && p.payload_len == 5 && p.sport == 53 &&
		              p.dport == 3333,
		      "IHL %d: rc %s off %u len %u ports %u %u", 5 + ol / 4, rc_name(rc), p.payload_off, p.payload_len,
		      p.sport, p.dport);
	}
	printf("ok   IPv4 options, IHL 6..15: ports and payload_off/len right\n");

	/* IPv4 first fragment is tracked and flagged */
	struct pb_pkt ff = { .family = 4, .mf = 1, .payload_len = 100 };
	n = build(&ff);
	rc = parse_n(fbuf, n, &p);
	CHECK(rc == TW_PARSE_OK && (p.pflags & TW_PKT_FIRST_FRAG) && !(p.pflags & TW_PKT_DF),
	      "v4 first frag rc %s pflags %#x", rc_name(rc), p.pflags);
	struct pb_pkt ff6 = {
		.family = 6, .next = 1, .ext = { { .type = 44, .more = 1, .ident = 7 } }, .payload_len = 100
	};
	n = build(&ff6);
	rc = parse_n(fbuf, n, &p);
	CHECK(rc == TW_PARSE_OK && (p.pflags & TW_PKT_FIRST_FRAG) && p.payload_off == 14 + 48 + 20 &&
	              p.payload_len == 100,
	      "v6 first frag rc %s pflags %#x off %u len %u", rc_name(rc), p.pflags, p.payload_off, p.payload_len);
	printf("ok   IPv4 (MF, offset 0) and IPv6 (fragment header, offset 0, M) first fragments tracked with "
	       "TW_PKT_FIRST_FRAG\n");

	/* IPv6 with extension headers: payload_off / payload_len */
	struct pb_pkt x6 = { .family = 6,
		             .src = A6(1),
		             .dst = A6(2),
		             .ttl = 33,
		             .next = 3,
		             .ext = { { .type = 0, .hdrlen = 1 }, { .type = 51, .hdrlen = 4 }, { .type = 60 } },
		             .l4 = 17,
		             .sport = 1000,
		             .dport = 53,
		             .payload = pl,
		             .payload_len = 12 };
	n = build(&x6);
	rc = parse_n(fbuf, n, &p);
	CHECK(rc == TW_PARSE_OK && p.payload_off == 14 + 40 + 16 + 24 + 8 + 8 && p.payload_len == 12 && p.ttl == 33 &&
	              p.ip_id == 0 && p.family == TW_FAMILY_IPV6 && p.proto == TW_PROTO_UDP &&
	              memcmp(p.saddr, x6.src, 16) == 0 && memcmp(p.daddr, x6.dst, 16) == 0,
	      "v6 ext: rc %s off %u len %u", rc_name(rc), p.payload_off, p.payload_len);
	printf("ok   IPv6 hop-by-hop + AH + dest opts, UDP: payload_off %u, payload_len %u\n", p.payload_off,
	       p.payload_len);

	/* payload_len follows the IP header, not the frame: Ethernet padding
	 * is not payload, a snapped frame still announces its full length */
	struct pb_pkt pad = { .family = 4, .flags = TW_TCP_ACK };
	n = build(&pad);
	memset(fbuf + n, 0xee, 60 - n);
	rc = parse_n(fbuf, 60, &p);
	CHECK(rc == TW_PARSE_OK && p.payload_len == 0, "padded 60-byte frame: payload_len %u", p.payload_len);
	struct pb_pkt big = { .family = 4, .payload_len = 1000 };
	n = build(&big);
	rc = parse_n(fbuf, 100, &p);
	CHECK(rc == TW_PARSE_OK && p.payload_len == 1000 && p.payload_off == 54, "snapped: len %u off %u",
	      p.payload_len, p.payload_off);
	struct pb_pkt lie = { .family = 4,
		              .ip_tot_len = 30,
		              .payload_len = 10 }; /* tot_len shorter than the TCP header */
	n = build(&lie);
	rc = parse_n(fbuf, n, &p);
	CHECK(rc == TW_PARSE_OK && p.payload_len == 0, "tot_len < headers: payload_len %u", p.payload_len);
	struct pb_pkt ulie = { .family = 6, .l4 = 17, .ip6_plen = 5 };
	n = build(&ulie);
	rc = parse_n(fbuf, n, &p);
	CHECK(rc == TW_PARSE_OK && p.payload_len == 0, "UDP plen < 8: payload_len %u", p.payload_len);
	printf("ok   payload_len: Ethernet padding ignored, snapped frame keeps the announced length, short length "
	       "fields give 0\n");

	/* TCP options: MSS + NOP + wscale in a SYN */
	struct pb_pkt syn = { .family = 4, .flags = TW_TCP_SYN, .mss = 1460, .has_wscale = 1, .wscale = 7 };
	n = build(&syn);
	rc = parse_n(fbuf, n, &p);
	CHECK(rc == TW_PARSE_OK && (p.pflags & TW_PKT_HAS_WSCALE) && p.wscale == 7 && p.opt_len == 8 &&
	              p.payload_off == 14 + 20 + 28 && p.payload_len == 0,
	      "SYN ws: rc %s pflags %#x ws %u opt_len %u", rc_name(rc), p.pflags, p.wscale, p.opt_len);
	printf("ok   SYN MSS+NOP+WS(7): wscale 7, opt_len 8\n");
}

struct opt_case {
	const char *name;
	uint8_t opts[40];
	uint32_t len;
	int has;
	uint8_t ws;
};

static const struct opt_case opt_cases[] = {
	{ "WS alone", { 3, 3, 9 }, 3, 1, 9 },
	{ "MSS, SACK-perm, TS, NOP, WS (Linux)",
	  { 2, 4, 5, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7 },
	  20,
	  1,
	  7 },
	{ "WS 20 clamped to 14", { 1, 3, 3, 20 }, 4, 1, 14 },
	{ "WS with length 2 (malformed)", { 3, 2, 1, 1 }, 4, 0, 0 },
	{ "WS with length 4 (malformed)", { 3, 4, 7, 0 }, 4, 0, 0 },
	{ "option length 0 stops the walk", { 2, 0, 3, 3, 7 }, 5, 0, 0 },
	{ "option length 1 stops the walk", { 8, 1, 3, 3, 7 }, 5, 0, 0 },
	{ "option overruns the option space", { 1, 1, 8, 10, 0, 0, 3, 3, 7 }, 6, 0, 0 },
	{ "WS cut by the option length", { 1, 3, 3, 7 }, 3, 0, 0 },
	{ "kind without length byte at the end", { 1, 1, 1, 3 }, 4, 0, 0 },
	{ "WS after EOL ignored", { 0, 3, 3, 7 }, 4, 0, 0 },
	{ "WS behind 12 NOPs (walk bound)", { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 7 }, 15, 0, 0 },
	{ "WS behind 11 NOPs", { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 7 }, 14, 1, 7 },
	{ "empty", { 0 }, 0, 0, 0 },
};

static void test_tcp_opts(void)
{
	for (size_t i = 0; i < sizeof(opt_cases) / sizeof(opt_cases[0]); i++) {
		const struct opt_case *c = &opt_cases[i];
		uint8_t buf[TW_TCP_OPT_BUF] = { 0 };
		memcpy(buf, c->opts, c->len);
		/* bytes past len would make a wscale: they must not be read */
		if (c->len + 3 <= sizeof(buf)) {
			buf[c->len] = 3;
			buf[c->len + 1] = 3;
			buf[c->len + 2] = 5;
		}
		struct tw_pkt p;
		memset(&p, 0, sizeof(p));
		tw_parse_tcp_opts(buf, c->len, &p);
		int has = !!(p.pflags & TW_PKT_HAS_WSCALE);
		CHECK(has == c->has && (!has || p.wscale == c->ws), "%s: has %d ws %u", c->name, has, p.wscale);
		printf("ok   tcp opts %-40s -> %s %u\n", c->name, has ? "wscale" : "no wscale", p.wscale);
	}

	/* a length over 40 (the most a TCP header holds) is clamped: a WS
	 * at offset 40 of the buffer is outside the option space */
	{
		uint8_t buf[TW_TCP_OPT_BUF] = { 30, 40 };
		buf[40] = 3;
		buf[41] = 3;
		buf[42] = 6;
		struct tw_pkt p;
		memset(&p, 0, sizeof(p));
		tw_parse_tcp_opts(buf, TW_TCP_OPT_BUF, &p);
		CHECK(!(p.pflags & TW_PKT_HAS_WSCALE), "len 64: WS beyond 40 bytes parsed");
		printf("ok   tcp opts length 64 clamped to 40: WS at offset 40 not read\n");
	}

	/* through the frame: a malformed WS in a real SYN is ignored */
	static const uint8_t bad[] = { 3, 2 };
	struct pb_pkt syn = { .family = 6, .flags = TW_TCP_SYN, .mss = 1440, .opt_raw = bad, .opt_raw_len = 2 };
	size_t n = build(&syn);
	struct tw_pkt p;
	int rc = parse_n(fbuf, n, &p);
	CHECK(rc == TW_PARSE_OK && !(p.pflags & TW_PKT_HAS_WSCALE) && p.opt_len == 8, "malformed ws in SYN: pflags %#x",
	      p.pflags);
	printf("ok   SYN with a malformed WS option (len 2): wscale ignored\n");
}

/* TCP timestamps are read on every packet, only in the NOP,NOP,TS layout
 * at the start of the options, and only when all 12 bytes are inside both
 * the TCP header and the captured frame. */
static void test_tcp_timestamps(void)
{
	static const uint8_t ts[] = { 1, 1, 8, 10, 1, 2, 3, 4, 10, 11, 12, 13 };
	static const uint8_t ts_first[] = { 8, 10, 1, 2, 3, 4, 10, 11, 12, 13, 1, 1 };
	static const uint8_t ts_short[] = { 1, 1, 8, 10, 1, 2, 3, 4 }; /* doff 28: the TS runs into the payload */
	static const struct {
		const char *name;
		const uint8_t *opts;
		uint8_t len;
		size_t cut; /* frame bytes dropped from the end */
		int has;
	} cases[] = {
		{ "NOP,NOP,TS", ts, sizeof(ts), 0, 1 },
		{ "TS first (another layout: not read)", ts_first, sizeof(ts_first), 0, 0 },
		{ "TS cut by the data offset", ts_short, sizeof(ts_short), 0, 0 },
		{ "frame cut inside the TS option", ts, sizeof(ts), 100 + 6, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pb_pkt d = { .family = 4,
			            .flags = TW_TCP_ACK | TW_TCP_PSH,
			            .payload_len = 100,
			            .payload_fill = 0x0a,
			            .opt_raw = cases[i].opts,
			            .opt_raw_len = cases[i].len };
		size_t n = build(&d);
		struct tw_pkt p;
		int rc = parse_n(fbuf, n - cases[i].cut, &p);
		int has = !!(p.pflags & TW_PKT_HAS_TS);
		CHECK(rc == TW_PARSE_OK && has == cases[i].has && (!has || (p.tsval == 0x0304 && p.tsecr == 0x0c0d)),
		      "%s: rc %s has %d val %#x ecr %#x", cases[i].name, rc_name(rc), has, p.tsval, p.tsecr);
		printf("ok   tcp timestamps: %-40s -> %s\n", cases[i].name, has ? "read" : "not read");
	}
}

/* ----------------------------------------------------------- key and init */

static void pkt_of(const struct pb_pkt *d, struct tw_pkt *p)
{
	size_t n = build(d);
	int rc = parse_n(fbuf, n, p);
	if (rc != TW_PARSE_OK) {
		printf("FAIL: helper packet did not parse: %s\n", rc_name(rc));
		exit(1);
	}
}

static void test_key(void)
{
	struct {
		const char *name;
		struct pb_pkt a;
	} cases[] = {
		{ "IPv4 low->high",
		  { .family = 4, .src = A4(10, 0, 0, 1), .dst = A4(10, 0, 0, 2), .sport = 40000, .dport = 443 } },
		{ "IPv4 high->low",
		  { .family = 4, .src = A4(192, 168, 1, 1), .dst = A4(10, 0, 0, 2), .sport = 40000, .dport = 443 } },
		{ "IPv4 same addr, ports",
		  { .family = 4, .src = A4(127, 0, 0, 1), .dst = A4(127, 0, 0, 1), .sport = 40000, .dport = 443 } },
		{ "IPv6 differ in 2nd half", { .family = 6, .src = A6(9), .dst = A6(3), .sport = 1, .dport = 2 } },
		{ "IPv6 differ in 1st half",
		  { .family = 6, .src = { 0xfe, 0x80 }, .dst = A6(3), .sport = 5, .dport = 5 } },
		{ "UDP",
		  { .family = 4,
		    .l4 = 17,
		    .src = A4(8, 8, 8, 8),
		    .dst = A4(10, 0, 0, 2),
		    .sport = 53,
		    .dport = 33333 } },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pb_pkt b = cases[i].a;
		memcpy(b.src, cases[i].a.dst, 16);
		memcpy(b.dst, cases[i].a.src, 16);
		b.sport = cases[i].a.dport;
		b.dport = cases[i].a.sport;
		struct tw_pkt pa, pb;
		struct tw_flow_key ka, kb;
		memset(&ka, 0xaa, sizeof(ka));
		memset(&kb, 0x55, sizeof(kb));
		pkt_of(&cases[i].a, &pa);
		pkt_of(&b, &pb);
		int sa = tw_flow_key_make(&pa, &ka);
		int sb = tw_flow_key_make(&pb, &kb);
		CHECK(memcmp(&ka, &kb, sizeof(ka)) == 0, "%s: keys differ", cases[i].name);
		CHECK(sa == !sb, "%s: src_is_b %d %d", cases[i].name, sa, sb);
		/* side a is the lower (address, port) pair */
		const struct tw_pkt *lo = sa ? &pb : &pa;
		CHECK(memcmp(ka.addr_a, lo->saddr, 16) == 0 && ka.port_a == lo->sport,
		      "%s: side a is not the source of the low packet", cases[i].name);
		CHECK(ka.family == pa.family && ka.proto == pa.proto && ka.reserved[0] == 0 && ka.reserved[1] == 0,
		      "%s: family/proto/reserved", cases[i].name);
		printf("ok   key %-28s symmetric, src_is_b %d/%d\n", cases[i].name, sa, sb);
	}
}

struct init_case {
	const char *name;
	struct pb_pkt pkt;
	int sender_is_client;
	__u16 flags;
};

static const struct init_case init_cases[] = {
	{ "SYN: sender is client",
	  { .family = 4,
	    .src = A4(10, 0, 0, 9),
	    .dst = A4(10, 0, 0, 1),
	    .sport = 50000,
	    .dport = 443,
	    .flags = TW_TCP_SYN },
	  1,
	  0 },
	{ "SYN from low side",
	  { .family = 4,
	    .src = A4(10, 0, 0, 1),
	    .dst = A4(10, 0, 0, 9),
	    .sport = 443,
	    .dport = 50000,
	    .flags = TW_TCP_SYN },
	  1,
	  0 },
	{ "SYN-ACK first: receiver is client",
	  { .family = 4,
	    .src = A4(10, 0, 0, 1),
	    .dst = A4(10, 0, 0, 9),
	    .sport = 443,
	    .dport = 50000,
	    .flags = TW_TCP_SYN | TW_TCP_ACK },
	  0,
	  TW_FLOW_SYNACK_FIRST },
	{ "SYN-ACK first, high side",
	  { .family = 6, .src = A6(9), .dst = A6(1), .sport = 443, .dport = 50000, .flags = TW_TCP_SYN | TW_TCP_ACK },
	  0,
	  TW_FLOW_SYNACK_FIRST },
	{ "mid-stream ACK from server port",
	  { .family = 4,
	    .src = A4(10, 0, 0, 1),
	    .dst = A4(10, 0, 0, 9),
	    .sport = 443,
	    .dport = 50000,
	    .flags = TW_TCP_ACK },
	  0,
	  TW_FLOW_MIDSTREAM },
	{ "mid-stream ACK from client port",
	  { .family = 4,
	    .src = A4(10, 0, 0, 9),
	    .dst = A4(10, 0, 0, 1),
	    .sport = 50000,
	    .dport = 443,
	    .flags = TW_TCP_ACK | TW_TCP_PSH },
	  1,
	  TW_FLOW_MIDSTREAM },
	{ "SYN+RST is mid-stream",
	  { .family = 4,
	    .src = A4(10, 0, 0, 9),
	    .dst = A4(10, 0, 0, 1),
	    .sport = 50000,
	    .dport = 443,
	    .flags = TW_TCP_SYN | TW_TCP_RST },
	  1,
	  TW_FLOW_MIDSTREAM },
	{ "UDP to port 53",
	  { .family = 4, .l4 = 17, .src = A4(10, 0, 0, 1), .dst = A4(10, 0, 0, 9), .sport = 33000, .dport = 53 },
	  1,
	  0 },
	{ "UDP from port 53",
	  { .family = 4, .l4 = 17, .src = A4(10, 0, 0, 1), .dst = A4(10, 0, 0, 9), .sport = 53, .dport = 33000 },
	  0,
	  0 },
	{ "UDP from port 53 to port 123",
	  { .family = 4, .l4 = 17, .src = A4(10, 0, 0, 1), .dst = A4(10, 0, 0, 9), .sport = 53, .dport = 123 },
	  0,
	  0 },
	{ "UDP 53 <-> 53",
	  { .family = 4, .l4 = 17, .src = A4(10, 0, 0, 1), .dst = A4(10, 0, 0, 9), .sport = 53, .dport = 53 },
	  1,
	  0 },
	{ "UDP from well-known port",
	  { .family = 6, .l4 = 17, .src = A6(1), .dst = A6(2), .sport = 123, .dport = 40000 },
	  0,
	  0 },
	{ "UDP to well-known port",
	  { .family = 6, .l4 = 17, .src = A6(1), .dst = A6(2), .sport = 40000, .dport = 123 },
	  1,
	  0 },
};

static void test_init(void)
{
	for (size_t i = 0; i < sizeof(init_cases) / sizeof(init_cases[0]); i++) {
		const struct init_case *c = &init_cases[i];
		struct tw_pkt p;
		struct tw_flow_key k;
		struct tw_flow f;
		pkt_of(&c->pkt, &p);
		int sb = tw_flow_key_make(&p, &k);
		memset(&f, 0x5a, sizeof(f));
		tw_flow_init(&f, &p, sb, 42);
		int dir = tw_pkt_dir(&f, sb);
		CHECK(dir == (c->sender_is_client ? TW_DIR_C2S : TW_DIR_S2C), "%s: dir %d", c->name, dir);
		CHECK(f.flags == c->flags, "%s: flags %#x want %#x", c->name, f.flags, c->flags);
		CHECK(f.flow_id == 42 && f.state == TW_TCP_NONE && f.dir[0].wscale == 0xff && f.dir[1].wscale == 0xff &&
		              f.dir[0].packets == 0 && !(f.flags & (TW_FLOW_RST_C2S | TW_FLOW_RST_S2C)) &&
		              f.base_ns == 0 && f.later_us == 0,
		      "%s: init fields", c->name);
		CHECK(tw_pkt_dir(&f, !sb) == !dir, "%s: reverse dir", c->name);
		printf("ok   init %-36s dir %s flags %#x\n", c->name, dir ? "S2C" : "C2S", f.flags);
	}
}

/* ------------------------------------------------------------------ track */

struct sim {
	struct tw_flow_key key;
	struct tw_flow f;
	int have;
	struct pb_pkt base; /* client -> server template */
	struct tw_pkt_ctx ctx;
	int dir;
};

/* Send one packet: c2s or s2c with the given fields; returns the event bits. */
static __u32 sim_send(struct sim *s, int c2s, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win, uint8_t ttl,
                      size_t paylen, uint64_t now)
{
	struct pb_pkt d = s->base;
	if (!c2s) {
		memcpy(d.src, s->base.dst, 16);
		memcpy(d.dst, s->base.src, 16);
		d.sport = s->base.dport;
		d.dport = s->base.sport;
	}
	d.flags = flags;
	d.seq = seq;
	d.ack = ack;
	d.win = win;
	d.ttl = ttl;
	d.payload_len = paylen;
	d.payload_fill = (uint8_t)seq;
	if (flags & TW_TCP_SYN) {
		d.mss = 1460;
		d.has_wscale = 1;
		d.wscale = c2s ? 7 : 8;
	}
	size_t n = build(&d);
	struct tw_pkt p;
	int rc = parse_n(fbuf, n, &p);
	if (rc != TW_PARSE_OK) {
		printf("FAIL: sim packet: %s\n", rc_name(rc));
		exit(1);
	}
	struct tw_flow_key k;
	int sb = tw_flow_key_make(&p, &k);
	if (!s->have) {
		s->key = k;
		tw_flow_init(&s->f, &p, sb, 7);
		s->have = 1;
	}
	CHECK(memcmp(&k, &s->key, sizeof(k)) == 0, "sim key changed");
	s->dir = tw_pkt_dir(&s->f, sb);
	memset(&s->ctx, 0x77, sizeof(s->ctx));
	return tw_track(&s->f, &p, s->dir, now, 1, (uint32_t)n, &s->ctx);
}

#define C2S 1
#define S2C 0
#define EV(t) TW_EVBIT(TW_EV_##t)

static void test_track_tcp(void)
{
	struct sim s = {
		.base = { .family = 4, .src = A4(10, 0, 0, 2), .dst = A4(10, 0, 0, 1), .sport = 40000, .dport = 443 }
	};
	__u32 ev;
	uint64_t t = 1000000;

	ev = sim_send(&s, C2S, TW_TCP_SYN, 1000, 0, 64240, 64, 0, t += 10);
	CHECK(ev == 0 && s.f.state == TW_TCP_SYN_SENT && s.dir == TW_DIR_C2S && s.f.dir[0].wscale == 7 &&
	              s.f.dir[0].isn == 1000 && s.f.dir[0].next_seq == 1001 && s.f.dir[0].syn_count == 1,
	      "SYN: ev %#x state %u", ev, s.f.state);
	CHECK(s.ctx.stage == TW_STAGE_SYN && s.ctx.sender_seen == 0 && s.ctx.in_window == 1, "SYN ctx");
	ev = sim_send(&s, S2C, TW_TCP_SYN | TW_TCP_ACK, 5000, 1001, 65160, 50, 0, t += 10);
	CHECK(ev == 0 && s.f.state == TW_TCP_SYN_RCVD && s.dir == TW_DIR_S2C && s.f.dir[1].wscale == 8 &&
	              s.f.dir[1].ttl_base == 50,
	      "SYN-ACK: ev %#x state %u", ev, s.f.state);
	CHECK(s.ctx.ack_rel == 0 && s.ctx.since_other_ns == 10, "SYN-ACK ctx ack_rel %d since %llu", s.ctx.ack_rel,
	      (unsigned long long)s.ctx.since_other_ns);
	ev = sim_send(&s, C2S, TW_TCP_ACK, 1001, 5001, 502, 64, 0, t += 10);
	CHECK(ev == EV(HANDSHAKE) && s.f.state == TW_TCP_ESTABLISHED, "ACK: ev %#x state %u", ev, s.f.state);
	ev = sim_send(&s, C2S, TW_TCP_ACK, 1001, 5001, 502, 64, 0, t += 10);
	CHECK(ev == 0, "second ACK: ev %#x", ev);
	printf("ok   track: SYN, SYN-ACK, ACK -> HANDSHAKE once (state SYN_SENT, SYN_RCVD, ESTABLISHED)\n");

	ev = sim_send(&s, C2S, TW_TCP_ACK | TW_TCP_PSH, 1001, 5001, 502, 64, 100, t += 10);
	CHECK(ev == EV(CLIENT_DATA) && s.ctx.stage == TW_STAGE_HANDSHAKE && s.ctx.seq_rel == 0 &&
	              s.ctx.in_window == 1 && (s.f.flags & TW_FLOW_CLIENT_DATA) && s.f.dir[0].first_data_seq == 1001 &&
	              s.f.dir[0].next_seq == 1101,
	      "client data: ev %#x stage %u", ev, s.ctx.stage);
	/* window the client sees: server's raw window 65160 (on the SYN-ACK
	 * only: unscaled while the server sent nothing but its SYN-ACK) */
	CHECK(s.ctx.rcv_window == 65160, "client data rcv_window %u", s.ctx.rcv_window);
	ev = sim_send(&s, C2S, TW_TCP_ACK | TW_TCP_PSH, 1101, 5001, 502, 64, 50, t += 10);
	CHECK(ev == 0 && s.f.dir[0].next_seq == 1151, "second client payload: ev %#x", ev);
	printf("ok   track: first client payload -> CLIENT_DATA once (stage HANDSHAKE, seq_rel 0, in_window)\n");

	/* three RSTs "from the server", as an injector sends them */
	uint64_t t_last_client = t;
	ev = sim_send(&s, S2C, TW_TCP_RST | TW_TCP_ACK, 5001, 1151, 0, 61, 0, t += 5);
	CHECK(ev == EV(RST) && s.dir == TW_DIR_S2C, "RST 1: ev %#x", ev);
	CHECK(s.ctx.stage == TW_STAGE_CLIENT_DATA && s.ctx.sender_ttl_base == 50 && s.ctx.seq_rel == 0 &&
	              s.ctx.in_window == 1 && s.ctx.sender_seen == 1 && s.ctx.ack_rel == 0 &&
	              s.ctx.since_other_ns == t - t_last_client,
	      "RST 1 ctx: stage %u ttl_base %u seq_rel %d in_window %u ack_rel %d since %llu", s.ctx.stage,
	      s.ctx.sender_ttl_base, s.ctx.seq_rel, s.ctx.in_window, s.ctx.ack_rel,
	      (unsigned long long)s.ctx.since_other_ns);
	/* client window now scaled: 502 << 7 = 64256 */
	CHECK(s.ctx.rcv_window == 502u << 7, "RST 1 rcv_window %u", s.ctx.rcv_window);
	CHECK(s.f.state == TW_TCP_RESET && (s.f.flags & (TW_FLOW_RST_C2S | TW_FLOW_RST_S2C)) == TW_FLOW_RST_S2C,
	      "RST 1 flow");
	ev = sim_send(&s, S2C, TW_TCP_RST, 5001 + 1000, 0, 0, 62, 0, t += 5);
	CHECK(ev == EV(RST) && s.ctx.seq_rel == 1000 && s.ctx.in_window == 1 && s.ctx.stage == TW_STAGE_CLIENT_DATA &&
	              s.ctx.sender_ttl_base == 50,
	      "RST 2: ev %#x seq_rel %d in_window %u", ev, s.ctx.seq_rel, s.ctx.in_window);
	ev = sim_send(&s, S2C, TW_TCP_RST, 5001 + 100000, 0, 0, 63, 0, t += 5);
	CHECK(ev == EV(RST) && s.ctx.seq_rel == 100000 && s.ctx.in_window == 0 && s.ctx.sender_ttl_base == 50,
	      "RST 3: ev %#x seq_rel %d in_window %u", ev, s.ctx.seq_rel, s.ctx.in_window);
	CHECK(s.f.dir[1].rst_count == 3 && (s.f.flags & (TW_FLOW_RST_C2S | TW_FLOW_RST_S2C)) == TW_FLOW_RST_S2C,
	      "rst_count %u flags %#x", s.f.dir[1].rst_count, s.f.flags);
	printf("ok   track: 3 RSTs from server after client data -> 3 RST events (stage CLIENT_DATA, ttl_base 50, "
	       "seq_rel 0/1000/100000, in_window 1/1/0)\n");

	ev = sim_send(&s, S2C, TW_TCP_ACK | TW_TCP_PSH, 5001, 1151, 509, 50, 300, t += 5);
	CHECK(ev == (EV(SERVER_DATA) | EV(DATA_AFTER_RST)) && (s.f.flags & TW_FLOW_DATA_AFTER_RST),
	      "server data after RST: ev %#x", ev);
	ev = sim_send(&s, S2C, TW_TCP_ACK | TW_TCP_PSH, 5301, 1151, 509, 50, 300, t += 5);
	CHECK(ev == 0, "second server data after RST: ev %#x", ev);
	printf("ok   track: server data after its RST -> SERVER_DATA + DATA_AFTER_RST once\n");

	/* retransmission of the first client payload */
	ev = sim_send(&s, C2S, TW_TCP_ACK | TW_TCP_PSH, 1001, 5601, 502, 64, 100, t += 5);
	CHECK(ev == 0 && s.f.dir[0].retrans == 1 && s.f.dir[0].next_seq == 1151 && s.ctx.seq_rel == -150,
	      "client retransmit: ev %#x retrans %u seq_rel %d", ev, s.f.dir[0].retrans, s.ctx.seq_rel);
	/* client data does not make DATA_AFTER_RST: the RST came from the server */
	ev = sim_send(&s, C2S, TW_TCP_ACK | TW_TCP_PSH, 1151, 5601, 502, 64, 10, t += 5);
	CHECK(ev == 0 && s.f.dir[0].retrans == 1, "client new data: ev %#x", ev);
	printf("ok   track: retransmitted payload counts retrans (seq_rel -150), no event\n");
	CHECK(s.f.dir[0].packets == 7 && s.f.dir[1].packets == 6, "packets %u %u", s.f.dir[0].packets,
	      s.f.dir[1].packets);
	CHECK(tw_dir_payload_bytes(&s.f.dir[0]) == 260 && tw_dir_payload_bytes(&s.f.dir[1]) == 600, "payload bytes");
	CHECK(s.f.dir[1].ttl_min == 50 && s.f.dir[1].ttl_max == 63 && s.f.dir[1].ttl_last == 50, "ttl min/max");
}

/* The compact encodings of tw_dir_state (flow.h): the flow's base time and
 * each direction's first packet in us after it, exact on a us grid, down to
 * the us below otherwise, saturated; 40-bit byte counters that carry and
 * saturate. */
static void test_track_compact(void)
{
	struct sim s = {
		.base = { .family = 4, .src = A4(10, 0, 0, 2), .dst = A4(10, 0, 0, 1), .sport = 40001, .dport = 443 }
	};
	uint64_t t0 = 1700000000123456000ull; /* a capture time, on the us grid */

	sim_send(&s, C2S, TW_TCP_SYN, 1000, 0, 64240, 64, 0, t0);
	CHECK(s.f.base_ns == t0 && s.f.later_us == 0 && !(s.f.flags & TW_FLOW_FIRST_S2C) &&
	              tw_flow_first_ns(&s.f, 0) == t0 && tw_flow_first_ns(&s.f, 1) == 0,
	      "base %llu later_us %u", (unsigned long long)s.f.base_ns, s.f.later_us);
	sim_send(&s, S2C, TW_TCP_SYN | TW_TCP_ACK, 5000, 1001, 65160, 50, 0, t0 + 7654321);
	CHECK(s.f.base_ns == t0 && s.f.later_us == 7654 && tw_flow_first_ns(&s.f, 1) == t0 + 7654000 &&
	              tw_flow_first_ns(&s.f, 0) == t0 && s.f.dir[1].last_ns == t0 + 7654321,
	      "SYN-ACK later_us %u", s.f.later_us);
	sim_send(&s, C2S, TW_TCP_ACK, 1001, 5001, 502, 64, 0, t0 + 9000000);
	CHECK(s.f.base_ns == t0 && s.f.later_us == 7654 && tw_flow_first_ns(&s.f, 0) == t0 &&
	              s.f.dir[0].last_ns == t0 + 9000000,
	      "ACK keeps base");

	/* the server's packet first (the client's SYN missed): its direction
	 * holds the base, the client's first packet is the later one */
	struct sim r = {
		.base = { .family = 4, .src = A4(10, 0, 0, 2), .dst = A4(10, 0, 0, 1), .sport = 40002, .dport = 443 }
	};
	sim_send(&r, S2C, TW_TCP_SYN | TW_TCP_ACK, 5000, 1001, 65160, 50, 0, t0);
	sim_send(&r, C2S, TW_TCP_ACK, 1001, 5001, 502, 64, 0, t0 + 2500999);
	CHECK(r.f.base_ns == t0 && (r.f.flags & TW_FLOW_FIRST_S2C) && r.f.later_us == 2500 &&
	              tw_flow_first_ns(&r.f, TW_DIR_S2C) == t0 && tw_flow_first_ns(&r.f, TW_DIR_C2S) == t0 + 2500000,
	      "server first: flags %#x later_us %u", r.f.flags, r.f.later_us);

	/* a packet stamped before the base (another CPU's clock): 0, not a wrap */
	struct tw_flow g = s.f;
	CHECK(tw_flow_us(&g, t0 - 5) == 0, "before base");
	CHECK(tw_flow_us(&g, t0 + (uint64_t)TW_FLOW_FIRST_US_MAX * 1000 + 5000000) == TW_FLOW_FIRST_US_MAX,
	      "later_us saturates");

	/* 40-bit counters: carry into the high byte, saturate at 2^40 - 1 */
	struct tw_dir_state d;
	memset(&d, 0, sizeof(d));
	d.bytes_lo = 0xfffffff0u;
	tw_ctr40_add(&d.bytes_lo, &d.bytes_hi, 0x20);
	CHECK(tw_dir_bytes(&d) == 0x100000010ull, "carry: %llx", (unsigned long long)tw_dir_bytes(&d));
	d.bytes_hi = 0xff;
	d.bytes_lo = 0xfffffff0u;
	tw_ctr40_add(&d.bytes_lo, &d.bytes_hi, 0x20);
	CHECK(tw_dir_bytes(&d) == 0xffffffffffull, "saturated: %llx", (unsigned long long)tw_dir_bytes(&d));
	tw_ctr40_add(&d.bytes_lo, &d.bytes_hi, 1500);
	CHECK(tw_dir_bytes(&d) == 0xffffffffffull, "stays saturated");
	/* through tw_track: 3 GiB of payload in one direction passes 2^32 */
	s.f.dir[1].payload_lo = 0xffffff00u;
	s.f.dir[1].bytes_lo = 0xffffff00u;
	sim_send(&s, S2C, TW_TCP_ACK, 5001, 1001, 502, 50, 1000, t0 + 10000000);
	CHECK(tw_dir_payload_bytes(&s.f.dir[1]) == 0xffffff00ull + 1000 && s.f.dir[1].payload_hi == 1 &&
	              tw_dir_bytes(&s.f.dir[1]) > 0x100000000ull,
	      "payload %llx", (unsigned long long)tw_dir_payload_bytes(&s.f.dir[1]));
	printf("ok   track: base_ns and later_us (exact on the us grid, floor else, saturated; either side first), "
	       "40-bit byte "
	       "counters carry and saturate\n");
}

static void test_track_fin(void)
{
	struct sim s = {
		.base = { .family = 6, .src = A6(1), .dst = A6(0x80), .sport = 50001, .dport = 80, .nvlan = 1 }
	};
	__u32 ev;
	uint64_t t = 5;
	sim_send(&s, C2S, TW_TCP_SYN, 7, 0, 1000, 64, 0, t++);
	sim_send(&s, S2C, TW_TCP_SYN | TW_TCP_ACK, 70, 8, 1000, 60, 0, t++);
	ev = sim_send(&s, C2S, TW_TCP_ACK, 8, 71, 1000, 64, 0, t++);
	CHECK(ev == EV(HANDSHAKE), "v6 handshake %#x", ev);
	ev = sim_send(&s, C2S, TW_TCP_ACK | TW_TCP_PSH, 8, 71, 1000, 64, 20, t++);
	CHECK(ev == EV(CLIENT_DATA), "v6 client data %#x", ev);
	ev = sim_send(&s, S2C, TW_TCP_ACK | TW_TCP_PSH, 71, 28, 1000, 60, 40, t++);
	CHECK(ev == EV(SERVER_DATA) && s.ctx.stage == TW_STAGE_CLIENT_DATA, "v6 server data %#x", ev);
	ev = sim_send(&s, C2S, TW_TCP_ACK | TW_TCP_FIN, 28, 111, 1000, 64, 0, t++);
	CHECK(ev == EV(FIN) && s.f.state == TW_TCP_CLOSING && s.f.dir[0].next_seq == 29, "client FIN %#x state %u", ev,
	      s.f.state);
	ev = sim_send(&s, C2S, TW_TCP_ACK | TW_TCP_FIN, 28, 111, 1000, 64, 0, t++);
	CHECK(ev == 0 && s.f.dir[0].fin_count == 2 && s.f.state == TW_TCP_CLOSING, "client FIN again %#x", ev);
	ev = sim_send(&s, S2C, TW_TCP_ACK | TW_TCP_FIN, 111, 29, 1000, 60, 0, t++);
	CHECK(ev == EV(FIN) && s.f.state == TW_TCP_CLOSED && s.dir == TW_DIR_S2C, "server FIN %#x state %u", ev,
	      s.f.state);
	ev = sim_send(&s, S2C, TW_TCP_ACK | TW_TCP_FIN, 111, 29, 1000, 60, 0, t++);
	CHECK(ev == 0 && s.f.state == TW_TCP_CLOSED, "server FIN again %#x", ev);
	printf("ok   track: IPv6 (VLAN) FIN each way -> FIN per direction once, state CLOSING then CLOSED\n");

	/* FIN with payload: data event and FIN together */
	struct sim s2 = {
		.base = { .family = 4, .src = A4(1, 1, 1, 1), .dst = A4(2, 2, 2, 2), .sport = 1111, .dport = 80 }
	};
	sim_send(&s2, C2S, TW_TCP_SYN, 100, 0, 1000, 64, 0, 1);
	sim_send(&s2, S2C, TW_TCP_SYN | TW_TCP_ACK, 200, 101, 1000, 64, 0, 2);
	ev = sim_send(&s2, C2S, TW_TCP_ACK | TW_TCP_PSH | TW_TCP_FIN, 101, 201, 1000, 64, 10, 3);
	CHECK(ev == (EV(HANDSHAKE) | EV(CLIENT_DATA) | EV(FIN)) && s2.f.dir[0].next_seq == 112,
	      "ACK+data+FIN %#x next %u", ev, s2.f.dir[0].next_seq);
	printf("ok   track: first ACK carrying data and FIN -> HANDSHAKE + CLIENT_DATA + FIN\n");
}

static void test_track_wrap(void)
{
	struct sim s = {
		.base = { .family = 4, .src = A4(10, 9, 9, 9), .dst = A4(10, 0, 0, 1), .sport = 40000, .dport = 80 }
	};
	__u32 ev;
	const uint32_t isn = 0xffffffa0u;
	sim_send(&s, C2S, TW_TCP_SYN, isn, 0, 1000, 64, 0, 1);
	sim_send(&s, S2C, TW_TCP_SYN | TW_TCP_ACK, 0xfffffff0u, isn + 1, 1000, 64, 0, 2);
	ev = sim_send(&s, C2S, TW_TCP_ACK, isn + 1, 0xfffffff1u, 1000, 64, 0, 3);
	CHECK(ev == EV(HANDSHAKE), "wrap handshake %#x", ev);
	ev = sim_send(&s, C2S, TW_TCP_ACK, isn + 1, 0xfffffff1u, 1000, 64, 200, 4); /* crosses 2^32 */
	CHECK(ev == EV(CLIENT_DATA) && s.ctx.seq_rel == 0 && s.f.dir[0].next_seq == isn + 201 &&
	              s.f.dir[0].next_seq < 0x100,
	      "wrap data %#x next %#x", ev, s.f.dir[0].next_seq);
	ev = sim_send(&s, C2S, TW_TCP_ACK, isn + 201, 0xfffffff1u, 1000, 64, 100, 5);
	CHECK(ev == 0 && s.ctx.seq_rel == 0 && s.ctx.in_window == 1 && s.f.dir[0].retrans == 0 &&
	              s.f.dir[0].next_seq == isn + 301,
	      "after wrap: seq_rel %d retrans %u", s.ctx.seq_rel, s.f.dir[0].retrans);
	ev = sim_send(&s, C2S, TW_TCP_ACK, isn + 1, 0xfffffff1u, 1000, 64, 200,
	              6); /* retransmit from before the wrap */
	CHECK(ev == 0 && s.ctx.seq_rel == -300 && s.ctx.in_window == 0 && s.f.dir[0].retrans == 1 &&
	              s.f.dir[0].next_seq == isn + 301,
	      "retransmit across wrap: seq_rel %d retrans %u next %#x", s.ctx.seq_rel, s.f.dir[0].retrans,
	      s.f.dir[0].next_seq);
	/* server data crossing the wrap, then an RST at next_seq */
	ev = sim_send(&s, S2C, TW_TCP_ACK, 0xfffffff1u, isn + 301, 1000, 64, 100, 7);
	CHECK(ev == EV(SERVER_DATA) && s.f.dir[1].next_seq == 0x55, "server wrap next %#x", s.f.dir[1].next_seq);
	ev = sim_send(&s, S2C, TW_TCP_RST, 0x55, 0, 0, 64, 0, 8);
	CHECK(ev == EV(RST) && s.ctx.seq_rel == 0 && s.ctx.in_window == 1, "RST after wrap seq_rel %d", s.ctx.seq_rel);
	printf("ok   track: sequence wraparound near 2^32 (next_seq, seq_rel, retrans, in_window)\n");
}

static void test_track_midstream(void)
{
	struct sim s = {
		.base = { .family = 4, .src = A4(10, 9, 9, 9), .dst = A4(10, 0, 0, 1), .sport = 40000, .dport = 443 }
	};
	__u32 ev = sim_send(&s, S2C, TW_TCP_ACK, 9000, 100, 500, 55, 10, 1);
	CHECK(ev == EV(SERVER_DATA) && s.dir == TW_DIR_S2C && (s.f.flags & TW_FLOW_MIDSTREAM) &&
	              s.ctx.stage == TW_STAGE_MIDSTREAM && s.f.dir[1].next_seq == 9010 && s.f.dir[1].ttl_base == 55,
	      "midstream server data %#x flags %#x", ev, s.f.flags);
	ev = sim_send(&s, C2S, TW_TCP_RST, 100, 0, 0, 64, 0, 2);
	CHECK(ev == EV(RST) && s.ctx.stage == TW_STAGE_SERVER_DATA && s.ctx.sender_seen == 0 && s.ctx.in_window == 1,
	      "midstream RST stage %u", s.ctx.stage);
	/* RST on a SYN-only flow: stage SYN */
	struct sim s2 = {
		.base = { .family = 4, .src = A4(10, 9, 9, 9), .dst = A4(10, 0, 0, 1), .sport = 40001, .dport = 443 }
	};
	sim_send(&s2, C2S, TW_TCP_SYN, 1, 0, 100, 64, 0, 1);
	ev = sim_send(&s2, S2C, TW_TCP_RST | TW_TCP_ACK, 0, 2, 0, 64, 0, 2);
	CHECK(ev == EV(RST) && s2.ctx.stage == TW_STAGE_SYN && s2.ctx.ack_rel == 0, "RST to SYN stage %u",
	      s2.ctx.stage);
	/* RST after the SYN-ACK: stage HANDSHAKE */
	struct sim s3 = {
		.base = { .family = 4, .src = A4(10, 9, 9, 9), .dst = A4(10, 0, 0, 1), .sport = 40002, .dport = 443 }
	};
	sim_send(&s3, C2S, TW_TCP_SYN, 1, 0, 100, 64, 0, 1);
	sim_send(&s3, S2C, TW_TCP_SYN | TW_TCP_ACK, 50, 2, 100, 64, 0, 2);
	ev = sim_send(&s3, C2S, TW_TCP_RST, 2, 0, 0, 64, 0, 3);
	CHECK(ev == EV(RST) && s3.ctx.stage == TW_STAGE_HANDSHAKE && s3.dir == TW_DIR_C2S, "RST after SYN-ACK stage %u",
	      s3.ctx.stage);
	printf("ok   track: mid-stream pickup (MIDSTREAM stage), RST stages SYN / HANDSHAKE / SERVER_DATA\n");
}

static void test_track_dns(void)
{
	struct sim s = { .base = { .family = 4,
		                   .l4 = 17,
		                   .src = A4(10, 0, 0, 5),
		                   .dst = A4(8, 8, 8, 8),
		                   .sport = 33333,
		                   .dport = 53 } };
	__u32 ev;
	ev = sim_send(&s, C2S, 0, 0, 0, 0, 64, 30, 1);
	CHECK(ev == EV(DNS_QUERY) && s.dir == TW_DIR_C2S, "query 1 %#x", ev);
	ev = sim_send(&s, C2S, 0, 0, 0, 0, 64, 30, 2);
	CHECK(ev == EV(DNS_QUERY), "query 2 %#x", ev);
	ev = sim_send(&s, S2C, 0, 0, 0, 0, 58, 60, 3);
	CHECK(ev == EV(DNS_RESPONSE) && s.dir == TW_DIR_S2C && s.ctx.sender_ttl_base == 0, "response 1 %#x", ev);
	ev = sim_send(&s, S2C, 0, 0, 0, 0, 120, 60, 4);
	CHECK(ev == EV(DNS_RESPONSE) && s.ctx.sender_ttl_base == 58 && s.ctx.since_other_ns == 2, "response 2 %#x", ev);
	ev = sim_send(&s, S2C, 0, 0, 0, 0, 120, 0, 5);
	CHECK(ev == 0, "empty datagram %#x", ev);
	CHECK(s.f.state == TW_TCP_NONE && s.f.dir[1].ttl_min == 58 && s.f.dir[1].ttl_max == 120, "udp state");
	printf("ok   track: UDP/53: 2 queries -> 2 DNS_QUERY, 2 responses -> 2 DNS_RESPONSE, empty datagram none\n");

	/* non-DNS UDP: first payload each way */
	struct sim u = { .base = { .family = 6, .l4 = 17, .src = A6(5), .dst = A6(6), .sport = 40000, .dport = 443 } };
	ev = sim_send(&u, C2S, 0, 0, 0, 0, 64, 1200, 1);
	CHECK(ev == EV(CLIENT_DATA), "quic client %#x", ev);
	ev = sim_send(&u, C2S, 0, 0, 0, 0, 64, 1200, 2);
	CHECK(ev == 0, "quic client 2 %#x", ev);
	ev = sim_send(&u, S2C, 0, 0, 0, 0, 64, 1200, 3);
	CHECK(ev == EV(SERVER_DATA), "quic server %#x", ev);
	printf("ok   track: other UDP: CLIENT_DATA / SERVER_DATA once each\n");
}

static void test_event_fill(void)
{
	struct sim s = {
		.base = { .family = 4, .src = A4(10, 0, 0, 2), .dst = A4(10, 0, 0, 1), .sport = 40000, .dport = 443 }
	};
	sim_send(&s, C2S, TW_TCP_SYN, 1000, 0, 100, 64, 0, 1);
	/* rebuild the packet for the fill */
	struct pb_pkt d = s.base;
	d.flags = TW_TCP_ACK;
	d.seq = 1001;
	d.ack = 77;
	d.win = 300;
	d.ip_id = 0x4242;
	d.ttl = 33;
	d.payload_len = 9;
	struct tw_pkt p;
	pkt_of(&d, &p);
	struct tw_flow_key k;
	int sb = tw_flow_key_make(&p, &k);
	int dir = tw_pkt_dir(&s.f, sb);
	struct tw_pkt_ctx ctx;
	tw_track(&s.f, &p, dir, 99, 1, 60, &ctx);
	static uint8_t buf[sizeof(struct tw_event) + 16];
	struct tw_event *e = (struct tw_event *)buf;
	memset(buf, 0xcc, sizeof(buf));
	tw_event_fill(e, TW_EV_CLIENT_DATA, &k, &s.f, &p, &ctx, dir, 99, 5);
	CHECK(e->version == TW_EVENT_VERSION && e->type == TW_EV_CLIENT_DATA && e->len == sizeof(*e) &&
	              e->snippet_len == 0 && e->ts_ns == 99 && e->flow_id == 7 && e->ifindex == 5 &&
	              e->dir == TW_DIR_C2S && e->family == 4 && e->proto == 6,
	      "event header");
	CHECK(memcmp(e->caddr, d.src, 16) == 0 && memcmp(e->saddr, d.dst, 16) == 0 && e->cport == 40000 &&
	              e->sport == 443,
	      "orientation: client is the SYN sender");
	CHECK(e->ttl == 33 && e->tcp_flags == TW_TCP_ACK && e->seq == 1001 && e->ack == 77 && e->win == 300 &&
	              e->ip_id == 0x4242 && e->payload_len == 9 && e->reserved0 == 0 && e->reserved1[0] == 0 &&
	              e->reserved1[1] == 0,
	      "packet fields");
	CHECK(memcmp(&e->ctx, &ctx, sizeof(ctx)) == 0 && memcmp(&e->flow, &s.f, sizeof(s.f)) == 0, "ctx, flow copies");
	CHECK(tw_event_wants_snippet(TW_EV_CLIENT_DATA) && tw_event_wants_snippet(TW_EV_RST) &&
	              !tw_event_wants_snippet(TW_EV_HANDSHAKE) && !tw_event_wants_snippet(TW_EV_FIN) &&
	              tw_event_wants_snippet(TW_EV_DNS_RESPONSE),
	      "wants snippet");
	/* only a QUIC client's first datagram (UDP to 443) gets the larger bound */
	CHECK(tw_event_snippet_max(TW_EV_CLIENT_DATA, TW_PROTO_UDP, 443) == 2048 &&
	              tw_event_snippet_max(TW_EV_CLIENT_DATA, TW_PROTO_TCP, 443) == 1024 &&
	              tw_event_snippet_max(TW_EV_SERVER_DATA, TW_PROTO_UDP, 443) == 1024 &&
	              tw_event_snippet_max(TW_EV_CLIENT_DATA, TW_PROTO_UDP, 8443) == 1024 &&
	              tw_event_snippet_max(TW_EV_DNS_QUERY, TW_PROTO_UDP, 53) == 1024,
	      "snippet bounds");
	printf("ok   tw_event_fill: header, client/server orientation, packet fields, ctx and flow copies; snippet "
	       "bounds\n");
}

int main(void)
{
	test_parse_results();
	test_parse_fields();
	test_tcp_opts();
	test_tcp_timestamps();
	test_key();
	test_init();
	test_track_tcp();
	test_track_compact();
	test_track_fin();
	test_track_wrap();
	test_track_midstream();
	test_track_dns();
	test_event_fill();
	printf("%s: %d checks, %d failures\n", fails ? "FAIL" : "PASS", checks, fails);
	return fails ? 1 : 0;
}
