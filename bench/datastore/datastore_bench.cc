// Load benchmark of the server on its SQLite datastore, driven through the admin API of the real
// `signet` binary run as a child process, next to the raw OpenSSL ECDSA P-256 sign rate measured
// in the same run. The machine is shared and noisy: absolute times drift, ratios hold.
//
//   build/release/bench/datastore/datastore_bench [--entries=N] [--batch=B] [--threads=T]
//       [--lookups=L] [--restarts=R] [--layout=interleaved|grouped] [--sequential_ids]
//       [--signet=PATH] [--keep]
//
// Phases, on a fresh SQLite file in a temporary directory under /tmp:
//   1. start `signet server run`; create N entries (default 1,000,000) with BatchCreateEntry, B
//      per call (default 1,000) from T client threads, checking every per-item result;
//   2. stop the server (SIGTERM) and restart it R times on the same data: cold start is the time
//      from fork/exec to the first successful Health call;
//   3. the authorized-entries lookup of an agent owning 1,000 entries: in the server's EntryIndex
//      (loaded in-process from the same file, what the agent sync reads), and for comparison
//      ListEntries by parent_id through the admin API and directly on the DataStore (page size
//      1,000);
//   4. update 1,000 entries (UpdateEntry), then time ChangesSince(N, 1000).
// Every entry belongs to one of N/1000 agents. "interleaved" (default) spreads each agent's
// entries over the whole creation order, as entries registered over time are; "grouped" creates
// them agent by agent (the best case for locality). --sequential_ids makes the client choose
// increasing entry ids instead of letting the server draw random ones: a diagnostic that shows
// what the random keys cost.
//
// Prints a table (metric, value, target, ratio, result) and exits 1 when a target is missed,
// 2 on bad flags and 3 when the run itself fails. Uses the wall clock and randomness by design.
#include <fcntl.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "bench/common/bench_support.h"
#include "bench/datastore/options.h"
#include "bench/datastore/report.h"
#include "signet/admin/v1/admin.grpc.pb.h"
#include "src/common/status_macros.h"
#include "src/crypto/key.h"
#include "src/crypto/ossl.h"
#include "src/server/datastore/datastore.h"
#include "src/server/entryindex/entry_index.h"

