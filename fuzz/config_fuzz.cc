// Fuzzes the server configuration parser (YAML through the schema walker, with ${VAR}
// expansion): no crash, no hang, and a config is returned exactly when no problem is reported.
#include <cstdint>
#include <cstdlib>

#include "src/server/config/server_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  signet::ConfigOptions options{
      .source_name = "fuzz.yaml",
      .expand_env = size > 0 && (data[0] & 1) != 0,
      .env_lookup = signet::MapEnvLookup({{"TD", "example.org"}, {"DIR", "/var/lib/signet"}})};
  signet::ConfigProblems problems = signet::server::ValidateServerConfig(text, options);
  absl::StatusOr<signet::server::ServerConfig> config =
      signet::server::ParseServerConfig(text, options);
  if (config.ok() != problems.empty()) std::abort();
  return 0;
}
