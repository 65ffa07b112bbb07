// Tests of server.yaml parsing: every key accepted and rejected, defaults, cross-checks, lines.
#include "src/server/config/server_config.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/file_util.h"

namespace signet::server {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Two lines; cases append from line 3 on.
constexpr absl::string_view kMinimal = "trust_domain: example.org\ndata_dir: /var/lib/signet\n";

auto Problem(int line, const std::string& path, const std::string& message_part) {
  return AllOf(Field("line", &ConfigProblem::line, line), Field("path", &ConfigProblem::path, path),
               Field("message", &ConfigProblem::message, HasSubstr(message_part)));
}

ServerConfig MustParse(absl::string_view text, const ConfigOptions& options = {}) {
  absl::StatusOr<ServerConfig> config = ParseServerConfig(text, options);
  EXPECT_TRUE(config.ok()) << config.status() << "\n" << text;
  return config.ok() ? *std::move(config) : ServerConfig(*spiffe::TrustDomain::Parse("failed"));
}

ConfigProblems Problems(absl::string_view text, const ConfigOptions& options = {}) {
  return ValidateServerConfig(text, options);
}

TEST(ServerConfigTest, MinimalConfigGetsEveryDefault) {
  const ServerConfig config = MustParse(kMinimal);
  EXPECT_EQ(config.trust_domain.name(), "example.org");
  EXPECT_EQ(config.data_dir, "/var/lib/signet");
  EXPECT_EQ(config.bind_address, "127.0.0.1:8081");
  EXPECT_EQ(config.bind_host, "127.0.0.1");
  EXPECT_EQ(config.bind_port, 8081);
  EXPECT_EQ(config.admin_socket, "/var/lib/signet/admin.sock");
  EXPECT_EQ(config.datastore.driver, DatastoreDriver::kSqlite);
  EXPECT_EQ(config.datastore.connection_string, "/var/lib/signet/datastore.sqlite3");
  EXPECT_EQ(config.ca.key_type, crypto::KeyType::kEcP256);
  EXPECT_EQ(config.ca.ttl, absl::Hours(168));
  EXPECT_EQ(config.ca.subject.organization, "Signet");
  EXPECT_EQ(config.ca.subject.country, "");
  EXPECT_EQ(config.ca.subject.common_name, "");
  EXPECT_EQ(config.default_x509_svid_ttl, absl::Hours(1));
  EXPECT_EQ(config.default_jwt_svid_ttl, absl::Minutes(5));
  EXPECT_EQ(config.agent_svid_ttl, absl::Hours(1));
  EXPECT_EQ(config.jwt_issuer, "");
  EXPECT_EQ(config.key_manager, KeyManagerKind::kDisk);
  EXPECT_THAT(config.node_attestors, IsEmpty());
  EXPECT_THAT(config.admin_uids, IsEmpty());
  EXPECT_THAT(config.admin_ids, IsEmpty());
  EXPECT_EQ(config.log_level, LogLevel::kInfo);
  EXPECT_EQ(config.log_format, LogFormat::kText);
}

TEST(ServerConfigTest, EveryKeySet) {
  const ServerConfig config = MustParse(R"(
trust_domain: spiffe://prod.example.com
bind_address: "[::1]:9443"
admin_socket: /run/signet/admin.sock
data_dir: ./data/
datastore:
  driver: postgres
  connection_string: "host=db dbname=signet"
ca:
  key_type: rsa-2048
  ttl: 720h
  subject:
    country: DE
    organization: Example GmbH
    common_name: Example CA
default_x509_svid_ttl: 2h30m
default_jwt_svid_ttl: 90
jwt_issuer: https://oidc.example.com/signet
key_manager: memory
node_attestors:
  x509pop:
    ca_bundle_path: /etc/ca.pem
  join_token: {}
  jwt:
admin_uids: [0, 1000]
admin_ids:
  - spiffe://prod.example.com/admin
  - spiffe://other.example/ops
log:
  level: debug
  format: json
)");
  EXPECT_EQ(config.trust_domain.name(), "prod.example.com");
  EXPECT_EQ(config.bind_address, "[::1]:9443");
  EXPECT_EQ(config.bind_host, "::1");
  EXPECT_EQ(config.bind_port, 9443);
  EXPECT_EQ(config.admin_socket, "/run/signet/admin.sock");
  EXPECT_EQ(config.data_dir, "./data/");
  EXPECT_EQ(config.datastore.driver, DatastoreDriver::kPostgres);
  EXPECT_EQ(config.datastore.connection_string, "host=db dbname=signet");
  EXPECT_EQ(config.ca.key_type, crypto::KeyType::kRsa2048);
  EXPECT_EQ(config.ca.ttl, absl::Hours(720));
  EXPECT_EQ(config.ca.subject.country, "DE");
  EXPECT_EQ(config.ca.subject.organization, "Example GmbH");
  EXPECT_EQ(config.ca.subject.common_name, "Example CA");
  EXPECT_EQ(config.default_x509_svid_ttl, absl::Minutes(150));
  EXPECT_EQ(config.default_jwt_svid_ttl, absl::Seconds(90));
  EXPECT_EQ(config.jwt_issuer, "https://oidc.example.com/signet");
  EXPECT_EQ(config.key_manager, KeyManagerKind::kMemory);
  ASSERT_EQ(config.node_attestors.size(), 3u);  // file order
  EXPECT_EQ(config.node_attestors[0].name, "x509pop");
  EXPECT_EQ(config.node_attestors[0].config.path, "node_attestors.x509pop");
  EXPECT_EQ(config.node_attestors[0].config.line, 21);
  EXPECT_EQ(config.node_attestors[0].config.node["ca_bundle_path"].Scalar(), "/etc/ca.pem");
  EXPECT_EQ(config.node_attestors[1].name, "join_token");
  EXPECT_TRUE(config.node_attestors[1].config.node.IsMap());
  EXPECT_EQ(config.node_attestors[1].config.node.size(), 0u);
  EXPECT_EQ(config.node_attestors[2].name, "jwt");
  EXPECT_TRUE(config.node_attestors[2].config.node.IsNull());
  EXPECT_THAT(config.admin_uids, ElementsAre(0u, 1000u));
  ASSERT_EQ(config.admin_ids.size(), 2u);
  EXPECT_EQ(config.admin_ids[0].String(), "spiffe://prod.example.com/admin");
  EXPECT_EQ(config.admin_ids[1].String(), "spiffe://other.example/ops");
  EXPECT_EQ(config.log_level, LogLevel::kDebug);
  EXPECT_EQ(config.log_format, LogFormat::kJson);
}

struct GoodCase {
  std::string yaml;  // appended to kMinimal
  std::function<void(const ServerConfig&)> check;
};

TEST(ServerConfigTest, AcceptsValidValues) {
  const GoodCase cases[] = {
      {"bind_address: 0.0.0.0:0", [](auto& c) { EXPECT_EQ(c.bind_port, 0); }},
      {"bind_address: localhost:65535",
       [](auto& c) {
         EXPECT_EQ(c.bind_host, "localhost");
         EXPECT_EQ(c.bind_port, 65535);
       }},
      {"bind_address: \"[::]:8081\"", [](auto& c) { EXPECT_EQ(c.bind_host, "::"); }},
      {"bind_address: signet-server.internal.:1", [](auto& c) { EXPECT_EQ(c.bind_port, 1); }},
      {"admin_socket: relative.sock", [](auto& c) { EXPECT_EQ(c.admin_socket, "relative.sock"); }},
      {absl::StrCat("admin_socket: /", std::string(106, 'a')),
       [](auto& c) { EXPECT_EQ(c.admin_socket.size(), 107u); }},
      {"datastore: {driver: sqlite, connection_string: /tmp/x.db}",
       [](auto& c) { EXPECT_EQ(c.datastore.connection_string, "/tmp/x.db"); }},
      {"datastore: {}",
       [](auto& c) {
         EXPECT_EQ(c.datastore.connection_string, "/var/lib/signet/datastore.sqlite3");
       }},
      {"ca: {key_type: ec-p384}",
       [](auto& c) { EXPECT_EQ(c.ca.key_type, crypto::KeyType::kEcP384); }},
      {"ca: {ttl: 1h1s}", [](auto& c) { EXPECT_EQ(c.ca.ttl, absl::Seconds(3601)); }},
      {"ca: {subject: {organization: \"\"}}",
       [](auto& c) { EXPECT_EQ(c.ca.subject.organization, ""); }},
      {"default_x509_svid_ttl: 1m",
       [](auto& c) { EXPECT_EQ(c.default_x509_svid_ttl, absl::Minutes(1)); }},
      {"default_x509_svid_ttl: 167h59m59s",
       [](auto& c) { EXPECT_LT(c.default_x509_svid_ttl, c.ca.ttl); }},
      {"default_jwt_svid_ttl: 10s",
       [](auto& c) { EXPECT_EQ(c.default_jwt_svid_ttl, absl::Seconds(10)); }},
      {"agent_svid_ttl: 5m", [](auto& c) { EXPECT_EQ(c.agent_svid_ttl, absl::Minutes(5)); }},
      {"agent_limits: {max_concurrent_signing: 3, svids_per_second: 7, svid_burst: 9}",
       [](auto& c) {
         EXPECT_EQ(c.agent_limits.max_concurrent_signing, 3);
         EXPECT_EQ(c.agent_limits.svids_per_second, 7);
         EXPECT_EQ(c.agent_limits.svid_burst, 9);
       }},
      {"agent_limits: {svid_burst: 9}",
       [](auto& c) {
         EXPECT_EQ(c.agent_limits.max_concurrent_signing, 32);
         EXPECT_EQ(c.agent_limits.svid_burst, 9);
       }},
      {"default_jwt_svid_ttl: 24h",
       [](auto& c) { EXPECT_EQ(c.default_jwt_svid_ttl, absl::Hours(24)); }},
      {"jwt_issuer: https://example.org",
       [](auto& c) { EXPECT_EQ(c.jwt_issuer, "https://example.org"); }},
      {"jwt_issuer: https://example.org:8443/a/b",
       [](auto& c) { EXPECT_EQ(c.jwt_issuer, "https://example.org:8443/a/b"); }},
      {"key_manager: disk", [](auto& c) { EXPECT_EQ(c.key_manager, KeyManagerKind::kDisk); }},
      {"node_attestors: {}", [](auto& c) { EXPECT_THAT(c.node_attestors, IsEmpty()); }},
      {"node_attestors: {join_token: {}}", [](auto& c) { EXPECT_EQ(c.node_attestors.size(), 1u); }},
      {"admin_uids: [4294967294]",
       [](auto& c) { EXPECT_THAT(c.admin_uids, ElementsAre(4294967294u)); }},
      {"admin_uids: []", [](auto& c) { EXPECT_THAT(c.admin_uids, IsEmpty()); }},
      {"log: {level: warn}", [](auto& c) { EXPECT_EQ(c.log_level, LogLevel::kWarn); }},
      {"log: {level: error, format: text}",
       [](auto& c) { EXPECT_EQ(c.log_level, LogLevel::kError); }},
      {"log:", [](auto& c) { EXPECT_EQ(c.log_level, LogLevel::kInfo); }},
  };
  for (const GoodCase& c : cases) {
    SCOPED_TRACE(c.yaml);
    c.check(MustParse(absl::StrCat(kMinimal, c.yaml, "\n")));
  }
}

struct BadCase {
  std::string yaml;  // appended to kMinimal, so its first line is line 3
  int line;
  std::string path;
  std::string message;
};

TEST(ServerConfigTest, RejectsEachBadValueWithKeyAndLine) {
  const std::string long_socket = absl::StrCat("/", std::string(107, 'a'));
  const BadCase cases[] = {
      {"trust_domain2: x", 3, "trust_domain2", "unknown key \"trust_domain2\" (did you mean"},
      {"bind_address: 127.0.0.1", 3, "bind_address", "want host:port"},
      {"bind_address: 127.0.0.1:65536", 3, "bind_address", "port must be a number from 0 to 65535"},
      {"bind_address: \"127.0.0.1:\"", 3, "bind_address", "port must be a number"},
      {"bind_address: 127.0.0.1:+80", 3, "bind_address", "port must be a number"},
      {"bind_address: 127.0.0.1:0x50", 3, "bind_address", "port must be a number"},
      {"bind_address: \"::1:8081\"", 3, "bind_address", "IPv6 address must be in brackets"},
      {"bind_address: \"[::1]8081\"", 3, "bind_address", "want \"[ipv6]:port\""},
      {"bind_address: \"[::1\"", 3, "bind_address", "want \"[ipv6]:port\""},
      {"bind_address: \"[1.2.3.4]:80\"", 3, "bind_address", "is not an IPv6 address"},
      {"bind_address: \":8081\"", 3, "bind_address", "host is empty"},
      {"bind_address: \"bad_host:80\"", 3, "bind_address", "neither an IPv4 address nor a host"},
      {"bind_address: \"a..b:80\"", 3, "bind_address", "neither an IPv4 address nor a host"},
      {"bind_address: [a]", 3, "bind_address", "must be a string, not a list"},
      {"admin_socket: \"\"", 3, "admin_socket", "must not be empty"},
      {"admin_socket: " + long_socket, 3, "admin_socket", "is 108 bytes; a Unix socket path"},
      {"datastore: sqlite", 3, "datastore", "must be a map, not a scalar"},
      {"datastore:\n  driver: mysql", 4, "datastore.driver",
       "must be one of sqlite, postgres, not \"mysql\""},
      {"datastore:\n  driver: postgres", 3, "datastore.connection_string",
       "required when driver is postgres"},
      {"datastore:\n  connection_string: \"\"", 4, "datastore.connection_string",
       "must not be empty"},
      {"datastore:\n  path: x", 4, "datastore.path", "unknown key \"path\""},
      {"ca:\n  key_type: ec-p521", 4, "ca.key_type", "must be one of ec-p256, ec-p384, rsa-2048"},
      {"ca:\n  ttl: 59m", 4, "ca.ttl", "must be between 1h and 87600h"},
      {"ca:\n  ttl: 87601h", 4, "ca.ttl", "must be between 1h and 87600h"},
      {"ca:\n  ttl: forever", 4, "ca.ttl", "invalid duration \"forever\""},
      {"ca:\n  subject:\n    country: de", 5, "ca.subject.country", "two-letter ISO 3166"},
      {"ca:\n  subject:\n    country: DEU", 5, "ca.subject.country", "two-letter ISO 3166"},
      {"ca:\n  subject:\n    organization: " + std::string(65, 'o'), 5, "ca.subject.organization",
       "at most 64 bytes"},
      {"ca:\n  subject:\n    common_name: \"a\\tb\"", 5, "ca.subject.common_name",
       "control characters"},
      {"ca:\n  subject:\n    organisation: x", 5, "ca.subject.organisation",
       "(did you mean \"organization\"?)"},
      {"ca:\n  rotate: true", 4, "ca.rotate", "unknown key \"rotate\""},
      {"default_x509_svid_ttl: 59s", 3, "default_x509_svid_ttl", "must be between 1m and 720h"},
      {"default_x509_svid_ttl: 721h", 3, "default_x509_svid_ttl", "must be between 1m and 720h"},
      {"default_x509_svid_ttl: -1h", 3, "default_x509_svid_ttl", "must not be negative"},
      {"default_x509_svid_ttl: 168h", 3, "default_x509_svid_ttl",
       "must be shorter than ca.ttl (168h)"},
      {"ca:\n  ttl: 1h\nagent_svid_ttl: 30m", 4, "ca.ttl",
       "must be longer than default_x509_svid_ttl (1h)"},
      {"ca:\n  ttl: 1h\ndefault_x509_svid_ttl: 30m", 4, "ca.ttl",
       "must be longer than agent_svid_ttl (1h)"},
      {"ca:\n  ttl: 2h\ndefault_jwt_svid_ttl: 2h", 5, "default_jwt_svid_ttl",
       "must be shorter than ca.ttl (2h)"},
      {"agent_svid_ttl: 59s", 3, "agent_svid_ttl", "must be between 1m and 720h"},
      {"agent_limits:\n  max_concurrent_signing: 0", 4, "agent_limits.max_concurrent_signing",
       "must be between 1 and 10000"},
      {"agent_limits:\n  svids: 5", 4, "agent_limits.svids", "unknown key"},
      {"ca:\n  ttl: 2h\nagent_svid_ttl: 3h", 5, "agent_svid_ttl",
       "must be shorter than ca.ttl (2h)"},
      {"default_jwt_svid_ttl: 9s", 3, "default_jwt_svid_ttl", "must be between 10s and 24h"},
      {"default_jwt_svid_ttl: 25h", 3, "default_jwt_svid_ttl", "must be between 10s and 24h"},
      {"default_jwt_svid_ttl: 5mins", 3, "default_jwt_svid_ttl", "invalid duration"},
      {"jwt_issuer: http://example.org", 3, "jwt_issuer", "must be an https:// URL"},
      {"jwt_issuer: example.org", 3, "jwt_issuer", "must be an https:// URL"},
      {"jwt_issuer: https://", 3, "jwt_issuer", "must name a host"},
      {"jwt_issuer: https:///path", 3, "jwt_issuer", "must name a host"},
      {"jwt_issuer: https://example.org/?a=b", 3, "jwt_issuer", "query or fragment"},
      {"jwt_issuer: https://example.org/#x", 3, "jwt_issuer", "query or fragment"},
      {"jwt_issuer: https://user@example.org", 3, "jwt_issuer", "user info"},
      {"jwt_issuer: \"https://exa mple.org\"", 3, "jwt_issuer", "spaces"},
      {"key_manager: hsm", 3, "key_manager", "must be one of disk, memory, not \"hsm\""},
      {"node_attestors:\n  k8s_psat: {}", 4, "node_attestors.k8s_psat",
       "unknown node attestor \"k8s_psat\" (known: join_token, jwt, x509pop)"},
      {"node_attestors:\n  join_token: [a]", 4, "node_attestors.join_token",
       "must be a map, not a list"},
      {"node_attestors:\n  tpm:\n    device: /dev/tpm0", 4, "node_attestors.tpm",
       "unknown node attestor \"tpm\""},
      {"datastore:\n  - sqlite", 3, "datastore", "must be a map, not a list"},
      {"node_attestors: [join_token]", 3, "node_attestors", "must be a map, not a list"},
      {"admin_uids: [-1]", 3, "admin_uids[0]", "must be between 0 and 4294967294"},
      {"admin_uids: [0, 4294967295]", 3, "admin_uids[1]", "must be between 0 and 4294967294"},
      {"admin_uids: [root]", 3, "admin_uids[0]", "must be a decimal integer"},
      {"admin_uids: 0", 3, "admin_uids", "must be a list, not a scalar"},
      {"admin_ids:\n  - spiffe://example.org/ok\n  - https://example.org/x", 5, "admin_ids[1]",
       "invalid spiffe id"},
      {"admin_ids: [spiffe://example.org]", 3, "admin_ids[0]", "must name a workload"},
      {"admin_ids: [spiffe://example.org/a/../b]", 3, "admin_ids[0]", "invalid spiffe id"},
      {"log:\n  level: trace", 4, "log.level", "must be one of debug, info, warn, error"},
      {"log:\n  format: logfmt", 4, "log.format", "must be one of text, json"},
      {"log:\n  file: /var/log/x", 4, "log.file", "unknown key \"file\""},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.yaml);
    EXPECT_THAT(Problems(absl::StrCat(kMinimal, c.yaml, "\n")),
                ElementsAre(Problem(c.line, c.path, c.message)));
  }
}

