/* Where a finished JSON line goes.  The layer that makes a line (events,
 * verdicts, detectors, the stats record) does not know the output; main
 * wires each line sink to it, so dependencies run one way (docs/architecture.md). */
#ifndef TW_LINE_H
#define TW_LINE_H
#include <stddef.h>

typedef void (*tw_line_fn)(void *arg, const char *line, size_t len);

struct tw_line_sink {
	tw_line_fn fn; /* NULL: lines are dropped (tests that only count) */
	void *arg;
};

static inline void tw_line_put(const struct tw_line_sink *s, const char *line, size_t len)
{
	if (s->fn)
		s->fn(s->arg, line, len);
}
#endif
