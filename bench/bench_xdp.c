/* bench_xdp: nanoseconds per packet of the real XDP program (tw_xdp, LIVE
 * mode: tw_cfg_replay = 0, so the program reads the kernel clocks exactly
 * as when attached) beside a reference program (bpf/bench_ref.bpf.c: the
 * same parser and key, one LRU-hash lookup + one update, no clock), both
 * driven by BPF_PROG_TEST_RUN on the same frame.  The time is the kernel's
 * own (opts.duration: average ns per run over opts.repeat runs).
 *
 * Cases, each on its own flow, primed first:
 *   (a) TCP data packet of an established flow whose both sides have sent
 *       payload: the steady-state path (coarse clock, no event).
 *   (b) SYN: with repeat only the first run creates the flow, so what is
 *       measured is a SYN of an existing flow (a retransmitted SYN).  A
 *       separate row times new flows with repeat = 1 per distinct flow.
 *   (c) RST (RST|ACK from the server after the client's first payload):
 *       one ring-buffer event per run.
 *   (d) DNS response (UDP from port 53, query seen first): one event with
 *       a payload snippet per run.
 * The event cases run in batches small enough for the 8 MiB ring buffer and
 * the buffer is drained between batches (outside the timed region), so every
 * run pays for a real reservation, fill and submit; events lost are printed.
 * Extra rows show the same cases with the ring buffer left full (every event
 * lost), the cost the program pays when the daemon falls behind.
 *
 * Each measurement is taken 5 times, median reported.  Exit 0 always (77 if
 * BPF cannot be loaded here); "TARGET MET" / "TARGET MISSED" for (a). */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <tamperwatch/classify.h>
#include <tamperwatch/prefix.h>
#include <bpf/btf.h>
#include <limits.h>
#include "pktbuild.h"

#define ROUNDS 5
#define REPEAT 2000000u
#define TARGET_RATIO 1.5
#define XDP_PASS_ 2

struct tw_counters_ {
	__u64 c[TW_CNT_MAX];
};

/* The objects are opened from build/bpf/ (next to this binary's directory)
 * rather than through the generated skeletons: make treats build/NAME.skel.h
 * as intermediate files and deletes them after the run that made them. */
static struct bpf_object *tw, *twp, *ref;
static int tw_fd, twp_fd, ref_fd, flows_fd, stats_fd, events_fd;
static struct ring_buffer *rb;
static int ncpu;
static uint64_t ev_seen[TW_EV_TYPE_MAX + 1];

static int on_event(void *ctx, void *data, size_t len)
{
	(void)ctx;
	const struct tw_event *e = data;
	if (len >= sizeof(*e) && e->type < TW_EV_TYPE_MAX)
		ev_seen[e->type]++;
	else
		ev_seen[TW_EV_TYPE_MAX]++;
	return 0;
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void counters(uint64_t out[TW_CNT_MAX])
{
	struct tw_counters_ *v = calloc((size_t)ncpu, sizeof(*v));
	uint32_t zero = 0;
	memset(out, 0, sizeof(uint64_t) * TW_CNT_MAX);
	if (!v || bpf_map_lookup_elem(stats_fd, &zero, v) != 0) {
		printf("cannot read tw_stats: %s\n", strerror(errno));
		exit(1);
	}
	for (int c = 0; c < ncpu; c++)
		for (int i = 0; i < TW_CNT_MAX; i++)
			out[i] += v[c].c[i];
	free(v);
}

/* total runs of prog on frame, in batches of `batch` (drain between them
 * when drain is set); returns the kernel's average ns per run */
static double run(int fd, const uint8_t *frame, size_t len, uint32_t total, uint32_t batch, int drain)
{
	double sum = 0;
	uint32_t done = 0;

	while (done < total) {
		uint32_t n = total - done < batch ? total - done : batch;
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = (__u32)len, .repeat = n);
		if (bpf_prog_test_run_opts(fd, &o) != 0) {
			printf("BPF_PROG_TEST_RUN failed: %s\n", strerror(errno));
			exit(1);
		}
		if (o.retval != XDP_PASS_) {
			printf("BUG: program returned %u, not XDP_PASS\n", o.retval);
			exit(1);
		}
		sum += (double)o.duration * n;
		done += n;
		if (drain)
			ring_buffer__consume(rb);
	}
	return sum / total;
}

