#include "verdicts/throttle.h"
#include <math.h>
#include <string.h>
#include <tamperwatch/rate_track.h>

void tw_thr_cfg_default(struct tw_thr_cfg *c)
{
	c->min_bytes = 32768;
	c->min_seconds = 3.0;
	c->plateau_cv = 0.35;
	c->min_loss_eps = 2;
	c->rtt_growth_ms = 60.0;
	c->rtt_growth_ratio = 1.0;
	c->window_full_frac = 0.10;
	c->idle_frac = 0.05;
	c->timeout_gap_ms = 150.0;
}

const char *tw_thr_kind_name(enum tw_thr_kind k)
{
	switch (k) {
	case TW_THR_NONE: return "none";
	case TW_THR_POLICING: return "policing";
	case TW_THR_SHAPING: return "shaping";
	case TW_THR_CONGESTION: return "congestion";
	case TW_THR_APP_LIMITED: return "app_limited";
	}
	return "unknown";
}

static uint32_t rtt_us(uint16_t v)
{
	return (uint32_t)(((uint64_t)v << TW_RATE_RTT_SHIFT) / 1000);
}

void tw_thr_sample_from_flow(const struct tw_flow *f, uint64_t t_ns, struct tw_thr_sample *s)
{
	memset(s, 0, sizeof(*s));
	s->t_ns = t_ns;
	for (int i = 0; i < 2; i++) {
		const struct tw_dir_state *d = &f->dir[i];
		const struct tw_rate_dir *r = &f->rate[i];
		if (f->flags & (i == TW_DIR_C2S ? TW_FLOW_CLIENT_DATA : TW_FLOW_SERVER_DATA))
			s->d[i].delivered = tw_rate_delivered(f, i);
		s->d[i].seen = tw_dir_payload_bytes(d);
		s->d[i].packets = d->packets;
		s->d[i].loss_eps = r->loss_eps;
		s->d[i].win_full = r->win_full;
		s->d[i].idle_sends = r->idle_sends;
		s->d[i].rtt_min_us = r->rtt_min ? rtt_us(r->rtt_min) : 0;
		s->d[i].rtt_max_us = r->rtt_min ? rtt_us(r->rtt_max) : 0;
	}
}

void tw_thr_series_add(struct tw_thr_series *ser, const struct tw_thr_sample *s)
{
	if (ser->n && s->t_ns <= ser->s[ser->n - 1].t_ns)
		return;
	if (ser->n == TW_THR_MAX_SAMPLES) {
		/* keep every other sample (the first stays): intervals double */
		int k = 0;
		for (int i = 0; i < ser->n; i += 2)
			ser->s[k++] = ser->s[i];
		ser->n = k;
	}
	ser->s[ser->n++] = *s;
}

/* RTT growth before the first loss, in ms: the queue a flow built.  The
 * path's RTT is through the server plus through the client. */
static double rtt_growth_ms(const struct tw_thr_sample *last, double *min_ms)
{
	double mn = 0, mx = 0;
	for (int i = 0; i < 2; i++) {
		mn += last->d[i].rtt_min_us / 1000.0;
		mx += last->d[i].rtt_max_us / 1000.0;
	}
	*min_ms = mn;
	return mx > mn ? mx - mn : 0;
}

static void classify_dir(const struct tw_thr_series *ser, const struct tw_thr_cfg *c, int dir,
                         struct tw_thr_dir_verdict *v)
{
	const struct tw_thr_sample *first = &ser->s[0], *last = &ser->s[ser->n - 1];
	memset(v, 0, sizeof(*v));
	v->kind = TW_THR_NONE;
	if (ser->n < 2)
		return;
	uint64_t bytes = last->d[dir].delivered;
	double secs = (double)(last->t_ns - first->t_ns) / 1e9;
	v->loss_eps = last->d[dir].loss_eps;
	if (bytes < c->min_bytes || secs < c->min_seconds)
		return;

