// The jwt (OIDC) node attestor, server half: the agent presents a JWT from an OIDC issuer (a
// Kubernetes projected service account token, a CI job's token); the server verifies it against
// the issuer's JWK Set, issuer, audience and validity times, then checks the claim conditions.
#include <fnmatch.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "src/common/file_util.h"
#include "src/common/https_get.h"
#include "src/common/status_macros.h"
#include "src/common/strict_json.h"
#include "src/common/yaml_config.h"
#include "src/server/nodeattestor/jwks_cache.h"
#include "src/server/nodeattestor/node_attestor.h"
#include "src/spiffe/jwt_svid.h"

namespace signet::server {
namespace {

// One claim the token must carry with a value matching one of `patterns` (fnmatch globs).
struct ClaimCondition {
  std::string claim;
  std::vector<std::string> patterns;
};

struct JwtAttestorConfig {
  std::string issuer;
  std::string audience;
  std::string agent_path_template;
  std::vector<std::string> template_claims;  // the {claim} names of the template, parsed once
  std::vector<ClaimCondition> conditions;
  std::vector<std::string> selector_claims;  // every claim named anywhere, in order, once
};

// A placeholder or condition names a claim by its path: "sub", "kubernetes.io/namespace".
bool ValidClaimName(absl::string_view name) {
  if (name.empty() || name.size() > 128 || name.front() == '/' || name.back() == '/') return false;
  for (char c : name) {
    if (!(absl::ascii_isalnum(c) || c == '_' || c == '-' || c == '.' || c == '/' || c == ':')) {
      return false;
    }
  }
  return name.find("//") == absl::string_view::npos;
}

// The names of the {claim} placeholders of `text`, or a problem.
absl::StatusOr<std::vector<std::string>> TemplateClaims(absl::string_view text) {
  std::vector<std::string> names;
  size_t at = 0;
  while ((at = text.find_first_of("{}", at)) != absl::string_view::npos) {
    if (text[at] == '}') return absl::InvalidArgumentError("a '}' without its '{'");
    size_t close = text.find('}', at);
    if (close == absl::string_view::npos) return absl::InvalidArgumentError("an unclosed '{'");
    absl::string_view name = text.substr(at + 1, close - at - 1);
    if (!ValidClaimName(name)) {
      return absl::InvalidArgumentError(absl::StrCat("\"{", name, "}\" is not a claim name"));
    }
    names.emplace_back(name);
    at = close + 1;
  }
  if (names.empty()) {
    return absl::InvalidArgumentError("must use at least one {claim} (one agent id per node)");
  }
  return names;
}

// The value of claim `name` as text: strings as they are, integers and booleans as JSON.
absl::StatusOr<std::string> ClaimText(const nlohmann::json& claims, absl::string_view name) {
  const nlohmann::json* at = &claims;
  for (absl::string_view part : absl::StrSplit(name, '/')) {
    auto it = at->is_object() ? at->find(std::string(part)) : at->end();
    if (!at->is_object() || it == at->end()) {
      return absl::PermissionDeniedError(
          absl::StrCat("jwt: the token has no claim \"", name, "\""));
    }
    at = &*it;
  }
  if (at->is_string()) return at->get<std::string>();
  if (at->is_number_integer() || at->is_boolean()) return at->dump();
  return absl::PermissionDeniedError(
      absl::StrCat("jwt: claim \"", name, "\" is not a string, an integer or a boolean"));
}

class JwtAttestor final : public NodeAttestor {
 public:
  JwtAttestor(const NodeAttestorDeps& deps, JwtAttestorConfig config,
              std::unique_ptr<JwksCache> keys)
      : deps_(deps), config_(std::move(config)), keys_(std::move(keys)) {}

  absl::string_view type() const override { return "jwt"; }

