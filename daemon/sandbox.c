/* Least privilege once the daemon is set up (docs/hardening.md).
 *
 * Three steps, in this order, from the main thread:
 *  1. sandbox.user: switch every thread to that user (glibc applies setresuid
 *     to all threads), the main thread keeping its capabilities across it;
 *  2. capabilities: the main thread, the only one that still touches the
 *     kernel side (maps, detach, the module), keeps what its mode needs (the
 *     set below, intersected with what it holds) in its effective, permitted
 *     and bounding sets; every other thread (control socket, metrics, sinks)
 *     keeps nothing; ambient sets are cleared.  Capabilities are per thread:
 *     the main thread drops its own, then signals every other thread
 *     (TW_SIG_PRIVDROP) to drop theirs, and /proc/self/task is read back to
 *     check that no thread kept more;
 *  3. seccomp: an allow-list of system calls per mode, synchronised to every
 *     thread (TSYNC).  Anything else traps: the SIGSYS handler writes one line
 *     naming the call and the mode to stderr and the process dies of SIGSYS,
 *     as under SCMP_ACT_KILL_PROCESS (systemd restarts it).  Why not ERRNO:
 *     a refused call that the code then treats as an ordinary failure hides
 *     an attack or a missing entry; a loud death is seen and fixed. */
#include "sandbox.h"
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "util/privsig.h"

#define CAPBIT(c) (1ull << (c))

const char *tw_sandbox_mode_name(enum tw_sandbox_mode mode)
{
	switch (mode) {
	case TW_SANDBOX_LIVE_BPF: return "live";
	case TW_SANDBOX_LIVE_KMOD: return "kmod";
	case TW_SANDBOX_REPLAY_USER: return "replay";
	case TW_SANDBOX_REPLAY_BPF: return "replay-bpf";
	case TW_SANDBOX_HUB: return "hub";
	}
	return "?";
}

/* ---- capabilities --------------------------------------------------------- */

/* What each mode needs after setup.  live: reading the maps (bpf(2) wants
 * CAP_BPF while kernel.unprivileged_bpf_disabled is set, Debian's default)
 * and detaching from the links at the end (netlink: CAP_NET_ADMIN); kmod: the
 * module's generic netlink commands are GENL_ADMIN_PERM (CAP_NET_ADMIN);
 * replay-bpf: BPF_PROG_TEST_RUN (CAP_BPF); replay and hub: nothing. */
static uint64_t mode_caps(enum tw_sandbox_mode mode)
{
	/* a kernel without CAP_BPF (before 5.8) checks CAP_SYS_ADMIN instead */
	uint64_t bpf = prctl(PR_CAPBSET_READ, CAP_BPF, 0, 0, 0) < 0 ? CAPBIT(CAP_SYS_ADMIN) : CAPBIT(CAP_BPF);
	switch (mode) {
	case TW_SANDBOX_LIVE_BPF: return bpf | CAPBIT(CAP_NET_ADMIN);
	case TW_SANDBOX_LIVE_KMOD: return CAPBIT(CAP_NET_ADMIN);
	case TW_SANDBOX_REPLAY_BPF: return bpf;
	case TW_SANDBOX_REPLAY_USER:
	case TW_SANDBOX_HUB: return 0;
	}
	return 0;
}

static int cap_get(uint64_t *eff, uint64_t *prm)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) < 0)
		return -1;
	*eff = d[0].effective | (uint64_t)d[1].effective << 32;
	*prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	return 0;
}

static int cap_set(uint64_t eff, uint64_t prm)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = {
		{ (uint32_t)eff, (uint32_t)prm, 0 },
		{ (uint32_t)(eff >> 32), (uint32_t)(prm >> 32), 0 },
	};
	return (int)syscall(SYS_capset, &h, d);
}

static uint64_t keep_caps; /* what the main thread keeps; every other thread keeps nothing */
static atomic_int drop_acks, drop_errno;

/* The calling thread: bounding set (needs CAP_SETPCAP, so first), ambient
 * set, then effective and permitted.  Async-signal-safe: also run from the
 * TW_SIG_PRIVDROP handler in every other thread. */
static int drop_self(uint64_t keep)
{
	uint64_t eff, prm;
	if (cap_get(&eff, &prm) < 0)
		return errno;
	if (prm & CAPBIT(CAP_SETPCAP))
		cap_set(prm, prm); /* after setresuid the effective set is empty */
	if (prm & CAPBIT(CAP_SETPCAP))
		for (int c = 0; c < 64; c++)
			if (!(keep & CAPBIT(c)))
				prctl(PR_CAPBSET_DROP, c, 0, 0, 0); /* EINVAL: a cap this kernel lacks */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	return cap_set(keep & prm, keep & prm) < 0 ? errno : 0;
}

