// The agent's Workload API under load: a real `signet server run` and `signet agent run`
// (release build) as children, and clients in this process on the agent's Unix socket.
//
//   build/release/bench/workload/workload_bench [--entries=N] [--streams=S] [--calls=C]
//       [--threads=T] [--signet=PATH] [--keep]
//
// Phases, on a fresh SQLite datastore in a temporary directory:
//   1. the agent attests with a join token; N entries (default 1,000) for uids nobody uses and
//      one for this process's uid are registered; the run waits until the agent has signed an
//      X509-SVID for every one (status.json "svids");
//   2. FetchJWTSVID: T threads (default 4), each with its own connection, C calls each
//      (default 2,000) for one audience after a warm-up: cached JWT-SVIDs; p50/p99 and calls/s.
//      The target is checked on a lean client (src/rpc/h2/unary_client.h: nghttp2, blocking);
//      the same phase also runs with gRPC C-core clients (grpc++) and is reported: on 2 cores
//      C-core spends ~3x the agent's CPU per call. Order lean, C-core, C-core, lean; each
//      client type's two phases are merged. Connections are made, and answer one call,
//      before the clock starts;
//   3. FetchX509SVID: C calls from one connection, the time from the call to its first
//      message (the stream is then cancelled); p50/p99;
//   4. S streams (default 1,000) stay open on FetchX509SVID (10 connections, callback API); once
//      every one has its first message, the agent's memory is read.
// Raw OpenSSL P-256 sign and verify rates of the same run are printed as the yardstick.
// Exits 1 when a target is missed, 2 on bad flags, 3 when the run itself fails.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "bench/common/bench_support.h"
#include "nlohmann/json.hpp"
#include "signet/admin/v1/admin.grpc.pb.h"
#include "src/common/status_macros.h"
#include "src/rpc/h2/unary_client.h"
#include "workload.grpc.pb.h"

namespace signet::bench {
namespace {

namespace admin = ::signet::admin::v1;

constexpr double kJwtP99TargetMs = 0.5;
constexpr double kX509P99TargetMs = 5;
constexpr double kRssTargetMb = 40;
constexpr char kAgentId[] = "spiffe://example.org/signet/agent/bench";

struct Options {
  int entries = 1000;
  int streams = 1000;
  int calls = 2000;
  int threads = 4;
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
    if (number("--entries=", 1, 100000, &o.entries) || number("--streams=", 1, 20000, &o.streams) ||
        number("--calls=", 10, 1000000, &o.calls) || number("--threads=", 1, 64, &o.threads)) {
      continue;
    }
    if (RunFlag(arg, &o.keep, &o.signet)) continue;
    std::fprintf(stderr,
                 "usage: %s [--entries=N] [--streams=S] [--calls=C] [--threads=T] "
                 "[--signet=PATH] [--keep]\n",
                 argv[0]);
    return std::nullopt;
  }
  return o;
}

std::unique_ptr<SpiffeWorkloadAPI::Stub> WorkloadStub(const std::string& socket) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
  return SpiffeWorkloadAPI::NewStub(
      grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(), args));
}

void Header(grpc::ClientContext& ctx) { ctx.AddMetadata("workload.spiffe.io", "true"); }

// One open FetchX509SVID stream on the callback API; counts its first message.
class X509Stream final : public grpc::ClientReadReactor<X509SVIDResponse> {
 public:
  X509Stream(SpiffeWorkloadAPI::Stub* stub, std::atomic<int>* first) : first_(first) {
    Header(ctx_);
    stub->async()->FetchX509SVID(&ctx_, &req_, this);
    StartRead(&resp_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (!seen_) {
      seen_ = true;
      ++*first_;
    }
    StartRead(&resp_);
  }
  void OnDone(const grpc::Status&) override {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    cv_.notify_all();
  }
  void Cancel() { ctx_.TryCancel(); }
  void AwaitDone() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });
  }

 private:
  grpc::ClientContext ctx_;
  X509SVIDRequest req_;
  X509SVIDResponse resp_;
  std::atomic<int>* first_;
  bool seen_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

