#include "src/client/parse.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "src/common/status_macros.h"
#include "src/crypto/certificate.h"
#include "src/spiffe/spiffe_id.h"
#include "src/spiffe/x509_svid.h"

namespace signet::client {
namespace {

absl::StatusOr<std::vector<std::string>> SplitDer(const std::string& der, const char* what) {
  absl::StatusOr<std::vector<crypto::Certificate>> certs = crypto::ParseDerChain(der);
  if (!certs.ok())
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", certs.status().message()));
  std::vector<std::string> out;
  for (const crypto::Certificate& c : *certs) out.push_back(c.ToDer());
  return out;
}

}  // namespace

absl::StatusOr<X509Update> ParseX509Response(const X509SVIDResponse& resp) {
  if (resp.svids().empty()) return absl::InvalidArgumentError("the message has no SVID");
  X509Update update;
  for (const X509SVID& s : resp.svids()) {
    absl::StatusOr<spiffe::X509Svid> parsed =
        spiffe::X509Svid::Parse(s.x509_svid(), s.x509_svid_key());
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("SVID ", s.spiffe_id(), ": ", parsed.status().message()));
    }
    if (parsed->id().String() != s.spiffe_id()) {
      return absl::InvalidArgumentError(
          absl::StrCat("SVID ", s.spiffe_id(), ": the certificate is for ", parsed->id().String()));
    }
    X509Svid svid{
        .spiffe_id = s.spiffe_id(), .private_key_der = s.x509_svid_key(), .hint = s.hint()};
    for (const crypto::Certificate& c : parsed->chain()) svid.chain_der.push_back(c.ToDer());
    svid.expires_at = absl::ToChronoTime(parsed->leaf().NotAfter());
    const std::string td = parsed->id().trust_domain().name();
    if (!update.bundles.contains(td)) {
      SIGNET_ASSIGN_OR_RETURN(update.bundles[td], SplitDer(s.bundle(), "bundle"));
    }
    update.svids.push_back(std::move(svid));
  }
  for (const auto& [id, der] : resp.federated_bundles()) {
    absl::StatusOr<spiffe::TrustDomain> td = spiffe::TrustDomain::Parse(id);
    if (!td.ok()) return absl::InvalidArgumentError(absl::StrCat("federated bundle key ", id));
    if (update.bundles.contains(td->name())) continue;  // never let a federated one replace ours
    SIGNET_ASSIGN_OR_RETURN(update.bundles[td->name()], SplitDer(der, "federated bundle"));
  }
  return update;
}

absl::StatusOr<JwtBundles> ParseJwtBundles(const std::map<std::string, std::string>& by_key) {
  JwtBundles out;
  for (const auto& [key, json] : by_key) {
    absl::StatusOr<spiffe::TrustDomain> td = spiffe::TrustDomain::Parse(key);
    if (!td.ok()) return absl::InvalidArgumentError(absl::StrCat("bundle key \"", key, "\""));
    absl::StatusOr<spiffe::Bundle> bundle = spiffe::ParseSpiffeBundle(json);
    if (!bundle.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("JWT bundle of ", td->name(), ": ", bundle.status().message()));
    }
    out.set.Put(*td, *std::move(bundle));
    out.jwks[td->name()] = json;
  }
  return out;
}

absl::StatusOr<JwtBundles> ParseJwtBundlesResponse(const JWTBundlesResponse& resp) {
  return ParseJwtBundles(
      std::map<std::string, std::string>(resp.bundles().begin(), resp.bundles().end()));
}

}  // namespace signet::client
