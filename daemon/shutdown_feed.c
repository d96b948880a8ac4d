#include "shutdown_feed.h"
#include "pipeline.h"
#include "jsonbuf.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define NS 1000000000ull

/* the previous poll's cumulative counters of one prefix */
struct prev {
	struct tw_pfx_key key;
	uint64_t packets, bytes, new_flows, class_packets[TW_PFX_NCLASS];
	uint64_t seen_poll;      /* poll number it was last seen at */
};

struct tw_sdfeed {
	struct tw_engine *e;
	struct tw_shutdown *sd;
	const struct tw_regions *r;
	char *state_path;
	uint64_t state_every_ns, next_save;
	uint64_t iv_ns;
	uint64_t next_poll, last_poll;
	uint64_t last_packets;   /* backend's TW_CNT_PACKETS at the last poll */
	int primed;              /* a first poll has set the reference counts */
	int reset_seen;          /* a prefix's counters went backwards in this poll */
	struct prev *pv;         /* open addressing, 2 x TW_PFX_MAX slots; key.family 0 = free */
	uint64_t poll_no;
	uint64_t now;            /* time of the poll in progress */
	int sampling;            /* this poll hands samples to the detector */
	struct tw_sdfeed_stats st;
};

#define PV_SLOTS (2 * TW_PFX_MAX)

double tw_sketch_estimate(const uint64_t w[TW_PFX_SKETCH_WORDS])
{
	int ones = 0;
	for (int i = 0; i < TW_PFX_SKETCH_WORDS; i++)
		ones += __builtin_popcountll(w[i]);
	double m = 64.0 * TW_PFX_SKETCH_WORDS, zeros = m - ones;
	if (zeros < 1)
		zeros = 1;    /* saturated: the estimate's ceiling, m ln m */
	return -m * log(zeros / m);
}

struct tw_sdfeed *tw_sdfeed_new(struct tw_engine *e, struct tw_shutdown *sd, const struct tw_regions *r,
				uint32_t interval_s, const char *state_path, uint32_t state_interval_s)
{
	struct tw_sdfeed *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->pv = calloc(PV_SLOTS, sizeof(*f->pv));
	f->state_path = state_path ? strdup(state_path) : NULL;
	if (!f->pv || (state_path && !f->state_path)) {
		tw_sdfeed_free(f);
		return NULL;
	}
	f->e = e;
	f->sd = sd;
	f->r = r;
	f->iv_ns = (uint64_t)(interval_s ? interval_s : 60) * NS;
	f->state_every_ns = (uint64_t)(state_interval_s ? state_interval_s : 60) * NS;
	return f;
}

void tw_sdfeed_free(struct tw_sdfeed *f)
{
	if (!f)
		return;
	free(f->pv);
	free(f->state_path);
	free(f);
}

void tw_sdfeed_get_stats(const struct tw_sdfeed *f, struct tw_sdfeed_stats *st)
{
	*st = f->st;
}

static struct prev *prev_slot(struct tw_sdfeed *f, const struct tw_pfx_key *k)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ ((const uint8_t *)k)[i]) * 0x100000001b3ull;
	size_t i = h % PV_SLOTS;
	for (size_t n = 0; n < PV_SLOTS; n++, i = (i + 1) % PV_SLOTS) {
		struct prev *p = &f->pv[i];
		if (!p->key.family || !memcmp(&p->key, k, sizeof(*k)))
			return p;
	}
	return NULL;   /* cannot happen: at most TW_PFX_MAX keys in 2 x TW_PFX_MAX slots */
}

static void on_prefix(void *arg, const struct tw_pfx_sample *s)
{
	struct tw_sdfeed *f = arg;
	struct prev *p = prev_slot(f, &s->key);
	if (!p)
		return;
	int known = p->key.family != 0;
	int backwards = known && (s->packets < p->packets || s->bytes < p->bytes || s->new_flows < p->new_flows);
	struct tw_series_sample x;
	memset(&x, 0, sizeof(x));
	if (known && !backwards) {
		x.packets = s->packets - p->packets;
		x.bytes = s->bytes - p->bytes;
		x.new_flows = s->new_flows - p->new_flows;
		for (int i = 0; i < TW_PFX_NCLASS; i++)
			x.class_packets[i] = s->class_packets[i] >= p->class_packets[i] ?
						     s->class_packets[i] - p->class_packets[i] : 0;
	} else if (!known && f->primed) {
		/* a prefix first counted during this interval: all of it is new */
		x.packets = s->packets;
		x.bytes = s->bytes;
		x.new_flows = s->new_flows;
		memcpy(x.class_packets, s->class_packets, sizeof(x.class_packets));
	}
	x.has_classes = 1;
	x.active_clients = (uint64_t)llround(tw_sketch_estimate(s->clients));
	if (backwards) {
		f->st.counter_resets++;
		f->reset_seen = 1;
	}
	p->key = s->key;
	p->packets = s->packets;
	p->bytes = s->bytes;
	p->new_flows = s->new_flows;
	memcpy(p->class_packets, s->class_packets, sizeof(p->class_packets));
	p->seen_poll = f->poll_no;
	if (!f->sampling || backwards || (!known && !f->primed))
		return;

	char key[64];
	int fam = s->key.family == TW_FAMILY_IPV4 ? AF_INET : AF_INET6;
	tw_prefix_str(s->key.family, s->key.addr, s->key.plen, key, sizeof(key));
	const struct tw_region_entry *re = f->r ? tw_regions_lookup(f->r, fam, s->key.addr) : NULL;
	if (!re)
		f->st.prefixes_unlabelled++;
	tw_shutdown_sample(f->sd, f->now, key, re ? re->region : NULL, &x);
	f->st.samples++;
}

