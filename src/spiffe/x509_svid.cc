#include "src/spiffe/x509_svid.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/common/status_macros.h"
#include "src/crypto/cert_builder.h"
#include "src/crypto/chain_verify.h"

namespace signet::spiffe {
namespace {

using crypto::Certificate;

bool ValidDnsName(absl::string_view name) {
  if (name.empty() || name.size() > 253) {
    return false;
  }
  size_t label = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || (c == '*' && i == 0 && name.size() > 1 && name[1] == '.');
    if (!ok || ++label > 63) return false;
  }
  return label > 0;
}

// The trust domain of a signing certificate, from its URI SAN, if it has one.
std::optional<TrustDomain> IssuerTrustDomain(const Certificate& issuer) {
  for (const auto& uri : issuer.UriSans()) {
    absl::StatusOr<SpiffeId> id = SpiffeId::Parse(uri);
    if (id.ok()) {
      return id->trust_domain();
    }
  }
  return std::nullopt;
}

absl::Time CapValidity(absl::Time wanted, const Certificate* issuer) {
  return issuer == nullptr ? wanted : std::min(wanted, issuer->NotAfter());
}

}  // namespace

absl::StatusOr<Certificate> IssueLeafSvid(const LeafParams& params,
                                          const crypto::PublicKey& subject_key,
                                          const Certificate& issuer,
                                          const crypto::PrivateKey& issuer_key, absl::Time now) {
  if (params.id.IsTrustDomainId()) {
    return absl::InvalidArgumentError("x509 svid: spiffe id must have a path");
  }
  std::optional<TrustDomain> issuer_td = IssuerTrustDomain(issuer);
  if (issuer_td.has_value() && !params.id.MemberOf(*issuer_td)) {
    return absl::InvalidArgumentError(absl::StrCat("x509 svid: ", params.id.String(),
                                                   " is not in the issuer's trust domain ",
                                                   issuer_td->name()));
  }
  for (const auto& dns : params.dns_names) {
    if (!ValidDnsName(dns)) {
      return absl::InvalidArgumentError(absl::StrCat("x509 svid: invalid dns name \"", dns, "\""));
    }
  }
  if (params.ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("x509 svid: ttl must be positive");
  }
  if (issuer.NotAfter() <= now) {
    return absl::FailedPreconditionError("x509 svid: the issuing certificate has expired");
  }
  crypto::CertificateTemplate tmpl;
  tmpl.subject = params.subject;
  tmpl.not_before = now - kX509Backdate;
  tmpl.not_after = CapValidity(now + params.ttl, &issuer);
  tmpl.key_usage = crypto::kKeyUsageDigitalSignature;
  if (subject_key.info().algorithm == crypto::KeyAlgorithm::kRsa) {
    tmpl.key_usage |= crypto::kKeyUsageKeyEncipherment;
  }
  tmpl.server_auth = true;
  tmpl.client_auth = true;
  tmpl.uri_sans = {params.id.String()};
  tmpl.dns_sans = params.dns_names;
  return crypto::IssueCertificate(tmpl, subject_key, &issuer, issuer_key);
}

absl::StatusOr<Certificate> IssueCaCertificate(const CaParams& params,
                                               const crypto::PublicKey& subject_key,
                                               const Certificate* issuer,
                                               const crypto::PrivateKey& issuer_key,
                                               absl::Time now) {
  if (params.subject.empty()) {
    return absl::InvalidArgumentError("ca certificate: subject is required");
  }
  if (params.ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("ca certificate: ttl must be positive");
  }
  if (issuer != nullptr && issuer->NotAfter() <= now) {
    return absl::FailedPreconditionError("ca certificate: the issuing certificate has expired");
  }
  crypto::CertificateTemplate tmpl;
  tmpl.subject = params.subject;
  tmpl.not_before = now - kX509Backdate;
  tmpl.not_after = CapValidity(now + params.ttl, issuer);
  tmpl.is_ca = true;
  tmpl.path_len = params.path_len;
  tmpl.key_usage =
      crypto::kKeyUsageKeyCertSign | crypto::kKeyUsageCrlSign | crypto::kKeyUsageDigitalSignature;
  tmpl.uri_sans = {params.trust_domain.IdString()};
  return crypto::IssueCertificate(tmpl, subject_key, issuer, issuer_key);
}