	/* goodput samples: one per interval, the first (slow start, the
	 * handshake) left out, and so is a last interval under half the one
	 * before: the flow-end record, a fraction of a sweep after the last
	 * snapshot, where a burst or a pause weighs as much as a whole sweep.
	 * (A flow stalled for whole sweeps keeps them: that is its rate.) */
	double rate[TW_THR_MAX_SAMPLES], sum = 0;
	int n = 0, end = ser->n;
	if (end > 4 && (ser->s[end - 1].t_ns - ser->s[end - 2].t_ns) * 2 < ser->s[end - 2].t_ns - ser->s[end - 3].t_ns)
		end--;
	for (int i = 2; i < end; i++) {
		double dt = (double)(ser->s[i].t_ns - ser->s[i - 1].t_ns) / 1e9;
		if (dt <= 0)
			continue;
		uint64_t a = ser->s[i - 1].d[dir].delivered, b = ser->s[i].d[dir].delivered;
		rate[n] = (double)(b > a ? b - a : 0) * 8 / dt;
		sum += rate[n++];
	}
	v->intervals = n;
	double mean = n ? sum / n : 0, var = 0;
	for (int i = 0; i < n; i++)
		var += (rate[i] - mean) * (rate[i] - mean);
	v->cv = n > 1 && mean > 0 ? sqrt(var / (n - 1)) / mean : 1.0;
	double min_ms;
	v->rtt_growth_ms = rtt_growth_ms(last, &min_ms);
	int queue = v->rtt_growth_ms >= c->rtt_growth_ms && v->rtt_growth_ms >= c->rtt_growth_ratio * min_ms;
	int plateau = n >= 3 && v->cv <= c->plateau_cv;
	int lossy = v->loss_eps >= c->min_loss_eps;
	double pk = last->d[dir].packets ? last->d[dir].packets : 1;
	int rwnd_limited = last->d[dir].win_full / pk >= c->window_full_frac;
	int idle = last->d[dir].idle_sends / pk >= c->idle_frac;

	/* rate: policing's token rate shows between the first and the last
	 * loss (Flach); otherwise the mean of the goodput samples */
	v->rate_bps = mean;
	if (lossy) {
		int i0 = -1, i1 = -1;
		for (int i = 0; i < ser->n; i++) {
			if (ser->s[i].d[dir].loss_eps && i0 < 0)
				i0 = i;
			if (i && ser->s[i].d[dir].loss_eps > ser->s[i - 1].d[dir].loss_eps)
				i1 = i;
		}
		if (i0 >= 0 && i1 > i0) {
			double dt = (double)(ser->s[i1].t_ns - ser->s[i0].t_ns) / 1e9;
			uint64_t a = ser->s[i0].d[dir].delivered, b = ser->s[i1].d[dir].delivered;
			if (dt >= 1.0 && b > a)
				v->rate_bps = (double)(b - a) * 8 / dt;
		}
	}

	/* Timeout-paced: a policer that drops the tail of every flight before
	 * the observer leaves no hole and no retransmission in sight; the
	 * sender waits a retransmission timeout (at least 200 ms on Linux)
	 * and resends one segment, which passes (the bucket refilled).  Seen
	 * from here: after the first interval, nearly every send (3 in 4) is
	 * a full segment (1000 bytes or more each) after an idle period, the
	 * idle sends at least timeout_gap_ms apart on average and at least
	 * four path RTTs.  An application writing one segment at a time keeps
	 * its own pace (lab slow server: every 50 ms). */
	int paced = 0;
	if (ser->n >= 3 && c->timeout_gap_ms > 0 && last->d[dir].packets >= ser->s[1].d[dir].packets &&
	    last->d[dir].idle_sends >= ser->s[1].d[dir].idle_sends) {
		const struct tw_thr_sample *s1 = &ser->s[1];
		uint32_t dp = last->d[dir].packets - s1->d[dir].packets;
		uint32_t di = last->d[dir].idle_sends - s1->d[dir].idle_sends;
		uint64_t db = last->d[dir].delivered - s1->d[dir].delivered;
		double dt = (double)(last->t_ns - s1->t_ns) / 1e9;
		paced = dp >= 5 && (uint64_t)di * 4 >= (uint64_t)dp * 3 && db >= (uint64_t)di * 1000 &&
		        dt * 1000 / di >= c->timeout_gap_ms && dt * 1000 / di >= 4 * min_ms &&
		        last->d[dir].delivered >= s1->d[dir].delivered;
	}

