#include "outputs/status.h"
#include "verdicts/verdict.h"
#include "verdicts/throttle_flows.h"
#include <net/if.h>
#include "alerts/aggregate.h"
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

void tw_status_init(struct tw_status *st, const char *backend, const char *version)
{
	struct timespec ts;
	memset(st, 0, sizeof(*st));
	pthread_mutex_init(&st->mu, NULL);
	snprintf(st->backend, sizeof(st->backend), "%s", backend);
	snprintf(st->version, sizeof(st->version), "%s", version);
	clock_gettime(CLOCK_REALTIME, &ts);
	st->started_wall_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void tw_status_add_link(struct tw_status *st, const char *name, const char *mode)
{
	pthread_mutex_lock(&st->mu);
	if (st->nlinks < TW_MAX_IFACES) {
		struct tw_status_link *l = &st->links[st->nlinks++];
		snprintf(l->name, sizeof(l->name), "%s", name);
		snprintf(l->mode, sizeof(l->mode), "%s", mode);
		l->up = -1;
	}
	pthread_mutex_unlock(&st->mu);
}

void tw_status_set_link_up(struct tw_status *st, const char *name, int up)
{
	pthread_mutex_lock(&st->mu);
	for (int i = 0; i < st->nlinks; i++)
		if (!strcmp(st->links[i].name, name))
			st->links[i].up = up;
	pthread_mutex_unlock(&st->mu);
}

void tw_status_tick(void *arg, uint64_t now_wall_ns, int final)
{
	struct tw_status_src *src = arg;
	struct tw_status *st = src->st;
	struct tw_engine *e = src->eng;
	const struct tw_pipeline *pl = src->pl;
	uint64_t c[TW_CNT_MAX];
	int ncpu = 0;

	(void) final;
	struct timespec mts;
	clock_gettime(CLOCK_MONOTONIC, &mts);
	uint64_t mono = (uint64_t)mts.tv_sec * 1000000000ull + (uint64_t)mts.tv_nsec;
	e->counters(e, c, NULL, 0, &ncpu); /* outside the lock: a map walk live */
	/* the targets summary is built outside the lock, copied in under it */
	static char top[TW_STATUS_TARGETS];
	size_t ntop = 0;
	int top_short = 0;
	pthread_mutex_lock(&st->mu);
	int want = st->ticks < st->targets_until;
	pthread_mutex_unlock(&st->mu);
	if (src->agg && want) {
		ntop = tw_agg_top_targets(src->agg, now_wall_ns, TW_STATUS_TOP, top, sizeof(top));
		if (!ntop) {
			top_short = 1;
			ntop = tw_agg_top_targets(src->agg, now_wall_ns, 3, top, sizeof(top));
		}
	}
	pthread_mutex_lock(&st->mu);
	st->flows_active = e->flows_active;
	st->sampling = tw_sampling_rate(pl->sampling);
	if (src->agg && want) {
		st->targets_tick = st->ticks + 1;
		memcpy(st->targets, top, ntop);
		st->targets_len = ntop;
		st->targets_overflow += (uint64_t)top_short;
	}
	st->updated_wall_ns = now_wall_ns;
	memcpy(st->counters, c, sizeof(c));
	memcpy(st->events, pl->events, sizeof(st->events));
	st->events_malformed = pl->malformed;
	st->lines_too_long = src->writer->lines_too_long;
	st->output_lines = src->out->lines;
	st->output_write_errors = src->out->write_errors;
	st->output_lines_cut = src->out->lines_cut;
	st->lines_not_selected = src->writer->not_selected + (src->types ? src->types->not_selected : 0);
	uint64_t evn = 0;
	for (int t = 0; t < TW_EV_TYPE_MAX; t++)
		evn += pl->events[t];
	if (st->rate_mono_ns && mono > st->rate_mono_ns)
		st->events_per_s = (evn - st->rate_events) * 1000000000ull / (mono - st->rate_mono_ns);
	st->rate_events = evn;
	st->rate_mono_ns = mono;
	if (src->verdict) {
		const struct tw_verdict_stats *vs = tw_verdict_stats(src->verdict);
		memcpy(st->tamper_verdicts, vs->verdicts, sizeof(st->tamper_verdicts));
		st->verdict_flows_dropped = vs->flows_dropped + vs->quic_flows_dropped;
		st->throttle_flows_dropped = tw_thr_flows_stats(tw_verdict_throttle(src->verdict))->dropped;
		st->redirect_bodies_skipped = vs->redirect_bodies_skipped;
		st->flows_one_way = vs->flows_one_way;
		st->flows_one_way_attachment = vs->flows_one_way_attachment;
		memcpy(st->payload_parse_errors, vs->parse_errors, sizeof(st->payload_parse_errors));
	}
	if (src->agg)
		tw_agg_get_stats(src->agg, &st->agg);
	st->ticks++;
	pthread_mutex_unlock(&st->mu);
	tw_status_poll_links(st);
}

void tw_status_poll_links(struct tw_status *st)
{
	char names[TW_MAX_IFACES][32];
	int up[TW_MAX_IFACES], n;

	pthread_mutex_lock(&st->mu);
	n = st->nlinks;
	for (int i = 0; i < n; i++)
		memcpy(names[i], st->links[i].name, sizeof(names[i]));
	pthread_mutex_unlock(&st->mu);
	if (!n)
		return;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return; /* leave the last known state */
	for (int i = 0; i < n; i++) {
		struct ifreq ifr;
		memset(&ifr, 0, sizeof(ifr));
		memcpy(ifr.ifr_name, names[i], strnlen(names[i], IFNAMSIZ - 1));
		/* an interface that is gone is down */
		up[i] = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING);
	}
	close(fd);
	pthread_mutex_lock(&st->mu);
	for (int i = 0; i < n && i < st->nlinks; i++)
		st->links[i].up = up[i];
	pthread_mutex_unlock(&st->mu);
}

void tw_status_free(struct tw_status *st)
{
	pthread_mutex_destroy(&st->mu);
}
