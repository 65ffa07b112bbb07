#include "src/server/config/server_config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "src/common/file_util.h"
#include "src/common/host_port.h"
#include "src/common/log_config.h"
#include "src/common/status_macros.h"

namespace signet::server {
namespace {

// X.520 upper bound for organizationName and commonName.
constexpr size_t kMaxSubjectField = 64;

std::string JoinPath(absl::string_view dir, absl::string_view name) {
  if (absl::EndsWith(dir, "/")) {
    return absl::StrCat(dir, name);
  }
  return absl::StrCat(dir, "/", name);
}

bool HasControlOrSpace(absl::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

// An OpenID Connect issuer: https, a host, no query, fragment or user info.
absl::Status ValidateIssuer(absl::string_view url) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "https://")) {
    return absl::InvalidArgumentError("must be an https:// URL");
  }
  if (HasControlOrSpace(url)) {
    return absl::InvalidArgumentError("must not contain spaces or control characters");
  }
  if (absl::StrContains(url, '?') || absl::StrContains(url, '#')) {
    return absl::InvalidArgumentError("must not have a query or fragment");
  }
  const absl::string_view authority = rest.substr(0, rest.find('/'));
  if (authority.empty()) {
    return absl::InvalidArgumentError("must name a host");
  }
  if (absl::StrContains(authority, '@')) {
    return absl::InvalidArgumentError("must not contain user info");
  }
  return absl::OkStatus();
}

