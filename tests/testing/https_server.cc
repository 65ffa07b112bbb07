#include "tests/testing/https_server.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace signet::testing {

TestHttpsServer::TestHttpsServer(const std::string& root) {
  ca_path_ = dir_.File("cert.pem");
  const std::string key = dir_.File("key.pem");
  std::string output;
  const int rc = RunCommand(
      absl::StrCat("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2",
                   " -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout ", key,
                   " -out ", ca_path_),
      &output);
  if (rc != 0) {
    fprintf(stderr, "openssl req failed: %s\n", output.c_str());
    abort();
  }
  const std::string log = dir_.File("server.log");
  process_ = std::make_unique<Subprocess>(
      std::vector<std::string>{"/usr/bin/python3", SIGNET_HTTPS_SERVER_PY, "--dir", root, "--cert",
                               ca_path_, "--key", key},
      log);
  const bool up = WaitFor(
      [&] {
        std::string text = process_->Log();
        size_t at = text.find("PORT ");
        if (at == std::string::npos) return false;
        size_t end = text.find('\n', at);
        if (end == std::string::npos) return false;
        return absl::SimpleAtoi(text.substr(at + 5, end - at - 5), &port_) && port_ > 0;
      },
      absl::Seconds(20));
  if (!up) {
    fprintf(stderr, "https_server.py did not start: %s\n", process_->Log().c_str());
    abort();
  }
}

std::string TestHttpsServer::Url(const std::string& path) const {
  return absl::StrCat("https://127.0.0.1:", port_, "/", absl::StripPrefix(path, "/"));
}

}  // namespace signet::testing
