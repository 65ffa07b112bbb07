// Pieces the benchmark programs share: timing, percentiles, the raw OpenSSL rates they are
// compared with, a temporary directory, and the real `signet server` run as a child process.
// Benchmarks use the wall clock and randomness by design.
#ifndef SIGNET_BENCH_COMMON_BENCH_SUPPORT_H_
#define SIGNET_BENCH_COMMON_BENCH_SUPPORT_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "signet/admin/v1/admin.grpc.pb.h"
#include "src/crypto/key.h"

namespace signet::bench {

using SteadyClock = std::chrono::steady_clock;

inline double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

// CPU time of the calling thread, in seconds: unlike wall time, not inflated when other work on
// the shared machine preempts us.
double ThreadCpuSeconds();

class Latencies {
 public:
  void Add(double seconds) { ms_.push_back(seconds * 1000); }
  // Nearest-rank percentile, in milliseconds. REQUIRES: at least one sample.
  double Percentile(double p) const;
  size_t size() const { return ms_.size(); }
  void Merge(const Latencies& other) { ms_.insert(ms_.end(), other.ms_.begin(), other.ms_.end()); }

 private:
  std::vector<double> ms_;
};

double Median(std::vector<double> v);

// ECDSA signatures per second with `key` over a 32-byte message (EVP_DigestSignInit +
// EVP_DigestSign with a fresh context, as bench/crypto's raw sign), for about `seconds`.
absl::StatusOr<double> SignRate(const crypto::PrivateKey& key, double seconds);
// Verifications per second of such a signature (EVP_DigestVerifyInit + EVP_DigestVerify).
absl::StatusOr<double> VerifyRate(const crypto::PrivateKey& key, double seconds);

std::string ReadSmallFile(const std::string& path);
absl::Status WriteSmallFile(const std::string& path, absl::string_view text);
// The last 4,000 bytes of the file at `path`, headed "<what> (end):".
std::string LogTail(const std::string& path, absl::string_view what = "server log");

// A temporary directory /tmp/signet-<name>-XXXXXX, removed with everything in it unless kept.
class TempDir {
 public:
  static absl::StatusOr<TempDir> Create(absl::string_view name, bool keep);
  TempDir(TempDir&& other) noexcept;
  ~TempDir();
  std::string File(absl::string_view name) const { return absl::StrCat(path_, "/", name); }

 private:
  TempDir(std::string path, bool keep) : path_(std::move(path)), keep_(keep) {}
  std::string path_;
  bool keep_;
};

// `signet <role> run -c CONFIG` (role "server" or "agent"), or any command, as a child, its output
// appended to a log file. SIGKILLed and reaped by the destructor if still running.
class ServerProcess {
 public:
  ServerProcess(const std::string& binary, const std::string& config, const std::string& log,
                const std::string& role = "server");
  // Any command: argv[0] is the program's path.
  ServerProcess(const std::vector<std::string>& argv, const std::string& log);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  bool started() const { return pid_ > 0; }

  // The child's CPU time (user + system), the bytes it has caused to be written to storage and
  // its resident memory, from /proc; zeros when unavailable.
  struct Usage {
    double cpu_s = 0;
    int64_t write_bytes = 0;
    int64_t rss_kb = 0;       // resident set size now
    int64_t rss_anon_kb = 0;  // of which anonymous memory (not file pages mapped from the cache)
    int64_t threads = 0;
  };
  Usage GetUsage() const;

  // The exit status once the child has exited (128 + signal when killed), else nullopt.
  std::optional<int> Poll();
  // SIGTERM (a graceful stop), then waits up to `timeout_s` for a clean exit.
  absl::Status Stop(double timeout_s);

 private:
  pid_t pid_ = -1;
};

// A channel to the admin socket that retries connecting every few milliseconds rather than after
// gRPC's default backoff of a second.
std::shared_ptr<grpc::Channel> AdminChannel(const std::string& socket);
std::unique_ptr<grpc::ClientContext> Ctx(int seconds);

// Polls the admin Health call every 2 ms until it answers; returns the seconds since `start`.
absl::StatusOr<double> WaitReady(ServerProcess& server, const std::string& socket,
                                 SteadyClock::time_point start);

// Whether `arg` is `name` followed by an integer in [min, max]; stores it in *out if so.
// ("--agents=", 1, 20000 accepts "--agents=1000".)
bool IntFlag(absl::string_view arg, absl::string_view name, int min, int max, int* out);
// The flags every bench that runs `signet` takes: --keep (keep the temporary directory) and
// --signet=PATH (the binary). True when `arg` was one of them.
bool RunFlag(absl::string_view arg, bool* keep, std::string* signet);

// The TCP port from the server's "server ready" log line in the log file at `log`.
absl::StatusOr<int> TcpPort(const std::string& log);
// The server's X.509 authorities as PEM, through the admin API.
absl::StatusOr<std::string> BundlePem(::signet::admin::v1::Bundles::Stub& bundles);

}  // namespace signet::bench

#endif  // SIGNET_BENCH_COMMON_BENCH_SUPPORT_H_
