#include "alerts/shutdown_feed.h"
#include "events/pipeline.h"
#include "util/jsonbuf.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define NS 1000000000ull

/* the previous poll's cumulative counters of one prefix */
struct prev {
	struct tw_pfx_key key; /* family 0: free slot */
	uint64_t packets, bytes, new_flows, class_packets[TW_PFX_NCLASS];
	uint64_t seen_poll; /* number of the last poll that saw it */
	const char *region; /* its label (NULL: none), looked up once */
	/* the summary window so far: real (unscaled) deltas, the most clients of one poll */
	uint64_t w_packets, w_bytes, w_flows, w_class[TW_PFX_NCLASS], w_clients;
	uint32_t w_polls;
};

struct tw_sdfeed {
	struct tw_engine *e;
	struct tw_shutdown *sd;
	const struct tw_regions *r;
	char *state_dir;
	int replay;
	uint64_t state_every_ns, next_save;
	uint64_t saved_changes; /* the detector's state_changes at the last save */
	uint64_t iv_ns;
	uint64_t next_poll, last_poll;
	uint64_t last_packets; /* backend's TW_CNT_PACKETS at the last poll */
	int primed;            /* the reference poll is done */
	int skip_next;         /* a poll failed: the next one spans two intervals */
	int reset_seen;        /* a prefix's counters went backwards in this poll */
	struct prev *pv;       /* open addressing, 2 x TW_PFX_MAX slots */
	size_t npv;
	struct tw_pfx_sample *batch; /* one poll's prefixes, sorted before use */
	size_t nbatch;
	uint64_t batch_dropped;
	uint64_t poll_no;                            /* successful polls, the reference poll is 1 */
	uint64_t now;                                /* time of the poll in progress */
	int sampling;                                /* this poll hands samples to the detector */
	double scale;                                /* interval / time since the last poll */
	uint64_t sum_ns, next_summary, summary_from; /* prefix summaries: every sum_ns (0: none) */
	uint32_t window_polls;                       /* polls in the summary window so far */
	size_t w_open;                               /* prefixes with counts in this window */
	struct tw_line_sink summary;
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
		zeros = 1; /* saturated: the estimate's ceiling, m ln m */
	return -m * log(zeros / m);
}

uint64_t tw_sdfeed_span(const struct tw_regions *r, int v4_len, int v6_len)
{
	uint64_t n = 0;
	for (size_t i = 0; i < r->n; i++) {
		int len = r->e[i].family == AF_INET ? v4_len : v6_len;
		int bits = len - r->e[i].plen;
		n += bits <= 0 ? 1 : bits >= 40 ? 1ull << 40 : 1ull << bits;
		if (n >= 1ull << 40)
			return 1ull << 40;
	}
	return n;
}

struct tw_sdfeed *tw_sdfeed_new(struct tw_engine *e, struct tw_shutdown *sd, const struct tw_regions *r,
                                const struct tw_sdfeed_opts *o)
{
	struct tw_sdfeed *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->pv = calloc(PV_SLOTS, sizeof(*f->pv));
	f->batch = calloc(TW_PFX_MAX, sizeof(*f->batch));
	f->state_dir = o->state_dir ? strdup(o->state_dir) : NULL;
	if (!f->pv || !f->batch || (o->state_dir && !f->state_dir)) {
		tw_sdfeed_free(f);
		return NULL;
	}
	f->e = e;
	f->sd = sd;
	f->r = r;
	f->replay = o->replay;
	f->iv_ns = (uint64_t)(o->interval_s ? o->interval_s : 60) * NS;
	f->state_every_ns = (uint64_t)(o->state_interval_s ? o->state_interval_s : 60) * NS;
	f->sum_ns = (uint64_t)o->summary_s * NS;
	f->summary = o->summary;
	return f;
}

void tw_sdfeed_free(struct tw_sdfeed *f)
{
	if (!f)
		return;
	free(f->pv);
	free(f->batch);
	free(f->state_dir);
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
		if (!memcmp(&p->key, k, sizeof(*k)))
			return p;
		if (!p->key.family)
			return f->npv < TW_PFX_MAX ? p : NULL; /* at most half full: probes stay short */
	}
	return NULL;
}

