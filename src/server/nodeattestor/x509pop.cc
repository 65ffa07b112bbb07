// The x509pop node attestor (server half): the agent presents a certificate chain, the server
// checks it against the configured CA certificates and sends a fresh 32-byte nonce; the agent
// proves possession of the leaf's private key by signing X509PopSigningInput(nonce).
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "src/common/file_util.h"
#include "src/common/status_macros.h"
#include "src/common/yaml_config.h"
#include "src/crypto/certificate.h"
#include "src/crypto/chain_verify.h"
#include "src/crypto/signature.h"
#include "src/server/nodeattestor/node_attestor.h"

namespace signet::server {
namespace {

constexpr size_t kNonceBytes = 32;
constexpr size_t kMaxChainBytes = 64 * 1024;
constexpr char kDefaultTemplate[] = "x509pop/{fingerprint}";

std::string CommonName(X509_NAME* name) {
  char cn[256];
  int n = X509_NAME_get_text_by_NID(name, NID_commonName, cn, sizeof(cn));
  return n > 0 ? std::string(cn, static_cast<size_t>(n)) : "";
}

class X509PopAttestor final : public NodeAttestor {
 public:
  X509PopAttestor(const NodeAttestorDeps& deps, std::vector<crypto::Certificate> cas,
                  std::string path_template)
      : deps_(deps), cas_(std::move(cas)), template_(std::move(path_template)) {}

  absl::string_view type() const override { return "x509pop"; }

  absl::StatusOr<AttestationResult> Attest(absl::string_view payload,
                                           ChallengeChannel& channel) override {
    if (payload.empty() || payload.size() > kMaxChainBytes) {
      return absl::InvalidArgumentError("x509pop: the payload must be a PEM certificate chain");
    }
    absl::StatusOr<std::vector<crypto::Certificate>> chain = crypto::ParsePemChain(payload);
    if (!chain.ok() || chain->empty()) {
      return absl::InvalidArgumentError("x509pop: the payload is not a PEM certificate chain");
    }
    const crypto::Certificate& leaf = chain->front();
    std::vector<crypto::Certificate> intermediates(chain->begin() + 1, chain->end());
    std::vector<std::string> problems =
        crypto::VerifyCertificateChain(leaf, intermediates, cas_, deps_.clock.Now());
    if (!problems.empty()) {
      return absl::PermissionDeniedError(absl::StrCat(
          "x509pop: the certificate does not chain to a configured CA: ", problems.front()));
    }
    unsigned char nonce[kNonceBytes];
    if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
      return absl::InternalError("x509pop: RAND_bytes failed");
    }
    const std::string challenge(reinterpret_cast<char*>(nonce), sizeof(nonce));
    SIGNET_ASSIGN_OR_RETURN(std::string answer, channel.Challenge(challenge));
    const crypto::SignatureScheme scheme{.key_algorithm = leaf.public_key().info().algorithm,
                                         .hash = crypto::Hash::kSha256};
    if (!crypto::Verify(leaf.public_key(), scheme, X509PopSigningInput(challenge), answer)) {
      return absl::PermissionDeniedError(
          "x509pop: the challenge was not signed by the certificate's key");
    }
    return Result(leaf);
  }

 private:
  absl::StatusOr<AttestationResult> Result(const crypto::Certificate& leaf) const {
    const std::string cn = CommonName(X509_get_subject_name(leaf.get()));
    const std::string issuer_cn = CommonName(X509_get_issuer_name(leaf.get()));
    std::vector<std::string> dns = leaf.DnsSans();
    const std::string path =
        absl::StrReplaceAll(template_, {{"{fingerprint}", leaf.Sha256Fingerprint()},
                                        {"{cn}", cn},
                                        {"{dns}", dns.empty() ? "" : dns.front()}});
    absl::StatusOr<spiffe::SpiffeId> id = spiffe::SpiffeId::Parse(
        absl::StrCat("spiffe://", deps_.trust_domain.name(), "/signet/agent/", path));
    if (!id.ok()) {
      return absl::PermissionDeniedError(absl::StrCat(
          "x509pop: the certificate does not give a valid agent id: ", id.status().message()));
    }
    AttestationResult result{.agent_id = *std::move(id), .can_reattest = true};
    std::vector<std::string> selectors = {
        absl::StrCat("x509pop:subject:cn:", cn), absl::StrCat("x509pop:issuer:cn:", issuer_cn),
        absl::StrCat("x509pop:fingerprint:", leaf.Sha256Fingerprint())};
    for (const std::string& text : selectors) {
      absl::StatusOr<spiffe::Selector> s = spiffe::Selector::Parse(text);
      if (s.ok()) result.selectors.push_back(*std::move(s));  // an empty CN gives none
    }
    spiffe::CanonicalizeSelectors(result.selectors);
    return result;
  }

  NodeAttestorDeps deps_;
  const std::vector<crypto::Certificate> cas_;
  const std::string template_;
};

}  // namespace

std::string X509PopSigningInput(absl::string_view nonce) {
  return absl::StrCat("signet x509pop v1\n", nonce);
}

absl::StatusOr<std::unique_ptr<NodeAttestor>> CreateX509PopAttestor(const RawConfig& config,
                                                                    const NodeAttestorDeps& deps) {
  std::string ca_path;
  std::string path_template = kDefaultTemplate;
  std::vector<crypto::Certificate> cas;
  ConfigProblems problems = WalkRawConfig(config, [&](ConfigMap& m) {
    if (m.GetString("ca_bundle_path", &ca_path, Need::kRequired) && !ca_path.empty()) {
      absl::StatusOr<std::string> pem = ReadFile(ca_path, 4 << 20);
      absl::StatusOr<std::vector<crypto::Certificate>> parsed =
          pem.ok() ? crypto::ParsePemChain(*pem) : pem.status();
      if (!parsed.ok() || parsed->empty()) {
        m.AddProblem("ca_bundle_path",
                     absl::StrCat("cannot read CA certificates from ", ca_path, ": ",
                                  parsed.ok() ? "none found" : parsed.status().message()));
      } else {
        cas = *std::move(parsed);
      }
    }
    if (m.GetString("agent_path_template", &path_template) &&
        (path_template.empty() || path_template.find('{') == std::string::npos)) {
      m.AddProblem("agent_path_template",
                   "must use {fingerprint}, {cn} or {dns} (one agent id per certificate)");
    }
    m.ReportUnknownKeys();
  });
  SIGNET_RETURN_IF_ERROR(ReportPluginProblems(problems, deps));
  return std::make_unique<X509PopAttestor>(deps, std::move(cas), std::move(path_template));
}

}  // namespace signet::server
