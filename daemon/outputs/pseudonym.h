/* Keyed pseudonyms for client addresses (README "Evidence"): the client
 * prefix (privacy.prefix_v4/v6) is kept, the host bits are replaced by a
 * keyed permutation of them.  The same client keeps the same pseudonym as
 * long as the key stays (a reader sees "one client, three flows"), two
 * clients of one prefix never share one, and a pseudonym never equals the
 * address it stands for.  Nobody without the key can map one back.
 *
 * The key is 32 random bytes kept in STATE/pseudonym.key (mode 0600,
 * written through state.c: temporary file, fsync, rename); without a state
 * directory a new key is drawn for each run. */
#ifndef TW_PSEUDONYM_H
#define TW_PSEUDONYM_H
#include <stddef.h>
#include <stdint.h>

#define TW_PSEUDONYM_KEYLEN 32
#define TW_PSEUDONYM_FILE "pseudonym.key"

struct tw_pseudonym {
	uint8_t key[TW_PSEUDONYM_KEYLEN];
	int prefix_v4, prefix_v6;
	int persistent; /* 1: key from/in the state directory */
};

/* Load the key from state_dir (NULL: a per-run key), creating it on first
 * start.  0, or -1 with a message in err (no randomness, unwritable dir). */
int tw_pseudonym_init(struct tw_pseudonym *p, const char *state_dir, int prefix_v4, int prefix_v6, char *err,
                      size_t errlen);
/* A given key (tests). */
void tw_pseudonym_init_key(struct tw_pseudonym *p, const uint8_t key[TW_PSEUDONYM_KEYLEN], int prefix_v4,
                           int prefix_v6);
/* family: TW_FAMILY_IPV4 (4 bytes at addr) or TW_FAMILY_IPV6 (16); out may
 * be addr.  With a /32 (/128) prefix there are no host bits: out = addr. */
void tw_pseudonym_addr(const struct tw_pseudonym *p, int family, const uint8_t *addr, uint8_t *out);
#endif