/* poll callback: collect; the batch is sorted and used after the poll */
static void on_prefix(void *arg, const struct tw_pfx_sample *s)
{
	struct tw_sdfeed *f = arg;
	if (s->key.family != TW_FAMILY_IPV4 && s->key.family != TW_FAMILY_IPV6)
		return;
	if (f->nbatch == TW_PFX_MAX) {
		f->batch_dropped++;
		return;
	}
	f->batch[f->nbatch++] = *s;
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct tw_pfx_sample *)a)->key, &((const struct tw_pfx_sample *)b)->key,
	              sizeof(struct tw_pfx_key));
}

static uint64_t scaled(uint64_t v, double scale)
{
	return (uint64_t)llround((double)v * scale);
}

static void use_prefix(struct tw_sdfeed *f, const struct tw_pfx_sample *s)
{
	struct prev *p = prev_slot(f, &s->key);
	if (!p)
		return;
	int known = p->key.family != 0;
	/* seen at the previous poll: the difference is this interval's traffic;
	 * first seen (or absent last time): everything it holds is new */
	int contiguous = known && p->seen_poll + 1 == f->poll_no;
	int backwards = contiguous && (s->packets < p->packets || s->bytes < p->bytes || s->new_flows < p->new_flows);
	struct tw_series_sample x;
	memset(&x, 0, sizeof(x));
	x.has_classes = 1;
	if (!backwards) {
		x.packets = scaled(s->packets - (contiguous ? p->packets : 0), f->scale);
		x.bytes = scaled(s->bytes - (contiguous ? p->bytes : 0), f->scale);
		x.new_flows = scaled(s->new_flows - (contiguous ? p->new_flows : 0), f->scale);
		for (int i = 0; i < TW_PFX_NCLASS; i++) {
			uint64_t base = contiguous ? p->class_packets[i] : 0;
			x.class_packets[i] =
			        s->class_packets[i] >= base ? scaled(s->class_packets[i] - base, f->scale) : 0;
		}
	} else {
		f->st.counter_resets++;
		f->reset_seen = 1;
	}
	x.active_clients = (uint64_t)llround(tw_sketch_estimate(s->clients));
	if (f->sum_ns && f->poll_no > 1 && !backwards) { /* the reference poll opens the first window */
		p->w_packets += s->packets - (contiguous ? p->packets : 0);
		p->w_bytes += s->bytes - (contiguous ? p->bytes : 0);
		p->w_flows += s->new_flows - (contiguous ? p->new_flows : 0);
		for (int i = 0; i < TW_PFX_NCLASS; i++) {
			uint64_t base = contiguous ? p->class_packets[i] : 0;
			p->w_class[i] += s->class_packets[i] >= base ? s->class_packets[i] - base : 0;
		}
		if (x.active_clients > p->w_clients)
			p->w_clients = x.active_clients;
		if (!p->w_polls++)
			f->w_open++;
	}
	if (!known) {
		f->npv++;
		int fam = s->key.family == TW_FAMILY_IPV4 ? AF_INET : AF_INET6;
		const struct tw_region_entry *re = f->r ? tw_regions_lookup(f->r, fam, s->key.addr) : NULL;
		p->region = re ? re->region : NULL;
		if (!re)
			f->st.prefixes_unlabelled++;
	}
	p->key = s->key;
	p->packets = s->packets;
	p->bytes = s->bytes;
	p->new_flows = s->new_flows;
	memcpy(p->class_packets, s->class_packets, sizeof(p->class_packets));
	p->seen_poll = f->poll_no;
	if (!f->sampling || backwards)
		return;

	char key[64];
	tw_prefix_str(s->key.family, s->key.addr, s->key.plen, key, sizeof(key));
	tw_shutdown_sample(f->sd, f->now, key, p->region, &x);
	f->st.samples++;
}

