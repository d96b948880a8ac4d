/* QUIC long-header parser and client Initial decryption (RFC 9000 17.2,
 * RFC 9001 5, RFC 9369 for version 2, draft-ietf-quic-tls-29).
 *
 * A client Initial is protected with keys anyone can derive from its
 * Destination Connection ID, so an on-path observer (a censor, or us) reads
 * the ClientHello: HKDF-SHA256 gives key, iv and header-protection key; the
 * header protection mask (AES-128-ECB of a 16-byte sample) uncovers the
 * packet number; AES-128-GCM decrypts the payload; the CRYPTO frames are
 * put back in order from offset 0 and handed to the TLS ClientHello parser
 * (proto_tls.c) for SNI and ALPN.
 *
 * The snippet problem: an Initial fills a datagram of >= 1200 bytes, but
 * an event snippet holds TW_SNIPPET_MAX (1024) and AES-GCM checks its tag
 * only on the whole packet.  Reading a 1024-byte prefix without the tag
 * (AES-CTR) is not enough: clients put PADDING before the CRYPTO frame (in
 * every 1252/1280-byte Initial of the GFW corpus captures the SNI starts
 * past byte 1040).  So the kernel side keeps a QUIC client's first datagram
 * (UDP to port 443) whole, up to TW_SNIPPET_QUIC_MAX (include/tamperwatch/
 * event.h), and a whole packet is decrypted with GCM: authenticated = 1, a
 * wrong tag is DECRYPT_FAILED.  A packet still cut (a jumbo datagram, a
 * capture with a short snaplen, a payload event on another port) is
 * decrypted as far as present with AES-128-CTR, which is GCM's own
 * keystream (counter block iv^pn || 2, SP 800-38D), and parsed as far as
 * it goes with authenticated = 0: its fields are unverified.
 *
 * Bounded work: at most TW_QUIC_PACKET_MAX payload bytes are decrypted and
 * walked; every frame consumes at least one byte; CRYPTO data beyond
 * TW_QUIC_CRYPTO_MAX is ignored.  Every length is checked against both the
 * bytes present (TRUNCATED) and the datagram (MALFORMED).
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "events/proto.h"

#define TAG_LEN 16
#define SAMPLE_LEN 16

struct quic_version {
	uint32_t version;
	uint8_t salt[20];
	const char *label;    /* "quic " or "quicv2 ": prefix of the key, iv and hp labels */
	uint8_t initial_type; /* long-header type bits of an Initial */
};

static const struct quic_version versions[] = {
	{ TW_QUIC_V1,
	  { 0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
	    0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a },
	  "quic ",
	  0 },
	{ TW_QUIC_V2,
	  { 0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
	    0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9 },
	  "quicv2 ",
	  1 },
	{ TW_QUIC_DRAFT29,
	  { 0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97,
	    0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99 },
	  "quic ",
	  0 },
};