struct JwtFigures {
  Latencies latency;
  double calls = 0;
  double seconds = 0;
  double rate() const { return seconds > 0 ? calls / seconds : 0; }
};

struct Figures {
  double sign_rate = 0;
  double verify_rate = 0;
  double setup_s = 0;
  JwtFigures jwt;       // the lean client: the agent's latency
  JwtFigures jwt_grpc;  // gRPC C-core as the client
  Latencies x509;
  ServerProcess::Usage idle;
  ServerProcess::Usage loaded;
};

absl::Status CreateEntries(admin::Entries::Stub& entries, int n) {
  for (int start = 0; start <= n; start += 1000) {
    admin::BatchCreateEntryRequest req;
    for (int i = start; i < std::min(n + 1, start + 1000); ++i) {
      admin::Entry* e = req.add_entries();
      e->set_parent_id(kAgentId);
      admin::Selector* s = e->add_selectors();
      s->set_type("unix");
      if (i == n) {  // the one this process gets
        e->set_spiffe_id("spiffe://example.org/bench/client");
        s->set_value(absl::StrCat("uid:", getuid()));
      } else {
        e->set_spiffe_id(absl::StrCat("spiffe://example.org/bench/w-", i));
        s->set_value(absl::StrCat("uid:", 200000 + i));
      }
    }
    admin::BatchCreateEntryResponse resp;
    grpc::Status status = entries.BatchCreateEntry(Ctx(120).get(), req, &resp);
    if (!status.ok()) return absl::InternalError("BatchCreateEntry: " + status.error_message());
    for (const auto& r : resp.results()) {
      if (r.status().code() != 0) return absl::InternalError("create: " + r.status().message());
    }
  }
  return absl::OkStatus();
}

absl::Status StartAgent(const Options& o, const TempDir& dir, int port,
                        std::unique_ptr<ServerProcess>* agent) {
  admin::CreateJoinTokenRequest token_req;
  token_req.set_spiffe_id(kAgentId);
  admin::JoinToken token;
  grpc::Status status = admin::Agents::NewStub(AdminChannel(dir.File("admin.sock")))
                            ->CreateJoinToken(Ctx(30).get(), token_req, &token);
  if (!status.ok()) return absl::InternalError("CreateJoinToken: " + status.error_message());
  auto bundles = admin::Bundles::NewStub(AdminChannel(dir.File("admin.sock")));
  SIGNET_ASSIGN_OR_RETURN(std::string roots, BundlePem(*bundles));
  SIGNET_RETURN_IF_ERROR(WriteSmallFile(dir.File("bundle.pem"), roots));
  SIGNET_RETURN_IF_ERROR(WriteSmallFile(
      dir.File("agent.yaml"),
      absl::StrCat("trust_domain: example.org\nserver_address: 127.0.0.1:", port,
                   "\ndata_dir: ", dir.File("agent"), "\nsocket_path: ", dir.File("w.sock"),
                   "\ntrust_bundle_path: ", dir.File("bundle.pem"),
                   "\nnode_attestor:\n  join_token:\n    token: ", token.token(),
                   "\nlog:\n  level: warn\n")));
  *agent = std::make_unique<ServerProcess>(o.signet, dir.File("agent.yaml"), dir.File("agent.log"),
                                           "agent");
  return absl::OkStatus();
}