static void once(int fd, const uint8_t *frame, size_t len)
{
	run(fd, frame, len, 1, 1, 1);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return v[n / 2];
}

/* ---- frames ---------------------------------------------------------- */

struct frame {
	uint8_t b[2048];
	size_t len;
};

static const uint8_t CLI4[4] = { 10, 1, 2, 3 };
static const uint8_t SRV4[4] = { 93, 184, 216, 34 };
static const uint8_t DNS4[4] = { 9, 9, 9, 9 };

/* set: non-SYN frames carry NOP,NOP,TS (TSval = seq, TSecr = ack), as Linux sends them */
static int mk_ts;

static void mk(struct frame *f, int c2s, const uint8_t *srv, uint16_t cport, uint16_t sport, uint8_t flags,
               uint32_t seq, uint32_t ack, size_t plen, int syn_opts)
{
	uint8_t ts[12] = { 1, 1, 8, 10 };
	struct pb_pkt p = {
		.family = 4,
		.ttl = c2s ? 64 : 52,
		.ip_id = (uint16_t)(seq ^ plen),
		.df = 1,
		.l4 = 6,
		.sport = c2s ? cport : sport,
		.dport = c2s ? sport : cport,
		.seq = seq,
		.ack = ack,
		.flags = flags,
		.win = 502,
		.mss = syn_opts ? 1460 : 0,
		.has_wscale = (uint8_t)syn_opts,
		.wscale = 7,
		.payload_len = plen,
		.payload_fill = 0x41,
	};
	if (mk_ts && !(flags & TW_TCP_SYN)) {
		pb_put32(ts + 4, seq);
		pb_put32(ts + 8, ack);
		p.opt_raw = ts;
		p.opt_raw_len = sizeof(ts);
	}
	memcpy(p.src, c2s ? CLI4 : srv, 4);
	memcpy(p.dst, c2s ? srv : CLI4, 4);
	f->len = pb_build(&p, f->b, sizeof(f->b));
	if (!f->len) {
		printf("BUG: frame does not fit\n");
		exit(1);
	}
}

static void mk_dns(struct frame *f, int query, uint16_t cport, uint16_t id)
{
	/* example.com A query, and its answer (one A record) */
	static const uint8_t q[] = {
		0, 0,   0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1,    7,    'e',  'x', 'a', 'm', 'p', 'l', 'e',
		3, 'c', 'o',  'm',  0, 0, 1, 0, 1, 0, 0, 0x29, 0x04, 0xd0, 0,   0,   0,   0,   0,   0, /* OPT, 1232 */
	};
	uint8_t pl[256];
	size_t n = sizeof(q);
	memcpy(pl, q, n);
	pl[0] = (uint8_t)(id >> 8);
	pl[1] = (uint8_t)id;
	if (!query) {
		static const uint8_t ans[] = {
			0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 93, 184, 216, 34,
		};
		pl[2] = 0x81;
		pl[3] = 0x80;
		pl[7] = 1; /* ANCOUNT */
		/* answer goes before the OPT record */
		size_t optlen = 11;
		memmove(pl + n - optlen + sizeof(ans), pl + n - optlen, optlen);
		memcpy(pl + n - optlen, ans, sizeof(ans));
		n += sizeof(ans);
	}
	struct pb_pkt p = {
		.family = 4,
		.ttl = query ? 64 : 57,
		.ip_id = id,
		.l4 = 17,
		.sport = query ? cport : 53,
		.dport = query ? 53 : cport,
		.payload = pl,
		.payload_len = n,
	};
	memcpy(p.src, query ? CLI4 : DNS4, 4);
	memcpy(p.dst, query ? DNS4 : CLI4, 4);
	f->len = pb_build(&p, f->b, sizeof(f->b));
}

