// A real HTTPS server for tests: Python's http.server (tests/testing/https_server.py) serving a
// directory over TLS with a self-signed certificate for 127.0.0.1 made by the openssl CLI.
#ifndef SIGNET_TESTS_TESTING_HTTPS_SERVER_H_
#define SIGNET_TESTS_TESTING_HTTPS_SERVER_H_

#include <memory>
#include <string>

#include "tests/testing/subprocess.h"
#include "tests/testing/test_ca.h"

namespace signet::testing {

class TestHttpsServer {
 public:
  // Serves the files under `root` until destroyed. Aborts the test binary on setup failure.
  explicit TestHttpsServer(const std::string& root);

  // The server's self-signed certificate: the CA file a client must trust.
  const std::string& ca_path() const { return ca_path_; }
  int port() const { return port_; }
  // "https://127.0.0.1:<port>/<path>".
  std::string Url(const std::string& path) const;

 private:
  TempDir dir_;
  std::string ca_path_;
  int port_ = 0;
  std::unique_ptr<Subprocess> process_;
};

}  // namespace signet::testing

#endif  // SIGNET_TESTS_TESTING_HTTPS_SERVER_H_