static const struct quic_version *find_version(uint32_t v)
{
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		if (versions[i].version == v)
			return &versions[i];
	return NULL;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* QUIC variable-length integer at p[*off], bounded by end.  0 on success,
 * -1 when the bytes end first. */
static int varint(const uint8_t *p, size_t end, size_t *off, uint64_t *v)
{
	if (*off >= end)
		return -1;
	size_t n = (size_t)1 << (p[*off] >> 6);
	if (n > end - *off)
		return -1;
	uint64_t x = p[*off] & 0x3f;
	for (size_t i = 1; i < n; i++)
		x = x << 8 | p[*off + i];
	*off += n;
	*v = x;
	return 0;
}

/* HKDF-Expand-Label (RFC 8446 7.1) of label prefix + name with an empty
 * context, for outputs of at most one SHA-256 block, which is all QUIC's
 * Initial keys need. */
static int expand_label(const uint8_t secret[32], const char *prefix, const char *name, uint8_t *out, size_t n)
{
	uint8_t info[2 + 1 + 255 + 1 + 1];
	size_t plen = strlen(prefix), nlen = strlen(name), i = 0;
	uint8_t md[32];
	unsigned mdlen = 0;

	if (n > sizeof(md) || 6 + plen + nlen > 255)
		return -1;
	info[i++] = 0;
	info[i++] = (uint8_t)n;
	info[i++] = (uint8_t)(6 + plen + nlen);
	memcpy(info + i, "tls13 ", 6);
	i += 6;
	memcpy(info + i, prefix, plen);
	i += plen;
	memcpy(info + i, name, nlen);
	i += nlen;
	info[i++] = 0; /* context length */
	info[i++] = 1; /* T(1) = HMAC(secret, info || 0x01) */
	if (!HMAC(EVP_sha256(), secret, 32, info, i, md, &mdlen) || mdlen != sizeof(md))
		return -1;
	memcpy(out, md, n);
	return 0;
}

static int derive_keys(const struct quic_version *qv, const uint8_t *dcid, size_t dcid_len, struct tw_quic_keys *k)
{
	uint8_t initial[32], client[32];
	unsigned mdlen = 0;
	static const uint8_t empty;

	/* HKDF-Extract(salt, dcid) is HMAC(salt, dcid) */
	if (!HMAC(EVP_sha256(), qv->salt, sizeof(qv->salt), dcid_len ? dcid : &empty, dcid_len, initial, &mdlen) ||
	    mdlen != sizeof(initial))
		return -1;
	if (expand_label(initial, "", "client in", client, sizeof(client)) ||
	    expand_label(client, qv->label, "key", k->key, sizeof(k->key)) ||
	    expand_label(client, qv->label, "iv", k->iv, sizeof(k->iv)) ||
	    expand_label(client, qv->label, "hp", k->hp, sizeof(k->hp)))
		return -1;
	return 0;
}

int tw_quic_client_initial_keys(uint32_t version, const uint8_t *dcid, size_t dcid_len, struct tw_quic_keys *k)
{
	const struct quic_version *qv = find_version(version);

	memset(k, 0, sizeof(*k));
	if (!qv || (dcid_len && !dcid))
		return -1;
	return derive_keys(qv, dcid, dcid_len, k);
}

/* One AES-128 pass of n bytes (n a multiple of 16 for ECB).  0 or -1. */
static int aes_run(const EVP_CIPHER *c, const uint8_t key[16], const uint8_t *iv, const uint8_t *in, size_t n,
                   uint8_t *out)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int ol = 0, fl = 0, ok;

	if (!ctx)
		return -1;
	ok = EVP_EncryptInit_ex(ctx, c, NULL, key, iv) == 1 && EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
	     EVP_EncryptUpdate(ctx, out, &ol, in, (int)n) == 1 && EVP_EncryptFinal_ex(ctx, out + ol, &fl) == 1 &&
	     (size_t)(ol + fl) == n;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* Associated data in three pieces, so the header need not be copied. */
struct aad {
	const uint8_t *a;
	size_t an;
	const uint8_t *b;
	size_t bn;
	const uint8_t *c;
	size_t cn;
};

/* AES-128-GCM open: 1 tag good, 0 tag wrong, -1 libcrypto failure. */
static int gcm_open(const struct tw_quic_keys *k, const uint8_t nonce[12], const struct aad *aad, const uint8_t *ct,
                    size_t n, const uint8_t tag[TAG_LEN], uint8_t *out)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int ol = 0, fl = 0, rc = -1;

	if (!ctx)
		return -1;
	if (EVP_DecryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, NULL, NULL) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
	    EVP_DecryptInit_ex(ctx, NULL, NULL, k->key, nonce) == 1 &&
	    EVP_DecryptUpdate(ctx, NULL, &ol, aad->a, (int)aad->an) == 1 &&
	    EVP_DecryptUpdate(ctx, NULL, &ol, aad->b, (int)aad->bn) == 1 &&
	    EVP_DecryptUpdate(ctx, NULL, &ol, aad->c, (int)aad->cn) == 1 &&
	    EVP_DecryptUpdate(ctx, out, &ol, ct, (int)n) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, (void *)tag) == 1)
		rc = EVP_DecryptFinal_ex(ctx, out + ol, &fl) == 1 ? 1 : 0;
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

