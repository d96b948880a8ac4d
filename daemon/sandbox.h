/* Least privilege once the daemon is set up (docs/hardening.md): the
 * capabilities a mode still needs and no more, optionally another user, and
 * a seccomp filter allowing only the system calls the mode makes. */
#ifndef TW_SANDBOX_H
#define TW_SANDBOX_H
#include <stddef.h>

/* What runs after setup; each has its own allow-list and capability set. */
enum tw_sandbox_mode {
	TW_SANDBOX_LIVE_BPF,    /* -i, --mode xdp|tc: the ring buffer, maps, detach at the end */
	TW_SANDBOX_LIVE_KMOD,   /* -i, --mode kmod: generic netlink to the module */
	TW_SANDBOX_REPLAY_USER, /* --replay, the userspace engine */
	TW_SANDBOX_REPLAY_BPF,  /* --replay --replay-engine bpf: BPF_PROG_TEST_RUN */
	TW_SANDBOX_HUB,         /* --hub: NATS in, outputs out */
};

/* [sandbox] in the configuration */
struct tw_sandbox_cfg {
	int seccomp;   /* sandbox.seccomp: install the filter (default yes) */
	char user[33]; /* sandbox.user: switch to this user after setup ("" = stay) */
};

/* Enter the sandbox: called once, after setup (live: after attaching), from
 * the main thread; every thread of the process is covered.  0, or -1 with a
 * message in err (the daemon must not run half-sandboxed: exit). */
int tw_sandbox_enter(enum tw_sandbox_mode mode, const struct tw_sandbox_cfg *cfg, char *err, size_t errlen);

/* The mode's name, for messages */
const char *tw_sandbox_mode_name(enum tw_sandbox_mode mode);

#endif