static int flow_of(const struct frame *fr, struct tw_flow *out)
{
	struct tw_pkt p;
	struct tw_flow_key k;
	memset(&p, 0, sizeof(p));
	if (tw_parse(fr->b, fr->b + fr->len, &p) != TW_PARSE_OK)
		return -1;
	tw_flow_key_make(&p, &k);
	return bpf_map_lookup_elem(flows_fd, &k, out);
}

/* ---- cases ----------------------------------------------------------- */

struct result {
	const char *name;
	double tw_ns, ref_ns;
	uint64_t events, lost;
	int info; /* extra row, not one of (a)-(d) */
};

static void measure(struct result *r, const struct frame *f, uint32_t total, uint32_t batch, int drain)
{
	double a[ROUNDS], b[ROUNDS];
	uint64_t c0[TW_CNT_MAX], c1[TW_CNT_MAX];
	int tfd = tw_fd, rfd = ref_fd;

	ring_buffer__consume(rb);
	counters(c0);
	for (int i = 0; i < ROUNDS; i++) {
		/* alternate the order so neither program always runs warm */
		if (i & 1) {
			b[i] = run(rfd, f->b, f->len, total, batch, 0);
			a[i] = run(tfd, f->b, f->len, total, batch, drain);
		} else {
			a[i] = run(tfd, f->b, f->len, total, batch, drain);
			b[i] = run(rfd, f->b, f->len, total, batch, 0);
		}
		if (!drain)
			ring_buffer__consume(rb); /* between rounds: next round starts empty */
	}
	counters(c1);
	ring_buffer__consume(rb);
	r->tw_ns = median(a, ROUNDS);
	r->ref_ns = median(b, ROUNDS);
	r->events = c1[TW_CNT_EVENTS] - c0[TW_CNT_EVENTS];
	r->lost = c1[TW_CNT_EVENTS_LOST] - c0[TW_CNT_EVENTS_LOST];
}

/* repeat = 1 per distinct new flow: the kernel timer brackets each single
 * run, so both columns include one clock read of the test-run harness */
static void measure_new_flows(struct result *r, uint32_t nflows)
{
	int tfd = tw_fd, rfd = ref_fd;
	double a[ROUNDS], b[ROUNDS];
	struct frame f;

	for (int i = 0; i < ROUNDS; i++) {
		double sa = 0, sb = 0;
		for (uint32_t j = 0; j < nflows; j++) {
			uint16_t port = (uint16_t)(20000 + (j % 40000));
			/* a different server address per round keeps every flow new */
			uint8_t srv[4] = { 198, 18, (uint8_t)i, (uint8_t)(j / 40000) };
			mk(&f, 1, srv, port, 443, TW_TCP_SYN, 7000 + j, 0, 0, 1);
			sa += run(tfd, f.b, f.len, 1, 1, 0);
			sb += run(rfd, f.b, f.len, 1, 1, 0);
		}
		a[i] = sa / nflows;
		b[i] = sb / nflows;
	}
	r->tw_ns = median(a, ROUNDS);
	r->ref_ns = median(b, ROUNDS);
}

/* Open and load one object; set the const volatile __u32 variables
 * vars[0..nvars) in its .rodata to vals first (found through BTF).  Exits 77 if
 * the kernel cannot take it. */
