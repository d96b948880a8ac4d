/* The kernel module engine (engine_kmod.h).  Two netlink sockets: one for
 * commands and dumps (flows, per-prefix counters), one subscribed to the
 * events group, non-blocking and polled by the live loop.  The event socket
 * asks for NETLINK_BROADCAST_ERROR, so an event that does not fit in it is
 * refused to the module, which counts it in TW_CNT_EVENTS_LOST per CPU as
 * the BPF program counts a full ring buffer; NETLINK_NO_ENOBUFS keeps that
 * from also failing our reads. */
#include "capture/engine_kmod.h"
#include "regions.h"
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <netlink/netlink.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>
#include <tamperwatch/genl.h>
#include <tamperwatch/event.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

#define TW_KMOD_RCVBUF (8 << 20) /* as the BPF ring buffer */
#define TW_KMOD_POLL_BATCH 4096  /* events per poll before the loop's other work */
#define TW_KMOD_CMD_RCVBUF (1 << 20)
#define TW_KMOD_MAX_CPUS 8192
#define TW_KMOD_MSGBUF 65536 /* a dump's messages come in skbs of at most 32 KiB */

struct kmod_engine {
	struct tw_engine base;
	struct nl_sock *cmd, *ev;
	int family;
	int ncpu;
	uint32_t seq;   /* of the command whose answers are awaited */
	uint64_t stale; /* answers to earlier commands, skipped */
	int gone;       /* the module's family vanished: it was unloaded */
	char ifaces[16][32];
	int nif, attached;
	uint64_t evbuf[(sizeof(struct tw_event) + TW_SNIPPET_QUIC_MAX) / 8 + 1]; /* the largest snippet class */
	uint64_t rxbuf[TW_KMOD_MSGBUF / 8];                                      /* command answers */
	uint64_t (*cbase)[TW_CNT_MAX];                                           /* counters at start, per CPU */
	uint64_t malformed; /* messages without a well-formed event attribute */
};

static struct nl_msg *kmsg(struct kmod_engine *k, uint8_t cmd, int flags)
{
	struct nl_msg *m = nlmsg_alloc();

	if (m && !genlmsg_put(m, NL_AUTO_PORT, NL_AUTO_SEQ, k->family, 0, flags, cmd, TW_GENL_API_VERSION)) {
		nlmsg_free(m);
		m = NULL;
	}
	return m;
}

/* Send m (freed) and take the reply, the dump or the ACK; replies go to cb.
 * 0, or -1 with errno (the kernel's, or EIO for a netlink failure). */
static int open_cmd_socket(struct kmod_engine *k)
{
	int size = TW_KMOD_CMD_RCVBUF;
	struct timeval tmo = { .tv_sec = 5 };

	nl_socket_free(k->cmd);
	k->cmd = nl_socket_alloc();
	if (!k->cmd || genl_connect(k->cmd) < 0)
		return -1;
	nl_socket_disable_auto_ack(k->cmd);
	if (setsockopt(nl_socket_get_fd(k->cmd), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		nl_socket_set_buffer_size(k->cmd, size, 0);
	/* a module that stops answering is an error, not a hang */
	setsockopt(nl_socket_get_fd(k->cmd), SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	return 0;
}

/* Answers to command k->seq: replies to cb, up to the ACK (a command) or
 * NLMSG_DONE (a dump).  The loop is ours, not libnl's: each answer is matched
 * to its command by sequence number (anything else is counted as stale and
 * skipped), and a dump is read to its end.  0, or -1 with errno. */
/* One answer: 0 more to come, 1 the last one, -1 an error (errno). */
static int kanswer(struct kmod_engine *k, struct nlmsghdr *h, int dump, nl_recvmsg_msg_cb_t cb, void *arg)
{
	if (h->nlmsg_seq != k->seq) {
		k->stale++;
		return 0;
	}
	if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_DONE) {
		int e = 0;
		if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int)))
			memcpy(&e, NLMSG_DATA(h), sizeof(int)); /* nlmsgerr.error or the dump's status */
		if (e < 0) {
			errno = -e;
			return -1;
		}
		return h->nlmsg_type == NLMSG_DONE || !dump;
	}
	if (cb) {
		struct nl_msg *m = nlmsg_convert(h);
		if (!m) {
			errno = ENOMEM;
			return -1;
		}
		cb(m, arg);
		nlmsg_free(m);
	}
	return 0;
}

