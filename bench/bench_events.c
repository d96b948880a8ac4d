/* bench_events: the daemon's event rate, from events already in memory to
 * the verdicts (issue 16: >= 2 M events/s on one core).
 *
 * The events are made once by the userspace classifier (the same core the
 * BPF program runs) replaying a capture of short flows that gen_capture
 * writes (bench_replay's "short" mix, BENCH_EVENTS_PACKETS packets, default
 * 400 k), flow ends from the sweeper included, and kept as the ring buffer
 * would hand them: one record after the other.  Then, 3 runs each, median of
 * the thread's CPU time (CLOCK_THREAD_CPUTIME_ID: on a shared machine the
 * wall clock also counts the time other jobs hold the core; it is printed
 * beside), on one CPU:
 *   reference  the pipeline alone: validate, count and decode each event
 *              (the work every consumer shares; its floor)
 *   verdicts   the pipeline and the verdict engine (the daemon's live
 *              default: per-packet events are not written, output.types)
 *   + writer   the same and the event writer formatting every event as its
 *              JSON line (output.types=all), lines counted, not written
 *   warm       verdicts again, after the same events went once, untimed,
 *              through the same engine: its pools and tables hold past
 *              flows, as in a daemon that has run a while (context)
 * It prints events/s of each, the verdict path's ratio to the reference
 * measured in the same run, and the target.  The kernel's ring buffer
 * itself is not in the loop (bench_xdp measures the program's side).
 * Figures to build/bench/bench_events.results. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "capture/engine.h"
#include "capture/run.h"
#include "capture/sweep.h"
#include "events/pipeline.h"
#include "verdicts/verdict.h"

#define RUNS 3
#define TARGET 2e6

static struct {
	uint8_t *buf;
	size_t len, cap;
	uint64_t n;
} evs;

/* the record sink of the classifier: append, aligned as ring records are */
static void keep(void *arg, const struct tw_event *e, size_t len)
{
	(void)arg;
	size_t need = evs.len + sizeof(uint32_t) + ((len + 7) & ~(size_t)7);
	if (need > evs.cap) {
		size_t cap = evs.cap ? evs.cap * 2 : (64u << 20);
		while (cap < need)
			cap *= 2;
		uint8_t *nb = realloc(evs.buf, cap);
		if (!nb) {
			fprintf(stderr, "bench_events: out of memory for %zu bytes of events\n", cap);
			exit(1);
		}
		evs.buf = nb;
		evs.cap = cap;
	}
	uint32_t l = (uint32_t)len;
	memcpy(evs.buf + evs.len, &l, sizeof(l));
	memcpy(evs.buf + evs.len + sizeof(l), e, len);
	evs.len = need;
	evs.n++;
}

static void no_tick(void *arg, uint64_t now, int final)
{
	(void)arg, (void)now, (void) final;
}
static void no_stats(void *arg, uint64_t ts, const struct tw_replay_totals *t, int final)
{
	(void)arg, (void)ts, (void)t, (void) final;
}

static uint64_t lines, line_bytes;
static void count_line(void *arg, const char *line, size_t len)
{
	(void)arg, (void)line;
	lines++;
	line_bytes += len;
}

/* the CPU time of this thread: what one core spends on the events, not
 * the time other jobs of a shared machine hold that core (the wall clock
 * of a pass is printed beside it) */
static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

enum mode { REFERENCE, VERDICTS, WRITER, WARM, NMODES };

static void feed(struct tw_pipeline *pl)
{
	for (size_t off = 0; off < evs.len;) {
		uint32_t l;
		memcpy(&l, evs.buf + off, sizeof(l));
		tw_pipeline_event(pl, (const struct tw_event *)(evs.buf + off + sizeof(l)), l);
		off += sizeof(l) + ((l + 7) & ~(size_t)7);
	}
}

/* one pass over every event: CPU seconds; its wall seconds in *wall */
static double pass(enum mode m, uint64_t *malformed, double *wall)
{
	static struct tw_pipeline pl;
	struct tw_pipeline_opts po = { .v4_prefix = 24, .v6_prefix = 48 };
	struct tw_event_writer w;
	struct tw_verdict *v = NULL;

	tw_pipeline_init(&pl, &po);
	if (m == WRITER) {
		tw_event_writer_init(&w, &pl.opt, count_line, NULL);
		tw_pipeline_add_consumer(&pl, "events", tw_event_write, &w);
	}
	if (m != REFERENCE) {
		v = tw_verdict_new(&pl, NULL, TW_FLOWS_DEFAULT, 30ull * 1000000000ull, count_line, NULL);
		if (!v) {
			fprintf(stderr, "bench_events: out of memory for the verdict table\n");
			exit(1);
		}
		tw_pipeline_add_consumer(&pl, "verdicts", tw_verdict_event, v);
	}
	if (m == WARM) { /* a daemon that has run a while: its tables and pools hold past flows */
		feed(&pl);
		lines = line_bytes = 0;
	}
	double t0 = cpu_s(), w0 = now_s();
	feed(&pl);
	double t = cpu_s() - t0;
	*wall = now_s() - w0;
	*malformed = pl.malformed;
	tw_verdict_free(v);
	return t;
}

