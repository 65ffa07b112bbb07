// Agent sync and batch signing at scale, against the real `signet server` run as a child: many
// simulated agents in this one process (a channel and an mTLS identity each), next to the raw
// OpenSSL ECDSA P-256 rates measured in the same run. The machine is shared and noisy: absolute
// times drift, ratios hold.
//
//   build/release/bench/sync/sync_bench [--agents=N] [--entries=E] [--creates=C]
//       [--sign_calls=S] [--batch=B] [--signet=PATH] [--keep]
//
// Phases, on a fresh SQLite datastore in a temporary directory:
//   1. N join tokens (admin socket), N agents attest with them over TLS (Node/Attest);
//   2. E entries per agent (BatchCreateEntry), then every agent opens Entries/SyncEntries and
//      waits for its snapshot (all E entries); the server's memory is read then;
//   3. latency: C entries created one every 25 ms for random agents; for each, the time from
//      the start of its BatchCreateEntry call to the agent receiving it on its stream;
//   4. signing: S BatchNewX509Svid calls of B CSRs (pre-generated) from 2 threads, as random
//      agents; X509-SVIDs per second next to the raw verify+sign rate (a CSR's signature is
//      verified and a certificate signed per SVID);
//   5. partition: every stream is cancelled, N*E/10 entries are created, and all N agents
//      reconnect at once with what they hold; each must resume with a delta (no snapshot)
//      carrying exactly the entries created meanwhile. Time and server memory are reported.
// Exits 1 when a target is missed, 2 on bad flags, 3 when the run itself fails.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "bench/common/bench_support.h"
#include "signet/admin/v1/admin.grpc.pb.h"
#include "signet/agent/v1/agent.grpc.pb.h"
#include "src/common/status_macros.h"
#include "src/crypto/certificate.h"
#include "src/crypto/csr.h"
#include "src/crypto/key.h"

