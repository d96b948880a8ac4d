/* NATS client options from [nats] (servers, credentials, TLS), shared by
 * the publisher and the hub.  Nothing secret is ever put in an error. */
#ifndef TW_NATS_CONN_H
#define TW_NATS_CONN_H
#include <stddef.h>
#include <nats/nats.h>
#include "outputs/nats_pub.h"

/* Reconnects forever, also when no server answers at the first try.
 * 0 with *opts made, or -1 with err. */
int tw_nats_connect_opts(const struct tw_nats_cfg *cfg, natsOptions **opts, char *err, size_t errlen);
/* The stream (nats.stream, subjects nats.subject.>), made when missing
 * (file storage, nats.replicas, nats.duplicates window): 0 or -1. */
int tw_nats_ensure_stream(jsCtx *js, const struct tw_nats_cfg *cfg);
/* While nc is not connected: why, on stderr, once until it connects again
 * (*last: NATS_OK while connected, else what was found).  The reason comes
 * from one plain connection attempt (libnats' background reconnection
 * reports every failure as "no server"); the status text only, never the
 * server's or libnats' own text (it may quote a URL); a refusal of our
 * credentials is named as such. */
void tw_nats_report_conn(natsConnection *nc, const struct tw_nats_cfg *cfg, natsStatus *last, const char *who);
#endif