static void save_state(struct tw_sdfeed *f)
{
	char err[512];
	if (!f->state_path)
		return;
	if (tw_shutdown_save(f->sd, f->state_path, err, sizeof(err)) < 0) {
		f->st.state_errors++;
		fprintf(stderr, "tamperwatchd: shutdown baselines not saved: %s\n", err);
	} else {
		f->st.state_saves++;
	}
}

void tw_sdfeed_tick(void *arg, uint64_t now, int final)
{
	struct tw_sdfeed *f = arg;
	if (!f->next_poll) {
		/* polls on interval boundaries of the clock, so replay and live agree */
		f->next_poll = now - now % f->iv_ns + f->iv_ns;
		f->next_save = now + f->state_every_ns;
		f->last_poll = now;
		uint64_t c[TW_CNT_MAX];
		f->e->counters(f->e, c, NULL, 0, NULL);
		f->last_packets = c[TW_CNT_PACKETS];
		f->now = now;
		f->sampling = 0;
		f->e->poll_prefixes(f->e, on_prefix, f);   /* reference counts */
		f->primed = 1;
	} else if (now >= f->next_poll && !final) {
		uint64_t c[TW_CNT_MAX];
		f->e->counters(f->e, c, NULL, 0, NULL);
		int late = now - f->last_poll > 2 * f->iv_ns;
		int silent = c[TW_CNT_PACKETS] == f->last_packets;
		f->st.polls++;
		f->poll_no++;
		f->now = now;
		f->reset_seen = 0;
		f->sampling = !late && !silent;
		f->e->poll_prefixes(f->e, on_prefix, f);
		if (late) {
			f->st.gaps_late++;
			tw_shutdown_gap(f->sd, f->last_poll, now, "late_poll");
		} else if (silent) {
			f->st.gaps_no_packets++;
			tw_shutdown_gap(f->sd, f->last_poll, now, "no_packets");
		} else if (f->reset_seen) {
			tw_shutdown_gap(f->sd, f->last_poll, now, "counter_reset");
		}
		tw_shutdown_tick(f->sd, now, 0);
		f->last_poll = now;
		f->last_packets = c[TW_CNT_PACKETS];
		f->next_poll = now - now % f->iv_ns + f->iv_ns;
	}
	if (final) {
		tw_shutdown_tick(f->sd, now, 1);
		save_state(f);
	} else if (now >= f->next_save) {
		save_state(f);
		f->next_save = now + f->state_every_ns;
	}
}

void tw_sdfeed_stats_json(void *arg, struct tw_jb *b)
{
	struct tw_sdfeed *f = arg;
	struct tw_shutdown_stats d;
	tw_shutdown_get_stats(f->sd, &d);
	tw_jb_obj_open(b, "shutdown");
	tw_jb_u64(b, "polls", f->st.polls);
	tw_jb_u64(b, "samples", f->st.samples);
	tw_jb_u64(b, "series", d.series);
	tw_jb_u64(b, "series_dropped", d.dropped_series);
	tw_jb_u64(b, "prefixes_unlabelled", f->st.prefixes_unlabelled);
	tw_jb_u64(b, "gaps_no_packets", f->st.gaps_no_packets);
	tw_jb_u64(b, "gaps_late_poll", f->st.gaps_late);
	tw_jb_u64(b, "counter_resets", f->st.counter_resets);
	tw_jb_u64(b, "alerts_raised", d.alerts_raised);
	tw_jb_u64(b, "alerts_resolved", d.alerts_resolved);
	tw_jb_u64(b, "region_alerts", d.region_alerts);
	tw_jb_u64(b, "link_down", d.link_down);
	tw_jb_u64(b, "state_saves", f->st.state_saves);
	tw_jb_u64(b, "state_errors", f->st.state_errors);
	tw_jb_obj_close(b);
}