/* Which bytes of the CRYPTO stream [0, TW_QUIC_CRYPTO_MAX) have arrived;
 * conflict: a byte sent twice with different values, which RFC 9000 19.6
 * forbids and which would let a censor and a server read two hellos. */
struct crypto_map {
	uint64_t have[TW_QUIC_CRYPTO_MAX / 64];
	int conflict;
};

static void crypto_put(struct tw_quic_initial *out, struct crypto_map *m, uint64_t off, const uint8_t *d, size_t n)
{
	if (off >= TW_QUIC_CRYPTO_MAX)
		return;
	if (n > TW_QUIC_CRYPTO_MAX - off)
		n = (size_t)(TW_QUIC_CRYPTO_MAX - off);
	for (size_t i = 0; i < n; i++) {
		size_t at = (size_t)off + i;
		uint64_t bit = (uint64_t)1 << (at % 64);
		if ((m->have[at / 64] & bit) && out->crypto[at] != d[i])
			m->conflict = 1;
		out->crypto[at] = d[i];
		m->have[at / 64] |= bit;
	}
}

static size_t crypto_contiguous(const struct crypto_map *m)
{
	size_t i = 0;
	while (i < TW_QUIC_CRYPTO_MAX && (m->have[i / 64] >> (i % 64) & 1))
		i++;
	return i;
}

/* Walk the frames of an Initial's plaintext.  PADDING, PING, ACK and CRYPTO
 * are what a client's Initial carries; anything else stops the walk (and is
 * noted).  cut: the plaintext is a prefix, so a frame running past its end
 * is kept as far as present instead of being malformed.  Returns
 * TW_QUIC_OK or TW_QUIC_MALFORMED. */
static enum tw_quic_status walk_frames(const uint8_t *pl, size_t n, int cut, struct tw_quic_initial *out,
                                       struct crypto_map *m)
{
	size_t off = 0;

	/* every pass consumes at least one byte */
	while (off < n) {
		uint8_t t = pl[off];
		uint64_t a, b;

		if (t == 0x00) { /* PADDING: runs are common, skip them whole */
			while (off < n && pl[off] == 0)
				off++;
			out->n_frames++;
			continue;
		}
		if (t == 0x01) { /* PING */
			off++;
			out->n_frames++;
			continue;
		}
		if (t == 0x02 || t == 0x03) { /* ACK: largest, delay, range count, first range, ranges, ECN */
			uint64_t ranges;
			off++;
			if (varint(pl, n, &off, &a) || varint(pl, n, &off, &a) || varint(pl, n, &off, &ranges) ||
			    varint(pl, n, &off, &a))
				return cut ? TW_QUIC_OK : TW_QUIC_MALFORMED;
			/* each range is two varints of >= 1 byte: bounded by n */
			if (ranges > (n - off) / 2)
				return cut ? TW_QUIC_OK : TW_QUIC_MALFORMED;
			for (uint64_t r = 0; r < ranges; r++)
				if (varint(pl, n, &off, &a) || varint(pl, n, &off, &b))
					return cut ? TW_QUIC_OK : TW_QUIC_MALFORMED;
			if (t == 0x03 &&
			    (varint(pl, n, &off, &a) || varint(pl, n, &off, &a) || varint(pl, n, &off, &a)))
				return cut ? TW_QUIC_OK : TW_QUIC_MALFORMED;
			out->n_frames++;
			continue;
		}
		if (t == 0x06) { /* CRYPTO: offset, length, data */
			off++;
			if (varint(pl, n, &off, &a) || varint(pl, n, &off, &b))
				return cut ? TW_QUIC_OK : TW_QUIC_MALFORMED;
			if (a + b < a || a + b > ((uint64_t)1 << 62))
				return TW_QUIC_MALFORMED;
			size_t take = b > n - off ? n - off : (size_t)b;
			if (take < b && !cut)
				return TW_QUIC_MALFORMED;
			crypto_put(out, m, a, pl + off, take);
			off += take;
			out->n_frames++;
			continue;
		}
		out->stop_frame = t;
		break;
	}
	return TW_QUIC_OK;
}

