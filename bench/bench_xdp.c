/* bench_xdp: nanoseconds per packet of the real programs (tw_xdp and tw_tc,
 * LIVE mode: tw_cfg_replay = 0, so they read the kernel clocks exactly as
 * when attached) beside the reference programs of bpf/bench_ref.bpf.c, all
 * driven by BPF_PROG_TEST_RUN on the same frames in the same run.  The time
 * is the kernel's own (opts.duration: average ns per run over opts.repeat
 * runs); TC programs run on an skb built from the frame.
 *
 * The reference of every ratio is the in-place minimal flow tracker
 * (issue 16): parse, one LRU-hash lookup by the 4-tuple key, packet and byte
 * counters and a bpf_ktime_get_ns() timestamp updated in place, an insert
 * only on a miss; its XDP build is the baseline of tw_xdp, its TC build of
 * tw_tc.  The older reference (one bpf_map_update_elem() per packet) is a
 * second column, for context.
 *
 * Cases, each on its own flow, primed first:
 *   (a) TCP data packet of an established flow whose both sides have sent
 *       payload: the steady-state path (coarse clock, no event).
 *   (b) SYN of an existing flow: repeat runs the same frame, so every run
 *       after the first is a retransmitted SYN (options parsed, precise
 *       clock); stands for the handshake packets of flows already tracked.
 *   (c) RST|ACK from the server after the client's first payload: one
 *       ring-buffer event per run.
 *   (q) DNS query: one event with a payload snippet per run.
 *   (d) DNS response, query seen first: one event with a snippet per run.
 *   (g) SYN of a new flow: one test run per distinct flow (repeat = 1), the
 *       same frames through an empty program of the same hook subtracted,
 *       so the harness's own clock reads are not counted; the flows made are
 *       deleted afterwards (outside the timing) so the table's fill stays.
 * The event cases run in batches small enough for the 8 MiB ring buffer and
 * the buffer is drained between batches (outside the timed region), so every
 * run pays for a real reservation, fill and submit; events lost are printed.
 *
 * Mix: per 1000 packets 880 (a), 20 (b), 10 (c), 35 (q), 35 (d), 20 (g):
 * mostly data packets of established flows, a new flow every 50 packets
 * with its handshake, DNS lookups, some resets.  Its cost is the weighted
 * mean of the cases' costs (a test run repeats one frame; it cannot replay
 * a stream), for each program and each reference alike.
 *
 * Every case is measured with 1 (the few primed flows), 100 k and 2 M
 * flows of established TCP connections loaded into the program's and the
 * references' tables (all sized FLOWS_CAP), and the kernel memory per
 * tracked flow is read from the map's own accounting (fdinfo memlock, the
 * elements with their hash-table and LRU overhead, and the buckets) and
 * cross-checked against /proc/meminfo around a fresh map.
 *
 * Each measurement is taken ROUNDS times, programs in rotating order,
 * median reported.  Exit 0 always (77 if BPF cannot be loaded here);
 * "TARGET MET" / "TARGET MISSED" per target.  The figures also go to
 * build/bench/bench_xdp.results (JSON lines; bench/results.sh gathers them
 * into bench/results.json). */
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
#include <tamperwatch/maps.h>
#include <bpf/btf.h>
#include <limits.h>
#include <time.h>
#include "pktbuild.h"

#define ROUNDS 5
#define REPEAT 1000000u
#define NEW_FLOWS 4000u
/* 2 Mi: room for the 2 M fill and the new flows, and a power of two as the
 * default flows.max is (buckets are one: no spare ones to pay for) */
#define FLOWS_CAP (2097152u)
#define FLOWS6_CAP (FLOWS_CAP / TW_FLOWS6_SHARE) /* tw_flows6: flows.max_ipv6 unset */
#define TARGET_RATIO 1.3
#define TARGET_BYTES 256.0
#define XDP_PASS_ 2

enum prog { TW_X, TW_T, REF_X, REF_T, UPD_X, NPROG };
static const char *const prog_col[NPROG] = { "tw_xdp", "tw_tc", "ref_xdp", "ref_tc", "upd_xdp" };
static const uint32_t prog_pass[NPROG] = { XDP_PASS_, 0, XDP_PASS_, 0, XDP_PASS_ };
static const int prog_is_tw[NPROG] = { 1, 1, 0, 0, 0 };

/* The objects are opened from build/bpf/ (next to this binary's directory)
 * rather than through the generated skeletons: make treats build/NAME.skel.h
 * as intermediate files and deletes them after the run that made them. */
static struct bpf_object *tw, *twp, *ref, *empty;
static int pfd[NPROG], empty_fd[NPROG], flows_fd[NPROG], stats_fd, events_fd;
static struct ring_buffer *rb;
static int ncpu;
static uint64_t ev_seen[TW_EV_TYPE_MAX + 1];
static FILE *results;

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
	struct tw_counters *v = calloc((size_t)ncpu, sizeof(*v));
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

