# kiln — plain GNU Makefile. Dependencies come from pkg-config.
#   make                 build ./kiln
#   make check           unit tests (cmocka, src/**/*_test.c) and e2e tests (tests/e2e)
#   make check SANITIZE=address,undefined
#   make lint            clang-format check, cppcheck, clang-tidy
#   make fuzz            short libFuzzer runs of every tests/fuzz/fuzz_*.c
#   make demo            train, gate and predict on the bundled example
#   make bench           ML benchmarks against scikit-learn / XGBoost (bench/)
# Options: SANITIZE=..., DEBUG=1, WERROR=1, FUZZ_TIME=seconds per target.

VERSION := 0.1.0
CC ?= cc
PKGS := jansson libcrypto yaml-0.1 sqlite3
# XGBoost's headers only: src/ml/xgb.c loads the library with dlopen when a
# model is trained, so commands that never train do not carry it in memory.
# The same for DYN_PKGS, opened on first use by src/dyn/ (docs/build.md):
# linked, they and their dependencies cost every process ~4 ms before main.
DYN_PKGS := libmicrohttpd libcurl libpq libgit2
PKGS_HEADERS := xgboost $(DYN_PKGS)
LIBS_EXTRA := -llinear -lm -lpthread -ldl

SANITIZE ?=
DEBUG ?=
WERROR ?=
FUZZ_TIME ?= 10

ifeq ($(SANITIZE),)
BUILD ?= build/default
else
BUILD ?= build/san
endif

WARN := -Wall -Wextra -Wpedantic -Wvla -Wshadow -Wstrict-prototypes -Wwrite-strings \
        -Wno-unused-parameter
ifneq ($(WERROR),)
WARN += -Werror
endif
OPT := $(if $(DEBUG),-O0 -g3,-O2 -g)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) $(PKGS_HEADERS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
SAN_FLAGS := $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer)

DYN_FLAGS := $(shell scripts/dynflags.sh $(DYN_PKGS))

CPPFLAGS += -Isrc -D_GNU_SOURCE -DKILN_VERSION='"$(VERSION)"' $(DYN_FLAGS)
CFLAGS += -std=c11 $(WARN) $(OPT) $(SAN_FLAGS) $(PKG_CFLAGS) -MMD -MP
LDFLAGS += $(SAN_FLAGS)
LDLIBS += $(PKG_LIBS) $(LIBS_EXTRA)

ALL_SRC := $(shell find src -name '*.c' | sort)
TEST_SRC := $(filter %_test.c,$(ALL_SRC))
LIB_SRC := $(filter-out %_test.c src/main.c,$(ALL_SRC))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
# Unit tests and fuzzers link the subsystems, not the command layer.
CORE_SRC := $(filter-out src/cli/%,$(LIB_SRC))
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_SRC:src/%.c=$(BUILD)/test/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

.PHONY: all check test unit e2e lint fuzz demo bench clean deps
all: kiln

deps:
	@scripts/deps.sh

$(BUILD)/kiln: $(BUILD)/src/main.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

kiln: $(BUILD)/kiln
	cp $< $@

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/test/%: $(BUILD)/src/%.o $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs cmocka)

# `make check` installs what it needs, then runs everything and prints one
# closing line "check: N passed, N failed".
check: deps
	@$(MAKE) --no-print-directory $(BUILD)/kiln $(TEST_BIN)
	@tests/run.sh $(BUILD)/kiln $(TEST_BIN)
test: check

unit: $(TEST_BIN)
	@tests/run.sh --unit-only $(BUILD)/kiln $(TEST_BIN)

e2e: $(BUILD)/kiln
	@tests/run.sh --e2e-only $(BUILD)/kiln

demo: deps
	@$(MAKE) --no-print-directory kiln
	@examples/demo.sh ./kiln

bench: kiln
	@scripts/deps.sh --bench
	@bench/ml.sh
bench-store: kiln $(BUILD)/test/store/db_test ; @bench/store.sh

FUZZ_CC := clang
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_BUILD := build/fuzz
FUZZ_LIB_OBJ := $(CORE_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -std=c11 -g -O1 -fsanitize=fuzzer-no-link,address,undefined $(PKG_CFLAGS) -c -o $@ $<
$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_FLAGS) $(PKG_CFLAGS) -o $@ $^ $(LDLIBS)
fuzz: deps $(FUZZ_BIN)
	@tests/fuzz/run.sh $(FUZZ_TIME) $(FUZZ_BIN)

FMT_SRC = $(shell find src tests/fuzz -name '*.[ch]' | sort)
lint:
	@scripts/deps.sh --lint
	@! grep -nE "\b(strcpy|strcat|sprintf|vsprintf|strtok|gets|atoi)\s*\(" $(FMT_SRC) || { echo "banned function (see STYLE.md)"; exit 1; }
	clang-format --dry-run --Werror $(FMT_SRC)
	cppcheck -q --error-exitcode=1 --enable=warning,portability --inline-suppr \
	    --suppress=missingIncludeSystem -Isrc src
	clang-tidy --quiet $(LIB_SRC) src/main.c -- $(CPPFLAGS) -std=c11 $(PKG_CFLAGS)

clean:
	rm -rf build kiln

-include $(shell find build -name '*.d' 2>/dev/null)
