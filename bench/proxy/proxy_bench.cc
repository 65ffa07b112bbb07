// bench/proxy: requests through a `signet proxy client` -> `signet proxy server` pair versus a
// direct mutual-TLS connection between the same two endpoints.
//
//   build/release/bench/proxy/proxy_bench [--threads=T] [--seconds=S] [--bytes=B] [--rounds=R]
//       [--idle=N] [--plain-unix] [--no-nginx] [--nginx-workers=N|auto] [--signet=PATH] [--keep]
//
// Setup: `signet dev` (server + agent) and one entry for this process's uid. The endpoints live
// in this process: a load generator with T client threads and an echo backend (thread per
// connection) that answers each B-byte request with B bytes.
//   direct:  client --mTLS (libsignet-client contexts, OpenSSL)--> TLS echo backend
//   proxied: client --plain--> proxy client --mTLS--> proxy server --plain--> plain echo backend
// Each path runs with connection reuse (one connection per thread, requests back to back) and
// without (a new connection, and so a new TLS handshake, per request), for S seconds, R rounds
// alternating direct and proxied; requests/s is the median round, latencies all rounds merged.
// Throughput is reported as the ratio proxied / direct: the direct path is the raw OpenSSL rate
// of the same run. Target: with reuse, proxied >= 0.8 x direct (<= 20 % overhead).
// Two references run in the same rounds, built from nginx's stream module (nginx_pair.h): an
// nginx pair making the same mTLS tunnel, and one whose middle hop is plain TCP, the cost of the
// extra hops alone. --no-nginx leaves them out; --nginx-workers sets each nginx's worker
// processes, by default as many as `signet proxy` starts pump loops (2 per CPU, 4 to 16).
// --work-us=W makes the backend spend W µs of CPU on each request (0, a bare echo, by default):
// the proxy's fixed cost per request against a backend that does some work.
// --idle=N (default 1000) then opens N connections through the proxies, each carrying one
// request, and reports the proxies' threads and resident memory while they stay open.
// --plain-unix runs the two plaintext hops (load generator -> proxy client, proxy server ->
// backend) over Unix sockets, as a sidecar can; the mTLS hop and the direct path stay TCP.
// Exits 1 when the target is missed, 2 on bad flags, 3 when the run itself fails.
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "bench/common/bench_support.h"
#include "bench/proxy/echo.h"
#include "bench/proxy/nginx_pair.h"
#include "nlohmann/json.hpp"
#include "signet/tls.h"
#include "signet/workload.h"
#include "src/common/status_macros.h"
#include "src/proxy/proxy.h"

