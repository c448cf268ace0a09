// cuckoo_bench.cc
//		The embedding table against libcuckoo (the map Monolith uses), same
//		keys, same 32-float values, same run, single-threaded: insert,
//		lookup hit, lookup miss and in-place update rates, and bytes an entry.
//
// Both sides pay for their locks as a training backend would: ours takes the
// table lock shared per operation (one atomic to take and one to release,
// as an uncontended LWLock), libcuckoo its
// bucket spinlocks.  Each figure is the median of three runs.
#include <libcuckoo/cuckoohash_map.hh>

#include <malloc.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

extern "C"
{
#include "../src/cuckoo.h"
#include "../test/heap_env.h"
}

namespace
{

constexpr int kValueFloats = 32;
constexpr int kRuns = 3;
using Value = std::array<float, kValueFloats>;
using LibMap = libcuckoo::cuckoohash_map<uint64_t, Value>;

double
seconds_of(const std::function<void()> &fn)
{
	auto start = std::chrono::steady_clock::now();
	fn();
	return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

size_t
heap_in_use()
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

double
median(std::vector<double> v)
{
	std::sort(v.begin(), v.end());
	return v[v.size() / 2];
}

void
fill_value(const void *, uint64_t key, void *value)
{
	float *v = static_cast<float *>(value);
	for (int i = 0; i < kValueFloats; i++)
		v[i] = static_cast<float>(key & 0xff) + i;
}

const CuckooValueInit kInit = {fill_value, nullptr};

struct Ours
{
	HeapEnv heap;
	CuckooTable table;

	Ours()
	{
		CuckooConfig config;
		ck_default_config(&config, kValueFloats * sizeof(float));
		heap_env_init(&heap, CK_LOCK_STRIPE0 + config.n_stripes, 0);
		if (!ck_init(&table, &heap.env, &config))
			abort();
	}
	~Ours()
	{
		ck_destroy(&table, &heap.env);
		heap_env_free(&heap);
	}
	const CoreEnv *env() const { return &heap.env; }

	// As model.c's admit_entries: shared lock, exclusive only to make room.
	void insert(uint64_t key)
	{
		CuckooEntry *e;
		env()->lock(env()->lock_ctx, CK_LOCK_TABLE, false);
		CuckooResult r = ck_find_or_admit(&table, env(), key, 1, &kInit, &e);
		env()->unlock(env()->lock_ctx, CK_LOCK_TABLE);
		if (r == CK_NEED_EXCLUSIVE)
		{
			env()->lock(env()->lock_ctx, CK_LOCK_TABLE, true);
			ck_insert_exclusive(&table, env(), key, 1, &kInit, &e);
			env()->unlock(env()->lock_ctx, CK_LOCK_TABLE);
		}
	}
	float lookup(uint64_t key)
	{
		env()->lock(env()->lock_ctx, CK_LOCK_TABLE, false);
		CuckooEntry *e = ck_find(&table, env(), key);
		float r = e ? static_cast<float *>(CK_VALUE(e))[0] : 0.0f;
		env()->unlock(env()->lock_ctx, CK_LOCK_TABLE);
		return r;
	}
	void update(uint64_t key)
	{
		env()->lock(env()->lock_ctx, CK_LOCK_TABLE, false);
		CuckooEntry *e = ck_find(&table, env(), key);
		float *v = static_cast<float *>(CK_VALUE(e));
		for (int i = 0; i < kValueFloats; i++)
			v[i] += 0.5f;
		env()->unlock(env()->lock_ctx, CK_LOCK_TABLE);
	}
};

struct Figures
{
	std::vector<double> insert, hit, miss, update, bytes;
};

void
report(const char *what, double ours, double theirs, const char *unit, double target, bool higher_is_better)
{
	double ratio = ours / theirs;
	bool pass = higher_is_better ? ratio >= target : ratio <= target;
	printf("%-22s %12.3f %12.3f %-8s %8.2fx   %s%.1fx  %s\n", what, ours, theirs, unit, ratio,
		   higher_is_better ? ">= " : "<= ", target, pass ? "PASS" : "FAIL");
}

} // namespace

int
main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoull(argv[1], nullptr, 10) : 4000000;
	std::vector<uint64_t> keys(n), absent(n);
	for (size_t i = 0; i < n; i++)
	{
		keys[i] = ck_mix64(2 * i + 1);
		absent[i] = ck_mix64(2 * i + 2);
	}
	Figures ours, lib;
	volatile float sink = 0;

