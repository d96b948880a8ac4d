#include "capture/sweep.h"
#include <stdlib.h>
#include <string.h>
#include <tamperwatch/classify.h>

void tw_timeouts_default(struct tw_timeouts *t)
{
	t->tcp_idle_ns = 120ull * 1000000000ull;
	t->tcp_closed_ns = 5ull * 1000000000ull;
	t->udp_idle_ns = 30ull * 1000000000ull;
	t->rate_min_bytes = 16384;
}

static uint64_t last_seen(const struct tw_flow *f)
{
	return f->dir[0].last_ns > f->dir[1].last_ns ? f->dir[0].last_ns : f->dir[1].last_ns;
}

int tw_flow_expired(const struct tw_flow *f, uint8_t proto, uint64_t now, const struct tw_timeouts *t)
{
	uint64_t last = last_seen(f);
	uint64_t idle = now > last ? now - last : 0;

	if (proto == TW_PROTO_TCP && (f->state == TW_TCP_CLOSED || f->state == TW_TCP_RESET) &&
	    idle >= t->tcp_closed_ns)
		return TW_END_CLOSED;
	if (idle >= (proto == TW_PROTO_TCP ? t->tcp_idle_ns : t->udp_idle_ns))
		return TW_END_IDLE;
	return TW_END_NONE;
}

struct ended {
	struct tw_flow_key key;
	struct tw_flow flow;
	int reason; /* TW_END_NONE: a periodic rate record, the flow goes on */
};

struct collect {
	struct ended *v;
	size_t n, cap;
	uint64_t now;
	const struct tw_timeouts *t;
	int flush;
	int oom;
	uint64_t seen;
	uint64_t ended;
	uint64_t prev; /* the previous sweep's time */
};

/* Busy TCP flows still going: a rate record (goodput sample) this sweep */
static int wants_rate(const struct tw_flow_key *k, const struct tw_flow *f, const struct collect *c)
{
	uint64_t min = c->t->rate_min_bytes;
	return min && k->proto == TW_PROTO_TCP &&
	       tw_dir_payload_bytes(&f->dir[0]) + tw_dir_payload_bytes(&f->dir[1]) >= min && last_seen(f) > c->prev;
}

static int collect_cb(void *arg, const struct tw_flow_key *k, const struct tw_flow *f)
{
	struct collect *c = arg;
	c->seen++;
	int reason = c->flush ? TW_END_FLUSH : tw_flow_expired(f, k->proto, c->now, c->t);
	if (c->flush) {
		/* at a flush, flows that would have ended anyway say why */
		int r = tw_flow_expired(f, k->proto, c->now, c->t);
		if (r == TW_END_CLOSED || (f->state == TW_TCP_CLOSED || f->state == TW_TCP_RESET))
			reason = TW_END_CLOSED;
	}
	if (!reason && !wants_rate(k, f, c))
		return 0;
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 256;
		struct ended *nv = realloc(c->v, ncap * sizeof(*nv));
		if (!nv) {
			c->oom = 1;
			return 1;
		}
		c->v = nv;
		c->cap = ncap;
	}
	c->v[c->n].key = *k;
	c->v[c->n].flow = *f;
	c->v[c->n].reason = reason;
	c->n++;
	c->ended += reason != TW_END_NONE;
	return 0;
}

static int by_flow_id(const void *a, const void *b)
{
	uint64_t x = ((const struct ended *)a)->flow.flow_id, y = ((const struct ended *)b)->flow.flow_id;
	return x < y ? -1 : x > y;
}

long tw_sweep(struct tw_engine *e, uint64_t now, const struct tw_timeouts *t, int flush)
{
	/* the previous sweep was a second ago (live.c, replay.c) */
	struct collect c = {
		.now = now, .t = t, .flush = flush, .prev = now > 1000000000ull ? now - 1000000000ull : 0
	};
	struct tw_event ev;

	e->for_each_flow(e, collect_cb, &c);
	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), by_flow_id);
	for (size_t i = 0; i < c.n; i++) {
		const struct ended *x = &c.v[i];
		int dir = TW_DIR_C2S;
		if (x->reason == TW_END_NONE) {
			/* as of its last packet: goodput samples end there */
			tw_event_fill(&ev, TW_EV_FLOW_RATE, &x->key, &x->flow, NULL, NULL, dir, last_seen(&x->flow), 0);
			e->events.fn(e->events.arg, &ev, sizeof(ev));
			continue;
		}
		e->remove_flow(e, &x->key);
		tw_event_fill(&ev, TW_EV_FLOW_END, &x->key, &x->flow, NULL, NULL, dir, last_seen(&x->flow), 0);
		ev.end_reason = (__u8)x->reason;
		e->events.fn(e->events.arg, &ev, sizeof(ev));
	}
	free(c.v);
	e->flows_active = c.oom ? c.seen : c.seen - c.ended;
	return c.oom ? -1 : (long)c.ended;
}
