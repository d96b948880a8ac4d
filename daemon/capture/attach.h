/* Attaching the BPF programs to links, and taking them off again: XDP
 * (native, falling back to generic with a message) or TC clsact ingress and
 * egress.  Never replaces a program someone else attached; never pins.
 *
 * A daemon killed with SIGKILL runs no cleanup.  XDP goes on through a BPF
 * link, which the kernel takes off when the process dies.  TC filters (and
 * XDP where the kernel has no XDP links) outlive it; so that the restart is
 * not refused, each interface is locked while watched (flock on
 * TW_LOCK_DIR/NETNS-IFINDEX.lock, released by the kernel at death): a daemon
 * that holds the lock and finds our program in our slot knows it is an
 * orphan and replaces it, with a message. */
#ifndef TW_ATTACH_H
#define TW_ATTACH_H
#include <stddef.h>

#define TW_MAX_IFACES 16

enum tw_mode { TW_MODE_XDP = 0, TW_MODE_TC = 1 };

struct tw_link {
	char name[32];
	int ifindex;
	enum tw_mode mode;
	int xdp_flags;      /* mode the XDP program went on with */
	int created_clsact; /* we created the clsact qdisc: remove it at exit */
	int tc_ingress, tc_egress;
	int attached;
	int xdp_link; /* BPF link fd of the XDP attachment, -1: none (netlink) */
	int lock_fd;  /* the interface lock, -1: not held */
};

#define TW_LOCK_DIR "/run/tamperwatchd"

/* Resolve and check the interface; fills l->ifindex.  -1 with one line in err. */
int tw_link_resolve(struct tw_link *l, const char *name, enum tw_mode mode, char *err, size_t errlen);
int tw_link_attach(struct tw_link *l, int xdp_fd, int tc_fd, char *err, size_t errlen);
void tw_link_detach(struct tw_link *l, int xdp_fd);
#endif