TEST(ServerConfigTest, TrustDomainAndDataDirAreRequiredAndChecked) {
  EXPECT_THAT(Problems("bind_address: 127.0.0.1:1\n"),
              ElementsAre(Problem(0, "trust_domain", "required key is missing"),
                          Problem(0, "data_dir", "required key is missing")));
  EXPECT_THAT(Problems("trust_domain: Example.org\ndata_dir: d\n"),
              ElementsAre(Problem(1, "trust_domain", "invalid trust domain")));
  EXPECT_THAT(Problems("trust_domain: example.org:8080\ndata_dir: d\n"),
              ElementsAre(Problem(1, "trust_domain", "invalid trust domain")));
  EXPECT_THAT(Problems("trust_domain:\ndata_dir: \"\"\n"),
              ElementsAre(Problem(1, "trust_domain", "value is missing"),
                          Problem(2, "data_dir", "must not be empty")));
}

TEST(ServerConfigTest, DefaultAdminSocketMustFitSunPath) {
  const std::string long_dir = absl::StrCat("/", std::string(100, 'd'));
  EXPECT_THAT(Problems(absl::StrCat("trust_domain: example.org\ndata_dir: ", long_dir, "\n")),
              ElementsAre(Problem(2, "data_dir", "the default admin_socket")));
  // Setting admin_socket fixes it.
  const ServerConfig config = MustParse(absl::StrCat(
      "trust_domain: example.org\ndata_dir: ", long_dir, "\nadmin_socket: /run/s.sock\n"));
  EXPECT_EQ(config.admin_socket, "/run/s.sock");
}

