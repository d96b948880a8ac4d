/* The JSON-lines output: each line reaches the file in one write() on an
 * O_APPEND descriptor, so readers and logrotate never see half a line;
 * reopened on SIGHUP.  A write that fails (full disk, /dev/full, a broken
 * pipe) loses nothing silently: what was not written stays queued and is
 * written first when the file takes bytes again, so a line cut by a short
 * write is completed, never fused with the next one; lines that find the
 * queue full are lost and counted; stderr says so (at most every 10 s). */
#ifndef TW_OUTPUT_H
#define TW_OUTPUT_H
#include <stddef.h>
#include <stdint.h>
#include <limits.h>

#define TW_OUTPUT_BUF (256 * 1024)
#define TW_OUTPUT_REPORT_NS (10ull * 1000000000ull) /* stderr: one message per 10 s */

struct tw_output {
	char path[PATH_MAX];
	int fd;
	int is_stdout;
	char *buf; /* whole lines, except that the first may have begun in the file */
	size_t len;
	size_t head_written;   /* bytes of buf's first line already in the file (a cut line) */
	int newline_first;     /* the file ends mid-line we cannot complete: start with '\n' */
	uint64_t lines;        /* lines accepted */
	uint64_t write_errors; /* lines lost: found the queue full, or still queued at close */
	uint64_t lines_cut;    /* lines a short write cut: completed later, or discarded (counted lost) */
	uint64_t reported_ns, reported_lost;
	int last_errno;
};

int tw_output_open(struct tw_output *o, const char *path, char *err, size_t errlen);
/* Queue one line; lines reach the file at tw_output_flush (the live loop
 * flushes after every poll, at most 200 ms later), when the buffer fills,
 * and at close.  -1: the line was lost (counted). */
int tw_output_write(struct tw_output *o, const char *line, size_t len);
/* -1: some bytes are still queued (the file refused them; reported) */
int tw_output_flush(struct tw_output *o);
int tw_output_reopen(struct tw_output *o, char *err, size_t errlen);
/* Lines still queued are lost and counted; a line cut in the file is
 * removed from it when the file is a regular one.  Says on stderr how many
 * lines were lost, if any. */
void tw_output_close(struct tw_output *o);
/* The same as line sinks (tw_line_fn, util/line.h), arg the output: queued
 * (events), or written and flushed at once (detector and stats lines). */
void tw_output_line(void *o, const char *line, size_t len);
void tw_output_line_now(void *o, const char *line, size_t len);
#endif
