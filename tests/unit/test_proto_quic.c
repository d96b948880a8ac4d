/* Unit tests for the QUIC long-header parser and client Initial decryption.
 *
 * The protected packets are the client Initials of RFC 9001 Appendix A.2
 * (version 1) and RFC 9369 Appendix A.2 (version 2), DCID 8394c8f03e515708,
 * packet number 2, a ClientHello for example.com.  They were re-derived with
 * a second implementation (python3-cryptography) from the RFCs' plaintext
 * and checked against the RFCs' first and last 32 bytes, which include the
 * GCM tag, so every byte is the RFC's.  draft-29 has no packet here: its
 * keys are checked against values derived with python3-cryptography (they
 * match draft-ietf-quic-tls-29 Appendix A) and its packet is built by this
 * file's own protect(), which also rebuilds both RFC packets exactly.
 * Other packets (ACK, out-of-order CRYPTO, unknown frames, reserved bits)
 * are built with protect() too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/proto.h"
#include "quic_protect.h"

#include "check.h"

#define MARK(f0) (fails == (f0) ? "ok  " : "FAIL")

static const char v1_packet_hex[] =
        "c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11d242b123dc9bd8bab936b47d92ec356c"
        "0bab7df5976d27cd449f63300099f3991c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c"
        "8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df621230c83711b39343fa028cea7f7fb5ff89"
        "eac2308249a02252155e2347b63d58c5457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208"
        "4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec4e15daf8500a6ef69ec4e3feb6b1d98e"
        "610ac8b7ec3faf6ad760b7bad1db4ba3485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db"
        "059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c7b4378e846d29f37ed7b4ea9ec5d82e7"
        "961b7f25a9323851f681d582363aa5f89937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556"
        "be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c7468449a13d8e3b95811a198f3491de3e7"
        "fe942b330407abf82a4ed7c1b311663ac69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00"
        "f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632291d6a418211cc2962e20fe47feb3edf"
        "330f2c603a9d48c0fcb5699dbfe5896425c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd"
        "14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ffef132eef2fa09346aee33c28eb130ff2"
        "8f5b766953334113211996d20011a198e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd"
        "c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73203a4a13e96f5432ec0fd4a1ee65accd"
        "d5e3904df54c1da510b0ff20dcc0c77fcb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e"
        "fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03adea2e1fbc5aa463d08ca19896d2bf59a07"
        "1b851e6c239052172f296bfb5e72404790a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2"
        "162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f440591f355e12d439ff150aab7613499d"
        "bd49adabc8676eef023b15b65bfc5ca06948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e"
        "8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0be79e2fb8f5d5fbbe2e30ecadd220723"
        "c8c0aea8078cdfcb3868263ff8f0940054da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab"
        "760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9f96f3ca9ec1dde434da7d2d392b905dd"
        "f3d1f9af93d1af5950bd493f5aa731b4056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064"
        "7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241e221af44860018ab0856972e194cd934";
static const char v2_packet_hex[] =
        "d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485dd04de806071bf03dceebfa162e75d6c"
        "96058bdbfb127cdfcbf903388e99ad049f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d"
        "250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a12834e3f249a78d395e0d18f4d766004"
        "f1a2674802a747eaa901c3f10cda5500cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd68"
        "18f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff3312ae50b187c1433c0f028edcc4c2838b"
        "6a9bfc226ca4b4530e7a4ccee1bfa2a3d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd"
        "6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520bcfb7966fc49b393f0061d974a2706df"
        "8c4a9449f11d7f3d2dcbb90c6b877045636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1f"
        "ac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c1216ccce2d0193f958bb3850a833f7ae43"
        "2b65bc5a53975c155aa4bcb4f7b2c4e54df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4"
        "fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b8017c25ca9052ca1079d8b78aebd4787"
        "6d330a30f6a8c6d61dd1ab5589329de714d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff9"
        "9c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91abfe43960977c87471cf9ad4074d30e1"
        "0d6a7f03c63bd5d4317f68ff325ba3bd80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db"
        "848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18d703dd84045a274ae8bfa73379661388"
        "d6991fe39b0d93debb41700b41f90a15c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc"
        "7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61f6b5b984d4d3dfa033c1bb7e4f0037fe"
        "bf406d91c0dccf32acf423cfa1e7071010d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b"
        "3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e06ebfde206bfb0fcbc0edc4ebec30966"
        "1bdd908d532eb0c6adc38b7ca7331dce8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1"
        "34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1e86215c2d54e6670e07383a27bbffb5a"
        "ddf47d66aa85a0c6f9f32e59d85a44dd5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e3"
        "8d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89d5974ee12e5cf7d5da4d6a31123041f3"
        "3e61407e76cffcdcfd7e19ba58cf4b536f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19"
        "9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96ba18b2faa745b6fe189cf772a9f84cbfc";

/* RFC 9001 A.2: the CRYPTO frame (offset 0, 241 bytes of ClientHello) */
static const char crypto_frame_hex[] =
        "060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e86804fe3a47f06a2b69484c000004130113"
        "02010000c000000010000e00000b6578616d706c652e636f6dff01000100000a00080006001d00170018001000070005"
        "04616c706e000500050100000000003300260024001d00209370b2c9caa47fbabaf4559fedba753de171fa71f50f1ce1"
        "5d43e994ec74d748002b0003020304000d0010000e0403050306030203080408050806002d00020101001c0002400100"
        "3900320408ffffffffffffffff05048000ffff07048000ffff0801100104800075300901100f088394c8f03e51570806"
        "048000ffff";

