/* Per-client-prefix counters for shutdown detection, in the real object:
 * packets towards a configured client network are counted under their /24
 * (or /48) with bytes, answered flows (SYN-ACKs), port classes and a sketch
 * of distinct clients; packets from clients and towards other networks are
 * not; with the feature off nothing is counted at all. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <tamperwatch/classify.h>
#include "tamperwatch.skel.h"
#include "pktbuild.h"

static int fails, checks;
#define CHECK(c, ...) do { checks++; if (!(c)) { fails++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

struct lpm_key { __u32 prefixlen; __u8 data[20]; };
struct pfx_key { __u8 family, plen, pad[2]; __u8 addr[16]; };
struct pfx_val { __u64 packets, bytes, new_flows, class_packets[4], clients[4]; };

static void run(struct tamperwatch *s, int reply, uint8_t host, uint16_t server_port, uint8_t flags, uint8_t net)
{
	struct pb_pkt p;
	uint8_t buf[256];
	memset(&p, 0, sizeof(p));
	p.family = 4;
	uint8_t client[4] = { 198, 51, net, host }, server[4] = { 203, 0, 113, 10 };
	memcpy(reply ? p.dst : p.src, client, 4);
	memcpy(reply ? p.src : p.dst, server, 4);
	p.sport = reply ? server_port : 40000;
	p.dport = reply ? 40000 : server_port;
	p.l4 = server_port == 53 ? 17 : 6;
	p.flags = flags;
	size_t n = pb_build(&p, buf, sizeof(buf));
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf, .data_size_in = (__u32)n, .repeat = 1);
	int rc = bpf_prog_test_run_opts(bpf_program__fd(s->progs.tw_xdp), &o);
	CHECK(rc == 0 && o.retval == XDP_PASS, "test run rc %d retval %u", rc, o.retval);
}

/* sum of one prefix's per-CPU values; the sketch is ORed */
static int read_pfx(struct tamperwatch *s, uint8_t net, struct pfx_val *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	struct pfx_val v[ncpu];
	struct pfx_key k = { .family = TW_FAMILY_IPV4, .plen = 24, .addr = { 198, 51, net, 0 } };
	memset(sum, 0, sizeof(*sum));
	if (bpf_map_lookup_elem(bpf_map__fd(s->maps.tw_pfx), &k, v))
		return -1;
	for (int c = 0; c < ncpu; c++) {
		sum->packets += v[c].packets;
		sum->bytes += v[c].bytes;
		sum->new_flows += v[c].new_flows;
		for (int i = 0; i < 4; i++) {
			sum->class_packets[i] += v[c].class_packets[i];
			sum->clients[i] |= v[c].clients[i];
		}
	}
	return 0;
}

static struct tamperwatch *open_obj(int on)
{
	struct tamperwatch *s = tamperwatch__open();
	if (!s)
		return NULL;
	s->rodata->tw_cfg_replay = 1;
	s->rodata->tw_cfg_pfx_on = (__u32)on;
	bpf_map__set_max_entries(s->maps.tw_flows, 4096);
	if (tamperwatch__load(s)) {
		tamperwatch__destroy(s);
		return NULL;
	}
	/* the client network 198.51.100.0/24 */
	struct lpm_key lk = { .prefixlen = 8 + 24, .data = { TW_FAMILY_IPV4, 198, 51, 100, 0 } };
	__u32 one = 1;
	if (bpf_map_update_elem(bpf_map__fd(s->maps.tw_client_nets), &lk, &one, BPF_ANY)) {
		tamperwatch__destroy(s);
		return NULL;
	}
	return s;
}

static int popcount4(const __u64 *w)
{
	return __builtin_popcountll(w[0]) + __builtin_popcountll(w[1]) + __builtin_popcountll(w[2]) +
	       __builtin_popcountll(w[3]);
}

int main(void)
{
	if (geteuid() != 0 || access("/sys/kernel/btf/vmlinux", R_OK)) {
		printf("needs root and BTF to load BPF programs\n");
		return 77;
	}
	libbpf_set_print(NULL);
	struct tamperwatch *s = open_obj(1);
	CHECK(s != NULL, "load with counters on");
	if (!s)
		return 1;

	/* 50 clients of 198.51.100.0/24 get a SYN-ACK from a web server and a DNS answer */
	for (uint8_t h = 1; h <= 50; h++) {
		run(s, 1, h, 443, 0x12, 100);
		run(s, 1, h, 53, 0, 100);
	}
	/* client -> internet, and traffic to a network that is not a client network: not counted */
	for (uint8_t h = 1; h <= 10; h++) {
		run(s, 0, h, 443, 0x02, 100);
		run(s, 1, h, 443, 0x12, 101);
	}
	struct pfx_val v;
	CHECK(read_pfx(s, 100, &v) == 0, "198.51.100.0/24 counted");
	CHECK(v.packets == 100, "packets %llu, want 100", (unsigned long long)v.packets);
	CHECK(v.new_flows == 50, "answered flows %llu, want 50", (unsigned long long)v.new_flows);
	CHECK(v.class_packets[0] == 50 && v.class_packets[1] == 50 && v.class_packets[2] == 0 && v.class_packets[3] == 0,
	      "classes web %llu dns %llu tcp_other %llu other %llu", (unsigned long long)v.class_packets[0],
	      (unsigned long long)v.class_packets[1], (unsigned long long)v.class_packets[2],
	      (unsigned long long)v.class_packets[3]);
	CHECK(v.bytes > 100 * 40, "bytes %llu", (unsigned long long)v.bytes);
	int bits = popcount4(v.clients);
	CHECK(bits >= 40 && bits <= 50, "sketch bits %d for 50 clients", bits);
	CHECK(read_pfx(s, 101, &v) != 0, "198.51.101.0/24 is not a client network: not counted");
	printf("ok: 100 packets to 50 clients of 198.51.100.0/24 counted (web 50, dns 50, answered 50, sketch %d bits); "
	       "client->internet and other networks not counted\n", bits);
	tamperwatch__destroy(s);

	s = open_obj(0);
	CHECK(s != NULL, "load with counters off");
	if (s) {
		run(s, 1, 1, 443, 0x12, 100);
		CHECK(read_pfx(s, 100, &v) != 0, "counters off: nothing counted");
		printf("ok: with the feature off nothing is counted\n");
		tamperwatch__destroy(s);
	}
	printf("%d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