TEST(ServerConfigTest, ReportsSeveralProblemsAtOnceInLineOrder) {
  const std::string text =
      "trust_domain: EXAMPLE\n"           // 1
      "data_dir: /d\n"                    // 2
      "bind_address: nope\n"              // 3
      "datastore:\n"                      // 4
      "  driver: oracle\n"                // 5
      "  pool: 5\n"                       // 6
      "ca:\n"                             // 7
      "  subject:\n"                      // 8
      "    cn: x\n"                       // 9
      "default_jwt_svid_ttl: 1s\n"        // 10
      "node_attestors:\n"                 // 11
      "  tpm: {}\n"                       // 12
      "admin_ids: [spiffe://x/a, bad]\n"  // 13
      "log:\n"                            // 14
      "  level: loud\n"                   // 15
      "  colour: true\n"                  // 16
      "surprise: 1\n";                    // 17
  EXPECT_THAT(Problems(text),
              ElementsAre(Problem(1, "trust_domain", "invalid trust domain"),
                          Problem(3, "bind_address", "want host:port"),
                          Problem(5, "datastore.driver", "must be one of sqlite, postgres"),
                          Problem(6, "datastore.pool", "unknown key \"pool\""),
                          Problem(9, "ca.subject.cn", "unknown key \"cn\""),
                          Problem(10, "default_jwt_svid_ttl", "must be between 10s and 24h"),
                          Problem(12, "node_attestors.tpm", "unknown node attestor \"tpm\""),
                          Problem(13, "admin_ids[1]", "invalid spiffe id"),
                          Problem(15, "log.level", "must be one of debug, info, warn, error"),
                          Problem(16, "log.colour", "unknown key \"colour\""),
                          Problem(17, "surprise", "unknown key \"surprise\"")));
}

