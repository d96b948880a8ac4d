# tamperwatch build.  `make` builds everything, `make check` runs every test
# suite, `make bench` runs the benchmarks.  See README.md.
#
# Layout conventions the rules below rely on (so a new file needs no edit here):
#   bpf/*.bpf.c          -> build/bpf/*.bpf.o and build/*.skel.h
#   daemon/*.c, daemon/LAYER/*.c -> linked into tamperwatchd (main.c) and into every test
#   tests/unit/test_*.c  -> build/unit/test_* under ASan+UBSan, run by `make unit`
#   tests/unit/test_*.sh -> source checks (the layer rule), run by `make unit` too
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

# ---- libraries, found with pkg-config --------------------------------------
# NAME:DEBIAN-PACKAGE, so that a missing one is named with what installs it
PKG_CONFIG ?= pkg-config
PKGS      := libbpf:libbpf-dev libelf:libelf-dev zlib:zlib1g-dev libpcap:libpcap-dev json-c:libjson-c-dev \
	libcurl:libcurl4-openssl-dev libcrypto:libssl-dev libarchive:libarchive-dev \
	libnl-genl-3.0:libnl-genl-3-dev libnl-route-3.0:libnl-route-3-dev libnl-3.0:libnl-3-dev libnats:libnats-dev libseccomp:libseccomp-dev
pkg_name   = $(firstword $(subst :, ,$(1)))
pkg_debian = $(lastword $(subst :, ,$(1)))
PKG_NAMES := $(foreach p,$(PKGS),$(call pkg_name,$(p)))
# goals that compile nothing need no library (deps is what installs them)
NO_LIB_GOALS := clean deps format format-check uninstall kmod deb
ifneq ($(if $(MAKECMDGOALS),$(filter-out $(NO_LIB_GOALS),$(MAKECMDGOALS)),all),)
ifeq ($(shell command -v $(PKG_CONFIG)),)
$(error $(PKG_CONFIG) not found: install the Debian package pkg-config (or run `make deps`))
endif
ifneq ($(shell $(PKG_CONFIG) --exists $(PKG_NAMES) && echo ok),ok)
PKG_MISSING := $(foreach p,$(PKGS),$(if $(shell $(PKG_CONFIG) --exists $(call pkg_name,$(p)) && echo ok),,$(p)))
$(error pkg-config cannot find $(foreach p,$(PKG_MISSING),$(call pkg_name,$(p)) (Debian package \
	$(call pkg_debian,$(p)))); install them with apt-get or `make deps`)
endif
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKG_NAMES))
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKG_NAMES))
JSONC_LIBS := $(shell $(PKG_CONFIG) --libs json-c)
endif

LAYER_INC := -Idaemon   # includes name their layer: "capture/engine.h"
TW_CFLAGS := -std=gnu11 $(WARN) -D_GNU_SOURCE -Iinclude $(LAYER_INC) -I$(BUILD) $(PKG_CFLAGS) $(CPPFLAGS) $(CFLAGS)
SAN       := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LIBS      := $(PKG_LIBS) -lm -lpthread
# every compile writes the headers it read to TARGET.d (included at the end),
# so touching a header rebuilds exactly what includes it
DEPFLAGS   = -MMD -MP -MF $@.d -MT $@
ARCH      := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

