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
#endif
