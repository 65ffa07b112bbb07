#include "src/crypto/certificate.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "src/common/status_macros.h"
#include "src/crypto/signature.h"

namespace signet::crypto {
namespace {

constexpr size_t kMaxChainLength = 16;

std::vector<std::string> SansOfType(X509* x509, int type) {
  std::vector<std::string> out;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x509, NID_subject_alt_name, nullptr, nullptr)));
  if (names == nullptr) {
    return out;
  }
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != type) {
      continue;
    }
    const ASN1_IA5STRING* s = type == GEN_URI ? name->d.uniformResourceIdentifier : name->d.dNSName;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
  }
  return out;
}

bool ExtensionCritical(X509* x509, int nid) {
  int idx = X509_get_ext_by_NID(x509, nid, -1);
  if (idx < 0) {
    return false;
  }
  return X509_EXTENSION_get_critical(X509_get_ext(x509, idx)) == 1;
}

std::string NameToString(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  return BioContents(bio.get());
}

}  // namespace

std::string HexEncode(absl::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

absl::Time Asn1TimeToTime(const ASN1_TIME* t) {
  struct tm tm;
  std::memset(&tm, 0, sizeof(tm));
  if (ASN1_TIME_to_tm(t, &tm) != 1) {
    return absl::InfinitePast();
  }
  return absl::FromTimeT(timegm(&tm));
}

absl::StatusOr<Certificate> Certificate::FromX509(X509Ptr x509) {
  if (x509 == nullptr) {
    return absl::InvalidArgumentError("certificate: missing");
  }
  // Forces the extension cache so that later const reads never race on first use.
  X509_check_purpose(x509.get(), -1, 0);
  if ((X509_get_extension_flags(x509.get()) & EXFLAG_INVALID) != 0) {
    return absl::InvalidArgumentError("certificate: invalid or duplicate extension");
  }
  EvpPkeyPtr pkey(X509_get_pubkey(x509.get()));
  if (pkey == nullptr) {
    return OsslError("certificate: unreadable public key", absl::StatusCode::kInvalidArgument);
  }
  SIGNET_ASSIGN_OR_RETURN(PublicKey pub, PublicKey::FromEvp(std::move(pkey)));
  return Certificate(std::shared_ptr<X509>(x509.release(), X509_free), std::move(pub));
}

absl::StatusOr<Certificate> Certificate::FromDer(absl::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr x509(d2i_X509(nullptr, &p, static_cast<long>(der.size())));  // NOLINT
  if (x509 == nullptr) {
    return OsslError("certificate: invalid der", absl::StatusCode::kInvalidArgument);
  }
  if (p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return absl::InvalidArgumentError("certificate: trailing data after der");
  }
  return FromX509(std::move(x509));
}

std::string Certificate::ToDer() const {
  unsigned char* buf = nullptr;
  int len = i2d_X509(x509_.get(), &buf);
  return TakeOsslBytes(buf, len);
}

absl::StatusOr<std::string> Certificate::ToPem() const {
  return WriteToString("certificate: encode pem",
                       [&](BIO* bio) { return PEM_write_bio_X509(bio, x509_.get()); });
}

std::vector<std::string> Certificate::UriSans() const { return SansOfType(get(), GEN_URI); }
std::vector<std::string> Certificate::DnsSans() const { return SansOfType(get(), GEN_DNS); }
bool Certificate::SanCritical() const { return ExtensionCritical(get(), NID_subject_alt_name); }

bool Certificate::SubjectEmpty() const {
  return X509_NAME_entry_count(X509_get_subject_name(get())) == 0;
}

std::optional<bool> Certificate::BasicConstraintsCa() const {
  BasicConstraintsPtr bc(static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(get(), NID_basic_constraints, nullptr, nullptr)));
  if (bc == nullptr) {
    return std::nullopt;
  }
  return bc->ca != 0;
}

bool Certificate::BasicConstraintsCritical() const {
  return ExtensionCritical(get(), NID_basic_constraints);
}

std::optional<uint32_t> Certificate::KeyUsage() const {
  if ((X509_get_extension_flags(get()) & EXFLAG_KUSAGE) == 0) {
    return std::nullopt;
  }
  return X509_get_key_usage(get());
}

bool Certificate::KeyUsageCritical() const { return ExtensionCritical(get(), NID_key_usage); }

bool Certificate::HasExtendedKeyUsage() const {
  return (X509_get_extension_flags(get()) & EXFLAG_XKUSAGE) != 0;
}

bool Certificate::HasServerAuth() const {
  return HasExtendedKeyUsage() && (X509_get_extended_key_usage(get()) & XKU_SSL_SERVER) != 0;
}

bool Certificate::HasClientAuth() const {
  return HasExtendedKeyUsage() && (X509_get_extended_key_usage(get()) & XKU_SSL_CLIENT) != 0;
}

