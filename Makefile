# tamperwatch build.  `make` builds everything, `make check` runs every test
# suite, `make bench` runs the benchmarks.  See README.md.
#
# Layout conventions the rules below rely on (so a new file needs no edit here):
#   bpf/*.bpf.c          -> build/bpf/*.bpf.o and build/*.skel.h
#   daemon/*.c, daemon/LAYER/*.c -> linked into tamperwatchd (main.c) and into every test
#   tests/unit/test_*.c  -> build/unit/test_* under ASan+UBSan, run by `make unit`
#   tests/bpf/test_*.c   -> build/bpftest/test_*, load the real objects, run by `make bpftest`
#   tests/fuzz/fuzz_*.c  -> build/fuzz/fuzz_* (libFuzzer), run for FUZZ_SECONDS each

BUILD     ?= build
CC        ?= gcc
CLANG     ?= clang
BPFTOOL   ?= bpftool
FUZZ_SECONDS ?= 15

WARN      := -Wall -Wextra -Werror
CFLAGS    ?= -O2 -g
# one folder per layer of the daemon (docs/architecture.md)

LAYER_INC := -Idaemon   # includes name their layer: "capture/engine.h"
TW_CFLAGS := -std=gnu11 $(WARN) -D_GNU_SOURCE -Iinclude $(LAYER_INC) -I$(BUILD) -I/usr/include/libnl3 $(CFLAGS)
SAN       := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LIBS      := -lbpf -lelf -lz -lpcap -ljson-c -lcurl -lcrypto -larchive -lnl-genl-3 -lnl-route-3 -lnl-3 -lm -lpthread
ARCH      := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

