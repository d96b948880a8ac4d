#include "capture/linkwatch.h"
#include <errno.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

struct watched {
	char name[32];
	int ifindex;
	int up; /* -1 unknown */
};

struct tw_linkwatch {
	struct nl_sock *sk;
	struct watched w[TW_MAX_IFACES];
	int n;
	tw_link_cb cb;
	void *arg;
	int failed;
	int quiet; /* reading the initial state: no callbacks */
};

static int all_up(const struct tw_linkwatch *lw)
{
	for (int i = 0; i < lw->n; i++)
		if (lw->w[i].up != 1)
			return 0;
	return 1;
}

static void set_state(struct tw_linkwatch *lw, int ifindex, unsigned flags)
{
	/* IFF_RUNNING: administratively up and the carrier is there (operstate up) */
	int up = (flags & IFF_UP) && (flags & IFF_RUNNING);
	for (int i = 0; i < lw->n; i++) {
		if (lw->w[i].ifindex != ifindex || lw->w[i].up == up)
			continue;
		lw->w[i].up = up;
		if (!lw->quiet)
			lw->cb(lw->arg, lw->w[i].name, up, all_up(lw));
	}
}

static void on_obj(struct nl_object *obj, void *arg)
{
	struct rtnl_link *l = (struct rtnl_link *)obj;
	set_state(arg, rtnl_link_get_ifindex(l), rtnl_link_get_flags(l));
}

static int on_msg(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	if (h->nlmsg_type == RTM_DELLINK) {
		struct ifinfomsg *ifi = nlmsg_data(h);
		set_state(arg, ifi->ifi_index, 0); /* a removed link is down */
		return NL_OK;
	}
	nl_msg_parse(msg, on_obj, arg);
	return NL_OK;
}

struct tw_linkwatch *tw_linkwatch_new(const struct tw_link *links, int n, tw_link_cb cb, void *arg, char *err,
                                      size_t errlen)
{
	struct tw_linkwatch *lw = calloc(1, sizeof(*lw));
	if (!lw) {
		snprintf(err, errlen, "link watch: out of memory");
		return NULL;
	}
	lw->cb = cb;
	lw->arg = arg;
	for (int i = 0; i < n && i < TW_MAX_IFACES; i++) {
		snprintf(lw->w[i].name, sizeof(lw->w[i].name), "%s", links[i].name);
		lw->w[i].ifindex = links[i].ifindex;
		lw->w[i].up = -1;
		lw->n++;
	}
	lw->sk = nl_socket_alloc();
	if (!lw->sk) {
		snprintf(err, errlen, "link watch: cannot allocate a netlink socket");
		goto fail;
	}
	nl_socket_disable_seq_check(lw->sk);
	nl_socket_modify_cb(lw->sk, NL_CB_VALID, NL_CB_CUSTOM, on_msg, lw);
	int rc = nl_connect(lw->sk, NETLINK_ROUTE);
	if (rc < 0 || (rc = nl_socket_add_membership(lw->sk, RTNLGRP_LINK)) < 0) {
		snprintf(err, errlen, "link watch: rtnetlink: %s", nl_geterror(rc));
		goto fail;
	}
	/* the state now, before any change arrives: every link known first,
	 * then only the links that are down are reported (all up is the
	 * detector's starting assumption, nothing to say) */
	lw->quiet = 1;
	for (int i = 0; i < lw->n; i++) {
		struct rtnl_link *l = NULL;
		rc = rtnl_link_get_kernel(lw->sk, lw->w[i].ifindex, NULL, &l);
		if (rc < 0) {
			snprintf(err, errlen, "link watch: %s: %s", lw->w[i].name, nl_geterror(rc));
			goto fail;
		}
		set_state(lw, lw->w[i].ifindex, rtnl_link_get_flags(l));
		rtnl_link_put(l);
	}
	lw->quiet = 0;
	for (int i = 0; i < lw->n; i++)
		if (lw->w[i].up != 1)
			cb(arg, lw->w[i].name, 0, 0);
	nl_socket_set_nonblocking(lw->sk);
	return lw;
fail:
	tw_linkwatch_free(lw);
	return NULL;
}

/* After lost notifications (ENOBUFS): read every link's flags directly. */
static void resync(struct tw_linkwatch *lw)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	for (int i = 0; i < lw->n; i++) {
		struct ifreq ifr;
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", lw->w[i].name);
		set_state(lw, lw->w[i].ifindex, ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 ? (unsigned)ifr.ifr_flags : 0);
	}
	close(fd);
}

int tw_linkwatch_poll(struct tw_linkwatch *lw)
{
	if (lw->failed)
		return -1;
	/* bounded: at most 64 reads per call, the rest waits for the next poll */
	for (int i = 0; i < 64; i++) {
		int rc = nl_recvmsgs_default(lw->sk);
		if (rc == -NLE_AGAIN)
			return 0;
		if (rc >= 0)
			continue; /* one datagram handled; there may be more */
		if (rc == -NLE_INTR)
			continue;
		if (rc == -NLE_NOMEM) {
			/* ENOBUFS: notifications were lost; read the links' state anew */
			resync(lw);
			continue;
		}
		if (rc < 0) {
			fprintf(stderr, "tamperwatchd: link watch: %s; link state no longer followed\n",
			        nl_geterror(rc));
			lw->failed = 1;
			return -1;
		}
	}
	return 0;
}

void tw_linkwatch_free(struct tw_linkwatch *lw)
{
	if (!lw)
		return;
	if (lw->sk)
		nl_socket_free(lw->sk);
	free(lw);
}
