// The fixture of the `signet agent run` tests: a real `signet server run` on loopback with the
// join_token and x509pop node attestors (and whatever ExtraNodeAttestors adds), administered with
// the real admin commands, and helpers to run agents and read their status.json.
#ifndef SIGNET_TESTS_CLI_AGENT_CLI_FIXTURE_H_
#define SIGNET_TESTS_CLI_AGENT_CLI_FIXTURE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/common/file_util.h"
#include "src/crypto/cert_builder.h"
#include "src/crypto/certificate.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/test_ca.h"

namespace signet {

inline constexpr char kAgentId[] = "spiffe://example.org/signet/agent/node-1";

class AgentCliTest : public ::testing::Test {
 protected:
  // More node_attestors entries for the server ("  jwt:\n    issuer: ...\n").
  virtual std::string ExtraNodeAttestors() { return ""; }

  void SetUp() override {
    socket_ = dir_.File("admin.sock");
    // A node CA for x509pop, and one node certificate with its key.
    crypto::PrivateKey ca_key = *crypto::PrivateKey::Generate(crypto::KeyType::kEcP256);
    const absl::Time now = absl::Now();
    crypto::Certificate ca = *crypto::IssueCertificate({.subject = "CN=Node CA",
                                                        .not_before = now - absl::Hours(1),
                                                        .not_after = now + absl::Hours(24),
                                                        .is_ca = true,
                                                        .key_usage = crypto::kKeyUsageKeyCertSign},
                                                       ca_key.public_key(), nullptr, ca_key);
    crypto::PrivateKey node_key = *crypto::PrivateKey::Generate(crypto::KeyType::kEcP256);
    crypto::Certificate node =
        *crypto::IssueCertificate({.subject = "CN=node-9",
                                   .not_before = now - absl::Hours(1),
                                   .not_after = now + absl::Hours(24),
                                   .key_usage = crypto::kKeyUsageDigitalSignature,
                                   .client_auth = true},
                                  node_key.public_key(), &ca, ca_key);
    node_fingerprint_ = node.Sha256Fingerprint();
    testing::WriteTestFile(dir_.File("node-ca.pem"), *ca.ToPem());
    testing::WriteTestFile(dir_.File("node.pem"), *node.ToPem());
    testing::WriteTestFile(dir_.File("node.key"), *node_key.ToPkcs8Pem());
    testing::WriteTestFile(
        dir_.File("server.yaml"),
        absl::StrCat("trust_domain: example.org\ndata_dir: ", dir_.File("server"),
                     "\nadmin_socket: ", socket_, "\nbind_address: 127.0.0.1:0\n",
                     "node_attestors:\n  join_token: {}\n  x509pop:\n",
                     "    ca_bundle_path: ", dir_.File("node-ca.pem"), "\n", ExtraNodeAttestors()));
    server_ = std::make_unique<testing::Subprocess>(
        std::vector<std::string>{SIGNET_BINARY, "server", "run", "-c", dir_.File("server.yaml")},
        dir_.File("server.log"));
    ASSERT_TRUE(testing::WaitFor([&] { return Admin("healthcheck") == 0; })) << server_->Log();
    const std::string log = server_->Log();
    const size_t at = log.find("tcp_port=");
    ASSERT_NE(at, std::string::npos) << log;
    port_ = log.substr(at + 9, log.find_first_of(" \n", at) - at - 9);
    std::string bundle;
    ASSERT_EQ(Admin("bundle show --format pem", &bundle), 0) << bundle;
    testing::WriteTestFile(dir_.File("bundle.pem"), bundle);
  }

  int Admin(const std::string& args, std::string* out = nullptr) {
    return testing::RunCommand(
        absl::StrCat(SIGNET_BINARY, " ", args, " --socket ", socket_, " 2>&1"), out);
  }
  nlohmann::json AdminJson(const std::string& args) {
    std::string out;
    EXPECT_EQ(Admin(args + " --output json", &out), 0) << args << ": " << out;
    return nlohmann::json::parse(out, nullptr, false);
  }
  std::string Token(const std::string& extra = "") {
    return AdminJson(absl::StrCat("token generate --spiffe-id ", kAgentId, " ", extra))["token"];
  }

  // Replaces `from` with `to` in the file at `path`.
  static void Edit(const std::string& path, const std::string& from, const std::string& to) {
    absl::StatusOr<std::string> text = ReadFile(path);
    ASSERT_TRUE(text.ok()) << text.status();
    const size_t at = text->find(from);
    ASSERT_NE(at, std::string::npos) << from << " not in " << *text;
    text->replace(at, from.size(), to);
    testing::WriteTestFile(path, *text);
  }

  // The Workload API socket of agent `name`.
  std::string SocketPath(const std::string& name) const { return dir_.File(name + ".sock"); }

  // Writes agent-<name>.yaml for `token` with its own data dir and socket.
  std::string AgentConfig(const std::string& name, const std::string& token) {
    const std::string path = dir_.File("agent-" + name + ".yaml");
    testing::WriteTestFile(
        path, absl::StrCat("trust_domain: example.org\nserver_address: 127.0.0.1:", port_,
                           "\ndata_dir: ", dir_.File("agent-" + name), "\nsocket_path: ",
                           SocketPath(name), "\ntrust_bundle_path: ", dir_.File("bundle.pem"),
                           "\nnode_attestor:\n  join_token:\n    token: ", token, "\n"));
    return path;
  }
  std::unique_ptr<testing::Subprocess> StartAgent(const std::string& name,
                                                  const std::string& config,
                                                  const std::string& attest_timeout = "30s") {
    return std::make_unique<testing::Subprocess>(
        std::vector<std::string>{SIGNET_BINARY, "agent", "run", "-c", config, "--attest-timeout",
                                 attest_timeout},
        dir_.File("agent-" + name + ".log"));
  }
  // The fixture of the Workload API tests: one attested agent "w" (socket SocketPath("w")) in
  // `agent_`, started after the server. Fails the test if it does not attest.
  void StartWorkloadAgent() {
    agent_ = StartAgent("w", AgentConfig("w", Token()));
    ASSERT_TRUE(testing::WaitFor([&] { return Attested("w"); })) << agent_->Log();
  }

  nlohmann::json Status(const std::string& name) {
    absl::StatusOr<std::string> text = ReadFile(dir_.File("agent-" + name + "/status.json"));
    return text.ok() ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
  }
  bool Attested(const std::string& name) {
    nlohmann::json s = Status(name);
    return s.is_object() && s["attested"] == true && s["server_reachable"] == true;
  }
  int EntryCount(const std::string& name) {
    nlohmann::json s = Status(name);
    return s.is_object() && s["entries"].is_number() ? s["entries"].get<int>() : -1;
  }

  testing::TempDir dir_;
  std::string socket_;
  std::string port_;
  std::string node_fingerprint_;
  std::unique_ptr<testing::Subprocess> server_;
  std::unique_ptr<testing::Subprocess> agent_;  // StartWorkloadAgent's
};

}  // namespace signet

#endif  // SIGNET_TESTS_CLI_AGENT_CLI_FIXTURE_H_
