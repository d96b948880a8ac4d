/* The hub (tamperwatchd --hub, docs/hub.md): consumes what every site
 * publishes (outputs/nats_pub.h) with a durable JetStream consumer,
 * deduplicates by message ID, and raises cross-site alerts in the alert
 * schema with a "sites" scope: a target blocked at several sites (national
 * or single-network blocking), a shutdown seen by several sites of a
 * region, and a site that stopped publishing (site outage).  The alerts go
 * through the same bus and outputs as a gateway's. */
#ifndef TW_HUB_H
#define TW_HUB_H
#include <stdint.h>
#include "outputs/nats_pub.h"

struct tw_hub_cfg {                     /* [hub] */
	char durable[TW_NATS_NAME_MAX]; /* durable: the consumer's name */
	int min_sites;                  /* min_sites: sites blocking a target before a cross-site alert */
	int national_networks;          /* national_networks: networks that make it national */
	int shutdown_sites;             /* shutdown_sites: sites of a region in shutdown (or silent) */
	int site_timeout;               /* site_timeout: seconds without a record: the site is silent */
	int max_seen;                   /* max_seen: message IDs remembered for deduplication */
	double collapse_frac;           /* collapse_frac: a site's last summarized traffic below this share of
	                                 * its earlier windows' median: its traffic collapsed */
	int collapse_min_packets;       /* collapse_min_packets: that median at least this (minimum activity) */
};

void tw_hub_cfg_default(struct tw_hub_cfg *c);

struct tw_config;
/* Runs until SIGINT/SIGTERM.  alerts: the JSON-lines log ("-" = stdout);
 * state_dir (may be NULL): the hub's state across restarts.  Returns the
 * exit status (0; 2 bad setting; 3 could not start). */
int tw_hub_run(const struct tw_config *cfg, const char *alerts, const char *state_dir, const char *version);
#endif
