/* Every line of each alert, from raised through updated to resolved, for
 * the operator's report bundle (a bus sink, on the main thread; read by the
 * control thread under mu).  Bounded: open alerts up to TW_TL_MAX_OPEN, the
 * TW_TL_MAX_RESOLVED most recently resolved ones, and per alert its first
 * line plus the last TW_TL_LINES - 1; whatever a bound drops is counted. */
#ifndef TW_TIMELINE_H
#define TW_TIMELINE_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

#define TW_TL_LINES 32
#define TW_TL_MAX_OPEN 1024
#define TW_TL_MAX_RESOLVED 256

struct tw_tl_alert {
	char id[64];
	int open;
	uint64_t order;              /* when it last changed (resolved ones are evicted oldest first) */
	char *first;                 /* the raised line (or the first seen after a restart) */
	char *ring[TW_TL_LINES - 1]; /* later lines, oldest overwritten */
	uint64_t nlater;             /* later lines ever seen */
};

struct tw_timeline {
	pthread_mutex_t mu;
	struct tw_tl_alert *v;
	size_t n, cap;
	uint64_t order;
	uint64_t lines_omitted;    /* middle lines of long-lived alerts not kept */
	uint64_t alerts_untracked; /* alerts not kept: more than TW_TL_MAX_OPEN open */
	uint64_t evicted;          /* resolved alerts forgotten to make room */
	uint64_t oom;
};

void tw_timeline_init(struct tw_timeline *t);
void tw_timeline_free(struct tw_timeline *t);
/* a tw_sink_fn (bus.h): arg is the timeline */
void tw_timeline_sink(void *arg, const char *line, size_t len, struct json_object *obj);
/* Copies of every kept line of alert id, oldest first (each ends in '\n'),
 * into *lines (free with tw_timeline_lines_free); *omitted: lines between
 * the first and the kept ones that were dropped.  Number of lines, 0 when
 * the id is unknown, -1 out of memory. */
long tw_timeline_get(struct tw_timeline *t, const char *id, char ***lines, uint64_t *omitted);
void tw_timeline_lines_free(char **lines, long n);
#endif