BPF_SRCS    := $(wildcard bpf/*.bpf.c)
BPF_OBJS    := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS       := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
LIB_SRCS    := $(filter-out daemon/main.c,$(wildcard daemon/*.c daemon/*/*.c))
LIB_OBJS    := $(patsubst daemon/%.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
SAN_OBJS    := $(patsubst daemon/%.c,$(BUILD)/san/%.o,$(LIB_SRCS))
UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNIT_BINS   := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
UNIT_SCRIPTS := $(wildcard tests/unit/test_*.sh)
BPFT_SRCS   := $(wildcard tests/bpf/test_*.c)
BPFT_BINS   := $(patsubst tests/bpf/%.c,$(BUILD)/bpftest/%,$(BPFT_SRCS))
FUZZ_SRCS   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS   := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
FUZZ_OBJS   := $(patsubst daemon/%.c,$(BUILD)/fuzzobj/%.o,$(LIB_SRCS))
FUZZ_CFLAGS := -std=gnu11 $(WARN) -Wno-unused-command-line-argument -D_GNU_SOURCE -Iinclude $(LAYER_INC) -I$(BUILD) \
	$(PKG_CFLAGS) -O1 -g
BENCH_SRCS  := $(wildcard bench/bench_*.c)
BENCH_BINS  := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

.DELETE_ON_ERROR:
# skeletons are only prerequisites of pattern rules: keep make from deleting them
.SECONDARY: $(SKELS) $(BUILD)/vmlinux.h $(SAN_OBJS) $(FUZZ_OBJS)
.PHONY: all check unit docs installtest bpftest fuzz live lab replaytest hostile outputs bench demo eval clean deps install uninstall \
	format format-check kmod kmodtest deb

all: $(BUILD)/tamperwatchd $(BUILD)/tamperwatch

deps:
	scripts/install-deps.sh

# ---- BPF: vmlinux.h -> object -> skeleton --------------------------------
$(BUILD)/vmlinux.h:
	@mkdir -p $(@D)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c | $(BUILD)/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) -target bpf -D__TARGET_ARCH_$(ARCH) -O2 -g -Wall -Werror \
		-Iinclude -Ibpf -I$(BUILD) $(DEPFLAGS) -c $< -o $@.tmp.o
	$(BPFTOOL) gen object $@ $@.tmp.o
	@rm -f $@.tmp.o

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@

# ---- daemon ---------------------------------------------------------------
# the skeletons are generated headers: order-only, they must exist before any
# compile (the .d files then make each includer depend on them)
$(BUILD)/obj/%.o: daemon/%.c | $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(TW_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/san/%.o: daemon/%.c | $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(TW_CFLAGS) $(SAN) $(DEPFLAGS) -c $< -o $@

# the built-in fingerprint set is assembled into this object (.incbin, which
# the compiler's dependency files do not list)
$(BUILD)/obj/verdicts/fp_default.o $(BUILD)/san/verdicts/fp_default.o $(BUILD)/fuzzobj/verdicts/fp_default.o: \
	data/fingerprints.csv

$(BUILD)/tamperwatchd: daemon/main.c $(LIB_OBJS) | $(SKELS)
	$(CC) $(TW_CFLAGS) $(DEPFLAGS) $< $(LIB_OBJS) -o $@ $(LDFLAGS) $(LIBS)

# ---- tamperwatch: the operator's CLI (shares the request parser) ---------
CLI_OBJS := $(BUILD)/obj/control/ctlreq.o $(BUILD)/obj/util/fdio.o $(BUILD)/obj/util/progress.o
$(BUILD)/tamperwatch: cli/tamperwatch.c $(CLI_OBJS)
	$(CC) $(TW_CFLAGS) $(DEPFLAGS) $< $(CLI_OBJS) -o $@ $(LDFLAGS) $(JSONC_LIBS)

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
$(BUILD)/unit/%: tests/unit/%.c $(SAN_OBJS) | $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(TW_CFLAGS) $(SAN) $(DEPFLAGS) -Itests $< $(SAN_OBJS) -o $@ $(LIBS)

$(BUILD)/bpftest/%: tests/bpf/%.c $(LIB_OBJS) $(BPF_OBJS) | $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(TW_CFLAGS) $(DEPFLAGS) -Itests $< $(LIB_OBJS) -o $@ $(LIBS)

# the daemon is compiled for fuzzing once (coverage + sanitizers, no libFuzzer
# main) and linked into every target, not compiled again for each
$(BUILD)/fuzzobj/%.o: daemon/%.c | $(SKELS)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) $(DEPFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@

$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJS) | $(SKELS)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) $(DEPFLAGS) -fsanitize=fuzzer,address,undefined $< $(FUZZ_OBJS) -o $@ $(LIBS)

$(BUILD)/bench/%: bench/%.c $(LIB_OBJS) $(BPF_OBJS) | $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(TW_CFLAGS) $(DEPFLAGS) -Itests $< $(LIB_OBJS) -o $@ $(LIBS)

unit: $(UNIT_BINS)
	@scripts/run-suite unit $(UNIT_SCRIPTS) $(UNIT_BINS)

# the documentation against the daemon: the JSON Schema on real records, the man pages
docs: all
	@scripts/run-suite docs $(sort $(wildcard tests/docs/test_*.sh))

bpftest: $(BPFT_BINS) $(BPF_OBJS) $(SKELS)
	@scripts/run-suite bpf $(BPFT_BINS)

