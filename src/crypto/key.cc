#include "src/crypto/key.h"

#include <openssl/core_names.h>
#include <openssl/pem.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"

namespace signet::crypto {
namespace {

constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 8192;

std::shared_ptr<EVP_PKEY> Share(EvpPkeyPtr pkey) {
  return std::shared_ptr<EVP_PKEY>(pkey.release(), EVP_PKEY_free);
}

std::string PubkeyDer(EVP_PKEY* pkey) {
  unsigned char* buf = nullptr;
  int len = i2d_PUBKEY(pkey, &buf);
  return TakeOsslBytes(buf, len);
}

}  // namespace

absl::string_view KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kEcP256:
      return "ec-p256";
    case KeyType::kEcP384:
      return "ec-p384";
    case KeyType::kRsa2048:
      return "rsa-2048";
  }
  return "unknown";
}

absl::StatusOr<KeyType> ParseKeyType(absl::string_view name) {
  for (KeyType t : {KeyType::kEcP256, KeyType::kEcP384, KeyType::kRsa2048}) {
    if (name == KeyTypeName(t)) {
      return t;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("key type \"", name, "\" is not one of ec-p256, ec-p384, rsa-2048"));
}

absl::StatusOr<KeyInfo> DescribeKey(EVP_PKEY* pkey) {
  if (pkey == nullptr) {
    return absl::InvalidArgumentError("key: missing");
  }
  int bits = EVP_PKEY_get_bits(pkey);
  switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_EC: {
      char group[64] = {0};
      size_t len = 0;
      if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                         &len) != 1) {
        return absl::InvalidArgumentError("key: ec key without a named curve");
      }
      absl::string_view name(group, len);
      if (name == "prime256v1" || name == "P-256") {
        return KeyInfo{KeyAlgorithm::kEc, "P-256", bits};
      }
      if (name == "secp384r1" || name == "P-384") {
        return KeyInfo{KeyAlgorithm::kEc, "P-384", bits};
      }
      if (name == "secp521r1" || name == "P-521") {
        return KeyInfo{KeyAlgorithm::kEc, "P-521", bits};
      }
      return absl::InvalidArgumentError(absl::StrCat("key: unsupported ec curve ", name));
    }
    case EVP_PKEY_RSA:
      if (bits < kMinRsaBits || bits > kMaxRsaBits) {
        return absl::InvalidArgumentError(
            absl::StrCat("key: rsa key of ", bits, " bits; need 2048 to 8192"));
      }
      return KeyInfo{KeyAlgorithm::kRsa, "", bits};
    default:
      return absl::InvalidArgumentError("key: unsupported key type (need ec or rsa)");
  }
}

absl::StatusOr<PublicKey> PublicKey::FromEvp(EvpPkeyPtr pkey) {
  SIGNET_ASSIGN_OR_RETURN(KeyInfo info, DescribeKey(pkey.get()));
  return PublicKey(Share(std::move(pkey)), info);
}

absl::StatusOr<PublicKey> PublicKey::FromDer(absl::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  EvpPkeyPtr pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));  // NOLINT
  if (pkey == nullptr) {
    return OsslError("public key: invalid der", absl::StatusCode::kInvalidArgument);
  }
  if (p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return absl::InvalidArgumentError("public key: trailing data after der");
  }
  return FromEvp(std::move(pkey));
}

absl::StatusOr<PublicKey> PublicKey::FromPem(absl::string_view pem) {
  BioPtr bio = MemBio(pem);
  EvpPkeyPtr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (pkey == nullptr) {
    return OsslError("public key: invalid pem", absl::StatusCode::kInvalidArgument);
  }
  return FromEvp(std::move(pkey));
}

std::string PublicKey::ToDer() const { return PubkeyDer(pkey_.get()); }

absl::StatusOr<std::string> PublicKey::ToPem() const {
  return WriteToString("public key: encode pem",
                       [&](BIO* bio) { return PEM_write_bio_PUBKEY(bio, pkey_.get()); });
}

bool PublicKey::Equals(const PublicKey& other) const {
  return EVP_PKEY_eq(pkey_.get(), other.pkey_.get()) == 1;
}

absl::StatusOr<PrivateKey> PrivateKey::FromEvp(EvpPkeyPtr pkey) {
  SIGNET_ASSIGN_OR_RETURN(KeyInfo info, DescribeKey(pkey.get()));
  // The public half shares the same EVP_PKEY: it only ever reads the public parameters.
  if (EVP_PKEY_up_ref(pkey.get()) != 1) {
    return OsslError("private key: reference key");
  }
  EvpPkeyPtr public_ref(pkey.get());
  PublicKey pub(Share(std::move(public_ref)), info);
  std::shared_ptr<EVP_PKEY> shared = Share(std::move(pkey));
  return PrivateKey(std::move(shared), std::move(pub));
}

absl::StatusOr<PrivateKey> PrivateKey::Generate(KeyType type) {
  EvpPkeyPtr pkey;
  switch (type) {
    case KeyType::kEcP256:
      pkey.reset(EVP_EC_gen("P-256"));
      break;
    case KeyType::kEcP384:
      pkey.reset(EVP_EC_gen("P-384"));
      break;
    case KeyType::kRsa2048:
      pkey.reset(EVP_RSA_gen(2048));
      break;
  }
  if (pkey == nullptr) {
    return OsslError(absl::StrCat("generate ", KeyTypeName(type), " key"));
  }
  return FromEvp(std::move(pkey));
}

absl::StatusOr<PrivateKey> PrivateKey::FromPkcs8Der(absl::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  EvpPkeyPtr pkey(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size())));  // NOLINT
  if (pkey == nullptr) {
    return OsslError("private key: invalid pkcs#8 der", absl::StatusCode::kInvalidArgument);
  }
  if (p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return absl::InvalidArgumentError("private key: trailing data after der");
  }
  return FromEvp(std::move(pkey));
}

absl::StatusOr<PrivateKey> PrivateKey::FromPem(absl::string_view pem) {
  BioPtr bio = MemBio(pem);
  // An empty passphrase callback result makes encrypted keys fail instead of prompting.
  auto no_passphrase = [](char*, int, int, void*) { return 0; };
  EvpPkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (pkey == nullptr) {
    return OsslError("private key: invalid or encrypted pem", absl::StatusCode::kInvalidArgument);
  }
  return FromEvp(std::move(pkey));
}

absl::StatusOr<std::string> PrivateKey::ToPkcs8Der() const {
  return WriteToString("private key: encode pkcs#8 der", [&](BIO* bio) {
    return i2d_PKCS8PrivateKey_bio(bio, pkey_.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
}

absl::StatusOr<std::string> PrivateKey::ToPkcs8Pem() const {
  return WriteToString("private key: encode pkcs#8 pem", [&](BIO* bio) {
    return PEM_write_bio_PKCS8PrivateKey(bio, pkey_.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
}

}  // namespace signet::crypto
