# pg_guardrails: build with PGXS.
#
#   make                    build
#   make install            install into the server found by PG_CONFIG
#   make installcheck       pg_regress + TAP tests, each on a temporary
#                           server of their own (install first)
#   make unittest           the bucket math, without a server
#   make bench              the benchmark (test/bench.sh)
#
# test/check.sh does all of this from a fresh machine; see README.md.

EXTENSION = pg_guardrails
EXTVERSION = $(shell sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" $(EXTENSION).control)

MODULE_big = pg_guardrails
OBJS = \
	src/pg_guardrails.o \
	src/hooks.o \
	src/shmem.o \
	src/histogram.o \
	src/latency.o \
	src/config.o \
	src/identifier.o \
	src/index_visibility.o \
	src/token_bucket.o \
	src/connection_limits.o \
	src/digest_limits.o \
	src/ddl_lock.o \
	src/ddl_policy.o \
	src/ddl_audit.o \
	src/ddl_redact.o \
	src/ddl_worker.o
PGFILEDESC = "pg_guardrails - latency percentiles and guardrails per query digest"

# Released scripts are never edited: 1.0 is installed as it shipped, and
# each release step has its upgrade script.  The full script of the version
# under development is built from the last release and the upgrade scripts
# since, so that a fresh install and an upgraded one run the same SQL.
DATA = $(EXTENSION)--1.0.sql $(EXTENSION)--1.0--1.1.sql
DATA_built = $(EXTENSION)--1.1.sql


REGRESS = latency latency_input privileges index_visibility digest_limits ddl_policy ddl_log ddl_log_scs hardening
REGRESS_OPTS = \
	--temp-config=$(srcdir)/test/regress.conf \
	--temp-instance=$(CURDIR)/tmp_check_regress \
	--load-extension=pg_stat_statements

TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

PG_CPPFLAGS = -I$(srcdir)/src -DGRD_VERSION=\"$(EXTVERSION)\"
EXTRA_CLEAN = tmp_check_regress test/test_histogram results regression.diffs regression.out

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# (after PGXS, so that its "all" stays the default goal)
$(EXTENSION)--1.1.sql: $(EXTENSION)--1.0.sql $(EXTENSION)--1.0--1.1.sql
	{ echo '/* $@: built by the Makefile from $^ */'; cat $^; } > $@

# The bucket math is plain C and is tested without a server.
test/test_histogram: test/test_histogram.c src/histogram.c src/histogram.h
	$(CC) $(CFLAGS) -I$(srcdir)/src -o $@ test/test_histogram.c src/histogram.c -lm

unittest: test/test_histogram
	test/test_histogram

bench:
	bash $(srcdir)/test/bench.sh

.PHONY: unittest bench

# The two halves of installcheck, separately (test/check.sh runs both).
installcheck-regress: submake $(REGRESS_PREP)
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)

installcheck-tap:
	$(prove_installcheck)

.PHONY: installcheck-regress installcheck-tap
