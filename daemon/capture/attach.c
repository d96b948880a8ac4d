#include "capture/attach.h"
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define TW_TC_HANDLE 0x7477 /* "tw" */
#define TW_TC_PRIO 0x7477

int tw_link_resolve(struct tw_link *l, const char *name, enum tw_mode mode, char *err, size_t errlen)
{
	memset(l, 0, sizeof(*l));
	if (strlen(name) >= sizeof(l->name) || strlen(name) >= IF_NAMESIZE) {
		snprintf(err, errlen, "interface name too long: %.40s", name);
		return -1;
	}
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->mode = mode;
	l->xdp_link = -1;
	l->lock_fd = -1;
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

/* fd and name of a loaded program; -1 (name "?") if it is gone */
static int prog_by_id(unsigned id, char *name, size_t cap)
{
	struct bpf_prog_info info;
	unsigned len = sizeof(info);
	int pfd = bpf_prog_get_fd_by_id(id);
	memset(&info, 0, sizeof(info));
	snprintf(name, cap, "?");
	if (pfd >= 0 && bpf_obj_get_info_by_fd(pfd, &info, &len) == 0)
		snprintf(name, cap, "%s", info.name);
	return pfd;
}

/* The interface lock (attach.h).  Not getting it is no error: another
 * daemon watches the interface (the attach below says so), or TW_LOCK_DIR
 * is not writable; orphans are then never replaced. */
static void lock_iface(struct tw_link *l)
{
	struct stat ns, a, b;
	char path[128];
	if (stat("/proc/self/ns/net", &ns) < 0 || (mkdir(TW_LOCK_DIR, 0700) < 0 && errno != EEXIST))
		return;
	snprintf(path, sizeof(path), TW_LOCK_DIR "/%llu-%d.lock", (unsigned long long)ns.st_ino, l->ifindex);
	for (int tries = 0; tries < 3; tries++) {
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			close(fd);
			return;
		}
		/* a daemon leaving unlinks the file it locked: lock the one on disk */
		if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
			l->lock_fd = fd;
			return;
		}
		close(fd);
	}
}

static void unlock_iface(struct tw_link *l)
{
	struct stat ns;
	char path[128];
	if (l->lock_fd < 0)
		return;
	if (stat("/proc/self/ns/net", &ns) == 0) {
		snprintf(path, sizeof(path), TW_LOCK_DIR "/%llu-%d.lock", (unsigned long long)ns.st_ino, l->ifindex);
		unlink(path); /* still holding the lock: see lock_iface */
	}
	close(l->lock_fd);
	l->lock_fd = -1;
}

/* Take a killed daemon's XDP program (netlink-attached: an older kernel or
 * an older tamperwatchd) off, if it is one: 0 done, -1 not ours to touch. */
static int xdp_orphan_off(struct tw_link *l, unsigned id, const char *pname, int pfd)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	if (l->lock_fd < 0 || strcmp(pname, "tw_xdp") || pfd < 0 || bpf_xdp_query(l->ifindex, 0, &q))
		return -1;
	unsigned mode = q.attach_mode == XDP_ATTACHED_SKB   ? XDP_FLAGS_SKB_MODE
	                : q.attach_mode == XDP_ATTACHED_DRV ? XDP_FLAGS_DRV_MODE
	                                                    : 0;
	LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = pfd);
	if (!mode || bpf_xdp_detach(l->ifindex, mode | XDP_FLAGS_REPLACE, &o))
		return -1;
	fprintf(stderr, "tamperwatchd: %s: removed the XDP program (id %u) a killed tamperwatchd left attached\n",
	        l->name, id);
	return 0;
}

static int xdp_link(struct tw_link *l, int fd, unsigned mode)
{
	LIBBPF_OPTS(bpf_link_create_opts, o, .flags = mode);
	int lfd = bpf_link_create(fd, l->ifindex, BPF_XDP, &o);
	if (lfd >= 0) {
		l->xdp_link = lfd;
		l->xdp_flags = (int)mode;
		return 0;
	}
	return lfd;
}

