# strata: layered image builder and union-filesystem manager.
# `make` builds ./strata; `make check` runs every test; see README.md.

PREFIX ?= /usr/local
DESTDIR ?=
VERSION := 0.1.0

CC ?= cc
PKGS := libarchive libcrypto libzstd mount libcurl jansson libseccomp zlib fuse3
TEST_PKGS := check

# Library flags come from pkg-config only; a missing package stops the build
# with pkg-config's own message, which names it.
# libcurl, libfuse3, libarchive and libcrypto are compiled against but not
# linked: registry/curl-load.c loads libcurl on first use, procview/server.c
# libfuse3 when a /proc view starts, layers/libarchive-load.c libarchive when
# a tar is first read or written, util/digest.c libcrypto at the first
# digest (all through util/dlib.c), so commands that need none of them do
# not map them (BENCHMARKS.md: the start of a command).
LINK_PKGS := $(filter-out libcurl fuse3 libarchive libcrypto,$(PKGS))
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(LINK_PKGS))
TEST_CFLAGS = $(shell pkg-config --cflags $(TEST_PKGS))
TEST_LIBS = $(shell pkg-config --libs $(TEST_PKGS))

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wwrite-strings -Wvla -Wswitch-enum -fno-common
BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE -g $(WARN) -I. -DSTRATA_VERSION='"$(VERSION)"' -pthread

ifdef SANITIZE
BUILD ?= build-san
OPT := -O1 -fno-omit-frame-pointer -fsanitize=$(SANITIZE) -fno-sanitize-recover=undefined
else
BUILD ?= build
OPT := -O2 -D_FORTIFY_SOURCE=2
endif

CFLAGS_ALL = $(BASE_CFLAGS) $(OPT) $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(OPT) -pthread -Wl,--as-needed -Wl,-O1 $(LDFLAGS)

