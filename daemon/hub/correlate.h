/* Cross-site correlation (docs/hub.md): what each site has open -- its
 * blocking alerts by target, its shutdown alerts, when it was last heard --
 * and the cross-site alerts made of it:
 *   blocking   a target blocked at hub.min_sites sites or more: "national"
 *              when hub.national_networks networks see it, "single_network"
 *              when one network does, else "multi_network";
 *   shutdown   hub.shutdown_sites sites of one region in shutdown or silent
 *              (at least one of them reporting the shutdown);
 *   site_outage a site silent for hub.site_timeout while the other sites
 *              of its region see no shutdown: the site, not the network.
 * A site's prefix summaries (prefix_summary records) are kept as its
 * traffic: the last window's totals over its prefixes and the packets of
 * the windows before.  A site that fell silent right after its traffic
 * collapsed (the last window below hub.collapse_frac of the earlier ones'
 * median) counts, for its region's shutdown, as a site that reported one:
 * a cut that took the site's own uplink with it, before its detector
 * could raise.  Alone in its region it is still reported as a site
 * outage, with "traffic_before_silence":"collapsed". 
 * Time is the hub's clock (arrival), never a site's: a site whose clock is
 * off still correlates.  The state is JSON so that it is saved as it is. */
#ifndef TW_HUB_CORRELATE_H
#define TW_HUB_CORRELATE_H
#include <stddef.h>
#include <stdint.h>
#include "hub/hub.h"

struct json_object;
typedef void (*tw_xcorr_emit_fn)(void *arg, const char *line, size_t len);

struct tw_xcorr_stats {
	uint64_t sites, sites_silent, open_alerts;
	uint64_t ignored;   /* records of a type the hub does not correlate (tamper, link, gap), summaries
	                   * out of order, sites or entries beyond the bounds */
	uint64_t summaries; /* prefix_summary records taken into a site's traffic */
};

struct tw_xcorr;
struct tw_xcorr *tw_xcorr_new(const struct tw_hub_cfg *cfg, tw_xcorr_emit_fn emit, void *arg);
void tw_xcorr_free(struct tw_xcorr *x);
/* One record from a site (its "site" member names it), at the hub's
 * now_ns (wall clock).  0, or -1 when it is not a site record (counted by
 * the caller). */
int tw_xcorr_record(struct tw_xcorr *x, struct json_object *rec, int64_t now_ns);
/* Raises, updates and resolves cross-site alerts: after each batch and
 * once a second. */
void tw_xcorr_evaluate(struct tw_xcorr *x, int64_t now_ns);
void tw_xcorr_stats(const struct tw_xcorr *x, struct tw_xcorr_stats *out);
/* The state (borrowed), and its restoration (takes a reference): 0 or -1. */
struct json_object *tw_xcorr_state(struct tw_xcorr *x);
int tw_xcorr_restore(struct tw_xcorr *x, struct json_object *state);
#endif