static struct bpf_object *open_obj(const char *path, int nvars, const char *const *vars, const uint32_t *vals)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	if (!obj) {
		printf("SKIP: cannot open %s: %s (run make first)\n", path, strerror(errno));
		exit(77);
	}
	struct bpf_map *m;
	int done = 0;
	uint8_t data[4096];
	bpf_object__for_each_map(m, obj)
	{
		const char *n = bpf_map__name(m);
		size_t nl = strlen(n);
		if (nl < 7 || strcmp(n + nl - 7, ".rodata") != 0)
			continue;
		struct btf *btf = bpf_object__btf(obj);
		int id = btf ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -1;
		size_t sz = 0;
		const void *init = bpf_map__initial_value(m, &sz);
		if (id < 0 || !init || sz > sizeof(data))
			break;
		memcpy(data, init, sz);
		const struct btf_type *t = btf__type_by_id(btf, (__u32)id);
		for (int v = 0; v < nvars; v++) {
			const struct btf_var_secinfo *vs = btf_var_secinfos(t);
			for (int i = 0; i < btf_vlen(t); i++, vs++) {
				const struct btf_type *vt = btf__type_by_id(btf, vs->type);
				if (strcmp(btf__name_by_offset(btf, vt->name_off), vars[v]) == 0 && vs->size == 4 &&
				    vs->offset + 4 <= sz) {
					memcpy(data + vs->offset, &vals[v], 4);
					done++;
				}
			}
		}
		if (done == nvars && bpf_map__set_initial_value(m, data, sz) != 0)
			done = 0;
	}
	if (done != nvars) {
		printf("BUG: %s: not every one of %d 4-byte .rodata variables found (%s ...)\n", path, nvars, vars[0]);
		exit(1);
	}
	if (bpf_object__load(obj)) {
		printf("SKIP: cannot load %s into this kernel: %s\n", path, strerror(errno));
		exit(77);
	}
	return obj;
}

