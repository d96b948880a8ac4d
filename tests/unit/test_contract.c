/* The kernel/user contract (include/tamperwatch/) has no hidden padding:
 * every header, compiled alone for this host and for BPF with -Wpadded
 * -Werror, must build (a struct with a hole fails, naming it).  Holes are
 * explicit reserved fields instead, and the code that fills a record
 * zeroes them, so no stale stack or ring buffer bytes reach the daemon:
 * checked here on records pre-filled with garbage.  Runs from the
 * repository root (make unit); CC and CLANG as make's (cc, clang). */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tamperwatch/classify.h>

#include "check.h"

static int zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

static void headers_without_holes(void)
{
	const char *cc = getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";
	const char *clang = getenv("CLANG") && *getenv("CLANG") ? getenv("CLANG") : "clang";
	glob_t g;
	CHECK(glob("include/tamperwatch/*.h", 0, NULL, &g) == 0 && g.gl_pathc >= 7, "contract headers not found");
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *h = g.gl_pathv[i];
		char cmd[1024];
		/* host: the daemon's view */
		snprintf(cmd, sizeof(cmd),
		         "%s -std=gnu11 -fsyntax-only -Wall -Wextra -Wpadded -Werror -Iinclude -include %s -x c "
		         "/dev/null",
		         cc, h);
		CHECK(system(cmd) == 0, "%s: does not build alone with -Wpadded (hidden padding?): %s", h, cmd);
		/* BPF: the program's view (types from the uapi header instead of vmlinux.h) */
		snprintf(cmd, sizeof(cmd),
		         "%s -target bpf -std=gnu11 -fsyntax-only -Wall -Wextra -Wpadded -Werror -Iinclude "
		         "-I/usr/include/$(%s -print-multiarch) -include linux/types.h -include %s -x c /dev/null",
		         clang, cc, h);
		CHECK(system(cmd) == 0, "%s: does not build alone for BPF with -Wpadded: %s", h, cmd);
	}
	globfree(&g);
}

/* tw_track and tw_event_fill write every byte of what they fill */
static void reserved_zeroed(void)
{
	struct tw_pkt p;
	struct tw_flow_key k;
	struct tw_flow f;
	struct tw_pkt_ctx pc;
	static unsigned char ev[sizeof(struct tw_event)];
	struct tw_event *e = (struct tw_event *)ev;

	memset(&p, 0, sizeof(p));
	p.family = TW_FAMILY_IPV4;
	p.proto = TW_PROTO_TCP;
	p.saddr[0] = 10;
	p.daddr[0] = 192;
	p.sport = 40000;
	p.dport = 443;
	p.tcp_flags = TW_TCP_SYN;
	p.ttl = 64;
	int src_is_b = tw_flow_key_make(&p, &k);
	tw_flow_init(&f, &p, src_is_b, 1);
	memset(&pc, 0xa5, sizeof(pc));
	tw_track(&f, &p, tw_pkt_dir(&f, src_is_b), 1000, 1, 60, &pc);
	CHECK(zero(pc.reserved, sizeof(pc.reserved)), "tw_track left tw_pkt_ctx.reserved unwritten");

	memset(ev, 0xa5, sizeof(ev));
	tw_event_fill(e, TW_EV_RST, &k, &f, &p, &pc, TW_DIR_C2S, 1000, 1);
	CHECK(zero(&e->reserved0, sizeof(e->reserved0)) && zero(e->reserved1, sizeof(e->reserved1)) &&
	              zero(e->ctx.reserved, sizeof(e->ctx.reserved)),
	      "tw_event_fill left a reserved field of tw_event unwritten");
	memset(ev, 0xa5, sizeof(ev));
	tw_event_fill(e, TW_EV_FLOW_END, &k, &f, NULL, NULL, TW_DIR_C2S, 1000, 1);
	CHECK(zero(&e->ctx, sizeof(e->ctx)) && zero(e->reserved1, sizeof(e->reserved1)),
	      "tw_event_fill without a packet left the context unwritten");
}

int main(void)
{
	headers_without_holes();
	reserved_zeroed();
	printf("%d checks, %d failed\n", checks, fails);
	return fails != 0;
}
