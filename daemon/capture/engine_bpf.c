#include "capture/engine_bpf.h"
#include "regions.h"
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <tamperwatch/classify.h>
#include "tamperwatch.skel.h"

#define TW_MAX_CPUS 1024

struct bpf_engine {
	struct tw_engine base;
	struct tamperwatch *skel;
	struct ring_buffer *rb;
	int ncpu;
	uint64_t user_cnt[TW_CNT_MAX]; /* frames the kernel refused to test-run (too short) */
	/* per flow table (TW_FT_IPV4, TW_FT_IPV6): flows the daemon removed,
	 * and the LRU's evictions as of the last complete walk */
	uint64_t removed[TW_FT_MAX], evicted[TW_FT_MAX];
};

static int on_event(void *ctx, void *data, size_t len)
{
	struct bpf_engine *b = ctx;
	b->base.events.fn(b->base.events.arg, data, len);
	return 0;
}

int tw_bpf_preflight(char *err, size_t errlen)
{
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		snprintf(err, errlen,
		         "this kernel has no BTF (/sys/kernel/btf/vmlinux missing): "
		         "the eBPF backend needs CONFIG_DEBUG_INFO_BTF; use --replay-engine user or the kernel module");
		return -1;
	}
	if (geteuid() != 0) {
		snprintf(err, errlen,
		         "the eBPF backend needs root (CAP_BPF and CAP_NET_ADMIN); "
		         "run as root, or replay captures with --replay-engine user");
		return -1;
	}
	return 0;
}

static int bpf_process(struct tw_engine *eng, const struct tw_frame *f)
{
	struct bpf_engine *b = (struct bpf_engine *)eng;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->data, .data_size_in = f->caplen, .repeat = 1);

	if (f->caplen < 14) {
		/* BPF_PROG_TEST_RUN refuses frames shorter than Ethernet: account
		 * them as the program would have */
		b->user_cnt[TW_CNT_PACKETS]++;
		b->user_cnt[TW_CNT_BYTES] += f->caplen;
		b->user_cnt[TW_CNT_PARSE_BASE + TW_PARSE_TRUNC_L2]++;
		return 0;
	}
	b->skel->bss->tw_replay_now = f->ts_ns;
	int err = bpf_prog_test_run_opts(bpf_program__fd(b->skel->progs.tw_xdp), &opts);
	if (err) {
		fprintf(stderr, "tamperwatchd: BPF_PROG_TEST_RUN failed on a %u-byte frame: %s\n", f->caplen,
		        strerror(errno));
		return -1;
	}
	if (opts.retval != XDP_PASS) {
		fprintf(stderr, "tamperwatchd: BUG: XDP program returned %u, not XDP_PASS\n", opts.retval);
		return -1;
	}
	ring_buffer__consume(b->rb);
	return 0;
}

static void bpf_counters(struct tw_engine *eng, uint64_t out[TW_CNT_MAX], uint64_t *lost, int max_cpu, int *ncpu);

static struct bpf_map *flow_map(struct bpf_engine *b, int t)
{
	return t == TW_FT_IPV4 ? b->skel->maps.tw_flows4 : b->skel->maps.tw_flows6;
}

/* Walk one flow table; *seen: entries visited.  1: cb stopped the walk,
 * 0: walked to the end, -1: stopped at the bound. */
static int walk(struct bpf_engine *b, int t, tw_flow_cb cb, void *arg, uint64_t *seen)
{
	struct bpf_map *m = flow_map(b, t);
	int fd = bpf_map__fd(m);
	union {
		struct tw_flow_key k6;
		struct tw_flow_key4 k4;
	} k, next;
	struct tw_flow_key full;
	struct tw_flow f;
	void *prev = NULL;
	/* bounded by the map's capacity (plus slack for concurrent inserts) */
	uint32_t limit = bpf_map__max_entries(m) * 2;

	for (uint32_t n = 0; n < limit; n++) {
		if (bpf_map_get_next_key(fd, prev, &next) != 0)
			return 0;
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &f) != 0)
			continue; /* evicted meanwhile */
		(*seen)++;
		if (t == TW_FT_IPV4)
			tw_flow_key_of4(&k.k4, &full);
		else
			full = k.k6;
		if (cb(arg, &full, &f))
			return 1;
	}
	return -1;
}

