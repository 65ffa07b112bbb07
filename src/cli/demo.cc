// `signet demo`: a short, self-checking tour of the core library. Every step prints what it did
// and whether the outcome was the expected one; the exit code is 1 if any step was not.
#include <sys/stat.h>

#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/cli/core_commands.h"
#include "src/cli/output.h"
#include "src/common/clock.h"
#include "src/common/file_util.h"
#include "src/common/status_macros.h"
#include "src/crypto/cert_builder.h"
#include "src/spiffe/bundle.h"
#include "src/spiffe/jwt_svid.h"
#include "src/spiffe/x509_svid.h"

namespace signet::cli {
namespace {

using spiffe::SpiffeId;

// Runs the steps in order, stopping at the first that fails.
class DemoRunner {
 public:
  // A step returns a one-line detail on success, or a status describing what went wrong.
  using Step = std::function<absl::StatusOr<std::string>()>;

  void Add(std::string title, Step step) { steps_.push_back({std::move(title), std::move(step)}); }

  int Run() {
    int passed = 0;
    for (auto& [title, step] : steps_) {
      absl::StatusOr<std::string> detail = step();
      if (!detail.ok()) {
        std::cout << "  [FAIL] " << title << "\n         " << detail.status().message() << "\n";
        std::cout << "demo: " << passed << " of " << steps_.size() << " steps passed\n";
        return kExitError;
      }
      std::cout << "  [ ok ] " << title << "\n         " << *detail << "\n";
      ++passed;
    }
    std::cout << "demo: all " << passed << " steps passed\n";
    return kExitOk;
  }