fuzz: $(FUZZ_BINS)
	@scripts/run-fuzz $(FUZZ_SECONDS) $(FUZZ_BINS)

live: all
	@scripts/run-suite live $(sort $(wildcard tests/live/test_*.sh))

# make install / uninstall into a scratch DESTDIR (tests/install)
installtest: all
	@scripts/run-suite install $(sort $(wildcard tests/install/test_*.sh))

replaytest: all
	@scripts/run-suite replay $(sort $(wildcard tests/replay/test_*.sh))

lab: all
	@scripts/run-suite lab $(sort $(wildcard tests/lab/test_*.sh))

# the operator's outputs against real consumers (Prometheus, Alertmanager, syslog, CLI)
outputs: all
	@scripts/run-suite outputs $(sort $(wildcard tests/outputs/test_*.sh))

# hostile input (tests/hostile): mutated captures, abusive clients, full disks
hostile: all
	@scripts/run-suite hostile $(sort $(wildcard tests/hostile/test_*.sh))

kmodtest: all
	@scripts/run-suite kmod $(sort $(wildcard tests/kmod/test_*.sh))

# Every suite runs even when an earlier one failed; the closing line counts all.
SUITES := unit docs installtest bpftest fuzz replaytest hostile outputs live lab kmodtest
check: all
	@rm -f $(BUILD)/results
	@fail=0; for s in $(SUITES); do echo "== $$s"; $(MAKE) -s --no-print-directory $$s || fail=1; done; \
	awk '{p+=$$2; f+=$$3; k+=$$4} END {printf "check: %d passed, %d failed, %d skipped\n", p, f, k}' $(BUILD)/results; \
	exit $$fail

