/* Offline replay: the capture's timestamps are the clock, so idle timeouts
 * and every time window behave as they would have live. */
#include "capture/run.h"
#include "util/progress.h"
#include <stdio.h>
#include <string.h>

#define TW_SWEEP_EVERY_NS 1000000000ull

int tw_replay_run(struct tw_engine *e, const struct tw_run_hooks *h, char *const *files, int nfiles,
                  const struct tw_timeouts *t, struct tw_replay_totals *tot)
{
	uint64_t clock = 0, next_sweep = 0;
	int faults = 0, clip_warned = 0;
	char err[512];

	struct tw_progress prog;
	memset(tot, 0, sizeof(*tot));
	tw_pcap_stop_flag(&tw_stop);
	for (int i = 0; i < nfiles && !tw_stop; i++) {
		struct tw_pcap_in *in;
		struct tw_frame f;
		int rc = 0;

		if (tw_pcap_open(&in, files[i], err, sizeof(err)) < 0) {
			if (tw_stop)
				break; /* stopped while waiting for the capture header */
			fprintf(stderr, "tamperwatchd: %s\n", err);
			tot->read_errors++;
			faults = 1;
			continue;
		}
		tot->files++;
		char what[128];
		snprintf(what, sizeof(what), nfiles > 1 ? "replay %d/%d" : "replay", i + 1, nfiles);
		tw_progress_init(&prog, what);
		uint64_t packets = 0, bytes = 0;
		while (!tw_stop && (rc = tw_pcap_next(in, &f, err, sizeof(err))) == 1) {
			packets++;
			bytes += f.origlen;
			if (prog.on && !(packets & 1023)) { /* a terminal only: a look at the clock every 1024 */
				uint64_t pos, size;
				tw_pcap_progress(in, &pos, &size);
				tw_progress_update(&prog, packets, bytes, pos, size);
			}
			if (f.ts_ns > clock)
				clock = f.ts_ns;
			if (clock >= next_sweep) {
				if (next_sweep) {
					tw_sweep(e, clock, t, 0);
					h->tick(h->arg, clock, 0);
				}
				next_sweep = clock - clock % TW_SWEEP_EVERY_NS + TW_SWEEP_EVERY_NS;
			}
			if (tw_pcap_stats(in)->clipped_frames == 1 && !clip_warned) { /* once: the rest are counted */
				clip_warned = 1;
				fprintf(stderr,
				        "tamperwatchd: %s: packet %llu: a frame of %u bytes cut to %u (every cut frame "
				        "is "
				        "counted in the stats record's replay.clipped_frames)\n",
				        files[i], (unsigned long long)tw_pcap_stats(in)->records, f.origlen, f.caplen);
			}
			if (e->process(e, &f) < 0) {
				fprintf(stderr, "tamperwatchd: %s: stopping this file\n", files[i]);
				faults = 1;
				break;
			}
		}
		tw_progress_end(&prog);
		const struct tw_pcap_stats *s = tw_pcap_stats(in);
		if (rc < 0) {
			fprintf(stderr, "tamperwatchd: %s (the %llu packets before it were processed)\n", err,
			        (unsigned long long)s->packets);
			faults = 1;
		}
		tot->frames += s->packets;
		tot->skipped_truncated_l2 += s->skipped_truncated_l2;
		tot->skipped_unsupported_l3 += s->skipped_unsupported_l3;
		tot->out_of_order += s->out_of_order;
		tot->read_errors += s->read_errors;
		tot->clipped_frames += s->clipped_frames;
		if (s->skipped_truncated_l2 || s->skipped_unsupported_l3 || s->out_of_order)
			fprintf(stderr,
			        "tamperwatchd: %s: %llu packets; skipped %llu shorter than their link header, "
			        "%llu not IP; %llu out of time order\n",
			        files[i], (unsigned long long)s->packets, (unsigned long long)s->skipped_truncated_l2,
			        (unsigned long long)s->skipped_unsupported_l3, (unsigned long long)s->out_of_order);
		tw_pcap_close(in);
	}
	/* end of capture: every flow still open ends here */
	tw_sweep(e, clock, t, 1);
	h->tick(h->arg, clock, 1);
	h->stats(h->arg, clock, tot, 1);
	return faults;
}