MODULES := util store layers overlay procview launch registry recipe
LIB_SRCS := $(sort $(foreach m,$(MODULES),$(wildcard $(m)/*.c)))
CMD_SRCS := $(sort $(wildcard cmd/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
CMD_OBJS := $(CMD_SRCS:%.c=$(BUILD)/%.o)
LIB := $(BUILD)/libstrata.a

UNIT_SRCS := $(sort $(wildcard tests/unit/test-*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_HELPER := $(BUILD)/tests/unit/unit.o
# Programs the tests run: no-fsopen makes fsopen(2) fail so mount(2) fallbacks run;
# no-userns makes user namespaces fail so the rootless error is seen;
# ptrace-probe (static, bound into containers) tries ptrace and process_vm_readv;
# read-loop (static, bound into containers) times N opens and reads of a file.
TEST_HELPERS := $(BUILD)/tests/no-fsopen $(BUILD)/tests/no-userns $(BUILD)/tests/ptrace-probe \
	$(BUILD)/tests/read-loop

ifdef SANITIZE
BIN := $(BUILD)/strata
else
BIN := strata
endif

.PHONY: all deps check unit integration asan bench demo install lint lint-test fmt clean fuzz crash-trials

all: $(BIN)

# V=1 shows the whole command lines.
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @echo "  $(1)	$(2)"
endif

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS_ALL) $(TEST_CFLAGS) -MMD -MP -c $< -o $@

# The init of `run --init`: a static program whose bytes launch/init.c
# includes (.incbin), so that it runs in any rootfs and needs no file on
# the host. Never sanitized: it runs alone in the container.
INIT_BIN := $(BUILD)/launch/init/strata-init
$(INIT_BIN): launch/init/main.c
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) -std=gnu11 -D_GNU_SOURCE $(WARN) -Os -static -s -o $@ $<

$(BUILD)/launch/init.o: $(INIT_BIN)
$(BUILD)/launch/init.o: CFLAGS_ALL += -DSTRATA_INIT_BIN='"$(INIT_BIN)"'

$(LIB): $(LIB_OBJS)
	@rm -f $@
	$(call say,AR,$@)
	$(Q)ar rcs $@ $^

$(BIN): $(CMD_OBJS) $(LIB)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $(CMD_OBJS) $(LIB) $(PKG_LIBS) -lm

$(BUILD)/tests/test-%: $(BUILD)/tests/unit/test-%.o $(UNIT_HELPER) $(LIB)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(UNIT_HELPER) $(LIB) $(PKG_LIBS) $(TEST_LIBS) -lm

# The cmd suite links the commands (all of cmd/ but main.o) to test their option parsing.
# The template suite links them too: the template engine lives in cmd/.
CMD_TEST_OBJS := $(filter-out $(BUILD)/cmd/main.o,$(CMD_OBJS))
$(BUILD)/tests/test-cmd $(BUILD)/tests/test-template: $(BUILD)/tests/%: $(BUILD)/tests/unit/%.o \
		$(UNIT_HELPER) $(CMD_TEST_OBJS) $(LIB)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(UNIT_HELPER) $(CMD_TEST_OBJS) $(LIB) $(PKG_LIBS) \
		$(TEST_LIBS) -lm

$(BUILD)/tests/%: tests/helpers/%.c
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(PKG_LIBS)

# Static and without the sanitizers: it runs inside a container's rootfs.
$(BUILD)/tests/ptrace-probe $(BUILD)/tests/read-loop: $(BUILD)/tests/%: tests/helpers/%.c
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(BASE_CFLAGS) -O2 -static -o $@ $<

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

deps:
	@scripts/deps.sh

# Everything: unit suites, the lint, then the end-to-end scenarios.
check: deps
	$(MAKE) $(BIN) units
	$(MAKE) lint lint-test
	$(MAKE) unit
	$(MAKE) integration

units: $(UNIT_BINS) $(TEST_HELPERS)

unit: $(UNIT_BINS)
	@scripts/run-unit.sh $(UNIT_BINS)

integration: $(BIN) $(TEST_HELPERS)
	@STRATA_BIN=$(abspath $(BIN)) STRATA_TEST_HELPERS=$(abspath $(BUILD)/tests) \
		tests/run-integration.sh

# The long form of the crash trials (root): CRASH_TRIALS kills at random
# points of every store operation, then WRITERS_ROUNDS rounds of 8
# concurrent writers. `make check` runs a short form of both.
CRASH_TRIALS ?= 200
WRITERS_ROUNDS ?= 20
crash-trials: $(BIN)
	@STRATA_BIN=$(abspath $(BIN)) sh tests/crash/crash-trials.sh $(CRASH_TRIALS)
	@STRATA_BIN=$(abspath $(BIN)) sh tests/crash/writers.sh $(WRITERS_ROUNDS) 8

# AddressSanitizer and LeakSanitizer write their reports into files, so that
# a report from a command whose failure a test expects, or whose stderr it
# reads or drops, still fails the run (the rootless tests run strata as
# nobody: the folder is writable by all). UndefinedBehaviorSanitizer, which
# ignores log_path inside ASan's runtime, ends the process (exit 1) with its
# report on stderr. Sanitized code runs two to three times slower: each
# end-to-end test gets 30 minutes instead of 10, each unit test 4 times its
# Check timeout.
SAN_REPORTS := $(abspath build-san/reports)
asan:
	@rm -rf $(SAN_REPORTS) && mkdir -p -m 1777 $(SAN_REPORTS)
	@ASAN_OPTIONS=log_path=$(SAN_REPORTS)/asan UBSAN_OPTIONS=print_stacktrace=1 \
	STRATA_TEST_TIMEOUT=$${STRATA_TEST_TIMEOUT:-1800} \
	CK_TIMEOUT_MULTIPLIER=$${CK_TIMEOUT_MULTIPLIER:-4} \
		$(MAKE) SANITIZE=address,undefined check; rc=$$?; \
	if [ -n "$$(ls -A $(SAN_REPORTS))" ]; then \
		echo "sanitizer reports ($(SAN_REPORTS)):"; head -n 40 $(SAN_REPORTS)/*; exit 1; \
	fi; exit $$rc

valgrind: $(UNIT_BINS)
	@VALGRIND=1 scripts/run-unit.sh $(UNIT_BINS)

bench: $(BIN)
	@scripts/deps.sh bench
	@STRATA_BIN=$(abspath $(BIN)) bench/run-all.sh

demo: deps $(BIN)
	@STRATA_BIN=$(abspath $(BIN)) scripts/demo.sh

install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/strata

# libFuzzer targets (clang): each tests/fuzz/fuzz-NAME.c (the recipe parser,
# references, WWW-Authenticate challenges, manifests/indexes/configs,
# --change instructions, .dockerignore patterns, registries.conf TOML) runs for FUZZ_TIME seconds
# over its seeds in tests/fuzz/corpus/NAME and what it found before.
FUZZ_TIME ?= 60
FUZZ_SAN := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz-*.c))
fuzz:
	$(MAKE) CC=clang BUILD=build-fuzz OPT="$(FUZZ_SAN)" CFLAGS=-Wno-error build-fuzz/libstrata.a
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "  FUZZ	$$t ($(FUZZ_TIME) s)"; \
		clang $(BASE_CFLAGS) -Wno-error $(PKG_CFLAGS) -O1 -g -fsanitize=fuzzer,address,undefined \
			tests/fuzz/$$t.c build-fuzz/libstrata.a $(PKG_LIBS) -lm -o build-fuzz/$$t; \
		mkdir -p build-fuzz/corpus/$$t; \
		build-fuzz/$$t -max_total_time=$(FUZZ_TIME) -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 build-fuzz/corpus/$$t tests/fuzz/corpus/$${t#fuzz-}; \
	done

# The rules of docs/STYLE.md a compiler does not check, on the sources and the objects.
lint: $(LIB_OBJS) $(CMD_OBJS)
	@scripts/lint.sh $(BUILD)

# The lint's own test: each rule broken in a copy of the tree must fail it.
lint-test: $(LIB_OBJS) $(CMD_OBJS)
	@tests/lint/test-lint.sh $(BUILD)

fmt:
	clang-format -i $(LIB_SRCS) $(CMD_SRCS) $(wildcard */*.h) $(wildcard tests/unit/*.[ch])

clean:
	rm -rf build build-san build-fuzz strata