namespace signet::bench {
namespace {

namespace admin = ::signet::admin::v1;
namespace agent = ::signet::agent::v1;

constexpr char kTrustDomain[] = "example.org";
constexpr double kLatencyP99TargetS = 1.0;
constexpr double kSignRatioTarget = 0.6;
constexpr int kSignThreads = 2;

struct Options {
  int agents = 1000;
  int entries = 10;
  int creates = 200;
  int sign_calls = 100;
  int batch = 100;
  bool keep = false;
  std::string signet = SIGNET_BINARY;
};

std::optional<Options> ParseFlags(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    auto number = [&](absl::string_view name, int min, int max, int* out) {
      return IntFlag(arg, name, min, max, out);
    };
    if (number("--agents=", 1, 20000, &o.agents) || number("--entries=", 1, 1000, &o.entries) ||
        number("--creates=", 1, 100000, &o.creates) ||
        number("--sign_calls=", 1, 100000, &o.sign_calls) ||
        number("--batch=", 1, 1000, &o.batch)) {
      continue;
    }
    if (RunFlag(arg, &o.keep, &o.signet)) continue;
    std::fprintf(stderr,
                 "usage: %s [--agents=N] [--entries=E] [--creates=C] [--sign_calls=S] "
                 "[--batch=B] [--signet=PATH] [--keep]\n",
                 argv[0]);
    return std::nullopt;
  }
  return o;
}

std::string AgentId(int i) {
  return absl::StrCat("spiffe://", kTrustDomain, "/signet/agent/bench-", i);
}

// An attested agent: its identity for mTLS and its channel.
struct Agent {
  std::string id;
  std::string key_pem;
  std::string chain_pem;
  std::shared_ptr<grpc::Channel> channel;
};

// Received entries, shared by every stream: when each entry (by SPIFFE ID) first arrived.
class Arrivals {
 public:
  void Record(const std::string& spiffe_id) {
    absl::MutexLock lock(&mu_);
    arrived_.emplace(spiffe_id, SteadyClock::now());
  }
  // Waits up to `timeout_s` for `spiffe_id`; when it arrived.
  std::optional<SteadyClock::time_point> WaitFor(const std::string& spiffe_id, double timeout_s) {
    absl::MutexLock lock(&mu_);
    auto seen = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return arrived_.contains(spiffe_id); };
    mu_.AwaitWithTimeout(absl::Condition(&seen), absl::Seconds(timeout_s));
    auto it = arrived_.find(spiffe_id);
    return it == arrived_.end() ? std::nullopt : std::optional(it->second);
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, SteadyClock::time_point> arrived_ ABSL_GUARDED_BY(mu_);
};

// What the first message of every stream of a phase brought: counted as they arrive.
struct FirstMessages {
  std::atomic<int> complete{0};     // streams whose first (possibly multi-part) message is complete
  std::atomic<int> snapshots{0};    // ... that were snapshots
  std::atomic<int64_t> entries{0};  // entries they carried
};

// One agent's SyncEntries stream on gRPC's callback API (no thread per stream). It keeps what
// it holds, as an agent does, so that a later stream can resume from it (Resume()).
class SyncStream final : public grpc::ClientReadReactor<agent::SyncEntriesResponse> {
 public:
  SyncStream(agent::Entries::Stub* stub, agent::SyncEntriesRequest req, Arrivals* arrivals,
             FirstMessages* first)
      : req_(std::move(req)), arrivals_(arrivals), first_(first) {
    stub->async()->SyncEntries(&ctx_, &req_, this);
    StartRead(&resp_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (resp_.snapshot()) held_.clear();
    for (const agent::Entry& e : resp_.entries()) {
      held_[e.id()] = e.revision();
      if (first_done_) arrivals_->Record(e.spiffe_id());
    }
    for (const std::string& id : resp_.deleted_ids()) held_.erase(id);
    revision_ = resp_.revision();
    if (!first_done_) {
      first_entries_ += resp_.entries_size();
      first_snapshot_ = first_snapshot_ || resp_.snapshot();
      if (!resp_.more()) {
        first_done_ = true;
        first_->entries += first_entries_;
        if (first_snapshot_) ++first_->snapshots;
        ++first_->complete;
      }
    }
    StartRead(&resp_);
  }
  void OnDone(const grpc::Status& status) override {
    absl::MutexLock lock(&mu_);
    done_ = true;
    status_ = status;
  }
  void Cancel() { ctx_.TryCancel(); }
  void AwaitDone() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
  }
  // What a reconnecting agent sends: its revision and what it holds. Call after AwaitDone.
  agent::SyncEntriesRequest Resume() const {
    agent::SyncEntriesRequest req;
    req.set_since_revision(revision_);
    for (const auto& [id, revision] : held_) {
      agent::KnownEntry* known = req.add_known();
      known->set_id(id);
      known->set_revision(revision);
    }
    return req;
  }
  size_t held() const { return held_.size(); }

 private:
  grpc::ClientContext ctx_;
  const agent::SyncEntriesRequest req_;
  agent::SyncEntriesResponse resp_;
  Arrivals* arrivals_;
  FirstMessages* first_;
  std::map<std::string, int64_t> held_;  // entry id -> revision, touched by the reactor only
  int64_t revision_ = 0;
  int64_t first_entries_ = 0;
  bool first_snapshot_ = false;
  bool first_done_ = false;
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

// Opens one stream per agent with `requests[i]` and waits (up to 120 s) until every first
// message is complete; the seconds it took.
absl::StatusOr<double> OpenStreams(const std::vector<Agent>& agents,
                                   const std::vector<agent::SyncEntriesRequest>& requests,
                                   std::vector<std::unique_ptr<agent::Entries::Stub>>& stubs,
                                   Arrivals& arrivals, FirstMessages& first,
                                   std::vector<std::unique_ptr<SyncStream>>& streams) {
  const auto open = SteadyClock::now();
  for (size_t i = 0; i < agents.size(); ++i) {
    if (stubs.size() <= i) stubs.push_back(agent::Entries::NewStub(agents[i].channel));
    streams.push_back(std::make_unique<SyncStream>(stubs[i].get(), requests[i], &arrivals, &first));
  }
  const int want = static_cast<int>(agents.size());
  while (first.complete < want && SecondsSince(open) < 120) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  if (first.complete < want) {
    return absl::InternalError(absl::StrCat(first.complete.load(), " of ", want,
                                            " streams got their first message in 120 s"));
  }
  return SecondsSince(open);
}

std::shared_ptr<grpc::Channel> TlsChannel(int port, const std::string& roots, const Agent* as) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = roots;
  if (as != nullptr) {
    ssl.pem_private_key = as->key_pem;
    ssl.pem_cert_chain = as->chain_pem;
  }
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("signet-server");
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), grpc::SslCredentials(ssl),
                                   args);
}