/* total runs of a program on frame, in batches of `batch` (drain between
 * them when drain is set); returns the kernel's average ns per run */
static double run(int fd, uint32_t pass, const uint8_t *frame, size_t len, uint32_t total, uint32_t batch, int drain)
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
		if (o.retval != pass) {
			printf("BUG: program returned %u, not %u (pass)\n", o.retval, pass);
			exit(1);
		}
		sum += (double)o.duration * n;
		done += n;
		if (drain)
			ring_buffer__consume(rb);
	}
	return sum / total;
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

/* one figure for bench/results.json */
static void result(const char *figure, const char *workload, double value, const char *unit, double baseline,
                   double target, int lower_is_better)
{
	double ratio = baseline > 0 ? value / baseline : 0;
	double judged = baseline > 0 ? ratio : value;
	int met = lower_is_better ? judged <= target : judged >= target;
	if (!results)
		return;
	fprintf(results,
	        "{\"figure\":\"%s\",\"workload\":\"%s\",\"value\":%.1f,\"unit\":\"%s\",\"baseline\":%.1f,"
	        "\"ratio\":%.3f,\"target\":\"%s %.2f\",\"met\":%s}\n",
	        figure, workload, value, unit, baseline, ratio, lower_is_better ? "<=" : ">=", target,
	        met ? "true" : "false");
}
struct frame {
	uint8_t b[2048];
	size_t len;
};

static const uint8_t CLI4[4] = { 10, 1, 2, 3 };
static const uint8_t SRV4[4] = { 93, 184, 216, 34 };
static const uint8_t DNS4[4] = { 9, 9, 9, 9 };

