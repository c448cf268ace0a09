EXTENSION = monolith
EXTVERSION = 0.8.0

MODULE_big = monolith
CORE_OBJS = src/cuckoo.o src/sketch.o src/featkey.o src/optim.o src/model.o src/model_sync.o src/sync_format.o src/metrics.o src/crc32c.o src/snapshot_format.o src/model_save.o
GLUE_OBJS = src/monolith.o src/shmem.o src/modeldef.o src/catalog.o src/privileges.o src/lifecycle.o src/features.o src/spill_log.o src/commit_train.o src/sql_train.o src/expiry.o src/sql_query.o src/sql_trigger.o src/joiner.o src/sync.o src/replica.o src/worker.o src/sql_metrics.o src/auc_spill.o src/sync_rows.o src/snapshot.o src/restore.o src/sql_snapshot.o
OBJS = $(CORE_OBJS) $(GLUE_OBJS)
DATA = $(wildcard sql/$(EXTENSION)--*.sql)
PGFILEDESC = "monolith - online recommendation models in shared memory"

REGRESS = install create_model train_score expire auc errors deepfm train_query negative_sampling privileges search_path call_sites lifecycle train_trigger joiner snapshot upgrade
REGRESS_OPTS = --temp-config=$(srcdir)/test/monolith.conf --temp-instance=./tmp_check --inputdir=$(srcdir)
TAP_TESTS = 1

# The core's loops over embeddings vectorize: -fno-math-errno lets sqrtf inline
# (nothing reads errno), and the cheap cost model accepts loops of unknown length.
PG_CFLAGS = -std=gnu11 -fno-math-errno -fvect-cost-model=cheap -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare -Wno-clobbered -Wno-cast-function-type
SHLIB_LINK = -lm

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies; every object depends on every header.
$(OBJS): $(wildcard src/*.h)

# The core, built and tested as a plain C program under AddressSanitizer
# and UndefinedBehaviorSanitizer, with no PostgreSQL in sight.
CORE_SRCS = $(CORE_OBJS:.o=.c)
CORE_TEST_FLAGS = -std=gnu11 -fno-math-errno -O1 -g -Wall -Wextra -Werror -fsanitize=address,undefined -fno-sanitize-recover=all
CORE_TESTS = test_cuckoo test_featkey test_optim test_model test_metrics test_sync_format test_snapshot_format test_model_save

build/%: test/%.c test/heap_env.c test/*.h $(CORE_SRCS) src/*.h
	@mkdir -p build
	$(CC) $(CORE_TEST_FLAGS) -o $@ $< test/heap_env.c $(CORE_SRCS) -lm -lpthread

.PHONY: unittest bench
unittest: $(addprefix build/,$(CORE_TESTS))
	@for t in $(CORE_TESTS); do ./build/$$t || exit 1; done

# libFuzzer targets of the core (clang), under AddressSanitizer and UBSan;
# bench/fuzz.sh runs each for a while.
FUZZ_TARGETS = fuzz_cuckoo fuzz_featkey fuzz_sync_format fuzz_snapshot_format fuzz_model_save
FUZZ_FLAGS = -std=gnu11 -fno-math-errno -O1 -g -Wall -Wextra -Werror -Wno-unused-parameter -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

build/fuzz_%: test/fuzz_%.c test/heap_env.c test/*.h $(CORE_SRCS) src/*.h
	@mkdir -p build
	clang $(FUZZ_FLAGS) -o $@ $< test/heap_env.c $(CORE_SRCS) -lm -lpthread

.PHONY: fuzz
fuzz: $(addprefix build/,$(FUZZ_TARGETS))

build/cuckoo_bench: bench/cuckoo_bench.cc test/heap_env.c $(CORE_SRCS) src/*.h
	@mkdir -p build
	g++ -O2 -march=native -std=gnu++17 -c bench/cuckoo_bench.cc -o build/cuckoo_bench.o
	for f in $(CORE_SRCS) test/heap_env.c; do $(CC) -O2 -march=native -std=gnu11 -c $$f -o build/$$(basename $$f .c).core.o || exit 1; done
	g++ -o $@ build/cuckoo_bench.o $(patsubst %.c,build/%.core.o,$(notdir $(CORE_SRCS) test/heap_env.c)) -lm -lpthread

build/sync_drain: bench/sync_drain.c test/heap_env.c $(CORE_SRCS) src/*.h
	@mkdir -p build
	$(CC) -O2 -std=gnu11 -fno-math-errno -Wall -Wextra -Werror -o $@ bench/sync_drain.c test/heap_env.c $(CORE_SRCS) -lm -lpthread

bench: build/cuckoo_bench
	./build/cuckoo_bench

# The training loop outside PostgreSQL, built with the extension's own flags.
build/train_standalone: bench/train_standalone.c test/heap_env.c $(CORE_SRCS) src/*.h
	@mkdir -p build
	$(CC) $(CFLAGS) $(PG_CFLAGS) -o $@ $< test/heap_env.c $(CORE_SRCS) -lm -lpthread