  absl::StatusOr<AttestationResult> Attest(absl::string_view payload,
                                           ChallengeChannel& /*channel*/) override {
    if (payload.empty() || payload.size() > spiffe::kMaxJwtLength) {
      return absl::InvalidArgumentError(absl::StrCat("jwt: the payload must be a token of 1 to ",
                                                     spiffe::kMaxJwtLength, " bytes"));
    }
    absl::StatusOr<spiffe::UnverifiedJwt> unverified = spiffe::DecodeJwtUnverified(payload);
    if (!unverified.ok()) {
      return absl::InvalidArgumentError(unverified.status().message());
    }
    const nlohmann::json& kid = unverified->header["kid"];
    SIGNET_ASSIGN_OR_RETURN(std::shared_ptr<const spiffe::JwkSet> keys,
                            keys_->For(kid.is_string() ? kid.get<std::string>() : ""));
    absl::StatusOr<spiffe::VerifiedJwt> verified = spiffe::VerifyJwt(
        payload, *keys,
        {.issuer = config_.issuer, .audience = config_.audience, .now = deps_.clock.Now()});
    if (!verified.ok()) {
      return absl::PermissionDeniedError(verified.status().message());
    }
    SIGNET_ASSIGN_OR_RETURN(nlohmann::json claims, ParseStrictJson(verified->claims_json));
    for (const ClaimCondition& condition : config_.conditions) {
      SIGNET_ASSIGN_OR_RETURN(std::string value, ClaimText(claims, condition.claim));
      if (!Matches(condition, value)) {
        return absl::PermissionDeniedError(
            absl::StrCat("jwt: claim \"", condition.claim, "\" is \"", value.substr(0, 256),
                         "\", which does not meet the condition \"",
                         absl::StrJoin(condition.patterns, "\" or \""), "\""));
      }
    }
    return Result(claims);
  }

 private:
  static bool Matches(const ClaimCondition& condition, const std::string& value) {
    for (const std::string& pattern : condition.patterns) {
      if (fnmatch(pattern.c_str(), value.c_str(), 0) == 0) return true;
    }
    return false;
  }

  absl::StatusOr<AttestationResult> Result(const nlohmann::json& claims) const {
    std::string path = config_.agent_path_template;
    for (const std::string& name : config_.template_claims) {
      SIGNET_ASSIGN_OR_RETURN(std::string value, ClaimText(claims, name));
      path = absl::StrReplaceAll(path, {{absl::StrCat("{", name, "}"), value}});
    }
    absl::StatusOr<spiffe::SpiffeId> id = spiffe::SpiffeId::Parse(
        absl::StrCat("spiffe://", deps_.trust_domain.name(), "/signet/agent/", path));
    if (!id.ok()) {
      return absl::PermissionDeniedError(absl::StrCat(
          "jwt: the token's claims do not give a valid agent id: ", id.status().message()));
    }
    AttestationResult result{.agent_id = *std::move(id), .can_reattest = true};
    for (const std::string& name : config_.selector_claims) {
      absl::StatusOr<std::string> value = ClaimText(claims, name);
      if (!value.ok()) continue;  // an optional claim the token does not carry
      absl::StatusOr<spiffe::Selector> s =
          spiffe::Selector::Parse(absl::StrCat("jwt:claim:", name, ":", *value));
      if (s.ok()) result.selectors.push_back(*std::move(s));
    }
    spiffe::CanonicalizeSelectors(result.selectors);
    return result;
  }