static const char *const class_names[TW_PFX_NCLASS] = { "web", "dns", "tcp_other", "other" };

/* one prefix's line of the window [summary_from, now) */
static void summary_line(struct tw_sdfeed *f, const struct tw_pfx_sample *s, struct prev *p, uint64_t now)
{
	char buf[1024], key[64];
	struct tw_jb b;
	tw_prefix_str(s->key.family, s->key.addr, s->key.plen, key, sizeof(key));
	tw_jb_init(&b, buf, sizeof(buf));
	tw_jb_obj_open(&b, NULL);
	tw_jb_time(&b, "timestamp", now);
	tw_jb_str(&b, "event_type", "prefix_summary");
	tw_jb_obj_open(&b, "prefix_summary");
	tw_jb_str(&b, "prefix", key);
	tw_jb_str(&b, "region", p->region);
	tw_jb_time(&b, "from", f->summary_from);
	tw_jb_time(&b, "to", now);
	tw_jb_u64(&b, "seconds", (now - f->summary_from + NS / 2) / NS);
	tw_jb_u64(&b, "polls", f->window_polls);
	tw_jb_u64(&b, "packets", p->w_packets);
	tw_jb_u64(&b, "bytes", p->w_bytes);
	tw_jb_u64(&b, "new_flows", p->w_flows);
	tw_jb_u64(&b, "active_clients", p->w_clients);
	tw_jb_obj_open(&b, "class_shares");
	for (int i = 0; i < TW_PFX_NCLASS; i++)
		tw_jb_dbl(&b, class_names[i], p->w_packets ? (double)p->w_class[i] / (double)p->w_packets : 0, 3);
	tw_jb_obj_close(&b);
	tw_jb_obj_close(&b);
	tw_jb_obj_close(&b);
	long n = tw_jb_end(&b);
	if (n < 0) {
		f->st.summaries_dropped++;
		return;
	}
	tw_line_put(&f->summary, buf, (size_t)n);
	f->st.summaries++;
}

static void window_reset(struct tw_sdfeed *f, struct prev *p)
{
	if (p->w_polls)
		f->w_open--;
	p->w_packets = p->w_bytes = p->w_flows = p->w_clients = 0;
	memset(p->w_class, 0, sizeof(p->w_class));
	p->w_polls = 0;
}

/* The window closes: a line per prefix of the last poll, in key order;
 * every window restarts empty.  The poll lists every counted prefix (the
 * table is not an LRU), so only when it did not is the whole table walked
 * for the prefixes it lacked (counted missed). */
static void summarize(struct tw_sdfeed *f, uint64_t now)
{
	for (size_t i = 0; i < f->nbatch; i++) {
		if (i && !key_cmp(&f->batch[i - 1], &f->batch[i]))
			continue;
		struct prev *p = prev_slot(f, &f->batch[i].key);
		if (p && p->key.family) {
			if (f->window_polls)
				summary_line(f, &f->batch[i], p, now);
			window_reset(f, p);
		}
	}
	for (size_t i = 0; f->w_open && i < PV_SLOTS; i++) {
		struct prev *p = &f->pv[i];
		if (!p->key.family || !p->w_polls)
			continue;
		if (p->w_packets || p->w_flows)
			f->st.summary_prefixes_missed++;
		window_reset(f, p);
	}
	f->window_polls = 0;
	f->summary_from = now;
	f->next_summary = now - now % f->sum_ns + f->sum_ns;
}

/* one poll: close the epoch, collect, then use the prefixes in key order */
static int poll_once(struct tw_sdfeed *f)
{
	f->nbatch = 0;
	if (f->e->poll_prefixes(f->e, on_prefix, f) < 0)
		return -1;
	f->poll_no++;
	qsort(f->batch, f->nbatch, sizeof(*f->batch), key_cmp);
	for (size_t i = 0; i < f->nbatch; i++)
		if (!i || key_cmp(&f->batch[i - 1], &f->batch[i])) /* a key met twice: the first */
			use_prefix(f, &f->batch[i]);
	return 0;
}

