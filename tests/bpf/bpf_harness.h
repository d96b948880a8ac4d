/* Shared by tests/bpf/test_*.c: load the real BPF object through the
 * skeleton in replay mode, drive tw_xdp / tw_tc with BPF_PROG_TEST_RUN,
 * collect the ring buffer, read the per-CPU counters; and a userspace
 * mirror of the program (the classifier core called directly, as
 * daemon/capture/engine_user.c does) to compare against. */
#ifndef TW_TESTS_BPF_HARNESS_H
#define TW_TESTS_BPF_HARNESS_H

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <tamperwatch/classify.h>
#include "tamperwatch.skel.h"
#include "pktbuild.h"

#include "check.h"

#define H_MAX_EV 64
#define H_EV_SIZE (sizeof(struct tw_event) + TW_SNIPPET_QUIC_MAX)

struct h_evlist {
	int n;
	size_t len[H_MAX_EV];
	uint8_t ev[H_MAX_EV][H_EV_SIZE];
};

struct harness {
	struct tamperwatch *skel;
	struct ring_buffer *rb;
	int ncpu;
	struct h_evlist got;
	int overflow;
};

struct tw_counters_ {
	__u64 c[TW_CNT_MAX];
};

static int h_on_event(void *ctx, void *data, size_t len)
{
	struct harness *h = ctx;
	if (h->got.n >= H_MAX_EV || len > H_EV_SIZE) {
		h->overflow++;
		return 0;
	}
	memcpy(h->got.ev[h->got.n], data, len);
	h->got.len[h->got.n] = len;
	h->got.n++;
	return 0;
}

static int h_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* Exits 77 when the environment cannot load BPF programs. */
static void h_open(struct harness *h)
{
	memset(h, 0, sizeof(*h));
	if (geteuid() != 0) {
		printf("SKIP: not root: loading BPF programs needs CAP_BPF/CAP_NET_ADMIN\n");
		exit(77);
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		printf("SKIP: kernel has no BTF (/sys/kernel/btf/vmlinux missing)\n");
		exit(77);
	}
	libbpf_set_print(h_libbpf_print);
	h->ncpu = libbpf_num_possible_cpus();
	h->skel = tamperwatch__open();
	if (!h->skel) {
		printf("FAIL: tamperwatch__open: %s\n", strerror(errno));
		exit(1);
	}
	h->skel->rodata->tw_cfg_replay = 1;
	if (tamperwatch__load(h->skel)) {
		int e = errno;
		printf("FAIL: tamperwatch__load: %s\n", strerror(e));
		exit(1);
	}
	h->rb = ring_buffer__new(bpf_map__fd(h->skel->maps.tw_events), h_on_event, h, NULL);
	if (!h->rb) {
		printf("FAIL: ring_buffer__new: %s\n", strerror(errno));
		exit(1);
	}
}

static void h_close(struct harness *h)
{
	ring_buffer__free(h->rb);
	tamperwatch__destroy(h->skel);
}

static void h_counters(struct harness *h, uint64_t out[TW_CNT_MAX])
{
	struct tw_counters_ *v = calloc((size_t)h->ncpu, sizeof(*v));
	uint32_t zero = 0;
	memset(out, 0, sizeof(uint64_t) * TW_CNT_MAX);
	if (bpf_map_lookup_elem(bpf_map__fd(h->skel->maps.tw_stats), &zero, v) != 0) {
		printf("FAIL: reading tw_stats: %s\n", strerror(errno));
		exit(1);
	}
	for (int c = 0; c < h->ncpu; c++)
		for (int i = 0; i < TW_CNT_MAX; i++)
			out[i] += v[c].c[i];
	free(v);
}

