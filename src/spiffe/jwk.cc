#include "src/spiffe/jwk.h"

#include <openssl/core_names.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/base64.h"
#include "src/common/status_macros.h"
#include "src/common/strict_json.h"
#include "src/crypto/fast_ec.h"
#include "src/crypto/ossl.h"
#include "src/crypto/signature.h"

namespace signet::spiffe {
namespace {

using crypto::BignumPtr;
using crypto::EvpPkeyCtxPtr;
using crypto::EvpPkeyPtr;
using crypto::OsslError;
using crypto::OsslParamBldPtr;
using crypto::OsslParamPtr;

absl::StatusOr<std::string> DecodeMember(const nlohmann::json& jwk, const char* name) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat("jwk: \"", name, "\" missing or not a string"));
  }
  absl::StatusOr<std::string> bytes = Base64UrlDecode(it->get_ref<const std::string&>());
  if (!bytes.ok()) {
    return Annotate(bytes.status(), absl::StrCat("jwk: \"", name, "\""));
  }
  return bytes;
}

absl::StatusOr<EvpPkeyPtr> FromParams(const char* type, OSSL_PARAM_BLD* bld) {
  OsslParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (params == nullptr || ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return OsslError(absl::StrCat("jwk: invalid ", type, " key"),
                     absl::StatusCode::kInvalidArgument);
  }
  EvpPkeyPtr pkey(raw);
  EvpPkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (check == nullptr || EVP_PKEY_public_check(check.get()) != 1) {
    return OsslError(absl::StrCat("jwk: ", type, " public key fails validation"),
                     absl::StatusCode::kInvalidArgument);
  }
  return pkey;
}

absl::StatusOr<crypto::PublicKey> EcFromJwk(const nlohmann::json& jwk) {
  auto crv = jwk.find("crv");
  if (crv == jwk.end() || !crv->is_string()) {
    return absl::InvalidArgumentError("jwk: \"crv\" missing or not a string");
  }
  const std::string& curve = crv->get_ref<const std::string&>();
  size_t size = crypto::EcCoordinateSize(curve);
  if (size == 0) {
    return absl::InvalidArgumentError(absl::StrCat("jwk: unsupported curve \"", curve, "\""));
  }
  SIGNET_ASSIGN_OR_RETURN(std::string x, DecodeMember(jwk, "x"));
  SIGNET_ASSIGN_OR_RETURN(std::string y, DecodeMember(jwk, "y"));
  if (x.size() != size || y.size() != size) {
    return absl::InvalidArgumentError(
        absl::StrCat("jwk: \"x\" and \"y\" must be ", size, " bytes for ", curve));
  }
  std::string point = absl::StrCat("\x04", x, y);
  OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (bld == nullptr ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve.c_str(), 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return OsslError("jwk: build ec key");
  }
  SIGNET_ASSIGN_OR_RETURN(EvpPkeyPtr pkey, FromParams("EC", bld.get()));
  return crypto::PublicKey::FromEvp(std::move(pkey));
}

absl::StatusOr<crypto::PublicKey> RsaFromJwk(const nlohmann::json& jwk) {
  SIGNET_ASSIGN_OR_RETURN(std::string n, DecodeMember(jwk, "n"));
  SIGNET_ASSIGN_OR_RETURN(std::string e, DecodeMember(jwk, "e"));
  if (n.empty() || e.empty() || n[0] == '\0' || e[0] == '\0') {
    return absl::InvalidArgumentError("jwk: \"n\" and \"e\" must be minimal big-endian integers");
  }
  auto to_bn = [](const std::string& s) {
    return BignumPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(s.data()),
                               static_cast<int>(s.size()), nullptr));
  };
  BignumPtr bn_n = to_bn(n);
  BignumPtr bn_e = to_bn(e);
  OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (bn_n == nullptr || bn_e == nullptr || bld == nullptr ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return OsslError("jwk: build rsa key");
  }
  SIGNET_ASSIGN_OR_RETURN(EvpPkeyPtr pkey, FromParams("RSA", bld.get()));
  return crypto::PublicKey::FromEvp(std::move(pkey));
}