static void on_privdrop(int sig)
{
	(void)sig;
	int saved = errno, e = drop_self(0);
	if (e)
		atomic_store(&drop_errno, e);
	atomic_fetch_add(&drop_acks, 1);
	errno = saved;
}

/* CapEff and CapPrm of thread tid, from /proc; -1 when it is gone */
static int thread_caps(const char *tid, uint64_t *eff, uint64_t *prm, char *comm, size_t commlen)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/self/task/%s/status", tid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	int got = 0;
	snprintf(comm, commlen, "?");
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Name:\t", 6)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(comm, commlen, "%.15s", line + 6);
		} else if (sscanf(line, "CapEff:\t%" SCNx64, eff) == 1)
			got |= 1;
		else if (sscanf(line, "CapPrm:\t%" SCNx64, prm) == 1)
			got |= 2;
	}
	fclose(f);
	return got == 3 ? 0 : -1;
}

/* Signal each other thread that holds any capability; 0 when none did,
 * 1 when some were signalled, -1 with err on failure. */
static int drop_others(char *err, size_t errlen)
{
	DIR *dir = opendir("/proc/self/task");
	if (!dir) {
		snprintf(err, errlen, "sandbox: /proc/self/task: %s", strerror(errno));
		return -1;
	}
	pid_t pid = getpid(), self = (pid_t)syscall(SYS_gettid);
	int sent = 0;
	struct dirent *de;
	atomic_store(&drop_acks, 0);
	while ((de = readdir(dir))) {
		char comm[64];
		uint64_t eff, prm;
		if (de->d_name[0] == '.' || atoi(de->d_name) == self)
			continue;
		if (thread_caps(de->d_name, &eff, &prm, comm, sizeof(comm)) < 0)
			continue; /* gone */
		if (!(eff | prm))
			continue;
		if (syscall(SYS_tgkill, pid, atoi(de->d_name), TW_SIG_PRIVDROP) == 0)
			sent++;
	}
	closedir(dir);
	/* every signalled thread runs the handler; wait up to 2 s for them */
	for (int i = 0; i < 2000 && atomic_load(&drop_acks) < sent; i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	if (atomic_load(&drop_errno)) {
		snprintf(err, errlen, "sandbox: dropping capabilities: %s", strerror(atomic_load(&drop_errno)));
		return -1;
	}
	return sent > 0;
}

/* The first thread still holding more than it should (the main thread
 * keep_caps, the others nothing), in err; 0 when none */
static int check_threads(char *err, size_t errlen)
{
	DIR *dir = opendir("/proc/self/task");
	if (!dir) {
		snprintf(err, errlen, "sandbox: /proc/self/task: %s", strerror(errno));
		return -1;
	}
	struct dirent *de;
	int rc = 0, pid = getpid();
	while (!rc && (de = readdir(dir))) {
		char comm[64];
		uint64_t eff, prm;
		if (de->d_name[0] == '.' || thread_caps(de->d_name, &eff, &prm, comm, sizeof(comm)) < 0)
			continue;
		uint64_t keep = atoi(de->d_name) == pid ? keep_caps : 0;
		if ((eff | prm) & ~keep) {
			snprintf(err, errlen,
			         "sandbox: thread %s (%s) still holds capabilities %#" PRIx64 " (keeping %#" PRIx64 ")",
			         de->d_name, comm, eff | prm, keep);
			rc = -1;
		}
	}
	closedir(dir);
	return rc;
}

static int switch_user(const char *user, char *err, size_t errlen)
{
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		snprintf(err, errlen, "sandbox.user: no user '%.40s'", user);
		return -1;
	}
	if (geteuid() != 0) {
		snprintf(err, errlen, "sandbox.user = %.40s: only root can switch users", user);
		return -1;
	}
	/* the main thread keeps its permitted set across the switch (PR_SET_KEEPCAPS
	 * is per thread: every other thread loses everything) */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(0, NULL) < 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 || setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
		snprintf(err, errlen, "sandbox.user = %.40s: %s", user, strerror(errno));
		return -1;
	}
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	return 0;
}

static int drop_caps(enum tw_sandbox_mode mode, const struct tw_sandbox_cfg *cfg, char *err, size_t errlen)
{
	uint64_t eff, prm;
	if (cap_get(&eff, &prm) < 0) {
		snprintf(err, errlen, "sandbox: capget: %s", strerror(errno));
		return -1;
	}
	keep_caps = mode_caps(mode) & prm;
	if (cfg->user[0] && switch_user(cfg->user, err, errlen) < 0)
		return -1;
	if (!prm && !cfg->user[0])
		return 0; /* nothing held: no thread can hold more than the one that made them */
	struct sigaction sa = { .sa_handler = on_privdrop };
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(TW_SIG_PRIVDROP, &sa, NULL) < 0) {
		snprintf(err, errlen, "sandbox: sigaction: %s", strerror(errno));
		return -1;
	}
	int e = drop_self(keep_caps);
	if (e) {
		snprintf(err, errlen, "sandbox: dropping capabilities: %s", strerror(e));
		return -1;
	}
	/* a thread being created while we look inherits from a thread already
	 * dropped or is seen in the next round */
	for (int round = 0; round < 3; round++) {
		int rc = drop_others(err, errlen);
		if (rc <= 0) {
			if (rc < 0)
				return -1;
			break;
		}
	}
	return check_threads(err, errlen);
}