namespace signet::server {
namespace {

namespace pb = ::signet::admin::v1;
using bench::AdminChannel;
using bench::Ctx;
using bench::DatastoreBenchOptions;
using bench::kEntriesPerAgent;
using bench::Latencies;
using bench::LogTail;
using bench::Median;
using bench::ParseDatastoreBenchFlags;
using bench::Report;
using bench::SecondsSince;
using bench::ServerProcess;
using bench::SignRate;
using bench::SteadyClock;
using bench::TempDir;
using bench::ThreadCpuSeconds;
using bench::WaitReady;
using bench::WriteSmallFile;

constexpr int kUpdates = 1000;
constexpr int kChangesSinceRuns = 200;
constexpr int kWarmupLookups = 10;
constexpr absl::string_view kTrustDomain = "example.org";

// The targets of the issue, on the project machine (2 cores, SQLite).
constexpr double kCreateTargetSeconds = 60;
constexpr double kColdStartTargetSeconds = 5;
constexpr double kLookupP99TargetMs = 5;

// ---------------------------------------------------------------- the workload

std::string AgentId(int64_t agent) {
  return absl::StrCat("spiffe://", kTrustDomain, "/agent/node-", agent);
}

// Entry number `n` of `o.entries`: owned by one of o.entries/1000 agents, two selectors.
pb::Entry EntryNumber(int64_t n, const DatastoreBenchOptions& o) {
  const int64_t agents = o.entries / kEntriesPerAgent;
  const int64_t agent = o.grouped ? n / kEntriesPerAgent : n % agents;
  const int64_t team = (o.grouped ? n % kEntriesPerAgent : n / agents) % 100;
  pb::Entry e;
  if (o.sequential_ids) {
    e.set_id(absl::StrFormat("%032x", n));
  }
  e.set_spiffe_id(absl::StrCat("spiffe://", kTrustDomain, "/ns/team-", team, "/sa/app-", n));
  e.set_parent_id(AgentId(agent));
  pb::Selector* ns = e.add_selectors();
  ns->set_type("k8s");
  ns->set_value(absl::StrCat("ns:team-", team));
  pb::Selector* sa = e.add_selectors();
  sa->set_type("k8s");
  sa->set_value(absl::StrCat("sa:app-", n));
  return e;
}

struct Started {
  std::unique_ptr<ServerProcess> process;
  double ready_s = 0;
};

absl::StatusOr<Started> StartServer(const DatastoreBenchOptions& o, const TempDir& dir) {
  const std::string socket = dir.File("admin.sock");
  const auto start = SteadyClock::now();
  Started s{.process = std::make_unique<ServerProcess>(o.signet, dir.File("server.yaml"),
                                                       dir.File("server.log"))};
  if (!s.process->started()) {
    return absl::InternalError("fork failed");
  }
  SIGNET_ASSIGN_OR_RETURN(s.ready_s, WaitReady(*s.process, socket, start));
  return s;
}

absl::Status WriteConfig(const TempDir& dir) {
  const std::string yaml = absl::StrCat(
      "trust_domain: ", kTrustDomain, "\n", "data_dir: ", dir.File("data"), "\n",
      "admin_socket: ", dir.File("admin.sock"), "\n", "bind_address: 127.0.0.1:0\n",
      "datastore:\n  driver: sqlite\n  connection_string: ", dir.File("data/datastore.sqlite3"),
      "\n", "log:\n  level: warn\n");
  std::FILE* f = std::fopen(dir.File("server.yaml").c_str(), "w");
  if (f == nullptr) {
    return absl::UnavailableError("cannot write server.yaml");
  }
  const bool ok = std::fwrite(yaml.data(), 1, yaml.size(), f) == yaml.size();
  return std::fclose(f) == 0 && ok ? absl::OkStatus()
                                   : absl::UnavailableError("cannot write server.yaml");
}

// ---------------------------------------------------------------- phase 1: creates

absl::Status CreateBatch(pb::Entries::Stub& stub, const DatastoreBenchOptions& o, int64_t first) {
  pb::BatchCreateEntryRequest req;
  const int64_t end = std::min(o.entries, first + o.batch);
  for (int64_t n = first; n < end; ++n) {
    *req.add_entries() = EntryNumber(n, o);
  }
  pb::BatchCreateEntryResponse resp;
  grpc::Status status = stub.BatchCreateEntry(Ctx(300).get(), req, &resp);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("BatchCreateEntry: ", status.error_message()));
  }
  if (resp.results_size() != req.entries_size()) {
    return absl::InternalError("BatchCreateEntry: wrong number of results");
  }
  for (int i = 0; i < resp.results_size(); ++i) {
    const pb::EntryResult& r = resp.results(i);
    if (r.status().code() != 0 || r.entry().id().size() != 32 ||
        r.entry().spiffe_id() != req.entries(i).spiffe_id()) {
      return absl::InternalError(absl::StrCat("BatchCreateEntry: entry ", first + i, ": code ",
                                              r.status().code(), " ", r.status().message()));
    }
  }
  return absl::OkStatus();
}

struct CreateResult {
  double seconds = 0;
  std::vector<double> tenths_s;  // when each tenth of the entries was done, since the start
};

