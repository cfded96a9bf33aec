# vigil build. Out of tree into $(BUILD); `make V=1` shows every command.
.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:

# Mutation smoke test (tests/mutants.sh, make test-mutants): `make MUTANT=name`
# builds into build/mutant-name with -DVIGIL_MUTANT_NAME, which disables one
# core behaviour (see the #ifdef VIGIL_MUTANT_* blocks) so its tests must fail.
MUTANT   ?=
ifneq ($(MUTANT),)
ifneq ($(shell printf '%s' '$(MUTANT)' | grep -xE '[a-z0-9_]+'),$(MUTANT))
$(error MUTANT=$(MUTANT): only lower-case letters, digits and _)
endif
ifneq ($(origin BUILD),command line)
BUILD    := build/mutant-$(MUTANT)
endif
MUTANT_DEF := -DVIGIL_MUTANT_$(shell printf '%s' '$(MUTANT)' | tr a-z A-Z)
endif
BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

WARN      := -Wall -Wextra -Werror
CFLAGS    ?= -O2 -g
# User CFLAGS (e.g. make CFLAGS=-O0) are kept; warnings and includes are always added.
ALL_CFLAGS = $(CFLAGS) $(MUTANT_DEF) $(WARN) -std=gnu11 -Iinclude $(USER_INC) -I$(BUILD) -MMD -MP
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) $(MUTANT_DEF) $(WARN) -Wno-unused-parameter \
	-Iinclude -Ibpf -Ivmlinux/$(ARCH) -MMD -MP

LIBBPF_LIBS := $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf -lelf -lz)
YAML_LIBS   := -lyaml
JSON_LIBS   := -ljansson
# libnl-3 core: the NETLINK_SOCK_DIAG exchange of user/vigild/sockdestroy.c.
NL_CFLAGS   := $(shell pkg-config --cflags libnl-3.0 2>/dev/null || echo -I/usr/include/libnl3)
NL_LIBS     := $(shell pkg-config --libs libnl-3.0 2>/dev/null || echo -lnl-3)
# libnl-route-3: vigild's route lookups (user/vigild/sock_rescue.c).
NL_ROUTE_LIBS := $(shell pkg-config --libs libnl-route-3.0 2>/dev/null || echo -lnl-route-3 -lnl-3)
CHECK_LIBS  := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck)
# vigild: the systemd notify protocol and dropping capabilities after start.
SYSTEMD_LIBS := $(shell pkg-config --libs libsystemd 2>/dev/null || echo -lsystemd)
CAP_LIBS    := $(shell pkg-config --libs libcap 2>/dev/null || echo -lcap)
# vigild's cluster mode: etcd's v3 JSON gateway over HTTP(S) (libcurl),
# base64 of keys and values (libcrypto, which libcurl's TLS links anyway).
CURL_LIBS   := $(shell pkg-config --libs libcurl libcrypto 2>/dev/null || echo -lcurl -lcrypto)
# vigild: the HTTP endpoint of /metrics, /healthz, /readyz (metrics_http.c).
MHD_LIBS    := $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)

BPF_PROGS   := monitor sock_lb sock_rescue xdp_lb state_maps sock_census sock_iter
BPF_OBJS    := $(BPF_PROGS:%=$(BUILD)/%.bpf.o)
SKELETONS   := $(BPF_PROGS:%=$(BUILD)/%.skel.h)