static int attach_xdp(struct tw_link *l, int fd, char *err, size_t errlen)
{
	unsigned id = 0;
	if (xdp_owner(l->ifindex, &id) == 0 && id) {
		char pname[32];
		int pfd = prog_by_id(id, pname, sizeof(pname));
		int gone = xdp_orphan_off(l, id, pname, pfd) == 0;
		if (pfd >= 0)
			close(pfd);
		if (!gone) {
			snprintf(err, errlen,
			         "%s already carries an XDP program (id %u, \"%s\"): not replacing it; "
			         "detach it or use --mode tc",
			         l->name, id, pname);
			return -1;
		}
	}
	/* a BPF link: the kernel detaches it when this process dies, however */
	int native = xdp_link(l, fd, XDP_FLAGS_DRV_MODE);
	if (native == 0)
		return 0;
	if (xdp_link(l, fd, XDP_FLAGS_SKB_MODE) == 0) {
		fprintf(stderr, "tamperwatchd: %s: native XDP not available (%s), using generic XDP (slower)\n",
		        l->name, strerror(-native));
		return 0;
	}
	/* no XDP links (kernel before 5.9): netlink, which outlives us */
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
	fprintf(stderr,
	        "tamperwatchd: %s: no XDP link (%s): attached through netlink, which a SIGKILL leaves "
	        "behind until the next start replaces it\n",
	        l->name, strerror(-native));
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
		LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = l->ifindex, .attach_point = i ? BPF_TC_EGRESS : BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, o, .prog_fd = fd, .handle = TW_TC_HANDLE, .priority = TW_TC_PRIO);
		/* no REPLACE flag: an existing filter at our handle/prio is not ours
		 * to replace, unless it is a killed daemon's (attach.h) */
		rc = bpf_tc_attach(&h, &o);
		if (rc == -EEXIST && l->lock_fd >= 0) {
			LIBBPF_OPTS(bpf_tc_opts, q, .handle = TW_TC_HANDLE, .priority = TW_TC_PRIO);
			char pname[32] = "";
			int pfd = bpf_tc_query(&h, &q) == 0 ? prog_by_id(q.prog_id, pname, sizeof(pname)) : -1;
			if (pfd >= 0)
				close(pfd);
			if (!strcmp(pname, "tw_tc")) {
				LIBBPF_OPTS(bpf_tc_opts, r, .prog_fd = fd, .handle = TW_TC_HANDLE,
				            .priority = TW_TC_PRIO, .flags = BPF_TC_F_REPLACE);
				rc = bpf_tc_attach(&h, &r);
				if (!rc)
					fprintf(stderr,
					        "tamperwatchd: %s: replaced the TC %s program (id %u) a killed "
					        "tamperwatchd left attached\n",
					        l->name, i ? "egress" : "ingress", q.prog_id);
			}
		}
		if (rc) {
			snprintf(err, errlen, "%s: cannot attach TC %s program: %s", l->name, i ? "egress" : "ingress",
			         strerror(-rc));
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
	lock_iface(l);
	int rc = l->mode == TW_MODE_XDP ? attach_xdp(l, xdp_fd, err, errlen) : attach_tc(l, tc_fd, err, errlen);
	l->attached = 1; /* partial TC attachment is undone by detach */
	if (rc && l->mode == TW_MODE_XDP)
		l->attached = 0;
	return rc;
}

void tw_link_detach(struct tw_link *l, int xdp_fd)
{
	if (!l->attached) {
		unlock_iface(l);
		return;
	}
	if (l->mode == TW_MODE_XDP && l->xdp_link >= 0) {
		close(l->xdp_link);
		l->xdp_link = -1;
	} else if (l->mode == TW_MODE_XDP) {
		/* only if it is still ours */
		LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = xdp_fd);
		int rc = bpf_xdp_detach(
		        l->ifindex, (unsigned)(l->xdp_flags & ~XDP_FLAGS_UPDATE_IF_NOEXIST) | XDP_FLAGS_REPLACE, &o);
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
	unlock_iface(l);
}