static void mk(struct frame *f, int c2s, const uint8_t *srv, uint16_t cport, uint16_t sport, uint8_t flags,
               uint32_t seq, uint32_t ack, size_t plen, int syn_opts)
{
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

static int key_of(const struct frame *fr, struct tw_flow_key *k)
{
	struct tw_pkt p;
	memset(&p, 0, sizeof(p));
	memset(k, 0, sizeof(*k));
	if (tw_parse(fr->b, fr->b + fr->len, &p) != TW_PARSE_OK)
		return -1;
	return tw_flow_key_make(&p, k);
}

/* the key tw_flows4 holds the frame's flow under (every frame here is IPv4) */
static int key4_of(const struct frame *fr, struct tw_flow_key4 *k)
{
	struct tw_pkt p;
	memset(&p, 0, sizeof(p));
	memset(k, 0, sizeof(*k));
	if (tw_parse(fr->b, fr->b + fr->len, &p) != TW_PARSE_OK || p.family != TW_FAMILY_IPV4)
		return -1;
	return tw_flow_key4_make(&p, k);
}

static int flow_of(const struct frame *fr, struct tw_flow *out)
{
	struct tw_flow_key4 k;
	if (key4_of(fr, &k) < 0)
		return -1;
	return bpf_map_lookup_elem(flows_fd[TW_X], &k, out);
}

/* ---- cases ----------------------------------------------------------- */

struct result {
	const char *name;
	char id;
	double ns[NPROG];
	uint64_t events, lost;
};

static void measure(struct result *r, const struct frame *f, uint32_t total, uint32_t batch, int drain)
{
	double t[NPROG][ROUNDS];
	uint64_t c0[TW_CNT_MAX], c1[TW_CNT_MAX];

	ring_buffer__consume(rb);
	counters(c0);
	for (int i = 0; i < ROUNDS; i++) {
		/* rotate the order so no program always runs warm */
		for (int j = 0; j < NPROG; j++) {
			int p = (i + j) % NPROG;
			int d = drain && prog_is_tw[p];
			t[p][i] = run(pfd[p], prog_pass[p], f->b, f->len, total, d ? batch : total, d);
		}
		if (!drain)
			ring_buffer__consume(rb); /* between rounds: next round starts empty */
	}
	counters(c1);
	ring_buffer__consume(rb);
	for (int p = 0; p < NPROG; p++)
		r->ns[p] = median(t[p], ROUNDS);
	r->events = c1[TW_CNT_EVENTS] - c0[TW_CNT_EVENTS];
	r->lost = c1[TW_CNT_EVENTS_LOST] - c0[TW_CNT_EVENTS_LOST];
}

/* (g): one run per distinct new flow, minus the empty program of the same
 * hook on the same frame; tag keeps every call's flows apart.  The flows
 * made are deleted afterwards so the table keeps the fill under test. */
static void measure_new_flows(struct result *r, uint32_t nflows, int tag)
{
	double t[NPROG][ROUNDS];
	struct frame f;
	struct tw_flow_key k;
	struct tw_flow_key4 k4;

	for (int i = 0; i < ROUNDS; i++) {
		for (int p = 0; p < NPROG; p++) {
			double s = 0;
			for (uint32_t j = 0; j < nflows; j++) {
				uint8_t srv[4] = { (uint8_t)(100 + tag), (uint8_t)(p * ROUNDS + i), (uint8_t)(j >> 8),
					           (uint8_t)j };
				mk(&f, 1, srv, 41000, 443, TW_TCP_SYN, 7000 + j, 0, 0, 1);
				double e = run(empty_fd[p], prog_pass[p], f.b, f.len, 1, 1, 0);
				s += run(pfd[p], prog_pass[p], f.b, f.len, 1, 1, 0) - e;
			}
			t[p][i] = s / nflows;
		}
	}
	for (int p = 0; p < NPROG; p++)
		r->ns[p] = median(t[p], ROUNDS);
	for (int i = 0; i < ROUNDS; i++)
		for (int p = 0; p < NPROG; p++)
			for (uint32_t j = 0; j < nflows; j++) {
				uint8_t srv[4] = { (uint8_t)(100 + tag), (uint8_t)(p * ROUNDS + i), (uint8_t)(j >> 8),
					           (uint8_t)j };
				mk(&f, 1, srv, 41000, 443, TW_TCP_SYN, 7000 + j, 0, 0, 1);
				/* ENOENT if evicted: fine */
				if (prog_is_tw[p]) {
					key4_of(&f, &k4);
					bpf_map_delete_elem(flows_fd[p], &k4);
				} else {
					key_of(&f, &k);
					bpf_map_delete_elem(flows_fd[p], &k);
				}
			}
}

/* ---- table fill -------------------------------------------------------- */

struct ref_inplace_val {
	__u64 packets, bytes, last_ns;
};
struct ref_update_val {
	__u64 packets, bytes;
};

/* Load established TCP flows (client 11.x.y.z:50000 <-> 203.0.113.7:443)
 * into every program's table until each holds `upto` of them. */
static void fill(uint32_t upto)
{
	static uint32_t filled;
	enum { B = 8192 };
	static struct tw_flow_key keys[B];
	static struct tw_flow_key4 keys4[B];
	static struct tw_flow tv[B];
	static struct ref_inplace_val iv[B];
	static struct ref_update_val uv[B];
	static const uint8_t srv[4] = { 203, 0, 113, 7 };
	struct frame f;

	while (filled < upto) {
		uint32_t n = upto - filled < B ? upto - filled : B;
		for (uint32_t j = 0; j < n; j++) {
			uint32_t id = filled + j;
			struct pb_pkt p = {
				.family = 4,
				.l4 = 6,
				.sport = 50000,
				.dport = 443,
				.flags = TW_TCP_ACK,
				.payload_len = 100,
				.src = { 11, (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id },
			};
			memcpy(p.dst, srv, 4);
			f.len = pb_build(&p, f.b, sizeof(f.b));
			int src_is_b = key_of(&f, &keys[j]);
			key4_of(&f, &keys4[j]);
			memset(&tv[j], 0, sizeof(tv[j]));
			tv[j].flow_id = 10000000ull + id;
			tv[j].state = TW_TCP_ESTABLISHED;
			tv[j].flags = TW_FLOW_CLIENT_DATA | TW_FLOW_SERVER_DATA;
			tv[j].client_is_b = (uint8_t)(src_is_b > 0);
			tv[j].dir[0].packets = tv[j].dir[1].packets = 10;
			iv[j] = (struct ref_inplace_val){ 20, 20000, 1 };
			uv[j] = (struct ref_update_val){ 20, 20000 };
		}
		const void *vals[NPROG] = { tv, tv, iv, iv, uv };
		for (int p = 0; p < NPROG; p++) {
			if (p == TW_T || p == REF_T)
				continue; /* the TC builds share their XDP twin's table */
			__u32 cnt = n;
			const void *kp = prog_is_tw[p] ? (const void *)keys4 : (const void *)keys;
			if (bpf_map_update_batch(flows_fd[p], kp, vals[p], &cnt, NULL) || cnt != n) {
				printf("cannot fill %s's table (%u of %u at %u): %s\n", prog_col[p], cnt, n, filled,
				       strerror(errno));
				exit(1);
			}
		}
		filled += n;
	}
}

/* ---- memory per flow --------------------------------------------------- */

static unsigned long long fd_memlock(int fd)
{
	char path[64], line[256];
	unsigned long long v = 0;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	FILE *fp = fopen(path, "r");
	if (!fp)
		return 0;
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(fp);
	return v;
}

/* kernel memory that a BPF map's allocation can land in, in bytes */
static long long kernel_mem(void)
{
	static const char *const fields[] = { "Slab:", "VmallocUsed:", "Percpu:", "PageTables:" };
	char line[256];
	long long sum = 0, v;
	FILE *fp = fopen("/proc/meminfo", "r");
	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp))
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			size_t l = strlen(fields[i]);
			if (strncmp(line, fields[i], l) == 0 && sscanf(line + l, "%lld", &v) == 1)
				sum += v * 1024;
		}
	fclose(fp);
	return sum;
}

/* a fresh IPv4 flow map of n entries, the way tw_flows4 is made: the rise of
 * the kernel's own memory counters (other processes make this noisy: median
 * of 3) */
