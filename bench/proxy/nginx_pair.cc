#include "bench/proxy/nginx_pair.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "src/common/status_macros.h"

namespace signet::bench {
namespace {

// A loopback port nothing listens on right now (nginx cannot listen on port 0 and say which
// port it got).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  close(fd);
  return ok ? ntohs(addr.sin_port) : 0;
}

bool Accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// One nginx: a stream server on 127.0.0.1:@LISTEN@ passing connections to @TO@, with @TLS@ the
// TLS directives of its side (none for plain TCP).
constexpr char kConf[] = R"(load_module /usr/lib/nginx/modules/ngx_stream_module.so;
@USER@daemon off;
worker_processes @WORKERS@;
pid @DIR@/@NAME@.pid;
error_log @DIR@/@NAME@-error.log notice;
events { worker_connections 16384; }
stream {
  server {
    listen 127.0.0.1:@LISTEN@@SSL@;
@TLS@    proxy_pass 127.0.0.1:@TO@;
  }
}
)";

// The server side terminates mTLS: the peer's chain must verify against the bundle.
constexpr char kServerTls[] = R"(    ssl_certificate @DIR@/@PREFIX@-svid.pem;
    ssl_certificate_key @DIR@/@PREFIX@-key.pem;
    ssl_client_certificate @DIR@/@PREFIX@-bundle.pem;
    ssl_verify_client on;
)";

// The client side originates it, checking the server's chain and its DNS SAN (nginx cannot
// check a SPIFFE ID: a URI SAN; the check is made once per handshake either way).
constexpr char kClientTls[] = R"(    proxy_ssl on;
    proxy_ssl_certificate @DIR@/@PREFIX@-svid.pem;
    proxy_ssl_certificate_key @DIR@/@PREFIX@-key.pem;
    proxy_ssl_trusted_certificate @DIR@/@PREFIX@-bundle.pem;
    proxy_ssl_verify on;
    proxy_ssl_name localhost;
    proxy_ssl_session_reuse off;
)";

absl::Status WriteKey(const std::string& path, const std::string& pem) {
  SIGNET_RETURN_IF_ERROR(WriteSmallFile(path, ""));
  if (chmod(path.c_str(), 0600) != 0) return absl::UnavailableError("cannot chmod " + path);
  return WriteSmallFile(path, pem);
}

}  // namespace

absl::StatusOr<std::unique_ptr<NginxPair>> NginxPair::Start(const TempDir& dir,
                                                            const std::string& name,
                                                            const NginxPairFiles& files,
                                                            int backend_port, bool tls,
                                                            const std::string& workers) {
  SIGNET_RETURN_IF_ERROR(WriteSmallFile(dir.File(name + "-svid.pem"), files.chain_pem));
  SIGNET_RETURN_IF_ERROR(WriteKey(dir.File(name + "-key.pem"), files.key_pem));
  SIGNET_RETURN_IF_ERROR(WriteSmallFile(dir.File(name + "-bundle.pem"), files.bundle_pem));
  auto pair = std::unique_ptr<NginxPair>(new NginxPair());
  const int server_port = FreePort();
  pair->client_port_ = FreePort();
  if (server_port == 0 || pair->client_port_ == 0) {
    return absl::UnavailableError("no free loopback port");
  }
  const std::string dir_path = dir.File("").substr(0, dir.File("").size() - 1);
  auto start_one =
      [&](const std::string& role, int listen, int to, bool terminates,
          const char* tls_directives) -> absl::StatusOr<std::unique_ptr<ServerProcess>> {
    const std::string instance = name + "-" + role;
    const std::string conf =
        absl::StrReplaceAll(absl::StrReplaceAll(kConf, {{"@TLS@", tls ? tls_directives : ""}}),
                            {{"@SSL@", tls && terminates ? " ssl" : ""},
                             {"@USER@", geteuid() == 0 ? "user root;\n" : ""},
                             {"@WORKERS@", workers},
                             {"@NAME@", instance},
                             {"@PREFIX@", name},
                             {"@DIR@", dir_path},
                             {"@LISTEN@", std::to_string(listen)},
                             {"@TO@", std::to_string(to)}});
    const std::string path = dir.File(instance + ".conf");
    SIGNET_RETURN_IF_ERROR(WriteSmallFile(path, conf));
    auto process = std::make_unique<ServerProcess>(
        std::vector<std::string>{NGINX_BINARY, "-e", dir.File(instance + "-error.log"), "-p",
                                 dir.File(""), "-c", path},
        dir.File(instance + ".log"));
    const auto begin = SteadyClock::now();
    while (!Accepts(listen)) {
      if (SecondsSince(begin) > 10 || process->Poll().has_value()) {
        (void)process->Stop(2);  // SIGTERM first: a SIGKILLed master would leave its workers
        return absl::UnavailableError(absl::StrCat(
            "nginx (", instance, ") did not start\n", LogTail(dir.File(instance + ".log"), "log"),
            "\n", LogTail(dir.File(instance + "-error.log"), "error log")));
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return process;
  };
  SIGNET_ASSIGN_OR_RETURN(pair->server_,
                          start_one("server", server_port, backend_port, true, kServerTls));
  SIGNET_ASSIGN_OR_RETURN(pair->client_,
                          start_one("client", pair->client_port_, server_port, false, kClientTls));
  return pair;
}

NginxPair::~NginxPair() {
  // SIGTERM: nginx's master stops its workers, then exits (a SIGKILLed master would leave them).
  for (std::unique_ptr<ServerProcess>* p : {&client_, &server_}) {
    if (*p != nullptr) (void)(*p)->Stop(10);
  }
}

}  // namespace signet::bench
