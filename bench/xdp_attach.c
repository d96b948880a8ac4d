/* xdp_attach: attach bench_empty_xdp (build/bpf/bench_empty.bpf.o) to each
 * interface named, in native mode, and exit; the program stays attached
 * until `ip link set dev IF xdpdrv off`.  For bench/bench_live.sh, which
 * builds and runs it inside the gateway's namespace.  libbpf loads it with
 * BPF_F_XDP_HAS_FRAGS (section xdp.frags) and attaches it natively, as the
 * daemon does tw_xdp, so the baseline differs from tw_xdp in the program
 * only (iproute2's loader is a different path, whose flags we cannot see).
 *
 *   xdp_attach OBJECT IFNAME... */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: xdp_attach OBJECT IFNAME...\n");
		return 2;
	}
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "xdp_attach: cannot load %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	struct bpf_program *p = bpf_object__find_program_by_name(obj, "bench_empty_xdp");
	int fd = p ? bpf_program__fd(p) : -1;
	if (fd < 0) {
		fprintf(stderr, "xdp_attach: %s has no bench_empty_xdp\n", argv[1]);
		return 1;
	}
	for (int i = 2; i < argc; i++) {
		unsigned idx = if_nametoindex(argv[i]);
		if (!idx || bpf_xdp_attach((int)idx, fd, XDP_FLAGS_DRV_MODE, NULL)) {
			fprintf(stderr, "xdp_attach: cannot attach to %s in native mode: %s\n", argv[i],
			        strerror(errno));
			return 1;
		}
	}
	bpf_object__close(obj);
	return 0;
}