static const uint8_t rfc_dcid[8] = { 0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08 };

#define PKT_MAX 2048
#define PAYLOAD_LEN 1162 /* RFC A.2: the payload is padded to 1162 bytes */

/* a QUIC varint in two bytes (v < 16384) */
static size_t v2byte(uint8_t *b, size_t v)
{
	b[0] = (uint8_t)(0x40 | v >> 8);
	b[1] = (uint8_t)v;
	return 2;
}

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = 0;
	while (h[0] && h[1] && n < cap) {
		unsigned v;
		if (sscanf(h, "%2x", &v) != 1)
			break;
		out[n++] = (uint8_t)v;
		h += 2;
	}
	return n;
}

static int eqhex(const uint8_t *b, size_t n, const char *h)
{
	uint8_t x[64];
	return unhex(h, x, sizeof(x)) == n && memcmp(b, x, n) == 0;
}

/* A client Initial for version/dcid carrying payload (padded with zeros to
 * PAYLOAD_LEN when shorter), packet number 2 in 4 bytes. */
static size_t build_initial(uint32_t version, uint8_t first, const uint8_t *dcid, size_t dlen, const uint8_t *payload,
                            size_t plen, uint8_t *out)
{
	struct tw_quic_keys k;
	uint8_t hdr[128], pl[PKT_MAX];
	size_t n = plen < PAYLOAD_LEN ? PAYLOAD_LEN : plen;

	memset(pl, 0, sizeof(pl));
	memcpy(pl, payload, plen);
	if (tw_quic_client_initial_keys(version, dcid, dlen, &k))
		return 0;
	size_t hlen = initial_header(hdr, first, version, dcid, dlen, 0, n, 2, 4);
	return protect(&k, hdr, hlen, 4, pl, n, out);
}

static struct tw_quic_initial q; /* 4 KiB of CRYPTO buffer: not on the stack */

