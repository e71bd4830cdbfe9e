# framelake build. `make` builds libframelake.a, libframelake.so and the framelake CLI.
# `make test` runs every test (C unit tests under ASan+UBSan, CLI tests, crash/concurrency tests, fuzz smoke).
# `make SANITIZE=1` builds everything with ASan+UBSan. `make demo` runs the end-to-end demo.

PREFIX ?= /usr/local
PYTHON_SITE ?= $(PREFIX)/lib/python3.$(shell /usr/bin/python3 -c "import sys; print(sys.version_info.minor)" 2>/dev/null || echo 11)/dist-packages
CC ?= cc
SANITIZE ?= 0
BUILD ?= build

WARN := -Wall -Wextra -Werror
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -fPIC -Iinclude $(WARN)
ifeq ($(SANITIZE),1)
  OPT := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  BUILD := build-san
else
  OPT := -O2 -g
endif
CFLAGS := $(CFLAGS_BASE) $(OPT) $(EXTRA_CFLAGS)
# libturbojpeg renders synthetic footage, libzip reads BDD100K zips in place, libpg_query parses SQL,
# libstemmer stems full-text tokens, OpenBLAS does the heavy products of k-means and PQ training.
LIBS := -lzstd -lxxhash -lturbojpeg -lzip -lpg_query -lstemmer -lopenblas -lpthread -lm
TEST_LIBS :=

LIB_SRC := $(wildcard src/common/*.c src/io/*.c src/batch/*.c src/format/*.c src/table/*.c src/ingest/*.c src/compute/*.c src/query/*.c src/index/*.c src/search/*.c src/view/*.c src/loader/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC := $(wildcard cli/*.c)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/*.c)
TEST_BIN := $(patsubst tests/%.c,$(BUILD)/tests/%,$(filter-out tests/testlib.c,$(TEST_SRC)))

# C plugin UDFs: the example plugins (examples/plugins) and the test plugins (tests/plugins), built as
# shared objects that need only include/framelake_udf.h.
PLUGINS := $(patsubst examples/plugins/%.c,$(BUILD)/plugins/%.so,$(wildcard examples/plugins/*.c))
TEST_PLUGINS := $(patsubst tests/plugins/%.c,$(BUILD)/tests/plugins/%.so,$(wildcard tests/plugins/*.c))

.PHONY: all test test-c test-cli test-py test-fuzz test-diff clean install demo deps bench fuzz
all: $(BUILD)/libframelake.a $(BUILD)/libframelake.so $(BUILD)/framelake $(PLUGINS)
	@ln -sf $(BUILD)/framelake framelake

$(BUILD)/%.o: %.c $(wildcard include/*.h src/*/*.h cli/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libframelake.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libframelake.so: $(LIB_OBJ)
	$(CC) $(CFLAGS) -shared -Wl,-soname,libframelake.so.0 -o $@ $^ $(LIBS)

$(BUILD)/framelake: $(CLI_OBJ) $(BUILD)/libframelake.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libframelake.a $(LIBS)

$(BUILD)/plugins/%.so: examples/plugins/%.c include/framelake.h include/framelake_udf.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -shared -o $@ $< -lturbojpeg

$(BUILD)/tests/plugins/%.so: tests/plugins/%.c include/framelake.h include/framelake_udf.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -shared -o $@ $<

$(BUILD)/tests/test_plugin: $(PLUGINS) $(TEST_PLUGINS)

$(BUILD)/tests/%: tests/%.c tests/testlib.c tests/testlib.h $(BUILD)/libframelake.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -DFL_BUILD_DIR='"$(BUILD)"' -o $@ $< tests/testlib.c $(BUILD)/libframelake.a $(LIBS) $(TEST_LIBS)

deps:
	@scripts/install-deps.sh

# The C tests run under ASan+UBSan (a separate build tree), the CLI tests against the optimised binary.
test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory SANITIZE=1 test-c
	@$(MAKE) --no-print-directory test-cli
	@$(MAKE) --no-print-directory test-py
	@$(MAKE) --no-print-directory test-fuzz
	@$(MAKE) --no-print-directory test-diff

test-c: $(TEST_BIN)
	@scripts/run-c-tests.sh $(BUILD)/tests

test-cli: $(BUILD)/framelake
	@FRAMELAKE=$(CURDIR)/$(BUILD)/framelake tests/cli/run.sh

# Python tests (/usr/bin/python3 sees Debian's numpy, opencv, torch): the UDF worker protocol and workers.
test-py: $(BUILD)/framelake $(BUILD)/libframelake.so
	@FRAMELAKE=$(CURDIR)/$(BUILD)/framelake PYTHONPATH=$(CURDIR)/python OMP_NUM_THREADS=2 /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/python

# Differential tests against the npm peer (LanceDB): the same rows and SQL filters must count the same.
test-diff: $(BUILD)/framelake
	@FRAMELAKE=$(CURDIR)/$(BUILD)/framelake tests/differential/run.sh

# Fuzz targets: the library is compiled once with coverage instrumentation, each target links against it.
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,build-fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_CFLAGS := $(CFLAGS_BASE) -Isrc -O1 -g -fsanitize=address,undefined
FUZZ_OBJ := $(LIB_SRC:%.c=build-fuzz/obj/%.o)
build-fuzz/obj/%.o: %.c $(wildcard include/*.h src/*/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
build-fuzz/libframelake-fuzz.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^
build-fuzz/%: tests/fuzz/%.c $(wildcard tests/fuzz/*.h) build-fuzz/libframelake-fuzz.a
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< build-fuzz/libframelake-fuzz.a $(LIBS)

fuzz: $(FUZZ_TARGETS)
test-fuzz: $(FUZZ_TARGETS)
	@scripts/run-fuzz.sh smoke $(FUZZ_TARGETS)

demo: deps all
	@scripts/demo.sh

bench: deps all
	@bench/run_all

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(BUILD)/libframelake.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libframelake.so $(DESTDIR)$(PREFIX)/lib/libframelake.so.0
	ln -sf libframelake.so.0 $(DESTDIR)$(PREFIX)/lib/libframelake.so
	install -m 644 include/framelake.h include/framelake_udf.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(BUILD)/framelake $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(shell sed -n 's/^#define FL_VERSION_STRING "\(.*\)"/\1/p' include/framelake.h)|' \
	    framelake.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/framelake.pc
	# The Python package, where /usr/bin/python3 looks for PREFIX's packages; it loads the library installed above.
	install -d $(DESTDIR)$(PYTHON_SITE)/framelake/workers
	install -m 644 python/framelake/*.py $(DESTDIR)$(PYTHON_SITE)/framelake/
	install -m 644 python/framelake/workers/*.py $(DESTDIR)$(PYTHON_SITE)/framelake/workers/
	echo "$(PREFIX)/lib/libframelake.so.0" > $(DESTDIR)$(PYTHON_SITE)/framelake/_libpath.txt

clean:
	rm -rf build build-san build-fuzz framelake
