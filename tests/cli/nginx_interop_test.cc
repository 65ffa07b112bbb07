// Real nginx and curl from Debian, fed by `signet helper run`: nginx serves the SVID from the
// helper's files and requires a client certificate from the trust bundle; curl presents the
// same files. The helper SIGHUPs the nginx master after every rotation (10 s TTL, so about
// every 5 s) and no request may fail across the reloads.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/agent_cli_fixture.h"

namespace signet {
namespace {

using ::signet::testing::RunCommand;
using ::signet::testing::Subprocess;
using ::signet::testing::WaitFor;
using ::signet::testing::WriteTestFile;
using ::testing::HasSubstr;
using ::testing::Not;

// A loopback port nothing listens on right now.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    addr.sin_port = 0;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

// One curl run: its exit code, the HTTP status, the body and the served leaf's serial.
struct Reply {
  int exit_code = -1;
  int status = 0;
  std::string body;
  std::string serial;  // lowercase hex, as curl's %{certs} prints it
  std::string output;  // everything, for failure messages
};

class NginxInteropTest : public AgentCliTest {
 protected:
  void SetUp() override {
    AgentCliTest::SetUp();
    if (HasFatalFailure()) return;
    StartWorkloadAgent();
    if (HasFatalFailure()) return;
    std::string out;
    ASSERT_EQ(Admin(absl::StrCat("entry create --spiffe-id spiffe://example.org/web --parent-id ",
                                 kAgentId, " --selector unix:uid:", getuid(),
                                 " --dns localhost --x509-svid-ttl 10s"),
                    &out),
              0)
        << out;
    certs_ = dir_.File("certs");
    WriteTestFile(
        dir_.File("helper.yaml"),
        absl::StrCat("agent_address: ", SocketPath("w"), "\ncert_dir: ", certs_,
                     "\nsvid_key_file_name: svid.key\nsvid_bundle_file_name: bundle.pem",
                     "\npid_file_name: ", dir_.File("nginx.pid"), "\nrenew_signal: SIGHUP\n"));
    helper_ = std::make_unique<Subprocess>(
        std::vector<std::string>{SIGNET_BINARY, "helper", "run", "-c", dir_.File("helper.yaml")},
        dir_.File("helper.log"));
    // The bundle is written last.
    ASSERT_TRUE(WaitFor([&] { return access((certs_ + "/bundle.pem").c_str(), R_OK) == 0; }))
        << helper_->Log();
    https_port_ = FreePort();
    ASSERT_NE(https_port_, 0);
    WriteTestFile(dir_.File("nginx.conf"), NginxConf());
    nginx_ = std::make_unique<Subprocess>(
        std::vector<std::string>{NGINX_BINARY, "-p", dir_.path(), "-c", dir_.File("nginx.conf")},
        dir_.File("nginx.log"));
    ASSERT_TRUE(WaitFor([&] { return Curl(client_cert_).status == 200; }, absl::Seconds(10)))
        << Curl(client_cert_).output << nginx_->Log() << NginxErrors();
  }

  // Stops nginx gracefully (SIGQUIT: workers finish and exit first), whatever the test did.
  void TearDown() override {
    if (helper_ != nullptr) {
      helper_->Signal(SIGTERM);
      EXPECT_EQ(helper_->Wait(), 0) << helper_->Log();
    }
    if (nginx_ != nullptr && nginx_->running()) {
      nginx_->Signal(SIGQUIT);
      if (nginx_->Wait(absl::Seconds(10)) != 0) {
        ADD_FAILURE() << "nginx did not quit cleanly\n" << nginx_->Log() << NginxErrors();
        nginx_->Signal(SIGTERM);
        nginx_->Wait(absl::Seconds(5));
      }
    }
  }

  std::string NginxConf() const {
    // As root the workers would run as nobody, who cannot enter the 0700 temp dir.
    return absl::StrReplaceAll(R"(@USER@daemon off;
master_process on;
worker_processes 1;
pid @DIR@/nginx.pid;
error_log @DIR@/nginx-error.log notice;
events { worker_connections 64; }
http {
  access_log @DIR@/nginx-access.log;
  client_body_temp_path @DIR@/nginx-body;
  proxy_temp_path @DIR@/nginx-proxy;
  fastcgi_temp_path @DIR@/nginx-fastcgi;
  uwsgi_temp_path @DIR@/nginx-uwsgi;
  scgi_temp_path @DIR@/nginx-scgi;
  server {
    listen 127.0.0.1:@PORT@ ssl;
    server_name localhost;
    ssl_certificate @DIR@/certs/svid.pem;
    ssl_certificate_key @DIR@/certs/svid.key;
    ssl_client_certificate @DIR@/certs/bundle.pem;
    ssl_verify_client on;
    ssl_verify_depth 3;
    location / {
      default_type text/plain;
      return 200 "verify=$ssl_client_verify\n";
    }
  }
}
)",
                               {{"@USER@", geteuid() == 0 ? "user root;\n" : ""},
                                {"@DIR@", dir_.path()},
                                {"@PORT@", std::to_string(https_port_)}});
  }

