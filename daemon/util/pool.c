/* Fixed-size object pool (pool.h). */
#include "util/pool.h"
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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

/* one more chunk, its objects carved from it as they are asked for (never
 * touched before); -1 at max or without memory */
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
	/* mapped and populated in one system call: the objects' pages are
	 * not faulted in one by one as flows first touch them (a fault costs
	 * about a microsecond, more than the work on a flow's event) */
	unsigned char *c =
	        mmap(NULL, n * p->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (c == MAP_FAILED)
		return -1;
	POISON(c, n * p->size);
	p->chunks[p->nchunks++] = c;
	p->made += n;
	p->bump = c;
	p->bump_left = n;
	return 0;
}

static inline void prefetch(const unsigned char *o, size_t size)
{
	for (size_t off = 0; off < size && off < 256; off += 64)
		__builtin_prefetch(o + off, 1);
}

void *tw_pool_get(struct tw_pool *p)
{
	void *o;
	if (p->free) {
		o = p->free;
		UNPOISON(o, p->size);
		memcpy(&p->free, o, sizeof(void *));
		if (p->free) /* poisoned under ASan: only a hint, never a read */
			prefetch(p->free, p->size);
	} else if (p->bump_left || grow(p) == 0) {
		o = p->bump;
		UNPOISON(o, p->size);
		p->bump += p->size;
		p->bump_left--;
		/* the next one is cold (never touched since it was mapped): its
		 * first cache lines on their way while this one is used */
		if (p->bump_left)
			prefetch(p->bump, p->size);
	} else {
		p->exhausted++;
		return NULL;
	}
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
		munmap(p->chunks[i], n * p->size);
	}
	free(p->chunks);
	size_t size = p->size, per = p->per_chunk, max = p->max;
	tw_pool_init(p, size, per, max);
}