absl::StatusOr<std::string> BignumParam(EVP_PKEY* pkey, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1) {
    return OsslError(absl::StrCat("jwk: read rsa parameter ", name));
  }
  BignumPtr bn(raw);
  std::string out(static_cast<size_t>(BN_num_bytes(bn.get())), '\0');
  BN_bn2bin(bn.get(), reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

absl::StatusOr<nlohmann::json> RsaToJwk(const crypto::PublicKey& key) {
  SIGNET_ASSIGN_OR_RETURN(std::string n, BignumParam(key.get(), OSSL_PKEY_PARAM_RSA_N));
  SIGNET_ASSIGN_OR_RETURN(std::string e, BignumParam(key.get(), OSSL_PKEY_PARAM_RSA_E));
  nlohmann::json jwk = nlohmann::json::object();
  jwk["kty"] = "RSA";
  jwk["n"] = Base64UrlEncode(n);
  jwk["e"] = Base64UrlEncode(e);
  return jwk;
}

absl::StatusOr<nlohmann::json> EcToJwk(const crypto::PublicKey& key) {
  size_t size = crypto::EcCoordinateSize(key.info().curve);
  // Uncompressed (0x04 || x || y) whatever the key's own point format.
  std::optional<std::string> read = crypto::UncompressedEcPoint(key.get());
  if (!read.has_value()) {
    return absl::InternalError("jwk: read ec public point");
  }
  const std::string& point = *read;
  if (point.size() != 1 + 2 * size) {
    return absl::InternalError("jwk: ec public point is not in uncompressed form");
  }
  nlohmann::json jwk = nlohmann::json::object();
  jwk["kty"] = "EC";
  jwk["crv"] = std::string(key.info().curve);
  jwk["x"] = Base64UrlEncode(point.substr(1, size));
  jwk["y"] = Base64UrlEncode(point.substr(1 + size, size));
  return jwk;
}

}  // namespace

absl::StatusOr<crypto::PublicKey> PublicKeyFromJwk(const nlohmann::json& jwk) {
  if (!jwk.is_object()) {
    return absl::InvalidArgumentError("jwk: not a json object");
  }
  auto kty = jwk.find("kty");
  if (kty == jwk.end() || !kty->is_string()) {
    return absl::InvalidArgumentError("jwk: \"kty\" missing or not a string");
  }
  const std::string& type = kty->get_ref<const std::string&>();
  if (type == "EC") {
    return EcFromJwk(jwk);
  }
  if (type == "RSA") {
    return RsaFromJwk(jwk);
  }
  return absl::UnimplementedError(absl::StrCat("jwk: unsupported kty \"", type, "\""));
}

absl::StatusOr<JwkSet> JwkSet::Parse(absl::string_view json) {
  constexpr size_t kMaxKeys = 256;
  constexpr size_t kMaxKeyIdLength = 256;
  absl::StatusOr<nlohmann::json> doc =
      ParseStrictJson(json, {.max_bytes = 1 << 20, .max_depth = 8});
  if (!doc.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("jwks: ", doc.status().message()));
  }
  auto keys = doc->is_object() ? doc->find("keys") : doc->end();
  if (!doc->is_object() || keys == doc->end() || !keys->is_array()) {
    return absl::InvalidArgumentError("jwks: not an object with a \"keys\" array");
  }
  if (keys->size() > kMaxKeys) {
    return absl::InvalidArgumentError(absl::StrCat("jwks: more than ", kMaxKeys, " keys"));
  }
  JwkSet set;
  for (size_t i = 0; i < keys->size(); ++i) {
    const nlohmann::json& jwk = (*keys)[i];
    auto bad = [i](absl::string_view message) {
      return absl::InvalidArgumentError(absl::StrCat("jwks: keys[", i, "]: ", message));
    };
    if (!jwk.is_object()) {
      return bad("not an object");
    }
    auto use = jwk.find("use");
    if (use != jwk.end() && (!use->is_string() || *use != "sig")) {
      continue;  // an encryption key
    }
    absl::StatusOr<crypto::PublicKey> key = PublicKeyFromJwk(jwk);
    if (absl::IsUnimplemented(key.status())) {
      continue;
    }
    if (!key.ok()) {
      return bad(key.status().message());
    }
    auto kid = jwk.find("kid");
    if (kid == jwk.end() || !kid->is_string() || kid->get_ref<const std::string&>().empty() ||
        kid->get_ref<const std::string&>().size() > kMaxKeyIdLength) {
      return bad("\"kid\" missing, empty or longer than 256 bytes");
    }
    JwkSetKey entry{.key_id = kid->get<std::string>(), .key = *std::move(key)};
    if (set.Find(entry.key_id) != nullptr) {
      return bad(absl::StrCat("kid \"", entry.key_id, "\" is used twice"));
    }
    auto alg = jwk.find("alg");
    if (alg != jwk.end()) {
      if (!alg->is_string()) {
        return bad("\"alg\" is not a string");
      }
      entry.algorithm = alg->get<std::string>();
    }
    set.keys_.push_back(std::move(entry));
  }
  if (set.keys_.empty()) {
    return absl::InvalidArgumentError("jwks: no EC or RSA signature key");
  }
  return set;
}

const JwkSetKey* JwkSet::Find(absl::string_view key_id) const {
  for (const JwkSetKey& key : keys_) {
    if (key.key_id == key_id) return &key;
  }
  return nullptr;
}

absl::StatusOr<nlohmann::json> PublicKeyToJwk(const crypto::PublicKey& key) {
  if (key.info().algorithm == crypto::KeyAlgorithm::kRsa) {
    return RsaToJwk(key);
  }
  return EcToJwk(key);
}

}  // namespace signet::spiffe
