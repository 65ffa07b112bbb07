// The server's configuration file (server.yaml): schema, defaults and validation.
// docs/configuration.md is the reference for every key; keep the two in step.
//
// Parsing reports every problem in the file at once, each with its line and key path. A parsed
// ServerConfig is a plain value: every field holds a validated value or its default, and the
// defaults that depend on data_dir (admin_socket, the SQLite file) are filled in. Relative paths
// are kept as written; they are relative to the server's working directory, not to the file.
//
// Node attestor configurations are kept as YAML sub-trees (RawConfig) for each plugin to
// validate with WalkRawConfig when it is created.
//
// Secrets: datastore.connection_string may hold a database password. Never log it, and prefer
// ${VAR} expansion (expand_env) over writing the password into the file.
#ifndef SIGNET_SERVER_CONFIG_SERVER_CONFIG_H_
#define SIGNET_SERVER_CONFIG_SERVER_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/common/logging.h"
#include "src/common/yaml_config.h"
#include "src/crypto/key.h"
#include "src/spiffe/spiffe_id.h"

namespace signet::server {

// sun_path holds 108 bytes including the terminating NUL.
inline constexpr size_t kMaxUnixSocketPath = 107;

enum class DatastoreDriver { kSqlite, kPostgres };
enum class KeyManagerKind { kDisk, kMemory };

// "sqlite", "postgres" / "disk", "memory".
absl::string_view DatastoreDriverName(DatastoreDriver driver);
absl::string_view KeyManagerKindName(KeyManagerKind kind);

struct DatastoreConfig {
  DatastoreDriver driver = DatastoreDriver::kSqlite;
  // SQLite: a file path (default "<data_dir>/datastore.sqlite3"). PostgreSQL: a libpq connection
  // string (required). May contain a password: never log it.
  std::string connection_string;
};

// The subject of the CA certificates the server creates.
struct CaSubjectConfig {
  std::string country;  // ISO 3166 two-letter code, or empty
  std::string organization = "Signet";
  std::string common_name;  // empty: the CA chooses one
};

struct CaConfig {
  crypto::KeyType key_type = crypto::KeyType::kEcP256;
  absl::Duration ttl = absl::Hours(168);
  CaSubjectConfig subject;
};

// One configured plugin: its name and its unparsed configuration.
struct PluginConfig {
  std::string name;
  RawConfig config;
};

// A TrustDomain has no empty value, so a ServerConfig is built from one; every other field starts
// at its default.
// Overload protection of the agent API: past these the server answers Unavailable at once (the
// agent retries with backoff) instead of queueing work without bound.
struct AgentLimits {
  int max_concurrent_signing = 32;  // agent API calls that sign (attest, renew, svids) at once
  int svids_per_second = 200;       // per agent, sustained
  int svid_burst = 2000;            // per agent, at once
};

struct ServerConfig {
  explicit ServerConfig(spiffe::TrustDomain td) : trust_domain(std::move(td)) {}

  spiffe::TrustDomain trust_domain;
  // host:port of the agent API listener, as written ("127.0.0.1:8081", "[::1]:8081").
  std::string bind_address = "127.0.0.1:8081";
  std::string bind_host = "127.0.0.1";  // without brackets
  uint16_t bind_port = 8081;
  std::string admin_socket;  // default "<data_dir>/admin.sock"
  std::string data_dir;
  DatastoreConfig datastore;
  CaConfig ca;
  absl::Duration default_x509_svid_ttl = absl::Hours(1);
  absl::Duration agent_svid_ttl = absl::Hours(1);
  AgentLimits agent_limits;
  absl::Duration default_jwt_svid_ttl = absl::Minutes(5);
  std::string jwt_issuer;  // empty: none
  KeyManagerKind key_manager = KeyManagerKind::kDisk;
  std::vector<PluginConfig> node_attestors;  // in file order
  std::vector<uint32_t> admin_uids;
  std::vector<spiffe::SpiffeId> admin_ids;
  LogLevel log_level = LogLevel::kInfo;
  LogFormat log_format = LogFormat::kText;
};

// Bounds enforced on durations.
inline constexpr absl::Duration kMinCaTtl = absl::Hours(1);
inline constexpr absl::Duration kMaxCaTtl = absl::Hours(24 * 365 * 10);
inline constexpr absl::Duration kMinX509SvidTtl = absl::Minutes(1);
inline constexpr absl::Duration kMaxX509SvidTtl = absl::Hours(24 * 30);
inline constexpr absl::Duration kMinJwtSvidTtl = absl::Seconds(10);
inline constexpr absl::Duration kMaxJwtSvidTtl = absl::Hours(24);

// The node attestor plugins the server knows, sorted.
const std::vector<absl::string_view>& KnownNodeAttestors();

// Parses and validates `yaml_text`. Returns every problem found, sorted by line; `*config`
// (optional) receives the result, which is meaningful only when no problem is returned.
ConfigProblems ValidateServerConfig(absl::string_view yaml_text, const ConfigOptions& options,
                                    ServerConfig* config = nullptr);

// As ValidateServerConfig; on any problem fails with InvalidArgument listing all of them, one
// per line ("<source_name>:<line>: <key>: <message>").
absl::StatusOr<ServerConfig> ParseServerConfig(absl::string_view yaml_text,
                                               const ConfigOptions& options);

// Reads the file at `path` (at most kMaxConfigBytes) and parses it, naming it in problems.
absl::StatusOr<ServerConfig> LoadServerConfigFile(const std::string& path, ConfigOptions options);

}  // namespace signet::server

#endif  // SIGNET_SERVER_CONFIG_SERVER_CONFIG_H_