	/* a sender that keeps the receiver's window full is not held back
	 * by the network; then losses decide: a policed sender idles
	 * through timeouts and can look application-limited, while a sender
	 * that idles of its own accord loses nothing */
	double steady = plateau ? 1.0 - v->cv / c->plateau_cv : 0; /* 0..1 */
	double samples = n >= 8 ? 1.0 : n / 8.0;
	if (rwnd_limited) {
		v->kind = TW_THR_APP_LIMITED;
		v->confidence = 0.6;
	} else if (plateau && lossy && !queue) {
		v->kind = TW_THR_POLICING;
		v->confidence = 0.5 + 0.25 * steady + 0.2 * samples;
	} else if (plateau && paced && !queue) {
		/* weaker: no loss seen, the pace of the timeouts stands for it */
		v->kind = TW_THR_POLICING;
		v->timeout_paced = 1;
		v->confidence = 0.5 + 0.15 * steady + 0.1 * samples;
	} else if (plateau && queue && v->loss_eps <= c->min_loss_eps) {
		v->kind = TW_THR_SHAPING;
		v->confidence = 0.5 + 0.25 * steady + 0.2 * samples;
	} else if (idle) {
		v->kind = TW_THR_APP_LIMITED;
		v->confidence = 0.6;
	} else if (queue || lossy) {
		v->kind = TW_THR_CONGESTION;
		v->confidence = 0.5 + 0.2 * samples;
	}
}

void tw_thr_classify(const struct tw_thr_series *ser, const struct tw_thr_cfg *c, struct tw_thr_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->kind = TW_THR_NONE;
	if (ser->n < 1)
		return;
	for (int i = 0; i < 2; i++)
		classify_dir(ser, c, i, &v->d[i]);
	/* policing and shaping (the tampering candidates) win over the rest */
	static const enum tw_thr_kind order[] = { TW_THR_POLICING, TW_THR_SHAPING, TW_THR_CONGESTION,
		                                  TW_THR_APP_LIMITED };
	const struct tw_thr_sample *first = &ser->s[0], *last = &ser->s[ser->n - 1];
	double min_ms;
	v->seconds = (double)(last->t_ns - first->t_ns) / 1e9;
	v->rtt_growth_ms = rtt_growth_ms(last, &min_ms);
	int big = last->d[TW_DIR_S2C].delivered >= last->d[TW_DIR_C2S].delivered ? TW_DIR_S2C : TW_DIR_C2S;
	if (ser->n >= 2 && v->seconds > 0 && last->d[big].delivered > first->d[big].delivered)
		v->goodput_bps = (double)(last->d[big].delivered - first->d[big].delivered) * 8 / v->seconds;
	for (int i = 0; i < ser->n && i < TW_THR_MAX_SAMPLES; i++) {
		v->curve_t[i] = ser->s[i].t_ns;
		v->curve_b[i] = ser->s[i].d[big].seen;
	}
	v->ncurve = ser->n < TW_THR_MAX_SAMPLES ? ser->n : TW_THR_MAX_SAMPLES;
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]) && v->kind == TW_THR_NONE; k++) {
		uint64_t most = 0;
		for (int i = 0; i < 2; i++) {
			if (v->d[i].kind != order[k])
				continue;
			v->kind = order[k];
			v->dirs |= 1 << i;
			if (last->d[i].delivered >= most) {
				most = last->d[i].delivered;
				v->rate_bps = v->d[i].rate_bps;
				v->confidence = v->d[i].confidence;
			}
		}
	}
}
