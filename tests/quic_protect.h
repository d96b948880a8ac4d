/* The sender's side of QUIC Initial protection, for tests and fuzzing:
 * written apart from the parser (daemon/events/proto_quic.c) so that each
 * checks the other; test_proto_quic shows it rebuilds the RFC 9001 and RFC
 * 9369 Appendix A packets byte for byte. */
#ifndef TW_TESTS_QUIC_PROTECT_H
#define TW_TESTS_QUIC_PROTECT_H

#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "events/proto.h"

/* Long header of a client Initial with a 2-byte Length and a pn_len-byte
 * packet number: the form of the RFC examples. */
static inline size_t initial_header(uint8_t *h, uint8_t first, uint32_t version, const uint8_t *dcid, size_t dlen,
                                    size_t token_len, size_t payload_len, uint32_t pn, size_t pn_len)
{
	size_t o = 0;
	h[o++] = (uint8_t)(first | (pn_len - 1));
	for (int i = 3; i >= 0; i--)
		h[o++] = (uint8_t)(version >> (8 * i));
	h[o++] = (uint8_t)dlen;
	memcpy(h + o, dcid, dlen);
	o += dlen;
	h[o++] = 0;                  /* SCID */
	h[o++] = (uint8_t)token_len; /* token_len < 64 */
	memset(h + o, 0x5a, token_len);
	o += token_len;
	size_t length = pn_len + payload_len + 16;
	h[o++] = (uint8_t)(0x40 | length >> 8);
	h[o++] = (uint8_t)length;
	for (size_t i = 0; i < pn_len; i++)
		h[o++] = (uint8_t)(pn >> (8 * (pn_len - 1 - i)));
	return o;
}

/* The sender's side (RFC 9001 5.3, 5.4), written separately from the
 * parser: GCM seal with the header as associated data, then the header
 * protection mask over the first byte's low bits and the packet number. */
static inline size_t protect(const struct tw_quic_keys *k, const uint8_t *hdr, size_t hlen, size_t pn_len,
                             const uint8_t *payload, size_t plen, uint8_t *out)
{
	uint8_t nonce[12], mask[16];
	uint32_t pn = 0;
	int l = 0;

	for (size_t i = 0; i < pn_len; i++)
		pn = pn << 8 | hdr[hlen - pn_len + i];
	memcpy(nonce, k->iv, 12);
	for (int i = 0; i < 4; i++)
		nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
	memcpy(out, hdr, hlen);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, k->key, nonce);
	EVP_EncryptUpdate(c, NULL, &l, hdr, (int)hlen);
	EVP_EncryptUpdate(c, out + hlen, &l, payload, (int)plen);
	EVP_EncryptFinal_ex(c, out + hlen + l, &l);
	EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + hlen + plen);
	EVP_CIPHER_CTX_free(c);
	c = EVP_CIPHER_CTX_new();
	EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, k->hp, NULL);
	EVP_EncryptUpdate(c, mask, &l, out + hlen - pn_len + 4, 16);
	EVP_CIPHER_CTX_free(c);
	out[0] ^= mask[0] & 0x0f;
	for (size_t i = 0; i < pn_len; i++)
		out[hlen - pn_len + i] ^= mask[1 + i];
	return hlen + plen + 16;
}

#endif