static int krecv(struct kmod_engine *k, int dump, nl_recvmsg_msg_cb_t cb, void *arg)
{
	int fd = nl_socket_get_fd(k->cmd);

	for (;;) {
		ssize_t n = recv(fd, k->rxbuf, TW_KMOD_MSGBUF, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		/* each message's length is checked against what was received */
		for (size_t off = 0; off + sizeof(struct nlmsghdr) <= (size_t)n;) {
			struct nlmsghdr *h = (struct nlmsghdr *)((uint8_t *)k->rxbuf + off);
			if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > (size_t)n - off) {
				k->malformed++;
				break;
			}
			int rc = kanswer(k, h, dump, cb, arg);
			if (rc)
				return rc < 0 ? -1 : 0;
			off += NLMSG_ALIGN(h->nlmsg_len);
		}
	}
}

/* Send m (freed) and take its answers.  0, or -1 with errno. */
static int ksend(struct kmod_engine *k, struct nl_msg *m, nl_recvmsg_msg_cb_t cb, void *arg)
{
	int dump = (nlmsg_hdr(m)->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
	int rc = nl_send_auto(k->cmd, m);

	k->seq = nlmsg_hdr(m)->nlmsg_seq; /* filled in by the send */
	nlmsg_free(m);
	if (rc < 0) {
		errno = EIO;
		return -1;
	}
	if (krecv(k, dump, cb, arg) < 0) {
		int e = errno;
		if (e == ENOENT) /* no such family */
			k->gone = 1;
		/* a dump cut short stays open in the kernel: start a new socket */
		if (dump && open_cmd_socket(k) < 0)
			fprintf(stderr, "tamperwatchd: kernel module: cannot reopen the netlink socket\n");
		errno = e;
		return -1;
	}
	return 0;
}

static struct nlattr *attr_of(struct nl_msg *msg, int type, size_t min_len)
{
	struct nlattr *a[TW_A_MAX + 1];

	if (genlmsg_parse(nlmsg_hdr(msg), 0, a, TW_A_MAX, NULL) < 0 || !a[type] || (size_t)nla_len(a[type]) < min_len)
		return NULL;
	return a[type];
}

/* --- events --- */
static int on_event(struct nl_msg *msg, void *arg)
{
	struct kmod_engine *k = arg;
	struct nlattr *a = attr_of(msg, TW_A_EVENT, sizeof(struct tw_event));
	size_t len = a ? (size_t)nla_len(a) : 0;

	if (!a || len > sizeof(k->evbuf)) {
		k->malformed++;
		return NL_OK;
	}
	memcpy(k->evbuf, nla_data(a), len); /* aligned for the consumers */
	k->base.events.fn(k->base.events.arg, (const struct tw_event *)k->evbuf, len);
	return NL_OK;
}

static int kmod_poll(struct tw_engine *eng, int timeout_ms)
{
	struct kmod_engine *k = (struct kmod_engine *)eng;
	struct pollfd pfd = { .fd = nl_socket_get_fd(k->ev), .events = POLLIN };
	int n = 0;

	if (k->gone) {
		if (k->gone++ == 1)
			fprintf(stderr, "tamperwatchd: the tamperwatch kernel module was unloaded: stopping\n");
		return -1;
	}
	if (poll(&pfd, 1, timeout_ms) < 0)
		return errno == EINTR ? -4 : -1;
	/* timeout 0 is the last drain: everything, as the BPF ring buffer's */
	while (timeout_ms == 0 || n < TW_KMOD_POLL_BATCH) {
		int rc = nl_recvmsgs_default(k->ev);
		if (rc == -NLE_AGAIN)
			break;
		if (rc < 0) {
			fprintf(stderr, "tamperwatchd: kernel module events: %s\n", nl_geterror(rc));
			return -1;
		}
		n++;
	}
	return n;
}

/* --- flows --- */
struct flow_walk {
	struct kmod_engine *k;
	tw_flow_cb cb;
	void *arg;
	int stopped;
};

static int on_flow(struct nl_msg *msg, void *arg)
{
	struct flow_walk *w = arg;
	struct nlattr *a = attr_of(msg, TW_A_FLOW, sizeof(struct tw_genl_flow));
	struct tw_genl_flow gf;

	if (!a) {
		w->k->malformed++;
		return NL_OK;
	}
	if (w->stopped)
		return NL_OK; /* the rest of the dump is read and dropped */
	memcpy(&gf, nla_data(a), sizeof(gf));
	if (w->cb(w->arg, &gf.key, &gf.flow))
		w->stopped = 1;
	return NL_OK;
}

static int kmod_for_each(struct tw_engine *eng, tw_flow_cb cb, void *arg)
{
	struct kmod_engine *k = (struct kmod_engine *)eng;
	struct flow_walk w = { k, cb, arg, 0 };
	struct nl_msg *m = kmsg(k, TW_CMD_FLOW_GET, NLM_F_DUMP);

	if (!m || ksend(k, m, on_flow, &w) < 0) {
		fprintf(stderr, "tamperwatchd: kernel module: cannot read the flow table: %s\n", strerror(errno));
		return 0;
	}
	return w.stopped;
}

static int kmod_remove(struct tw_engine *eng, const struct tw_flow_key *key)
{
	struct kmod_engine *k = (struct kmod_engine *)eng;
	struct nl_msg *m = kmsg(k, TW_CMD_FLOW_DEL, NLM_F_ACK);

	if (!m || nla_put(m, TW_A_FLOW_KEY, sizeof(*key), key) < 0) {
		nlmsg_free(m);
		errno = ENOMEM;
		return -1;
	}
	return ksend(k, m, NULL, NULL);
}

static int kmod_set_sampling(struct tw_engine *eng, uint32_t n)
{
	struct kmod_engine *k = (struct kmod_engine *)eng;
	struct nl_msg *m = kmsg(k, TW_CMD_SET_CONFIG, NLM_F_ACK);

	if (!m || nla_put_u32(m, TW_A_SAMPLE, n ? n : 1) < 0) {
		nlmsg_free(m);
		errno = ENOMEM;
		return -1;
	}
	return ksend(k, m, NULL, NULL);
}

/* --- counters --- */
/* The module's counters run from its load; a daemon reports what happened
 * since it started, as a freshly loaded BPF program's counters do: the
 * values at start are the baseline (k->cbase, CPU by CPU). */
struct counters_reply {
	struct kmod_engine *k;
	uint64_t *out, *lost;
	int max_cpu;
	int set_base;
};

static int on_counters(struct nl_msg *msg, void *arg)
{
	struct counters_reply *r = arg;
	struct nlattr *a = attr_of(msg, TW_A_COUNTERS, 0);
	size_t row = TW_CNT_MAX * sizeof(uint64_t);

	if (!a || nla_len(a) % row) {
		r->k->malformed++;
		return NL_OK;
	}
	int ncpu = nla_len(a) / (int)row;
	const uint8_t *p = nla_data(a);
	if (ncpu > TW_KMOD_MAX_CPUS)
		ncpu = TW_KMOD_MAX_CPUS;
	for (int cpu = 0; cpu < ncpu; cpu++) {
		uint64_t c[TW_CNT_MAX];
		memcpy(c, p + (size_t)cpu * row, row);
		if (r->set_base) {
			memcpy(r->k->cbase[cpu], c, row);
			continue;
		}
		for (int i = 0; i < TW_CNT_MAX; i++) {
			c[i] = c[i] >= r->k->cbase[cpu][i] ? c[i] - r->k->cbase[cpu][i] : c[i];
			r->out[i] += c[i];
		}
		if (r->lost && cpu < r->max_cpu)
			r->lost[cpu] = c[TW_CNT_EVENTS_LOST];
	}
	r->k->ncpu = ncpu;
	return NL_OK;
}

static void kmod_counters(struct tw_engine *eng, uint64_t out[TW_CNT_MAX], uint64_t *lost, int max_cpu, int *ncpu)
{
	struct kmod_engine *k = (struct kmod_engine *)eng;
	struct counters_reply r = { k, out, lost, max_cpu, 0 };
	struct nl_msg *m = kmsg(k, TW_CMD_GET_COUNTERS, NLM_F_ACK);

	memset(out, 0, TW_CNT_MAX * sizeof(uint64_t));
	if (!m || ksend(k, m, on_counters, &r) < 0)
		fprintf(stderr, "tamperwatchd: kernel module: cannot read the counters: %s\n", strerror(errno));
	if (ncpu)
		*ncpu = k->ncpu;
}

/* --- per-prefix counters --- */
static int kmod_set_nets(struct tw_engine *eng, const struct tw_regions *r, char *err, size_t errlen)
{
	struct kmod_engine *k = (struct kmod_engine *)eng;
	size_t i = 0;

	if (r->n > TW_GENL_MAX_NETS) {
		snprintf(err, errlen, "%zu client networks: the kernel module holds at most %d", r->n,
		         TW_GENL_MAX_NETS);
		return -1;
	}
	do { /* in chunks: one attribute holds less than 64 KiB */
		size_t n = r->n - i > TW_GENL_NETS_CHUNK ? TW_GENL_NETS_CHUNK : r->n - i;
		struct tw_lpm_key *v = calloc(n ? n : 1, sizeof(*v));
		struct nl_msg *m = kmsg(k, TW_CMD_CLIENT_NETS, NLM_F_ACK);
		if (!v || !m) {
			free(v);
			nlmsg_free(m);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		for (size_t j = 0; j < n; j++) {
			const struct tw_region_entry *e = &r->e[i + j];
			v[j].prefixlen = 8 + (uint32_t)e->plen;
			v[j].data[0] = e->family == AF_INET ? TW_FAMILY_IPV4 : TW_FAMILY_IPV6;
			memcpy(v[j].data + 1, e->addr, e->family == AF_INET ? 4 : 16);
		}
		int bad = nla_put(m, TW_A_NETS, (int)(n * sizeof(*v)), v) < 0 ||
		          (i == 0 && nla_put_flag(m, TW_A_NETS_FIRST) < 0);
		free(v);
		if (bad) {
			nlmsg_free(m);
			snprintf(err, errlen, "client networks: netlink message too large");
			return -1;
		}
		if (ksend(k, m, NULL, NULL) < 0) {
			snprintf(err, errlen, "cannot give the client networks to the kernel module: %s",
			         strerror(errno));
			return -1;
		}
		i += n;
	} while (i < r->n);
	return 0;
}

struct pfx_walk {
	tw_pfx_cb cb;
	void *arg;
	long n;
};

static int on_pfx(struct nl_msg *msg, void *arg)
{
	struct pfx_walk *w = arg;
	struct nlattr *a = attr_of(msg, TW_A_PFX, sizeof(struct tw_genl_pfx));
	struct tw_genl_pfx g;
	struct tw_pfx_sample s;

	if (!a)
		return NL_OK;
	memcpy(&g, nla_data(a), sizeof(g));
	memset(&s, 0, sizeof(s));
	s.key = g.key;
	s.packets = g.packets;
	s.bytes = g.bytes;
	s.new_flows = g.new_flows;
	memcpy(s.class_packets, g.class_packets, sizeof(s.class_packets));
	memcpy(s.clients, g.clients, sizeof(s.clients));
	w->cb(w->arg, &s);
	w->n++;
	return NL_OK;
}

static long kmod_poll_prefixes(struct tw_engine *eng, tw_pfx_cb cb, void *arg)
{
	struct kmod_engine *k = (struct kmod_engine *)eng;
	struct pfx_walk w = { cb, arg, 0 };
	struct nl_msg *m = kmsg(k, TW_CMD_PFX_POLL, NLM_F_DUMP);

	if (!m)
		return -1;
	return ksend(k, m, on_pfx, &w) < 0 ? -1 : w.n;
}

/* --- interfaces --- */
static int iface_cmd(struct kmod_engine *k, uint8_t cmd, const char *name, int hook)
{
	struct nl_msg *m = kmsg(k, cmd, NLM_F_ACK);

	if (!m || nla_put_string(m, TW_A_IFNAME, name) < 0 ||
	    (cmd == TW_CMD_IFACE_ADD && nla_put_u8(m, TW_A_HOOK, (uint8_t)hook) < 0)) {
		nlmsg_free(m);
		errno = ENOMEM;
		return -1;
	}
	return ksend(k, m, NULL, NULL);
}

static void kmod_detach(struct tw_engine *eng)
{
	struct kmod_engine *k = (struct kmod_engine *)eng;

	for (int i = 0; i < k->attached; i++)
		if (iface_cmd(k, TW_CMD_IFACE_DEL, k->ifaces[i], 0) < 0)
			fprintf(stderr, "tamperwatchd: kernel module: cannot stop watching %s: %s\n", k->ifaces[i],
			        strerror(errno));
	k->attached = 0;
}

static int kmod_process(struct tw_engine *eng, const struct tw_frame *f)
{
	(void)eng;
	(void)f;
	fprintf(stderr, "tamperwatchd: the kernel module engine is live only (replay: --replay-engine user|bpf)\n");
	return -1;
}

static void kmod_destroy(struct tw_engine *eng)
{
	struct kmod_engine *k = (struct kmod_engine *)eng;

	if (!k)
		return;
	if (k->cmd && k->family > 0)
		kmod_detach(eng);
	if (k->malformed || k->stale)
		fprintf(stderr, "tamperwatchd: kernel module: %llu malformed and %llu stale messages ignored\n",
		        (unsigned long long)k->malformed, (unsigned long long)k->stale);
	nl_socket_free(k->ev);
	nl_socket_free(k->cmd);
	free(k->cbase);
	free(k);
}

struct hello {
	uint32_t api, event, ncpu, limit;
};

static int on_hello(struct nl_msg *msg, void *arg)
{
	struct hello *h = arg;
	struct nlattr *a[TW_A_MAX + 1];

	if (genlmsg_parse(nlmsg_hdr(msg), 0, a, TW_A_MAX, NULL) < 0)
		return NL_OK;
	if (a[TW_A_API_VERSION])
		h->api = nla_get_u32(a[TW_A_API_VERSION]);
	if (a[TW_A_EVENT_VERSION])
		h->event = nla_get_u32(a[TW_A_EVENT_VERSION]);
	if (a[TW_A_NCPU])
		h->ncpu = nla_get_u32(a[TW_A_NCPU]);
	if (a[TW_A_MAX_FLOWS_LIMIT])
		h->limit = nla_get_u32(a[TW_A_MAX_FLOWS_LIMIT]);
	return NL_OK;
}

static int open_event_socket(struct kmod_engine *k, char *err, size_t errlen)
{
	int one = 1, size = TW_KMOD_RCVBUF, grp;

	k->ev = nl_socket_alloc();
	if (!k->ev || genl_connect(k->ev) < 0) {
		snprintf(err, errlen, "cannot open a generic netlink socket");
		return -1;
	}
	nl_socket_disable_seq_check(k->ev);
	nl_socket_disable_msg_peek(k->ev);
	nl_socket_set_msg_buf_size(k->ev, TW_KMOD_MSGBUF);
	nl_socket_modify_cb(k->ev, NL_CB_VALID, NL_CB_CUSTOM, on_event, k);
	grp = genl_ctrl_resolve_grp(k->ev, TW_GENL_NAME, TW_GENL_MCGRP_EVENTS);
	if (grp < 0 || nl_socket_add_membership(k->ev, grp) < 0) {
		snprintf(err, errlen, "cannot join the kernel module's event group: %s", nl_geterror(grp));
		return -1;
	}
	int fd = nl_socket_get_fd(k->ev);
	/* as large as the BPF ring buffer; FORCE needs CAP_NET_ADMIN, which a
	 * daemon that could talk to the module has */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_NETLINK, NETLINK_BROADCAST_ERROR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one)) < 0) {
		snprintf(err, errlen, "cannot set up the event socket: %s", strerror(errno));
		return -1;
	}
	nl_socket_set_nonblocking(k->ev);
	return 0;
}

