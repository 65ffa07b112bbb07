#include "src/crypto/cert_builder.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "src/common/status_macros.h"
#include "src/crypto/fast_ec.h"
#include "src/crypto/signature.h"

namespace signet::crypto {
namespace {

// X509_set_pubkey; for a leaf, through a legacy copy of an EC key when one can be made
// (fast_ec.h). The certificate then holds the legacy key, which does not answer every
// EVP_PKEY_get_*_param; CA certificates, made rarely and read by more code, keep the provider
// key.
bool SetPublicKey(X509* cert, EVP_PKEY* key, bool is_ca) {
  EvpPkeyPtr legacy = is_ca ? nullptr : LegacyEcPublicCopy(key);
  return X509_set_pubkey(cert, legacy != nullptr ? legacy.get() : key) == 1;
}

constexpr int kSerialBits = 128;

absl::StatusOr<X509NamePtr> BuildName(const std::string& text) {
  X509NamePtr name(X509_NAME_new());
  if (text.empty()) {
    return name;
  }
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    std::vector<absl::string_view> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    std::string key(absl::StripAsciiWhitespace(kv[0]));
    if (kv.size() != 2 || key.empty() || absl::StripAsciiWhitespace(kv[1]).empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("subject: \"", part, "\" is not attribute=value"));
    }
    std::string value(absl::StripAsciiWhitespace(kv[1]));
    if (X509_NAME_add_entry_by_txt(name.get(), key.c_str(), MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                   0) != 1) {
      return OsslError(absl::StrCat("subject: attribute \"", key, "\""),
                       absl::StatusCode::kInvalidArgument);
    }
  }
  return name;
}

absl::Status SetTime(ASN1_TIME* field, absl::Time t) {
  if (ASN1_TIME_set(field, absl::ToTimeT(t)) == nullptr) {
    return OsslError("certificate: set validity");
  }
  return absl::OkStatus();
}

absl::Status SetRandomSerial(X509* x509) {
  BignumPtr bn(BN_new());
  if (bn == nullptr || BN_rand(bn.get(), kSerialBits, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1) {
    return OsslError("certificate: random serial");
  }
  if (BN_is_zero(bn.get())) {
    BN_one(bn.get());
  }
  Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (serial == nullptr || X509_set_serialNumber(x509, serial.get()) != 1) {
    return OsslError("certificate: set serial");
  }
  return absl::OkStatus();
}

// Adds an extension given in OpenSSL's configuration syntax. Only ever called with constant or
// validated strings (never with SAN values, which are built structurally).
absl::Status AddConfExtension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OsslError(absl::StrCat("certificate: extension ", OBJ_nid2sn(nid)));
  }
  return absl::OkStatus();
}

absl::Status AddGeneralName(GENERAL_NAMES* names, int type, const std::string& value) {
  GeneralNamePtr name(GENERAL_NAME_new());
  OsslPtr<ASN1_IA5STRING, ASN1_IA5STRING_free> str(ASN1_IA5STRING_new());
  if (name == nullptr || str == nullptr ||
      ASN1_STRING_set(str.get(), value.data(), static_cast<int>(value.size())) != 1) {
    return OsslError("certificate: san");
  }
  GENERAL_NAME_set0_value(name.get(), type, str.release());
  if (sk_GENERAL_NAME_push(names, name.get()) == 0) {
    return OsslError("certificate: san");
  }
  name.release();  // Now owned by names.
  return absl::OkStatus();
}

absl::Status AddSan(X509* cert, const CertificateTemplate& tmpl, bool critical) {
  if (tmpl.uri_sans.empty() && tmpl.dns_sans.empty()) {
    return absl::OkStatus();
  }
  GeneralNamesPtr names(GENERAL_NAMES_new());
  for (const auto& uri : tmpl.uri_sans) {
    SIGNET_RETURN_IF_ERROR(AddGeneralName(names.get(), GEN_URI, uri));
  }
  for (const auto& dns : tmpl.dns_sans) {
    SIGNET_RETURN_IF_ERROR(AddGeneralName(names.get(), GEN_DNS, dns));
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), critical ? 1 : 0,
                        X509V3_ADD_DEFAULT) != 1) {
    return OsslError("certificate: add san");
  }
  return absl::OkStatus();
}

