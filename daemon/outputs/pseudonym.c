#include "outputs/pseudonym.h"
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <tamperwatch/flow.h>
#include "util/state.h"

typedef unsigned __int128 u128;

#define ROUNDS 8

/* Round function: HMAC-SHA256(key, tag | family | prefix bits | round | half),
 * truncated to hbits.  The network part is an input, so every prefix gets
 * its own permutation. */
static uint64_t round_fn(const struct tw_pseudonym *p, int family, const uint8_t *net, int round, uint64_t half,
                         int hbits)
{
	uint8_t msg[8 + 1 + 16 + 1 + 8], md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	memcpy(msg, "tw-pnym1", 8);
	msg[8] = (uint8_t)family;
	memcpy(msg + 9, net, 16);
	msg[25] = (uint8_t)round;
	for (int i = 0; i < 8; i++)
		msg[26 + i] = (uint8_t)(half >> (8 * i));
	HMAC(EVP_sha256(), p->key, TW_PSEUDONYM_KEYLEN, msg, sizeof(msg), md, &mdlen);
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)md[i] << (8 * i);
	return hbits >= 64 ? v : v & ((1ull << hbits) - 1);
}

/* Balanced Feistel network on 2*h bits (h <= 64), forward or backward. */
static u128 feistel(const struct tw_pseudonym *p, int family, const uint8_t *net, int h, u128 x, int inverse)
{
	uint64_t mask = h >= 64 ? ~0ull : (1ull << h) - 1;
	uint64_t l = (uint64_t)(x >> h) & mask, r = (uint64_t)x & mask;
	for (int i = 0; i < ROUNDS; i++) {
		if (!inverse) {
			uint64_t t = l ^ round_fn(p, family, net, i, r, h);
			l = r;
			r = t;
		} else {
			uint64_t t = r ^ round_fn(p, family, net, ROUNDS - 1 - i, l, h);
			r = l;
			l = t;
		}
	}
	return ((u128)l << h) | r;
}

/* A keyed permutation of [0, 2^n): the Feistel network on the next even
 * width, walked until the value falls back in range (at most twice on
 * average); the walk's inverse walks the inverse network. */
static u128 perm(const struct tw_pseudonym *p, int family, const uint8_t *net, int n, u128 x, int inverse)
{
	int h = (n + 1) / 2;
	u128 lim = n >= 128 ? ~(u128)0 : ((u128)1 << n) - 1;
	do
		x = feistel(p, family, net, h, x, inverse);
	while (x > lim);
	return x;
}

void tw_pseudonym_addr(const struct tw_pseudonym *p, int family, const uint8_t *addr, uint8_t *out)
{
	int bytes = family == TW_FAMILY_IPV6 ? 16 : 4;
	int plen = family == TW_FAMILY_IPV6 ? p->prefix_v6 : p->prefix_v4;
	if (plen < 0 || plen > bytes * 8)
		plen = bytes * 8;
	int n = bytes * 8 - plen; /* host bits */
	uint8_t net[16] = { 0 };
	u128 host = 0;
	for (int i = 0; i < bytes; i++) {
		int bits = plen - i * 8;
		uint8_t m = bits >= 8 ? 0xff : bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
		net[i] = addr[i] & m;
		host = host << 8 | (uint8_t)(addr[i] & ~m);
	}
	if (out != addr)
		memcpy(out, addr, (size_t)bytes);
	if (n == 0)
		return;
	/* pi^-1(pi(x) + 1): still a keyed permutation, and one without a
	 * fixed point, so no client is ever written as itself */
	u128 lim = n >= 128 ? ~(u128)0 : ((u128)1 << n) - 1;
	u128 y = perm(p, family, net, n, host, 0);
	y = (y + 1) & lim;
	y = perm(p, family, net, n, y, 1);
	for (int i = bytes - 1; i >= 0; i--) {
		out[i] = (uint8_t)(net[i] | (uint8_t)y);
		y >>= 8;
	}
}

void tw_pseudonym_init_key(struct tw_pseudonym *p, const uint8_t key[TW_PSEUDONYM_KEYLEN], int prefix_v4, int prefix_v6)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->key, key, TW_PSEUDONYM_KEYLEN);
	p->prefix_v4 = prefix_v4;
	p->prefix_v6 = prefix_v6;
}

static int random_key(uint8_t *key, char *err, size_t errlen)
{
	size_t got = 0;
	while (got < TW_PSEUDONYM_KEYLEN) {
		ssize_t r = getrandom(key + got, TW_PSEUDONYM_KEYLEN - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, errlen, "pseudonym key: getrandom: %s", strerror(errno));
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

int tw_pseudonym_init(struct tw_pseudonym *p, const char *state_dir, int prefix_v4, int prefix_v6, char *err,
                      size_t errlen)
{
	uint8_t key[TW_PSEUDONYM_KEYLEN];
	void *data = NULL;
	size_t len = 0;

	/* the state directory may not exist yet (aggregation makes it too) */
	if (state_dir && mkdir(state_dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "--state %s: %s", state_dir, strerror(errno));
		return -1;
	}
	if (state_dir) {
		int rc = tw_state_load(state_dir, TW_PSEUDONYM_FILE, &data, &len, err, errlen);
		if (rc < 0) {
			/* corrupt and set aside by state.c: say so, make a new key;
			 * still there (unreadable): refuse to start */
			char path[4200];
			snprintf(path, sizeof(path), "%s/%s", state_dir, TW_PSEUDONYM_FILE);
			if (access(path, F_OK) == 0)
				return -1;
			fprintf(stderr, "tamperwatchd: %s\n", err);
		}
		if (rc == 1 && len == TW_PSEUDONYM_KEYLEN) {
			tw_pseudonym_init_key(p, data, prefix_v4, prefix_v6);
			p->persistent = 1;
			free(data);
			return 0;
		}
		if (rc == 1)
			fprintf(stderr, "tamperwatchd: %s/%s: expected %d bytes, got %zu; making a new key\n",
			        state_dir, TW_PSEUDONYM_FILE, TW_PSEUDONYM_KEYLEN, len);
		free(data);
	}
	if (random_key(key, err, errlen) < 0)
		return -1;
	if (state_dir && tw_state_save(state_dir, TW_PSEUDONYM_FILE, key, sizeof(key), err, errlen) < 0)
		return -1;
	tw_pseudonym_init_key(p, key, prefix_v4, prefix_v6);
	p->persistent = state_dir != NULL;
	return 0;
}