struct tw_engine *tw_engine_kmod_new(const struct tw_record_sink *events, const char *const *ifaces, int nif, int hook,
                                     uint32_t max_flows, const struct tw_prefix_opts *pfx, char *err, size_t errlen)
{
	struct kmod_engine *k = calloc(1, sizeof(*k));
	struct hello h = { 0 };
	struct nl_msg *m;

	if (!k) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	k->base.name = "kmod";
	k->base.events = *events;
	if (nif > 16) {
		snprintf(err, errlen, "at most 16 interfaces");
		goto fail;
	}
	if (open_cmd_socket(k) < 0) {
		snprintf(err, errlen, "cannot open a generic netlink socket");
		goto fail;
	}
	k->family = genl_ctrl_resolve(k->cmd, TW_GENL_NAME);
	if (k->family < 0) {
		snprintf(err, errlen,
		         "the tamperwatch kernel module is not loaded (modprobe tamperwatch; docs/kmod.md)");
		goto fail;
	}
	m = kmsg(k, TW_CMD_HELLO, NLM_F_ACK);
	if (!m || ksend(k, m, on_hello, &h) < 0) {
		snprintf(err, errlen, "the tamperwatch kernel module does not answer: %s%s", strerror(errno),
		         errno == EPERM ? " (need root with CAP_NET_ADMIN)" : "");
		goto fail;
	}
	if (h.api != TW_GENL_API_VERSION || h.event != TW_EVENT_VERSION) {
		snprintf(err, errlen,
		         "kernel module netlink API version %u (events %u), this daemon speaks version %d (events %d): "
		         "load the module built with this daemon",
		         h.api, h.event, TW_GENL_API_VERSION, TW_EVENT_VERSION);
		goto fail;
	}
	k->ncpu = (int)h.ncpu;
	k->cbase = calloc(TW_KMOD_MAX_CPUS, sizeof(*k->cbase));
	struct counters_reply cr = { k, NULL, NULL, 0, 1 };
	m = kmsg(k, TW_CMD_GET_COUNTERS, NLM_F_ACK);
	if (!k->cbase || !m || ksend(k, m, on_counters, &cr) < 0) {
		snprintf(err, errlen, "cannot read the kernel module's counters: %s", strerror(errno));
		goto fail;
	}
	if (max_flows > h.limit) {
		snprintf(err, errlen, "flows.max %u is above the module's max_flows=%u (a load parameter)", max_flows,
		         h.limit);
		goto fail;
	}
	m = kmsg(k, TW_CMD_SET_CONFIG, NLM_F_ACK);
	if (!m || nla_put_u32(m, TW_A_MAX_FLOWS, max_flows) < 0 || nla_put_u8(m, TW_A_PFX_ON, pfx && pfx->on) < 0 ||
	    nla_put_u8(m, TW_A_PFX_V4, (uint8_t)(pfx && pfx->on ? pfx->v4_len : 24)) < 0 ||
	    nla_put_u8(m, TW_A_PFX_V6, (uint8_t)(pfx && pfx->on ? pfx->v6_len : 48)) < 0 ||
	    ksend(k, m, NULL, NULL) < 0) {
		snprintf(err, errlen, "cannot configure the kernel module: %s", strerror(errno));
		goto fail;
	}
	if (open_event_socket(k, err, errlen) < 0)
		goto fail;
	/* subscribed before watching: no event of ours goes unheard */
	for (int i = 0; i < nif; i++) {
		snprintf(k->ifaces[i], sizeof(k->ifaces[i]), "%s", ifaces[i]);
		if (iface_cmd(k, TW_CMD_IFACE_ADD, ifaces[i], hook) < 0) {
			snprintf(err, errlen, "the kernel module cannot watch %s: %s", ifaces[i], strerror(errno));
			goto fail;
		}
		k->attached = i + 1;
	}
	k->nif = nif;
	k->base.process = kmod_process;
	k->base.for_each_flow = kmod_for_each;
	k->base.remove_flow = kmod_remove;
	k->base.counters = kmod_counters;
	k->base.set_sampling = kmod_set_sampling;
	k->base.destroy = kmod_destroy;
	k->base.poll = kmod_poll;
	k->base.detach = kmod_detach;
	if (pfx && pfx->on) {
		k->base.set_client_nets = kmod_set_nets;
		k->base.poll_prefixes = kmod_poll_prefixes;
	}
	return &k->base;
fail:
	kmod_destroy(&k->base);
	return NULL;
}