	for (int run = 0; run < kRuns; run++)
	{
		{
			size_t before = heap_in_use();
			Ours t;
			double s = seconds_of([&] { for (uint64_t k : keys) t.insert(k); });
			ours.insert.push_back(n / s / 1e6);
			ours.bytes.push_back(static_cast<double>(heap_in_use() - before) / n);
			if (t.table.live != n)
				abort();
			s = seconds_of([&] { float acc = 0; for (uint64_t k : keys) acc += t.lookup(k); sink = acc; });
			ours.hit.push_back(n / s / 1e6);
			s = seconds_of([&] { float acc = 0; for (uint64_t k : absent) acc += t.lookup(k); sink = acc; });
			ours.miss.push_back(n / s / 1e6);
			s = seconds_of([&] { for (uint64_t k : keys) t.update(k); });
			ours.update.push_back(n / s / 1e6);
			if (run == 0)
				printf("ours: %lu entries, table bytes/entry %.1f, index of %u segments (load %.2f), %u chunks\n",
					   (unsigned long) t.table.live, (double) t.table.bytes / t.table.live,
					   t.table.n_segments,
					   (double) t.table.live / ck_index_slots(&t.table), t.table.n_chunks);
		}
		{
			size_t before = heap_in_use();
			LibMap m;
			double s = seconds_of([&] {
				for (uint64_t k : keys)
				{
					Value v;
					fill_value(nullptr, k, v.data());
					m.insert(k, v);
				}
			});
			lib.insert.push_back(n / s / 1e6);
			lib.bytes.push_back(static_cast<double>(heap_in_use() - before) / n);
			if (m.size() != n)
				abort();
			s = seconds_of([&] {
				float acc = 0;
				for (uint64_t k : keys)
					m.find_fn(k, [&](const Value &v) { acc += v[0]; });
				sink = acc;
			});
			lib.hit.push_back(n / s / 1e6);
			s = seconds_of([&] {
				float acc = 0;
				for (uint64_t k : absent)
					m.find_fn(k, [&](const Value &v) { acc += v[0]; });
				sink = acc;
			});
			lib.miss.push_back(n / s / 1e6);
			s = seconds_of([&] {
				for (uint64_t k : keys)
					m.update_fn(k, [](Value &v) { for (float &x : v) x += 0.5f; });
			});
			lib.update.push_back(n / s / 1e6);
		}
	}
	(void) sink;

	const double raw = sizeof(uint64_t) + sizeof(Value);
	printf("\n%zu random u64 keys -> %d floats, single-threaded, median of %d runs (same run, same keys)\n",
		   n, kValueFloats, kRuns);
	printf("%-22s %12s %12s %-8s %9s   %-6s\n", "", "ours", "libcuckoo", "", "ours/lib", "target");
	report("insert", median(ours.insert), median(lib.insert), "M/s", 1.5, true);
	report("lookup hit", median(ours.hit), median(lib.hit), "M/s", 1.5, true);
	report("lookup miss", median(ours.miss), median(lib.miss), "M/s", 1.5, true);
	report("in-place update", median(ours.update), median(lib.update), "M/s", 1.5, true);
	printf("%-22s %12.1f %12.1f %-8s (raw entry %.0f bytes: ours %.2fx raw, libcuckoo %.2fx raw)\n",
		   "bytes per entry", median(ours.bytes), median(lib.bytes), "B", raw,
		   median(ours.bytes) / raw, median(lib.bytes) / raw);
	report("bytes per entry / raw", median(ours.bytes) / raw, 1.0, "", 1.2, false);
	return 0;
}
