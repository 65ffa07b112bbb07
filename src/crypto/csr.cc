#include "src/crypto/csr.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/crypto/fast_ec.h"
#include "src/crypto/ossl.h"

namespace signet::crypto {
namespace {

using X509ReqPtr = OsslPtr<X509_REQ, X509_REQ_free>;

const EVP_MD* DigestFor(const KeyInfo& info) {
  if (info.algorithm == KeyAlgorithm::kEc && info.bits > 256) return EVP_sha384();
  return EVP_sha256();
}

}  // namespace

absl::StatusOr<std::string> BuildCsrDer(const PrivateKey& key) {
  X509ReqPtr req(X509_REQ_new());
  if (req == nullptr) return OsslError("csr: X509_REQ_new");
  if (X509_REQ_set_version(req.get(), 0) != 1 || X509_REQ_set_pubkey(req.get(), key.get()) != 1) {
    return OsslError("csr: setting the public key");
  }
  if (X509_REQ_sign(req.get(), key.get(), DigestFor(key.info())) <= 0) {
    return OsslError("csr: signing");
  }
  unsigned char* buf = nullptr;
  int len = i2d_X509_REQ(req.get(), &buf);
  if (len <= 0) return OsslError("csr: encoding");
  return TakeOsslBytes(buf, len);
}

absl::StatusOr<PublicKey> ParseCsrDer(absl::string_view der) {
  if (der.size() <= kMaxCsrDerSize) {
    if (std::optional<PublicKey> key = ParseEcCsrFast(der); key.has_value()) {
      return *std::move(key);
    }
  }
  return ParseCsrDerWithOpenSsl(der);  // which also names what is wrong with `der`
}

absl::StatusOr<PublicKey> ParseCsrDerWithOpenSsl(absl::string_view der) {
  if (der.empty()) return absl::InvalidArgumentError("csr: empty");
  if (der.size() > kMaxCsrDerSize) {
    return absl::InvalidArgumentError(absl::StrCat("csr: larger than ", kMaxCsrDerSize, " bytes"));
  }
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  X509ReqPtr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));  // NOLINT(runtime/int)
  if (req == nullptr) {
    return OsslError("csr: not a DER PKCS#10 request", absl::StatusCode::kInvalidArgument);
  }
  if (p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return absl::InvalidArgumentError("csr: trailing bytes after the request");
  }
  EvpPkeyPtr pkey(X509_REQ_get_pubkey(req.get()));
  if (pkey == nullptr) {
    return OsslError("csr: unreadable public key", absl::StatusCode::kInvalidArgument);
  }
  if (X509_REQ_verify(req.get(), pkey.get()) != 1) {
    ClearOsslErrors();
    return absl::InvalidArgumentError("csr: signature does not verify with its own public key");
  }
  auto key = PublicKey::FromEvp(std::move(pkey));
  if (!key.ok()) return Annotate(key.status(), "csr");
  return key;
}

}  // namespace signet::crypto
