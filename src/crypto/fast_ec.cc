// EC_KEY and EVP_PKEY_assign_EC_KEY are deprecated in OpenSSL 3.0; they are what keeps the
// legacy ASN.1 methods (see fast_ec.h) and stay available throughout 3.x.
#define OPENSSL_SUPPRESS_DEPRECATED

#include "src/crypto/fast_ec.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include <cstdint>
#include <string>

namespace signet::crypto {
namespace {

using EcKeyPtr = OsslPtr<EC_KEY, EC_KEY_free>;

// DER OID contents (without tag and length).
constexpr absl::string_view kOidEcPublicKey("\x2a\x86\x48\xce\x3d\x02\x01", 7);
constexpr absl::string_view kOidP256("\x2a\x86\x48\xce\x3d\x03\x01\x07", 8);
constexpr absl::string_view kOidP384("\x2b\x81\x04\x00\x22", 5);
constexpr absl::string_view kOidEcdsaSha256("\x2a\x86\x48\xce\x3d\x04\x03\x02", 8);
constexpr absl::string_view kOidEcdsaSha384("\x2a\x86\x48\xce\x3d\x04\x03\x03", 8);

// The curve, built once: EC_GROUP_new_by_curve_name costs as much as a signature (it builds the
// Montgomery context), EC_KEY_set_group's copy of a built group very little.
const EC_GROUP* Group(int nid) {
  static const EC_GROUP* const kP256 = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  static const EC_GROUP* const kP384 = EC_GROUP_new_by_curve_name(NID_secp384r1);
  return nid == NID_X9_62_prime256v1 ? kP256 : nid == NID_secp384r1 ? kP384 : nullptr;
}

EvpPkeyPtr LegacyEcKey(int nid, absl::string_view point) {
  const EC_GROUP* group = Group(nid);
  EcKeyPtr ec(EC_KEY_new());
  if (group == nullptr || ec == nullptr || EC_KEY_set_group(ec.get(), group) != 1) {
    ClearOsslErrors();
    return nullptr;
  }
  // oct2key decodes the point and checks that it is on the curve.
  if (ec == nullptr ||
      EC_KEY_oct2key(ec.get(), reinterpret_cast<const unsigned char*>(point.data()), point.size(),
                     nullptr) != 1) {
    ClearOsslErrors();
    return nullptr;
  }
  EvpPkeyPtr pkey(EVP_PKEY_new());
  if (pkey == nullptr || EVP_PKEY_assign_EC_KEY(pkey.get(), ec.get()) != 1) {
    ClearOsslErrors();
    return nullptr;
  }
  ec.release();  // owned by pkey now
  return pkey;
}

// One DER element: its tag, its contents, and the whole element.
struct Tlv {
  uint8_t tag = 0;
  absl::string_view value;
  absl::string_view whole;
};

// Reads one element from the front of `in` (low tag numbers, definite minimal lengths < 64 KiB).
bool Read(absl::string_view& in, uint8_t tag, Tlv* out) {
  if (in.size() < 2 || static_cast<uint8_t>(in[0]) != tag) return false;
  const auto l0 = static_cast<uint8_t>(in[1]);
  size_t length = 0;
  size_t header = 2;
  if (l0 < 0x80) {
    length = l0;
  } else if (l0 == 0x81 && in.size() >= 3 && static_cast<uint8_t>(in[2]) >= 0x80) {
    length = static_cast<uint8_t>(in[2]);
    header = 3;
  } else if (l0 == 0x82 && in.size() >= 4 && static_cast<uint8_t>(in[2]) != 0) {
    length = static_cast<size_t>(static_cast<uint8_t>(in[2])) << 8 | static_cast<uint8_t>(in[3]);
    header = 4;
  } else {
    return false;
  }
  if (in.size() - header < length) return false;
  *out = {.tag = tag, .value = in.substr(header, length), .whole = in.substr(0, header + length)};
  in.remove_prefix(header + length);
  return true;
}

// The contents of a BIT STRING without unused bits.
bool BitString(absl::string_view value, absl::string_view* bits) {
  if (value.empty() || value[0] != '\0') return false;
  *bits = value.substr(1);
  return true;
}

}  // namespace

EvpPkeyPtr LegacyEcPublicCopy(const EVP_PKEY* key) {
  // A key without a provider is legacy already (ParseEcCsrFast makes those).
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
      EVP_PKEY_get0_provider(key) == nullptr) {
    return nullptr;
  }
  char group[32];
  size_t group_length = 0;
  unsigned char point[133];
  size_t point_length = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                     &group_length) != 1 ||
      EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point),
                                      &point_length) != 1) {
    ClearOsslErrors();
    return nullptr;
  }
  const absl::string_view name(group, group_length);
  const int nid = name == "prime256v1" || name == "P-256"  ? NID_X9_62_prime256v1
                  : name == "secp384r1" || name == "P-384" ? NID_secp384r1
                                                           : NID_undef;
  if (nid == NID_undef) return nullptr;
  return LegacyEcKey(nid, absl::string_view(reinterpret_cast<char*>(point), point_length));
}

