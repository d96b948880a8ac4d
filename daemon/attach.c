#include "attach.h"
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#define TW_TC_HANDLE 0x7477   /* "tw" */
#define TW_TC_PRIO   0x7477

int tw_link_resolve(struct tw_link *l, const char *name, enum tw_mode mode, char *err, size_t errlen)
{
	memset(l, 0, sizeof(*l));
	if (strlen(name) >= sizeof(l->name) || strlen(name) >= IF_NAMESIZE) {
		snprintf(err, errlen, "interface name too long: %.40s", name);
		return -1;
	}
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->mode = mode;
	l->ifindex = (int)if_nametoindex(name);
	if (!l->ifindex) {
		snprintf(err, errlen, "no such interface: %s", name);
		return -1;
	}
	return 0;
}

static int xdp_owner(int ifindex, unsigned *id)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	if (bpf_xdp_query(ifindex, 0, &q))
		return -1;
	*id = q.prog_id ? q.prog_id : (q.drv_prog_id ? q.drv_prog_id : (q.skb_prog_id ? q.skb_prog_id : q.hw_prog_id));
	return 0;
}

static int attach_xdp(struct tw_link *l, int fd, char *err, size_t errlen)
{
	unsigned id = 0;
	if (xdp_owner(l->ifindex, &id) == 0 && id) {
		struct bpf_prog_info info;
		unsigned len = sizeof(info);
		char pname[32] = "?";
		int pfd = bpf_prog_get_fd_by_id(id);
		memset(&info, 0, sizeof(info));
		if (pfd >= 0 && bpf_obj_get_info_by_fd(pfd, &info, &len) == 0)
			snprintf(pname, sizeof(pname), "%s", info.name);
		snprintf(err, errlen, "%s already carries an XDP program (id %u, \"%s\"): not replacing it; "
			 "detach it or use --mode tc", l->name, id, pname);
		return -1;
	}
	int flags = XDP_FLAGS_UPDATE_IF_NOEXIST | XDP_FLAGS_DRV_MODE;
	int rc = bpf_xdp_attach(l->ifindex, fd, (unsigned)flags, NULL);
	if (rc) {
		fprintf(stderr, "tamperwatchd: %s: native XDP not available (%s), using generic XDP (slower)\n",
			l->name, strerror(-rc));
		flags = XDP_FLAGS_UPDATE_IF_NOEXIST | XDP_FLAGS_SKB_MODE;
		rc = bpf_xdp_attach(l->ifindex, fd, (unsigned)flags, NULL);
	}
	if (rc) {
		snprintf(err, errlen, "%s: cannot attach XDP program: %s", l->name, strerror(-rc));
		return -1;
	}
	l->xdp_flags = flags;
	return 0;
}

static int attach_tc(struct tw_link *l, int fd, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = l->ifindex, .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	int rc = bpf_tc_hook_create(&hook);
	if (rc && rc != -EEXIST) {
		snprintf(err, errlen, "%s: cannot create clsact qdisc: %s", l->name, strerror(-rc));
		return -1;
	}
	l->created_clsact = rc == 0;
	for (int i = 0; i < 2; i++) {
		LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = l->ifindex,
			    .attach_point = i ? BPF_TC_EGRESS : BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, o, .prog_fd = fd, .handle = TW_TC_HANDLE, .priority = TW_TC_PRIO);
		/* no REPLACE flag: an existing filter at our handle/prio is not ours to replace */
		rc = bpf_tc_attach(&h, &o);
		if (rc) {
			snprintf(err, errlen, "%s: cannot attach TC %s program: %s", l->name,
				 i ? "egress" : "ingress", strerror(-rc));
			return -1;
		}
		if (i)
			l->tc_egress = 1;
		else
			l->tc_ingress = 1;
	}
	return 0;
}

int tw_link_attach(struct tw_link *l, int xdp_fd, int tc_fd, char *err, size_t errlen)
{
	int rc = l->mode == TW_MODE_XDP ? attach_xdp(l, xdp_fd, err, errlen) : attach_tc(l, tc_fd, err, errlen);
	l->attached = 1;    /* partial TC attachment is undone by detach */
	if (rc && l->mode == TW_MODE_XDP)
		l->attached = 0;
	return rc;
}

void tw_link_detach(struct tw_link *l, int xdp_fd)
{
	if (!l->attached)
		return;
	if (l->mode == TW_MODE_XDP) {
		/* only if it is still ours */
		LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = xdp_fd);
		int rc = bpf_xdp_detach(l->ifindex, (unsigned)(l->xdp_flags & ~XDP_FLAGS_UPDATE_IF_NOEXIST) | XDP_FLAGS_REPLACE, &o);
		if (rc && rc != -ENODEV)
			fprintf(stderr, "tamperwatchd: %s: detaching XDP failed: %s\n", l->name, strerror(-rc));
	} else {
		for (int i = 0; i < 2; i++) {
			if (!(i ? l->tc_egress : l->tc_ingress))
				continue;
			LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = l->ifindex,
				    .attach_point = i ? BPF_TC_EGRESS : BPF_TC_INGRESS);
			LIBBPF_OPTS(bpf_tc_opts, o, .handle = TW_TC_HANDLE, .priority = TW_TC_PRIO);
			int rc = bpf_tc_detach(&h, &o);
			if (rc && rc != -ENODEV && rc != -ENOENT)
				fprintf(stderr, "tamperwatchd: %s: detaching TC failed: %s\n", l->name, strerror(-rc));
		}
		if (l->created_clsact) {
			LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = l->ifindex,
				    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
			bpf_tc_hook_destroy(&hook);
		}
	}
	l->attached = 0;
}