  NodeAttestorDeps deps_;
  const JwtAttestorConfig config_;
  std::unique_ptr<JwksCache> keys_;
};

void AddSelectorClaim(JwtAttestorConfig& config, const std::string& name) {
  if (std::find(config.selector_claims.begin(), config.selector_claims.end(), name) ==
      config.selector_claims.end()) {
    config.selector_claims.push_back(name);
  }
}

void ReadConditions(ConfigMap& m, JwtAttestorConfig& config) {
  m.GetMap("conditions", [&](ConfigMap& conditions) {
    conditions.ForEachUnknownKey([&](absl::string_view claim) {
      if (!ValidClaimName(claim)) {
        conditions.AddProblem(claim, "is not a claim name ([A-Za-z0-9_.:-], '/' for nesting)");
        return;
      }
      ClaimCondition condition{.claim = std::string(claim)};
      std::optional<ConfigValue> value = conditions.Get(claim);
      bool ok = value->node().IsSequence() ? conditions.GetStringList(claim, &condition.patterns)
                                           : value->AsString(&condition.patterns.emplace_back());
      if (!ok) return;
      if (condition.patterns.empty() ||
          std::any_of(condition.patterns.begin(), condition.patterns.end(),
                      [](const std::string& p) { return p.empty(); })) {
        conditions.AddProblem(claim, "needs a non-empty value or list of values");
        return;
      }
      AddSelectorClaim(config, condition.claim);
      config.conditions.push_back(std::move(condition));
    });
  });
}

}  // namespace

absl::StatusOr<std::unique_ptr<NodeAttestor>> CreateJwtAttestor(const RawConfig& raw,
                                                                const NodeAttestorDeps& deps) {
  JwtAttestorConfig config;
  std::string jwks_path;
  std::string jwks_url;
  HttpsGetOptions https;
  JwksCacheOptions cache;
  ConfigProblems problems = WalkRawConfig(raw, [&](ConfigMap& m) {
    m.GetString("issuer", &config.issuer, Need::kRequired);
    m.GetString("audience", &config.audience, Need::kRequired);
    if (m.GetString("jwks_path", &jwks_path) && !jwks_path.empty()) {
      // Checked now: a bad file stops the server (an issuer that is down does not).
      absl::StatusOr<std::string> text = ReadFile(jwks_path, 1 << 20);
      absl::Status parsed = text.ok() ? spiffe::JwkSet::Parse(*text).status() : text.status();
      if (!parsed.ok()) {
        m.AddProblem("jwks_path", absl::StrCat("cannot load the key set from ", jwks_path, ": ",
                                               parsed.message()));
      }
    }
    if (m.GetString("jwks_url", &jwks_url) && !jwks_url.empty()) {
      absl::StatusOr<HttpsUrl> url = ParseHttpsUrl(jwks_url);
      if (!url.ok()) m.AddProblem("jwks_url", std::string(url.status().message()));
    }
    if (jwks_path.empty() == jwks_url.empty()) {
      m.AddProblem(jwks_path.empty() ? "jwks_path" : "jwks_url",
                   "set exactly one of jwks_path and jwks_url");
    }
    if (m.GetString("jwks_url_ca_path", &https.ca_path) && m.Has("jwks_url_ca_path") &&
        jwks_url.empty()) {
      m.AddProblem("jwks_url_ca_path", "only applies with jwks_url");
    }
    m.GetDuration("jwks_refresh_interval", &cache.refresh_interval,
                  {.min = absl::Seconds(10), .max = absl::Hours(24)});
    if (m.GetString("agent_path_template", &config.agent_path_template, Need::kRequired)) {
      absl::StatusOr<std::vector<std::string>> names = TemplateClaims(config.agent_path_template);
      if (!names.ok()) {
        m.AddProblem("agent_path_template", std::string(names.status().message()));
      } else {
        for (const std::string& name : *names) AddSelectorClaim(config, name);
        config.template_claims = *std::move(names);
      }
    }
    ReadConditions(m, config);
    std::vector<std::string> extra;
    if (m.GetStringList("selector_claims", &extra)) {
      for (const std::string& name : extra) {
        if (!ValidClaimName(name)) {
          m.AddProblem("selector_claims", absl::StrCat("\"", name, "\" is not a claim name"));
        }
        AddSelectorClaim(config, name);
      }
    }
    m.ReportUnknownKeys();
  });
  SIGNET_RETURN_IF_ERROR(ReportPluginProblems(problems, deps));
  JwksFetcher fetch;
  if (!jwks_path.empty()) {
    cache.source = jwks_path;
    fetch = [jwks_path] { return ReadFile(jwks_path, 1 << 20); };
  } else {
    cache.source = jwks_url;
    fetch = [jwks_url, https] { return HttpsGet(jwks_url, https); };
  }
  auto keys = std::make_unique<JwksCache>(std::move(fetch), deps.clock, std::move(cache));
  // Fetched now, so that an issuer that cannot be reached shows in the log at start; it is
  // retried, and attestations answer Unavailable until a key set arrives.
  if (deps.online) (void)keys->For("");
  return std::make_unique<JwtAttestor>(deps, std::move(config), std::move(keys));
}

}  // namespace signet::server
