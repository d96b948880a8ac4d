/* The JSON-lines output: each line reaches the file in one write() on an
 * O_APPEND descriptor, so readers and logrotate never see half a line;
 * reopened on SIGHUP. */
#ifndef TW_OUTPUT_H
#define TW_OUTPUT_H
#include <stddef.h>
#include <stdint.h>
#include <limits.h>

struct tw_output {
	char path[PATH_MAX];
	int fd;
	int is_stdout;
	uint64_t lines;
	uint64_t write_errors;   /* lines lost to a failed write */
};

int tw_output_open(struct tw_output *o, const char *path, char *err, size_t errlen);
int tw_output_write(struct tw_output *o, const char *line, size_t len);
int tw_output_reopen(struct tw_output *o, char *err, size_t errlen);
void tw_output_close(struct tw_output *o);
#endif
