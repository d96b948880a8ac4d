/* A 64-bit mixer for open-addressing tables keyed by ids (the finalizer
 * of MurmurHash3): consecutive flow ids spread over the slots. */
#ifndef TW_HASH_H
#define TW_HASH_H
#include <stdint.h>

static inline uint64_t tw_hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}
#endif