int main(void)
{
	char dir[1024], pcap[1200], cmd[8192];
	long npkt = getenv("BENCH_EVENTS_PACKETS") ? atol(getenv("BENCH_EVENTS_PACKETS")) : 400000;
	if (npkt < 1000 || npkt > 100000000) {
		printf("bench_events: BENCH_EVENTS_PACKETS: 1000 to 100000000\n");
		return 1;
	}
	ssize_t dl = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	if (dl <= 0)
		return 1;
	dir[dl] = 0;
	*strrchr(dir, '/') = 0; /* build/bench */

	/* the capture, made here as bench_replay makes its own */
	snprintf(pcap, sizeof(pcap), "%s/events-bench-%ld.pcap", dir, npkt);
	struct stat st;
	if (stat(pcap, &st) < 0) {
		snprintf(cmd, sizeof(cmd),
		         "cc -std=gnu11 -O2 -Wall -Wextra -Werror -Itests bench/gen_capture.c -o '%s/gen_capture' -lm "
		         "&& "
		         "'%s/gen_capture' '%s.tmp' %ld 1 short >/dev/null 2>&1 && mv '%s.tmp' '%s'",
		         dir, dir, pcap, npkt, pcap, pcap);
		if (system(cmd) != 0) {
			printf("SKIP: cannot build or run the capture generator\n");
			return 77;
		}
	}

	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);

	char err[256];
	struct tw_record_sink sink = { keep, NULL };
	struct tw_engine *e = tw_engine_user_new(&sink, TW_FLOWS_DEFAULT, NULL, err, sizeof(err));
	if (!e) {
		printf("bench_events: %s\n", err);
		return 1;
	}
	struct tw_timeouts to;
	tw_timeouts_default(&to);
	struct tw_run_hooks h = { .tick = no_tick, .stats = no_stats };
	struct tw_replay_totals tot;
	char *files[1] = { pcap };
	if (tw_replay_run(e, &h, files, 1, &to, &tot) != 0 || !evs.n) {
		printf("bench_events: replaying %s failed\n", pcap);
		return 1;
	}
	e->destroy(e);
	printf("bench_events: %llu events (%.1f MB as ring records) from %llu packets of %s\n",
	       (unsigned long long)evs.n, evs.len / 1e6, (unsigned long long)tot.frames, pcap);

	static const char *const names[NMODES] = { "reference (pipeline: validate, decode)",
		                                   "verdicts (live default: events not written)",
		                                   "verdicts + every event formatted (output.types=all)",
		                                   "verdicts, warm (the events once before, untimed)" };
	double rate[NMODES];
	uint64_t malformed = 0;
	for (int m = 0; m < NMODES; m++) {
		double t[RUNS], wt[RUNS];
		for (int r = 0; r < RUNS; r++) {
			lines = line_bytes = 0;
			t[r] = pass((enum mode)m, &malformed, &wt[r]);
		}
		qsort(t, RUNS, sizeof(t[0]), cmp_d);
		qsort(wt, RUNS, sizeof(wt[0]), cmp_d);
		rate[m] = (double)evs.n / t[RUNS / 2];
		printf("  %-52s %7.2f M events/s (%.0f ns of CPU an event; wall clock %.2f M/s; %llu lines, %.1f MB)\n",
		       names[m], rate[m] / 1e6, 1e9 / rate[m], (double)evs.n / wt[RUNS / 2] / 1e6,
		       (unsigned long long)lines, line_bytes / 1e6);
		if (malformed) {
			printf("bench_events: %llu events failed validation\n", (unsigned long long)malformed);
			return 1;
		}
	}
	printf("  verdict path / reference: %.2f of the reference's rate; target %.1f M events/s: %s\n",
	       rate[1] / rate[0], TARGET / 1e6, rate[1] >= TARGET ? "met" : "MISSED");

	snprintf(cmd, sizeof(cmd), "%s/bench_events.results", dir);
	FILE *f = fopen(cmd, "w");
	if (f) {
		const char *wl =
		        "bench_events: events of gen_capture's short mix (%ld packets) from memory through the "
		        "pipeline%s, one CPU, thread CPU time, median of 3";
		char w1[300], w2[300];
		snprintf(w1, sizeof(w1), wl, npkt, " and the verdicts");
		snprintf(w2, sizeof(w2), wl, npkt, ", the verdicts and the event writer (every type)");
		fprintf(f,
		        "{\"figure\":\"daemon events/s to verdicts\",\"workload\":\"%s\",\"value\":%.0f,\"unit\":"
		        "\"events/s\",\"baseline\":%.0f,\"ratio\":%.3f,\"target\":\">= 2000000 "
		        "events/s\",\"met\":%s}\n",
		        w1, rate[1], rate[0], rate[1] / rate[0], rate[1] >= TARGET ? "true" : "false");
		fprintf(f,
		        "{\"figure\":\"daemon events/s, every event written\",\"workload\":\"%s\",\"value\":%.0f,"
		        "\"unit\":\"events/"
		        "s\",\"baseline\":%.0f,\"ratio\":%.3f,\"target\":\"(context)\",\"met\":true}\n",
		        w2, rate[2], rate[0], rate[2] / rate[0]);
		fclose(f);
	}
	free(evs.buf);
	return 0;
}