static void test_keys(void)
{
	struct tw_quic_keys k;
	int f0 = fails;

	CHECK(tw_quic_client_initial_keys(TW_QUIC_V1, rfc_dcid, 8, &k) == 0, "v1 keys");
	CHECK(eqhex(k.key, 16, "1f369613dd76d5467730efcbe3b1a22d"), "v1 key (RFC 9001 A.1)");
	CHECK(eqhex(k.iv, 12, "fa044b2f42a3fd3b46fb255c"), "v1 iv");
	CHECK(eqhex(k.hp, 16, "9f50449e04a0e810283a1e9933adedd2"), "v1 hp");
	CHECK(tw_quic_client_initial_keys(TW_QUIC_V2, rfc_dcid, 8, &k) == 0, "v2 keys");
	CHECK(eqhex(k.key, 16, "8b1a0bc121284290a29e0971b5cd045d"), "v2 key (RFC 9369 A.1)");
	CHECK(eqhex(k.iv, 12, "91f73e2351d8fa91660e909f"), "v2 iv");
	CHECK(eqhex(k.hp, 16, "45b95e15235d6f45a6b19cbcb0294ba9"), "v2 hp");
	CHECK(tw_quic_client_initial_keys(TW_QUIC_DRAFT29, rfc_dcid, 8, &k) == 0, "draft-29 keys");
	CHECK(eqhex(k.key, 16, "175257a31eb09dea9366d8bb79ad80ba"), "draft-29 key");
	CHECK(eqhex(k.iv, 12, "6b26114b9cba2b63a9e8dd4f"), "draft-29 iv");
	CHECK(eqhex(k.hp, 16, "9ddd12c994c0698b89374a9c077a3077"), "draft-29 hp");
	CHECK(tw_quic_client_initial_keys(0xff00001c, rfc_dcid, 8, &k) == -1, "draft-28 has no keys here");
	printf("%s keys: v1, v2 as in the RFCs' Appendix A.1, draft-29 as derived independently\n",
	       fails == f0 ? "ok  " : "FAIL");
}

/* The whole RFC packet, then every cut of it as a snippet would hold. */
static void test_rfc_packet(const char *name, const char *hex, uint32_t version, uint8_t first)
{
	uint8_t pkt[PKT_MAX], cf[512], pl[PKT_MAX], again[PKT_MAX];
	size_t n = unhex(hex, pkt, sizeof(pkt)), cfn = unhex(crypto_frame_hex, cf, sizeof(cf));
	int f0 = fails;

	CHECK(n == 1200 && cfn == 245, "%s: vector lengths %zu %zu", name, n, cfn);
	enum tw_quic_status st = tw_parse_quic_initial(pkt, n, n, &q);
	CHECK(st == TW_QUIC_OK, "%s: status %s", name, tw_quic_status_str(st));
	CHECK(q.authenticated == 1 && q.version == version, "%s: auth %d version %08x", name, q.authenticated,
	      q.version);
	CHECK(q.first_byte == first && q.pn == 2 && q.pn_len == 4, "%s: unprotected first byte %02x pn %u/%u", name,
	      q.first_byte, q.pn, q.pn_len);
	CHECK(q.dcid_len == 8 && memcmp(q.dcid, rfc_dcid, 8) == 0 && q.scid_len == 0 && q.token_len == 0,
	      "%s: cids %u %u token %llu", name, q.dcid_len, q.scid_len, (unsigned long long)q.token_len);
	CHECK(q.length == 1182 && q.packet_len == 1200, "%s: length %llu packet %zu", name,
	      (unsigned long long)q.length, q.packet_len);
	CHECK(q.crypto_len == 241 && memcmp(q.crypto, cf + 4, 241) == 0, "%s: CRYPTO data (%zu bytes)", name,
	      q.crypto_len);
	CHECK(q.n_frames == 2 && q.stop_frame == 0, "%s: frames %d (CRYPTO, PADDING) stop %02x", name, q.n_frames,
	      q.stop_frame);
	CHECK(q.tls_rc == TW_PAYLOAD_OK && q.hello.has_sni && strcmp(q.hello.sni, "example.com") == 0, "%s: sni '%s'",
	      name, q.hello.sni);
	CHECK(strcmp(q.hello.alpn, "alpn") == 0, "%s: alpn '%s'", name, q.hello.alpn);

	/* this file's protect() gives the RFC's bytes from the RFC's plaintext */
	struct tw_quic_keys k;
	uint8_t hdr[64];
	memset(pl, 0, sizeof(pl));
	memcpy(pl, cf, cfn);
	tw_quic_client_initial_keys(version, rfc_dcid, 8, &k);
	size_t hlen = initial_header(hdr, first & 0xf0, version, rfc_dcid, 8, 0, PAYLOAD_LEN, 2, 4);
	CHECK(protect(&k, hdr, hlen, 4, pl, PAYLOAD_LEN, again) == n && memcmp(again, pkt, n) == 0,
	      "%s: protect() rebuilds the RFC packet", name);

	/* a snippet: the first TW-sized bytes of the 1200-byte datagram */
	st = tw_parse_quic_initial(pkt, 1024, n, &q);
	CHECK(st == TW_QUIC_OK && !q.authenticated && strcmp(q.hello.sni, "example.com") == 0,
	      "%s: 1024-byte snippet: %s auth %d sni '%s'", name, tw_quic_status_str(st), q.authenticated, q.hello.sni);

	/* every cut: never worse than TRUNCATED; complete once the CRYPTO
	 * frame is in (22 header + 4 frame header + 241) */
	int bad = 0, ok_from = -1;
	for (size_t cut = 0; cut < n; cut++) {
		uint8_t *c = malloc(cut ? cut : 1); /* exact size: ASan sees reads past the cut */
		memcpy(c, pkt, cut);
		st = tw_parse_quic_initial(c, cut, n, &q);
		free(c);
		if ((st != TW_QUIC_OK && st != TW_QUIC_TRUNCATED) || q.authenticated ||
		    (cut >= 267) != (st == TW_QUIC_OK))
			bad++;
		if (st == TW_QUIC_OK && ok_from < 0)
			ok_from = (int)cut;
	}
	CHECK(bad == 0 && ok_from == 267, "%s: cuts: %d bad, OK from %d", name, bad, ok_from);

	/* a datagram that really is that short contradicts the Length field */
	st = tw_parse_quic_initial(pkt, 1100, 1100, &q);
	CHECK(st == TW_QUIC_MALFORMED, "%s: 1100-byte datagram -> %s", name, tw_quic_status_str(st));

	/* tampering anywhere under the tag */
	size_t spots[] = { 0, 7, 20, 30, 600, 1199 };
	for (size_t i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
		memcpy(again, pkt, n);
		again[spots[i]] ^= 0x01; /* at 0: the packet number length */
		st = tw_parse_quic_initial(again, n, n, &q);
		CHECK(st == TW_QUIC_DECRYPT_FAILED, "%s: byte %zu flipped -> %s", name, spots[i],
		      tw_quic_status_str(st));
	}

	/* coalesced with a following packet: only the Initial is read */
	memcpy(again, pkt, n);
	memset(again + n, 0x42, 60);
	st = tw_parse_quic_initial(again, n + 60, n + 60, &q);
	CHECK(st == TW_QUIC_OK && q.authenticated && q.packet_len == 1200, "%s: coalesced -> %s packet %zu", name,
	      tw_quic_status_str(st), q.packet_len);
	printf("%s %s: OK authenticated, sni example.com alpn alpn; 1024-byte snippet OK unauthenticated; every cut "
	       "OK/TRUNCATED (OK from 267); 6 flipped bytes DECRYPT_FAILED; coalesced OK\n",
	       fails == f0 ? "ok  " : "FAIL", name);
}

