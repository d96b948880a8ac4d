#include "outputs/output.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int open_path(struct tw_output *o, char *err, size_t errlen)
{
	if (strcmp(o->path, "-") == 0) {
		o->fd = STDOUT_FILENO;
		o->is_stdout = 1;
		return 0;
	}
	o->is_stdout = 0;
	o->fd = open(o->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (o->fd < 0) {
		snprintf(err, errlen, "%s: cannot open for writing: %s", o->path, strerror(errno));
		return -1;
	}
	return 0;
}

int tw_output_open(struct tw_output *o, const char *path, char *err, size_t errlen)
{
	memset(o, 0, sizeof(*o));
	o->fd = -1;
	if (strlen(path) >= sizeof(o->path)) {
		snprintf(err, errlen, "output path too long");
		return -1;
	}
	snprintf(o->path, sizeof(o->path), "%s", path);
	o->buf = malloc(TW_OUTPUT_BUF);
	if (!o->buf) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return open_path(o, err, errlen);
}

static int write_all(struct tw_output *o, const char *p, size_t len)
{
	size_t off = 0;
	/* bounded: a writer that keeps making no progress gives up */
	for (int tries = 0; off < len && tries < 64; tries++) {
		ssize_t n = write(o->fd, p + off, len - off);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			break;
		}
		off += (size_t)n;
	}
	return off < len ? -1 : 0;
}

int tw_output_flush(struct tw_output *o)
{
	if (!o->len)
		return 0;
	int rc = write_all(o, o->buf, o->len);
	if (rc < 0) {
		/* count the lines lost with the failed write */
		for (size_t i = 0; i < o->len; i++)
			if (o->buf[i] == '\n') {
				o->write_errors++;
				o->lines--;
			}
	}
	o->len = 0;
	return rc;
}

int tw_output_write(struct tw_output *o, const char *line, size_t len)
{
	if (o->len + len > TW_OUTPUT_BUF && tw_output_flush(o) < 0 && len > TW_OUTPUT_BUF)
		return -1;
	if (len > TW_OUTPUT_BUF) {
		if (write_all(o, line, len) < 0) {
			o->write_errors++;
			return -1;
		}
		o->lines++;
		return 0;
	}
	memcpy(o->buf + o->len, line, len);
	o->len += len;
	o->lines++;
	return 0;
}

int tw_output_reopen(struct tw_output *o, char *err, size_t errlen)
{
	tw_output_flush(o);
	if (o->is_stdout)
		return 0;
	int old = o->fd;
	if (open_path(o, err, errlen) < 0) {
		o->fd = old; /* keep writing to the old file rather than lose lines */
		return -1;
	}
	if (old >= 0)
		close(old);
	return 0;
}

void tw_output_close(struct tw_output *o)
{
	if (o->fd >= 0)
		tw_output_flush(o);
	free(o->buf);
	o->buf = NULL;
	if (o->fd >= 0 && !o->is_stdout)
		close(o->fd);
	o->fd = -1;
}

void tw_output_line(void *o, const char *line, size_t len)
{
	tw_output_write(o, line, len);
}

/* Detector lines (alerts, stats, link and gap records) are few and go to
 * the file at once, with the events queued before them: an alert is in the
 * log before a state file can record it (aggregate.c), and a consumer sees
 * it without waiting for the next flush. */
void tw_output_line_now(void *o, const char *line, size_t len)
{
	tw_output_write(o, line, len);
	tw_output_flush(o);
}