# user/ holds one folder per role; the object lists come from the folders, so
# a new file needs no edit here (docs/design.md, "Map of the code"):
#   lib/       pure logic: no BPF, no syscalls beyond stdio and the clock;
#              linked by the unit tests and tests/bpf too
#   maps/      pinned-map access shared by both binaries
#   vigild/    the daemon          vigilctl/  the CLI
# Each folder sees only the headers of the layers below it.
user_objs    = $(patsubst %.c,$(BUILD)/%.o,$(1))
PURE_SRCS   := $(wildcard user/lib/*.c)
MAPS_SRCS   := $(wildcard user/maps/*.c)
VIGILD_SRCS := $(wildcard user/vigild/*.c)
VIGILCTL_SRCS := $(wildcard user/vigilctl/*.c)
USER_SRCS   := $(PURE_SRCS) $(MAPS_SRCS) $(VIGILD_SRCS) $(VIGILCTL_SRCS)
PURE_OBJS   := $(call user_objs,$(PURE_SRCS))
MAPS_OBJS   := $(call user_objs,$(MAPS_SRCS))
VIGILD_OBJS := $(call user_objs,$(VIGILD_SRCS)) $(MAPS_OBJS) $(PURE_OBJS)
VIGILCTL_OBJS := $(call user_objs,$(VIGILCTL_SRCS)) $(MAPS_OBJS) $(PURE_OBJS)
# Include paths per folder; tests see every folder.
USER_INC    := -Iuser/lib -Iuser/maps -Iuser/vigild -Iuser/vigilctl
$(BUILD)/user/lib/%.o:      USER_INC := -Iuser/lib
$(BUILD)/user/maps/%.o:     USER_INC := -Iuser/lib -Iuser/maps
$(BUILD)/user/vigild/%.o:   USER_INC := -Iuser/lib -Iuser/maps -Iuser/vigild
$(BUILD)/user/vigilctl/%.o: USER_INC := -Iuser/lib -Iuser/maps -Iuser/vigilctl

UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNIT_OBJS   := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%.o)
TOOL_SRCS   := $(wildcard tests/tools/*.c)
# BPF program tests (BPF_PROG_TEST_RUN, need root): one binary per file.
BPFTEST_SRCS := $(wildcard tests/bpf/test_*.c)
BPFTESTS    := $(BPFTEST_SRCS:tests/bpf/%.c=$(BUILD)/tests/bpf/%)
TOOLS       := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tools/%)

.PHONY: all tools test unit integration test-mutants bench demo install deps clean vmlinux
all: $(BUILD)/vigild $(BUILD)/vigilctl tools $(BPFTESTS)

tools: $(TOOLS)

$(BUILD)/%.bpf.o: bpf/%.bpf.c | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# `gen object` strips DWARF so the skeleton embeds only what libbpf needs.
$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen object $(BUILD)/$*.linked.o $<
	$(Q)$(BPFTOOL) gen skeleton $(BUILD)/$*.linked.o name $*_bpf > $@

# Skeleton headers must exist before anything that includes them is compiled
# (found by name; -MMD tracks them from then on).
$(call user_objs,$(shell grep -l '\.skel\.h"' $(USER_SRCS) /dev/null)): $(SKELETONS)

# The commit vigild reports (vigil_build_info on /metrics): a header that
# is rewritten only when the commit changes, so nothing rebuilds otherwise.
$(BUILD)/vigil_commit.h: FORCE | $(BUILD)
	$(Q)c=$$(git rev-parse --short=12 HEAD 2>/dev/null) && \
	{ git diff --quiet HEAD -- 2>/dev/null || c=$$c-dirty; } || c=unknown; \
	printf '#define VIGIL_COMMIT "%s"\n' "$$c" >$@.tmp; \
	cmp -s $@.tmp $@ && rm -f $@.tmp || mv -f $@.tmp $@
$(call user_objs,$(shell grep -l '"vigil_commit.h"' $(USER_SRCS) /dev/null)): $(BUILD)/vigil_commit.h
.PHONY: FORCE
FORCE:

$(BUILD)/user/%.o: user/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(NL_CFLAGS) -c $< -o $@

$(BUILD)/vigild: $(VIGILD_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ $(LIBBPF_LIBS) $(YAML_LIBS) $(NL_ROUTE_LIBS) $(NL_LIBS) $(SYSTEMD_LIBS) \
		$(CAP_LIBS) $(CURL_LIBS) -ljansson -lpthread $(MHD_LIBS)

$(BUILD)/vigilctl: $(VIGILCTL_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ $(LIBBPF_LIBS) $(YAML_LIBS) $(JSON_LIBS)

$(BUILD)/tests/unit/%.o: tests/unit/%.c | $(BUILD)/tests/unit
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/unit-tests: $(UNIT_OBJS) $(PURE_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ $(CHECK_LIBS) $(YAML_LIBS) -lm

# vigil_sockdestroy compiles user/vigild/sockdestroy.c in, and with it libnl.
TOOL_CFLAGS :=
TOOL_LIBS   := -lpthread
$(BUILD)/tools/vigil_sockdestroy: TOOL_CFLAGS := $(NL_CFLAGS)
$(BUILD)/tools/vigil_sockdestroy: TOOL_LIBS := -lpthread $(NL_LIBS)

$(BUILD)/tools/%: tests/tools/%.c | $(BUILD)/tools
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(TOOL_CFLAGS) $< -o $@ $(TOOL_LIBS)

# Helpers shared by the BPF tests and the bench tool (tests/bpf/*helpers.c).
BPFTEST_LIB := $(BUILD)/tests/bpf/helpers.o $(BUILD)/tests/bpf/xdp_helpers.o

$(BUILD)/tests/bpf/%.o: tests/bpf/%.c $(SKELETONS) | $(BUILD)/tests/bpf
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/tests/bpf/%: tests/bpf/%.c $(SKELETONS) $(MAPS_OBJS) $(PURE_OBJS) $(BPFTEST_LIB) | $(BUILD)/tests/bpf
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $< $(BPFTEST_LIB) $(MAPS_OBJS) $(PURE_OBJS) -o $@ $(LIBBPF_LIBS) $(YAML_LIBS) -lm

# Bench tools (figures, no assertions): tests/bench/X.c -> $(BUILD)/bench/X.
all: $(BUILD)/bench/xdp_bench
# xdp_ab: builds of the XDP program alternating in one process (docs/xdp.md, Cost).
all: $(BUILD)/bench/xdp_ab
$(BUILD)/bench/%: tests/bench/%.c $(SKELETONS) $(PURE_OBJS) $(BPFTEST_LIB)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $< $(BPFTEST_LIB) $(PURE_OBJS) -o $@ $(LIBBPF_LIBS) $(YAML_LIBS) -lm
# bpf_floor (scripts/bench.sh FLOOR=1) loads its own object, empty programs
# on vigil's hooks and the parts of vigil_connect4 (tests/bench/floor.bpf.c).
all: $(BUILD)/bench/bpf_floor
$(BUILD)/bench/floor.bpf.o: tests/bench/floor.bpf.c
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
$(BUILD)/bench/floor.skel.h: $(BUILD)/bench/floor.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen object $(BUILD)/bench/floor.linked.o $<
	$(Q)$(BPFTOOL) gen skeleton $(BUILD)/bench/floor.linked.o name floor_bpf > $@
$(BUILD)/bench/bpf_floor: tests/bench/bpf_floor.c $(BUILD)/bench/floor.skel.h $(PURE_OBJS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $< $(PURE_OBJS) -o $@ $(LIBBPF_LIBS) $(YAML_LIBS) -lm
# cluster_scale drives etcd with vigild's own client (docs/cluster.md, "Scale").
all: $(BUILD)/bench/cluster_scale
$(BUILD)/bench/cluster_scale: tests/bench/cluster_scale.c $(BUILD)/user/vigild/etcd.o
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -Iuser/vigild $^ -o $@ $(CURL_LIBS) -ljansson -lpthread
-include $(wildcard $(BUILD)/bench/*.d)

$(BUILD) $(BUILD)/user $(BUILD)/tests/unit $(BUILD)/tools $(BUILD)/tests/bpf:
	$(Q)mkdir -p $@

unit: $(BUILD)/unit-tests
	$(Q)tests/unit/run.sh $(BUILD)/unit-tests

integration: all
	$(Q)tests/integration/run.sh

# Unit tests first (no root needed), then real-traffic tests in namespaces.
# deps first, and the build in a sub-make so that `make -j test` on a fresh
# machine does not compile while the headers are still being installed.
test: deps
	$(Q)$(MAKE) --no-print-directory all $(BUILD)/unit-tests
	$(Q)tests/run.sh

# No include cycle between the modules of user/, no include against its
# layers (scripts/check-includes.sh says how); the shipped systemd unit
# verifies and stays below its exposure threshold (scripts/check-unit.sh,
# skipped without systemd-analyze); part of `make test`.
.PHONY: check
check:
	$(Q)scripts/check-includes.sh
	$(Q)scripts/check-unit.sh || [ $$? -eq 77 ]
test: check

# Mutation smoke test: each core behaviour switched off in turn (make
# MUTANT=name) must make its guarding tests fail. Root; guards that create
# namespaces run under flock /tmp/vigil-net.lock (or $VIGIL_NET_LOCK).
test-mutants: all $(BUILD)/unit-tests
	$(Q)tests/mutants.sh

# Fuzzing (docs/testing.md, "Fuzzing"): afl++ feeds files to the config
# loader + validator (user/lib, built with afl-clang-fast and ASan) for
# FUZZ_SECONDS (default 90); fails on any crash or hang. Not part of test.
AFL_CC      ?= afl-clang-fast
FUZZ_CFLAGS := -O1 -g $(WARN) -std=gnu11 -Iinclude -Iuser/lib
.PHONY: fuzz
$(BUILD)/fuzz/fuzz_config: tests/fuzz/fuzz_config.c $(PURE_SRCS) $(wildcard user/lib/*.h)
	$(call msg,AFL-CC,$@)
	$(Q)command -v $(AFL_CC) >/dev/null || { echo "fuzz: $(AFL_CC) not found: apt-get install afl++" >&2; exit 1; }
	$(Q)mkdir -p $(@D)
	$(Q)AFL_USE_ASAN=1 AFL_QUIET=1 $(AFL_CC) $(FUZZ_CFLAGS) tests/fuzz/fuzz_config.c $(PURE_SRCS) \
		-o $@ $(YAML_LIBS) -lm

# afl++ first (only this target needs it), the harness in a sub-make.
fuzz:
	$(Q)scripts/deps.sh afl++
	$(Q)$(MAKE) --no-print-directory $(BUILD)/fuzz/fuzz_config
	$(Q)tests/fuzz/run.sh $(BUILD)/fuzz/fuzz_config

# Figures, not assertions: monitor overhead (with the floor of its hooks:
# empty programs on the same hooks, the least any program set there costs), XDP per-packet cost and
# forwarding rate, XDP detection from request signals, failover against
# HAProxy on one netns testbed, vigil feeding HAProxy and nginx.
bench: all
	$(Q)FLOOR=1 scripts/bench.sh
	$(Q)$(BUILD)/bench/xdp_bench
	$(Q)scripts/bench-xdp.sh
	$(Q)scripts/bench-xdp-detect.sh
	$(Q)scripts/bench-xdp-rescue.sh
	$(Q)scripts/bench-failover.sh
	$(Q)scripts/bench-metrics.sh
	$(Q)scripts/bench-lb-feed.sh

# deps first, the build in a sub-make (as for test).
demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo.sh

deps:
	$(Q)scripts/deps.sh

vmlinux:
	$(Q)scripts/gen-vmlinux.sh $(ARCH)

install: $(BUILD)/vigild $(BUILD)/vigilctl
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/vigil
	install -m 0755 $(BUILD)/vigild $(DESTDIR)$(PREFIX)/sbin/vigild
	install -m 0755 $(BUILD)/vigilctl $(DESTDIR)$(PREFIX)/bin/vigilctl
	install -m 0644 examples/vigil.yaml $(DESTDIR)$(PREFIX)/share/vigil/vigil.yaml.example
	install -d $(DESTDIR)/lib/systemd/system
	sed 's|/usr/local|$(PREFIX)|g' scripts/vigild.service > $(DESTDIR)/lib/systemd/system/vigild.service
	install -d $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0644 man/vigil.yaml.5 $(DESTDIR)$(PREFIX)/share/man/man5/vigil.yaml.5
	install -m 0644 man/vigild.8 man/vigilctl.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -d $(DESTDIR)$(PREFIX)/share/doc/vigil
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/vigil/

# Debian package (scripts/build-deb.sh): build/vigil_VERSION_ARCH.deb from a
# `make install DESTDIR=... PREFIX=/usr` staging tree. `make image`: an OCI
# image built only from Debian packages and that .deb (scripts/build-image.sh).
# Slow checks, not part of `make test` (.ci/run calls them):
#   test-package  the .deb installs, runs and purges in a scratch Debian root;
#                 the Kubernetes manifests validate offline (tests/package/)
#   test-image    failover tests with vigild running from the image in podman
.PHONY: deb image test-package test-image
deb: all
	$(Q)scripts/deps.sh dpkg-dev
	$(Q)BUILD=$(BUILD) scripts/build-deb.sh

image: deb
	$(Q)scripts/deps.sh mmdebstrap podman runc
	$(Q)BUILD=$(BUILD) scripts/build-image.sh

test-package: deb
	$(Q)scripts/deps.sh mmdebstrap man-db
	$(Q)command -v kubectl >/dev/null || scripts/deps.sh kubernetes-client
	$(Q)command -v npm >/dev/null || scripts/deps.sh nodejs npm
	$(Q)BUILD=$(BUILD) tests/package/test_deb.sh
	$(Q)BUILD=$(BUILD) tests/package/test_manifests.sh

test-image: image
	$(Q)BUILD=$(BUILD) tests/package/test_image.sh

clean:
	rm -rf $(BUILD)

-include $(wildcard $(BUILD)/*.d $(BUILD)/user/*/*.d $(BUILD)/tests/unit/*.d $(BUILD)/tools/*.d \
	$(BUILD)/tests/bpf/*.d)