BPF_SRCS    := $(wildcard bpf/*.bpf.c)
BPF_OBJS    := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS       := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
HDRS        := $(wildcard include/tamperwatch/*.h daemon/*.h daemon/*/*.h)
TEST_HDRS   := $(wildcard tests/*.h tests/bpf/*.h)
LIB_SRCS    := $(filter-out daemon/main.c,$(wildcard daemon/*.c daemon/*/*.c))
LIB_OBJS    := $(patsubst daemon/%.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
SAN_OBJS    := $(patsubst daemon/%.c,$(BUILD)/san/%.o,$(LIB_SRCS))
UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNIT_BINS   := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
BPFT_SRCS   := $(wildcard tests/bpf/test_*.c)
BPFT_BINS   := $(patsubst tests/bpf/%.c,$(BUILD)/bpftest/%,$(BPFT_SRCS))
FUZZ_SRCS   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS   := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
FUZZ_OBJS   := $(patsubst daemon/%.c,$(BUILD)/fuzzobj/%.o,$(LIB_SRCS))
FUZZ_CFLAGS := -std=gnu11 $(WARN) -Wno-unused-command-line-argument -D_GNU_SOURCE -Iinclude $(LAYER_INC) -I$(BUILD) \
	-I/usr/include/libnl3 -O1 -g
BENCH_SRCS  := $(wildcard bench/bench_*.c)
BENCH_BINS  := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

.DELETE_ON_ERROR:
# skeletons are only prerequisites of pattern rules: keep make from deleting them
.SECONDARY: $(SKELS) $(BUILD)/vmlinux.h $(SAN_OBJS) $(FUZZ_OBJS)
.PHONY: all check unit bpftest fuzz live lab replaytest outputs bench demo eval clean deps install format format-check \
	kmod kmodtest

all: $(BUILD)/tamperwatchd $(BUILD)/tamperwatch

deps:
	scripts/install-deps.sh

# ---- BPF: vmlinux.h -> object -> skeleton --------------------------------
$(BUILD)/vmlinux.h:
	@mkdir -p $(@D)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BUILD)/vmlinux.h $(HDRS) $(wildcard bpf/*.h)
	@mkdir -p $(@D)
	$(CLANG) -target bpf -D__TARGET_ARCH_$(ARCH) -O2 -g -Wall -Werror \
		-Iinclude -Ibpf -I$(BUILD) -c $< -o $@.tmp.o
	$(BPFTOOL) gen object $@ $@.tmp.o
	@rm -f $@.tmp.o

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@

# ---- daemon ---------------------------------------------------------------
$(BUILD)/obj/%.o: daemon/%.c $(HDRS) $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(TW_CFLAGS) -c $< -o $@

$(BUILD)/san/%.o: daemon/%.c $(HDRS) $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(TW_CFLAGS) $(SAN) -c $< -o $@

$(BUILD)/tamperwatchd: daemon/main.c $(LIB_OBJS)
	$(CC) $(TW_CFLAGS) $^ -o $@ $(LIBS)

# ---- tamperwatch: the operator's CLI (shares the request parser) ---------
$(BUILD)/tamperwatch: cli/tamperwatch.c $(BUILD)/obj/control/ctlreq.o daemon/control/ctlreq.h daemon/control/ctl.h
	$(CC) $(TW_CFLAGS) $< $(BUILD)/obj/control/ctlreq.o -o $@ -ljson-c

# ---- kmod: the kernel module (Kbuild, kmod/), built out of the source tree ----
# KDIR: the running kernel's build tree if present, else Debian's
# linux-headers-*-amd64.  The sources are copied to $(BUILD)/kmod so Kbuild's
# objects stay out of the tree (DKMS builds from the same files).
KDIR ?= $(firstword $(wildcard /lib/modules/$(shell uname -r)/build) \
	$(lastword $(sort $(wildcard /usr/src/linux-headers-*-amd64))))
KMOD_SRCS := Kbuild $(wildcard kmod/*.c kmod/*.h) $(wildcard include/tamperwatch/*.h)
kmod: $(BUILD)/kmod/tamperwatch.ko
$(BUILD)/kmod/tamperwatch.ko: $(KMOD_SRCS)
	@test -n "$(KDIR)" -a -d "$(KDIR)" || { echo "kmod: no kernel build tree: install linux-headers-amd64 or give KDIR=" >&2; exit 1; }
	@mkdir -p $(BUILD)/kmod
	@cp --parents $(KMOD_SRCS) $(BUILD)/kmod/
	$(MAKE) -C $(KDIR) M=$(abspath $(BUILD)/kmod) modules

# ---- tests ----------------------------------------------------------------
$(BUILD)/unit/%: tests/unit/%.c $(SAN_OBJS) $(TEST_HDRS)
	@mkdir -p $(@D)
	$(CC) $(TW_CFLAGS) $(SAN) -Itests $< $(SAN_OBJS) -o $@ $(LIBS)

$(BUILD)/bpftest/%: tests/bpf/%.c $(LIB_OBJS) $(BPF_OBJS) $(TEST_HDRS)
	@mkdir -p $(@D)
	$(CC) $(TW_CFLAGS) -Itests $< $(LIB_OBJS) -o $@ $(LIBS)

# the daemon is compiled for fuzzing once (coverage + sanitizers, no libFuzzer
# main) and linked into every target, not compiled again for each
$(BUILD)/fuzzobj/%.o: daemon/%.c $(HDRS) $(SKELS)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@

$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJS) $(HDRS)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined $< $(FUZZ_OBJS) -o $@ $(LIBS)

$(BUILD)/bench/%: bench/%.c $(LIB_OBJS) $(BPF_OBJS)
	@mkdir -p $(@D)
	$(CC) $(TW_CFLAGS) -Itests $< $(LIB_OBJS) -o $@ $(LIBS)

unit: $(UNIT_BINS)
	@scripts/run-suite unit $(UNIT_BINS)

bpftest: $(BPFT_BINS) $(BPF_OBJS) $(SKELS)
	@scripts/run-suite bpf $(BPFT_BINS)

fuzz: $(FUZZ_BINS)
	@scripts/run-fuzz $(FUZZ_SECONDS) $(FUZZ_BINS)

live: all
	@scripts/run-suite live $(sort $(wildcard tests/live/test_*.sh))

replaytest: all
	@scripts/run-suite replay $(sort $(wildcard tests/replay/test_*.sh))

lab: all
	@scripts/run-suite lab $(sort $(wildcard tests/lab/test_*.sh))

# the operator's outputs against real consumers (Prometheus, Alertmanager, syslog, CLI)
outputs: all
	@scripts/run-suite outputs $(sort $(wildcard tests/outputs/test_*.sh))

kmodtest: all
	@scripts/run-suite kmod $(sort $(wildcard tests/kmod/test_*.sh))

# Every suite runs even when an earlier one failed; the closing line counts all.
SUITES := unit bpftest fuzz replaytest outputs live lab kmodtest
check: all
	@rm -f $(BUILD)/results
	@fail=0; for s in $(SUITES); do echo "== $$s"; $(MAKE) -s --no-print-directory $$s || fail=1; done; \
	awk '{p+=$$2; f+=$$3; k+=$$4} END {printf "check: %d passed, %d failed, %d skipped\n", p, f, k}' $(BUILD)/results; \
	exit $$fail

bench: all $(BENCH_BINS) $(SKELS)
	@scripts/run-suite bench $(BENCH_BINS) $(sort $(wildcard bench/bench_*.sh))

demo: all
	scripts/demo

eval: all
	scripts/eval

# the house style (.clang-format): `make format` rewrites, `make format-check` only looks
FORMAT_SRCS = $(shell git ls-files '*.c' '*.h')
format:
	clang-format -i $(FORMAT_SRCS)
format-check:
	@clang-format --dry-run --Werror $(FORMAT_SRCS)

clean:
	rm -rf $(BUILD)
