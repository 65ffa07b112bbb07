#include "src/agent/agent_config.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signet::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;

constexpr char kGood[] = R"(trust_domain: example.org
server_address: 127.0.0.1:8081
data_dir: /var/lib/signet/agent
trust_bundle_path: /etc/signet/bundle.pem
node_attestor:
  join_token:
    token: abc
log:
  level: debug
  format: json
)";

TEST(AgentConfigTest, ReadsEveryKey) {
  absl::StatusOr<AgentConfig> c = ParseAgentConfig(kGood);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->trust_domain.name(), "example.org");
  EXPECT_EQ(c->server_address, "127.0.0.1:8081");
  EXPECT_EQ(c->data_dir, "/var/lib/signet/agent");
  EXPECT_EQ(c->trust_bundle_path, "/etc/signet/bundle.pem");
  EXPECT_FALSE(c->insecure_bootstrap);
  EXPECT_EQ(c->join_token, "abc");
  EXPECT_EQ(c->log_level, LogLevel::kDebug);
  EXPECT_EQ(c->log_format, LogFormat::kJson);
}

TEST(AgentConfigTest, ServerAddressesAsResolversServeThem) {
  for (const std::string address :
       {"signet-server:8081", "signet_server:8081", "10.0.0.5:443", "[fd00::5]:8081"}) {
    std::string text = kGood;
    text.replace(text.find("127.0.0.1:8081"), 14, "\"" + address + "\"");
    absl::StatusOr<AgentConfig> c = ParseAgentConfig(text);
    ASSERT_TRUE(c.ok()) << address << ": " << c.status();
    EXPECT_EQ(c->server_address, address);
  }
}

TEST(AgentConfigTest, ReportsEachProblemWithItsLine) {
  struct Case {
    std::string from, to;
    int line;
    std::string path, message;
  };
  const Case cases[] = {
      {"trust_domain: example.org", "trust_domain: Example.org", 1, "trust_domain", ""},
      {"server_address: 127.0.0.1:8081", "server_address: nowhere", 2, "server_address",
       "host:port"},
      {"server_address: 127.0.0.1:8081", "server_address: h:0", 2, "server_address", "host:port"},
      {"server_address: 127.0.0.1:8081", "server_address: \"h h:8081\"", 2, "server_address",
       "nor a host name"},
      {"server_address: 127.0.0.1:8081", "server_address: \"::1:8081\"", 2, "server_address",
       "in brackets"},
      {"server_address: 127.0.0.1:8081", "server_address: \"dns:///signet:8081\"", 2,
       "server_address", "not a URL or gRPC target"},
      {"server_address: 127.0.0.1:8081", "server_address: \"h:+81\"", 2, "server_address",
       "port must be a number"},
      {"trust_bundle_path: /etc/signet/bundle.pem",
       "trust_bundle_path: /b\ninsecure_bootstrap: true", 0, "trust_bundle_path", "not several"},
      {"trust_bundle_path: /etc/signet/bundle.pem",
       "trust_bundle_path: /b\ntrust_bundle_url: https://h/b", 0, "trust_bundle_path",
       "not several"},
      {"trust_bundle_path: /etc/signet/bundle.pem", "trust_bundle_url: http://h/bundle", 4,
       "trust_bundle_url", "does not start with https://"},
      {"trust_bundle_path: /etc/signet/bundle.pem",
       "trust_bundle_path: /b\ntrust_bundle_url_ca_path: /ca.pem", 5, "trust_bundle_url_ca_path",
       "only applies with trust_bundle_url"},
      {"trust_bundle_path: /etc/signet/bundle.pem", "", 0, "trust_bundle_path",
       "insecure_bootstrap"},
      {"    token: abc", "    token: \"\"", 7, "node_attestor.join_token.token",
       "must not be empty"},
      {"    token: abc", "    token: abc\n    ttl: 5", 8, "node_attestor.join_token.ttl",
       "unknown key"},
      {"log:", "socket: /x\nlog:", 8, "socket", "unknown key"},
  };
  for (const Case& c : cases) {
    std::string text = kGood;
    text.replace(text.find(c.from), c.from.size(), c.to);
    SCOPED_TRACE(text);
    ConfigProblems problems = ValidateAgentConfig(text, {});
    ASSERT_EQ(problems.size(), 1u) << (problems.empty() ? "" : problems[0].ToString());
    if (c.line != 0) EXPECT_EQ(problems[0].line, c.line);
    EXPECT_EQ(problems[0].path, c.path);
    EXPECT_THAT(problems[0].message, HasSubstr(c.message));
  }
}

TEST(AgentConfigTest, X509PopInsteadOfAJoinToken) {
  std::string text = kGood;
  const std::string join = "  join_token:\n    token: abc";
  text.replace(text.find(join), join.size(),
               "  x509pop:\n    certificate_path: /n.pem\n    private_key_path: /n.key");
  absl::StatusOr<AgentConfig> c = ParseAgentConfig(text);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->x509pop_certificate_path, "/n.pem");
  EXPECT_EQ(c->x509pop_private_key_path, "/n.key");
  EXPECT_TRUE(c->join_token.empty());
  // Both at once, or one path missing.
  std::string both = kGood;
  both.replace(both.find("log:"), 4, "log:");
  both.insert(both.find("log:"), "  x509pop: {certificate_path: /a, private_key_path: /b}\n");
  ConfigProblems problems = ValidateAgentConfig(both, {});
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0].message, HasSubstr("exactly one"));
  const std::string key_line = "\n    private_key_path: /n.key";
  text.replace(text.find(key_line), key_line.size(), "");
  problems = ValidateAgentConfig(text, {});
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].path, "node_attestor.x509pop.private_key_path");
}