int main(void)
{
	if (geteuid() != 0) {
		printf("SKIP: not root: BPF_PROG_TEST_RUN of XDP programs needs CAP_BPF/CAP_NET_ADMIN\n");
		return 77;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		printf("SKIP: kernel has no BTF (/sys/kernel/btf/vmlinux missing)\n");
		return 77;
	}
	libbpf_set_print(quiet);
	ncpu = libbpf_num_possible_cpus();

	/* one CPU for the whole run: per-CPU state and caches stay put */
	int cpu = sched_getcpu();
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu < 0 ? 0 : cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);

	char dir[PATH_MAX], path[PATH_MAX + 64];
	ssize_t dl = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	if (dl <= 0) {
		printf("cannot find my own path: %s\n", strerror(errno));
		return 1;
	}
	dir[dl] = 0;
	*strrchr(dir, '/') = 0; /* build/bench */

	/* LIVE mode: tw_cfg_replay stays 0, the kernel clocks, as attached */
	snprintf(path, sizeof(path), "%s/../bpf/tamperwatch.bpf.o", dir);
	static const char *const live_vars[] = { "tw_cfg_replay" },
	                         *const pfx_vars[] = { "tw_cfg_replay", "tw_cfg_pfx_on" },
	                         *const ref_vars[] = { "bench_ref_armed" };
	static const uint32_t live_vals[] = { 0 }, pfx_vals[] = { 0, 1 }, ref_vals[] = { 1 };
	tw = open_obj(path, 1, live_vars, live_vals);
	/* the same program with shutdown detection's per-prefix counting on,
	 * the client's network (10.0.0.0/8) among the client networks */
	twp = open_obj(path, 2, pfx_vars, pfx_vals);
	snprintf(path, sizeof(path), "%s/../bpf/bench_ref.bpf.o", dir);
	ref = open_obj(path, 1, ref_vars, ref_vals);
	tw_fd = bpf_program__fd(bpf_object__find_program_by_name(tw, "tw_xdp"));
	twp_fd = bpf_program__fd(bpf_object__find_program_by_name(twp, "tw_xdp"));
	struct tw_lpm_key net = { .prefixlen = 8 + 8, .data = { TW_FAMILY_IPV4, 10 } };
	__u32 one = 1;
	if (twp_fd < 0 || bpf_map_update_elem(bpf_object__find_map_fd_by_name(twp, "tw_client_nets"), &net, &one, 0)) {
		printf("BUG: prefix-counting program or its client networks map: %s\n", strerror(errno));
		return 1;
	}
	ref_fd = bpf_program__fd(bpf_object__find_program_by_name(ref, "bench_ref_xdp"));
	flows_fd = bpf_object__find_map_fd_by_name(tw, "tw_flows");
	stats_fd = bpf_object__find_map_fd_by_name(tw, "tw_stats");
	events_fd = bpf_object__find_map_fd_by_name(tw, "tw_events");
	if (tw_fd < 0 || ref_fd < 0 || flows_fd < 0 || stats_fd < 0 || events_fd < 0) {
		printf("BUG: a program or map is missing from the objects\n");
		return 1;
	}
	rb = ring_buffer__new(events_fd, on_event, NULL, NULL);
	if (!rb) {
		printf("cannot set up the ring buffer: %s\n", strerror(errno));
		return 1;
	}
	int tfd = tw_fd, rfd = ref_fd;

	/* --- (a) established flow, both sides' payload seen ---------------- */
	struct frame syn, synack, ack, cdata, sdata, steady;
	const uint32_t ci = 1000, si = 50000;
	mk(&syn, 1, SRV4, 40000, 443, TW_TCP_SYN, ci, 0, 0, 1);
	mk(&synack, 0, SRV4, 40000, 443, TW_TCP_SYN | TW_TCP_ACK, si, ci + 1, 0, 1);
	mk(&ack, 1, SRV4, 40000, 443, TW_TCP_ACK, ci + 1, si + 1, 0, 0);
	mk(&cdata, 1, SRV4, 40000, 443, TW_TCP_PSH | TW_TCP_ACK, ci + 1, si + 1, 517, 0);
	mk(&sdata, 0, SRV4, 40000, 443, TW_TCP_PSH | TW_TCP_ACK, si + 1, ci + 518, 1460, 0);
	mk(&steady, 0, SRV4, 40000, 443, TW_TCP_ACK, si + 1461, ci + 518, 1460, 0);
	const struct frame *prime_a[] = { &syn, &synack, &ack, &cdata, &sdata };
	for (size_t i = 0; i < sizeof(prime_a) / sizeof(prime_a[0]); i++) {
		once(tfd, prime_a[i]->b, prime_a[i]->len);
		once(twp_fd, prime_a[i]->b, prime_a[i]->len);
		once(rfd, prime_a[i]->b, prime_a[i]->len);
	}
	struct tw_flow fa;
	int steady_ok =
	        flow_of(&steady, &fa) == 0 && fa.state == TW_TCP_ESTABLISHED &&
	        (fa.flags & (TW_FLOW_CLIENT_DATA | TW_FLOW_SERVER_DATA)) == (TW_FLOW_CLIENT_DATA | TW_FLOW_SERVER_DATA);

	/* --- (a) again, every packet with TCP timestamps (the RTT probe) --- */
	struct frame t_f[5], steady_ts;
	mk_ts = 1;
	mk(&t_f[0], 1, SRV4, 40003, 443, TW_TCP_SYN, ci, 0, 0, 1);
	mk(&t_f[1], 0, SRV4, 40003, 443, TW_TCP_SYN | TW_TCP_ACK, si, ci + 1, 0, 1);
	mk(&t_f[2], 1, SRV4, 40003, 443, TW_TCP_ACK, ci + 1, si + 1, 0, 0);
	mk(&t_f[3], 1, SRV4, 40003, 443, TW_TCP_PSH | TW_TCP_ACK, ci + 1, si + 1, 517, 0);
	mk(&t_f[4], 0, SRV4, 40003, 443, TW_TCP_PSH | TW_TCP_ACK, si + 1, ci + 518, 1460, 0);
	mk(&steady_ts, 0, SRV4, 40003, 443, TW_TCP_ACK, si + 1461, ci + 518, 1460, 0);
	mk_ts = 0;
	for (size_t i = 0; i < 5; i++) {
		once(tfd, t_f[i].b, t_f[i].len);
		once(rfd, t_f[i].b, t_f[i].len);
	}

	/* --- (b) SYN of an existing flow ----------------------------------- */
	struct frame syn_b;
	mk(&syn_b, 1, SRV4, 40001, 443, TW_TCP_SYN, 3000, 0, 0, 1);
	once(tfd, syn_b.b, syn_b.len);
	once(rfd, syn_b.b, syn_b.len);

	/* --- (c) RST from the server side after the client's first payload - */
	struct frame c_syn, c_synack, c_ack, c_data, rst;
	mk(&c_syn, 1, SRV4, 40002, 443, TW_TCP_SYN, ci, 0, 0, 1);
	mk(&c_synack, 0, SRV4, 40002, 443, TW_TCP_SYN | TW_TCP_ACK, si, ci + 1, 0, 1);
	mk(&c_ack, 1, SRV4, 40002, 443, TW_TCP_ACK, ci + 1, si + 1, 0, 0);
	mk(&c_data, 1, SRV4, 40002, 443, TW_TCP_PSH | TW_TCP_ACK, ci + 1, si + 1, 517, 0);
	mk(&rst, 0, SRV4, 40002, 443, TW_TCP_RST | TW_TCP_ACK, si + 1, ci + 518, 0, 0);
	const struct frame *prime_c[] = { &c_syn, &c_synack, &c_ack, &c_data };
	for (size_t i = 0; i < sizeof(prime_c) / sizeof(prime_c[0]); i++) {
		once(tfd, prime_c[i]->b, prime_c[i]->len);
		once(rfd, prime_c[i]->b, prime_c[i]->len);
	}

	/* --- (d) DNS response, query seen first ---------------------------- */
	struct frame dq, dr;
	mk_dns(&dq, 1, 53001, 0x1234);
	mk_dns(&dr, 0, 53001, 0x1234);
	once(tfd, dq.b, dq.len);
	once(rfd, dq.b, dq.len);
	ring_buffer__consume(rb);

	/* events per batch: what fits the 8 MiB ring buffer with room to spare
	 * (RST and DNS events reserve the fixed part + TW_SNIPPET_MAX) */
	size_t rec = (sizeof(struct tw_event) + TW_SNIPPET_MAX + 8 + 7) & ~(size_t)7;
	uint32_t batch =
	        (uint32_t)((bpf_map__max_entries(bpf_object__find_map_by_name(tw, "tw_events")) * 3 / 4) / rec);

	struct result res[12];
	int nres = 0;
	memset(res, 0, sizeof(res));
	uint64_t c0[TW_CNT_MAX];
	counters(c0);
	/* BENCH_XDP_CASES=acd (say) runs only those rows (a-d, e-f: ring full,
	 * g: new flows, h: (a) with per-prefix counting, k: (a) with TCP
	 * timestamps); for perf record of one path.  Default: all. */
	const char *only = getenv("BENCH_XDP_CASES");