namespace signet::bench {
namespace {

namespace admin = ::signet::admin::v1;

constexpr double kReuseRatioTarget = 0.8;
constexpr char kBenchId[] = "spiffe://example.org/bench";

struct Options {
  int threads = 4;
  int seconds = 3;
  int bytes = 1024;
  int work_us = 0;  // CPU time the backend spends on each request (a busy loop)
  int rounds = 3;
  int idle = 1000;          // connections held open at the end, for the proxies' memory and threads
  bool plain_unix = false;  // the plaintext hops over Unix sockets instead of TCP
  bool nginx = true;        // the nginx reference pairs too
  std::string nginx_workers;  // empty: as many as signet proxy's loops (NginxWorkers)
  bool keep = false;
  std::string signet = SIGNET_BINARY;
};

std::optional<Options> ParseFlags(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (IntFlag(arg, "--threads=", 1, 256, &o.threads) ||
        IntFlag(arg, "--seconds=", 1, 600, &o.seconds) ||
        IntFlag(arg, "--bytes=", 1, 1 << 20, &o.bytes) ||
        IntFlag(arg, "--rounds=", 1, 50, &o.rounds) ||
        IntFlag(arg, "--work-us=", 0, 1000000, &o.work_us) ||
        IntFlag(arg, "--idle=", 0, 100000, &o.idle)) {
      continue;
    }
    if (arg == "--plain-unix") {
      o.plain_unix = true;
      continue;
    }
    if (arg == "--no-nginx") {
      o.nginx = false;
      continue;
    }
    int workers = 0;
    if (arg == "--nginx-workers=auto" || IntFlag(arg, "--nginx-workers=", 1, 64, &workers)) {
      o.nginx_workers = workers > 0 ? std::to_string(workers) : "auto";
      continue;
    }
    if (RunFlag(arg, &o.keep, &o.signet)) continue;
    std::fprintf(stderr,
                 "usage: %s [--threads=T] [--seconds=S] [--bytes=B] [--rounds=R] [--work-us=W] "
                 "[--idle=N] [--plain-unix] [--no-nginx] [--nginx-workers=N|auto] [--signet=PATH] "
                 "[--keep]\n",
                 argv[0]);
    return std::nullopt;
  }
  return o;
}

// As many nginx workers as `signet proxy` runs pump loops by default, unless --nginx-workers
// said otherwise.
std::string NginxWorkers(const Options& o) {
  return o.nginx_workers.empty() ? std::to_string(proxy::DefaultPumpThreads()) : o.nginx_workers;
}

struct Load {
  double rps = 0;
  Latencies latency;
  int failures = 0;
};

// `threads` clients for `seconds` against `to`, reusing one connection each or not.
Load RunLoad(const Options& o, const Endpoint& to, SSL_CTX* ctx, bool reuse) {
  std::vector<Latencies> per_thread(static_cast<size_t>(o.threads));
  std::vector<int> failures(static_cast<size_t>(o.threads), 0);
  const auto start = SteadyClock::now();
  const auto end = start + std::chrono::seconds(o.seconds);
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<char> out(static_cast<size_t>(o.bytes), 'x');
      std::vector<char> in(static_cast<size_t>(o.bytes));
      std::unique_ptr<Conn> conn;
      while (SteadyClock::now() < end) {
        const auto t0 = SteadyClock::now();
        if (conn == nullptr) conn = Dial(to, ctx);
        const bool ok = conn != nullptr && conn->WriteAll(out.data(), o.bytes) &&
                        conn->ReadExact(in.data(), o.bytes) && in == out;
        if (!ok) {
          ++failures[static_cast<size_t>(t)];
          conn.reset();
          continue;
        }
        per_thread[static_cast<size_t>(t)].Add(SecondsSince(t0));
        if (!reuse) conn.reset();
      }
    });
  }
  for (auto& t : threads) t.join();
  Load load;
  for (const Latencies& l : per_thread) load.latency.Merge(l);
  for (int f : failures) load.failures += f;
  load.rps = static_cast<double>(load.latency.size()) / SecondsSince(start);
  return load;
}

