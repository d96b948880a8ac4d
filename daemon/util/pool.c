/* Fixed-size object pool (pool.h). */
#include "util/pool.h"
#include <stdlib.h>
#include <string.h>

/* Under ASan a free object is poisoned: a use after tw_pool_put is caught
 * as it would be after free(). */
#if defined(__SANITIZE_ADDRESS__)
#define TW_POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TW_POOL_ASAN 1
#endif
#endif
#ifdef TW_POOL_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(o, n) ASAN_POISON_MEMORY_REGION(o, n)
#define UNPOISON(o, n) ASAN_UNPOISON_MEMORY_REGION(o, n)
#else
#define POISON(o, n) ((void)(o), (void)(n))
#define UNPOISON(o, n) ((void)(o), (void)(n))
#endif

void tw_pool_init(struct tw_pool *p, size_t size, size_t per_chunk, size_t max)
{
	memset(p, 0, sizeof(*p));
	if (size < sizeof(void *))
		size = sizeof(void *);
	p->size = (size + 15) & ~(size_t)15;
	p->per_chunk = per_chunk ? per_chunk : 1;
	p->max = max ? max : 1;
}

/* one more chunk, its objects onto the free list; -1 at max or without memory */
static int grow(struct tw_pool *p)
{
	size_t n = p->per_chunk;
	if (p->made >= p->max)
		return -1;
	if (n > p->max - p->made)
		n = p->max - p->made;
	if (p->nchunks == p->chunks_cap) {
		size_t cap = p->chunks_cap ? p->chunks_cap * 2 : 16;
		void **nc = realloc(p->chunks, cap * sizeof(*nc));
		if (!nc)
			return -1;
		p->chunks = nc;
		p->chunks_cap = cap;
	}
	unsigned char *c = malloc(n * p->size);
	if (!c)
		return -1;
	p->chunks[p->nchunks++] = c;
	p->made += n;
	/* pushed last to first: handed out in address order */
	for (size_t i = n; i-- > 0;) {
		void *o = c + i * p->size;
		memcpy(o, &p->free, sizeof(void *));
		p->free = o;
		POISON(o, p->size);
	}
	return 0;
}

void *tw_pool_get(struct tw_pool *p)
{
	if (!p->free && grow(p) < 0) {
		p->exhausted++;
		return NULL;
	}
	void *o = p->free;
	UNPOISON(o, p->size);
	memcpy(&p->free, o, sizeof(void *));
	p->in_use++;
	return o;
}

void *tw_pool_get_zero(struct tw_pool *p)
{
	void *o = tw_pool_get(p);
	if (o)
		memset(o, 0, p->size);
	return o;
}

void tw_pool_put(struct tw_pool *p, void *obj)
{
	if (!obj)
		return;
	memcpy(obj, &p->free, sizeof(void *));
	p->free = obj;
	p->in_use--;
	POISON(obj, p->size);
}

void tw_pool_destroy(struct tw_pool *p)
{
	size_t left = p->made;
	for (size_t i = 0; i < p->nchunks; i++) {
		size_t n = left < p->per_chunk ? left : p->per_chunk;
		UNPOISON(p->chunks[i], n * p->size);
		left -= n;
		free(p->chunks[i]);
	}
	free(p->chunks);
	size_t size = p->size, per = p->per_chunk, max = p->max;
	tw_pool_init(p, size, per, max);
}