// Waits until the agent's status.json counts `want` SVIDs.
absl::Status AwaitSvids(const TempDir& dir, int want) {
  const auto start = SteadyClock::now();
  while (SecondsSince(start) < 120) {
    nlohmann::json status =
        nlohmann::json::parse(ReadSmallFile(dir.File("agent/status.json")), nullptr, false);
    if (status.is_object() && status["svids"].is_number() && status["svids"].get<int>() >= want) {
      return absl::OkStatus();
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(absl::StrCat("the agent did not sign ", want, " SVIDs"));
}

// One connection's way of making a cached FetchJWTSVID call: true when it got one JWT-SVID.
using JwtCall = std::function<bool()>;

// A gRPC C-core channel of its own (grpc++ sync API).
JwtCall GrpcJwtCall(const std::string& socket) {
  std::shared_ptr<SpiffeWorkloadAPI::Stub> stub = WorkloadStub(socket);
  return [stub] {
    grpc::ClientContext ctx;
    Header(ctx);
    JWTSVIDRequest req;
    req.add_audience("bench");
    JWTSVIDResponse resp;
    return stub->FetchJWTSVID(&ctx, req, &resp).ok() && resp.svids_size() == 1;
  };
}

// The lean nghttp2 client: one blocking connection, one call at a time.
JwtCall LeanJwtCall(const std::string& socket) {
  absl::StatusOr<std::unique_ptr<rpc::h2::UnaryClient>> connected =
      rpc::h2::UnaryClient::Connect(socket);
  if (!connected.ok()) return [] { return false; };
  std::shared_ptr<rpc::h2::UnaryClient> client = *std::move(connected);
  JWTSVIDRequest req;
  req.add_audience("bench");
  return [client, bytes = req.SerializeAsString()] {
    absl::StatusOr<std::string> reply =
        client->Call("/SpiffeWorkloadAPI/FetchJWTSVID", bytes, {{"workload.spiffe.io", "true"}});
    JWTSVIDResponse resp;
    return reply.ok() && resp.ParseFromString(*reply) && resp.svids_size() == 1;
  };
}

// T threads, a connection each from `connect`, C calls each. Every connection is made and
// has answered one call before the clock starts, so the figures hold calls only.
absl::Status JwtPhase(const Options& o, const std::function<JwtCall(const std::string&)>& connect,
                      const std::string& socket, JwtFigures& f) {
  std::vector<JwtCall> clients;
  for (int t = 0; t < o.threads; ++t) {
    clients.push_back(connect(socket));
    if (!clients.back()()) return absl::InternalError("the first JWT call failed");
  }
  std::vector<Latencies> per_thread(static_cast<size_t>(o.threads));
  std::atomic<int> failures{0};
  std::latch go(1);
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&, t] {
      const JwtCall& call = clients[static_cast<size_t>(t)];
      go.wait();
      for (int i = 0; i < o.calls; ++i) {
        const auto start = SteadyClock::now();
        if (!call()) ++failures;
        per_thread[static_cast<size_t>(t)].Add(SecondsSince(start));
      }
    });
  }
  const auto start = SteadyClock::now();
  go.count_down();
  for (auto& t : threads) t.join();
  f.seconds += SecondsSince(start);
  if (failures > 0) return absl::InternalError(absl::StrCat(failures.load(), " JWT calls failed"));
  for (const Latencies& l : per_thread) f.latency.Merge(l);
  f.calls += static_cast<double>(o.calls) * o.threads;
  return absl::OkStatus();
}

absl::Status X509Phase(const Options& o, const std::string& socket, Figures& f) {
  auto stub = WorkloadStub(socket);
  for (int i = 0; i < o.calls; ++i) {
    grpc::ClientContext ctx;
    Header(ctx);
    const auto start = SteadyClock::now();
    auto reader = stub->FetchX509SVID(&ctx, X509SVIDRequest());
    X509SVIDResponse resp;
    if (!reader->Read(&resp) || resp.svids_size() != 1) {
      return absl::InternalError("FetchX509SVID: no first message: " +
                                 reader->Finish().error_message());
    }
    f.x509.Add(SecondsSince(start));
    ctx.TryCancel();
    reader->Finish();
  }
  return absl::OkStatus();
}