std::optional<std::string> UncompressedEcPoint(const EVP_PKEY* key) {
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return std::nullopt;
  if (EVP_PKEY_get0_provider(key) != nullptr) {
    unsigned char point[133];
    size_t length = 0;
    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                        sizeof(point), &length) != 1) {
      ClearOsslErrors();
      return std::nullopt;
    }
    std::string out(reinterpret_cast<char*>(point), length);
    if (out.empty() || out[0] != '\x04') return std::nullopt;
    return out;
  }
  const EC_KEY* ec = EVP_PKEY_get0_EC_KEY(key);
  const EC_POINT* pub = ec == nullptr ? nullptr : EC_KEY_get0_public_key(ec);
  const EC_GROUP* group = ec == nullptr ? nullptr : EC_KEY_get0_group(ec);
  if (pub == nullptr || group == nullptr) return std::nullopt;
  unsigned char point[133];
  size_t length =
      EC_POINT_point2oct(group, pub, POINT_CONVERSION_UNCOMPRESSED, point, sizeof(point), nullptr);
  if (length == 0) {
    ClearOsslErrors();
    return std::nullopt;
  }
  return std::string(reinterpret_cast<char*>(point), length);
}

std::optional<PublicKey> ParseEcCsrFast(absl::string_view der) {
  Tlv request, info, signature_algorithm, signature;
  absl::string_view rest = der;
  if (!Read(rest, 0x30, &request) || !rest.empty()) return std::nullopt;
  rest = request.value;
  if (!Read(rest, 0x30, &info) || !Read(rest, 0x30, &signature_algorithm) ||
      !Read(rest, 0x03, &signature) || !rest.empty()) {
    return std::nullopt;
  }
  Tlv version, subject, spki, attributes;
  rest = info.value;
  if (!Read(rest, 0x02, &version) || version.value != absl::string_view("\0", 1) ||
      !Read(rest, 0x30, &subject) || !Read(rest, 0x30, &spki) || !Read(rest, 0xa0, &attributes) ||
      !rest.empty()) {
    return std::nullopt;
  }
  Tlv algorithm, key_bits, key_type, curve;
  rest = spki.value;
  if (!Read(rest, 0x30, &algorithm) || !Read(rest, 0x03, &key_bits) || !rest.empty()) {
    return std::nullopt;
  }
  rest = algorithm.value;
  if (!Read(rest, 0x06, &key_type) || key_type.value != kOidEcPublicKey ||
      !Read(rest, 0x06, &curve) || !rest.empty()) {
    return std::nullopt;
  }
  const bool p256 = curve.value == kOidP256;
  if (!p256 && curve.value != kOidP384) return std::nullopt;
  absl::string_view point;
  if (!BitString(key_bits.value, &point) || point.size() != (p256 ? 65u : 97u) ||
      point[0] != '\x04') {
    return std::nullopt;
  }
  Tlv digest_oid;
  rest = signature_algorithm.value;
  if (!Read(rest, 0x06, &digest_oid) || !rest.empty()) return std::nullopt;
  const EVP_MD* md = digest_oid.value == kOidEcdsaSha256   ? EVP_sha256()
                     : digest_oid.value == kOidEcdsaSha384 ? EVP_sha384()
                                                           : nullptr;
  absl::string_view sig;
  if (md == nullptr || !BitString(signature.value, &sig)) return std::nullopt;
  EvpPkeyPtr pkey = LegacyEcKey(p256 ? NID_X9_62_prime256v1 : NID_secp384r1, point);
  if (pkey == nullptr) return std::nullopt;
  // ECDSA on the legacy key directly: EVP_DigestVerify would first export it to a provider.
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  const EC_KEY* ec = EVP_PKEY_get0_EC_KEY(pkey.get());
  if (ec == nullptr ||
      EVP_Digest(info.whole.data(), info.whole.size(), digest, &digest_length, md, nullptr) != 1 ||
      ECDSA_verify(0, digest, static_cast<int>(digest_length),
                   reinterpret_cast<const unsigned char*>(sig.data()), static_cast<int>(sig.size()),
                   const_cast<EC_KEY*>(ec)) != 1) {
    ClearOsslErrors();
    return std::nullopt;
  }
  absl::StatusOr<PublicKey> key = PublicKey::FromEvp(std::move(pkey));
  if (!key.ok()) return std::nullopt;
  return *std::move(key);
}

}  // namespace signet::crypto
