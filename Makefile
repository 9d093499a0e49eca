# libproxmox — plain GNU make.
#   make            library (shared + static) and programs into build/
#   make check      test suite (Check); SAN=1 builds and runs it under ASan + UBSan
#   make check-tsan the suites where threads meet, under ThreadSanitizer (build-tsan/)
#   make demo       starts pve-mock and runs the demo against it
#   make bench      benchmark against pve-mock (C, then the Python binding next to proxmoxer)
#   make docs       HTML reference from the public headers into $(B)/docs/html (Doxygen)
#   make downstream-check   install into a staging dir, build an example with pkg-config and
#                   CMake, import the Python package from there, uninstall
#   make fuzz       libFuzzer targets (clang) into build-fuzz/, each run FUZZ_SECONDS (60) on
#                   tests/fuzz/corpus/<target>; FUZZ_TARGETS picks some, make fuzz-build only builds
#   make generate   regenerate include/proxmox/gen and lib/gen from ../shared/schema
#   make abi-check  exported symbols against the append-only abi/libproxmox.symbols, struct layouts
#                   against abi/layout.txt, type layouts against abi/libproxmox.abi (abidiff)
#   make abi-update record new symbols and write the baseline layout and ABI dump (abidw)
#   make install / uninstall   honour PREFIX, DESTDIR, LIBDIR, INCLUDEDIR, BINDIR, MANDIR,
#                   CMAKEDIR, PYTHONDIR

VERSION_MAJOR := $(shell sed -n 's/^\#define PMX_VERSION_MAJOR \([0-9]*\)/\1/p' include/proxmox/version.h)
VERSION_MINOR := $(shell sed -n 's/^\#define PMX_VERSION_MINOR \([0-9]*\)/\1/p' include/proxmox/version.h)
VERSION_PATCH := $(shell sed -n 's/^\#define PMX_VERSION_PATCH \([0-9]*\)/\1/p' include/proxmox/version.h)
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
CMAKEDIR ?= $(LIBDIR)/cmake/libproxmox
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=
# Debian's python3 (python3-pytest and python3-proxmoxer install for it). Pure-Python modules go
# where Debian looks: /usr/lib/python3/dist-packages for PREFIX=/usr (packages), else
# $(PREFIX)/lib/python3.X/dist-packages (local installs).
PYTHON ?= /usr/bin/python3
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
ifeq ($(PREFIX),/usr)
PYTHONDIR ?= $(PREFIX)/lib/python3/dist-packages
else
PYTHONDIR ?= $(PREFIX)/lib/python$(PYTHON_VERSION)/dist-packages
endif

CC ?= cc
AR ?= ar
PKG_CONFIG ?= pkg-config
SCHEMA ?= ../shared/schema/pve-apidoc.json

ifeq ($(TSAN),1)
B ?= build-tsan
SANFLAGS := -fsanitize=thread
OPT ?= -O1 -g
NO_UNDEFINED :=
else ifeq ($(SAN),1)
B ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT ?= -O1 -g
# clang links the sanitizer runtime into executables only: a sanitized .so has undefined symbols.
NO_UNDEFINED :=
else
B ?= build
SANFLAGS :=
OPT ?= -O2 -g
NO_UNDEFINED := -Wl,--no-undefined
endif

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wno-unused-parameter
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(SANFLAGS) -Iinclude -Ilib
CFLAGS ?=
LDFLAGS ?=