absl::Status Run(const Options& o, const TempDir& dir, Figures& f) {
  SIGNET_ASSIGN_OR_RETURN(crypto::PrivateKey yardstick,
                          crypto::PrivateKey::Generate(crypto::KeyType::kEcP256));
  SIGNET_ASSIGN_OR_RETURN(f.sign_rate, SignRate(yardstick, 1.0));
  SIGNET_ASSIGN_OR_RETURN(f.verify_rate, VerifyRate(yardstick, 1.0));
  SIGNET_RETURN_IF_ERROR(WriteSmallFile(
      dir.File("server.yaml"),
      absl::StrCat("trust_domain: example.org\ndata_dir: ", dir.File("data"),
                   "\nadmin_socket: ", dir.File("admin.sock"), "\nbind_address: 127.0.0.1:0\n",
                   "node_attestors:\n  join_token: {}\nlog:\n  level: info\n")));
  const auto setup = SteadyClock::now();
  ServerProcess server(o.signet, dir.File("server.yaml"), dir.File("server.log"));
  SIGNET_RETURN_IF_ERROR(WaitReady(server, dir.File("admin.sock"), setup).status());
  SIGNET_ASSIGN_OR_RETURN(int port, TcpPort(dir.File("server.log")));
  auto entries = admin::Entries::NewStub(AdminChannel(dir.File("admin.sock")));
  SIGNET_RETURN_IF_ERROR(CreateEntries(*entries, o.entries));
  std::unique_ptr<ServerProcess> agent;
  SIGNET_RETURN_IF_ERROR(StartAgent(o, dir, port, &agent));
  SIGNET_RETURN_IF_ERROR(AwaitSvids(dir, o.entries + 1));
  f.setup_s = SecondsSince(setup);
  absl::SleepFor(absl::Seconds(1));
  f.idle = agent->GetUsage();
  std::fprintf(stderr, "agent holds %d SVIDs after %.1f s\n", o.entries + 1, f.setup_s);

  const std::string socket = dir.File("w.sock");
  // Lean, C-core, C-core, lean: drift in the machine's load falls on both alike. The first
  // call mints the JWT-SVID that the phases fetch from the cache.
  if (!LeanJwtCall(socket)()) return absl::InternalError("the first JWT call failed");
  SIGNET_RETURN_IF_ERROR(JwtPhase(o, LeanJwtCall, socket, f.jwt));
  SIGNET_RETURN_IF_ERROR(JwtPhase(o, GrpcJwtCall, socket, f.jwt_grpc));
  SIGNET_RETURN_IF_ERROR(JwtPhase(o, GrpcJwtCall, socket, f.jwt_grpc));
  SIGNET_RETURN_IF_ERROR(JwtPhase(o, LeanJwtCall, socket, f.jwt));
  SIGNET_RETURN_IF_ERROR(X509Phase(o, socket, f));

  std::vector<std::unique_ptr<SpiffeWorkloadAPI::Stub>> stubs;
  for (int c = 0; c < 10; ++c) stubs.push_back(WorkloadStub(socket));
  std::atomic<int> first{0};
  std::vector<std::unique_ptr<X509Stream>> streams;
  for (int i = 0; i < o.streams; ++i) {
    streams.push_back(
        std::make_unique<X509Stream>(stubs[static_cast<size_t>(i % 10)].get(), &first));
  }
  const auto open = SteadyClock::now();
  while (first < o.streams && SecondsSince(open) < 60) absl::SleepFor(absl::Milliseconds(10));
  if (first < o.streams) {
    return absl::InternalError(absl::StrCat(first.load(), " of ", o.streams, " streams opened"));
  }
  absl::SleepFor(absl::Seconds(2));
  f.loaded = agent->GetUsage();
  for (auto& s : streams) s->Cancel();
  for (auto& s : streams) s->AwaitDone();
  SIGNET_RETURN_IF_ERROR(agent->Stop(30));
  return server.Stop(30);
}

