#include "capture/sampling.h"
#include <string.h>
#include <tamperwatch/classify.h>
#include <tamperwatch/sample.h>

void tw_sampling_init(struct tw_sampling *s, uint32_t base, uint32_t max, uint32_t quiet_s)
{
	memset(s, 0, sizeof(*s));
	s->base = base ? base : 1;
	s->max = max < s->base ? s->base : max;
	s->quiet_ns = (uint64_t)quiet_s * 1000000000ull;
	s->cur = s->base;
	s->chg[0].ts = 0;
	s->chg[0].n = s->base;
	s->nchg = 1;
}

void tw_sampling_undo(struct tw_sampling *s, uint32_t was)
{
	uint32_t cur = s->cur;
	if (cur == was)
		return;
	if (cur > was && s->raises)
		s->raises--;
	else if (cur < was && s->lowers)
		s->lowers--;
	__atomic_store_n(&s->cur, was, __ATOMIC_RELEASE);
}

void tw_sampling_applied(struct tw_sampling *s, uint64_t backend_ns, uint32_t n)
{
	if (s->nchg == TW_SAMPLING_CHANGES) {
		uint32_t old = s->chg[s->chead].n;
		if (!s->forgotten_min || old < s->forgotten_min)
			s->forgotten_min = old;
		s->chead = (s->chead + 1) % TW_SAMPLING_CHANGES;
		s->nchg--;
	}
	uint32_t i = (s->chead + s->nchg) % TW_SAMPLING_CHANGES;
	s->chg[i].ts = backend_ns;
	s->chg[i].n = n ? n : 1;
	s->nchg++;
}

/* the canonical key of an event's flow: the classifier's own */
static void event_key(const struct tw_event *e, struct tw_flow_key *k)
{
	struct tw_pkt p;
	memset(&p, 0, sizeof(p));
	memcpy(p.saddr, e->caddr, 16);
	memcpy(p.daddr, e->saddr, 16);
	p.sport = e->cport;
	p.dport = e->sport;
	p.family = e->family;
	p.proto = e->proto;
	tw_flow_key_make(&p, k);
}

/* the i-th change remembered, oldest first */
static uint32_t chg_n(const struct tw_sampling *s, uint32_t i)
{
	return s->chg[(s->chead + i) % TW_SAMPLING_CHANGES].n;
}

uint32_t tw_sampling_admitted(const struct tw_sampling *s, const struct tw_event *e)
{
	if (!s || !s->nchg)
		return 1;
	struct tw_flow_key k;
	event_key(e, &k);
	/* the newest change at or before the flow's first packet */
	uint32_t j = s->nchg;
	while (j > 0 && s->chg[(s->chead + j - 1) % TW_SAMPLING_CHANGES].ts > e->flow.base_ns)
		j--;
	if (j == 0)
		return s->forgotten_min ? s->forgotten_min : chg_n(s, 0);
	j--;
	/* tracked, so kept at the rate it came in at.  A change is stamped
	 * just after its write reached the backend: a flow that came in
	 * between the two reads as before it, so one the rate before would
	 * have left out came in at the change's (the next); then the rates
	 * before, newest first (a clock read a jiffy late) */
	if (tw_flow_sampled(&k, chg_n(s, j)))
		return chg_n(s, j);
	if (j + 1 < s->nchg && tw_flow_sampled(&k, chg_n(s, j + 1)))
		return chg_n(s, j + 1);
	for (uint32_t i = j; i-- > 0;)
		if (tw_flow_sampled(&k, chg_n(s, i)))
			return chg_n(s, i);
	return chg_n(s, j);
}

static void remember(struct tw_sampling *s, uint64_t ts, uint64_t cum)
{
	if (s->nhist == TW_SAMPLING_HIST) {
		s->hist_floor = s->hist[s->hhead].cum;
		s->hhead = (s->hhead + 1) % TW_SAMPLING_HIST;
		s->nhist--;
	}
	uint32_t i = (s->hhead + s->nhist) % TW_SAMPLING_HIST;
	s->hist[i].ts = ts;
	s->hist[i].cum = cum;
	s->nhist++;
}

uint32_t tw_sampling_update(struct tw_sampling *s, uint64_t now_ns, uint64_t lost_total)
{
	uint64_t prev = __atomic_load_n(&s->lost, __ATOMIC_RELAXED);
	if (!s->started) {
		s->started = 1;
		s->last_change_ns = now_ns;
		s->last_loss_ns = now_ns;
	}
	if (lost_total < prev) /* a backend counter never goes back; if it did, start over from it */
		prev = lost_total;
	__atomic_store_n(&s->lost, lost_total, __ATOMIC_RELEASE);
	uint32_t cur = s->cur;
	if (lost_total > prev) {
		remember(s, now_ns, lost_total);
		s->last_loss_ns = now_ns;
		if (cur < s->max && now_ns >= s->last_change_ns + TW_SAMPLING_HOLD_NS) {
			uint32_t n = cur > s->max / 2 ? s->max : cur * 2;
			__atomic_store_n(&s->cur, n, __ATOMIC_RELEASE);
			s->last_change_ns = now_ns;
			s->raises++;
			return n;
		}
		return 0;
	}
	if (cur > s->base && s->quiet_ns && now_ns >= s->last_loss_ns + s->quiet_ns &&
	    now_ns >= s->last_change_ns + s->quiet_ns) {
		uint32_t n = cur / 2 < s->base ? s->base : cur / 2;
		__atomic_store_n(&s->cur, n, __ATOMIC_RELEASE);
		s->last_change_ns = now_ns;
		s->lowers++;
		return n;
	}
	return 0;
}

uint32_t tw_sampling_rate(const struct tw_sampling *s)
{
	return s ? __atomic_load_n(&s->cur, __ATOMIC_ACQUIRE) : 1;
}

uint64_t tw_sampling_lost_since(const struct tw_sampling *s, uint64_t ts_ns)
{
	if (!s || !s->nhist)
		return 0;
	uint64_t now = s->hist[(s->hhead + s->nhist - 1) % TW_SAMPLING_HIST].cum, before = s->hist_floor;
	for (uint32_t k = 0; k < s->nhist; k++) {
		const uint32_t i = (s->hhead + k) % TW_SAMPLING_HIST;
		if (s->hist[i].ts > ts_ns)
			break;
		before = s->hist[i].cum;
	}
	return now - before;
}

uint64_t tw_sampling_raises(const struct tw_sampling *s)
{
	return s ? s->raises : 0;
}

uint64_t tw_sampling_lowers(const struct tw_sampling *s)
{
	return s ? s->lowers : 0;
}
