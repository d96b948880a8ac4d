/* A 64-bit mixer for open-addressing tables keyed by ids (the finalizer
 * of MurmurHash3): consecutive flow ids spread over the slots. */
#ifndef TW_HASH_H
#define TW_HASH_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t tw_hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

/* FNV-1a of a name as the parsers escape it, without a trailing dot; never
 * 0 (0 means "no name" in the tables that keep it). */
static inline uint64_t tw_name_hash(const char *n)
{
	size_t len = strlen(n);
	uint64_t h = 0xcbf29ce484222325ull;
	if (len && n[len - 1] == '.')
		len--;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)n[i]) * 0x100000001b3ull;
	return h ? h : 1;
}
#endif