# each benchmark writes its figures to build/bench/NAME.results; results.sh
# gathers this run's into bench/results.json (committed: regressions show)
bench: all $(BENCH_BINS) $(SKELS)
	@rm -f $(BUILD)/bench/*.results
	@scripts/run-suite bench $(BENCH_BINS) $(sort $(wildcard bench/bench_*.sh)); rc=$$?; bench/results.sh; exit $$rc

demo: all
	scripts/demo

eval: all
	scripts/eval

# ---- install -----------------------------------------------------------------
# GNU-style directories, each overridable; DESTDIR is prepended to all of them.
# The configuration goes to /etc when PREFIX=/usr, else to $(PREFIX)/etc.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
DOCDIR     ?= $(DATADIR)/doc/tamperwatch
PKGDATADIR ?= $(DATADIR)/tamperwatch
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR    ?= $(PREFIX)/lib/systemd/system
INSTALL    ?= install

MAN_PAGES  := $(wildcard man/*.1 man/*.5 man/*.8)
DOC_FILES  := $(shell find docs -type f 2>/dev/null)
DATA_FILES := $(wildcard data/*)
# what install puts there, but for the two configuration files (below)
INSTALLED  := $(DESTDIR)$(SBINDIR)/tamperwatchd $(DESTDIR)$(SBINDIR)/tamperwatch-fingerprints $(DESTDIR)$(BINDIR)/tamperwatch \
	$(foreach m,$(MAN_PAGES),$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m))) $(patsubst docs/%,$(DESTDIR)$(DOCDIR)/%,$(DOC_FILES)) \
	$(patsubst data/%,$(DESTDIR)$(PKGDATADIR)/%,$(DATA_FILES)) $(DESTDIR)$(UNITDIR)/tamperwatchd.service
CONF_DEST  := $(DESTDIR)$(SYSCONFDIR)/tamperwatch/tamperwatchd.conf
ROT_DEST   := $(DESTDIR)$(SYSCONFDIR)/logrotate.d/tamperwatch

# the files with this installation's paths in them, made again on every
# install and uninstall (PREFIX may differ from the last build's)
$(BUILD)/install/tamperwatchd.conf: etc/tamperwatchd.conf FORCE
	@mkdir -p $(@D)
	cp $< $@
$(BUILD)/install/tamperwatchd.service: systemd/tamperwatchd.service FORCE
	@mkdir -p $(@D)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< > $@
$(BUILD)/install/tamperwatch-fingerprints: scripts/tamperwatch-fingerprints FORCE
	@mkdir -p $(@D)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< > $@
FORCE:

# $(call install_conf,SRC,DEST,MODE): a file the administrator may edit is
# installed only when absent or unedited; an edited one is kept and the new
# default goes beside it as DEST.dist.  uninstall_conf removes DEST only when
# it is still what install wrote, and DEST.dist.
install_conf = if [ ! -e '$(2)' ] || cmp -s '$(1)' '$(2)'; then $(INSTALL) -D -m $(3) '$(1)' '$(2)'; rm -f '$(2).dist'; \
	else $(INSTALL) -m $(3) '$(1)' '$(2).dist'; echo "kept $(2) (edited); the new default is $(2).dist"; fi
uninstall_conf = if [ -e '$(2)' ] && ! cmp -s '$(1)' '$(2)'; then echo "kept $(2) (edited)"; else rm -f '$(2)'; fi; \
	rm -f '$(2).dist'

install: all $(BUILD)/install/tamperwatchd.conf $(BUILD)/install/tamperwatchd.service $(BUILD)/install/tamperwatch-fingerprints
	$(INSTALL) -D -m 0755 $(BUILD)/tamperwatchd $(DESTDIR)$(SBINDIR)/tamperwatchd
	$(INSTALL) -D -m 0755 $(BUILD)/install/tamperwatch-fingerprints $(DESTDIR)$(SBINDIR)/tamperwatch-fingerprints
	$(INSTALL) -D -m 0755 $(BUILD)/tamperwatch $(DESTDIR)$(BINDIR)/tamperwatch
	for m in $(MAN_PAGES); do $(INSTALL) -D -m 0644 $$m $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/} || exit; done
	for f in $(DOC_FILES); do $(INSTALL) -D -m 0644 $$f $(DESTDIR)$(DOCDIR)/$${f#docs/} || exit; done
	for f in $(DATA_FILES); do $(INSTALL) -D -m 0644 $$f $(DESTDIR)$(PKGDATADIR)/$${f#data/} || exit; done
	$(INSTALL) -D -m 0644 $(BUILD)/install/tamperwatchd.service $(DESTDIR)$(UNITDIR)/tamperwatchd.service
	@$(call install_conf,$(BUILD)/install/tamperwatchd.conf,$(CONF_DEST),0640)
	@$(call install_conf,etc/logrotate.d/tamperwatch,$(ROT_DEST),0644)

uninstall: $(BUILD)/install/tamperwatchd.conf
	rm -f $(INSTALLED)
	@$(call uninstall_conf,$(BUILD)/install/tamperwatchd.conf,$(CONF_DEST))
	@$(call uninstall_conf,etc/logrotate.d/tamperwatch,$(ROT_DEST))
	@for d in $(DESTDIR)$(DOCDIR) $(DESTDIR)$(PKGDATADIR) $(DESTDIR)$(SYSCONFDIR)/tamperwatch; do \
		[ ! -d "$$d" ] || find "$$d" -depth -type d -empty -delete; done

# ---- the Debian package (debian/; docs/packaging.md) ---------------------------
# Built from a copy of the tree (what git tracks, and new files it does not
# ignore), so that the package build's `make clean` leaves this build alone:
# $(BUILD)/deb/tamperwatch_*.deb and tamperwatch-dkms_*.deb, then lintian.
deb:
	@rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/tamperwatch
	@git ls-files -co --exclude-standard | while IFS= read -r f; do [ ! -e "$$f" ] || printf '%s\n' "$$f"; done | \
		tar -cf - -T - | tar -xf - -C $(BUILD)/deb/tamperwatch
	# a fresh make inside: none of this make's variables (BUILD=... would be the copy's)
	cd $(BUILD)/deb/tamperwatch && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u BUILD dpkg-buildpackage -us -uc -b
	lintian --fail-on error,warning $(BUILD)/deb/*.changes

# the house style (.clang-format): `make format` rewrites, `make format-check` only looks
FORMAT_SRCS = $(shell git ls-files '*.c' '*.h')
format:
	clang-format -i $(FORMAT_SRCS)
format-check:
	@clang-format --dry-run --Werror $(FORMAT_SRCS)

clean:
	rm -rf $(BUILD)

# the headers each target read, written by its last compile (DEPFLAGS)
DEPS := $(addsuffix .d,$(LIB_OBJS) $(SAN_OBJS) $(FUZZ_OBJS) $(BPF_OBJS) $(UNIT_BINS) $(BPFT_BINS) $(FUZZ_BINS) \
	$(BENCH_BINS) $(BUILD)/tamperwatchd $(BUILD)/tamperwatch)
-include $(wildcard $(DEPS))