// The port a `signet proxy` child logged ("address=127.0.0.1:PORT"), waiting up to 20 s; 0
// once it logs that it listens on a Unix socket.
absl::StatusOr<int> ProxyPort(const std::string& log) {
  const auto start = SteadyClock::now();
  while (SecondsSince(start) < 20) {
    const std::string text = ReadSmallFile(log);
    if (text.find("address=unix:") != std::string::npos) return 0;
    const size_t at = text.find("address=127.0.0.1:");
    int port = 0;
    if (at != std::string::npos &&
        absl::SimpleAtoi(text.substr(at + 18, text.find_first_of(" \n", at) - at - 18), &port)) {
      return port;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError("the proxy did not start\n" + LogTail(log, "proxy log"));
}

struct Dev {
  std::unique_ptr<ServerProcess> process;
  std::string admin_socket;
  std::string workload_socket;
  std::string agent_id;
};

absl::StatusOr<Dev> StartDev(const Options& o, const TempDir& dir) {
  Dev dev;
  dev.process = std::make_unique<ServerProcess>(
      std::vector<std::string>{o.signet, "dev", "--data-dir", dir.File("dev"), "--output", "json"},
      dir.File("dev.log"));
  const auto start = SteadyClock::now();
  while (SecondsSince(start) < 60) {
    const std::string log = ReadSmallFile(dir.File("dev.log"));
    const size_t at = log.find("{\"");
    if (at != std::string::npos && log.find('\n', at) != std::string::npos) {
      nlohmann::json j =
          nlohmann::json::parse(log.substr(at, log.find('\n', at) - at), nullptr, false);
      if (!j.is_object()) break;
      dev.admin_socket = j.value("admin_socket", "");
      dev.workload_socket = j.value("workload_socket", "");
      dev.agent_id = j.value("agent_id", "");
      return dev;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError("signet dev did not start\n" +
                                     LogTail(dir.File("dev.log"), "dev log"));
}

absl::Status CreateEntry(const Dev& dev) {
  admin::BatchCreateEntryRequest req;
  admin::Entry* e = req.add_entries();
  e->set_spiffe_id(kBenchId);
  e->set_parent_id(dev.agent_id);
  e->add_dns_names("localhost");  // what the nginx reference's client side checks
  admin::Selector* s = e->add_selectors();
  s->set_type("unix");
  s->set_value(absl::StrCat("uid:", getuid()));
  admin::BatchCreateEntryResponse resp;
  grpc::Status status = admin::Entries::NewStub(AdminChannel(dev.admin_socket))
                            ->BatchCreateEntry(Ctx(30).get(), req, &resp);
  if (!status.ok()) return absl::InternalError("BatchCreateEntry: " + status.error_message());
  if (resp.results_size() != 1 || resp.results(0).status().code() != 0) {
    return absl::InternalError("the entry was not created");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<X509Source>> AwaitSource(const Dev& dev) {
  SourceOptions options;
  options.address = dev.workload_socket;
  options.first_update_timeout = std::chrono::seconds(30);
  return X509Source::Create(options);
}

// The proxies' resources before and while `open` idle connections go through them.
struct Idle {
  int open = 0;
  ServerProcess::Usage client_before, server_before, client, server;
};

// Opens up to o.idle connections through the proxies at `to`, each carrying one request, and
// reads what the two proxy processes hold while they stay open.
void HoldIdle(const Options& o, const Endpoint& to, const ServerProcess& client,
              const ServerProcess& server, Idle* out) {
  out->client_before = client.GetUsage();
  out->server_before = server.GetUsage();
  std::vector<std::unique_ptr<Conn>> conns;
  std::vector<char> buf(static_cast<size_t>(o.bytes), 'i');
  for (int i = 0; i < o.idle; ++i) {
    std::unique_ptr<Conn> c = Dial(to, nullptr);
    if (c == nullptr || !c->WriteAll(buf.data(), o.bytes) || !c->ReadExact(buf.data(), o.bytes)) {
      break;
    }
    conns.push_back(std::move(c));
  }
  out->open = static_cast<int>(conns.size());
  absl::SleepFor(absl::Milliseconds(200));  // threads that served only a handshake have ended
  out->client = client.GetUsage();
  out->server = server.GetUsage();
}

struct Pair {
  Load direct;
  Load proxied;
  std::optional<Load> nginx_tls;  // the references, when they ran
  std::optional<Load> nginx_plain;
};

double MedianRps(const std::vector<Load>& rounds) {
  std::vector<double> v;
  for (const Load& l : rounds) v.push_back(l.rps);
  return Median(v);
}

Load Combine(const std::vector<Load>& rounds) {
  Load out;
  out.rps = MedianRps(rounds);
  for (const Load& l : rounds) {
    out.latency.Merge(l.latency);
    out.failures += l.failures;
  }
  return out;
}

absl::Status Run(const Options& o, const TempDir& dir, Pair* reuse, Pair* fresh, Idle* idle) {
  SIGNET_ASSIGN_OR_RETURN(Dev dev, StartDev(o, dir));
  SIGNET_RETURN_IF_ERROR(CreateEntry(dev));
  SIGNET_ASSIGN_OR_RETURN(std::shared_ptr<X509Source> source, AwaitSource(dev));
  SIGNET_ASSIGN_OR_RETURN(SslCtxPtr server_ctx,
                          NewMtlsServerContext(source, AuthorizeMemberOf("example.org")));
  SIGNET_ASSIGN_OR_RETURN(SslCtxPtr client_ctx,
                          NewMtlsClientContext(source, AuthorizeId(kBenchId)));
  EchoServer tls_echo(server_ctx.get(), o.bytes, o.work_us);
  EchoServer plain_echo(nullptr, o.bytes, o.work_us, o.plain_unix ? dir.File("echo.sock") : "");
  ServerProcess proxy_server({o.signet, "proxy", "server", "--listen", "127.0.0.1:0", "--backend",
                              plain_echo.address(), "--allow-trust-domain", "example.org",
                              "--socket", dev.workload_socket, "--max-connections", "10000"},
                             dir.File("proxy-server.log"));
  SIGNET_ASSIGN_OR_RETURN(int server_port, ProxyPort(dir.File("proxy-server.log")));
  Endpoint client_side;
  if (o.plain_unix) client_side.unix_path = dir.File("client.sock");
  ServerProcess proxy_client(
      {o.signet, "proxy", "client", "--listen",
       o.plain_unix ? "unix:" + client_side.unix_path : "127.0.0.1:0", "--connect",
       absl::StrCat("127.0.0.1:", server_port), "--server-id", kBenchId, "--socket",
       dev.workload_socket, "--max-connections", "10000"},
      dir.File("proxy-client.log"));
  SIGNET_ASSIGN_OR_RETURN(client_side.port, ProxyPort(dir.File("proxy-client.log")));
  std::unique_ptr<NginxPair> nginx_tls;
  std::unique_ptr<NginxPair> nginx_plain;
  if (o.nginx && !o.plain_unix) {
    SIGNET_ASSIGN_OR_RETURN(X509Svid svid, source->Svid());
    NginxPairFiles files{svid.ChainPem(), svid.PrivateKeyPem(), ""};
    SIGNET_ASSIGN_OR_RETURN(files.bundle_pem,
                            BundlePem(*admin::Bundles::NewStub(AdminChannel(dev.admin_socket))));
    const int echo_port = plain_echo.endpoint().port;
    SIGNET_ASSIGN_OR_RETURN(
        nginx_tls, NginxPair::Start(dir, "nginx-tls", files, echo_port, true, NginxWorkers(o)));
    SIGNET_ASSIGN_OR_RETURN(nginx_plain, NginxPair::Start(dir, "nginx-plain", files, echo_port,
                                                          false, NginxWorkers(o)));
  }

  for (bool with_reuse : {true, false}) {
    std::vector<Load> direct, proxied, via_nginx_tls, via_nginx_plain;
    for (int r = 0; r < o.rounds; ++r) {
      direct.push_back(RunLoad(o, tls_echo.endpoint(), client_ctx.get(), with_reuse));
      proxied.push_back(RunLoad(o, client_side, nullptr, with_reuse));
      std::string references;
      if (nginx_tls != nullptr) {
        via_nginx_tls.push_back(RunLoad(o, {nginx_tls->client_port(), ""}, nullptr, with_reuse));
        via_nginx_plain.push_back(
            RunLoad(o, {nginx_plain->client_port(), ""}, nullptr, with_reuse));
        references = absl::StrFormat(", nginx mTLS %.0f/s, nginx plain %.0f/s",
                                     via_nginx_tls.back().rps, via_nginx_plain.back().rps);
      }
      std::fprintf(stderr, "%s round %d: direct %.0f/s, proxied %.0f/s%s\n",
                   with_reuse ? "reuse" : "new connections", r + 1, direct.back().rps,
                   proxied.back().rps, references.c_str());
    }
    Pair& out = with_reuse ? *reuse : *fresh;
    out.direct = Combine(direct);
    out.proxied = Combine(proxied);
    if (nginx_tls != nullptr) {
      out.nginx_tls = Combine(via_nginx_tls);
      out.nginx_plain = Combine(via_nginx_plain);
    }
    if (out.direct.latency.size() == 0 || out.proxied.latency.size() == 0) {
      return absl::InternalError(
          absl::StrCat("no request succeeded (", out.direct.failures + out.proxied.failures,
                       " failures)\n", LogTail(dir.File("proxy-client.log"), "proxy client log")));
    }
    for (const auto& [name, load] :
         {std::pair{"nginx-tls", &out.nginx_tls}, std::pair{"nginx-plain", &out.nginx_plain}}) {
      if (load->has_value() && (*load)->latency.size() == 0) {
        return absl::InternalError(absl::StrCat(
            "no request through the ", name, " pair succeeded\n",
            LogTail(dir.File(absl::StrCat(name, "-client-error.log")), "nginx client error log"),
            "\n",
            LogTail(dir.File(absl::StrCat(name, "-server-error.log")), "nginx server error log")));
      }
    }
  }
  if (o.idle > 0) HoldIdle(o, client_side, proxy_client, proxy_server, idle);
  SIGNET_RETURN_IF_ERROR(proxy_client.Stop(10));
  SIGNET_RETURN_IF_ERROR(proxy_server.Stop(10));
  return dev.process->Stop(30);
}

void PrintPath(const char* name, const Load& direct, const Load& via) {
  std::printf("%-38s %10.0f/s %10.0f/s %7.3f\n", name, direct.rps, via.rps, via.rps / direct.rps);
  std::printf("  %-36s %9.3fms %9.3fms\n", "p50", direct.latency.Percentile(0.5),
              via.latency.Percentile(0.5));
  std::printf("  %-36s %9.3fms %9.3fms   added %.3f ms\n", "p99", direct.latency.Percentile(0.99),
              via.latency.Percentile(0.99),
              via.latency.Percentile(0.99) - direct.latency.Percentile(0.99));
  std::printf("  %-36s %10d %10d\n", "failed requests", direct.failures, via.failures);
}

void PrintPair(const char* name, const Pair& p) {
  PrintPath(name, p.direct, p.proxied);
  if (p.nginx_tls.has_value()) {
    PrintPath("  reference: nginx stream pair, mTLS", p.direct, *p.nginx_tls);
    PrintPath("  reference: nginx stream pair, plain", p.direct, *p.nginx_plain);
  }
}

void PrintIdle(const Options& o, const Idle& idle) {
  if (o.idle == 0) return;
  std::printf("%d of %d idle connections open through the proxies:\n", idle.open, o.idle);
  for (auto [name, before, with] : {std::tuple{"proxy client", idle.client_before, idle.client},
                                    std::tuple{"proxy server", idle.server_before, idle.server}}) {
    std::printf("  %-36s threads %lld -> %lld, RSS %.1f -> %.1f MB\n", name,
                static_cast<long long>(before.threads), static_cast<long long>(with.threads),
                static_cast<double>(before.rss_kb) / 1024, static_cast<double>(with.rss_kb) / 1024);
  }
}

int Report(const Options& o, const Pair& reuse, const Pair& fresh, const Idle& idle) {
  std::printf(
      "\n%d client threads, %d-byte requests and answers, %d us of backend CPU per request, "
      "%d x %d s rounds per path; plaintext hops over %s\n",
      o.threads, o.bytes, o.work_us, o.rounds, o.seconds, o.plain_unix ? "Unix sockets" : "TCP");
  std::printf("%-38s %12s %12s %7s\n", "", "direct mTLS", "via proxies", "ratio");
  PrintPair("connection reuse: requests", reuse);
  PrintPair("new connection per request", fresh);
  PrintIdle(o, idle);
  const double ratio = reuse.proxied.rps / reuse.direct.rps;
  const bool met = ratio >= kReuseRatioTarget && reuse.proxied.failures == 0;
  std::printf("%-38s %7.3f  >= %.1f  %s\n", "target: proxied/direct with reuse", ratio,
              kReuseRatioTarget, met ? "PASS" : "MISSED");
  return met ? 0 : 1;
}

}  // namespace
}  // namespace signet::bench

int main(int argc, char** argv) {
  std::optional<signet::bench::Options> o = signet::bench::ParseFlags(argc, argv);
  if (!o.has_value()) return 2;
  absl::StatusOr<signet::bench::TempDir> dir =
      signet::bench::TempDir::Create("proxybench", o->keep);
  if (!dir.ok()) {
    std::fprintf(stderr, "error: %s\n", dir.status().ToString().c_str());
    return 3;
  }
  signet::bench::Pair reuse;
  signet::bench::Pair fresh;
  signet::bench::Idle idle;
  // Each idle connection takes two descriptors here (its client and the backend's end).
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  absl::Status status = signet::bench::Run(*o, *dir, &reuse, &fresh, &idle);
  if (!status.ok()) {
    std::fprintf(stderr, "error: %s\n", status.ToString().c_str());
    return 3;
  }
  return signet::bench::Report(*o, reuse, fresh, idle);
}