/* Both tables, IPv4 first.  A complete walk also settles how many flows
 * each LRU table evicted: created, less removed by the daemon, less
 * present (counters read before the walk; the daemon removes flows only
 * after one, tw_sweep), never lowered. */
static int bpf_for_each(struct tw_engine *eng, tw_flow_cb cb, void *arg)
{
	struct bpf_engine *b = (struct bpf_engine *)eng;
	uint64_t c[TW_CNT_MAX], created[TW_FT_MAX], seen[TW_FT_MAX] = { 0, 0 };

	bpf_counters(eng, c, NULL, 0, NULL);
	created[TW_FT_IPV6] = c[TW_CNT_FLOWS_NEW_V6];
	created[TW_FT_IPV4] = c[TW_CNT_FLOWS_NEW] - c[TW_CNT_FLOWS_NEW_V6];
	for (int t = 0; t < TW_FT_MAX; t++) {
		int rc = walk(b, t, cb, arg, &seen[t]);
		if (rc > 0)
			return 1;
		if (rc < 0)
			continue;
		uint64_t gone = b->removed[t] + seen[t];
		if (created[t] > gone && created[t] - gone > b->evicted[t])
			b->evicted[t] = created[t] - gone;
	}
	return 0;
}

static int bpf_remove(struct tw_engine *eng, const struct tw_flow_key *k)
{
	struct bpf_engine *b = (struct bpf_engine *)eng;
	int rc;
	int t = k->family == TW_FAMILY_IPV4 ? TW_FT_IPV4 : TW_FT_IPV6;
	if (t == TW_FT_IPV4) {
		struct tw_flow_key4 k4;
		tw_flow_key4_of(k, &k4);
		rc = bpf_map_delete_elem(bpf_map__fd(flow_map(b, t)), &k4);
	} else {
		rc = bpf_map_delete_elem(bpf_map__fd(flow_map(b, t)), k);
	}
	if (rc == 0)
		b->removed[t]++;
	return rc;
}

static int bpf_flow_tables(struct tw_engine *eng, struct tw_flow_table_stats out[TW_FT_MAX])
{
	struct bpf_engine *b = (struct bpf_engine *)eng;
	for (int t = 0; t < TW_FT_MAX; t++) {
		out[t].size = bpf_map__max_entries(flow_map(b, t));
		out[t].evicted = b->evicted[t];
	}
	return TW_FT_MAX;
}

static void bpf_counters(struct tw_engine *eng, uint64_t out[TW_CNT_MAX], uint64_t *lost, int max_cpu, int *ncpu)
{
	struct bpf_engine *b = (struct bpf_engine *)eng;
	struct tw_counters *v = calloc((size_t)b->ncpu, sizeof(*v));
	uint32_t zero = 0;

	memcpy(out, b->user_cnt, sizeof(b->user_cnt));
	if (ncpu)
		*ncpu = b->ncpu;
	if (!v || bpf_map_lookup_elem(bpf_map__fd(b->skel->maps.tw_stats), &zero, v) != 0) {
		free(v);
		return;
	}
	for (int cpu = 0; cpu < b->ncpu; cpu++) {
		for (int i = 0; i < TW_CNT_MAX; i++)
			out[i] += v[cpu].c[i];
		if (lost && cpu < max_cpu)
			lost[cpu] = v[cpu].c[TW_CNT_EVENTS_LOST];
	}
	free(v);
}