 private:
  std::vector<std::pair<std::string, Step>> steps_;
};

// Everything the demo builds, shared by its steps.
struct DemoState {
  absl::Time now = RealClock().Now();
  spiffe::TrustDomain td = *spiffe::TrustDomain::Parse("example.org");
  std::optional<crypto::PrivateKey> ca_key;
  std::optional<crypto::Certificate> ca;
  std::optional<spiffe::X509Svid> svid;
  std::optional<spiffe::JwtSigner> signer;
  spiffe::BundleSet bundles;
  std::string jwt;
};

absl::StatusOr<std::string> MakeCa(DemoState& s) {
  SIGNET_ASSIGN_OR_RETURN(s.ca_key, crypto::PrivateKey::Generate(crypto::KeyType::kEcP256));
  SIGNET_ASSIGN_OR_RETURN(
      s.ca,
      spiffe::IssueCaCertificate({.trust_domain = s.td, .subject = "O=Signet Demo,CN=example.org"},
                                 s.ca_key->public_key(), nullptr, *s.ca_key, s.now));
  SIGNET_ASSIGN_OR_RETURN(auto jwt_key, crypto::PrivateKey::Generate(crypto::KeyType::kEcP256));
  SIGNET_ASSIGN_OR_RETURN(s.signer, spiffe::JwtSigner::Create(jwt_key, "demo-key-1"));
  spiffe::Bundle bundle;
  bundle.AddX509Authority(*s.ca);
  SIGNET_RETURN_IF_ERROR(bundle.AddJwtAuthority({s.signer->key_id(), s.signer->public_key()}));
  bundle.set_sequence(1);
  s.bundles.Put(s.td, std::move(bundle));
  return absl::StrCat("root ", s.ca->Subject(), ", valid until ", FormatRfc3339(s.ca->NotAfter()));
}

absl::StatusOr<std::string> MintSvid(DemoState& s) {
  SIGNET_ASSIGN_OR_RETURN(SpiffeId id, SpiffeId::Parse("spiffe://example.org/demo/web"));
  SIGNET_ASSIGN_OR_RETURN(auto key, crypto::PrivateKey::Generate(crypto::KeyType::kEcP256));
  SIGNET_ASSIGN_OR_RETURN(
      auto leaf, spiffe::IssueLeafSvid({.id = id, .ttl = absl::Hours(1)}, key.public_key(), *s.ca,
                                       *s.ca_key, s.now));
  SIGNET_ASSIGN_OR_RETURN(s.svid, spiffe::X509Svid::FromParts({leaf}, key));
  return absl::StrCat(s.svid->id().String(), ", serial ", leaf.SerialHex().substr(0, 16),
                      "..., expires ", FormatRfc3339(leaf.NotAfter()));
}

absl::StatusOr<std::string> VerifySvid(DemoState& s) {
  SIGNET_ASSIGN_OR_RETURN(SpiffeId id, spiffe::VerifyX509Svid(s.svid->chain(), s.bundles, s.now));
  return absl::StrCat("chain verified against the example.org bundle: ", id.String());
}

absl::StatusOr<std::string> RejectForeignSvid(DemoState& s) {
  // An attacker's CA issues a certificate claiming an example.org identity.
  SIGNET_ASSIGN_OR_RETURN(auto evil_key, crypto::PrivateKey::Generate(crypto::KeyType::kEcP256));
  SIGNET_ASSIGN_OR_RETURN(auto evil_td, spiffe::TrustDomain::Parse("evil.example"));
  SIGNET_ASSIGN_OR_RETURN(
      auto evil_ca, spiffe::IssueCaCertificate({.trust_domain = evil_td, .subject = "CN=evil"},
                                               evil_key.public_key(), nullptr, evil_key, s.now));
  crypto::CertificateTemplate forged;
  forged.not_before = s.now - absl::Minutes(1);
  forged.not_after = s.now + absl::Hours(1);
  forged.key_usage = crypto::kKeyUsageDigitalSignature;
  forged.uri_sans = {"spiffe://example.org/demo/web"};
  SIGNET_ASSIGN_OR_RETURN(
      auto leaf, crypto::IssueCertificate(forged, evil_key.public_key(), &evil_ca, evil_key));
  std::vector<crypto::Certificate> chain = {leaf};
  absl::StatusOr<SpiffeId> result = spiffe::VerifyX509Svid(chain, s.bundles, s.now);
  if (result.ok()) {
    return absl::InternalError("a forged SVID was accepted");
  }
  return absl::StrCat("forged SVID rejected: ", result.status().message());
}

absl::StatusOr<std::string> MintAndValidateJwt(DemoState& s) {
  SIGNET_ASSIGN_OR_RETURN(s.jwt, s.signer->Mint({.subject = s.svid->id(),
                                                 .audience = {"demo-api"},
                                                 .issued_at = s.now,
                                                 .ttl = absl::Minutes(5)}));
  SIGNET_ASSIGN_OR_RETURN(
      spiffe::JwtSvid jwt,
      spiffe::ValidateJwtSvid(s.jwt, s.bundles, {.audience = "demo-api", .now = s.now}));
  return absl::StrCat("ES256 token of ", s.jwt.size(), " bytes validated: sub=", jwt.id.String());
}

absl::StatusOr<std::string> RejectBadJwts(DemoState& s) {
  std::vector<std::pair<std::string, std::string>> cases;
  absl::StatusOr<spiffe::JwtSvid> wrong_aud =
      spiffe::ValidateJwtSvid(s.jwt, s.bundles, {.audience = "other-api", .now = s.now});
  absl::StatusOr<spiffe::JwtSvid> expired = spiffe::ValidateJwtSvid(
      s.jwt, s.bundles, {.audience = "demo-api", .now = s.now + absl::Hours(1)});
  std::string tampered = s.jwt;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  absl::StatusOr<spiffe::JwtSvid> bad_sig =
      spiffe::ValidateJwtSvid(tampered, s.bundles, {.audience = "demo-api", .now = s.now});
  if (wrong_aud.ok() || expired.ok() || bad_sig.ok()) {
    return absl::InternalError("a bad JWT-SVID was accepted");
  }
  return absl::StrCat("wrong audience, expired and tampered tokens all rejected (",
                      expired.status().message(), ")");
}

absl::StatusOr<std::string> RejectBadId(DemoState&) {
  absl::StatusOr<SpiffeId> id = SpiffeId::Parse("spiffe://example.org/a/../b");
  if (id.ok()) {
    return absl::InternalError("an invalid SPIFFE ID was accepted");
  }
  return absl::StrCat("spiffe://example.org/a/../b rejected: ", id.status().message());
}

absl::StatusOr<std::string> RoundTripBundle(DemoState& s) {
  SIGNET_ASSIGN_OR_RETURN(std::string json, spiffe::ToSpiffeBundleJson(*s.bundles.GetBundle(s.td)));
  SIGNET_ASSIGN_OR_RETURN(spiffe::Bundle parsed, spiffe::ParseSpiffeBundle(json));
  if (parsed.x509_authorities().size() != 1 || parsed.jwt_authorities().size() != 1) {
    return absl::InternalError("bundle lost authorities in a round trip");
  }
  return absl::StrCat("SPIFFE bundle document of ", json.size(),
                      " bytes: 1 x509-svid key, 1 jwt-svid key, spiffe_sequence ",
                      parsed.sequence().value_or(0));
}

absl::StatusOr<std::string> WriteFiles(DemoState& s, const std::string& dir) {
  ::mkdir(dir.c_str(), 0755);
  std::shared_ptr<const spiffe::Bundle> bundle = s.bundles.GetBundle(s.td);
  SIGNET_ASSIGN_OR_RETURN(std::string svid_pem, crypto::ChainToPem(s.svid->chain()));
  SIGNET_ASSIGN_OR_RETURN(std::string key_pem, s.svid->key().ToPkcs8Pem());
  SIGNET_ASSIGN_OR_RETURN(std::string bundle_pem, spiffe::X509AuthoritiesToPem(*bundle));
  SIGNET_ASSIGN_OR_RETURN(std::string bundle_json, spiffe::ToSpiffeBundleJson(*bundle));
  SIGNET_RETURN_IF_ERROR(WriteFileAtomic(dir + "/svid.pem", svid_pem, 0644));
  SIGNET_RETURN_IF_ERROR(WriteFileAtomic(dir + "/svid.key", key_pem, 0600));
  SIGNET_RETURN_IF_ERROR(WriteFileAtomic(dir + "/bundle.pem", bundle_pem, 0644));
  SIGNET_RETURN_IF_ERROR(WriteFileAtomic(dir + "/bundle.json", bundle_json, 0644));
  SIGNET_RETURN_IF_ERROR(WriteFileAtomic(dir + "/jwt.txt", s.jwt + "\n", 0644));
  return absl::StrCat("wrote svid.pem, svid.key (0600), bundle.pem, bundle.json, jwt.txt to ", dir);
}

}  // namespace

void RegisterDemoCommand(CLI::App& app, int* exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "demo", "Run a short self-checking tour of Signet's SPIFFE core (no server needed)");
  auto dir = std::make_shared<std::string>();
  cmd->add_option("--write", *dir, "Also write the demo SVID, key and bundle to this directory");
  cmd->callback([=] {
    auto state = std::make_shared<DemoState>();
    DemoRunner runner;
    std::cout << "signet demo: SPIFFE core library, trust domain example.org\n";
    runner.Add("create a root CA and a JWT signing key", [=] { return MakeCa(*state); });
    runner.Add("issue an X509-SVID", [=] { return MintSvid(*state); });
    runner.Add("verify the X509-SVID chain", [=] { return VerifySvid(*state); });
    runner.Add("reject an SVID forged by another CA", [=] { return RejectForeignSvid(*state); });
    runner.Add("mint and validate a JWT-SVID", [=] { return MintAndValidateJwt(*state); });
    runner.Add("reject bad JWT-SVIDs", [=] { return RejectBadJwts(*state); });
    runner.Add("reject an invalid SPIFFE ID", [=] { return RejectBadId(*state); });
    runner.Add("round-trip the trust bundle", [=] { return RoundTripBundle(*state); });
    if (!dir->empty()) {
      runner.Add("write credentials to disk", [=] { return WriteFiles(*state, *dir); });
    }
    *exit_code = runner.Run();
  });
}

}  // namespace signet::cli