std::string KeyUsageConf(uint32_t bits) {
  std::vector<std::string> parts = {"critical"};
  if (bits & kKeyUsageDigitalSignature) parts.push_back("digitalSignature");
  if (bits & kKeyUsageKeyEncipherment) parts.push_back("keyEncipherment");
  if (bits & kKeyUsageKeyAgreement) parts.push_back("keyAgreement");
  if (bits & kKeyUsageKeyCertSign) parts.push_back("keyCertSign");
  if (bits & kKeyUsageCrlSign) parts.push_back("cRLSign");
  return absl::StrJoin(parts, ",");
}

absl::Status AddExtensions(X509* cert, X509* issuer, const CertificateTemplate& tmpl,
                           bool subject_empty) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::string bc = tmpl.is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE";
  if (tmpl.is_ca && tmpl.path_len.has_value()) {
    absl::StrAppend(&bc, ",pathlen:", *tmpl.path_len);
  }
  SIGNET_RETURN_IF_ERROR(AddConfExtension(cert, &ctx, NID_basic_constraints, bc));
  if (tmpl.key_usage != 0) {
    SIGNET_RETURN_IF_ERROR(
        AddConfExtension(cert, &ctx, NID_key_usage, KeyUsageConf(tmpl.key_usage)));
  }
  if (tmpl.server_auth || tmpl.client_auth) {
    std::vector<std::string> eku;
    if (tmpl.server_auth) eku.push_back("serverAuth");
    if (tmpl.client_auth) eku.push_back("clientAuth");
    SIGNET_RETURN_IF_ERROR(
        AddConfExtension(cert, &ctx, NID_ext_key_usage, absl::StrJoin(eku, ",")));
  }
  SIGNET_RETURN_IF_ERROR(AddConfExtension(cert, &ctx, NID_subject_key_identifier, "hash"));
  SIGNET_RETURN_IF_ERROR(
      AddConfExtension(cert, &ctx, NID_authority_key_identifier, "keyid:always"));
  return AddSan(cert, tmpl, tmpl.san_critical || subject_empty);
}

const EVP_MD* DigestFor(const PrivateKey& key) {
  if (key.info().algorithm == KeyAlgorithm::kEc) {
    if (key.info().curve == "P-384") return EVP_sha384();
    if (key.info().curve == "P-521") return EVP_sha512();
  }
  return EVP_sha256();
}

}  // namespace

absl::StatusOr<Certificate> IssueCertificate(const CertificateTemplate& tmpl,
                                             const PublicKey& subject_key,
                                             const Certificate* issuer,
                                             const PrivateKey& issuer_key) {
  if (tmpl.not_after <= tmpl.not_before) {
    return absl::InvalidArgumentError("certificate: not_after must be after not_before");
  }
  if (issuer == nullptr && !issuer_key.public_key().Equals(subject_key)) {
    return absl::InvalidArgumentError("certificate: self-signed but signed with another key");
  }
  SIGNET_ASSIGN_OR_RETURN(X509NamePtr subject, BuildName(tmpl.subject));
  X509Ptr cert(X509_new());
  if (cert == nullptr || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_set_subject_name(cert.get(), subject.get()) != 1 ||
      X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer->get())
                                                         : subject.get()) != 1 ||
      !SetPublicKey(cert.get(), subject_key.get(), tmpl.is_ca)) {
    return OsslError("certificate: build");
  }
  SIGNET_RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  SIGNET_RETURN_IF_ERROR(SetTime(X509_getm_notBefore(cert.get()), tmpl.not_before));
  SIGNET_RETURN_IF_ERROR(SetTime(X509_getm_notAfter(cert.get()), tmpl.not_after));
  X509* issuer_x509 = issuer != nullptr ? issuer->get() : cert.get();
  SIGNET_RETURN_IF_ERROR(
      AddExtensions(cert.get(), issuer_x509, tmpl, X509_NAME_entry_count(subject.get()) == 0));
  if (X509_sign(cert.get(), issuer_key.get(), DigestFor(issuer_key)) <= 0) {
    return OsslError("certificate: sign");
  }
  return Certificate::FromX509(std::move(cert));
}

}  // namespace signet::crypto