// Creates every entry from o.threads client threads.
absl::StatusOr<CreateResult> CreateAll(const std::string& socket, const DatastoreBenchOptions& o) {
  std::shared_ptr<grpc::Channel> channel = AdminChannel(socket);
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  absl::Mutex mu;
  absl::Status failure;
  CreateResult result;
  const auto start = SteadyClock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&] {
      auto stub = pb::Entries::NewStub(channel);
      for (int64_t first = next.fetch_add(o.batch); first < o.entries;
           first = next.fetch_add(o.batch)) {
        absl::Status status = CreateBatch(*stub, o, first);
        if (!status.ok()) {
          absl::MutexLock lock(&mu);
          failure.Update(status);
          next = o.entries;
          return;
        }
        const int64_t count = std::min<int64_t>(o.batch, o.entries - first);
        const int64_t total = done.fetch_add(count) + count;
        if (total * 10 / o.entries != (total - count) * 10 / o.entries) {
          const double s = SecondsSince(start);
          std::fprintf(stderr, "  created %lld entries in %.1f s (%.0f /s)\n",
                       static_cast<long long>(total), s, total / s);  // NOLINT(runtime/int)
          absl::MutexLock lock(&mu);
          result.tenths_s.push_back(s);
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  result.seconds = SecondsSince(start);
  SIGNET_RETURN_IF_ERROR(failure);
  std::sort(result.tenths_s.begin(), result.tenths_s.end());
  return result;
}

// ---------------------------------------------------------------- phase 3: lookups

// Checks a lookup result: all 1,000 entries of `agent`, one page.
absl::Status CheckAgentPage(size_t size, bool more, int64_t agent) {
  if (size != static_cast<size_t>(kEntriesPerAgent) || more) {
    return absl::InternalError(absl::StrCat("lookup of agent ", agent, ": ", size, " entries",
                                            more ? " and more pages" : ""));
  }
  return absl::OkStatus();
}

struct LookupResult {
  double first_ms = 0;  // the first lookup after opening (cold caches)
  Latencies latencies;  // the others, after a warm-up: wall time
  Latencies cpu;        // the same lookups: CPU time of the calling thread
};

// Times `o.lookups` lookups of random agents by `lookup(agent)`, after kWarmupLookups untimed.
template <typename Lookup>
absl::StatusOr<LookupResult> TimeLookups(const DatastoreBenchOptions& o, std::mt19937_64& rng,
                                         Lookup lookup) {
  std::uniform_int_distribution<int64_t> agents(0, o.entries / kEntriesPerAgent - 1);
  LookupResult result;
  for (int i = 0; i < kWarmupLookups + o.lookups; ++i) {
    const int64_t agent = agents(rng);
    const double cpu_start = ThreadCpuSeconds();
    const auto start = SteadyClock::now();
    SIGNET_RETURN_IF_ERROR(lookup(agent));
    const double seconds = SecondsSince(start);
    const double cpu_seconds = ThreadCpuSeconds() - cpu_start;
    if (i == 0) {
      result.first_ms = seconds * 1000;
    }
    if (i >= kWarmupLookups) {
      result.latencies.Add(seconds);
      result.cpu.Add(cpu_seconds);
    }
  }
  return result;
}

absl::StatusOr<LookupResult> ApiLookups(const std::string& socket, const DatastoreBenchOptions& o,
                                        std::mt19937_64& rng) {
  auto stub = pb::Entries::NewStub(AdminChannel(socket));
  return TimeLookups(o, rng, [&](int64_t agent) -> absl::Status {
    pb::ListEntriesRequest req;
    req.mutable_filter()->set_by_parent_id(AgentId(agent));
    req.set_page_size(kMaxPageSize);
    pb::ListEntriesResponse resp;
    grpc::Status status = stub->ListEntries(Ctx(60).get(), req, &resp);
    if (!status.ok()) {
      return absl::InternalError(absl::StrCat("ListEntries: ", status.error_message()));
    }
    return CheckAgentPage(resp.entries_size(), !resp.next_page_token().empty(), agent);
  });
}

absl::StatusOr<EntryPage> StoreLookup(DataStore& store, int64_t agent) {
  const std::string parent = AgentId(agent);
  SIGNET_ASSIGN_OR_RETURN(EntryPage page,
                          store.ListEntries({.parent_id = parent}, "", kMaxPageSize));
  SIGNET_RETURN_IF_ERROR(CheckAgentPage(page.entries.size(), !page.next_page_token.empty(), agent));
  for (const RegistrationEntry& e : page.entries) {
    if (e.parent_id != parent) {
      return absl::InternalError("lookup returned an entry of another agent");
    }
  }
  return page;
}

absl::StatusOr<LookupResult> StoreLookups(DataStore& store, const DatastoreBenchOptions& o,
                                          std::mt19937_64& rng) {
  return TimeLookups(o, rng, [&](int64_t agent) { return StoreLookup(store, agent).status(); });
}

// The authorized-entries lookup the server answers from memory (what the agent sync reads).
absl::StatusOr<LookupResult> IndexLookups(const EntryIndex& index, const DatastoreBenchOptions& o,
                                          std::mt19937_64& rng) {
  return TimeLookups(o, rng, [&](int64_t agent) -> absl::Status {
    const std::string parent = AgentId(agent);
    std::vector<EntryPtr> entries = index.ByParent(parent);
    for (const EntryPtr& e : entries) {
      if (e->parent_id != parent) {
        return absl::InternalError(absl::StrCat("index lookup of agent ", agent, ": entry ", e->id,
                                                " has parent ", e->parent_id));
      }
    }
    return CheckAgentPage(entries.size(), false, agent);
  });
}

// kUpdates distinct entries, up to 10 from each of random agents.
absl::StatusOr<std::vector<RegistrationEntry>> PickEntries(DataStore& store,
                                                           const DatastoreBenchOptions& o,
                                                           std::mt19937_64& rng) {
  std::uniform_int_distribution<int64_t> agents(0, o.entries / kEntriesPerAgent - 1);
  std::uniform_int_distribution<size_t> index(0, kEntriesPerAgent - 1);
  std::set<std::string> ids;
  std::vector<RegistrationEntry> picked;
  while (picked.size() < static_cast<size_t>(kUpdates)) {
    SIGNET_ASSIGN_OR_RETURN(EntryPage page, StoreLookup(store, agents(rng)));
    for (int k = 0; k < 10 && picked.size() < static_cast<size_t>(kUpdates); ++k) {
      const RegistrationEntry& e = page.entries[index(rng)];
      if (ids.insert(e.id).second) {
        picked.push_back(e);
      }
    }
  }
  return picked;
}

// ---------------------------------------------------------------- phase 4: changes since

struct ChangesResult {
  double updates_s = 0;
  Latencies latencies;
};

absl::StatusOr<ChangesResult> UpdatesAndChanges(DataStore& store,
                                                std::vector<RegistrationEntry> entries) {
  SIGNET_ASSIGN_OR_RETURN(const int64_t before, store.CurrentRevision());
  ChangesResult result;
  const auto start = SteadyClock::now();
  for (RegistrationEntry& e : entries) {
    e.hint = "updated";
    e.x509_svid_ttl_seconds = 1800;
    SIGNET_ASSIGN_OR_RETURN(e, store.UpdateEntry(e, e.revision));
  }
  result.updates_s = SecondsSince(start);
  for (int run = 0; run < kChangesSinceRuns; ++run) {
    const auto t0 = SteadyClock::now();
    SIGNET_ASSIGN_OR_RETURN(std::vector<Change> changes, store.ChangesSince(before, kUpdates));
    result.latencies.Add(SecondsSince(t0));
    if (changes.size() != entries.size()) {
      return absl::InternalError(absl::StrCat("ChangesSince: ", changes.size(), " changes"));
    }
    for (size_t i = 0; i < changes.size(); ++i) {
      const Change& c = changes[i];
      if (c.revision != entries[i].revision || c.op != ChangeOp::kUpdate ||
          c.object_id != entries[i].id || !c.entry.has_value() || *c.entry != entries[i]) {
        return absl::InternalError(absl::StrCat("ChangesSince: change ", i, " is wrong"));
      }
    }
  }
  return result;
}

// ---------------------------------------------------------------- the report

// ---------------------------------------------------------------- the run

struct Figures {
  std::vector<double> sign_rates;
  CreateResult creates;
  ServerProcess::Usage create_usage;  // of the server, during the creates
  double first_stop_s = 0;
  std::vector<double> cold_starts_s;
  LookupResult api;
  ServerProcess::Usage restarted;  // of the server after the first restart (entries indexed)
  LookupResult store;
  double index_load_s = 0;
  LookupResult index;
  ChangesResult changes;
  int64_t db_bytes = 0;
};

int64_t DatabaseBytes(const TempDir& dir) {
  int64_t bytes = 0;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(dir.File("data/datastore.sqlite3") + suffix, ec);
    bytes += ec ? 0 : static_cast<int64_t>(size);
  }
  return bytes;
}

absl::Status MeasureSignRate(const crypto::PrivateKey& key, Figures& f) {
  SIGNET_ASSIGN_OR_RETURN(double rate, SignRate(key, 1.0));
  std::fprintf(stderr, "openssl ECDSA P-256 sign: %.0f /s\n", rate);
  f.sign_rates.push_back(rate);
  return absl::OkStatus();
}

// Phases 1 to 3 through the server; the datastore half of 3, and 4, on the store (server
// stopped).
absl::Status RunPhases(const DatastoreBenchOptions& o, const TempDir& dir, Figures& f) {
  SIGNET_ASSIGN_OR_RETURN(crypto::PrivateKey key,
                          crypto::PrivateKey::Generate(crypto::KeyType::kEcP256));
  SIGNET_RETURN_IF_ERROR(MeasureSignRate(key, f));
  SIGNET_RETURN_IF_ERROR(WriteConfig(dir));
  const std::string socket = dir.File("admin.sock");
  {
    SIGNET_ASSIGN_OR_RETURN(Started server, StartServer(o, dir));
    std::fprintf(stderr, "server ready on an empty store in %.2f s; creating %lld entries\n",
                 server.ready_s, static_cast<long long>(o.entries));  // NOLINT(runtime/int)
    const ServerProcess::Usage before = server.process->GetUsage();
    SIGNET_ASSIGN_OR_RETURN(f.creates, CreateAll(socket, o));
    const ServerProcess::Usage after = server.process->GetUsage();
    f.create_usage = {.cpu_s = after.cpu_s - before.cpu_s,
                      .write_bytes = after.write_bytes - before.write_bytes};
    SIGNET_RETURN_IF_ERROR(MeasureSignRate(key, f));
    const auto stop = SteadyClock::now();
    SIGNET_RETURN_IF_ERROR(server.process->Stop(300));
    f.first_stop_s = SecondsSince(stop);
  }
  f.db_bytes = DatabaseBytes(dir);
  std::mt19937_64 rng(20261123);
  for (int r = 0; r < o.restarts; ++r) {
    SIGNET_ASSIGN_OR_RETURN(Started server, StartServer(o, dir));
    std::fprintf(stderr, "restart %d: ready in %.3f s\n", r + 1, server.ready_s);
    f.cold_starts_s.push_back(server.ready_s);
    if (r == 0) {
      f.restarted = server.process->GetUsage();
      SIGNET_ASSIGN_OR_RETURN(f.api, ApiLookups(socket, o, rng));
    }
    SIGNET_RETURN_IF_ERROR(server.process->Stop(300));
  }
  SIGNET_ASSIGN_OR_RETURN(
      std::unique_ptr<DataStore> store,
      OpenDataStore({.driver = "sqlite", .connection_string = dir.File("data/datastore.sqlite3")}));
  SIGNET_ASSIGN_OR_RETURN(f.store, StoreLookups(*store, o, rng));
  {
    const auto load = SteadyClock::now();
    SIGNET_ASSIGN_OR_RETURN(std::unique_ptr<EntryIndex> index, EntryIndex::Load(*store, *store));
    f.index_load_s = SecondsSince(load);
    if (index->size() != static_cast<size_t>(o.entries)) {
      return absl::InternalError(absl::StrCat("entry index holds ", index->size(), " entries"));
    }
    SIGNET_ASSIGN_OR_RETURN(f.index, IndexLookups(*index, o, rng));
  }
  SIGNET_ASSIGN_OR_RETURN(std::vector<RegistrationEntry> picked, PickEntries(*store, o, rng));
  SIGNET_ASSIGN_OR_RETURN(f.changes, UpdatesAndChanges(*store, std::move(picked)));
  store->Close();
  return MeasureSignRate(key, f);
}

int PrintReport(const DatastoreBenchOptions& o, const Figures& f) {
  const double sign_rate = Median(f.sign_rates);
  Report report(sign_rate);
  report.Note(
      "OpenSSL ECDSA P-256 sign (start, mid, end)",
      absl::StrFormat("%.0f %.0f %.0f /s", f.sign_rates[0], f.sign_rates[1], f.sign_rates[2]));
  report.Rate("OpenSSL sign rate used for ratios (median)", sign_rate);
  report.Time(absl::StrFormat("create %lld entries (batch %d, %d thr.)",
                              static_cast<long long>(o.entries),  // NOLINT(runtime/int)
                              o.batch, o.threads),
              f.creates.seconds, o.entries == 1000000 ? kCreateTargetSeconds : 0, false);
  report.Rate("create rate", static_cast<double>(o.entries) / f.creates.seconds);
  const std::vector<double>& tenths = f.creates.tenths_s;
  if (tenths.size() == 10) {
    report.Rate("create rate, first tenth", static_cast<double>(o.entries) / 10 / tenths[0]);
    report.Rate("create rate, last tenth",
                static_cast<double>(o.entries) / 10 / (tenths[9] - tenths[8]));
  }
  report.Note("server CPU time during the creates",
              absl::StrFormat("%.1f s", f.create_usage.cpu_s));
  report.Note("server storage writes per entry created",
              absl::StrFormat("%.1f KB", static_cast<double>(f.create_usage.write_bytes) /
                                             static_cast<double>(o.entries) / 1024));
  report.Note("database size after creates", absl::StrFormat("%.0f MB", f.db_bytes / 1e6));
  report.Time("graceful stop after the creates", f.first_stop_s, 0, false);
  report.Time(absl::StrFormat("cold start to ready, worst of %d", o.restarts),
              *std::max_element(f.cold_starts_s.begin(), f.cold_starts_s.end()),
              kColdStartTargetSeconds, false);
  report.Time("cold start to ready, first restart", f.cold_starts_s[0], 0, false);
  report.Note("server RSS after restart, anonymous / all",
              absl::StrFormat("%.0f / %.0f MB", static_cast<double>(f.restarted.rss_anon_kb) / 1024,
                              static_cast<double>(f.restarted.rss_kb) / 1024));
  report.Time("API lookup, first after restart", f.api.first_ms / 1000, 0, true);
  report.Time("API lookup (1000 entries) p50", f.api.latencies.Percentile(0.5) / 1000, 0, true);
  report.Time("API lookup (1000 entries) p99", f.api.latencies.Percentile(0.99) / 1000, 0, true);
  report.Time("datastore lookup, first after open", f.store.first_ms / 1000, 0, true);
  report.Time("datastore lookup (1000 entries) p50", f.store.latencies.Percentile(0.5) / 1000, 0,
              true);
  report.Time("datastore lookup (1000 entries) p99", f.store.latencies.Percentile(0.99) / 1000, 0,
              true);
  report.Time("datastore lookup p50, thread CPU time", f.store.cpu.Percentile(0.5) / 1000, 0, true);
  report.Time("datastore lookup p99, thread CPU time", f.store.cpu.Percentile(0.99) / 1000, 0,
              true);
  report.Time("entry index load, in-process (all entries)", f.index_load_s, 0, false);
  report.Time("index lookup, first after load", f.index.first_ms / 1000, 0, true);
  report.Time("authorized-entries lookup (index) p50", f.index.latencies.Percentile(0.5) / 1000, 0,
              true);
  report.Time("authorized-entries lookup (index) p99", f.index.latencies.Percentile(0.99) / 1000,
              kLookupP99TargetMs / 1000, true);
  report.Time("index lookup p99, thread CPU time", f.index.cpu.Percentile(0.99) / 1000, 0, true);
  report.Rate("UpdateEntry rate (1000 updates)", kUpdates / f.changes.updates_s);
  report.Time("ChangesSince(N, 1000) p50", f.changes.latencies.Percentile(0.5) / 1000, 0, true);
  report.Time("ChangesSince(N, 1000) p99", f.changes.latencies.Percentile(0.99) / 1000, 0, true);
  std::printf(
      "\n%lld entries, %s layout, %s ids, %d lookups per percentile, %d ChangesSince runs\n",
      static_cast<long long>(o.entries),  // NOLINT(runtime/int)
      o.grouped ? "grouped" : "interleaved", o.sequential_ids ? "sequential" : "random", o.lookups,
      kChangesSinceRuns);
  return report.Print(
      "The lookup target applies to the authorized-entries lookup in the server's entry index\n"
      "(what the agent sync reads; the cold start includes loading it). The datastore lookup\n"
      "is the same query in SQL; the admin API figure adds the gRPC round trip, proto encoding\n"
      "and an audit record.\n");
}

int Run(int argc, char** argv) {
  std::optional<DatastoreBenchOptions> options = ParseDatastoreBenchFlags(argc, argv);
  if (!options.has_value()) {
    return 2;
  }
  absl::StatusOr<TempDir> dir = TempDir::Create("dsbench", options->keep);
  if (!dir.ok()) {
    std::fprintf(stderr, "error: %s\n", dir.status().ToString().c_str());
    return 3;
  }
  Figures figures;
  absl::Status status = RunPhases(*options, *dir, figures);
  if (!status.ok()) {
    std::fprintf(stderr, "error: %s\n%s", status.ToString().c_str(),
                 LogTail(dir->File("server.log")).c_str());
    return 3;
  }
  return PrintReport(*options, figures) == 0 ? 0 : 1;
}

}  // namespace
}  // namespace signet::server

int main(int argc, char** argv) { return signet::server::Run(argc, argv); }