TEST(AgentConfigTest, JwtAttestationAndABundleFromAUrl) {
  std::string text = kGood;
  const std::string join = "  join_token:\n    token: abc";
  text.replace(text.find(join), join.size(), "  jwt:\n    token_path: /run/token");
  const std::string path = "trust_bundle_path: /etc/signet/bundle.pem";
  text.replace(text.find(path), path.size(),
               "trust_bundle_url: https://signet.example.org/bundle\n"
               "trust_bundle_url_ca_path: /etc/ssl/ca.pem");
  absl::StatusOr<AgentConfig> c = ParseAgentConfig(text);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->jwt_token_path, "/run/token");
  EXPECT_EQ(c->trust_bundle_url, "https://signet.example.org/bundle");
  EXPECT_EQ(c->trust_bundle_url_ca_path, "/etc/ssl/ca.pem");
  EXPECT_TRUE(c->trust_bundle_path.empty());
  text.replace(text.find("/run/token"), 10, "\"\"");
  ConfigProblems problems = ValidateAgentConfig(text, {});
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].path, "node_attestor.jwt.token_path");
}

TEST(AgentConfigTest, WorkloadApiKeys) {
  absl::StatusOr<AgentConfig> c = ParseAgentConfig(kGood);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->socket_path, "/run/signet/agent.sock");
  EXPECT_EQ(c->workload_key_type, crypto::KeyType::kEcP256);
  EXPECT_TRUE(c->unix_attestor) << "unix is on when workload_attestors is absent";
  EXPECT_EQ(c->max_connections_per_uid, 256);
  std::string text = std::string(kGood) +
                     "socket_path: /tmp/s/agent.sock\nworkload_key_type: rsa-2048\n"
                     "workload_attestors:\n  unix:\n    sha256: true\n  systemd: {}\n"
                     "  docker:\n    socket_path: /run/docker.sock\n    env_keys: [APP_ENV]\n"
                     "  k8s:\n    read_only_port: 10255\n    poll_retry_interval: 1s\n"
                     "allowed_image_registries: [registry.example.com]\n"
                     "max_connections_per_uid: 1000\n";
  c = ParseAgentConfig(text);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->socket_path, "/tmp/s/agent.sock");
  EXPECT_EQ(c->workload_key_type, crypto::KeyType::kRsa2048);
  EXPECT_TRUE(c->unix_attestor);
  EXPECT_TRUE(c->unix_attestor_config.sha256);
  EXPECT_TRUE(c->systemd_attestor);
  EXPECT_TRUE(c->docker_attestor);
  EXPECT_EQ(c->docker_attestor_config.socket_path, "/run/docker.sock");
  EXPECT_THAT(c->docker_attestor_config.env_keys, ElementsAre("APP_ENV"));
  EXPECT_THAT(c->allowed_image_registries, ElementsAre("registry.example.com"));
  EXPECT_TRUE(c->k8s_attestor);
  EXPECT_EQ(c->k8s_attestor_config.read_only_port, 10255);
  EXPECT_EQ(c->k8s_attestor_config.poll_retry_interval, absl::Seconds(1));
  EXPECT_EQ(c->max_connections_per_uid, 1000);
  c = ParseAgentConfig(std::string(kGood) + "workload_attestors: {}\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->unix_attestor) << "an explicit empty catalog means none";
  struct Case {
    std::string yaml, path, message;
  };
  const Case cases[] = {
      {"socket_path: relative.sock\n", "socket_path", "absolute path"},
      {"max_connections_per_uid: 0\n", "max_connections_per_uid", ""},
      {"workload_key_type: dsa\n", "workload_key_type", "must be one of"},
      {"workload_attestors:\n  k8s: {kubelet_url: http://x}\n",
       "workload_attestors.k8s.kubelet_url", "https://"},
      {"workload_attestors:\n  k8s: {max_poll_attempts: 0}\n",
       "workload_attestors.k8s.max_poll_attempts", ""},
      {"workload_attestors:\n  docker: {socket_path: rel}\n",
       "workload_attestors.docker.socket_path", "absolute"},
      {"allowed_image_registries: [docker.io/library]\n", "allowed_image_registries",
       "not a registry host"},
      {"workload_attestors:\n  tpm: {}\n", "workload_attestors.tpm", "unknown workload attestor"},
      {"workload_attestors:\n  unix:\n    colour: red\n", "workload_attestors.unix.colour",
       "unknown key"},
  };
  for (const Case& k : cases) {
    ConfigProblems problems = ValidateAgentConfig(std::string(kGood) + k.yaml, {});
    ASSERT_EQ(problems.size(), 1u) << k.yaml;
    EXPECT_EQ(problems[0].path, k.path);
    EXPECT_THAT(problems[0].message, HasSubstr(k.message)) << k.yaml;
  }
}

TEST(AgentConfigTest, RequiredKeys) {
  ConfigProblems problems = ValidateAgentConfig("log: {level: info}\n", {});
  std::vector<std::string> paths;
  for (const ConfigProblem& p : problems) paths.push_back(p.path);
  EXPECT_THAT(paths, ::testing::IsSupersetOf({"trust_domain", "server_address", "data_dir",
                                              "trust_bundle_path", "node_attestor"}));
}

}  // namespace
}  // namespace signet::agent
