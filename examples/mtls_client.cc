// An mTLS client with a SPIFFE identity, on libsignet-client: it connects only to a server whose
// SVID is --server-id, and sends a JWT-SVID for --audience with each request. --count requests,
// one connection each (so rotated SVIDs are picked up), --interval-ms apart. Exits 1 if any fails.
#include <openssl/ssl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <thread>

#include "net.h"
#include "signet/tls.h"
#include "signet/workload.h"

namespace {

constexpr char kUsage[] =
    "--connect=127.0.0.1:PORT --server-id=SPIFFE_ID [--audience=AUD] [--count=N] "
    "[--interval-ms=MS] [--socket=WORKLOAD_API]";

// One request; the server's answer, or why it failed.
bool Request(SSL_CTX* ctx, const std::string& address, const std::string& token,
             std::string* answer) {
  const int fd = example::Connect(address);
  if (fd < 0) {
    *answer = "cannot connect to " + address;
    return false;
  }
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  bool ok = false;
  if (SSL_connect(ssl) != 1) {
    *answer = "handshake: " +
              (signet::PeerError(ssl).empty() ? example::SslErrors() : signet::PeerError(ssl));
  } else if (!example::WriteAll(ssl, token + "\n") || !example::ReadLine(ssl, answer)) {
    *answer = "no answer";
  } else {
    ok = answer->rfind("hello ", 0) == 0;
    SSL_shutdown(ssl);
  }
  SSL_free(ssl);
  close(fd);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  auto flags = example::ParseFlags(argc, argv, kUsage);
  if (flags["connect"].empty() || flags["server-id"].empty()) {
    std::fprintf(stderr, "usage: %s %s\n", argv[0], kUsage);
    return 2;
  }
  signet::SourceOptions options;
  options.address = flags["socket"];
  auto source = signet::X509Source::Create(options);
  auto jwt = signet::JwtSource::Create(options);
  if (!source.ok() || !jwt.ok()) {
    std::fprintf(stderr, "mtls_client: %s\n",
                 std::string((source.ok() ? jwt.status() : source.status()).message()).c_str());
    return 1;
  }
  auto ctx = signet::NewMtlsClientContext(*source, signet::AuthorizeId(flags["server-id"]));
  if (!ctx.ok()) {
    std::fprintf(stderr, "mtls_client: %s\n", std::string(ctx.status().message()).c_str());
    return 1;
  }
  const int count = flags.count("count") ? std::atoi(flags["count"].c_str()) : 1;
  const int interval = flags.count("interval-ms") ? std::atoi(flags["interval-ms"].c_str()) : 0;
  const std::string audience = flags.count("audience") ? flags["audience"] : "mtls-demo";
  int failures = 0;
  for (int i = 0; i < count; ++i) {
    auto token = (*jwt)->FetchToken(audience);
    std::string answer;
    const bool ok = token.ok() && Request(ctx->get(), flags["connect"], *token, &answer);
    if (!token.ok()) answer = "JWT-SVID: " + std::string(token.status().message());
    if (!ok) ++failures;
    // Which of our SVIDs this request used (its expiry): shows rotation while requests flow.
    char expires[16] = "-";
    if (auto svid = (*source)->Svid(); svid.ok()) {
      const std::time_t t = std::chrono::system_clock::to_time_t(svid->expires_at);
      std::tm tm{};
      std::strftime(expires, sizeof(expires), "%H:%M:%S", gmtime_r(&t, &tm));
    }
    std::printf("request %d %s (client SVID expires %s): %s\n", i + 1, ok ? "ok" : "FAILED",
                expires, answer.c_str());
    std::fflush(stdout);
    if (interval > 0 && i + 1 < count) {
      std::this_thread::sleep_for(std::chrono::milliseconds(interval));
    }
  }
  std::printf("mtls_client: %d of %d requests failed\n", failures, count);
  return failures == 0 ? 0 : 1;
}