/* Empty the flow table, restart flow ids, zero the counters, drop events. */
static void h_reset(struct harness *h)
{
	int fd = bpf_map__fd(h->skel->maps.tw_flows6);
	struct tw_flow_key k;
	struct tw_flow_key4 k4;
	while (bpf_map_get_next_key(fd, NULL, &k) == 0)
		if (bpf_map_delete_elem(fd, &k) != 0)
			break;
	fd = bpf_map__fd(h->skel->maps.tw_flows4);
	while (bpf_map_get_next_key(fd, NULL, &k4) == 0)
		if (bpf_map_delete_elem(fd, &k4) != 0)
			break;
	h->skel->bss->tw_next_flow_id = 0;
	struct tw_counters_ *v = calloc((size_t)h->ncpu, sizeof(*v));
	uint32_t zero = 0;
	if (bpf_map_update_elem(bpf_map__fd(h->skel->maps.tw_stats), &zero, v, BPF_ANY) != 0) {
		printf("FAIL: zeroing tw_stats: %s\n", strerror(errno));
		exit(1);
	}
	free(v);
	ring_buffer__consume(h->rb);
	h->got.n = 0;
	h->overflow = 0;
}

/* A flow of the kernel's tables by its full key: IPv4 flows are in
 * tw_flows4 under the compact key, IPv6 ones in tw_flows6.  0 or -errno. */
static __attribute__((unused)) int h_flow_get(struct harness *h, const struct tw_flow_key *k, struct tw_flow *f)
{
	struct tw_flow_key4 k4;
	int rc;
	if (k->family == TW_FAMILY_IPV4) {
		tw_flow_key4_of(k, &k4);
		rc = bpf_map_lookup_elem(bpf_map__fd(h->skel->maps.tw_flows4), &k4, f);
	} else {
		rc = bpf_map_lookup_elem(bpf_map__fd(h->skel->maps.tw_flows6), k, f);
	}
	return rc ? -errno : 0;
}

/* Flows in both tables (v4, v6: how many in each, may be NULL). */
static __attribute__((unused)) int h_flow_count(struct harness *h, int *v4, int *v6)
{
	struct tw_flow_key k, nx;
	struct tw_flow_key4 k4, nx4;
	int n4 = 0, n6 = 0;
	void *prev = NULL;
	int fd = bpf_map__fd(h->skel->maps.tw_flows4);
	while (n4 < 1000000 && bpf_map_get_next_key(fd, prev, &nx4) == 0) {
		k4 = nx4;
		prev = &k4;
		n4++;
	}
	prev = NULL;
	fd = bpf_map__fd(h->skel->maps.tw_flows6);
	while (n6 < 1000000 && bpf_map_get_next_key(fd, prev, &nx) == 0) {
		k = nx;
		prev = &k;
		n6++;
	}
	if (v4)
		*v4 = n4;
	if (v6)
		*v6 = n6;
	return n4 + n6;
}

/* One test run of tw_xdp (xdp=1) or tw_tc (xdp=0) at replay time now.
 * Returns 0 or -errno of the syscall; *retval gets the program's verdict.
 * Events are appended to h->got. */
static int h_run(struct harness *h, int xdp, const uint8_t *frame, size_t len, uint64_t now, uint32_t *retval)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (__u32)len, .repeat = 1);
	struct __sk_buff skb;
	if (!xdp) {
		memset(&skb, 0, sizeof(skb));
		opts.ctx_in = &skb;
		opts.ctx_size_in = sizeof(skb);
	}
	h->skel->bss->tw_replay_now = now;
	int fd = bpf_program__fd(xdp ? h->skel->progs.tw_xdp : h->skel->progs.tw_tc);
	int err = bpf_prog_test_run_opts(fd, &opts);
	if (err)
		return -errno;
	*retval = opts.retval;
	ring_buffer__consume(h->rb);
	return 0;
}

/* ----- userspace mirror: the steps of bpf/tamperwatch.bpf.c in C ------- */

#define M_MAX_FLOWS 64

struct mirror {
	int n;
	struct tw_flow_key key[M_MAX_FLOWS];
	struct tw_flow flow[M_MAX_FLOWS];
	uint64_t next_id;
	uint64_t cnt[TW_CNT_MAX];
	struct h_evlist out;
};

