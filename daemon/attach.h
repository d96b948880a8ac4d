/* Attaching the BPF programs to links, and taking them off again: XDP
 * (native, falling back to generic with a message) or TC clsact ingress and
 * egress.  Never replaces a program someone else attached; never pins. */
#ifndef TW_ATTACH_H
#define TW_ATTACH_H
#include <stddef.h>

#define TW_MAX_IFACES 16

enum tw_mode { TW_MODE_XDP = 0, TW_MODE_TC = 1 };

struct tw_link {
	char name[32];
	int ifindex;
	enum tw_mode mode;
	int xdp_flags;        /* mode the XDP program went on with */
	int created_clsact;   /* we created the clsact qdisc: remove it at exit */
	int tc_ingress, tc_egress;
	int attached;
};

/* Resolve and check the interface; fills l->ifindex.  -1 with one line in err. */
int tw_link_resolve(struct tw_link *l, const char *name, enum tw_mode mode, char *err, size_t errlen);
int tw_link_attach(struct tw_link *l, int xdp_fd, int tc_fd, char *err, size_t errlen);
void tw_link_detach(struct tw_link *l, int xdp_fd);
#endif