TEST(ServerConfigTest, ParseFailsWithEveryProblemInTheMessage) {
  absl::StatusOr<ServerConfig> config = ParseServerConfig(
      "trust_domain: example.org\nkey_manager: tpm\nbogus: 1\n", {.source_name = "server.yaml"});
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(config.status().message(),
            "server.yaml: data_dir: required key is missing\n"
            "server.yaml:2: key_manager: must be one of disk, memory, not \"tpm\"\n"
            "server.yaml:3: bogus: unknown key \"bogus\"");
}

TEST(ServerConfigTest, YamlSyntaxErrorIsOneProblem) {
  EXPECT_THAT(Problems("trust_domain: example.org\ndata_dir: [unclosed\n"),
              ElementsAre(Problem(3, "", "invalid YAML")));
}

TEST(ServerConfigTest, ExpandsEnvironmentVariables) {
  const std::string text =
      "trust_domain: ${TD}\n"
      "data_dir: ${HOME_DIR}/signet\n"
      "datastore:\n"
      "  driver: postgres\n"
      "  connection_string: \"host=db password=${PG_PASSWORD}\"\n"
      "jwt_issuer: https://$${not_expanded}\n";
  const ConfigOptions options{
      .expand_env = true,
      .env_lookup =
          MapEnvLookup({{"TD", "example.org"}, {"HOME_DIR", "/srv"}, {"PG_PASSWORD", "s3"}})};
  const ServerConfig config = MustParse(text, options);
  EXPECT_EQ(config.trust_domain.name(), "example.org");
  EXPECT_EQ(config.data_dir, "/srv/signet");
  EXPECT_EQ(config.datastore.connection_string, "host=db password=s3");
  EXPECT_EQ(config.jwt_issuer, "https://${not_expanded}");

  // Without expand_env the reference is kept verbatim (and fails trust domain rules).
  EXPECT_THAT(Problems(text), ElementsAre(Problem(1, "trust_domain", "invalid trust domain")));

  const ConfigOptions missing{.expand_env = true,
                              .env_lookup = MapEnvLookup({{"TD", "example.org"}})};
  EXPECT_THAT(Problems(text, missing),
              ElementsAre(Problem(2, "", "undefined environment variable \"HOME_DIR\""),
                          Problem(5, "", "undefined environment variable \"PG_PASSWORD\"")));
}