static __attribute__((unused)) void m_process(struct mirror *m, const uint8_t *data, size_t len, uint64_t now)
{
	struct tw_pkt p;
	struct tw_flow_key k;
	struct tw_pkt_ctx pc;

	m->cnt[TW_CNT_PACKETS]++;
	m->cnt[TW_CNT_BYTES] += len;
	memset(&p, 0, sizeof(p));
	int rc = tw_parse(data, data + len, &p);
	if (rc != TW_PARSE_OK) {
		if (rc > 0 && rc < TW_PARSE_RESULT_MAX)
			m->cnt[TW_CNT_PARSE_BASE + rc]++;
		return;
	}
	m->cnt[TW_CNT_TRACKED]++;
	if (p.proto == TW_PROTO_TCP && (p.tcp_flags & TW_TCP_SYN) && p.opt_len && p.payload_off <= len)
		tw_parse_tcp_opts(data + p.payload_off - p.opt_len, p.opt_len, &p);
	int src_is_b = tw_flow_key_make(&p, &k);
	int i;
	for (i = 0; i < m->n; i++)
		if (memcmp(&m->key[i], &k, sizeof(k)) == 0)
			break;
	if (i == m->n) {
		if (m->n == M_MAX_FLOWS) {
			printf("FAIL: mirror flow table full\n");
			exit(1);
		}
		m->key[i] = k;
		tw_flow_init(&m->flow[i], &p, src_is_b, ++m->next_id);
		m->n++;
		m->cnt[TW_CNT_FLOWS_NEW]++;
		if (k.family == TW_FAMILY_IPV6)
			m->cnt[TW_CNT_FLOWS_NEW_V6]++;
	}
	struct tw_flow *f = &m->flow[i];
	int dir = tw_pkt_dir(f, src_is_b);
	/* the BPF program starts from a zeroed request ("= {}"): so does
	 * the mirror, whatever tw_track() leaves alone */
	memset(&pc, 0, sizeof(pc));
	__u32 ev = tw_track(f, &p, dir, now, 1, (__u32)len, &pc);
	for (__u32 t = 1; t < TW_EV_TYPE_MAX; t++) {
		if (!(ev & TW_EVBIT(t)))
			continue;
		if (m->out.n >= H_MAX_EV) {
			printf("FAIL: mirror event list full\n");
			exit(1);
		}
		struct tw_event *e = (struct tw_event *)m->out.ev[m->out.n];
		memset(e, 0, H_EV_SIZE);
		tw_event_fill(e, (__u16)t, &k, f, &p, &pc, dir, now, 0);
		if (tw_event_wants_snippet(t) && p.payload_off < len) {
			uint32_t s = (uint32_t)len - p.payload_off;
			if (s > p.payload_len)
				s = p.payload_len;
			uint32_t max = tw_event_snippet_max(t, p.proto, dir == TW_DIR_C2S ? p.dport : p.sport);
			if (s > max)
				s = max;
			memcpy(e->snippet, data + p.payload_off, s);
			e->snippet_len = (__u16)s;
			e->len = (__u16)(sizeof(*e) + s);
		}
		m->cnt[TW_CNT_EVENTS]++;
		m->out.len[m->out.n] = e->len;
		m->out.n++;
	}
}

static __attribute__((unused)) const char *ev_name(unsigned t)
{
	static const char *n[] = { "?",   "HANDSHAKE",      "CLIENT_DATA", "SERVER_DATA",  "RST",
		                   "FIN", "DATA_AFTER_RST", "DNS_QUERY",   "DNS_RESPONSE", "FLOW_END" };
	return t < TW_EV_TYPE_MAX ? n[t] : "?";
}

static __attribute__((unused)) const char *parse_name(int rc)
{
	static const char *n[] = { "OK",       "NOT_IP",         "TRUNC_L2", "TRUNC_L3", "BAD_L3",
		                   "FRAGMENT", "IPV6_EXT_LIMIT", "OTHER_L4", "TRUNC_L4", "BAD_L4" };
	return rc >= 0 && rc < TW_PARSE_RESULT_MAX ? n[rc] : "?";
}

/* First differing byte of two events, for the failure message. */
static __attribute__((unused)) long h_first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return (long)i;
	return -1;
}

#endif