static double meminfo_per_flow(uint32_t n)
{
	double v[3];
	for (int i = 0; i < 3; i++) {
		long long a = kernel_mem();
		int fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "bench_mem", sizeof(struct tw_flow_key4),
		                        sizeof(struct tw_flow), n, NULL);
		long long b = kernel_mem();
		if (fd < 0 || a < 0 || b < 0)
			return 0;
		close(fd);
		v[i] = (double)(b - a) / n;
		usleep(200000); /* the map is freed from a work queue */
	}
	return median(v, 3);
}
/* fdinfo memlock per entry of a fresh flow map of n entries under keys of
 * key_size bytes, made the way tw_flows4 / tw_flows6 are */
static double fresh_memlock_per_flow(uint32_t n, uint32_t key_size)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "bench_mem", key_size, sizeof(struct tw_flow), n, NULL);
	if (fd < 0)
		return 0;
	double v = (double)fd_memlock(fd) / n;
	close(fd);
	return v;
}

/* Open and load one object; set the const volatile __u32 variables
 * vars[0..nvars) in its .rodata to vals first (found through BTF), and every
 * LRU-hash map in it to FLOWS_CAP entries (the flow tables: the program's
 * IPv4 one and the references' are the same size; tw_flows6, which no frame
 * here reaches, FLOWS6_CAP).  Exits 77 if the kernel cannot take it. */
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
	bpf_object__for_each_map(m, obj)
	{
		uint32_t cap = strcmp(bpf_map__name(m), "tw_flows6") == 0 ? FLOWS6_CAP : FLOWS_CAP;
		if (bpf_map__type(m) == BPF_MAP_TYPE_LRU_HASH && bpf_map__set_max_entries(m, cap)) {
			printf("BUG: %s: cannot size %s to %u entries\n", path, bpf_map__name(m), cap);
			exit(1);
		}
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

/* ---- report -------------------------------------------------------------- */

static void print_head(void)
{
	printf("%-40s", "case (ns per packet)");
	for (int p = 0; p < NPROG; p++)
		printf(" %8s", prog_col[p]);
	printf(" %7s %7s %9s %8s\n", "xdp/ref", "tc/ref", "events", "lost");
}

static void print_row(const struct result *r)
{
	printf("%-40s", r->name);
	for (int p = 0; p < NPROG; p++)
		printf(" %8.1f", r->ns[p]);
	printf(" %7.2f %7.2f %9llu %8llu\n", r->ns[REF_X] > 0 ? r->ns[TW_X] / r->ns[REF_X] : 0,
	       r->ns[REF_T] > 0 ? r->ns[TW_T] / r->ns[REF_T] : 0, (unsigned long long)r->events,
	       (unsigned long long)r->lost);
}

static const struct {
	char id;
	int permille;
} MIX[] = { { 'a', 880 }, { 'b', 20 }, { 'c', 10 }, { 'q', 35 }, { 'd', 35 }, { 'g', 20 } };
#define NMIX (sizeof(MIX) / sizeof(MIX[0]))

struct level {
	uint32_t flows;
	const char *label;
	struct result r[NMIX];
	double mix[NPROG];
};

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
	snprintf(path, sizeof(path), "%s/bench_xdp.results", dir);
	results = fopen(path, "w");

	/* LIVE mode: tw_cfg_replay stays 0, the kernel clocks, as attached */
	snprintf(path, sizeof(path), "%s/../bpf/tamperwatch.bpf.o", dir);
	static const char *const live_vars[] = { "tw_cfg_replay" },
	                         *const pfx_vars[] = { "tw_cfg_replay", "tw_cfg_pfx_on" },
	                         *const ref_vars[] = { "bench_ref_armed" };
	static const uint32_t live_vals[] = { 0 }, pfx_vals[] = { 0, 1 }, ref_vals[] = { 1 };
	tw = open_obj(path, 1, live_vars, live_vals);
	/* the same programs with shutdown detection's per-prefix counting on,
	 * the client's network (10.0.0.0/8) among the client networks */
	twp = open_obj(path, 2, pfx_vars, pfx_vals);
	snprintf(path, sizeof(path), "%s/../bpf/bench_ref.bpf.o", dir);
	ref = open_obj(path, 1, ref_vars, ref_vals);
	snprintf(path, sizeof(path), "%s/../bpf/bench_empty.bpf.o", dir);
	empty = open_obj(path, 0, NULL, NULL);
	pfd[TW_X] = bpf_program__fd(bpf_object__find_program_by_name(tw, "tw_xdp"));
	pfd[TW_T] = bpf_program__fd(bpf_object__find_program_by_name(tw, "tw_tc"));
	pfd[REF_X] = bpf_program__fd(bpf_object__find_program_by_name(ref, "bench_ref_inplace_xdp"));
	pfd[REF_T] = bpf_program__fd(bpf_object__find_program_by_name(ref, "bench_ref_inplace_tc"));
	pfd[UPD_X] = bpf_program__fd(bpf_object__find_program_by_name(ref, "bench_ref_xdp"));
	int twp_x = bpf_program__fd(bpf_object__find_program_by_name(twp, "tw_xdp"));
	int twp_t = bpf_program__fd(bpf_object__find_program_by_name(twp, "tw_tc"));
	int ex = bpf_program__fd(bpf_object__find_program_by_name(empty, "bench_empty_xdp"));
	int et = bpf_program__fd(bpf_object__find_program_by_name(empty, "bench_empty_tc"));
	for (int p = 0; p < NPROG; p++)
		empty_fd[p] = prog_pass[p] == XDP_PASS_ ? ex : et;
	flows_fd[TW_X] = flows_fd[TW_T] = bpf_object__find_map_fd_by_name(tw, "tw_flows4");
	int flows6_fd = bpf_object__find_map_fd_by_name(tw, "tw_flows6");
	flows_fd[REF_X] = flows_fd[REF_T] = bpf_object__find_map_fd_by_name(ref, "bench_ref_inplace_flows");
	flows_fd[UPD_X] = bpf_object__find_map_fd_by_name(ref, "bench_ref_flows");
	stats_fd = bpf_object__find_map_fd_by_name(tw, "tw_stats");
	events_fd = bpf_object__find_map_fd_by_name(tw, "tw_events");
	struct tw_lpm_key net = { .prefixlen = 8 + 8, .data = { TW_FAMILY_IPV4, 10 } };
	__u32 one = 1;
	if (twp_x < 0 || twp_t < 0 ||
	    bpf_map_update_elem(bpf_object__find_map_fd_by_name(twp, "tw_client_nets"), &net, &one, 0)) {
		printf("BUG: prefix-counting programs or their client networks map: %s\n", strerror(errno));
		return 1;
	}
	for (int p = 0; p < NPROG; p++)
		if (pfd[p] < 0 || flows_fd[p] < 0 || empty_fd[p] < 0) {
			printf("BUG: program or map of %s missing from the objects\n", prog_col[p]);
			return 1;
		}
	if (stats_fd < 0 || events_fd < 0) {
		printf("BUG: tw_stats or tw_events missing\n");
		return 1;
	}
	rb = ring_buffer__new(events_fd, on_event, NULL, NULL);
	if (!rb) {
		printf("cannot set up the ring buffer: %s\n", strerror(errno));
		return 1;
	}

	/* --- frames, primed through every program ----------------------------- */
	struct frame syn, synack, ack, cdata, sdata, steady, syn_b, c_syn, c_synack, c_ack, c_data, rst, dq, dr;
	const uint32_t ci = 1000, si = 50000;
	mk(&syn, 1, SRV4, 40000, 443, TW_TCP_SYN, ci, 0, 0, 1);
	mk(&synack, 0, SRV4, 40000, 443, TW_TCP_SYN | TW_TCP_ACK, si, ci + 1, 0, 1);
	mk(&ack, 1, SRV4, 40000, 443, TW_TCP_ACK, ci + 1, si + 1, 0, 0);
	mk(&cdata, 1, SRV4, 40000, 443, TW_TCP_PSH | TW_TCP_ACK, ci + 1, si + 1, 517, 0);
	mk(&sdata, 0, SRV4, 40000, 443, TW_TCP_PSH | TW_TCP_ACK, si + 1, ci + 518, 1460, 0);
	mk(&steady, 0, SRV4, 40000, 443, TW_TCP_ACK, si + 1461, ci + 518, 1460, 0);
	mk(&syn_b, 1, SRV4, 40001, 443, TW_TCP_SYN, 3000, 0, 0, 1);
	mk(&c_syn, 1, SRV4, 40002, 443, TW_TCP_SYN, ci, 0, 0, 1);
	mk(&c_synack, 0, SRV4, 40002, 443, TW_TCP_SYN | TW_TCP_ACK, si, ci + 1, 0, 1);
	mk(&c_ack, 1, SRV4, 40002, 443, TW_TCP_ACK, ci + 1, si + 1, 0, 0);
	mk(&c_data, 1, SRV4, 40002, 443, TW_TCP_PSH | TW_TCP_ACK, ci + 1, si + 1, 517, 0);
	mk(&rst, 0, SRV4, 40002, 443, TW_TCP_RST | TW_TCP_ACK, si + 1, ci + 518, 0, 0);
	mk_dns(&dq, 1, 53001, 0x1234);
	mk_dns(&dr, 0, 53001, 0x1234);
	const struct frame *prime[] = { &syn,   &synack,   &ack,   &cdata,  &sdata, &syn_b,
		                        &c_syn, &c_synack, &c_ack, &c_data, &dq };
	for (size_t i = 0; i < sizeof(prime) / sizeof(prime[0]); i++) {
		for (int p = 0; p < NPROG; p++)
			if (p != TW_T && p != REF_T) /* the TC builds share the XDP twin's table */
				run(pfd[p], prog_pass[p], prime[i]->b, prime[i]->len, 1, 1, 1);
		run(twp_x, XDP_PASS_, prime[i]->b, prime[i]->len, 1, 1, 1);
	}
	struct tw_flow fa;
	int steady_ok =
	        flow_of(&steady, &fa) == 0 && fa.state == TW_TCP_ESTABLISHED &&
	        (fa.flags & (TW_FLOW_CLIENT_DATA | TW_FLOW_SERVER_DATA)) == (TW_FLOW_CLIENT_DATA | TW_FLOW_SERVER_DATA);
	ring_buffer__consume(rb);

	/* events per batch: what fits the 8 MiB ring buffer with room to spare
	 * (RST and DNS events reserve the fixed part + TW_SNIPPET_MAX) */
	size_t rec = (sizeof(struct tw_event) + TW_SNIPPET_MAX + 8 + 7) & ~(size_t)7;
	uint32_t batch =
	        (uint32_t)((bpf_map__max_entries(bpf_object__find_map_by_name(tw, "tw_events")) * 3 / 4) / rec);

	/* BENCH_XDP_FLOWS=1 (say) runs only that fill level; for perf record
	 * of one path.  Default: 1, 100 k and 2 M. */
	struct level lv[] = { { 1, "1", {}, {} }, { 100000, "100k", {}, {} }, { 2000000, "2M", {}, {} } };
	const int nlv = sizeof(lv) / sizeof(lv[0]);
	const char *only = getenv("BENCH_XDP_FLOWS");
	uint64_t fill_ns = 0;
	for (int l = 0; l < nlv; l++) {
		struct level *L = &lv[l];
		if (only && (uint32_t)atol(only) != L->flows)
			continue;
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (L->flows > 1)
			fill(L->flows);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		fill_ns += (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull + (uint64_t)(t1.tv_nsec - t0.tv_nsec);
		for (size_t m = 0; m < NMIX; m++) {
			struct result *r = &L->r[m];
			r->id = MIX[m].id;
			switch (MIX[m].id) {
			case 'a':
				r->name = "(a) TCP data, established (steady)";
				measure(r, &steady, REPEAT, REPEAT, 0);
				break;
			case 'b':
				r->name = "(b) SYN of an existing flow";
				measure(r, &syn_b, REPEAT, REPEAT, 0);
				break;
			case 'c':
				r->name = "(c) RST|ACK (1 event/run, drained)";
				measure(r, &rst, REPEAT, batch, 1);
				break;
			case 'q':
				r->name = "(q) DNS query (1 event/run, drained)";
				measure(r, &dq, REPEAT, batch, 1);
				break;
			case 'd':
				r->name = "(d) DNS response (1 event/run, drained)";
				measure(r, &dr, REPEAT, batch, 1);
				break;
			case 'g':
				r->name = "(g) SYN, new flow (1 run each, net)";
				measure_new_flows(r, NEW_FLOWS, l);
				break;
			}
			for (int p = 0; p < NPROG; p++)
				L->mix[p] += r->ns[p] * MIX[m].permille / 1000.0;
		}
	}

	/* extra rows at the final fill, for context */
	struct result ex_rows[3];
	memset(ex_rows, 0, sizeof(ex_rows));
	ex_rows[0].name = "    RST, ring buffer full (events lost)";
	measure(&ex_rows[0], &rst, REPEAT, REPEAT, 0);
	ex_rows[1].name = "    DNS resp., ring full (events lost)";
	measure(&ex_rows[1], &dr, REPEAT, REPEAT, 0);
	/* shutdown.enabled: one LPM lookup and one per-CPU hash update per
	 * packet toward a client; compare with row (a) */
	ex_rows[2].name = "    (a) with per-prefix counting on";
	int sx = pfd[TW_X], st = pfd[TW_T];
	pfd[TW_X] = twp_x;
	pfd[TW_T] = twp_t;
	measure(&ex_rows[2], &steady, REPEAT, REPEAT, 0);
	pfd[TW_X] = sx;
	pfd[TW_T] = st;

	/* memory per tracked flow, the map's own overhead included */
	double mem_tw = (double)fd_memlock(flows_fd[TW_X]) / FLOWS_CAP;
	double mem_tw6 = flows6_fd >= 0 ? (double)fd_memlock(flows6_fd) / FLOWS6_CAP : 0;
	double mem_ref = (double)fd_memlock(flows_fd[REF_X]) / FLOWS_CAP;
	double mem_meminfo = meminfo_per_flow(1u << 20);
	uint32_t def6 = tw_flows6_max(TW_FLOWS_DEFAULT, 0);
	double mem_default = fresh_memlock_per_flow(TW_FLOWS_DEFAULT, sizeof(struct tw_flow_key4));
	double mem_default6 = fresh_memlock_per_flow(def6, sizeof(struct tw_flow_key));
	/* the same as a cost per entry and a fixed part (the map itself): the
	 * slope between fresh IPv4 maps of FLOWS_CAP / 2 and FLOWS_CAP entries */
	double m_half = fresh_memlock_per_flow(FLOWS_CAP / 2, sizeof(struct tw_flow_key4)) * (FLOWS_CAP / 2);
	double m_full = fresh_memlock_per_flow(FLOWS_CAP, sizeof(struct tw_flow_key4)) * FLOWS_CAP;
	double mem_entry = (m_full - m_half) / (FLOWS_CAP / 2), mem_fixed = m_full - mem_entry * FLOWS_CAP;

	char kv[256] = "";
	FILE *fp = fopen("/proc/sys/kernel/osrelease", "r");
	if (fp) {
		if (!fgets(kv, sizeof(kv), fp))
			kv[0] = 0;
		kv[strcspn(kv, "\n")] = 0;
		fclose(fp);
	}
	printf("bench_xdp: tw_xdp / tw_tc (LIVE mode: kernel clocks) against the in-place reference\n"
	       "(bench_ref_inplace_{xdp,tc}: parse, 1 LRU lookup, counters + bpf_ktime_get_ns() in place,\n"
	       "insert on a miss); upd_xdp = the older reference (1 bpf_map_update_elem() per packet).\n"
	       "BPF_PROG_TEST_RUN, kernel-measured ns/run, %u runs per measurement, median of %d;\n"
	       "tables sized %u entries; kernel %s; pinned to CPU %d\n",
	       REPEAT, ROUNDS, FLOWS_CAP, kv, cpu);
	for (int l = 0; l < nlv; l++) {
		if (!lv[l].r[0].name)
			continue;
		printf("\n== %s flow(s) loaded in each table\n", lv[l].label);
		print_head();
		for (size_t m = 0; m < NMIX; m++)
			print_row(&lv[l].r[m]);
		printf("%-40s", "MIX (weighted, see notes)");
		for (int p = 0; p < NPROG; p++)
			printf(" %8.1f", lv[l].mix[p]);
		printf(" %7.2f %7.2f\n", lv[l].mix[TW_X] / lv[l].mix[REF_X], lv[l].mix[TW_T] / lv[l].mix[REF_T]);
		/* where the mix's extra cost over the reference comes from */
		printf("  mix gap to the reference by case (xdp, ns per mix packet):");
		for (size_t m = 0; m < NMIX; m++)
			printf(" %c %+.1f", lv[l].r[m].id,
			       (lv[l].r[m].ns[TW_X] - lv[l].r[m].ns[REF_X]) * MIX[m].permille / 1000.0);
		printf("\n");
	}
	printf("\n== extra rows (last fill level), for context\n");
	print_head();
	for (int i = 0; i < 3; i++)
		print_row(&ex_rows[i]);
	printf("\nnotes:\n"
	       "  (a) flow state before the run: %s (state %u, flags 0x%x)\n"
	       "  mix per 1000 packets: 880 (a), 20 (b), 10 (c), 35 (q), 35 (d), 20 (g);\n"
	       "      weighted mean of the rows (a test run repeats one frame)\n"
	       "  (g) one test run per new flow, %u flows x %d rounds per program, the empty\n"
	       "      program's time on the same frame subtracted (harness clock reads)\n"
	       "  (c)(q)(d) ring buffer drained between batches of %u runs (outside the timed\n"
	       "      region); 'lost' is the events the program could not reserve\n"
	       "  filling the tables took %.1f s (outside every measurement)\n",
	       steady_ok ? "ESTABLISHED, both payload flags: steady-state path" : "WARNING: NOT steady", fa.state,
	       fa.flags, NEW_FLOWS, ROUNDS, batch, fill_ns / 1e9);
	printf("  events by type seen by the consumer:");
	static const char *const evn[TW_EV_TYPE_MAX + 1] = {
		"?",         "handshake",    "client_data", "server_data", "rst", "fin", "data_after_rst",
		"dns_query", "dns_response", "flow_end",    "malformed"
	};
	for (int t = 1; t <= TW_EV_TYPE_MAX; t++)
		if (ev_seen[t])
			printf(" %s=%llu", evn[t], (unsigned long long)ev_seen[t]);
	printf("\n\nmemory per tracked flow in the kernel (tables of %u entries, preallocated):\n", FLOWS_CAP);
	printf("  tw_flows4, IPv4 (key %zu B + value %zu B): %6.1f B  (map's own accounting, fdinfo memlock)\n",
	       sizeof(struct tw_flow_key4), sizeof(struct tw_flow), mem_tw);
	printf("    of which per entry %.1f B and the map itself %.0f B (fresh maps of %u and %u entries)\n", mem_entry,
	       mem_fixed, FLOWS_CAP / 2, FLOWS_CAP);
	printf("  tw_flows6, IPv6 (key %zu B + value %zu B, %u entries): %6.1f B\n", sizeof(struct tw_flow_key),
	       sizeof(struct tw_flow), FLOWS6_CAP, mem_tw6);
	printf("  reference (key 40 B + value %zu B):     %6.1f B\n", sizeof(struct ref_inplace_val), mem_ref);
	printf("  at the defaults (flows.max %u IPv4: %6.1f B a flow; flows.max_ipv6 unset, %u IPv6: %6.1f B a "
	       "flow): %.1f MB for both tables\n",
	       TW_FLOWS_DEFAULT, mem_default, def6, mem_default6,
	       (mem_default * TW_FLOWS_DEFAULT + mem_default6 * def6) / 1e6);
	printf("  fresh 1 Mi-entry IPv4 flow map, /proc/meminfo rise: %6.1f B  (cross-check; noisy)\n\n", mem_meminfo);

	/* ---- targets ---- */
	char w[160];
	int first = -1, last = -1;
	for (int l = 0; l < nlv; l++)
		if (lv[l].r[0].name) {
			if (first < 0)
				first = l;
			last = l;
		}
	for (int l = 0; l < nlv; l++) {
		if (!lv[l].r[0].name)
			continue;
		const struct level *L = &lv[l];
		double rx = L->r[0].ns[TW_X] / L->r[0].ns[REF_X], rt = L->r[0].ns[TW_T] / L->r[0].ns[REF_T];
		double mx = L->mix[TW_X] / L->mix[REF_X], mt = L->mix[TW_T] / L->mix[REF_T];
		printf("target (%s flows): ratio to the in-place reference <= %.1f: data packet xdp %.2f tc %.2f, "
		       "mix xdp %.2f tc %.2f: %s\n",
		       L->label, TARGET_RATIO, rx, rt, mx, mt,
		       steady_ok && rx <= TARGET_RATIO && rt <= TARGET_RATIO && mx <= TARGET_RATIO && mt <= TARGET_RATIO
		               ? "TARGET MET"
		               : "TARGET MISSED");
		snprintf(w, sizeof(w), "bench_xdp: data packet of an established flow, %s flows in the table",
		         L->label);
		result("per-packet cost, XDP, data packet", w, L->r[0].ns[TW_X], "ns", L->r[0].ns[REF_X], TARGET_RATIO,
		       1);
		result("per-packet cost, TC, data packet", w, L->r[0].ns[TW_T], "ns", L->r[0].ns[REF_T], TARGET_RATIO,
		       1);
		snprintf(w, sizeof(w), "bench_xdp: mix (88%% data, 2%% new flows, 2%% SYN, 1%% RST, 7%% DNS), %s flows",
		         L->label);
		result("per-packet cost, XDP, mix", w, L->mix[TW_X], "ns", L->mix[REF_X], TARGET_RATIO, 1);
		result("per-packet cost, TC, mix", w, L->mix[TW_T], "ns", L->mix[REF_T], TARGET_RATIO, 1);
	}
	if (first >= 0 && last > first) {
		/* growth with the table's fill, against the map's own growth (the
		 * reference's) in the same run: 10% + 2 ns of slack for noise */
		for (size_t m = 0; m < NMIX; m++) {
			const struct result *a = &lv[first].r[m], *b = &lv[last].r[m];
			if (a->id != 'a' && a->id != 'g')
				continue;
			double gx = b->ns[TW_X] - a->ns[TW_X], gr = b->ns[REF_X] - a->ns[REF_X];
			double gt = b->ns[TW_T] - a->ns[TW_T], grt = b->ns[REF_T] - a->ns[REF_T];
			int ok = gx <= gr + 0.1 * a->ns[TW_X] + 2 && gt <= grt + 0.1 * a->ns[TW_T] + 2;
			printf("target %c: cost growth %s -> %s flows no more than the map's own: xdp %+.1f ns "
			       "(reference %+.1f), tc %+.1f ns (reference %+.1f): %s\n",
			       a->id, lv[first].label, lv[last].label, gx, gr, gt, grt,
			       ok ? "TARGET MET" : "TARGET MISSED");
		}
	}
	/* judged per entry: the map's fixed part is not a flow's */
	printf("target: kernel memory per tracked (IPv4) flow <= %.0f B: %.1f B an entry (%.3f B with the map's own "
	       "%.0f B spread over %u entries): %s\n",
	       TARGET_BYTES, mem_entry, mem_tw, mem_fixed, FLOWS_CAP,
	       mem_entry > 0 && mem_entry <= TARGET_BYTES ? "TARGET MET" : "TARGET MISSED");
	snprintf(w, sizeof(w),
	         "bench_xdp: tw_flows4 (IPv4) of %u entries, fdinfo memlock per entry (the map's fixed %.0f B apart)",
	         FLOWS_CAP, mem_fixed);
	result("kernel memory per tracked flow", w, mem_entry, "bytes", 0, TARGET_BYTES, 1);

	if (results)
		fclose(results);
	ring_buffer__free(rb);
	bpf_object__close(empty);
	bpf_object__close(ref);
	bpf_object__close(twp);
	bpf_object__close(tw);
	return 0;
}