/* ---- seccomp ------------------------------------------------------------- */

/* Every mode: memory, files (the log, its reopen on SIGHUP, state, evidence,
 * the next --replay file), time, signals, threads, polling, sockets that are
 * already open or are opened by the sinks (syslog, Alertmanager, NATS). */
static const char *const base_calls[] = {
	"read",
	"write",
	"readv",
	"writev",
	"pread64",
	"pwrite64",
	"close",
	"openat",
	"open",
	"creat",
	"stat",
	"fstat",
	"lstat",
	"newfstatat",
	"statx",
	"statfs",
	"fstatfs",
	"lseek",
	"fsync",
	"fdatasync",
	"rename",
	"renameat",
	"renameat2",
	"unlink",
	"unlinkat",
	"mkdir",
	"mkdirat",
	"rmdir",
	"getdents64",
	"getdents",
	"ftruncate",
	"fallocate",
	"readlink",
	"readlinkat",
	"access",
	"faccessat",
	"faccessat2",
	"fcntl",
	"dup",
	"dup2",
	"dup3",
	"pipe",
	"pipe2",
	"ioctl",
	"flock",
	"umask",
	"fchmod",
	"utimensat",
	"mmap",
	"munmap",
	"mremap",
	"mprotect",
	"brk",
	"madvise",
	"mincore",
	"membarrier",
	"clock_gettime",
	"clock_getres",
	"gettimeofday",
	"time",
	"nanosleep",
	"clock_nanosleep",
	"rt_sigaction",
	"rt_sigprocmask",
	"rt_sigreturn",
	"rt_sigtimedwait",
	"rt_sigpending",
	"sigaltstack",
	"restart_syscall",
	"futex",
	"futex_waitv",
	"set_robust_list",
	"get_robust_list",
	"rseq",
	"exit",
	"exit_group",
	"sched_yield",
	"sched_getaffinity",
	"gettid",
	"getpid",
	"getppid",
	"getuid",
	"geteuid",
	"getgid",
	"getegid",
	"getresuid",
	"getresgid",
	"getgroups",
	"poll",
	"ppoll",
	"select",
	"pselect6",
	"epoll_create",
	"epoll_create1",
	"epoll_ctl",
	"epoll_wait",
	"epoll_pwait",
	"epoll_pwait2",
	"eventfd2",
	"timerfd_create",
	"timerfd_settime",
	"timerfd_gettime",
	"socketpair",
	"connect",
	"accept",
	"accept4",
	"sendto",
	"recvfrom",
	"sendmsg",
	"recvmsg",
	"sendmmsg",
	"recvmmsg",
	"shutdown",
	"getsockname",
	"getpeername",
	"setsockopt",
	"getsockopt",
	"getrandom",
	"uname",
	"prlimit64",
	"getrlimit",
	"sysinfo",
	"getcwd",
	"sendfile",
};

/* bpf(2) commands the BPF modes still make: map reads, updates and deletes
 * (flow sweep, counters), program test runs (replay), object info; never a
 * program or map load */
static const int bpf_cmds[] = {
	BPF_MAP_LOOKUP_ELEM,
	BPF_MAP_UPDATE_ELEM,
	BPF_MAP_DELETE_ELEM,
	BPF_MAP_GET_NEXT_KEY,
	BPF_PROG_TEST_RUN,
	BPF_OBJ_GET_INFO_BY_FD,
	BPF_MAP_LOOKUP_BATCH,
	BPF_MAP_LOOKUP_AND_DELETE_ELEM,
	BPF_MAP_LOOKUP_AND_DELETE_BATCH,
	BPF_MAP_UPDATE_BATCH,
	BPF_MAP_DELETE_BATCH,
};

/* system call names by number, for the SIGSYS line (resolved before the
 * filter goes in: the handler may only format and write) */
#define NAMES_MAX 512
static const char *call_names[NAMES_MAX];
static const char *trap_mode = "?";