/* Version negotiation: after the connection IDs, a list of 4-byte versions. */
static enum tw_quic_status version_negotiation(const uint8_t *p, size_t len, size_t wire_len, size_t off,
                                               struct tw_quic_initial *out)
{
	if (wire_len - off == 0 || (wire_len - off) % 4)
		return TW_QUIC_MALFORMED;
	out->n_versions = (int)((wire_len - off) / 4);
	for (int i = 0; i < out->n_versions && i < TW_QUIC_VN_MAX; i++) {
		if (off + 4 > len)
			return TW_QUIC_TRUNCATED;
		out->versions[i] = rd32(p + off);
		off += 4;
	}
	return TW_QUIC_VERSION_NEG;
}

/* A length byte and a connection ID at *off; the first TW_QUIC_CID_MAX
 * bytes are kept. */
static enum tw_quic_status read_cid(const uint8_t *p, size_t len, size_t wire_len, size_t *off, uint8_t *cid,
                                    uint8_t *cid_len)
{
	if (*off >= wire_len)
		return TW_QUIC_MALFORMED;
	if (*off >= len)
		return TW_QUIC_TRUNCATED;
	size_t n = p[(*off)++];
	if (n > wire_len - *off)
		return TW_QUIC_MALFORMED;
	if (n > len - *off)
		return TW_QUIC_TRUNCATED;
	*cid_len = (uint8_t)n;
	memcpy(cid, p + *off, n < TW_QUIC_CID_MAX ? n : TW_QUIC_CID_MAX);
	*off += n;
	return TW_QUIC_OK;
}

static enum tw_quic_status parse(const uint8_t *p, size_t len, size_t wire_len, struct tw_quic_initial *out)
{
	size_t off;

	/* fewer bytes than a header: cut by the snippet, or a datagram too short */
	if (len < 1)
		return len < wire_len ? TW_QUIC_TRUNCATED : TW_QUIC_MALFORMED;
	if (!(p[0] & 0x80))
		return TW_QUIC_SHORT_HEADER;
	out->first_byte = p[0];
	if (len < 6)
		return len < wire_len ? TW_QUIC_TRUNCATED : TW_QUIC_MALFORMED;
	out->version = rd32(p + 1);

	/* the invariant part (RFC 8999): connection IDs of up to 255 bytes */
	off = 5;
	enum tw_quic_status st = read_cid(p, len, wire_len, &off, out->dcid, &out->dcid_len);
	if (st == TW_QUIC_OK)
		st = read_cid(p, len, wire_len, &off, out->scid, &out->scid_len);
	if (st != TW_QUIC_OK)
		return st;
	size_t dl = out->dcid_len, sl = out->scid_len;

	if (out->version == 0)
		return version_negotiation(p, len, wire_len, off, out);
	const struct quic_version *qv = find_version(out->version);
	if (!qv)
		return TW_QUIC_BAD_VERSION;
	if (dl > TW_QUIC_CID_MAX || sl > TW_QUIC_CID_MAX)
		return TW_QUIC_MALFORMED;
	/* v2 rotates the type numbers: bring them to v1's */
	out->type = (uint8_t)(((p[0] >> 4) - qv->initial_type) & 3);
	if (out->type != TW_QUIC_PT_INITIAL)
		return TW_QUIC_NOT_INITIAL;

	/* token, Length: bounded by the datagram, present or not */
	if (varint(p, len, &off, &out->token_len))
		return len < wire_len ? TW_QUIC_TRUNCATED : TW_QUIC_MALFORMED;
	if (out->token_len > wire_len - off)
		return TW_QUIC_MALFORMED;
	if (out->token_len > len - off)
		return TW_QUIC_TRUNCATED;
	off += (size_t)out->token_len;
	if (varint(p, len, &off, &out->length))
		return len < wire_len ? TW_QUIC_TRUNCATED : TW_QUIC_MALFORMED;
	size_t pn_off = off;
	/* the sample starts 4 bytes past the packet number's start */
	if (out->length < 4 + SAMPLE_LEN || out->length > wire_len - pn_off)
		return TW_QUIC_MALFORMED;
	out->packet_len = pn_off + (size_t)out->length;
	if (pn_off + 4 + SAMPLE_LEN > len)
		return TW_QUIC_TRUNCATED;

