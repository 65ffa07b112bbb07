// An mTLS service with a SPIFFE identity, on libsignet-client: it accepts only the SPIFFE IDs
// given with --allow, and checks the JWT-SVID each request carries (audience --audience).
//
// Protocol (one request per connection): the client sends "<JWT-SVID>\n"; the server answers
// "hello <peer SPIFFE ID>; JWT-SVID of <sub> accepted\n" or "refused: <why>\n".
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>

#include "net.h"
#include "signet/tls.h"
#include "signet/workload.h"

namespace {

constexpr char kUsage[] =
    "--allow=SPIFFE_ID[,SPIFFE_ID...] [--audience=AUD] [--port=N] [--port-file=PATH] "
    "[--socket=WORKLOAD_API]";

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = s.find(',', start);
    out.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

void Serve(SSL_CTX* ctx, int fd, const signet::JwtSource& jwt, const std::string& audience) {
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if (SSL_accept(ssl) != 1) {
    std::printf("denied: %s\n", signet::PeerError(ssl).empty() ? example::SslErrors().c_str()
                                                               : signet::PeerError(ssl).c_str());
  } else {
    const std::string peer = signet::PeerSpiffeId(ssl);
    std::string token;
    std::string reply;
    if (!example::ReadLine(ssl, &token)) {
      reply = "refused: no request\n";
    } else if (auto claims = jwt.ValidateJwt(token, audience); !claims.ok()) {
      reply = "refused: JWT-SVID: " + std::string(claims.status().message()) + "\n";
    } else {
      reply = "hello " + peer + "; JWT-SVID of " + claims->spiffe_id + " accepted\n";
    }
    example::WriteAll(ssl, reply);
    std::printf("accepted %s: %s", peer.c_str(), reply.c_str());
    SSL_shutdown(ssl);
  }
  std::fflush(stdout);
  SSL_free(ssl);
  close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  auto flags = example::ParseFlags(argc, argv, kUsage);
  if (flags["allow"].empty()) {
    std::fprintf(stderr, "usage: %s %s\n", argv[0], kUsage);
    return 2;
  }
  signet::SourceOptions options;
  options.address = flags["socket"];
  auto source = signet::X509Source::Create(options);
  auto jwt = signet::JwtSource::Create(options);
  if (!source.ok() || !jwt.ok()) {
    std::fprintf(stderr, "mtls_server: %s\n",
                 std::string((source.ok() ? jwt.status() : source.status()).message()).c_str());
    return 1;
  }
  auto ctx =
      signet::NewMtlsServerContext(*source, signet::AuthorizeOneOf(SplitCommas(flags["allow"])));
  if (!ctx.ok()) {
    std::fprintf(stderr, "mtls_server: %s\n", std::string(ctx.status().message()).c_str());
    return 1;
  }
  int port = 0;
  const int listener =
      example::Listen(flags.count("port") ? std::atoi(flags["port"].c_str()) : 0, &port);
  if (listener < 0) {
    std::perror("mtls_server: listen");
    return 1;
  }
  std::printf("mtls_server: %s listening on 127.0.0.1:%d\n", (*source)->Svid()->spiffe_id.c_str(),
              port);
  std::fflush(stdout);
  if (!flags["port-file"].empty()) std::ofstream(flags["port-file"]) << port << "\n";
  const std::string audience = flags.count("audience") ? flags["audience"] : "mtls-demo";
  for (;;) {
    const int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) Serve(ctx->get(), fd, **jwt, audience);
  }
}
