/* The share computation of a target's blocking alert (aggregate.c,
 * makes_case): do the tampered flows of one class (silent or not) in the
 * window make a case, counted per group of clients (all of them, each
 * client prefix, each region)?  Two implementations of one decision:
 *   - tw_share_scan: the reference, a scan of the window's flows sorted by
 *     group and prefix (O(n log n) a call);
 *   - struct tw_share: counts kept per prefix, per region and for all
 *     clients as flows enter and leave the window, so that a decision
 *     costs O(1) for active methods and O(prefixes with silent hits) for
 *     silence (whose prefixes are judged against the clients' other
 *     targets, which change outside the target).
 * tests/unit/test_share.c holds the two to the same answers. */
#ifndef TW_SHARE_H
#define TW_SHARE_H
#include <stddef.h>
#include <stdint.h>
#include "verdicts/verdict.h"

/* one flow of the window, as the share computation sees it */
struct tw_share_flow {
	uint64_t pfx;   /* hash of its client prefix */
	uint64_t group; /* hash of the prefix's region, else pfx */
	uint32_t w;     /* flows it stands for (1-in-N sampling); 0 counts as 1 */
	uint8_t tampered, silent, answered;
	uint8_t method; /* its verdict's method (tampered flows), < TW_METHOD_MAX */
};

enum { TW_SHARE_ALL, TW_SHARE_PREFIX, TW_SHARE_REGION };

/* Whether a client prefix's silent flows count (silent class only): 1 yes,
 * 0 no (its clients' other targets are dark too, or no control).  flows,
 * answered: the prefix's flows to this target in the window.  Must give the
 * same answer for the same arguments within one decision. */
typedef int (*tw_share_counts_fn)(void *arg, uint64_t pfx, size_t flows, size_t answered);

/* The reference: v[0..n) (reordered: sorted by group and prefix). */
int tw_share_scan(struct tw_share_flow *v, size_t n, int silent, int by, int min_flows, int min_pfx, double ratio,
                  tw_share_counts_fn counts, void *arg);

struct tw_share;
/* ratio[c]: the share each class is judged with (min_ratio, blackhole_min_ratio).
 * NULL out of memory. */
struct tw_share *tw_share_new(double ratio0, double ratio1);
void tw_share_free(struct tw_share *s);
/* a flow enters / leaves the window (leaves: exactly as it entered) */
void tw_share_add(struct tw_share *s, const struct tw_share_flow *f);
void tw_share_del(struct tw_share *s, const struct tw_share_flow *f);
/* no flow in the window (as new) */
void tw_share_clear(struct tw_share *s);
/* The decision of tw_share_scan over the flows in the window: 1 or 0; -1
 * when the counts cannot say (ratio is not the class's, two prefixes
 * sharing a hash under different regions, no memory): scan instead. */
int tw_share_case(struct tw_share *s, int silent, int by, int min_flows, int min_pfx, double ratio,
                  tw_share_counts_fn counts, void *arg);
/* 1: the counts hold every flow that entered (no -1 from tw_share_case
 * but for a ratio); 0: they stopped (see tw_share_case) until cleared */
int tw_share_ok(const struct tw_share *s);
/* tampered flows in the window of class c: weighted, and per method */
uint64_t tw_share_hits(const struct tw_share *s, int c);
uint64_t tw_share_method_count(const struct tw_share *s, int c, int method);
/* flows in the window (unweighted) */
uint64_t tw_share_flows(const struct tw_share *s);
#endif
