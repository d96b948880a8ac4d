/* Our own links' state over rtnetlink (libnl-route): a monitored link that
 * goes down is our failure, not a shutdown of the network behind it, so
 * the shutdown detector is told (and excludes the window from its
 * baselines) and the operator's status shows it.  Non-blocking: the live
 * loop calls tw_linkwatch_poll after every ring-buffer poll. */
#ifndef TW_LINKWATCH_H
#define TW_LINKWATCH_H
#include <stddef.h>
#include "capture/attach.h"

/* up: 1 when every watched link is up and running, 0 when any is not;
 * name: the link that changed. */
typedef void (*tw_link_cb)(void *arg, const char *name, int link_up, int all_up);

/* NULL with err on failure (netlink socket). Reports the initial state of
 * each link through cb before returning. */
struct tw_linkwatch *tw_linkwatch_new(const struct tw_link *links, int n, tw_link_cb cb, void *arg, char *err,
                                      size_t errlen);
/* Handle pending link messages; 0, or -1 after a socket error (reported once). */
int tw_linkwatch_poll(struct tw_linkwatch *w);
void tw_linkwatch_free(struct tw_linkwatch *w);
#endif