static void test_draft29(void)
{
	uint8_t cf[512], pkt[PKT_MAX];
	size_t cfn = unhex(crypto_frame_hex, cf, sizeof(cf));
	size_t n = build_initial(TW_QUIC_DRAFT29, 0xc0, rfc_dcid, 8, cf, cfn, pkt);
	int f0 = fails;

	enum tw_quic_status st = tw_parse_quic_initial(pkt, n, n, &q);
	CHECK(n == 1200 && st == TW_QUIC_OK && q.authenticated && q.version == TW_QUIC_DRAFT29 &&
	              strcmp(q.hello.sni, "example.com") == 0,
	      "draft-29: %s sni '%s'", tw_quic_status_str(st), q.hello.sni);
	/* a v1 packet relabelled as draft-29 has the wrong keys */
	uint8_t v1[PKT_MAX];
	n = unhex(v1_packet_hex, v1, sizeof(v1));
	v1[1] = 0xff, v1[2] = 0x00, v1[3] = 0x00, v1[4] = 0x1d;
	st = tw_parse_quic_initial(v1, n, n, &q);
	CHECK(st == TW_QUIC_DECRYPT_FAILED, "v1 packet labelled draft-29 -> %s", tw_quic_status_str(st));
	printf("%s draft-29: own packet OK authenticated; v1 packet relabelled -> DECRYPT_FAILED\n", MARK(f0));
}

