#include "hub/seen.h"
#include <stdlib.h>
#include <string.h>

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

int tw_seen_init(struct tw_seen *s, size_t max)
{
	memset(s, 0, sizeof(*s));
	s->max = max;
	s->nindex = 2 * max;
	s->ids = calloc(max, sizeof(*s->ids));
	s->index = calloc(s->nindex, sizeof(*s->index));
	if (!s->ids || !s->index) {
		tw_seen_free(s);
		return -1;
	}
	return 0;
}

void tw_seen_free(struct tw_seen *s)
{
	free(s->ids);
	free(s->index);
	memset(s, 0, sizeof(*s));
}

/* index slot holding ring slot r + 1, or the empty slot where id would go */
static size_t find(const struct tw_seen *s, const char *id, int *found)
{
	size_t i = fnv(id) % s->nindex;
	for (;;) {
		uint32_t v = s->index[i];
		if (!v) {
			*found = 0;
			return i;
		}
		if (!strcmp(s->ids[v - 1], id)) {
			*found = 1;
			return i;
		}
		i = (i + 1) % s->nindex;
	}
}

/* removes index slot i, moving later entries of its cluster back (linear probing) */
static void unindex(struct tw_seen *s, size_t i)
{
	s->index[i] = 0;
	for (size_t j = (i + 1) % s->nindex; s->index[j]; j = (j + 1) % s->nindex) {
		uint32_t v = s->index[j];
		s->index[j] = 0;
		int found;
		size_t k = find(s, s->ids[v - 1], &found);
		s->index[k] = v;
	}
}

int tw_seen_check(struct tw_seen *s, const char *id)
{
	char key[TW_SEEN_ID_MAX];
	size_t n = strnlen(id, sizeof(key) - 1);
	memcpy(key, id, n);
	key[n] = 0;
	int found;
	size_t i = find(s, key, &found);
	if (found)
		return 1;
	size_t slot;
	if (s->n == s->max) { /* forget the oldest */
		slot = s->head;
		size_t old = find(s, s->ids[slot], &found);
		if (found)
			unindex(s, old);
		s->head = (s->head + 1) % s->max;
		s->n--;
		i = find(s, key, &found);
	} else {
		slot = (s->head + s->n) % s->max;
	}
	memcpy(s->ids[slot], key, n + 1);
	s->index[i] = (uint32_t)slot + 1;
	s->n++;
	return 0;
}

const char *tw_seen_at(const struct tw_seen *s, size_t i)
{
	return i < s->n ? s->ids[(s->head + i) % s->max] : NULL;
}
