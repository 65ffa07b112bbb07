// Load benchmark of the datastore (SQLite by default): creates N entries (default 1,000,000)
// through batches (default 1,000 per CreateEntries call) spread over agents of 1,000 entries each,
// then times the lookups an agent sync does: ListEntries by parent_id, and a workload match
// (kSubset selectors under one parent); then loads the EntryIndex from the store.
//
//   datastore_load_bench [--entries=N] [--batch=B] [--db=PATH | --postgres=CONNINFO]
//
// Prints the creation rate and p50/p99 lookup latencies. Uses the wall clock by design.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "src/server/datastore/datastore.h"
#include "src/server/entryindex/entry_index.h"

namespace signet::server {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

Selector MustSelector(const std::string& text) { return *Selector::Parse(text); }

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

int Run(int argc, char** argv) {
  int64_t entries = 1000000;
  int64_t batch = 1000;
  std::string db = "/tmp/signet-load-bench.db";
  std::string conninfo;  // PostgreSQL instead of SQLite (an empty database)
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--entries=") && absl::SimpleAtoi(arg, &entries)) continue;
    if (absl::ConsumePrefix(&arg, "--batch=") && absl::SimpleAtoi(arg, &batch)) continue;
    if (absl::ConsumePrefix(&arg, "--db=")) {
      db = std::string(arg);
      continue;
    }
    if (absl::ConsumePrefix(&arg, "--postgres=")) {
      conninfo = std::string(arg);
      continue;
    }
    std::fprintf(stderr, "usage: %s [--entries=N] [--batch=B] [--db=PATH | --postgres=CONNINFO]\n",
                 argv[0]);
    return 2;
  }
  DataStoreOptions options{.driver = "postgres", .connection_string = conninfo};
  if (conninfo.empty()) {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(db + suffix);
    }
    options = {.driver = "sqlite", .connection_string = db};
  }
  auto store = OpenDataStore(options);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    return 1;
  }
  constexpr int64_t kPerAgent = 1000;
  const auto start = Clock::now();
  std::vector<RegistrationEntry> items;
  for (int64_t done = 0; done < entries;) {
    items.clear();
    for (int64_t i = 0; i < batch && done + i < entries; ++i) {
      const int64_t n = done + i;
      RegistrationEntry e;
      e.spiffe_id = absl::StrCat("spiffe://example.org/ns/", n / kPerAgent, "/w", n % kPerAgent);
      e.parent_id = absl::StrCat("spiffe://example.org/agent/", n / kPerAgent);
      e.selectors = {MustSelector(absl::StrCat("unix:uid:", n % kPerAgent)),
                     MustSelector(absl::StrCat("k8s:ns:ns", n % kPerAgent % 7))};
      items.push_back(std::move(e));
    }
    auto results = (*store)->CreateEntries(items);
    if (!results.ok()) {
      std::fprintf(stderr, "create: %s\n", results.status().ToString().c_str());
      return 1;
    }
    for (const auto& r : *results) {
      if (!r.ok()) {
        std::fprintf(stderr, "create item: %s\n", r.status().ToString().c_str());
        return 1;
      }
    }
    done += static_cast<int64_t>(items.size());
  }
  const double create_s = Seconds(Clock::now() - start);
  std::printf("created %lld entries in %.1f s (%.0f entries/s, batches of %lld)\n",
              static_cast<long long>(entries), create_s, entries / create_s,  // NOLINT(runtime/int)
              static_cast<long long>(batch));                                 // NOLINT(runtime/int)

  const int64_t agents = std::max<int64_t>(1, entries / kPerAgent);
  std::vector<double> by_parent_ms;
  std::vector<double> subset_ms;
  for (int i = 0; i < 200; ++i) {
    const std::string parent = absl::StrCat("spiffe://example.org/agent/", (i * 7919) % agents);
    auto t0 = Clock::now();
    auto page = (*store)->ListEntries({.parent_id = parent}, "", kMaxPageSize);
    by_parent_ms.push_back(Seconds(Clock::now() - t0) * 1000);
    if (!page.ok() || static_cast<int64_t>(page->entries.size()) != std::min(kPerAgent, entries)) {
      std::fprintf(stderr, "list by parent: unexpected result\n");
      return 1;
    }
    t0 = Clock::now();
    auto match = (*store)->ListEntries(
        {.parent_id = parent,
         .selectors = std::vector<Selector>{MustSelector(absl::StrCat("unix:uid:", i)),
                                            MustSelector(absl::StrCat("k8s:ns:ns", i % 7)),
                                            MustSelector("unix:gid:0")},
         .selector_match = SelectorMatch::kSubset},
        "", kMaxPageSize);
    subset_ms.push_back(Seconds(Clock::now() - t0) * 1000);
    if (!match.ok() || match->entries.size() != 1) {
      std::fprintf(stderr, "workload match: unexpected result\n");
      return 1;
    }
  }
  std::printf("list by parent_id (1000 entries): p50 %.2f ms, p99 %.2f ms\n",
              Percentile(by_parent_ms, 0.5), Percentile(by_parent_ms, 0.99));
  std::printf("workload match (kSubset under a parent): p50 %.2f ms, p99 %.2f ms\n",
              Percentile(subset_ms, 0.5), Percentile(subset_ms, 0.99));
  const auto load_start = Clock::now();
  auto index = EntryIndex::Load(**store, **store);
  if (!index.ok() || static_cast<int64_t>((*index)->size()) != entries) {
    std::fprintf(stderr, "entry index: %s\n",
                 index.ok() ? "wrong size" : index.status().ToString().c_str());
    return 1;
  }
  std::printf("entry index load (%lld entries): %.2f s\n",
              static_cast<long long>(entries),  // NOLINT(runtime/int)
              Seconds(Clock::now() - load_start));
  (*store)->Close();
  return 0;
}

}  // namespace
}  // namespace signet::server

int main(int argc, char** argv) { return signet::server::Run(argc, argv); }
