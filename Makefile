# wedata_rerun: collectd plugin that reruns failed WeData workflow runs.
#
#   make            build build/wedata_rerun.so and build/wedata-rerun-state
#   make test       every test: unit, unit under ASan+UBSan, integration
#   make demo       the plugin's main job end to end, against a local stand-in
#   make install    plugin, state tool + conf.d snippet, an existing one kept (DESTDIR)
#   make uninstall  the plugin and the state tool (the config stays)
#   make bench      benchmarks: print figures, assert nothing
#   make fuzz       every libFuzzer target for FUZZ_SECONDS (default 60) each
#   make valgrind   collectd with the plugin under memcheck, one scenario
#   make soak       30 simulated minutes of failures, restarts every minute (a few real ones)
#   make prom-rules promtool: check the Prometheus rules and run their unit tests
#   make screenshot the README's picture of Prometheus (docs/prometheus-graph.png)

VERSION     := 0.1.0
PLUGIN_DIR  ?= /usr/lib/collectd
BINDIR      ?= /usr/bin
CONF_DIR    ?= /etc/collectd/collectd.conf.d
BUILD       ?= build
PYTHON      ?= python3

# Debian packages the build, the tests and the demo need.
DEB_PKGS := gcc make pkg-config perl collectd-core collectd-dev libcurl4-openssl-dev \
            libssl-dev libyajl-dev libcmocka-dev python3 openssl \
            libcurl3-gnutls clang-format clang libclang-rt-14-dev valgrind gdb \
            lintian libprotobuf-c1 libmicrohttpd12 prometheus chromium

PKGS      := libcurl libcrypto yajl
CPPFLAGS  += -D_GNU_SOURCE -DHAVE_CONFIG_H -DWDR_VERSION='"$(VERSION)"' \
             -I/usr/include/collectd -I/usr/include/collectd/core -Iinclude
CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 -Wall -Wextra -Werror -fPIC
# Only module_register is exported (it carries visibility("default")).
CFLAGS    += -fvisibility=hidden

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