std::string SourcePath(absl::string_view relative) {
  return absl::StrCat(SIGNET_SOURCE_DIR, "/", relative);
}

TEST(ServerConfigTest, ShippedDevConfigLoads) {
  absl::StatusOr<ServerConfig> config = LoadServerConfigFile(SourcePath("conf/server.yaml"), {});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->trust_domain.name(), "example.org");
  EXPECT_EQ(config->data_dir, "./.signet/server");
  EXPECT_EQ(config->admin_socket, "./.signet/server/admin.sock");
  EXPECT_EQ(config->log_format, LogFormat::kText);
  ASSERT_EQ(config->node_attestors.size(), 1u);
  EXPECT_EQ(config->node_attestors[0].name, "join_token");
}

TEST(ServerConfigTest, LoadNamesTheFileInProblems) {
  absl::StatusOr<ServerConfig> missing = LoadServerConfigFile("/nonexistent/server.yaml", {});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("/nonexistent/server.yaml"));
}

// The complete example in docs/configuration.md is the first ```yaml block; it must stay valid.
TEST(ServerConfigTest, DocumentedExampleParses) {
  absl::StatusOr<std::string> doc = ReadFile(SourcePath("docs/configuration.md"));
  ASSERT_TRUE(doc.ok()) << doc.status();
  const size_t start = doc->find("```yaml\n");
  ASSERT_NE(start, std::string::npos);
  const size_t end = doc->find("```", start + 8);
  ASSERT_NE(end, std::string::npos);
  const std::string example = doc->substr(start + 8, end - start - 8);
  const ConfigOptions options{.expand_env = true,
                              .env_lookup = MapEnvLookup({{"SIGNET_PG_PASSWORD", "secret"}})};
  const ServerConfig config = MustParse(example, options);
  EXPECT_EQ(config.trust_domain.name(), "example.org");
  EXPECT_FALSE(config.node_attestors.empty());
}

}  // namespace
}  // namespace signet::server
