/* soak_feed: the soak's input (bench/bench_soak.sh builds and runs this).
 *
 *   soak_feed IN.pcap SECONDS GAP_S > stream.pcap
 *
 * Reads a classic pcap (microsecond timestamps) into memory and writes it
 * to standard output again and again, whole loops only, until SECONDS of
 * wall time have passed; each loop's timestamps are shifted past the last
 * one's by GAP_S seconds more than the capture spans, so every flow of a
 * loop has gone idle and ended before the next loop opens it again: the
 * flow tables churn through all of the capture's flows once a loop.  On
 * standard error, at the end: "loops N packets P".  SECONDS < 0: exactly
 * -SECONDS loops. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct rec {
	uint32_t sec, usec, caplen, len;
};

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: soak_feed IN.pcap SECONDS GAP_S\n");
		return 2;
	}
	FILE *in = fopen(argv[1], "rb");
	if (!in) {
		perror(argv[1]);
		return 1;
	}
	double secs = atof(argv[2]);
	uint32_t gap = (uint32_t)atoi(argv[3]);
	fseek(in, 0, SEEK_END);
	long sz = ftell(in);
	rewind(in);
	uint8_t *buf = malloc((size_t)sz);
	if (sz < 24 || !buf || fread(buf, 1, (size_t)sz, in) != (size_t)sz) {
		fprintf(stderr, "soak_feed: cannot read %s\n", argv[1]);
		return 1;
	}
	fclose(in);
	uint32_t magic;
	memcpy(&magic, buf, 4);
	if (magic != 0xa1b2c3d4) {
		fprintf(stderr, "soak_feed: %s: not a microsecond pcap in host order\n", argv[1]);
		return 1;
	}
	/* the capture's span */
	uint32_t first = 0, last = 0;
	long npkt = 0;
	for (long off = 24; off + 16 <= sz;) {
		struct rec r;
		memcpy(&r, buf + off, sizeof(r));
		if (r.caplen > 262144 || off + 16 + (long)r.caplen > sz)
			break;
		if (!npkt)
			first = r.sec;
		last = r.sec;
		npkt++;
		off += 16 + r.caplen;
	}
	if (!npkt) {
		fprintf(stderr, "soak_feed: %s: no packets\n", argv[1]);
		return 1;
	}
	uint32_t shift_step = last - first + 1 + gap;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fwrite(buf, 1, 24, stdout);
	unsigned long loops = 0, packets = 0;
	do {
		uint32_t shift = (uint32_t)loops * shift_step;
		for (long off = 24, n = 0; n < npkt; n++) {
			struct rec r;
			memcpy(&r, buf + off, sizeof(r));
			r.sec += shift;
			if (fwrite(&r, sizeof(r), 1, stdout) != 1 ||
			    fwrite(buf + off + 16, 1, r.caplen, stdout) != r.caplen) {
				fprintf(stderr, "soak_feed: write failed after %lu loops\n", loops);
				return 1;
			}
			off += 16 + r.caplen;
			packets++;
		}
		loops++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (secs < 0 ? loops < (unsigned long)-secs
	                  : (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < secs);
	fflush(stdout);
	fprintf(stderr, "loops %lu packets %lu\n", loops, packets);
	return 0;
}