std::vector<std::string> CheckLeafRules(const Certificate& leaf, std::optional<SpiffeId>* id) {
  std::vector<std::string> problems;
  std::vector<std::string> uris = leaf.UriSans();
  if (uris.size() != 1) {
    problems.push_back(absl::StrCat("leaf has ", uris.size(), " URI SANs; need exactly one"));
  } else {
    absl::StatusOr<SpiffeId> parsed = SpiffeId::Parse(uris[0]);
    if (!parsed.ok()) {
      problems.push_back(absl::StrCat("leaf URI SAN: ", parsed.status().message()));
    } else if (parsed->IsTrustDomainId()) {
      problems.push_back("leaf SPIFFE ID has no path");
    } else if (id != nullptr) {
      *id = *parsed;
    }
  }
  if (leaf.BasicConstraintsCa() == true) {
    problems.push_back("leaf is a CA certificate");
  }
  std::optional<uint32_t> ku = leaf.KeyUsage();
  if (!ku.has_value()) {
    problems.push_back("leaf has no key usage extension");
  } else {
    if ((*ku & crypto::kKeyUsageDigitalSignature) == 0) {
      problems.push_back("leaf key usage lacks digitalSignature");
    }
    if ((*ku & crypto::kKeyUsageKeyCertSign) != 0) {
      problems.push_back("leaf key usage has keyCertSign");
    }
    if ((*ku & crypto::kKeyUsageCrlSign) != 0) {
      problems.push_back("leaf key usage has cRLSign");
    }
  }
  return problems;
}

absl::StatusOr<X509Svid> X509Svid::FromParts(std::vector<Certificate> chain,
                                             crypto::PrivateKey key) {
  if (chain.empty()) {
    return absl::InvalidArgumentError("x509 svid: empty certificate chain");
  }
  std::optional<SpiffeId> id;
  std::vector<std::string> problems = CheckLeafRules(chain.front(), &id);
  for (size_t i = 1; i < chain.size(); ++i) {
    std::optional<uint32_t> ku = chain[i].KeyUsage();
    if (chain[i].BasicConstraintsCa() != true || !ku.has_value() ||
        (*ku & crypto::kKeyUsageKeyCertSign) == 0) {
      problems.push_back(absl::StrCat("certificate ", i, " is not a CA with keyCertSign"));
    }
  }
  if (!key.public_key().Equals(chain.front().public_key())) {
    problems.push_back("private key does not match the leaf certificate");
  }
  if (!problems.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("x509 svid: ", absl::StrJoin(problems, "; ")));
  }
  return X509Svid(*std::move(id), std::move(chain), std::move(key));
}

absl::StatusOr<X509Svid> X509Svid::Parse(absl::string_view chain, absl::string_view key) {
  absl::StatusOr<std::vector<Certificate>> certs = crypto::ParseChain(chain);
  if (!certs.ok()) {
    return Annotate(certs.status(), "x509 svid");
  }
  absl::StatusOr<crypto::PrivateKey> private_key = key.find("-----BEGIN") != absl::string_view::npos
                                                       ? crypto::PrivateKey::FromPem(key)
                                                       : crypto::PrivateKey::FromPkcs8Der(key);
  if (!private_key.ok()) {
    return Annotate(private_key.status(), "x509 svid");
  }
  return FromParts(*std::move(certs), *std::move(private_key));
}

X509Verification VerifyX509SvidChain(std::span<const Certificate> chain,
                                     const BundleSource& bundles, absl::Time now) {
  X509Verification result;
  if (chain.empty()) {
    result.problems.push_back("no certificate presented");
    return result;
  }
  std::optional<SpiffeId> id;
  result.problems = CheckLeafRules(chain.front(), &id);
  if (!result.problems.empty()) {
    return result;  // Without a valid SPIFFE ID there is no trust domain to validate against.
  }
  std::shared_ptr<const Bundle> bundle = bundles.GetBundle(id->trust_domain());
  if (bundle == nullptr || bundle->x509_authorities().empty()) {
    result.problems.push_back(
        absl::StrCat("no X.509 authorities for trust domain ", id->trust_domain().name()));
    return result;
  }
  result.problems = crypto::VerifyCertificateChain(chain.front(), chain.subspan(1),
                                                   bundle->x509_authorities(), now);
  if (result.problems.empty()) {
    result.id = std::move(id);
  }
  return result;
}

absl::StatusOr<SpiffeId> VerifyX509Svid(std::span<const Certificate> chain,
                                        const BundleSource& bundles, absl::Time now) {
  X509Verification v = VerifyX509SvidChain(chain, bundles, now);
  if (!v.ok()) {
    return absl::UnauthenticatedError(absl::StrCat("x509 svid: ", absl::StrJoin(v.problems, "; ")));
  }
  return *std::move(v.id);
}

}  // namespace signet::spiffe
