/* The 1-in-N flow sampling rate in force (include/tamperwatch/sample.h)
 * and the rule that moves it: raised when the backend loses events,
 * lowered again after a quiet spell (docs/configuration.md "Sampling").
 * The live loop calls tw_sampling_update() once a second with the
 * backend's cumulative lost-event counter; verdicts, alerts, the stats
 * record and the metrics read the rate in force (atomics: the metrics
 * thread reads it too). */
#ifndef TW_SAMPLING_H
#define TW_SAMPLING_H
#include <stdint.h>
#include <tamperwatch/event.h>

#define TW_SAMPLING_HOLD_NS 5000000000ull /* at most one raise per 5 s: the last one takes effect first */
#define TW_SAMPLING_HIST 4096             /* seconds with lost events remembered (events_lost of an alert) */
#define TW_SAMPLING_CHANGES 1024          /* rate changes remembered (a flow's admission rate) */

struct tw_sampling {
	uint32_t base;     /* flows.sample: the operator's rate, the floor */
	uint32_t max;      /* flows.sample_max: raised up to (below base: never raised) */
	uint64_t quiet_ns; /* flows.sample_quiet: lowered (halved) after this long without loss */
	uint32_t cur;      /* in force (atomic) */
	uint64_t lost;     /* cumulative lost events seen by updates (atomic) */
	uint64_t raises, lowers;
	uint64_t last_change_ns, last_loss_ns;
	int started;
	/* the seconds in which events were lost: (time, cumulative lost after) */
	struct {
		uint64_t ts, cum;
	} hist[TW_SAMPLING_HIST];
	uint32_t nhist, hhead;
	uint64_t hist_floor; /* cumulative lost before the oldest entry kept */
	/* when each rate took effect in the backend, in the backend's clock
	 * (the clock of a flow's base_ns): the first entry is the base from 0 */
	struct {
		uint64_t ts;
		uint32_t n;
	} chg[TW_SAMPLING_CHANGES];
	uint32_t nchg, chead;
	uint32_t forgotten_min; /* the lowest rate among changes no longer remembered (0: none) */
};

void tw_sampling_init(struct tw_sampling *s, uint32_t base, uint32_t max, uint32_t quiet_s);

/* now_ns: the clock of the outcomes (wall clock live); lost_total: the
 * backend's events lost since start.  Returns the new rate when it changed
 * (the caller writes it to the backend and logs it), else 0.  Raise: events
 * were lost since the last call and the last change is TW_SAMPLING_HOLD_NS
 * old: the rate doubles, at most max.  Lower: no event lost for quiet_ns
 * since the last loss and the last change: the rate halves, at least base. */
uint32_t tw_sampling_update(struct tw_sampling *s, uint64_t now_ns, uint64_t lost_total);

/* The change tw_sampling_update() returned could not be written to the
 * backend: the rate in force is was again (the change is not counted). */
void tw_sampling_undo(struct tw_sampling *s, uint32_t was);

/* The backend has the rate n in force since backend_ns (its clock: monotonic
 * live, as a flow's base_ns).  main calls it once the write succeeded. */
void tw_sampling_applied(struct tw_sampling *s, uint64_t backend_ns, uint32_t n);

/* The rate a flow was admitted at, which decided that it is tracked and
 * so the flows it stands for: the rate in force at its first packet
 * (e->flow.base_ns), not the one in force when its verdict is made.  A
 * flow that rate would have left out came in just before the change
 * reached the backend: the rate before it.  A flow older than the changes
 * remembered gets the lowest rate of those forgotten.  1 with s NULL. */
uint32_t tw_sampling_admitted(const struct tw_sampling *s, const struct tw_event *e);

/* The rate in force now (1 with s NULL): the stats record, the metrics. */
uint32_t tw_sampling_rate(const struct tw_sampling *s);

/* Events the backend lost after ts_ns (at least that many when ts_ns is
 * older than the TW_SAMPLING_HIST lossy seconds remembered); 0 with s NULL. */
uint64_t tw_sampling_lost_since(const struct tw_sampling *s, uint64_t ts_ns);

/* Times the rate was raised / lowered. */
uint64_t tw_sampling_raises(const struct tw_sampling *s);
uint64_t tw_sampling_lowers(const struct tw_sampling *s);
#endif
