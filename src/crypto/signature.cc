#include "src/crypto/signature.h"

#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "absl/status/status.h"

namespace signet::crypto {
namespace {

bool ConfigurePadding(EVP_PKEY_CTX* pctx, const SignatureScheme& scheme) {
  if (scheme.key_algorithm != KeyAlgorithm::kRsa) {
    return true;
  }
  if (scheme.padding == RsaPadding::kPkcs1) {
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
  }
  return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
}

}  // namespace

const EVP_MD* HashMd(Hash hash) {
  switch (hash) {
    case Hash::kSha256:
      return EVP_sha256();
    case Hash::kSha384:
      return EVP_sha384();
    case Hash::kSha512:
      return EVP_sha512();
  }
  return EVP_sha256();
}

absl::StatusOr<std::string> Sign(const PrivateKey& key, const SignatureScheme& scheme,
                                 absl::string_view message) {
  if (key.info().algorithm != scheme.key_algorithm) {
    return absl::InvalidArgumentError("sign: key type does not match the signature scheme");
  }
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // Owned by ctx.
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), &pctx, HashMd(scheme.hash), nullptr, key.get()) != 1 ||
      !ConfigurePadding(pctx, scheme)) {
    return OsslError("sign: init");
  }
  size_t len = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(message.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &len, data, message.size()) != 1) {
    return OsslError("sign: size");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, data,
                     message.size()) != 1) {
    return OsslError("sign");
  }
  sig.resize(len);
  return sig;
}

bool Verify(const PublicKey& key, const SignatureScheme& scheme, absl::string_view message,
            absl::string_view signature) {
  if (key.info().algorithm != scheme.key_algorithm) {
    return false;
  }
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // Owned by ctx.
  if (ctx == nullptr ||
      EVP_DigestVerifyInit(ctx.get(), &pctx, HashMd(scheme.hash), nullptr, key.get()) != 1 ||
      !ConfigurePadding(pctx, scheme)) {
    ClearOsslErrors();
    return false;
  }
  int rc = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                            signature.size(),
                            reinterpret_cast<const unsigned char*>(message.data()), message.size());
  if (rc != 1) {
    ClearOsslErrors();
  }
  return rc == 1;
}

size_t EcCoordinateSize(absl::string_view curve) {
  if (curve == "P-256") {
    return 32;
  }
  if (curve == "P-384") {
    return 48;
  }
  if (curve == "P-521") {
    return 66;
  }
  return 0;
}

absl::StatusOr<std::string> EcdsaDerToRaw(absl::string_view der, size_t coordinate_size) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));  // NOLINT
  if (sig == nullptr) {
    return OsslError("ecdsa: invalid der signature", absl::StatusCode::kInvalidArgument);
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(2 * coordinate_size, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, static_cast<int>(coordinate_size)) < 0 ||
      BN_bn2binpad(s, out + coordinate_size, static_cast<int>(coordinate_size)) < 0) {
    return absl::InvalidArgumentError("ecdsa: signature value too large for the curve");
  }
  return raw;
}

absl::StatusOr<std::string> EcdsaRawToDer(absl::string_view raw) {
  if (raw.empty() || raw.size() % 2 != 0) {
    return absl::InvalidArgumentError("ecdsa: raw signature has odd or zero length");
  }
  int half = static_cast<int>(raw.size() / 2);
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  BignumPtr r(BN_bin2bn(p, half, nullptr));
  BignumPtr s(BN_bin2bn(p + half, half, nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (r == nullptr || s == nullptr || sig == nullptr ||
      ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return OsslError("ecdsa: build signature");
  }
  r.release();  // Now owned by sig.
  s.release();
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) {
    return OsslError("ecdsa: encode signature");
  }
  return TakeOsslBytes(der, len);
}

std::string Sha256(absl::string_view data) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

}  // namespace signet::crypto