void CheckSubjectField(ConfigMap& subject, absl::string_view key, const std::string& value) {
  if (value.size() > kMaxSubjectField) {
    subject.AddProblem(key, absl::StrCat("must be at most ", kMaxSubjectField, " bytes"));
  } else if (std::any_of(value.begin(), value.end(),
                         [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
    subject.AddProblem(key, "must not contain control characters");
  }
}

void ReadSubject(ConfigMap& subject, CaSubjectConfig* out) {
  if (subject.GetString("country", &out->country) && !out->country.empty() &&
      (out->country.size() != 2 || !absl::ascii_isupper(out->country[0]) ||
       !absl::ascii_isupper(out->country[1]))) {
    subject.AddProblem("country", "must be a two-letter ISO 3166 code such as \"DE\"");
  }
  if (subject.GetString("organization", &out->organization)) {
    CheckSubjectField(subject, "organization", out->organization);
  }
  if (subject.GetString("common_name", &out->common_name)) {
    CheckSubjectField(subject, "common_name", out->common_name);
  }
}

// A duration key kept with its position so that cross-checks can point at it.
struct TtlValue {
  std::optional<ConfigValue> value;  // nullopt: absent, the default applies
  bool ok = true;
};

TtlValue ReadTtl(ConfigMap& map, absl::string_view key, absl::Duration* out, absl::Duration min,
                 absl::Duration max) {
  TtlValue ttl{.value = map.Get(key)};
  if (ttl.value.has_value()) {
    ttl.ok = ttl.value->AsDuration(out, {.min = min, .max = max});
  }
  return ttl;
}

// An SVID may not outlive the CA that signs it. Blames the SVID TTL when it was written, else
// the CA TTL (one of them was, since the defaults agree).
void CheckShorterThanCa(TtlValue& svid, absl::Duration svid_ttl, absl::string_view svid_key,
                        TtlValue& ca, absl::Duration ca_ttl) {
  if (!svid.ok || !ca.ok || svid_ttl < ca_ttl) {
    return;
  }
  if (svid.value.has_value()) {
    svid.value->AddProblem(
        absl::StrCat("must be shorter than ca.ttl (", absl::FormatDuration(ca_ttl), ")"));
  } else if (ca.value.has_value()) {
    ca.value->AddProblem(
        absl::StrCat("must be longer than ", svid_key, " (", absl::FormatDuration(svid_ttl), ")"));
  }
}

void ReadCa(ConfigMap& ca, CaConfig* out, TtlValue* ttl) {
  ca.GetEnum("key_type", &out->key_type,
             {{crypto::KeyTypeName(crypto::KeyType::kEcP256), crypto::KeyType::kEcP256},
              {crypto::KeyTypeName(crypto::KeyType::kEcP384), crypto::KeyType::kEcP384},
              {crypto::KeyTypeName(crypto::KeyType::kRsa2048), crypto::KeyType::kRsa2048}});
  *ttl = ReadTtl(ca, "ttl", &out->ttl, kMinCaTtl, kMaxCaTtl);
  ca.GetMap("subject", [out](ConfigMap& subject) { ReadSubject(subject, &out->subject); });
}

void ReadDatastore(ConfigMap& datastore, DatastoreConfig* out) {
  const bool driver_ok = datastore.GetEnum(
      "driver", &out->driver,
      {{"sqlite", DatastoreDriver::kSqlite}, {"postgres", DatastoreDriver::kPostgres}});
  if (!datastore.GetString("connection_string", &out->connection_string)) {
    return;
  }
  if (datastore.Has("connection_string") && out->connection_string.empty()) {
    datastore.AddProblem("connection_string", "must not be empty");
  } else if (driver_ok && out->driver == DatastoreDriver::kPostgres &&
             !datastore.Has("connection_string")) {
    datastore.AddProblem("connection_string", "required when driver is postgres");
  }
}

void ReadNodeAttestors(ConfigMap& attestors, std::vector<PluginConfig>* out) {
  // Walk the keys in file order; each must name a known plugin.
  attestors.ForEachUnknownKey([&](absl::string_view name) {
    const std::vector<absl::string_view>& known = KnownNodeAttestors();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      attestors.AddProblem(name, absl::StrCat("unknown node attestor \"", name,
                                              "\" (known: ", absl::StrJoin(known, ", "), ")"));
      return;
    }
    PluginConfig plugin{.name = std::string(name)};
    if (attestors.GetRaw(name, &plugin.config)) {
      out->push_back(std::move(plugin));
    }
  });
}

void ReadAdmins(ConfigMap& root, ServerConfig* config) {
  root.GetList("admin_uids", [config](ConfigValue& item) {
    int64_t uid = 0;
    // (uid_t)-1 means "no uid" to the kernel, so it is not a valid admin.
    if (item.AsInt(&uid, {.min = 0, .max = 4294967294})) {
      config->admin_uids.push_back(static_cast<uint32_t>(uid));
    }
  });
  root.GetList("admin_ids", [config](ConfigValue& item) {
    std::string text;
    if (!item.AsString(&text)) {
      return;
    }
    absl::StatusOr<spiffe::SpiffeId> id = spiffe::SpiffeId::Parse(text);
    if (!id.ok()) {
      item.AddProblem(std::string(id.status().message()));
    } else if (id->IsTrustDomainId()) {
      item.AddProblem("must name a workload, not a trust domain (add a path)");
    } else {
      config->admin_ids.push_back(*std::move(id));
    }
  });
}

// data_dir and the paths whose defaults derive from it.
void ReadPaths(ConfigMap& root, ServerConfig* config) {
  const bool data_dir_ok = root.GetString("data_dir", &config->data_dir, Need::kRequired);
  if (data_dir_ok && root.Has("data_dir") && config->data_dir.empty()) {
    root.AddProblem("data_dir", "must not be empty");
  }
  if (root.GetString("admin_socket", &config->admin_socket) && root.Has("admin_socket")) {
    if (config->admin_socket.empty()) {
      root.AddProblem("admin_socket", "must not be empty");
    } else if (config->admin_socket.size() > kMaxUnixSocketPath) {
      root.AddProblem("admin_socket", absl::StrCat("is ", config->admin_socket.size(),
                                                   " bytes; a Unix socket path may have at most ",
                                                   kMaxUnixSocketPath));
    }
  } else if (!root.Has("admin_socket") && !config->data_dir.empty()) {
    config->admin_socket = JoinPath(config->data_dir, "admin.sock");
    if (config->admin_socket.size() > kMaxUnixSocketPath) {
      root.AddProblem("data_dir", absl::StrCat("the default admin_socket \"", config->admin_socket,
                                               "\" is longer than ", kMaxUnixSocketPath,
                                               " bytes; set admin_socket to a shorter path"));
    }
  }
}

void ReadServerConfig(ConfigMap& root, ServerConfig* config) {
  std::string name;
  if (root.GetString("trust_domain", &name, Need::kRequired) && root.Has("trust_domain")) {
    absl::StatusOr<spiffe::TrustDomain> td = spiffe::TrustDomain::Parse(name);
    if (td.ok()) {
      config->trust_domain = *std::move(td);
    } else {
      root.AddProblem("trust_domain", std::string(td.status().message()));
    }
  }
  if (root.GetString("bind_address", &config->bind_address)) {
    absl::Status status =
        ParseHostPort(config->bind_address, &config->bind_host, &config->bind_port);
    if (!status.ok()) {
      root.AddProblem("bind_address", std::string(status.message()));
    }
  }
  ReadPaths(root, config);
  root.GetMap("datastore", [config](ConfigMap& m) { ReadDatastore(m, &config->datastore); });
  if (config->datastore.driver == DatastoreDriver::kSqlite &&
      config->datastore.connection_string.empty() && !config->data_dir.empty()) {
    config->datastore.connection_string = JoinPath(config->data_dir, "datastore.sqlite3");
  }
  TtlValue ca_ttl;
  root.GetMap("ca", [&](ConfigMap& m) { ReadCa(m, &config->ca, &ca_ttl); });
  TtlValue x509_ttl = ReadTtl(root, "default_x509_svid_ttl", &config->default_x509_svid_ttl,
                              kMinX509SvidTtl, kMaxX509SvidTtl);
  TtlValue jwt_ttl = ReadTtl(root, "default_jwt_svid_ttl", &config->default_jwt_svid_ttl,
                             kMinJwtSvidTtl, kMaxJwtSvidTtl);
  CheckShorterThanCa(x509_ttl, config->default_x509_svid_ttl, "default_x509_svid_ttl", ca_ttl,
                     config->ca.ttl);
  TtlValue agent_ttl =
      ReadTtl(root, "agent_svid_ttl", &config->agent_svid_ttl, kMinX509SvidTtl, kMaxX509SvidTtl);
  CheckShorterThanCa(agent_ttl, config->agent_svid_ttl, "agent_svid_ttl", ca_ttl, config->ca.ttl);
  CheckShorterThanCa(jwt_ttl, config->default_jwt_svid_ttl, "default_jwt_svid_ttl", ca_ttl,
                     config->ca.ttl);
  if (root.GetString("jwt_issuer", &config->jwt_issuer) && root.Has("jwt_issuer")) {
    absl::Status status = ValidateIssuer(config->jwt_issuer);
    if (!status.ok()) {
      root.AddProblem("jwt_issuer", std::string(status.message()));
    }
  }
  root.GetEnum("key_manager", &config->key_manager,
               {{"disk", KeyManagerKind::kDisk}, {"memory", KeyManagerKind::kMemory}});
  root.GetMap("node_attestors",
              [config](ConfigMap& m) { ReadNodeAttestors(m, &config->node_attestors); });
  ReadAdmins(root, config);
  root.GetMap("agent_limits", [config](ConfigMap& m) {
    // Each value keeps its default when absent or invalid (the problem is recorded).
    auto read = [&m](const char* key, int64_t max, int* out) {
      int64_t v = *out;
      if (m.GetInt(key, &v, {.min = 1, .max = max})) *out = static_cast<int>(v);
    };
    AgentLimits& l = config->agent_limits;
    read("max_concurrent_signing", 10000, &l.max_concurrent_signing);
    read("svids_per_second", 1000000, &l.svids_per_second);
    read("svid_burst", 1000000, &l.svid_burst);
  });
  ReadLogSection(root, &config->log_level, &config->log_format);
}

// Stands in until trust_domain is read; never returned, since a missing or bad trust_domain is
// a problem. ".invalid" is reserved (RFC 2606), so it cannot be a real trust domain.
spiffe::TrustDomain UnsetTrustDomain() { return *spiffe::TrustDomain::Parse("unset.invalid"); }

}  // namespace