DEP_CFLAGS := $(shell $(PKG_CONFIG) --cflags libcurl libcjson openssl 2>/dev/null)
DEP_LIBS := $(shell $(PKG_CONFIG) --libs libcurl libcjson openssl 2>/dev/null)
# What the library itself links (and what libproxmox.pc names): no cJSON, which only the tools use.
LIB_DEP_LIBS := $(shell $(PKG_CONFIG) --libs libcurl openssl 2>/dev/null)
EVENT_CFLAGS := $(shell $(PKG_CONFIG) --cflags libevent libevent_openssl 2>/dev/null)
EVENT_LIBS := $(shell $(PKG_CONFIG) --libs libevent libevent_openssl 2>/dev/null)
CHECK_CFLAGS := $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS := $(shell $(PKG_CONFIG) --libs check 2>/dev/null)
UV_CFLAGS := $(shell $(PKG_CONFIG) --cflags libuv 2>/dev/null)
UV_LIBS := $(shell $(PKG_CONFIG) --libs libuv 2>/dev/null)

LIB_SRCS := $(sort $(wildcard lib/*.c) $(wildcard lib/gen/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/obj/%.o)
LIB_HDRS := $(wildcard include/proxmox/*.h include/proxmox/gen/*.h lib/*.h)

SONAME := libproxmox.so.$(VERSION_MAJOR)
SHLIB := $(B)/lib/libproxmox.so.$(VERSION)
STLIB := $(B)/lib/libproxmox.a

MOCK_SRCS := $(sort $(wildcard tools/pve-mock/*.c))
GEN_SRCS := $(sort $(wildcard tools/pmx-gen/*.c))
CLI_SRCS := $(sort $(wildcard tools/pmx/*.c))
TEST_SRCS := $(sort $(wildcard tests/*.c))
EXAMPLES := $(patsubst examples/%.c,$(B)/bin/%,$(sort $(wildcard examples/*.c)))
BENCH_SRCS := $(sort $(wildcard bench/*.c))

PROGRAMS := $(B)/bin/pve-mock $(B)/bin/pmx-gen
ifneq ($(CLI_SRCS),)
PROGRAMS += $(B)/bin/pmx
endif

.PHONY: all build-all lib programs deps check check-tsan check-python demo bench fuzz fuzz-build generate generate-check abi-check abi-update abi-dump install uninstall clean examples docs downstream-check
# Plain `make` first installs missing Debian build packages (or says in one line what to install),
# then builds in a sub-make that sees them.
all:
	@sh tools/deps.sh build
	@$(MAKE) --no-print-directory build-all
build-all: lib programs examples
	@:

lib: $(SHLIB) $(STLIB)
programs: $(PROGRAMS)
examples: $(EXAMPLES)

deps:
	@sh tools/deps.sh

$(B)/obj/%.o: %.c $(LIB_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -fPIC -fvisibility=hidden -DPROXMOX_COMPILATION $(DEP_CFLAGS) $(GEN_CFLAGS) $(CFLAGS) -c $< -o $@

# The generated code is tables and one-line tail calls: no unwind tables (about 30 KB of
# .eh_frame for 700 wrappers that never need one).
$(B)/obj/lib/gen/%.o: GEN_CFLAGS = -fno-asynchronous-unwind-tables -fno-unwind-tables

$(SHLIB): $(LIB_OBJS) lib/libproxmox.map
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=lib/libproxmox.map $(NO_UNDEFINED) \
	  $(SANFLAGS) $(LDFLAGS) -o $@ $(LIB_OBJS) $(LIB_DEP_LIBS)
	ln -sf libproxmox.so.$(VERSION) $(B)/lib/$(SONAME)
	ln -sf $(SONAME) $(B)/lib/libproxmox.so

$(STLIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJS)

# Programs link the static library: they may use internal helpers.
PROG_CFLAGS = $(BASE_CFLAGS) $(DEP_CFLAGS) $(CFLAGS)
PROG_LIBS = $(STLIB) $(DEP_LIBS) -lm

$(B)/bin/pve-mock: $(MOCK_SRCS) $(wildcard tools/pve-mock/*.h) $(STLIB)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) $(EVENT_CFLAGS) -Itools/pve-mock $(LDFLAGS) -o $@ $(MOCK_SRCS) $(PROG_LIBS) $(EVENT_LIBS) -lz

$(B)/bin/pmx-gen: $(GEN_SRCS) $(wildcard tools/pmx-gen/*.h) lib/namehash.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(DEP_CFLAGS) $(CFLAGS) -Itools/pmx-gen $(LDFLAGS) -o $@ $(GEN_SRCS) $(DEP_LIBS)

$(B)/bin/pmx: $(CLI_SRCS) $(wildcard tools/pmx/*.h) $(STLIB)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) -Itools/pmx $(LDFLAGS) -o $@ $(CLI_SRCS) $(PROG_LIBS)

$(B)/bin/%: examples/%.c $(SHLIB)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(DEP_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< -L$(B)/lib -lproxmox $(DEP_LIBS) -Wl,-rpath,'$$ORIGIN/../lib'

$(B)/tests/check_all: $(TEST_SRCS) $(wildcard tests/*.h include/proxmox/adapters/*.h) $(STLIB)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) $(CHECK_CFLAGS) $(EVENT_CFLAGS) $(UV_CFLAGS) -Itests $(LDFLAGS) -o $@ $(TEST_SRCS) $(PROG_LIBS) $(CHECK_LIBS) $(EVENT_LIBS) $(UV_LIBS)

# Test programs run by the Check suites in processes of their own: one linked against a libcurl
# whose TLS backend is GnuTLS (pinning must fail closed there), one that must own the process's
# global set-up.
CURL_LIBDIR := $(shell $(PKG_CONFIG) --variable=libdir libcurl 2>/dev/null)
TEST_PROGS := $(B)/tests/tls_backend_gnutls $(B)/tests/global_init

$(B)/tests/tls_backend_gnutls: tests/progs/tls_backend.c $(STLIB)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) $(LDFLAGS) -o $@ $< $(STLIB) $(CURL_LIBDIR)/libcurl-gnutls.so.4 \
	  $(filter-out -lcurl,$(DEP_LIBS)) -lm

$(B)/tests/global_init: tests/progs/global_init.c $(STLIB)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) $(LDFLAGS) -o $@ $< $(PROG_LIBS)

$(B)/bin/upload-bench: bench/upload/upload.c bench/measure.h $(STLIB)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) $(LDFLAGS) -o $@ $< $(PROG_LIBS)

$(B)/bin/soak: bench/soak/soak.c bench/measure.h $(STLIB)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) $(LDFLAGS) -o $@ $< $(PROG_LIBS)

$(B)/bin/bench: $(BENCH_SRCS) bench/measure.h $(STLIB) $(SHLIB)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) $(LDFLAGS) -o $@ $(BENCH_SRCS) $(PROG_LIBS)

check: deps
	@$(MAKE) -s --no-print-directory all $(B)/tests/check_all $(TEST_PROGS)
	PMX_BUILD=$(B) PMX_SCHEMA=$(SCHEMA) $(B)/tests/check_all
	@$(MAKE) -s --no-print-directory check-python

# ThreadSanitizer over the suites where threads meet: the first clients of a process made on
# several threads at once (the global set-up), result blocks decoded on some threads and freed on
# others, and the core suite. A report fails the run.
check-tsan: deps
	@$(MAKE) -s --no-print-directory TSAN=1 build-tsan/tests/check_all build-tsan/bin/pve-mock \
	  build-tsan/tests/tls_backend_gnutls build-tsan/tests/global_init
	for suite in core decode; do \
	  TSAN_OPTIONS=halt_on_error=1:exitcode=66 CK_RUN_SUITE=$$suite PMX_BUILD=build-tsan \
	    PMX_SCHEMA=$(SCHEMA) build-tsan/tests/check_all || exit 1; \
	done

# The Python binding's tests load $(B)'s libproxmox.so.1. A sanitized library needs the
# sanitizer runtime loaded first into the (uninstrumented) interpreter, and no leak report on
# the interpreter's own memory.
ifeq ($(SAN),1)
SAN_RUNTIME := $(firstword $(wildcard $(shell $(CC) -print-file-name=libclang_rt.asan-$(shell uname -m).so) $(shell $(CC) -print-file-name=libasan.so)))
PY_TEST_ENV := LD_PRELOAD=$(SAN_RUNTIME) ASAN_OPTIONS=$(ASAN_OPTIONS):detect_leaks=0
endif
check-python: lib programs
	PMX_BUILD=$(abspath $(B)) LIBPROXMOX_LIBRARY=$(abspath $(B))/lib/$(SONAME) $(PY_TEST_ENV) \
	  $(PYTHON) -m pytest -q -p no:cacheprovider bindings/python/tests

demo: deps
	@$(MAKE) -s --no-print-directory all
	@sh examples/demo.sh $(B)

bench: deps
	@sh tools/deps.sh bench
	@$(MAKE) -s --no-print-directory all $(B)/bin/bench $(B)/bin/soak $(B)/bin/upload-bench
	@sh bench/run.sh $(B) $(PYTHON)

docs:
	@sh tools/deps.sh docs
	@sh tools/docs.sh $(B)

downstream-check: all
	@sh tools/downstream-check.sh $(B) $(PYTHON)

# ---- fuzzing (clang + libFuzzer): its own build dir and flags, independent of B / SAN ----
FUZZ_CC ?= clang
FB ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -O1 -g $(WARN) $(FUZZ_SAN) -Iinclude -Ilib
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES := $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=%)
FUZZ_TARGETS ?= $(FUZZ_NAMES)
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FB)/obj/%.o)
FUZZ_STLIB := $(FB)/lib/libproxmox.a

$(FB)/obj/%.o: %.c $(LIB_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -fPIC -fvisibility=hidden -DPROXMOX_COMPILATION \
	  $(DEP_CFLAGS) -c $< -o $@

$(FUZZ_STLIB): $(FUZZ_LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $(FUZZ_LIB_OBJS)

$(FB)/fuzz/%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(LIB_HDRS) $(FUZZ_STLIB)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(DEP_CFLAGS) -Itests/fuzz -o $@ $< $(FUZZ_STLIB) $(DEP_LIBS) -lm

fuzz-build: $(FUZZ_TARGETS:%=$(FB)/fuzz/%)

# New inputs go to $(FB)/corpus/<target> (not committed); the seeds are read-only inputs.
fuzz: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FB)/corpus/$$t $(FB)/artifacts/$$t; \
	  echo "== fuzz $$t ($(FUZZ_SECONDS)s)"; \
	  $(FB)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(FB)/artifacts/$$t/ $(FB)/corpus/$$t tests/fuzz/corpus/$$t; \
	done

generate: $(B)/bin/pmx-gen
	$(B)/bin/pmx-gen --schema $(SCHEMA) --overrides schema/overrides.json --pin schema/pin.json \
	  --layout schema/layout.txt --include-dir include/proxmox/gen --src-dir lib/gen \
	  --pyi bindings/python/libproxmox/_api.pyi

generate-check: $(B)/bin/pmx-gen
	@sh tools/generate-check.sh $(B) $(SCHEMA)

abi-check: $(SHLIB)
	@sh tools/abi-check.sh $(SHLIB)

abi-update: $(SHLIB)
	@sh tools/abi-check.sh $(SHLIB) --update

abi-dump: abi-update

$(B)/libproxmox.pc: pkgconfig/libproxmox.pc.in include/proxmox/version.h
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
	    -e 's|@VERSION@|$(VERSION)|g' $< > $@

$(B)/libproxmox-config.cmake: cmake/libproxmox-config.cmake.in include/proxmox/version.h Makefile
	@mkdir -p $(dir $@)
	sed -e 's|@INCLUDE_REL@|$(shell realpath -m --relative-to=$(CMAKEDIR) $(INCLUDEDIR))|g' \
	    -e 's|@LIB_REL@|$(shell realpath -m --relative-to=$(CMAKEDIR) $(LIBDIR))|g' \
	    -e 's|@SONAME@|$(SONAME)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@

$(B)/libproxmox-config-version.cmake: cmake/libproxmox-config-version.cmake.in include/proxmox/version.h
	@mkdir -p $(dir $@)
	sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@VERSION_MAJOR@|$(VERSION_MAJOR)|g' \
	    -e "s|@SIZEOF_VOID_P@|$$(printf __SIZEOF_POINTER__ | $(CC) -E -P -x c - | tail -n 1)|g" $< > $@

CMAKE_FILES := $(B)/libproxmox-config.cmake $(B)/libproxmox-config-version.cmake
PY_FILES := $(sort $(wildcard bindings/python/libproxmox/*.py bindings/python/libproxmox/*.pyi)) \
  bindings/python/libproxmox/py.typed

install: lib $(B)/libproxmox.pc $(CMAKE_FILES) programs
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/proxmox/gen $(DESTDIR)$(INCLUDEDIR)/proxmox/adapters \
	  $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(CMAKEDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 644 include/proxmox/*.h $(DESTDIR)$(INCLUDEDIR)/proxmox/
	install -m 644 include/proxmox/gen/*.h $(DESTDIR)$(INCLUDEDIR)/proxmox/gen/
	if ls include/proxmox/adapters/*.h >/dev/null 2>&1; then install -m 644 include/proxmox/adapters/*.h $(DESTDIR)$(INCLUDEDIR)/proxmox/adapters/; fi
	install -m 755 $(SHLIB) $(DESTDIR)$(LIBDIR)/
	ln -sf libproxmox.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libproxmox.so
	install -m 644 $(STLIB) $(DESTDIR)$(LIBDIR)/
	@# the system loader finds the new SONAME at once (for the Python package too)
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null 2>&1; then ldconfig; fi
	install -m 644 $(B)/libproxmox.pc $(DESTDIR)$(PKGCONFIGDIR)/
	install -m 755 $(filter-out %/pmx-gen,$(PROGRAMS)) $(DESTDIR)$(BINDIR)/
	install -m 644 $(CMAKE_FILES) $(DESTDIR)$(CMAKEDIR)/
	install -m 644 docs/man/pmx.1 docs/man/pve-mock.1 $(DESTDIR)$(MANDIR)/man1/
ifneq ($(PYTHON_VERSION),)
	install -d $(DESTDIR)$(PYTHONDIR)/libproxmox
	install -m 644 $(PY_FILES) $(DESTDIR)$(PYTHONDIR)/libproxmox/
	$(PYTHON) bindings/python/build_backend/backend.py metadata $(DESTDIR)$(PYTHONDIR)
else
	@echo "install: no $(PYTHON): the Python package is not installed (set PYTHON=...)"
endif

uninstall:
	rm -rf $(DESTDIR)$(INCLUDEDIR)/proxmox
	rm -f $(DESTDIR)$(LIBDIR)/libproxmox.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME) \
	  $(DESTDIR)$(LIBDIR)/libproxmox.so $(DESTDIR)$(LIBDIR)/libproxmox.a $(DESTDIR)$(PKGCONFIGDIR)/libproxmox.pc \
	  $(DESTDIR)$(BINDIR)/pve-mock $(DESTDIR)$(BINDIR)/pmx \
	  $(DESTDIR)$(MANDIR)/man1/pmx.1 $(DESTDIR)$(MANDIR)/man1/pve-mock.1
	rm -rf $(DESTDIR)$(CMAKEDIR) $(DESTDIR)$(PYTHONDIR)/libproxmox \
	  $(DESTDIR)$(PYTHONDIR)/libproxmox-*.dist-info

clean:
	rm -rf build build-san $(FB)

print-pythondir:
	@echo $(PYTHONDIR)
