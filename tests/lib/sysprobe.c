/* A test's probe inside a running tamperwatchd (LD_PRELOAD): on SIGUSR2 the
 * thread that takes the signal makes the system call named by TW_PROBE, as
 * an attacker who took over the process would, and writes what it returned
 * to stderr.  Under the sandbox (daemon/sandbox.c) the call must not return:
 * the process dies of SIGSYS with the sandbox's line.  Not part of the
 * daemon: built by tests/hostile/test_sandbox.sh and tests/live/test_live_sandbox.sh.
 *   TW_PROBE=execve         execve("/nonexistent", ...): a new program
 *   TW_PROBE=bpf_prog_load  bpf(BPF_PROG_LOAD, {}): a new BPF program
 *   TW_PROBE=bpf_lookup     bpf(BPF_MAP_LOOKUP_ELEM, fd -1): any bpf(2) at all
 *   TW_PROBE=ptrace         ptrace(PTRACE_TRACEME): tracing
 *   TW_PROBE=fork           fork(): a new process */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

static void probe(int sig)
{
	(void)sig;
	const char *what = getenv("TW_PROBE");
	long rc = -2;
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	if (!what)
		return;
	if (!strcmp(what, "execve")) {
		char *argv[] = { "/nonexistent", NULL };
		rc = syscall(SYS_execve, "/nonexistent", argv, argv + 1);
	} else if (!strcmp(what, "bpf_prog_load")) {
		rc = syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
	} else if (!strcmp(what, "bpf_lookup")) {
		attr.map_fd = (unsigned)-1;
		rc = syscall(SYS_bpf, BPF_MAP_LOOKUP_ELEM, &attr, sizeof(attr));
	} else if (!strcmp(what, "ptrace")) {
		rc = syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
		if (rc == 0)
			syscall(SYS_ptrace, PTRACE_DETACH, 0, 0, 0);
	} else if (!strcmp(what, "fork")) {
		rc = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
		if (rc == 0)
			_exit(0);
	}
	char b[160];
	int n = snprintf(b, sizeof(b), "sysprobe: %s returned %ld (errno %d)\n", what, rc, rc < 0 ? errno : 0);
	if (write(2, b, (size_t)n) < 0)
		return;
}

__attribute__((constructor)) static void sysprobe_init(void)
{
	struct sigaction sa = { .sa_handler = probe, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, NULL);
}