	/* header protection */
	struct tw_quic_keys k;
	uint8_t mask[SAMPLE_LEN];
	if (derive_keys(qv, out->dcid, dl, &k) ||
	    aes_run(EVP_aes_128_ecb(), k.hp, NULL, p + pn_off + 4, SAMPLE_LEN, mask))
		return TW_QUIC_DECRYPT_FAILED;
	out->first_byte = (uint8_t)(p[0] ^ (mask[0] & 0x0f));
	out->pn_len = (uint8_t)((out->first_byte & 3) + 1);
	size_t hdr_len = pn_off + out->pn_len;
	uint8_t pn_bytes[4];
	for (size_t i = 0; i < out->pn_len; i++) {
		pn_bytes[i] = (uint8_t)(p[pn_off + i] ^ mask[1 + i]);
		out->pn = out->pn << 8 | pn_bytes[i];
	}

	/* payload: what is present of it, at most TW_QUIC_PACKET_MAX */
	size_t ct_off = hdr_len;
	size_t ct_end = out->packet_len - TAG_LEN; /* > ct_off: length >= 20 */
	int whole = out->packet_len <= len && ct_end - ct_off <= TW_QUIC_PACKET_MAX;
	size_t n = (ct_end < len ? ct_end : len) - ct_off;
	if (n > TW_QUIC_PACKET_MAX)
		n = TW_QUIC_PACKET_MAX;

	uint8_t nonce[12];
	memcpy(nonce, k.iv, sizeof(nonce));
	for (int i = 0; i < 4; i++)
		nonce[11 - i] ^= (uint8_t)(out->pn >> (8 * i));

	uint8_t plain[TW_QUIC_PACKET_MAX];
	if (whole) {
		/* associated data: the header as sent with protection removed */
		struct aad aad = { &out->first_byte, 1, p + 1, pn_off - 1, pn_bytes, out->pn_len };
		int rc = gcm_open(&k, nonce, &aad, p + ct_off, n, p + ct_end, plain);
		if (rc != 1)
			return TW_QUIC_DECRYPT_FAILED;
		out->authenticated = 1;
	} else {
		uint8_t ctr[16];
		memcpy(ctr, nonce, 12);
		ctr[12] = ctr[13] = ctr[14] = 0;
		ctr[15] = 2; /* GCM's first keystream block is counter 2 */
		if (aes_run(EVP_aes_128_ctr(), k.key, ctr, p + ct_off, n, plain))
			return TW_QUIC_DECRYPT_FAILED;
	}
	if (out->first_byte & 0x0c) /* reserved bits, only meaningful once decrypted */
		return TW_QUIC_MALFORMED;

	struct crypto_map m;
	memset(&m, 0, sizeof(m));
	st = walk_frames(plain, n, !whole, out, &m);
	out->crypto_len = crypto_contiguous(&m);
	if (st != TW_QUIC_OK)
		return st;
	if (m.conflict)
		return TW_QUIC_MALFORMED;
	out->tls_rc = tw_parse_tls_client_hello_msg(out->crypto, out->crypto_len, &out->hello);
	switch (out->tls_rc) {
	case TW_PAYLOAD_OK: return TW_QUIC_OK;
	case TW_PAYLOAD_TRUNCATED: return TW_QUIC_TRUNCATED;
	default: return TW_QUIC_MALFORMED;
	}
}

enum tw_quic_status tw_parse_quic_initial(const uint8_t *p, size_t len, size_t wire_len, struct tw_quic_initial *out)
{
	memset(out, 0, sizeof(*out));
	if (!p)
		len = 0;
	if (wire_len < len)
		wire_len = len;
	out->tls_rc = TW_PAYLOAD_NOT_THIS;
	out->status = parse(p, len, wire_len, out);
	return out->status;
}