absl::StatusOr<Agent> AttestOne(const std::string& socket, int port, const std::string& roots,
                                int i) {
  admin::CreateJoinTokenRequest token_req;
  token_req.set_spiffe_id(AgentId(i));
  admin::JoinToken token;
  grpc::Status status = admin::Agents::NewStub(AdminChannel(socket))
                            ->CreateJoinToken(Ctx(30).get(), token_req, &token);
  if (!status.ok()) return absl::InternalError("CreateJoinToken: " + status.error_message());
  SIGNET_ASSIGN_OR_RETURN(crypto::PrivateKey key,
                          crypto::PrivateKey::Generate(crypto::KeyType::kEcP256));
  agent::AttestRequest req;
  req.mutable_data()->set_type("join_token");
  req.mutable_data()->set_payload(token.token());
  SIGNET_ASSIGN_OR_RETURN(*req.mutable_csr(), crypto::BuildCsrDer(key));
  auto stub = agent::Node::NewStub(TlsChannel(port, roots, nullptr));
  auto ctx = Ctx(60);
  auto stream = stub->Attest(ctx.get());
  stream->Write(req);
  stream->WritesDone();
  agent::AttestResponse resp;
  std::optional<agent::AttestResponse> last;
  while (stream->Read(&resp)) last = resp;
  status = stream->Finish();
  if (!status.ok() || !last.has_value()) {
    return absl::InternalError("Attest: " + status.error_message());
  }
  Agent a{.id = last->svid().spiffe_id()};
  SIGNET_ASSIGN_OR_RETURN(a.key_pem, key.ToPkcs8Pem());
  for (const std::string& der : last->svid().cert_chain()) {
    SIGNET_ASSIGN_OR_RETURN(crypto::Certificate cert, crypto::Certificate::FromDer(der));
    SIGNET_ASSIGN_OR_RETURN(std::string pem, cert.ToPem());
    a.chain_pem += pem;
  }
  a.channel = TlsChannel(port, roots, &a);
  return a;
}

admin::Entry MakeEntry(const std::string& path, const std::string& parent, int uid) {
  admin::Entry e;
  e.set_spiffe_id(absl::StrCat("spiffe://", kTrustDomain, path));
  e.set_parent_id(parent);
  admin::Selector* s = e.add_selectors();
  s->set_type("unix");
  s->set_value(absl::StrCat("uid:", uid));
  return e;
}

absl::Status CreateEntries(admin::Entries::Stub& entries, const std::vector<admin::Entry>& all) {
  for (size_t start = 0; start < all.size(); start += 1000) {
    admin::BatchCreateEntryRequest req;
    for (size_t i = start; i < std::min(all.size(), start + 1000); ++i) *req.add_entries() = all[i];
    admin::BatchCreateEntryResponse resp;
    grpc::Status status = entries.BatchCreateEntry(Ctx(120).get(), req, &resp);
    if (!status.ok()) return absl::InternalError("BatchCreateEntry: " + status.error_message());
    for (const admin::EntryResult& r : resp.results()) {
      if (r.status().code() != 0) return absl::InternalError("create: " + r.status().message());
    }
  }
  return absl::OkStatus();
}

struct Figures {
  double sign_rate = 0;
  double verify_rate = 0;
  double attest_s = 0;
  double snapshots_s = 0;
  ServerProcess::Usage usage;
  Latencies latency;
  int lost = 0;
  int64_t signed_svids = 0;
  double sign_s = 0;
  int partition_changes = 0;
  double resume_s = 0;
  int resume_snapshots = 0;
  int64_t resume_entries = 0;
  ServerProcess::Usage resume_usage;
};