absl::Time Certificate::NotBefore() const { return Asn1TimeToTime(X509_get0_notBefore(get())); }
absl::Time Certificate::NotAfter() const { return Asn1TimeToTime(X509_get0_notAfter(get())); }

std::string Certificate::SerialHex() const {
  BignumPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(get()), nullptr));
  if (bn == nullptr) {
    return "";
  }
  OsslCharPtr hex(BN_bn2hex(bn.get()));
  std::string out = hex != nullptr ? hex.get() : "";
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

int Certificate::SerialBits() const {
  BignumPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(get()), nullptr));
  return bn == nullptr ? 0 : BN_num_bits(bn.get());
}

bool Certificate::SerialPositive() const {
  BignumPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(get()), nullptr));
  return bn != nullptr && !BN_is_negative(bn.get()) && !BN_is_zero(bn.get());
}

std::string Certificate::Subject() const { return NameToString(X509_get_subject_name(get())); }
std::string Certificate::Issuer() const { return NameToString(X509_get_issuer_name(get())); }

bool Certificate::SelfIssued() const { return (X509_get_extension_flags(get()) & EXFLAG_SI) != 0; }

std::string Certificate::Sha256Fingerprint() const { return HexEncode(Sha256(ToDer())); }

bool Certificate::operator==(const Certificate& other) const {
  return X509_cmp(get(), other.get()) == 0;
}

absl::StatusOr<std::vector<Certificate>> ParseDerChain(absl::string_view der) {
  std::vector<Certificate> out;
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const auto* end = p + der.size();
  while (p < end) {
    if (out.size() == kMaxChainLength) {
      return absl::InvalidArgumentError(
          absl::StrCat("certificate chain: more than ", kMaxChainLength, " certificates"));
    }
    X509Ptr x509(d2i_X509(nullptr, &p, static_cast<long>(end - p)));  // NOLINT
    if (x509 == nullptr) {
      return OsslError(absl::StrCat("certificate chain: certificate ", out.size(), ": invalid der"),
                       absl::StatusCode::kInvalidArgument);
    }
    SIGNET_ASSIGN_OR_RETURN(Certificate cert, Certificate::FromX509(std::move(x509)));
    out.push_back(std::move(cert));
  }
  if (out.empty()) {
    return absl::InvalidArgumentError("certificate chain: empty");
  }
  return out;
}

absl::StatusOr<std::vector<Certificate>> ParsePemChain(absl::string_view pem) {
  std::vector<Certificate> out;
  BioPtr bio = MemBio(pem);
  while (true) {
    char* name_raw = nullptr;
    char* header_raw = nullptr;
    unsigned char* data_raw = nullptr;
    long len = 0;  // NOLINT(runtime/int): OpenSSL's type
    if (PEM_read_bio(bio.get(), &name_raw, &header_raw, &data_raw, &len) != 1) {
      // "No start line" means no further block; anything else is a damaged block, which must
      // not be silently dropped from the chain.
      unsigned long err = ERR_peek_last_error();  // NOLINT(runtime/int): OpenSSL's type
      if (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE) {
        ClearOsslErrors();
        break;
      }
      return OsslError(absl::StrCat("pem: block ", out.size(), ": malformed"),
                       absl::StatusCode::kInvalidArgument);
    }
    OsslCharPtr name(name_raw);
    OsslCharPtr header(header_raw);
    OsslBytesPtr data(data_raw);
    if (std::strcmp(name.get(), "CERTIFICATE") != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("pem: unexpected block \"", name.get(), "\" (want CERTIFICATE)"));
    }
    if (out.size() == kMaxChainLength) {
      return absl::InvalidArgumentError(
          absl::StrCat("certificate chain: more than ", kMaxChainLength, " certificates"));
    }
    absl::string_view der(reinterpret_cast<const char*>(data.get()), static_cast<size_t>(len));
    absl::StatusOr<Certificate> cert = Certificate::FromDer(der);
    if (!cert.ok()) {
      return Annotate(cert.status(), absl::StrCat("pem certificate ", out.size()));
    }
    out.push_back(*std::move(cert));
  }
  if (out.empty()) {
    return absl::InvalidArgumentError("pem: no CERTIFICATE block found");
  }
  return out;
}

absl::StatusOr<std::vector<Certificate>> ParseChain(absl::string_view der_or_pem) {
  if (der_or_pem.find("-----BEGIN") != absl::string_view::npos) {
    return ParsePemChain(der_or_pem);
  }
  return ParseDerChain(der_or_pem);
}

std::string ChainToDer(const std::vector<Certificate>& chain) {
  std::string out;
  for (const auto& c : chain) {
    out += c.ToDer();
  }
  return out;
}

absl::StatusOr<std::string> ChainToPem(const std::vector<Certificate>& chain) {
  std::string out;
  for (const auto& c : chain) {
    SIGNET_ASSIGN_OR_RETURN(std::string pem, c.ToPem());
    out += pem;
  }
  return out;
}

}  // namespace signet::crypto
