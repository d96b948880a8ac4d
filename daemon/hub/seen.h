/* The hub's memory of message IDs (deduplication): the last max IDs, in
 * arrival order, with a hash index.  A record published twice (a retry
 * after a lost acknowledgement, a spool replayed after a restart) is
 * dropped the second time as long as its ID is still remembered. */
#ifndef TW_HUB_SEEN_H
#define TW_HUB_SEEN_H
#include <stddef.h>
#include <stdint.h>

#define TW_SEEN_ID_MAX 128

struct tw_seen {
	char (*ids)[TW_SEEN_ID_MAX]; /* ring of max, oldest at head */
	size_t head, n, max;
	uint32_t *index; /* open addressing: ring slot + 1, 0 = empty; 2 * max slots */
	size_t nindex;
};

int tw_seen_init(struct tw_seen *s, size_t max); /* 0 or -1 (out of memory) */
void tw_seen_free(struct tw_seen *s);
/* 1 when id was seen already; else remembers it (forgetting the oldest
 * when full) and returns 0.  An ID longer than TW_SEEN_ID_MAX - 1 is cut. */
int tw_seen_check(struct tw_seen *s, const char *id);
/* the i-th remembered ID, oldest first (state saves) */
const char *tw_seen_at(const struct tw_seen *s, size_t i);
#endif