  // curl https://localhost:<port>/ trusting the helper's bundle, plus `args`.
  Reply Curl(const std::string& args) const {
    Reply r;
    const std::string port = std::to_string(https_port_);
    r.exit_code = RunCommand(
        absl::StrCat(CURL_BINARY, " -sS --max-time 10 --resolve localhost:", port,
                     ":127.0.0.1 --cacert ", certs_, "/bundle.pem -w '\\n@@status=%{http_code}\\n",
                     "%{certs}' ", args, " https://localhost:", port, "/"),
        &r.output);
    const size_t at = r.output.find("\n@@status=");
    if (at == std::string::npos) return r;
    r.body = r.output.substr(0, at);
    r.status = std::atoi(r.output.c_str() + at + 10);
    const size_t serial = r.output.find("Serial Number:", at);
    if (serial != std::string::npos) {
      r.serial = r.output.substr(serial + 14, r.output.find('\n', serial) - serial - 14);
    }
    return r;
  }

  std::string FileSerial() const {
    std::string out;
    RunCommand(absl::StrCat("openssl x509 -noout -serial -in ", certs_, "/svid.pem"), &out);
    return absl::AsciiStrToLower(absl::StripAsciiWhitespace(absl::StripPrefix(out, "serial=")));
  }

  std::string NginxErrors() const {
    return ReadFile(dir_.File("nginx-error.log")).value_or("(no nginx-error.log)");
  }

  const std::string client_cert_ =
      absl::StrCat("--cert ", dir_.File("certs/svid.pem"), " --key ", dir_.File("certs/svid.key"));
  std::string certs_;
  int https_port_ = 0;
  std::unique_ptr<Subprocess> helper_;
  std::unique_ptr<Subprocess> nginx_;
};

TEST_F(NginxInteropTest, MutualTlsWithTheHelperFilesAndTheRefusals) {
  const Reply ok = Curl(client_cert_);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_EQ(ok.status, 200) << ok.output;
  EXPECT_EQ(ok.body, "verify=SUCCESS\n") << ok.output;
  // nginx serves the helper's current svid.pem (its DNS SAN passed curl's hostname check).
  EXPECT_TRUE(WaitFor([&] { return Curl(client_cert_).serial == FileSerial(); }, absl::Seconds(10)))
      << Curl(client_cert_).output << "\nfile serial " << FileSerial();

  const Reply anonymous = Curl("");
  EXPECT_EQ(anonymous.exit_code, 0) << anonymous.output;
  EXPECT_EQ(anonymous.status, 400) << anonymous.output;
  EXPECT_THAT(anonymous.body, HasSubstr("No required SSL certificate was sent"));

  // A CA and a client certificate of its own, from the openssl CLI.
  std::string out;
  ASSERT_EQ(
      RunCommand(
          absl::StrCat("cd ", dir_.path(),
                       " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes",
                       " -subj /CN=Other-CA -days 1 -keyout other-ca.key -out other-ca.pem",
                       " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes",
                       " -subj /CN=intruder -keyout other.key -out other.csr",
                       " && openssl x509 -req -in other.csr -CA other-ca.pem -CAkey other-ca.key",
                       " -days 1 -out other.pem"),
          &out),
      0)
      << out;
  const Reply foreign =
      Curl(absl::StrCat("--cert ", dir_.File("other.pem"), " --key ", dir_.File("other.key")));
  EXPECT_EQ(foreign.status, 400) << foreign.output;
  EXPECT_THAT(foreign.body, HasSubstr("The SSL certificate error"));
  EXPECT_THAT(foreign.body, Not(HasSubstr("verify=")));

  // And curl refuses nginx when it trusts only the other CA (the last --cacert wins).
  const Reply distrusted =
      Curl(absl::StrCat(client_cert_, " --cacert ", dir_.File("other-ca.pem")));
  EXPECT_EQ(distrusted.exit_code, 60) << distrusted.output;
}

TEST_F(NginxInteropTest, RotationsReloadNginxWithoutAFailedRequest) {
  std::vector<std::string> serials;  // each served certificate, in order
  int requests = 0;
  int failures = 0;
  std::string first_failure;
  const absl::Time end = absl::Now() + absl::Seconds(30);
  while (absl::Now() < end) {
    const Reply r = Curl(client_cert_);
    ++requests;
    if (r.exit_code != 0 || r.status != 200 || r.body != "verify=SUCCESS\n" || r.serial.empty()) {
      if (failures++ == 0) {
        first_failure = absl::StrCat(absl::FormatTime(absl::Now()), ": ", r.output);
      }
    } else if (serials.empty() || serials.back() != r.serial) {
      serials.push_back(r.serial);
    }
    absl::SleepFor(absl::Milliseconds(300));
  }
  RecordProperty("requests", requests);
  RecordProperty("served_certificates", static_cast<int>(serials.size()));
  EXPECT_EQ(failures, 0) << "of " << requests << "; the first:\n"
                         << first_failure << NginxErrors() << helper_->Log() << agent_->Log();
  // About six rotations in 30 s; at least two changes of the served certificate.
  EXPECT_GE(serials.size(), 3u) << requests << " requests\n" << helper_->Log() << NginxErrors();
  EXPECT_EQ(std::set<std::string>(serials.begin(), serials.end()).size(), serials.size())
      << "a certificate came back after it was replaced";
  EXPECT_THAT(NginxErrors(), HasSubstr("signal 1 (SIGHUP) received"));
}

}  // namespace
}  // namespace signet