#define WANT(c) (!only || strchr(only, (c)))
	if (WANT('a')) {
		res[nres].name = "(a) TCP data, established (steady)";
		measure(&res[nres++], &steady, REPEAT, REPEAT, 0);
	}
	if (WANT('b')) {
		res[nres].name = "(b) SYN (of an existing flow)";
		measure(&res[nres++], &syn_b, REPEAT, REPEAT, 0);
	}
	if (WANT('c')) {
		res[nres].name = "(c) RST|ACK (1 event/run, drained)";
		measure(&res[nres++], &rst, REPEAT, batch, 1);
	}
	if (WANT('d')) {
		res[nres].name = "(d) DNS response (1 event/run, drained)";
		measure(&res[nres++], &dr, REPEAT, batch, 1);
	}
	if (WANT('e')) {
		res[nres].name = "    RST, ring buffer full (events lost)";
		res[nres].info = 1;
		measure(&res[nres++], &rst, REPEAT, REPEAT, 0);
	}
	if (WANT('f')) {
		res[nres].name = "    DNS resp., ring full (events lost)";
		res[nres].info = 1;
		measure(&res[nres++], &dr, REPEAT, REPEAT, 0);
	}
	if (WANT('h')) {
		/* shutdown.enabled: one LPM lookup and one per-CPU hash update
		 * per packet toward a client; compare with row (a) */
		res[nres].name = "    (a) with per-prefix counting on";
		res[nres].info = 1;
		tw_fd = twp_fd;
		measure(&res[nres++], &steady, REPEAT, REPEAT, 0);
		tw_fd = tfd;
	}
	if (WANT('k')) {
		/* the pping probe's compares on every packet; compare with row (a) */
		res[nres].name = "    (a) with TCP timestamps";
		res[nres].info = 1;
		measure(&res[nres++], &steady_ts, REPEAT, REPEAT, 0);
	}
	if (WANT('g')) {
		res[nres].name = "    SYN, new flow (repeat=1 x 20000)";
		res[nres].info = 1;
		measure_new_flows(&res[nres++], 20000);
	}

	struct utsname_ {
		char s[256];
	} kv = { "" };
	FILE *fp = fopen("/proc/sys/kernel/osrelease", "r");
	if (fp) {
		if (!fgets(kv.s, sizeof(kv.s), fp))
			kv.s[0] = 0;
		kv.s[strcspn(kv.s, "\n")] = 0;
		fclose(fp);
	}
	printf("bench_xdp: tw_xdp (LIVE mode: kernel clocks) vs bench_ref_xdp (parse + 1 LRU lookup + 1 update)\n");
	printf("BPF_PROG_TEST_RUN, kernel-measured ns/run (opts.duration), %u runs per measurement,\n"
	       "median of %d; kernel %s; pinned to CPU %d\n\n",
	       REPEAT, ROUNDS, kv.s, cpu);
	printf("%-42s %12s %12s %7s %10s %10s\n", "case", "tamperwatch", "reference", "ratio", "events", "lost");
	for (int i = 0; i < nres; i++) {
		if (res[i].info && (i == 0 || !res[i - 1].info))
			printf("  extra rows, for context:\n");
		printf("%-42s %12.1f %12.1f %7.2f", res[i].name, res[i].tw_ns, res[i].ref_ns,
		       res[i].ref_ns > 0 ? res[i].tw_ns / res[i].ref_ns : 0.0);
		if (res[i].events || res[i].lost)
			printf(" %10llu %10llu\n", (unsigned long long)res[i].events, (unsigned long long)res[i].lost);
		else
			printf(" %10s %10s\n", "0", "0");
	}
	printf("\nnotes:\n"
	       "  (a) flow state before the run: %s (state %u, flags 0x%x): %s\n"
	       "  (b) a repeated test run cannot make a new flow each time: every run after the\n"
	       "      first is a SYN of an existing flow (retransmitted SYN: options parsed,\n"
	       "      precise clock, no event); the 'new flow' row times distinct flows one\n"
	       "      run each (both columns then include the harness's own clock reads)\n"
	       "  (c)(d) ring buffer drained between batches of %u runs (outside the timed\n"
	       "      region), so each run pays reserve + fill + snippet + submit; 'lost' is\n"
	       "      the events the program could not reserve; the 'ring full' rows let it\n"
	       "      fill up and measure the lost-event path\n",
	       steady_ok ? "ESTABLISHED, both payload flags" : "NOT steady", fa.state, fa.flags,
	       steady_ok ? "steady-state path (coarse clock)" : "WARNING: steady-state path not taken", batch);
	printf("  events by type seen by the consumer:");
	static const char *const evn[TW_EV_TYPE_MAX + 1] = {
		"?",         "handshake",    "client_data", "server_data", "rst", "fin", "data_after_rst",
		"dns_query", "dns_response", "flow_end",    "malformed"
	};
	for (int t = 1; t <= TW_EV_TYPE_MAX; t++)
		if (ev_seen[t])
			printf(" %s=%llu", evn[t], (unsigned long long)ev_seen[t]);
	printf("\n\n");
	if (only && !strchr(only, 'a')) {
		printf("case (a) not run (BENCH_XDP_CASES=%s): target not evaluated\n", only);
		return 0;
	}
	double ra = res[0].tw_ns / res[0].ref_ns;
	printf("target (a): tamperwatch/reference <= %.1f: ratio %.2f: %s\n", TARGET_RATIO, ra,
	       steady_ok && ra <= TARGET_RATIO ? "TARGET MET" : "TARGET MISSED");

	ring_buffer__free(rb);
	bpf_object__close(ref);
	bpf_object__close(twp);
	bpf_object__close(tw);
	return 0;
}
