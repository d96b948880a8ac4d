#include "util/progress.h"
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000ull;
}

void tw_progress_init(struct tw_progress *p, const char *what)
{
	memset(p, 0, sizeof(*p));
	p->on = isatty(STDERR_FILENO);
	p->t0_us = p->last_us = now_us();
	snprintf(p->what, sizeof(p->what), "%s", what ? what : "");
}

static void size_text(double v, char *out, size_t cap)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(out, cap, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

void tw_progress_update(struct tw_progress *p, uint64_t packets, uint64_t bytes, uint64_t done, uint64_t total)
{
	if (!p->on)
		return;
	uint64_t t = now_us();
	if (p->shown && t - p->last_us < 250000) /* the first at once, then 4 a second */
		return;
	p->last_us = t;
	double secs = (double)(t - p->t0_us) / 1e6;
	char b[32], r[32], line[256];
	size_text((double)bytes, b, sizeof b);
	size_text(secs > 0 ? (double)bytes / secs : 0, r, sizeof r);
	int n = snprintf(line, sizeof line, "%s: ", p->what);
	if (packets != UINT64_MAX)
		n += snprintf(line + n, sizeof line - (size_t)n, "%llu packets, ", (unsigned long long)packets);
	n += snprintf(line + n, sizeof line - (size_t)n, "%s, %s/s", b, r);
	if (total && done <= total && done > 0 && secs > 0) {
		double left = secs * (double)(total - done) / (double)done;
		snprintf(line + n, sizeof line - (size_t)n, ", %.0f%%, about %.0f s left",
		         100.0 * (double)done / (double)total, left);
	}
	fprintf(stderr, "\r\033[K%s", line);
	fflush(stderr);
	p->shown = 1;
}

void tw_progress_end(struct tw_progress *p)
{
	if (p->on && p->shown) {
		fprintf(stderr, "\r\033[K");
		fflush(stderr);
	}
	p->shown = 0;
}