int Report(const Options& o, const Figures& f) {
  const double jwt_p99 = f.jwt.latency.Percentile(0.99);
  const double x509_p99 = f.x509.Percentile(0.99);
  const double rss_mb = static_cast<double>(f.loaded.rss_kb) / 1024;
  const bool jwt_met = jwt_p99 < kJwtP99TargetMs;
  const bool x509_met = x509_p99 < kX509P99TargetMs;
  const bool rss_met = rss_mb < kRssTargetMb;
  std::printf(
      "\n%d cached SVIDs (+1 for the client); %d x %d JWT calls x 2 per client; %d X.509 calls; "
      "%d streams\n",
      o.entries, o.threads, o.calls, o.calls, o.streams);
  std::printf("%-52s %12s %10s %s\n", "metric", "value", "target", "result");
  std::printf("%-52s %10.0f/s\n", "OpenSSL ECDSA P-256 sign", f.sign_rate);
  std::printf("%-52s %10.0f/s\n", "OpenSSL ECDSA P-256 verify", f.verify_rate);
  std::printf("%-52s %11.1fs\n", "server + agent up, every SVID signed", f.setup_s);
  std::printf("%-52s %10.3fms\n", "FetchJWTSVID (cached), p50", f.jwt.latency.Percentile(0.5));
  std::printf("%-52s %10.3fms %10s %s\n", "FetchJWTSVID (cached), p99", jwt_p99, "< 0.5 ms",
              jwt_met ? "PASS" : "MISSED");
  std::printf("%-52s %10.0f/s\n", "FetchJWTSVID calls/s", f.jwt.rate());
  std::printf("%-52s %12.3f\n", "  ratio to raw P-256 sign", f.jwt.rate() / f.sign_rate);
  std::printf("%-52s %10.3fms\n", "  same with gRPC C-core clients, p50",
              f.jwt_grpc.latency.Percentile(0.5));
  std::printf("%-52s %10.3fms\n", "  same with gRPC C-core clients, p99",
              f.jwt_grpc.latency.Percentile(0.99));
  std::printf("%-52s %10.0f/s\n", "  same with gRPC C-core clients, calls/s", f.jwt_grpc.rate());
  std::printf("%-52s %10.3fms\n", "FetchX509SVID first message, p50", f.x509.Percentile(0.5));
  std::printf("%-52s %10.3fms %10s %s\n", "FetchX509SVID first message, p99", x509_p99, "< 5 ms",
              x509_met ? "PASS" : "MISSED");
  std::printf("%-52s %9.1f MB\n", "agent RSS with the SVIDs cached, no stream",
              static_cast<double>(f.idle.rss_kb) / 1024);
  std::printf("%-52s %9.1f MB %10s %s\n", "agent RSS, SVIDs cached + every stream open", rss_mb,
              "< 40 MB", rss_met ? "PASS" : "MISSED");
  std::printf("%-52s %9.1f MB\n", "  of which anonymous",
              static_cast<double>(f.loaded.rss_anon_kb) / 1024);
  return jwt_met && x509_met && rss_met ? 0 : 1;
}

}  // namespace
}  // namespace signet::bench

int main(int argc, char** argv) {
  // As in the signet binary (src/cli/main.cc): Debian's Abseil keeps its lock-order check on,
  // which gRPC C-core's mutexes pay for on every call of the C-core phase.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::optional<signet::bench::Options> o = signet::bench::ParseFlags(argc, argv);
  if (!o.has_value()) return 2;
  absl::StatusOr<signet::bench::TempDir> dir = signet::bench::TempDir::Create("wlbench", o->keep);
  if (!dir.ok()) return 3;
  signet::bench::Figures f;
  absl::Status status = signet::bench::Run(*o, *dir, f);
  if (!status.ok()) {
    std::fprintf(stderr, "error: %s\n%s%s", status.ToString().c_str(),
                 signet::bench::LogTail(dir->File("server.log")).c_str(),
                 signet::bench::LogTail(dir->File("agent.log"), "agent log").c_str());
    return 3;
  }
  return signet::bench::Report(*o, f);
}