// Phase 4: S calls of B CSRs from kSignThreads threads; fails on any refused item.
absl::Status SignPhase(const Options& o, const std::vector<Agent>& agents,
                       const std::vector<std::vector<std::string>>& entry_ids, Figures& f) {
  std::vector<std::string> csrs;
  for (int i = 0; i < o.batch; ++i) {
    SIGNET_ASSIGN_OR_RETURN(crypto::PrivateKey key,
                            crypto::PrivateKey::Generate(crypto::KeyType::kEcP256));
    SIGNET_ASSIGN_OR_RETURN(std::string csr, crypto::BuildCsrDer(key));
    csrs.push_back(std::move(csr));
  }
  std::atomic<int> next{0};
  std::atomic<int64_t> signed_svids{0};
  absl::Mutex mu;
  absl::Status failure;
  const auto start = SteadyClock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kSignThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(1234 + t);
      for (int call; (call = next++) < o.sign_calls;) {
        const size_t a = rng() % agents.size();
        agent::BatchNewX509SvidRequest req;
        for (int i = 0; i < o.batch; ++i) {
          agent::X509SvidRequest* r = req.add_requests();
          r->set_entry_id(entry_ids[a][static_cast<size_t>(i) % entry_ids[a].size()]);
          r->set_csr(csrs[static_cast<size_t>(i)]);
        }
        agent::BatchNewX509SvidResponse resp;
        grpc::Status status =
            agent::Svids::NewStub(agents[a].channel)->BatchNewX509Svid(Ctx(120).get(), req, &resp);
        int ok = 0;
        for (const agent::X509SvidResult& r : resp.results()) ok += r.status().code() == 0 ? 1 : 0;
        signed_svids += ok;
        if (!status.ok() || ok != o.batch) {
          absl::MutexLock lock(&mu);
          failure = absl::InternalError(absl::StrCat("BatchNewX509Svid: ", status.error_message(),
                                                     " (", ok, " of ", o.batch, " signed)"));
          return;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  f.sign_s = SecondsSince(start);
  f.signed_svids = signed_svids;
  absl::MutexLock lock(&mu);
  return failure;
}

absl::Status Run(const Options& o, const TempDir& dir, Figures& f) {
  SIGNET_ASSIGN_OR_RETURN(crypto::PrivateKey yardstick,
                          crypto::PrivateKey::Generate(crypto::KeyType::kEcP256));
  SIGNET_ASSIGN_OR_RETURN(f.sign_rate, SignRate(yardstick, 1.0));
  SIGNET_ASSIGN_OR_RETURN(f.verify_rate, VerifyRate(yardstick, 1.0));
  SIGNET_RETURN_IF_ERROR(WriteSmallFile(
      dir.File("server.yaml"),
      absl::StrCat("trust_domain: ", kTrustDomain, "\ndata_dir: ", dir.File("data"),
                   "\nadmin_socket: ", dir.File("admin.sock"), "\nbind_address: 127.0.0.1:0\n",
                   "node_attestors:\n  join_token: {}\nlog:\n  level: info\n")));
  const std::string socket = dir.File("admin.sock");
  ServerProcess server(o.signet, dir.File("server.yaml"), dir.File("server.log"));
  SIGNET_RETURN_IF_ERROR(WaitReady(server, socket, SteadyClock::now()).status());
  SIGNET_ASSIGN_OR_RETURN(int port, TcpPort(dir.File("server.log")));
  auto bundles = admin::Bundles::NewStub(AdminChannel(socket));
  SIGNET_ASSIGN_OR_RETURN(std::string roots, BundlePem(*bundles));

  // 1. attestation
  std::vector<Agent> agents(static_cast<size_t>(o.agents));
  {
    const auto start = SteadyClock::now();
    std::atomic<int> next{0};
    absl::Mutex mu;
    absl::Status failure;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int i; (i = next++) < o.agents;) {
          absl::StatusOr<Agent> a = AttestOne(socket, port, roots, i);
          if (!a.ok()) {
            absl::MutexLock lock(&mu);
            failure = a.status();
            return;
          }
          agents[static_cast<size_t>(i)] = *std::move(a);
        }
      });
    }
    for (std::thread& t : threads) t.join();
    SIGNET_RETURN_IF_ERROR(failure);
    f.attest_s = SecondsSince(start);
  }
  std::fprintf(stderr, "%d agents attested in %.1f s\n", o.agents, f.attest_s);

  // 2. entries and snapshots
  auto entries = admin::Entries::NewStub(AdminChannel(socket));
  std::vector<admin::Entry> all;
  for (int a = 0; a < o.agents; ++a) {
    for (int e = 0; e < o.entries; ++e) {
      all.push_back(MakeEntry(absl::StrCat("/agent-", a, "/w-", e), AgentId(a), e));
    }
  }
  SIGNET_RETURN_IF_ERROR(CreateEntries(*entries, all));
  std::vector<std::vector<std::string>> entry_ids(static_cast<size_t>(o.agents));
  {
    // Ids for phase 4, from the admin API (the create responses were not kept).
    for (int a = 0; a < o.agents; ++a) {
      admin::ListEntriesRequest req;
      req.mutable_filter()->set_by_parent_id(AgentId(a));
      req.set_page_size(1000);
      admin::ListEntriesResponse resp;
      grpc::Status status = entries->ListEntries(Ctx(30).get(), req, &resp);
      if (!status.ok()) return absl::InternalError("ListEntries: " + status.error_message());
      for (const admin::Entry& e : resp.entries())
        entry_ids[static_cast<size_t>(a)].push_back(e.id());
    }
  }
  absl::SleepFor(absl::Milliseconds(500));  // the index follows the change log every 100 ms
  Arrivals arrivals;
  std::vector<std::unique_ptr<agent::Entries::Stub>> stubs;
  std::vector<std::unique_ptr<SyncStream>> streams;
  FirstMessages first;
  SIGNET_ASSIGN_OR_RETURN(f.snapshots_s,
                          OpenStreams(agents, std::vector<agent::SyncEntriesRequest>(agents.size()),
                                      stubs, arrivals, first, streams));
  if (first.entries != static_cast<int64_t>(o.agents) * o.entries) {
    return absl::InternalError(absl::StrCat("the snapshots carried ", first.entries.load(),
                                            " entries, not ", o.agents * o.entries));
  }
  std::fprintf(stderr, "%d snapshots in %.1f s\n", o.agents, f.snapshots_s);
  absl::SleepFor(absl::Seconds(1));
  f.usage = server.GetUsage();

  // 3. create -> received latency
  std::mt19937 rng(20261201);
  std::vector<std::pair<std::string, SteadyClock::time_point>> sent;
  for (int i = 0; i < o.creates; ++i) {
    const int a = static_cast<int>(rng() % static_cast<unsigned>(o.agents));
    admin::Entry e = MakeEntry(absl::StrCat("/late-", i), AgentId(a), 100000 + i);
    const auto start = SteadyClock::now();
    SIGNET_RETURN_IF_ERROR(CreateEntries(*entries, {e}));
    sent.emplace_back(e.spiffe_id(), start);
    absl::SleepFor(absl::Milliseconds(25));
  }
  for (const auto& [spiffe_id, start] : sent) {
    std::optional<SteadyClock::time_point> at = arrivals.WaitFor(spiffe_id, 10);
    if (!at.has_value()) {
      ++f.lost;
      continue;
    }
    f.latency.Add(std::chrono::duration<double>(*at - start).count());
  }

  // 4. batch signing
  SIGNET_RETURN_IF_ERROR(SignPhase(o, agents, entry_ids, f));

  // 5. partition: every stream drops, one entry in ten changes meanwhile (created for random
  // agents), then every agent reconnects at once, resuming from what it holds.
  for (auto& s : streams) s->Cancel();
  for (auto& s : streams) s->AwaitDone();
  std::vector<agent::SyncEntriesRequest> resumes;
  for (const auto& s : streams) resumes.push_back(s->Resume());
  std::vector<admin::Entry> during;
  for (int i = 0; i < o.agents * o.entries / 10; ++i) {
    const int a = static_cast<int>(rng() % static_cast<unsigned>(o.agents));
    during.push_back(MakeEntry(absl::StrCat("/partition-", i), AgentId(a), 200000 + i));
  }
  SIGNET_RETURN_IF_ERROR(CreateEntries(*entries, during));
  f.partition_changes = static_cast<int>(during.size());
  absl::SleepFor(absl::Milliseconds(500));
  std::vector<std::unique_ptr<SyncStream>> resumed;
  FirstMessages again;
  SIGNET_ASSIGN_OR_RETURN(f.resume_s,
                          OpenStreams(agents, resumes, stubs, arrivals, again, resumed));
  f.resume_snapshots = again.snapshots;
  f.resume_entries = again.entries;
  absl::SleepFor(absl::Seconds(1));
  f.resume_usage = server.GetUsage();
  std::fprintf(stderr, "%d resumed in %.1f s\n", o.agents, f.resume_s);
  for (auto& s : resumed) s->Cancel();
  for (auto& s : resumed) s->AwaitDone();
  return server.Stop(30);
}