static enum tw_quic_status parse_hex(const char *hex)
{
	uint8_t b[256];
	size_t n = unhex(hex, b, sizeof(b));
	uint8_t *c = malloc(n ? n : 1); /* exact size for ASan */
	memcpy(c, b, n);
	enum tw_quic_status st = tw_parse_quic_initial(c, n, n, &q);
	free(c);
	return st;
}

static void test_headers(void)
{
	enum tw_quic_status st;
	int f0 = fails;

	st = parse_hex("");
	CHECK(st == TW_QUIC_MALFORMED, "empty datagram -> %s", tw_quic_status_str(st));
	st = tw_parse_quic_initial((const uint8_t *)"\xc0\x00\x00", 3, 1200, &q);
	CHECK(st == TW_QUIC_TRUNCATED, "3 bytes of a 1200-byte datagram -> %s", tw_quic_status_str(st));
	st = parse_hex("c0000000");
	CHECK(st == TW_QUIC_MALFORMED, "4-byte datagram with a long header -> %s", tw_quic_status_str(st));
	st = parse_hex("4001020304050607");
	CHECK(st == TW_QUIC_SHORT_HEADER, "short header -> %s", tw_quic_status_str(st));
	/* version negotiation: DCID 4, SCID 4, versions v1, v2, a GREASE one */
	st = parse_hex("c50000000004a1a2a3a404b1b2b3b4000000016b3343cf1a2a3a4a");
	CHECK(st == TW_QUIC_VERSION_NEG && q.n_versions == 3 && q.versions[0] == TW_QUIC_V1 &&
	              q.versions[1] == TW_QUIC_V2 && q.versions[2] == 0x1a2a3a4a && q.dcid_len == 4 && q.scid_len == 4,
	      "version negotiation -> %s n %d", tw_quic_status_str(st), q.n_versions);
	st = parse_hex("c50000000004a1a2a3a404b1b2b3b4000000016b3343");
	CHECK(st == TW_QUIC_MALFORMED, "version negotiation with a 3-byte version -> %s", tw_quic_status_str(st));
	st = parse_hex("c50000000004a1a2a3a404b1b2b3b4");
	CHECK(st == TW_QUIC_MALFORMED, "version negotiation without versions -> %s", tw_quic_status_str(st));
	st = parse_hex("c01a2a3a4a08a1a2a3a4a5a6a7a800ffffffff");
	CHECK(st == TW_QUIC_BAD_VERSION && q.version == 0x1a2a3a4a && q.dcid_len == 8, "unknown version -> %s %08x",
	      tw_quic_status_str(st), q.version);
	st = parse_hex("e00000000108a1a2a3a4a5a6a7a8004400");
	CHECK(st == TW_QUIC_NOT_INITIAL && q.type == TW_QUIC_PT_HANDSHAKE, "v1 Handshake -> %s type %u",
	      tw_quic_status_str(st), q.type);
	st = parse_hex("f00000000108a1a2a3a4a5a6a7a800aabbccdd");
	CHECK(st == TW_QUIC_NOT_INITIAL && q.type == TW_QUIC_PT_RETRY, "v1 Retry -> %s type %u", tw_quic_status_str(st),
	      q.type);
	st = parse_hex("c06b3343cf08a1a2a3a4a5a6a7a800aabbccdd");
	CHECK(st == TW_QUIC_NOT_INITIAL && q.type == TW_QUIC_PT_RETRY, "v2 type 0 is Retry -> %s type %u",
	      tw_quic_status_str(st), q.type);
	static const struct {
		const char *hex, *what;
	} bad[] = {
		{ "c00000000115a1a2a3a4a5a6a7a8a1a2a3a4a5a6a7a8a1a2a3a4a5a6a7a8a1a2a3a4a5a6a7a8",
		  "v1 DCID of 21 bytes" },
		{ "c00000000108a1a2a3a4a5a6a7a8", "datagram ends after the DCID" },
		{ "c00000000108a1a2a3a4a5a6a7a8000a0102", "token longer than the datagram" },
		{ "c00000000108a1a2a3a4a5a6a7a800001300000000000000000000000000000000000000",
		  "Length 19 (no room for the sample)" },
		{ "c00000000108a1a2a3a4a5a6a7a800004100000000000000000000000000000000000000",
		  "Length past the datagram" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		st = parse_hex(bad[i].hex);
		CHECK(st == TW_QUIC_MALFORMED, "%s -> %s", bad[i].what, tw_quic_status_str(st));
	}
	st = parse_hex("c00000000108a1a2a3a4a5a6a7a8000040140000000000000000000000000000000000000000");
	CHECK(st == TW_QUIC_DECRYPT_FAILED && q.length == 20, "garbage Initial -> %s", tw_quic_status_str(st));
	printf("%s headers: short, version negotiation (3 versions), unknown version, Handshake/Retry (v1, v2 "
	       "numbering), and 6 malformed/garbage headers\n",
	       MARK(f0));
}

/* Payloads built frame by frame, protected by protect(). */
static void test_frames(void)
{
	uint8_t cf[512], pl[PKT_MAX], pkt[PKT_MAX];
	size_t cfn = unhex(crypto_frame_hex, cf, sizeof(cf)) - 4; /* ClientHello bytes, after the frame header */
	const uint8_t *ch = cf + 4;
	enum tw_quic_status st;
	size_t o, n;
	int f0 = fails;

	/* PING, ACK, second half of the hello, PADDING, ACK_ECN, first half */
	o = 0;
	pl[o++] = 0x01;
	memcpy(pl + o, "\x02\x05\x00\x01\x02\x00\x01", 7), o += 7;
	pl[o++] = 0x06, o += v2byte(pl + o, 100), o += v2byte(pl + o, cfn - 100);
	memcpy(pl + o, ch + 100, cfn - 100), o += cfn - 100;
	memset(pl + o, 0, 10), o += 10;
	memcpy(pl + o, "\x03\x05\x00\x00\x02\x01\x02\x03", 8), o += 8;
	pl[o++] = 0x06, pl[o++] = 0, o += v2byte(pl + o, 100);
	memcpy(pl + o, ch, 100), o += 100;
	n = build_initial(TW_QUIC_V1, 0xc0, rfc_dcid, 8, pl, o, pkt);
	st = tw_parse_quic_initial(pkt, n, n, &q);
	CHECK(st == TW_QUIC_OK && q.authenticated && q.crypto_len == cfn && strcmp(q.hello.sni, "example.com") == 0,
	      "out-of-order CRYPTO -> %s crypto %zu", tw_quic_status_str(st), q.crypto_len);
	CHECK(q.n_frames == 7, "frames %d (PING ACK CRYPTO PADDING ACK_ECN CRYPTO PADDING)", q.n_frames);
	/* the same cut after the second CRYPTO frame's header: offset 0 data missing */
	st = tw_parse_quic_initial(pkt, 22 + 1 + 7 + 5 + (cfn - 100) + 10 + 8 + 4 + 20, n, &q);
	CHECK(st == TW_QUIC_TRUNCATED && q.crypto_len == 20 && !q.hello.has_sni, "cut in the first half -> %s %zu",
	      tw_quic_status_str(st), q.crypto_len);

	/* the ClientHello continues in a later packet (post-quantum key shares) */
	o = 0;
	pl[o++] = 0x06, pl[o++] = 0, o += v2byte(pl + o, 150);
	memcpy(pl + o, ch, 150), o += 150;
	n = build_initial(TW_QUIC_V2, 0xd0, rfc_dcid, 8, pl, o, pkt);
	st = tw_parse_quic_initial(pkt, n, n, &q);
	CHECK(st == TW_QUIC_TRUNCATED && q.authenticated && strcmp(q.hello.sni, "example.com") == 0,
	      "first 150 hello bytes -> %s sni '%s'", tw_quic_status_str(st), q.hello.sni);

	/* an unknown frame stops the walk */
	o = 0;
	pl[o++] = 0x1c, pl[o++] = 0, pl[o++] = 0, pl[o++] = 0;
	pl[o++] = 0x06, pl[o++] = 0, pl[o++] = (uint8_t)0x40, pl[o++] = (uint8_t)cfn;
	memcpy(pl + o, ch, cfn), o += cfn;
	n = build_initial(TW_QUIC_V1, 0xc0, rfc_dcid, 8, pl, o, pkt);
	st = tw_parse_quic_initial(pkt, n, n, &q);
	CHECK(st == TW_QUIC_TRUNCATED && q.stop_frame == 0x1c && q.crypto_len == 0, "CONNECTION_CLOSE first -> %s",
	      tw_quic_status_str(st));

	/* CRYPTO longer than the payload, in a whole packet */
	o = 0;
	pl[o++] = 0x06, pl[o++] = 0, pl[o++] = 0x80, pl[o++] = 0, pl[o++] = 0x10, pl[o++] = 0;
	n = build_initial(TW_QUIC_V1, 0xc0, rfc_dcid, 8, pl, o, pkt);
	st = tw_parse_quic_initial(pkt, n, n, &q);
	CHECK(st == TW_QUIC_MALFORMED, "CRYPTO past the payload -> %s", tw_quic_status_str(st));

	/* CRYPTO ending past 2^62 */
	o = 0;
	memcpy(pl + o, "\x06\xff\xff\xff\xff\xff\xff\xff\xff\x05", 10), o += 10;
	memcpy(pl + o, "abcde", 5), o += 5;
	n = build_initial(TW_QUIC_V1, 0xc0, rfc_dcid, 8, pl, o, pkt);
	st = tw_parse_quic_initial(pkt, n, n, &q);
	CHECK(st == TW_QUIC_MALFORMED, "CRYPTO past 2^62 -> %s", tw_quic_status_str(st));

	/* CRYPTO beyond the reassembly bound is ignored, not copied */
	o = 0;
	memcpy(pl + o, "\x06\x80\x00\x20\x00\x05", 6), o += 6; /* offset 8192 */
	memcpy(pl + o, "abcde", 5), o += 5;
	n = build_initial(TW_QUIC_V1, 0xc0, rfc_dcid, 8, pl, o, pkt);
	st = tw_parse_quic_initial(pkt, n, n, &q);
	CHECK(st == TW_QUIC_TRUNCATED && q.crypto_len == 0, "CRYPTO at 8192 -> %s %zu", tw_quic_status_str(st),
	      q.crypto_len);

	/* ACK with more ranges than bytes */
	o = 0;
	memcpy(pl + o, "\x02\x05\x00\x3f\x00", 5), o += 5;
	n = build_initial(TW_QUIC_V1, 0xc0, rfc_dcid, 8, pl, 5, pkt);
	/* padding zeros follow, so ranges parse as (0,0) pairs: make it end */
	st = tw_parse_quic_initial(pkt, n, n, &q);
	CHECK(st == TW_QUIC_TRUNCATED && q.n_frames == 2, "ACK of 63 zero ranges -> %s frames %d",
	      tw_quic_status_str(st), q.n_frames);

	/* the hello twice: identical data is a retransmission, different data
	 * at the same offset a protocol violation */
	for (int differ = 0; differ < 2; differ++) {
		o = 0;
		pl[o++] = 0x06, pl[o++] = 0, o += v2byte(pl + o, cfn);
		memcpy(pl + o, ch, cfn), o += cfn;
		pl[o++] = 0x06, pl[o++] = 0, o += v2byte(pl + o, cfn);
		memcpy(pl + o, ch, cfn), o += cfn;
		if (differ)
			pl[o - 1] ^= 1;
		n = build_initial(TW_QUIC_V1, 0xc0, rfc_dcid, 8, pl, o, pkt);
		st = tw_parse_quic_initial(pkt, n, n, &q);
		CHECK(st == (differ ? TW_QUIC_MALFORMED : TW_QUIC_OK), "CRYPTO sent twice, %s -> %s",
		      differ ? "different" : "same", tw_quic_status_str(st));
	}

	/* reserved header bits set: a protocol violation, once decrypted */
	o = 0;
	pl[o++] = 0x06, pl[o++] = 0, pl[o++] = (uint8_t)0x40, pl[o++] = (uint8_t)cfn;
	memcpy(pl + o, ch, cfn), o += cfn;
	n = build_initial(TW_QUIC_V1, 0xcc, rfc_dcid, 8, pl, o, pkt);
	st = tw_parse_quic_initial(pkt, n, n, &q);
	CHECK(st == TW_QUIC_MALFORMED && q.authenticated, "reserved bits -> %s", tw_quic_status_str(st));

	/* a 20-byte DCID and a token: still decrypts */
	uint8_t dcid[20];
	struct tw_quic_keys k;
	uint8_t hdr[128];
	memset(dcid, 0xd7, sizeof(dcid));
	memset(pl + o, 0, PAYLOAD_LEN - o);
	tw_quic_client_initial_keys(TW_QUIC_V1, dcid, 20, &k);
	size_t hlen = initial_header(hdr, 0xc0, TW_QUIC_V1, dcid, 20, 40, PAYLOAD_LEN - 60, 7, 2);
	n = protect(&k, hdr, hlen, 2, pl, PAYLOAD_LEN - 60, pkt);
	st = tw_parse_quic_initial(pkt, n, n, &q);
	CHECK(st == TW_QUIC_OK && q.authenticated && q.token_len == 40 && q.pn == 7 && q.pn_len == 2 &&
	              q.dcid_len == 20,
	      "token and 20-byte DCID -> %s token %llu pn %u", tw_quic_status_str(st), (unsigned long long)q.token_len,
	      q.pn);
	printf("%s frames: out-of-order CRYPTO with PING/ACK/ACK_ECN/PADDING OK; split hello TRUNCATED with SNI; "
	       "unknown frame stops; CRYPTO overruns and conflicts MALFORMED; reserved bits MALFORMED; token + 20-byte "
	       "DCID OK\n",
	       MARK(f0));
}

/* Random long-header packets: never a crash or an out-of-range status;
 * and a cut of a packet that decrypted (authenticated) is never worse than
 * TRUNCATED. */
static void test_random(void)
{
	uint8_t pkt[PKT_MAX];
	unsigned seed = 17;
	int bad = 0, f0 = fails;

	for (int i = 0; i < 3000; i++) {
		size_t n = 1 + (size_t)(rand_r(&seed) % 1400);
		for (size_t j = 0; j < n; j++)
			pkt[j] = (uint8_t)rand_r(&seed);
		pkt[0] |= 0x80;
		if (n > 5 && i % 2) { /* a known version half of the time */
			static const uint32_t v[] = { TW_QUIC_V1, TW_QUIC_V2, TW_QUIC_DRAFT29 };
			uint32_t ver = v[i % 3];
			pkt[1] = (uint8_t)(ver >> 24), pkt[2] = (uint8_t)(ver >> 16), pkt[3] = (uint8_t)(ver >> 8),
			pkt[4] = (uint8_t)ver;
		}
		enum tw_quic_status st = tw_parse_quic_initial(pkt, n, n, &q);
		if (st > TW_QUIC_DECRYPT_FAILED || !memchr(q.hello.sni, 0, sizeof(q.hello.sni)))
			bad++;
	}
	CHECK(bad == 0, "%d random packets out of contract", bad);

	uint8_t cf[512];
	size_t cfn = unhex(crypto_frame_hex, cf, sizeof(cf));
	size_t n = build_initial(TW_QUIC_V2, 0xd0, rfc_dcid, 8, cf, cfn, pkt);
	for (size_t cut = 0; cut < n; cut += 7) {
		enum tw_quic_status st = tw_parse_quic_initial(pkt, cut, n, &q);
		if (st != TW_QUIC_OK && st != TW_QUIC_TRUNCATED)
			bad++;
	}
	CHECK(bad == 0, "%d cuts of a v2 packet worse than TRUNCATED", bad);
	printf("%s random: 3000 random long-header packets within the contract; cuts of a v2 packet OK/TRUNCATED\n",
	       MARK(f0));
}

int main(void)
{
	test_keys();
	test_rfc_packet("RFC 9001 A.2 (v1)", v1_packet_hex, TW_QUIC_V1, 0xc3);
	test_rfc_packet("RFC 9369 A.2 (v2)", v2_packet_hex, TW_QUIC_V2, 0xd3);
	test_draft29();
	test_headers();
	test_frames();
	test_random();
	printf("%s: %d checks, %d failures\n", fails ? "FAIL" : "PASS", checks, fails);
	return fails ? 1 : 0;
}
