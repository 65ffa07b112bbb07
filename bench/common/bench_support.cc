#include "bench/common/bench_support.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "signet/admin/v1/admin.grpc.pb.h"
#include "src/common/status_macros.h"
#include "src/crypto/certificate.h"
#include "src/crypto/ossl.h"

namespace signet::bench {

namespace pb = ::signet::admin::v1;

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double Latencies::Percentile(double p) const {
  std::vector<double> sorted = ms_;
  std::sort(sorted.begin(), sorted.end());
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

absl::StatusOr<double> SignRate(const crypto::PrivateKey& key, double seconds) {
  const unsigned char message[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  unsigned char signature[128];
  int64_t signs = 0;
  const auto start = SteadyClock::now();
  do {
    for (int i = 0; i < 100; ++i) {
      crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
      size_t len = sizeof(signature);
      if (ctx == nullptr ||
          EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
          EVP_DigestSign(ctx.get(), signature, &len, message, sizeof(message)) != 1) {
        return absl::InternalError("openssl: sign failed");
      }
    }
    signs += 100;
  } while (SecondsSince(start) < seconds);
  const double elapsed = SecondsSince(start);
  return static_cast<double>(signs) / elapsed;
}

absl::StatusOr<double> VerifyRate(const crypto::PrivateKey& key, double seconds) {
  const unsigned char message[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  unsigned char signature[128];
  size_t length = sizeof(signature);
  {
    crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    if (ctx == nullptr ||
        EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
        EVP_DigestSign(ctx.get(), signature, &length, message, sizeof(message)) != 1) {
      return absl::InternalError("openssl: sign failed");
    }
  }
  int64_t verifies = 0;
  const auto start = SteadyClock::now();
  do {
    for (int i = 0; i < 100; ++i) {
      crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
      if (ctx == nullptr ||
          EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
          EVP_DigestVerify(ctx.get(), signature, length, message, sizeof(message)) != 1) {
        return absl::InternalError("openssl: verify failed");
      }
    }
    verifies += 100;
  } while (SecondsSince(start) < seconds);
  return static_cast<double>(verifies) / SecondsSince(start);
}

std::string ReadSmallFile(const std::string& path) {
  std::string text;
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) {
    return text;
  }
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), f)) > 0;) {
    text.append(buf, n);
  }
  std::fclose(f);
  return text;
}

absl::Status WriteSmallFile(const std::string& path, absl::string_view text) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path));
  }
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  return std::fclose(f) == 0 && ok ? absl::OkStatus()
                                   : absl::UnavailableError(absl::StrCat("cannot write ", path));
}

std::string LogTail(const std::string& path, absl::string_view what) {
  const std::string text = ReadSmallFile(path);
  constexpr size_t kTail = 4000;
  return absl::StrCat(what, " (end):\n",
                      text.size() > kTail ? text.substr(text.size() - kTail) : text);
}

absl::StatusOr<TempDir> TempDir::Create(absl::string_view name, bool keep) {
  std::string pattern = absl::StrCat("/tmp/signet-", name, "-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::UnavailableError("mkdtemp failed");
  }
  return TempDir(pattern, keep);
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)), keep_(other.keep_) {
  other.path_.clear();
}