MODULES   := $(sort $(wildcard plugin/wdr_*.c))
HEADERS   := $(wildcard include/*.h)
PLUGIN_SO := $(BUILD)/wedata_rerun.so
# The state tool (wedata-rerun-state): its main is plugin/wedata_rerun_state.c,
# outside MODULES; everything else it uses is in the library.
STATE_TOOL := $(BUILD)/wedata-rerun-state
# Every module is compiled once into a static library that the plugin, the
# unit tests and the benchmarks link; the sanitizer build likewise.
LIB       := $(BUILD)/libwdr.a
SAN_LIB   := $(BUILD)/san/libwdr.a
OBJS      := $(patsubst plugin/%.c,$(BUILD)/obj/%.o,$(MODULES))
SAN_OBJS  := $(patsubst plugin/%.c,$(BUILD)/san/obj/%.o,$(MODULES))

UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(sort $(wildcard tests/unit/test_*.c)))
SAN_FLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=all

# libFuzzer targets (Debian's clang), one per parser; the modules are
# built again with coverage, ASan and UBSan for them.
FUZZ_CC      ?= clang
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_FLAGS   := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
                -fno-sanitize-recover=all
FUZZ_LIB     := $(BUILD)/fuzz/libwdr.a
FUZZ_OBJS    := $(patsubst plugin/%.c,$(BUILD)/fuzz/obj/%.o,$(MODULES))
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 4

.PHONY: all deps test unit unit-san integration demo bench install uninstall \
        format format-check clean fuzz fuzz-smoke valgrind soak man deb prom-rules \
        screenshot

all: $(PLUGIN_SO) $(STATE_TOOL)

$(PLUGIN_SO): plugin/wedata_rerun.c $(LIB) $(HEADERS) | $(BUILD)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -shared -o $@ \
	    plugin/wedata_rerun.c $(LIB) $(PKG_LIBS) -lpthread -lm

$(STATE_TOOL): plugin/wedata_rerun_state.c $(LIB) $(HEADERS) | $(BUILD)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -Wl,--as-needed -o $@ \
	    plugin/wedata_rerun_state.c $(LIB) $(PKG_LIBS) -lpthread -lm

$(BUILD)/obj/%.o: plugin/%.c $(HEADERS) | $(BUILD)/obj
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/san/obj/%.o: plugin/%.c $(HEADERS) | $(BUILD)/san/obj
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -O1 $(SAN_FLAGS) -c -o $@ $<

$(LIB): $(OBJS)
	rm -f $@ && ar rcs $@ $^

$(SAN_LIB): $(SAN_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/fuzz/obj/%.o: plugin/%.c $(HEADERS) | $(BUILD)/fuzz/obj
	$(FUZZ_CC) $(CPPFLAGS) $(PKG_CFLAGS) -std=gnu11 -Wall -Wextra -Werror \
	    $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h $(FUZZ_LIB) $(HEADERS) \
    | $(BUILD)/fuzz
	$(FUZZ_CC) $(CPPFLAGS) $(PKG_CFLAGS) -std=gnu11 -Wall -Wextra -Werror \
	    $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB) $(PKG_LIBS) \
	    -lpthread -lm

$(BUILD) $(BUILD)/san $(BUILD)/obj $(BUILD)/san/obj $(BUILD)/fuzz $(BUILD)/fuzz/obj:
	mkdir -p $@

# collectd-wedata_rerun(5): POD written from the option table by gen_man
# (which fails when an option has no example), checked by podchecker.
MAN_PAGE := $(BUILD)/collectd-wedata_rerun.5

$(BUILD)/gen_man: plugin/gen_man.c $(LIB) $(HEADERS) | $(BUILD)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -o $@ $< $(LIB) $(PKG_LIBS) \
	    -lpthread -lm

$(MAN_PAGE): $(BUILD)/gen_man
	$(BUILD)/gen_man > $(BUILD)/collectd-wedata_rerun.pod
	podchecker $(BUILD)/collectd-wedata_rerun.pod
	pod2man --section=5 --center="collectd plugins" \
	    --release="wedata_rerun $(VERSION)" --name=COLLECTD-WEDATA_RERUN \
	    $(BUILD)/collectd-wedata_rerun.pod > $@

# wedata-rerun-state(1): written by hand in POD.
TOOL_MAN := $(BUILD)/wedata-rerun-state.1

$(TOOL_MAN): docs/wedata-rerun-state.pod | $(BUILD)
	podchecker docs/wedata-rerun-state.pod
	pod2man --section=1 --center="collectd plugins" \
	    --release="wedata_rerun $(VERSION)" --name=WEDATA-RERUN-STATE \
	    docs/wedata-rerun-state.pod > $@

man: $(MAN_PAGE) $(TOOL_MAN)

# The Debian package collectd-wedata-rerun (debian/build-deb.sh): built
# from the plugin, the state tool and the man pages; lintian must report
# no error.
deb: $(PLUGIN_SO) $(STATE_TOOL) $(MAN_PAGE) $(TOOL_MAN)
	sh debian/build-deb.sh $(BUILD) $(VERSION)

# Installs what is missing when run as root; otherwise only says what is.
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:" $$missing; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages (run as root to install):" $$missing; exit 1; \
	  fi; \
	fi

# Unit tests link the modules' library, never the collectd glue.
$(BUILD)/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(LIB) $(HEADERS) | $(BUILD)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -o $@ $< $(LIB) \
	    $(PKG_LIBS) -lcmocka -lpthread -lm

$(BUILD)/san/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(SAN_LIB) $(HEADERS) | $(BUILD)/san
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -O1 $(SAN_FLAGS) -o $@ $< \
	    $(SAN_LIB) $(PKG_LIBS) -lcmocka -lpthread -lm

unit: $(addprefix $(BUILD)/,$(UNIT_TESTS))
	@set -e; for t in $(UNIT_TESTS); do \
	  (cd tests/unit && ../../$(BUILD)/$$t); done

unit-san: $(addprefix $(BUILD)/san/,$(UNIT_TESTS))
	@set -e; for t in $(UNIT_TESTS); do \
	  (cd tests/unit && ASAN_OPTIONS=detect_leaks=1 \
	   UBSAN_OPTIONS=print_stacktrace=1 ../../$(BUILD)/san/$$t); done

# The demo runs here too, so that the README's first command stays working.
integration: $(PLUGIN_SO)
	$(PYTHON) tests/integration/run_tests.py --plugin $(PLUGIN_SO)
	$(PYTHON) tests/integration/demo.py --plugin $(PLUGIN_SO) > $(BUILD)/demo.log 2>&1 \
	    || { tail -n 60 $(BUILD)/demo.log; exit 1; }
	@tail -n 1 $(BUILD)/demo.log

test: deps
	$(MAKE) format-check
	$(MAKE) prom-rules
	$(MAKE) all
	$(MAKE) man
	$(MAKE) deb
	$(MAKE) unit
	$(MAKE) unit-san
	$(MAKE) fuzz-smoke
	$(MAKE) integration
	$(MAKE) valgrind

# The alerting and recording rules (contrib/prometheus): syntax, then
# promtool's unit tests (every alert firing and not, every record's value).
PROM_RULES := contrib/prometheus/wedata_rerun.rules.yml
prom-rules:
	promtool check rules $(PROM_RULES)
	promtool test rules contrib/prometheus/wedata_rerun.rules.test.yml

# The README's picture: test_prometheus (real collectd with write_prometheus,
# Prometheus, the stand-in) feeding failures 100 s longer, then headless
# Chromium saving Prometheus's graph page of reruns and errors.
screenshot: $(PLUGIN_SO)
	mkdir -p docs
	WEDATA_SCREENSHOT=$(CURDIR)/docs/prometheus-graph.png WEDATA_SCREENSHOT_SECONDS=100 \
	    $(PYTHON) tests/integration/run_tests.py --plugin $(PLUGIN_SO) --no-standin \
	    -k test_prometheus

# collectd and the plugin under memcheck: errors, tracking, a restart and
# SIGTERM; no invalid access, no definite leak (collectd's own suppressed
# by name in tests/integration/valgrind.supp).
valgrind: $(PLUGIN_SO)
	$(PYTHON) tests/integration/valgrind_check.py --plugin $(PLUGIN_SO)

# 20,000 failures (SOAK_FAILURES) with churn over SOAK_SECONDS (240), collectd
# restarted every simulated minute: prints figures per restart, fails on a
# run lost or rerun twice and on RSS or descriptors growing after warm-up.
# Not part of make test: about 4.5 minutes and half a core.
soak: $(PLUGIN_SO)
	$(PYTHON) tests/soak/soak.py --plugin $(PLUGIN_SO)

# Every regression input once, then FUZZ_SECONDS of fuzzing per target;
# prints executions and coverage. fuzz-smoke: the same for a few seconds.
fuzz: $(addprefix $(BUILD)/fuzz/,$(FUZZ_TARGETS))
	$(PYTHON) tests/fuzz/run_fuzz.py --build $(BUILD)/fuzz --seconds $(FUZZ_SECONDS) \
	    $(FUZZ_TARGETS)

fuzz-smoke: $(addprefix $(BUILD)/fuzz/,$(FUZZ_TARGETS))
	$(PYTHON) tests/fuzz/run_fuzz.py --build $(BUILD)/fuzz \
	    --seconds $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)

demo: deps
	$(MAKE) all
	$(PYTHON) tests/integration/demo.py --plugin $(PLUGIN_SO)

$(BUILD)/bench_callback: tests/bench/bench_callback.c $(LIB) $(HEADERS) | $(BUILD)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -o $@ $< $(LIB) \
	    $(PKG_LIBS) -lpthread -lm

$(BUILD)/bench_state: tests/bench/bench_state.c $(LIB) $(HEADERS) | $(BUILD)
	$(CC) $(CPPFLAGS) -Itests/unit $(PKG_CFLAGS) $(CFLAGS) -o $@ $< $(LIB) \
	    $(PKG_LIBS) -lcmocka -lpthread -lm

$(BUILD)/gen_state: tests/bench/gen_state.c $(LIB) $(HEADERS) | $(BUILD)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -o $@ $< $(LIB) \
	    $(PKG_LIBS) -lpthread -lm

bench: deps
	$(MAKE) all $(BUILD)/bench_callback $(BUILD)/bench_state $(BUILD)/gen_state
	$(BUILD)/bench_state
	$(PYTHON) tests/bench/state_tool.py --build $(BUILD)
	$(BUILD)/bench_callback
	$(PYTHON) tests/bench/drain.py --plugin $(PLUGIN_SO)
	$(PYTHON) tests/bench/cpu.py --plugin $(PLUGIN_SO)

# The snippet may hold the operator's settings (a SecretKey even): an
# existing one is never overwritten; the new one goes beside it as .dist.
install: $(PLUGIN_SO) $(STATE_TOOL)
	install -D -m 0644 $(PLUGIN_SO) $(DESTDIR)$(PLUGIN_DIR)/wedata_rerun.so
	install -D -m 0755 $(STATE_TOOL) $(DESTDIR)$(BINDIR)/wedata-rerun-state
	@if [ -e $(DESTDIR)$(CONF_DIR)/wedata_rerun.conf ]; then \
	  install -D -m 0640 conf.d/wedata_rerun.conf \
	      $(DESTDIR)$(CONF_DIR)/wedata_rerun.conf.dist; \
	  echo "kept $(DESTDIR)$(CONF_DIR)/wedata_rerun.conf; the new snippet is" \
	       "$(DESTDIR)$(CONF_DIR)/wedata_rerun.conf.dist"; \
	else \
	  install -D -m 0640 conf.d/wedata_rerun.conf \
	      $(DESTDIR)$(CONF_DIR)/wedata_rerun.conf; \
	  echo "installed $(DESTDIR)$(CONF_DIR)/wedata_rerun.conf"; \
	fi

# The plugin goes; the config (and any .dist beside it) stays.
uninstall:
	rm -f $(DESTDIR)$(PLUGIN_DIR)/wedata_rerun.so $(DESTDIR)$(BINDIR)/wedata-rerun-state
	@echo "removed $(DESTDIR)$(PLUGIN_DIR)/wedata_rerun.so and" \
	     "$(DESTDIR)$(BINDIR)/wedata-rerun-state; kept" \
	     "$(DESTDIR)$(CONF_DIR)/wedata_rerun.conf"

format:
	clang-format -i plugin/*.c include/*.h tests/unit/*.c tests/unit/*.h tests/bench/*.c \
	    tests/fuzz/*.c tests/fuzz/*.h

format-check:
	clang-format --dry-run -Werror plugin/*.c include/*.h tests/unit/*.c tests/unit/*.h \
	    tests/bench/*.c tests/fuzz/*.c tests/fuzz/*.h

clean:
	rm -rf $(BUILD)
