/* The JSON-lines output: each line reaches the file in one write() on an
 * O_APPEND descriptor, so readers and logrotate never see half a line;
 * reopened on SIGHUP. */
#ifndef TW_OUTPUT_H
#define TW_OUTPUT_H
#include <stddef.h>
#include <stdint.h>
#include <limits.h>

#define TW_OUTPUT_BUF (256 * 1024)

struct tw_output {
	char path[PATH_MAX];
	int fd;
	int is_stdout;
	char *buf; /* whole lines only: a flush never splits one */
	size_t len;
	uint64_t lines;
	uint64_t write_errors; /* lines lost to a failed write */
};

int tw_output_open(struct tw_output *o, const char *path, char *err, size_t errlen);
/* Queue one line; lines reach the file at tw_output_flush (the live loop
 * flushes after every poll, at most 200 ms later), when the buffer fills,
 * and at close. */
int tw_output_write(struct tw_output *o, const char *line, size_t len);
int tw_output_flush(struct tw_output *o);
int tw_output_reopen(struct tw_output *o, char *err, size_t errlen);
void tw_output_close(struct tw_output *o);
/* The same as line sinks (tw_line_fn, util/line.h), arg the output: queued
 * (events), or written and flushed at once (detector and stats lines). */
void tw_output_line(void *o, const char *line, size_t len);
void tw_output_line_now(void *o, const char *line, size_t len);
#endif
