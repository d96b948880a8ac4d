/* A fixed-size object pool: objects are carved from chunks mapped as the
 * pool grows (never more than max objects in all), handed out and taken
 * back through a free list, and returned to the system only when the pool
 * is freed.  The hot paths (a flow's state taken and given back per flow)
 * then never call malloc once the pool has reached its working size, and
 * the memory of a long run stays flat. */
#ifndef TW_POOL_H
#define TW_POOL_H
#include <stddef.h>
#include <stdint.h>

struct tw_pool {
	size_t size;      /* bytes an object, rounded up to 16 */
	size_t per_chunk; /* objects a chunk */
	size_t max;       /* objects at most, free or in use */
	size_t made;      /* objects carved so far */
	size_t in_use;
	void *free;          /* free list, linked through each object's first bytes */
	unsigned char *bump; /* the newest chunk's objects never handed out */
	size_t bump_left;
	void **chunks;
	size_t nchunks, chunks_cap;
	uint64_t exhausted; /* tw_pool_get that found no object: max reached or no memory */
};

/* size: one object; per_chunk: objects a chunk (at least 1); max: objects
 * at most (at least 1).  Nothing is allocated until the first get. */
void tw_pool_init(struct tw_pool *p, size_t size, size_t per_chunk, size_t max);
/* An object, not zeroed; NULL (counted in exhausted) when max are in use
 * or memory ran out. */
void *tw_pool_get(struct tw_pool *p);
/* Zeroed. */
void *tw_pool_get_zero(struct tw_pool *p);
/* Back to the pool; NULL is ignored. */
void tw_pool_put(struct tw_pool *p, void *obj);
/* Every chunk back to the system: every object of the pool is gone. */
void tw_pool_destroy(struct tw_pool *p);
#endif