int Report(const Options& o, const Figures& f) {
  const double raw = 1.0 / (1.0 / f.sign_rate + 1.0 / f.verify_rate);
  const double svid_rate = static_cast<double>(f.signed_svids) / f.sign_s;
  const double ratio = svid_rate / raw;
  const double p99_s = f.latency.size() > 0 ? f.latency.Percentile(0.99) / 1000 : 1e9;
  const bool latency_met = f.lost == 0 && p99_s < kLatencyP99TargetS;
  const bool sign_met = ratio >= kSignRatioTarget;
  std::printf("\n%d agents x %d entries; %d creates; %d x %d CSRs signed from %d threads\n",
              o.agents, o.entries, o.creates, o.sign_calls, o.batch, kSignThreads);
  std::printf("%-52s %12s %10s %s\n", "metric", "value", "target", "result");
  std::printf("%-52s %10.0f/s\n", "OpenSSL ECDSA P-256 sign", f.sign_rate);
  std::printf("%-52s %10.0f/s\n", "OpenSSL ECDSA P-256 verify", f.verify_rate);
  std::printf("%-52s %10.0f/s\n", "OpenSSL verify+sign (one of each per SVID)", raw);
  std::printf("%-52s %11.1fs\n", "attest all agents (4 client threads)", f.attest_s);
  std::printf("%-52s %11.1fs\n", "every agent's snapshot received", f.snapshots_s);
  std::printf("%-52s %9.0f MB\n", "server RSS with every stream open, anonymous",
              static_cast<double>(f.usage.rss_anon_kb) / 1024);
  std::printf("%-52s %9.0f MB\n", "server RSS, all", static_cast<double>(f.usage.rss_kb) / 1024);
  if (f.latency.size() > 0) {
    std::printf("%-52s %10.1fms\n", "entry create -> agent received, p50",
                f.latency.Percentile(0.5));
    std::printf("%-52s %10.1fms %10s %s\n", "entry create -> agent received, p99",
                f.latency.Percentile(0.99), "< 1 s", latency_met ? "PASS" : "MISSED");
  }
  std::printf("%-52s %12d\n", "creates never received (10 s)", f.lost);
  std::printf("%-52s %10.0f/s\n", "X509-SVIDs signed (batched CSRs)", svid_rate);
  std::printf("%-52s %12.3f %10s %s\n", "  ratio to raw verify+sign", ratio, ">= 0.6",
              sign_met ? "PASS" : "MISSED");
  // After the partition every agent should resume (no snapshot) with exactly what changed.
  const bool resume_met =
      f.resume_snapshots == 0 && f.resume_entries == static_cast<int64_t>(f.partition_changes);
  std::printf("%-52s %12d\n", "partition: entries created while streams were down",
              f.partition_changes);
  std::printf("%-52s %11.1fs\n", "every agent reconnected and resumed", f.resume_s);
  std::printf("%-52s %12d %10s %s\n", "  of which snapshots", f.resume_snapshots, "0",
              resume_met ? "PASS" : "MISSED");
  std::printf("%-52s %12lld %10d\n", "  entries sent on resume (= changed)",
              static_cast<long long>(f.resume_entries), f.partition_changes);
  std::printf("%-52s %9.0f MB\n", "server RSS after the reconnect, anonymous",
              static_cast<double>(f.resume_usage.rss_anon_kb) / 1024);
  return latency_met && sign_met && resume_met ? 0 : 1;
}

}  // namespace
}  // namespace signet::bench

int main(int argc, char** argv) {
  std::optional<signet::bench::Options> o = signet::bench::ParseFlags(argc, argv);
  if (!o.has_value()) return 2;
  absl::StatusOr<signet::bench::TempDir> dir = signet::bench::TempDir::Create("syncbench", o->keep);
  if (!dir.ok()) return 3;
  signet::bench::Figures f;
  absl::Status status = signet::bench::Run(*o, *dir, f);
  if (!status.ok()) {
    std::fprintf(stderr, "error: %s\n%s", status.ToString().c_str(),
                 signet::bench::LogTail(dir->File("server.log")).c_str());
    return 3;
  }
  return signet::bench::Report(*o, f);
}