static size_t put(char *b, size_t n, size_t cap, const char *s)
{
	while (*s && n + 1 < cap)
		b[n++] = *s++;
	return n;
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	char b[384], num[16];
	size_t n = 0;
	int nr = si->si_syscall, k = 0;
	unsigned v = nr < 0 ? 0 : (unsigned)nr;
	char tmp[16];
	do
		tmp[k++] = (char)('0' + v % 10);
	while ((v /= 10) && k < 15);
	for (int i = 0; i < k; i++)
		num[i] = tmp[k - 1 - i];
	num[k] = 0;
	n = put(b, n, sizeof(b), "tamperwatchd: sandbox: system call ");
	n = put(b, n, sizeof(b), nr >= 0 && nr < NAMES_MAX && call_names[nr] ? call_names[nr] : "?");
	n = put(b, n, sizeof(b), " (");
	n = put(b, n, sizeof(b), num);
	n = put(b, n, sizeof(b), ") is not allowed in mode ");
	n = put(b, n, sizeof(b), trap_mode);
	n = put(b, n, sizeof(b), "; stopping (sandbox.seccomp = no turns the filter off; docs/hardening.md)\n");
	ssize_t w = write(STDERR_FILENO, b, n);
	(void)w;
	/* die of SIGSYS, as SCMP_ACT_KILL_PROCESS would: default action, pending
	 * until this handler returns */
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigaction(sig, &dfl, NULL);
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), sig);
}

static int allow(scmp_filter_ctx ctx, const char *name, unsigned nargs, const struct scmp_arg_cmp *args)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR)
		return 0; /* not a call on this architecture */
	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, nargs, args);
}

static int build(scmp_filter_ctx ctx, enum tw_sandbox_mode mode)
{
	int rc = 0;
	int bpf = mode == TW_SANDBOX_LIVE_BPF || mode == TW_SANDBOX_REPLAY_BPF;
	int netlink = mode == TW_SANDBOX_LIVE_BPF || mode == TW_SANDBOX_LIVE_KMOD;
	pid_t pid = getpid();

	for (size_t i = 0; i < sizeof(base_calls) / sizeof(base_calls[0]) && !rc; i++)
		rc = allow(ctx, base_calls[i], 0, NULL);
	/* threads only: no new processes (glibc falls back from clone3, whose
	 * flags a filter cannot see, to clone) */
	struct scmp_arg_cmp thread = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
	rc = rc ? rc : allow(ctx, "clone", 1, &thread);
	rc = rc ? rc : seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	/* signals to our own threads only (raise, the capability drop) */
	struct scmp_arg_cmp own = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)pid, 0);
	rc = rc ? rc : allow(ctx, "tgkill", 1, &own);
	/* thread names */
	struct scmp_arg_cmp setname = SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME, 0),
	                    getname = SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME, 0);
	rc = rc ? rc : allow(ctx, "prctl", 1, &setname);
	rc = rc ? rc : allow(ctx, "prctl", 1, &getname);
	/* sockets: Unix (syslog, control), IP (syslog, Alertmanager, NATS, the
	 * link watch's ioctl); netlink for the live modes (detach, the module) */
	int domains[] = { AF_UNIX, AF_INET, AF_INET6, AF_NETLINK };
	for (size_t i = 0; i < sizeof(domains) / sizeof(domains[0]) - !netlink && !rc; i++) {
		struct scmp_arg_cmp dom = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)domains[i], 0);
		rc = allow(ctx, "socket", 1, &dom);
	}
	/* libbpf and libnl bind each netlink socket they open (TC detach, the
	 * module's dumps); bind(2) cannot see the family, socket(2) did */
	rc = rc || !netlink ? rc : allow(ctx, "bind", 0, NULL);
	for (size_t i = 0; bpf && i < sizeof(bpf_cmds) / sizeof(bpf_cmds[0]) && !rc; i++) {
		struct scmp_arg_cmp cmd = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)bpf_cmds[i], 0);
		rc = allow(ctx, "bpf", 1, &cmd);
	}
	return rc;
}

static int install_filter(enum tw_sandbox_mode mode, char *err, size_t errlen)
{
	for (int i = 0; i < NAMES_MAX; i++)
		if (!call_names[i])
			call_names[i] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, i); /* kept: the handler's */
	trap_mode = tw_sandbox_mode_name(mode);
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		snprintf(err, errlen, "sandbox: sigaction(SIGSYS): %s", strerror(errno));
		return -1;
	}
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx) {
		snprintf(err, errlen, "sandbox: seccomp_init failed");
		return -1;
	}
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	rc = rc ? rc : build(ctx, mode);
	rc = rc ? rc : seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc) {
		snprintf(err, errlen, "sandbox: seccomp filter (%s): %s", trap_mode, strerror(-rc));
		return -1;
	}
	return 0;
}

int tw_sandbox_enter(enum tw_sandbox_mode mode, const struct tw_sandbox_cfg *cfg, char *err, size_t errlen)
{
	if (drop_caps(mode, cfg, err, errlen) < 0)
		return -1;
	if (cfg->seccomp && install_filter(mode, err, errlen) < 0)
		return -1;
	return 0;
}