/* raised or resolved since the last save */
static int changed(const struct tw_sdfeed *f)
{
	struct tw_shutdown_stats d;
	tw_shutdown_get_stats(f->sd, &d);
	return d.state_changes != f->saved_changes;
}

static void save_state(struct tw_sdfeed *f)
{
	char err[4600];
	struct tw_shutdown_stats d;
	if (!f->state_dir)
		return;
	/* a failed save is not retried every tick: the next one is state.interval away */
	tw_shutdown_get_stats(f->sd, &d);
	f->saved_changes = d.state_changes;
	if (tw_shutdown_save(f->sd, f->state_dir, err, sizeof(err)) < 0) {
		f->st.state_errors++;
		fprintf(stderr, "tamperwatchd: shutdown baselines not saved: %s\n", err);
	} else {
		f->st.state_saves++;
	}
}

void tw_sdfeed_tick(void *arg, uint64_t now, int final)
{
	struct tw_sdfeed *f = arg;
	uint64_t c[TW_CNT_MAX];
	if (!f->primed) {
		/* reference counts; polls fall on interval boundaries of the clock,
		 * so replay and live agree */
		f->e->counters(f->e, c, NULL, 0, NULL);
		f->now = now;
		f->sampling = 0;
		f->scale = 1;
		if (poll_once(f) == 0) {
			f->primed = 1;
			f->last_poll = now;
			f->last_packets = c[TW_CNT_PACKETS];
			f->next_poll = now - now % f->iv_ns + f->iv_ns;
			f->next_save = now + f->state_every_ns;
			if (f->sum_ns) {
				f->summary_from = now;
				f->next_summary = now - now % f->sum_ns + f->sum_ns;
			}
		}
	} else if (now >= f->next_poll && !final) {
		f->e->counters(f->e, c, NULL, 0, NULL);
		int late = now - f->last_poll > 2 * f->iv_ns;
		int silent = c[TW_CNT_PACKETS] == f->last_packets;
		f->st.polls++;
		f->now = now;
		f->reset_seen = 0;
		f->sampling = !late && !silent && !f->skip_next;
		f->scale = (double)f->iv_ns / (double)(now - f->last_poll);
		if (poll_once(f) < 0) {
			/* the counters stay where they were: the next poll spans both intervals */
			f->skip_next = 1;
			tw_shutdown_gap(f->sd, f->last_poll, now, "poll_failed");
		} else {
			if (silent) {
				f->st.gaps_no_packets++;
				tw_shutdown_gap(f->sd, f->last_poll, now, f->replay ? "capture_gap" : "no_packets");
			} else if (late) {
				f->st.gaps_late++;
				tw_shutdown_gap(f->sd, f->last_poll, now, f->replay ? "capture_gap" : "late_poll");
			} else if (f->reset_seen) {
				tw_shutdown_gap(f->sd, f->last_poll, now, "counter_reset");
			}
			f->skip_next = 0;
			f->last_packets = c[TW_CNT_PACKETS];
			f->window_polls++;
			if (f->sum_ns && now >= f->next_summary)
				summarize(f, now);
		}
		tw_shutdown_tick(f->sd, now, 0);
		f->last_poll = now;
		f->next_poll = now - now % f->iv_ns + f->iv_ns;
	}
	if (final) {
		if (f->sum_ns && f->primed && f->window_polls) /* the last window, short */
			summarize(f, f->last_poll);
		tw_shutdown_tick(f->sd, now, 1);
		save_state(f);
	} else if (f->primed && (now >= f->next_save || changed(f))) {
		/* a raise or a resolution is saved at this tick: its line is in
		 * the log already, so the state never names an alert the log lacks */
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
	tw_jb_u64(b, "prefixes", f->npv);
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
	tw_jb_u64(b, "summaries", f->st.summaries);
	tw_jb_u64(b, "summaries_dropped", f->st.summaries_dropped);
	tw_jb_u64(b, "summary_prefixes_missed", f->st.summary_prefixes_missed);
	tw_jb_obj_close(b);
}