absl::string_view DatastoreDriverName(DatastoreDriver driver) {
  return driver == DatastoreDriver::kPostgres ? "postgres" : "sqlite";
}

absl::string_view KeyManagerKindName(KeyManagerKind kind) {
  return kind == KeyManagerKind::kMemory ? "memory" : "disk";
}

const std::vector<absl::string_view>& KnownNodeAttestors() {
  static const std::vector<absl::string_view>* const known =
      new std::vector<absl::string_view>{"join_token", "jwt", "x509pop"};
  return *known;
}

ConfigProblems ValidateServerConfig(absl::string_view yaml_text, const ConfigOptions& options,
                                    ServerConfig* config) {
  ServerConfig parsed(UnsetTrustDomain());
  ConfigProblems problems = WalkConfig(
      yaml_text, options, [&parsed](ConfigMap& root) { ReadServerConfig(root, &parsed); });
  if (problems.empty() && config != nullptr) {
    *config = std::move(parsed);
  }
  return problems;
}

absl::StatusOr<ServerConfig> ParseServerConfig(absl::string_view yaml_text,
                                               const ConfigOptions& options) {
  ServerConfig config(UnsetTrustDomain());
  SIGNET_RETURN_IF_ERROR(
      ProblemsToStatus(ValidateServerConfig(yaml_text, options, &config), options.source_name));
  return config;
}

absl::StatusOr<ServerConfig> LoadServerConfigFile(const std::string& path, ConfigOptions options) {
  SIGNET_ASSIGN_OR_RETURN(std::string text, ReadFile(path, kMaxConfigBytes));
  options.source_name = path;
  return ParseServerConfig(text, options);
}

}  // namespace signet::server
