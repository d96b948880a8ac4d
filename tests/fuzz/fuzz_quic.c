/* libFuzzer target: QUIC long-header parser and client Initial decryption.
 *
 * Random bytes rarely pass AES-GCM, so two modes, chosen by the first byte:
 *   odd:  the rest is a UDP payload, parsed as is (headers, version
 *         negotiation, tags that fail, cuts);
 *   even: the rest is the PLAINTEXT of an Initial, which is protected here
 *         (tests/quic_protect.h) for v1, v2 or draft-29 and then parsed, so
 *         the frame walker, the CRYPTO reassembly and the ClientHello parser
 *         see fuzzed input behind a valid tag.
 * Beyond "no crash": the status is in range, names are terminated, a whole
 * protected packet is authenticated, and a cut of an input that parsed
 * OK/TRUNCATED is never MALFORMED or DECRYPT_FAILED. */
#include <stdlib.h>
#include <string.h>

#include "events/proto.h"
#include "../quic_protect.h"

static struct tw_quic_initial q;

static void check(enum tw_quic_status st)
{
	if (st > TW_QUIC_DECRYPT_FAILED || st != q.status)
		abort();
	if (!memchr(q.hello.sni, 0, sizeof(q.hello.sni)) || !memchr(q.hello.alpn, 0, sizeof(q.hello.alpn)))
		abort();
	if (q.crypto_len > TW_QUIC_CRYPTO_MAX || q.dcid_len > 255)
		abort();
}

/* the same bytes cut as a snippet would cut them: exact-size copy so ASan
 * sees reads past the cut */
static void cut_check(const uint8_t *p, size_t n, size_t cut)
{
	uint8_t *c = malloc(cut ? cut : 1);
	memcpy(c, p, cut);
	enum tw_quic_status st = tw_parse_quic_initial(c, cut, n, &q);
	free(c);
	check(st);
	if (st == TW_QUIC_MALFORMED || st == TW_QUIC_DECRYPT_FAILED)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t versions[] = { TW_QUIC_V1, TW_QUIC_V2, TW_QUIC_DRAFT29 };
	static const uint8_t dcid[8] = { 0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08 };
	static uint8_t pkt[4096];
	uint8_t hdr[64];

	if (size < 2)
		return 0;
	if (data[0] & 1) {
		enum tw_quic_status st = tw_parse_quic_initial(data + 1, size - 1, size - 1, &q);
		check(st);
		if (st == TW_QUIC_OK || st == TW_QUIC_TRUNCATED) {
			if (!q.authenticated)
				abort(); /* a whole packet decrypted without its tag */
			cut_check(data + 1, size - 1, (data[size - 1] * 7u + size / 3) % (size - 1));
		}
		return 0;
	}
	/* protect the rest as an Initial's payload */
	uint32_t version = versions[(data[0] >> 1) % 3];
	size_t pn_len = (size_t)((data[0] >> 3) & 3) + 1;
	uint8_t first = version == TW_QUIC_V2 ? 0xd0 : 0xc0;
	size_t plen = size - 1;
	if (plen > sizeof(pkt) - sizeof(hdr) - 16)
		plen = sizeof(pkt) - sizeof(hdr) - 16;
	uint8_t payload[sizeof(pkt)];
	memcpy(payload, data + 1, plen);
	while (plen + pn_len < 4) /* room for the header protection sample */
		payload[plen++] = 0;
	struct tw_quic_keys k;
	if (tw_quic_client_initial_keys(version, dcid, sizeof(dcid), &k))
		abort();
	size_t hlen = initial_header(hdr, first, version, dcid, sizeof(dcid), 0, plen, data[0], pn_len);
	size_t n = protect(&k, hdr, hlen, pn_len, payload, plen, pkt);
	enum tw_quic_status st = tw_parse_quic_initial(pkt, n, n, &q);
	check(st);
	if (st == TW_QUIC_DECRYPT_FAILED || !q.authenticated || q.version != version || q.pn_len != pn_len)
		abort(); /* our own packet must decrypt */
	if (st == TW_QUIC_OK || st == TW_QUIC_TRUNCATED)
		cut_check(pkt, n, (data[size - 1] * 13u + size) % n);
	return 0;
}
