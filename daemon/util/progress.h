/* Progress of a long operation (a replay, a report download) on a
 * terminal: one line rewritten in place on stderr, at the first update
 * and then at most 4 times a second: what, packets (when counted), bytes, rate and, when the total is
 * known, percent and time left.  Only when stderr is a terminal: piped or
 * redirected, nothing is written (logs and tests read stderr). */
#ifndef TW_PROGRESS_H
#define TW_PROGRESS_H
#include <stdint.h>

struct tw_progress {
	int on;    /* stderr is a terminal */
	int shown; /* a line is on screen */
	uint64_t t0_us, last_us;
	char what[64];
};

void tw_progress_init(struct tw_progress *p, const char *what);
/* packets: UINT64_MAX when not counted; done/total: bytes of the input
 * (total 0: unknown, no percent nor time left); bytes: what to show as
 * bytes processed. */
void tw_progress_update(struct tw_progress *p, uint64_t packets, uint64_t bytes, uint64_t done, uint64_t total);
/* clear the line (the final counts are for the log, not the terminal) */
void tw_progress_end(struct tw_progress *p);
#endif