TempDir::~TempDir() {
  if (path_.empty()) {
    return;
  }
  if (keep_) {
    std::fprintf(stderr, "kept %s\n", path_.c_str());
    return;
  }
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

ServerProcess::ServerProcess(const std::string& binary, const std::string& config,
                             const std::string& log, const std::string& role)
    : ServerProcess(std::vector<std::string>{binary, role, "run", "-c", config}, log) {}

ServerProcess::ServerProcess(const std::vector<std::string>& argv, const std::string& log) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  pid_ = fork();
  if (pid_ == 0) {
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execv(args[0], args.data());
    _exit(127);
  }
  if (fd >= 0) {
    close(fd);
  }
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

ServerProcess::Usage ServerProcess::GetUsage() const {
  Usage usage;
  const std::string stat = ReadSmallFile(absl::StrCat("/proc/", pid_, "/stat"));
  // Fields after the command name in parentheses: state is field 3, utime and stime 14 and 15.
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(stat).substr(stat.rfind(')') + 1), ' ', absl::SkipEmpty());
  double utime = 0;
  double stime = 0;
  if (fields.size() > 12 && absl::SimpleAtod(fields[11], &utime) &&
      absl::SimpleAtod(fields[12], &stime)) {
    usage.cpu_s = (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  const std::string status = ReadSmallFile(absl::StrCat("/proc/", pid_, "/status"));
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    for (auto [prefix, out] :
         {std::pair{"VmRSS:", &usage.rss_kb}, std::pair{"RssAnon:", &usage.rss_anon_kb},
          std::pair{"Threads:", &usage.threads}}) {
      if (absl::ConsumePrefix(&line, prefix)) {
        line = absl::StripAsciiWhitespace(line);
        (void)absl::SimpleAtoi(line.substr(0, line.find(' ')), out);
      }
    }
  }
  const std::string io = ReadSmallFile(absl::StrCat("/proc/", pid_, "/io"));
  for (absl::string_view line : absl::StrSplit(io, '\n')) {
    if (absl::ConsumePrefix(&line, "write_bytes: ")) {
      (void)absl::SimpleAtoi(line, &usage.write_bytes);
    }
  }
  return usage;
}

std::optional<int> ServerProcess::Poll() {
  int status = 0;
  if (pid_ <= 0 || waitpid(pid_, &status, WNOHANG) != pid_) {
    return std::nullopt;
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

absl::Status ServerProcess::Stop(double timeout_s) {
  if (pid_ <= 0) {  // never kill(-1, ...): that would signal every process we may signal
    return absl::FailedPreconditionError("server not running");
  }
  kill(pid_, SIGTERM);
  const auto start = SteadyClock::now();
  while (SecondsSince(start) < timeout_s) {
    if (std::optional<int> code = Poll(); code.has_value()) {
      return *code == 0 ? absl::OkStatus()
                        : absl::InternalError(absl::StrCat("server exited with ", *code));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return absl::DeadlineExceededError("server did not stop after SIGTERM");
}

std::shared_ptr<grpc::Channel> AdminChannel(const std::string& socket) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 5);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 5);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 20);
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(), args);
}

std::unique_ptr<grpc::ClientContext> Ctx(int seconds) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

absl::StatusOr<double> WaitReady(ServerProcess& server, const std::string& socket,
                                 SteadyClock::time_point start) {
  while (SecondsSince(start) < 120) {
    if (std::optional<int> code = server.Poll(); code.has_value()) {
      return absl::InternalError(absl::StrCat("server exited with ", *code, " while starting"));
    }
    if (access(socket.c_str(), F_OK) == 0) {
      auto health = pb::Server::NewStub(AdminChannel(socket));
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
      pb::HealthResponse resp;
      if (health->Health(&ctx, pb::HealthRequest(), &resp).ok()) {
        return SecondsSince(start);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return absl::DeadlineExceededError("server not ready after 120 s");
}

// The TCP port from the server's "server ready" log line.
absl::StatusOr<int> TcpPort(const std::string& log) {
  const std::string text = ReadSmallFile(log);
  size_t at = text.find("tcp_port=");
  int port = 0;
  if (at == std::string::npos ||
      !absl::SimpleAtoi(text.substr(at + 9, text.find_first_of(" \n", at) - at - 9), &port)) {
    return absl::InternalError("no tcp_port in the server log");
  }
  return port;
}

absl::StatusOr<std::string> BundlePem(::signet::admin::v1::Bundles::Stub& bundles) {
  ::signet::admin::v1::Bundle bundle;
  grpc::Status status =
      bundles.GetBundle(Ctx(30).get(), ::signet::admin::v1::GetBundleRequest(), &bundle);
  if (!status.ok()) return absl::InternalError("GetBundle: " + status.error_message());
  std::string pem;
  for (const std::string& der : bundle.x509_authorities()) {
    SIGNET_ASSIGN_OR_RETURN(crypto::Certificate cert, crypto::Certificate::FromDer(der));
    SIGNET_ASSIGN_OR_RETURN(std::string one, cert.ToPem());
    pem += one;
  }
  return pem;
}

bool IntFlag(absl::string_view arg, absl::string_view name, int min, int max, int* out) {
  int value = 0;
  if (!absl::ConsumePrefix(&arg, name) || !absl::SimpleAtoi(arg, &value) || value < min ||
      value > max) {
    return false;
  }
  *out = value;
  return true;
}

bool RunFlag(absl::string_view arg, bool* keep, std::string* signet) {
  if (arg == "--keep") {
    *keep = true;
    return true;
  }
  if (absl::ConsumePrefix(&arg, "--signet=")) {
    *signet = std::string(arg);
    return true;
  }
  return false;
}

}  // namespace signet::bench