static int bpf_set_nets(struct tw_engine *eng, const struct tw_regions *r, char *err, size_t errlen)
{
	struct bpf_engine *b = (struct bpf_engine *)eng;
	int fd = bpf_map__fd(b->skel->maps.tw_client_nets);
	uint32_t max = bpf_map__max_entries(b->skel->maps.tw_client_nets);
	__u32 one = 1;

	if (r->n > max) {
		snprintf(err, errlen, "%zu client networks: the kernel side holds at most %u", r->n, max);
		return -1;
	}
	for (size_t i = 0; i < r->n; i++) {
		const struct tw_region_entry *e = &r->e[i];
		struct tw_lpm_key k;
		memset(&k, 0, sizeof(k));
		k.prefixlen = 8 + (uint32_t)e->plen;
		k.data[0] = e->family == AF_INET ? TW_FAMILY_IPV4 : TW_FAMILY_IPV6;
		memcpy(k.data + 1, e->addr, e->family == AF_INET ? 4 : 16);
		if (bpf_map_update_elem(fd, &k, &one, BPF_ANY)) {
			snprintf(err, errlen, "cannot add client network %zu to the kernel: %s", i + 1,
			         strerror(errno));
			return -1;
		}
	}
	return 0;
}

static long bpf_poll_prefixes(struct tw_engine *eng, tw_pfx_cb cb, void *arg)
{
	struct bpf_engine *b = (struct bpf_engine *)eng;
	int fd = bpf_map__fd(b->skel->maps.tw_pfx);
	uint32_t limit = bpf_map__max_entries(b->skel->maps.tw_pfx) * 2;
	struct tw_pfx_val *v = calloc((size_t)b->ncpu, sizeof(*v));
	struct tw_pfx_key k, next;
	void *prev = NULL;
	long n = 0;

	if (!v)
		return -1;
	/* writers move to the other sketch bank; the closed one is read below */
	uint64_t closed = b->skel->bss->tw_pfx_epoch;
	__atomic_store_n(&b->skel->bss->tw_pfx_epoch, closed + 1, __ATOMIC_RELEASE);
	for (uint32_t i = 0; i < limit; i++) {
		if (bpf_map_get_next_key(fd, prev, &next) != 0)
			break;
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, v) != 0)
			continue; /* evicted meanwhile */
		struct tw_pfx_sample s;
		memset(&s, 0, sizeof(s));
		s.key = k;
		for (int c = 0; c < b->ncpu; c++) {
			s.packets += v[c].packets;
			s.bytes += v[c].bytes;
			s.new_flows += v[c].new_flows;
			for (int j = 0; j < TW_PFX_NCLASS; j++)
				s.class_packets[j] += v[c].class_packets[j];
			if (v[c].sk_epoch[closed & 1] == closed)
				for (int j = 0; j < TW_PFX_SKETCH_WORDS; j++)
					s.clients[j] |= v[c].clients[closed & 1][j];
		}
		cb(arg, &s);
		n++;
	}
	free(v);
	return n;
}

static int bpf_set_sampling(struct tw_engine *eng, uint32_t n)
{
	struct bpf_engine *b = (struct bpf_engine *)eng;
	/* .data is mmapped: the next packet sees it */
	__atomic_store_n(&b->skel->data->tw_sample_n, n ? n : 1, __ATOMIC_RELEASE);
	return 0;
}

static void bpf_destroy(struct tw_engine *eng)
{
	struct bpf_engine *b = (struct bpf_engine *)eng;
	ring_buffer__free(b->rb);
	tamperwatch__destroy(b->skel);
	free(b);
}

int tw_engine_bpf_prog_fd(struct tw_engine *eng, int xdp)
{
	struct bpf_engine *b = (struct bpf_engine *)eng;
	return bpf_program__fd(xdp ? b->skel->progs.tw_xdp : b->skel->progs.tw_tc);
}

