#include "src/server/nodeattestor/node_attestor.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/common/yaml_config.h"

namespace signet::server {
namespace {

// Join tokens are what `signet token generate` makes; anything longer is not one of ours.
constexpr size_t kMaxJoinTokenLength = 256;

class JoinTokenAttestor final : public NodeAttestor {
 public:
  explicit JoinTokenAttestor(const NodeAttestorDeps& deps) : deps_(deps) {}

  absl::string_view type() const override { return "join_token"; }

  absl::StatusOr<AttestationResult> Attest(absl::string_view payload,
                                           ChallengeChannel& /*channel*/) override {
    if (payload.empty() || payload.size() > kMaxJoinTokenLength) {
      return absl::InvalidArgumentError(
          absl::StrCat("join_token: the token must be 1 to ", kMaxJoinTokenLength, " bytes"));
    }
    absl::StatusOr<JoinToken> token =
        deps_.join_tokens.ConsumeJoinToken(payload, deps_.clock.Now());
    if (absl::IsNotFound(token.status())) {
      // Expired tokens are pruned, so an old one is as unknown as a used one.
      return absl::PermissionDeniedError("join_token: unknown, used or expired token");
    }
    if (absl::IsFailedPrecondition(token.status())) {
      return absl::PermissionDeniedError("join_token: the token has expired");
    }
    SIGNET_RETURN_IF_ERROR(token.status());
    absl::StatusOr<spiffe::SpiffeId> id = JoinTokenAgentId(deps_.trust_domain, token->token);
    if (!token->spiffe_id.empty()) {
      id = spiffe::SpiffeId::Parse(token->spiffe_id);
      if (!id.ok()) {
        return absl::DataLossError(
            absl::StrCat("join_token: stored agent id: ", id.status().message()));
      }
    }
    SIGNET_RETURN_IF_ERROR(id.status());
    // Not re-attestable: the token is gone, nothing could prove the node again.
    AttestationResult result{.agent_id = *std::move(id), .can_reattest = false};
    return result;
  }

 private:
  NodeAttestorDeps deps_;
};

}  // namespace

absl::StatusOr<spiffe::SpiffeId> JoinTokenAgentId(const spiffe::TrustDomain& td,
                                                  absl::string_view token) {
  absl::StatusOr<spiffe::SpiffeId> id = spiffe::SpiffeId::Parse(
      absl::StrCat("spiffe://", td.name(), "/signet/agent/join_token/", token));
  if (!id.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "join_token: the token cannot be part of an agent id: ", id.status().message()));
  }
  return id;
}

absl::StatusOr<std::unique_ptr<NodeAttestor>> CreateJoinTokenAttestor(
    const RawConfig& config, const NodeAttestorDeps& deps) {
  ConfigProblems problems = WalkRawConfig(config, [](ConfigMap& m) { m.ReportUnknownKeys(); });
  SIGNET_RETURN_IF_ERROR(ReportPluginProblems(problems, deps));
  return std::make_unique<JoinTokenAttestor>(deps);
}

absl::Status ReportPluginProblems(const ConfigProblems& problems, const NodeAttestorDeps& deps) {
  if (deps.problems != nullptr) {
    deps.problems->insert(deps.problems->end(), problems.begin(), problems.end());
  }
  return ProblemsToStatus(problems);
}

namespace {

// Validation creates the plugins but never attests: no token is ever looked up.
class NoJoinTokens final : public JoinTokenStore {
 public:
  absl::Status CreateJoinToken(const JoinToken&) override { return Refuse(); }
  absl::StatusOr<JoinToken> ConsumeJoinToken(absl::string_view, absl::Time) override {
    return Refuse();
  }
  absl::StatusOr<int64_t> PruneJoinTokens(absl::Time) override { return Refuse(); }

 private:
  static absl::Status Refuse() {
    return absl::FailedPreconditionError("no join token store while validating");
  }
};

}  // namespace

ConfigProblems ValidateNodeAttestorConfigs(const std::vector<PluginConfig>& configs,
                                           const spiffe::TrustDomain& trust_domain) {
  NoJoinTokens tokens;
  SystemClock clock;
  ConfigProblems problems;
  for (const PluginConfig& plugin : configs) {
    NodeAttestorDeps deps{.trust_domain = trust_domain,
                          .join_tokens = tokens,
                          .clock = clock,
                          .problems = &problems,
                          .online = false};
    const size_t before = problems.size();
    absl::Status status = CreateNodeAttestors({plugin}, deps).status();
    if (!status.ok() && problems.size() == before) {  // a failure that is not a config problem
      problems.push_back({.line = plugin.config.line,
                          .path = plugin.config.path,
                          .message = std::string(status.message())});
    }
  }
  return problems;
}

absl::StatusOr<std::vector<std::unique_ptr<NodeAttestor>>> CreateNodeAttestors(
    const std::vector<PluginConfig>& configs, const NodeAttestorDeps& deps) {
  std::vector<std::unique_ptr<NodeAttestor>> out;
  for (const PluginConfig& plugin : configs) {
    absl::StatusOr<std::unique_ptr<NodeAttestor>> attestor;
    if (plugin.name == "join_token") {
      attestor = CreateJoinTokenAttestor(plugin.config, deps);
    } else if (plugin.name == "x509pop") {
      attestor = CreateX509PopAttestor(plugin.config, deps);
    } else if (plugin.name == "jwt") {
      attestor = CreateJwtAttestor(plugin.config, deps);
    } else {
      // The config parser refuses unknown names; this guards a name it knows and this does not.
      attestor = absl::UnimplementedError(absl::StrCat(
          "node_attestors.", plugin.name, ": this plugin is not available in this build"));
    }
    SIGNET_RETURN_IF_ERROR(attestor.status());
    out.push_back(*std::move(attestor));
  }
  return out;
}

}  // namespace signet::server
