#include "stats.h"
#include "util/jsonbuf.h"
#include "verdicts/verdict.h"
#include "verdicts/throttle_flows.h"
#include <string.h>
#include <tamperwatch/parse.h>

/* The throttling classifier's flows: kept, not kept (table full), judged, by kind. */
static void throttle_stats(struct tw_jb *b, const struct tw_thr_flows_stats *ts)
{
	tw_jb_obj_open(b, "throttle_flows");
	tw_jb_u64(b, "kept", ts->flows);
	tw_jb_u64(b, "dropped", ts->dropped);
	tw_jb_u64(b, "judged", ts->judged);
	for (int k = 0; k < 5; k++)
		tw_jb_u64(b, tw_thr_kind_name((enum tw_thr_kind)k), ts->by_kind[k]);
	tw_jb_obj_close(b);
}

int tw_stats_add_section(struct tw_stats_src *s, tw_stats_section_fn fn, void *arg)
{
	if (s->nsections == TW_STATS_MAX_SECTIONS)
		return -1;
	s->sections[s->nsections].fn = fn;
	s->sections[s->nsections].arg = arg;
	s->nsections++;
	return 0;
}

void tw_stats_write(const struct tw_stats_src *s, uint64_t ts_ns, const struct tw_replay_totals *r, int final)
{
	static char buf[8192];
	uint64_t c[TW_CNT_MAX], lost[256];
	int ncpu = 0;
	struct tw_jb b;
	struct tw_engine *e = s->eng;

	memset(lost, 0, sizeof(lost));
	e->counters(e, c, lost, 256, &ncpu);
	tw_jb_init(&b, buf, sizeof(buf));
	tw_jb_obj_open(&b, NULL);
	tw_jb_time(&b, "timestamp", ts_ns);
	tw_jb_str(&b, "event_type", "stats");
	tw_jb_bool(&b, "final", final);
	tw_jb_obj_open(&b, "stats");
	tw_jb_u64(&b, "packets", c[TW_CNT_PACKETS]);
	tw_jb_u64(&b, "bytes", c[TW_CNT_BYTES]);
	tw_jb_u64(&b, "tracked", c[TW_CNT_TRACKED]);
	tw_jb_obj_open(&b, "untracked");
	for (int i = 1; i < TW_PARSE_RESULT_MAX; i++)
		tw_jb_u64(&b, tw_untracked_name(i), c[TW_CNT_PARSE_BASE + i]);
	tw_jb_obj_close(&b);
	tw_jb_u64(&b, "flows_new", c[TW_CNT_FLOWS_NEW]);
	tw_jb_u64(&b, "flow_insert_failed", c[TW_CNT_FLOW_INSERT_FAIL]);
	struct tw_flow_table_stats ft[TW_FT_MAX];
	/* the BPF backend's two LRU tables (maps.h): live, or once one has
	 * evicted a flow (a replay where none did stays byte for byte the
	 * userspace engine's) */
	if (e->flow_tables && e->flow_tables(e, ft) == TW_FT_MAX &&
	    (!r || ft[TW_FT_IPV4].evicted || ft[TW_FT_IPV6].evicted)) {
		static const char *const fam[TW_FT_MAX] = { "ipv4", "ipv6" };
		tw_jb_obj_open(&b, "flow_tables");
		for (int t = 0; t < TW_FT_MAX; t++) {
			tw_jb_obj_open(&b, fam[t]);
			tw_jb_u64(&b, "size", ft[t].size);
			tw_jb_u64(&b, "evicted", ft[t].evicted);
			tw_jb_obj_close(&b);
		}
		tw_jb_obj_close(&b);
	}
	tw_jb_u64(&b, "events", c[TW_CNT_EVENTS]);
	tw_jb_u64(&b, "events_lost", c[TW_CNT_EVENTS_LOST]);
	/* per CPU only where the ring buffer is per-CPU-written (live BPF) */
	if (!r && s->status) { /* wall-clock rate: live only, replay output stays deterministic */
		pthread_mutex_lock(&s->status->mu);
		uint64_t eps = s->status->events_per_s;
		pthread_mutex_unlock(&s->status->mu);
		tw_jb_u64(&b, "events_per_s", eps);
	}
	if (!r) {
		tw_jb_arr_open(&b, "events_lost_per_cpu");
		for (int i = 0; i < ncpu && i < 256; i++)
			tw_jb_u64(&b, NULL, lost[i]);
		tw_jb_arr_close(&b);
	}
	tw_jb_u64(&b, "snippet_failed", c[TW_CNT_SNIPPET_FAIL]);
	tw_jb_u64(&b, "prefix_counter_full", c[TW_CNT_PFX_INSERT_FAIL]);
	tw_jb_obj_open(&b, "sampling");
	tw_jb_u64(&b, "rate", tw_sampling_rate(s->sampling));
	tw_jb_u64(&b, "packets_not_sampled", c[TW_CNT_NOT_SAMPLED]);
	tw_jb_u64(&b, "raised", tw_sampling_raises(s->sampling));
	tw_jb_u64(&b, "lowered", tw_sampling_lowers(s->sampling));
	tw_jb_obj_close(&b);
	tw_jb_u64(&b, "events_malformed", s->pl->malformed);
	tw_jb_u64(&b, "lines_too_long", s->writer->lines_too_long);
	tw_jb_u64(&b, "lines_not_selected", s->writer->not_selected + (s->types ? s->types->not_selected : 0));
	tw_jb_u64(&b, "output_write_errors", s->out->write_errors);
	tw_jb_u64(&b, "output_lines_cut", s->out->lines_cut);
	if (s->verdict) {
		const struct tw_verdict_stats *vs = tw_verdict_stats(s->verdict);
		uint64_t t = 0;
		for (int m = 0; m < TW_METHOD_MAX; m++)
			t += vs->verdicts[m];
		tw_jb_u64(&b, "tamper_verdicts", t);
		tw_jb_u64(&b, "benign_rst_suppressed", vs->suppressed_benign);
		tw_jb_u64(&b, "rst_after_dead_flow", vs->rst_after_dead_flow);
		tw_jb_u64(&b, "verdict_flows_dropped", vs->flows_dropped + vs->quic_flows_dropped);
		tw_jb_u64(&b, "redirect_bodies_skipped", vs->redirect_bodies_skipped);
		tw_jb_u64(&b, "flows_one_way", vs->flows_one_way);
		tw_jb_u64(&b, "flows_one_way_attachment", vs->flows_one_way_attachment);
		tw_jb_obj_open(&b, "quic");
		tw_jb_u64(&b, "flows_evicted", vs->quic.flows_evicted);
		tw_jb_u64(&b, "pending_forced", vs->quic.pending_forced);
		tw_jb_u64(&b, "server_unparsed", vs->quic.server_unparsed);
		tw_jb_u64(&b, "h3_evicted", vs->quic.h3_evicted);
		tw_jb_u64(&b, "context_overwritten", vs->quic.context_overwritten);
		tw_jb_obj_close(&b);
		tw_jb_obj_open(&b, "payload_parse_errors");
		for (int i = 0; tw_verdict_parser_name(i); i++) {
			tw_jb_obj_open(&b, tw_verdict_parser_name(i));
			tw_jb_u64(&b, "truncated", vs->parse_errors[i][0]);
			tw_jb_u64(&b, "malformed", vs->parse_errors[i][1]);
			tw_jb_obj_close(&b);
		}
		tw_jb_obj_close(&b);
		throttle_stats(&b, tw_thr_flows_stats(tw_verdict_throttle(s->verdict)));
	}
	if (r) {
		tw_jb_obj_open(&b, "replay");
		tw_jb_u64(&b, "files", r->files);
		tw_jb_u64(&b, "frames", r->frames);
		tw_jb_u64(&b, "skipped_truncated_l2", r->skipped_truncated_l2);
		tw_jb_u64(&b, "skipped_unsupported_l3", r->skipped_unsupported_l3);
		tw_jb_u64(&b, "out_of_order", r->out_of_order);
		tw_jb_u64(&b, "read_errors", r->read_errors);
		tw_jb_u64(&b, "clipped_frames", r->clipped_frames);
		tw_jb_obj_close(&b);
	}
	for (int i = 0; i < s->nsections; i++)
		s->sections[i].fn(s->sections[i].arg, &b);
	tw_jb_obj_close(&b);
	tw_jb_obj_close(&b);
	long n = tw_jb_end(&b);
	if (n > 0)
		tw_line_put(&s->line, buf, (size_t)n);
}