int tw_engine_bpf_poll(struct tw_engine *eng, int timeout_ms)
{
	struct bpf_engine *b = (struct bpf_engine *)eng;
	return ring_buffer__poll(b->rb, timeout_ms);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || getenv("TW_LIBBPF_QUIET"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

struct tw_engine *tw_engine_bpf_new(const struct tw_record_sink *events, int replay, uint32_t max_flows,
                                    uint32_t max_ipv6, uint32_t ring_bytes, const struct tw_prefix_opts *pfx,
                                    char *err, size_t errlen)
{
	struct bpf_engine *b;

	if (tw_bpf_preflight(err, errlen) < 0)
		return NULL;
	libbpf_set_print(libbpf_quiet);
	b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	b->ncpu = libbpf_num_possible_cpus();
	if (b->ncpu <= 0 || b->ncpu > TW_MAX_CPUS) {
		snprintf(err, errlen, "cannot count possible CPUs");
		goto fail;
	}
	b->skel = tamperwatch__open();
	if (!b->skel) {
		snprintf(err, errlen, "cannot open the BPF object: %s", strerror(errno));
		goto fail;
	}
	if (b->skel->rodata->tw_api_version != TW_API_VERSION) {
		snprintf(err, errlen, "BPF object API version %u, daemon expects %u: rebuild",
		         b->skel->rodata->tw_api_version, TW_API_VERSION);
		goto fail;
	}
	b->skel->rodata->tw_cfg_replay = replay ? 1 : 0;
	if (pfx && pfx->on) {
		b->skel->rodata->tw_cfg_pfx_on = 1;
		b->skel->rodata->tw_cfg_pfx_v4 = (__u32)pfx->v4_len;
		b->skel->rodata->tw_cfg_pfx_v6 = (__u32)pfx->v6_len;
	}
	/* replay test-runs only the XDP program; verifying the TC one too
	 * would double the load time of every replay (bpftest and live
	 * still load it) */
	if (replay && bpf_program__set_autoload(b->skel->progs.tw_tc, false)) {
		snprintf(err, errlen, "cannot leave the TC program out of a replay load");
		goto fail;
	}
	uint32_t max6 = tw_flows6_max(max_flows, max_ipv6);
	if (bpf_map__set_max_entries(b->skel->maps.tw_flows4, max_flows) ||
	    bpf_map__set_max_entries(b->skel->maps.tw_flows6, max6)) {
		snprintf(err, errlen, "cannot size the flow maps to %u IPv4 and %u IPv6 entries", max_flows, max6);
		goto fail;
	}
	if (ring_bytes && bpf_map__set_max_entries(b->skel->maps.tw_events, ring_bytes)) {
		snprintf(err, errlen, "cannot size the event ring buffer to %u bytes", ring_bytes);
		goto fail;
	}
	if (tamperwatch__load(b->skel)) {
		int e = errno;
		snprintf(err, errlen, "cannot load the BPF programs into this kernel: %s%s", strerror(e),
		         e == EPERM ? " (need root with CAP_BPF/CAP_SYS_ADMIN, or unprivileged BPF is off)" : "");
		goto fail;
	}
	b->rb = ring_buffer__new(bpf_map__fd(b->skel->maps.tw_events), on_event, b, NULL);
	if (!b->rb) {
		snprintf(err, errlen, "cannot set up the event ring buffer: %s", strerror(errno));
		goto fail;
	}
	b->base.name = "bpf";
	b->base.events = *events;
	b->base.process = bpf_process;
	b->base.for_each_flow = bpf_for_each;
	b->base.remove_flow = bpf_remove;
	b->base.counters = bpf_counters;
	b->base.flow_tables = bpf_flow_tables;
	b->base.set_sampling = bpf_set_sampling;
	b->base.destroy = bpf_destroy;
	b->base.poll = tw_engine_bpf_poll;
	if (pfx && pfx->on) {
		b->base.set_client_nets = bpf_set_nets;
		b->base.poll_prefixes = bpf_poll_prefixes;
	}
	return &b->base;
fail:
	if (b->skel)
		tamperwatch__destroy(b->skel);
	free(b);
	return NULL;
}
