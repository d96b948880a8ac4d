#include "outputs/output.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *name(const struct tw_output *o)
{
	return o->is_stdout ? "standard output" : o->path;
}

/* a failed write on stderr, at most once per TW_OUTPUT_REPORT_NS */
static void report(struct tw_output *o)
{
	uint64_t now = mono_ns();
	if (o->reported_ns && now - o->reported_ns < TW_OUTPUT_REPORT_NS)
		return;
	o->reported_ns = now;
	o->reported_lost = o->write_errors;
	fprintf(stderr, "tamperwatchd: %s: write failed: %s (%llu lines lost so far, %zu bytes queued to retry)\n",
	        name(o), strerror(o->last_errno), (unsigned long long)o->write_errors, o->len);
}

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
	/* a file left ending mid-line (an earlier run cut off): our first line
	   must not be fused onto it */
	struct stat st, rst;
	char last;
	if (fstat(o->fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
		return 0;
	int rfd = open(o->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW); /* the write-only fd cannot read */
	if (rfd >= 0 && fstat(rfd, &rst) == 0 && rst.st_ino == st.st_ino && rst.st_dev == st.st_dev &&
	    pread(rfd, &last, 1, st.st_size - 1) == 1 && last != '\n')
		o->newline_first = 1;
	if (rfd >= 0)
		close(rfd);
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

/* bytes written before the file refused more (errno in last_errno);
   bounded: a writer that keeps making no progress gives up */
static size_t write_some(struct tw_output *o, const char *p, size_t len)
{
	size_t off = 0;
	for (int tries = 0; off < len && tries < 64; tries++) {
		ssize_t n = write(o->fd, p + off, len - off);
		if (n < 0) {
			o->last_errno = errno;
			if (errno == EINTR || errno == EAGAIN)
				continue;
			break;
		}
		if (n == 0)
			o->last_errno = EIO;
		off += (size_t)n;
	}
	return off;
}

static size_t count_lines(const char *p, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += p[i] == '\n';
	return k;
}

int tw_output_flush(struct tw_output *o)
{
	if (o->newline_first) {
		if (write_some(o, "\n", 1) != 1) {
			report(o);
			return -1;
		}
		o->newline_first = 0;
	}
	if (!o->len)
		return 0;
	size_t off = o->head_written + write_some(o, o->buf + o->head_written, o->len - o->head_written);
	if (off == o->len) {
		o->len = 0;
		o->head_written = 0;
		return 0;
	}
	/* keep what the file refused; a line cut here is completed next time */
	const char *nl = off ? memrchr(o->buf, '\n', off) : NULL;
	size_t done = nl ? (size_t)(nl - o->buf) + 1 : 0;
	if (off > done && (done || !o->head_written)) /* a line newly cut, not the same one again */
		o->lines_cut++;
	memmove(o->buf, o->buf + done, o->len - done);
	o->len -= done;
	o->head_written = off - done;
	report(o);
	return -1;
}

/* A line cut in the file that can no longer be completed (closing, or
   moving to a reopened file): removed from a regular file, else ended with a
   newline at the next write, so it is never fused; counted lost. */
static void drop_cut_head(struct tw_output *o)
{
	if (!o->head_written)
		return;
	struct stat st;
	if (!(fstat(o->fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= (off_t)o->head_written &&
	      ftruncate(o->fd, st.st_size - (off_t)o->head_written) == 0))
		o->newline_first = 1;
	char *nl = memchr(o->buf, '\n', o->len);
	size_t n = nl ? (size_t)(nl - o->buf) + 1 : o->len;
	memmove(o->buf, o->buf + n, o->len - n);
	o->len -= n;
	o->head_written = 0;
	o->write_errors++;
	o->lines--;
}

int tw_output_write(struct tw_output *o, const char *line, size_t len)
{
	if (o->len + len > TW_OUTPUT_BUF)
		tw_output_flush(o);
	if (o->len + len <= TW_OUTPUT_BUF) {
		memcpy(o->buf + o->len, line, len);
		o->len += len;
		o->lines++;
		return 0;
	}
	/* longer than the queue: straight to the file when nothing waits */
	if (!o->len && !o->newline_first) {
		size_t off = write_some(o, line, len);
		if (off == len) {
			o->lines++;
			return 0;
		}
		if (off) {
			o->lines_cut++;
			struct stat st;
			if (!(fstat(o->fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= (off_t)off &&
			      ftruncate(o->fd, st.st_size - (off_t)off) == 0))
				o->newline_first = 1;
		}
	}
	o->write_errors++;
	report(o);
	return -1;
}

int tw_output_reopen(struct tw_output *o, char *err, size_t errlen)
{
	tw_output_flush(o);
	if (o->is_stdout)
		return 0;
	drop_cut_head(o); /* begun in the old file: the new one cannot complete it */
	int old = o->fd, old_newline = o->newline_first;
	o->newline_first = 0;
	if (open_path(o, err, errlen) < 0) {
		o->fd = old; /* keep writing to the old file rather than lose lines */
		o->newline_first = old_newline;
		return -1;
	}
	if (old >= 0)
		close(old);
	return 0;
}

void tw_output_close(struct tw_output *o)
{
	if (o->fd >= 0) {
		tw_output_flush(o);
		drop_cut_head(o);
		size_t n = count_lines(o->buf, o->len);
		o->write_errors += n;
		o->lines -= n;
		o->len = 0;
		if (o->write_errors)
			fprintf(stderr, "tamperwatchd: %s: %llu lines lost to failed writes (%s)\n", name(o),
			        (unsigned long long)o->write_errors, strerror(o->last_errno));
	}
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
