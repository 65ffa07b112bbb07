#include "src/spiffe/bundle.h"

#include <algorithm>
#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/common/base64.h"
#include "src/common/status_macros.h"
#include "src/common/strict_json.h"
#include "src/spiffe/jwk.h"

namespace signet::spiffe {
namespace {

constexpr absl::string_view kUseX509 = "x509-svid";
constexpr absl::string_view kUseJwt = "jwt-svid";
constexpr size_t kMaxBundleKeys = 1024;
constexpr size_t kMaxKeyIdLength = 256;

absl::Status KeyError(size_t index, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("bundle: keys[", index, "]: ", message));
}

// Whether `cert` may be an X.509 authority: a CA that may sign certificates. Chain verification
// accepts a path that ends at any authority (partial chains), so a leaf here would become a
// trust anchor.
bool IsSigningCa(const crypto::Certificate& cert) {
  std::optional<uint32_t> key_usage = cert.KeyUsage();
  return cert.BasicConstraintsCa() == true && key_usage.has_value() &&
         (*key_usage & crypto::kKeyUsageKeyCertSign) != 0;
}

// Whether nlohmann's serializer accepts `s`: well-formed UTF-8 (no overlong forms, surrogates or
// code points above U+10FFFF). The strict serializer reports anything else with an exception,
// which must not escape.
bool IsValidUtf8(const std::string& s) {
  try {
    (void)nlohmann::json(s).dump();
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
  return true;
}

absl::Status ParseX509Key(const nlohmann::json& key, size_t index, Bundle* bundle) {
  auto x5c = key.find("x5c");
  if (x5c == key.end()) {
    return absl::OkStatus();  // Ignored, as the standard says.
  }
  if (!x5c->is_array()) {
    return KeyError(index, "\"x5c\" is not an array");
  }
  if (x5c->empty()) {
    return absl::OkStatus();
  }
  const nlohmann::json& first = (*x5c)[0];
  if (!first.is_string()) {
    return KeyError(index, "\"x5c\"[0] is not a string");
  }
  absl::StatusOr<std::string> der = Base64Decode(first.get_ref<const std::string&>());
  if (!der.ok()) {
    return KeyError(index, absl::StrCat("\"x5c\"[0]: ", der.status().message()));
  }
  absl::StatusOr<crypto::Certificate> cert = crypto::Certificate::FromDer(*der);
  if (!cert.ok()) {
    return KeyError(index, absl::StrCat("\"x5c\"[0]: ", cert.status().message()));
  }
  if (!IsSigningCa(*cert)) {
    return KeyError(index, "\"x5c\"[0] is not a CA certificate with keyCertSign");
  }
  absl::StatusOr<crypto::PublicKey> jwk_key = PublicKeyFromJwk(key);
  if (!jwk_key.ok() || !jwk_key->Equals(cert->public_key())) {
    return KeyError(index, "key parameters do not match the \"x5c\" certificate");
  }
  bundle->AddX509Authority(*std::move(cert));
  return absl::OkStatus();
}

absl::Status ParseJwtKey(const nlohmann::json& key, size_t index, Bundle* bundle) {
  auto kid = key.find("kid");
  if (kid == key.end() || !kid->is_string() || kid->get_ref<const std::string&>().empty()) {
    return KeyError(index, "jwt-svid key without a \"kid\"");
  }
  const std::string& key_id = kid->get_ref<const std::string&>();
  if (key_id.size() > kMaxKeyIdLength) {
    return KeyError(index, "\"kid\" longer than 256 bytes");
  }
  absl::StatusOr<crypto::PublicKey> pub = PublicKeyFromJwk(key);
  if (!pub.ok()) {
    return KeyError(index, pub.status().message());
  }
  absl::Status added = bundle->AddJwtAuthority({key_id, *std::move(pub)});
  if (!added.ok()) {
    return KeyError(index, added.message());
  }
  return absl::OkStatus();
}

absl::Status ParseKey(const nlohmann::json& key, size_t index, Bundle* bundle) {
  if (!key.is_object()) {
    return KeyError(index, "not a json object");
  }
  auto kty = key.find("kty");
  if (kty == key.end() || !kty->is_string()) {
    return KeyError(index, "\"kty\" missing or not a string");
  }
  const std::string& type = kty->get_ref<const std::string&>();
  if (type != "EC" && type != "RSA") {
    return absl::OkStatus();  // Unknown key type: ignored.
  }
  auto use = key.find("use");
  if (use == key.end() || !use->is_string()) {
    return absl::OkStatus();  // Missing use: ignored.
  }
  const std::string& use_value = use->get_ref<const std::string&>();
  if (use_value == kUseX509) {
    return ParseX509Key(key, index, bundle);
  }
  if (use_value == kUseJwt) {
    return ParseJwtKey(key, index, bundle);
  }
  return absl::OkStatus();  // Unknown use (e.g. wit-svid, not supported yet): ignored.
}

absl::StatusOr<uint64_t> ReadUnsigned(const nlohmann::json& doc, const char* name) {
  const nlohmann::json& v = doc[name];
  if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bundle: \"", name, "\" must be a non-negative integer"));
  }
  return v.get<uint64_t>();
}

absl::StatusOr<Bundle> BundleFromJson(const nlohmann::json& doc) {
  if (!doc.is_object()) {
    return absl::InvalidArgumentError("bundle: not a json object");
  }
  auto keys = doc.find("keys");
  if (keys == doc.end() || !keys->is_array()) {
    return absl::InvalidArgumentError("bundle: \"keys\" missing or not an array");
  }
  if (keys->size() > kMaxBundleKeys) {
    return absl::InvalidArgumentError(absl::StrCat("bundle: more than ", kMaxBundleKeys, " keys"));
  }
  Bundle bundle;
  for (size_t i = 0; i < keys->size(); ++i) {
    SIGNET_RETURN_IF_ERROR(ParseKey((*keys)[i], i, &bundle));
  }
  if (doc.contains("spiffe_sequence")) {
    SIGNET_ASSIGN_OR_RETURN(uint64_t seq, ReadUnsigned(doc, "spiffe_sequence"));
    bundle.set_sequence(seq);
  }
  if (doc.contains("spiffe_refresh_hint")) {
    SIGNET_ASSIGN_OR_RETURN(uint64_t hint, ReadUnsigned(doc, "spiffe_refresh_hint"));
    // Bounded so that later time arithmetic (durations are signed 64-bit) cannot overflow.
    if (hint > static_cast<uint64_t>(INT64_MAX)) {
      return absl::InvalidArgumentError("bundle: \"spiffe_refresh_hint\" out of range");
    }
    bundle.set_refresh_hint_seconds(hint);
  }
  return bundle;
}

absl::StatusOr<nlohmann::json> BundleToJsonValue(const Bundle& bundle, BundleKeys which) {
  nlohmann::json keys = nlohmann::json::array();
  if (which != BundleKeys::kJwtOnly) {
    for (const auto& cert : bundle.x509_authorities()) {
      SIGNET_ASSIGN_OR_RETURN(nlohmann::json jwk, PublicKeyToJwk(cert.public_key()));
      jwk["use"] = kUseX509;
      jwk["x5c"] = nlohmann::json::array({Base64Encode(cert.ToDer())});
      keys.push_back(std::move(jwk));
    }
  }
  if (which != BundleKeys::kX509Only) {
    for (const auto& authority : bundle.jwt_authorities()) {
      SIGNET_ASSIGN_OR_RETURN(nlohmann::json jwk, PublicKeyToJwk(authority.key));
      jwk["use"] = kUseJwt;
      jwk["kid"] = authority.key_id;
      keys.push_back(std::move(jwk));
    }
  }
  nlohmann::json doc = nlohmann::json::object();
  doc["keys"] = std::move(keys);
  if (bundle.sequence().has_value()) {
    doc["spiffe_sequence"] = *bundle.sequence();
  }
  if (bundle.refresh_hint_seconds().has_value()) {
    doc["spiffe_refresh_hint"] = *bundle.refresh_hint_seconds();
  }
  return doc;
}

// Every string in a bundle document is valid UTF-8 (AddJwtAuthority checks key ids; the rest is
// base64 or a validated trust domain name), so the replacing error handler never acts: it only
// guarantees that serialization cannot throw.
std::string Dump(const nlohmann::json& doc) {
  return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

const JwtAuthority* Bundle::FindJwtAuthority(absl::string_view key_id) const {
  for (const auto& a : jwt_authorities_) {
    if (a.key_id == key_id) {
      return &a;
    }
  }
  return nullptr;
}

void Bundle::AddX509Authority(crypto::Certificate cert) {
  if (std::find(x509_authorities_.begin(), x509_authorities_.end(), cert) ==
      x509_authorities_.end()) {
    x509_authorities_.push_back(std::move(cert));
  }
}

absl::Status Bundle::AddJwtAuthority(JwtAuthority authority) {
  if (authority.key_id.empty()) {
    return absl::InvalidArgumentError("jwt authority: empty key id");
  }
  if (!IsValidUtf8(authority.key_id)) {
    return absl::InvalidArgumentError("jwt authority: key id is not valid UTF-8");
  }
  if (FindJwtAuthority(authority.key_id) != nullptr) {
    return absl::AlreadyExistsError(
        absl::StrCat("jwt authority: duplicate key id \"", authority.key_id, "\""));
  }
  jwt_authorities_.push_back(std::move(authority));
  return absl::OkStatus();
}

bool Bundle::RemoveX509Authority(const crypto::Certificate& cert) {
  auto it = std::find(x509_authorities_.begin(), x509_authorities_.end(), cert);
  if (it == x509_authorities_.end()) {
    return false;
  }
  x509_authorities_.erase(it);
  return true;
}

bool Bundle::RemoveJwtAuthority(absl::string_view key_id) {
  auto it = std::find_if(jwt_authorities_.begin(), jwt_authorities_.end(),
                         [&](const JwtAuthority& a) { return a.key_id == key_id; });
  if (it == jwt_authorities_.end()) {
    return false;
  }
  jwt_authorities_.erase(it);
  return true;
}

absl::StatusOr<Bundle> ParseSpiffeBundle(absl::string_view json) {
  absl::StatusOr<nlohmann::json> doc = ParseStrictJson(json);
  if (!doc.ok()) {
    return Annotate(doc.status(), "bundle");
  }
  return BundleFromJson(*doc);
}

absl::StatusOr<std::string> ToSpiffeBundleJson(const Bundle& bundle, BundleKeys keys) {
  SIGNET_ASSIGN_OR_RETURN(nlohmann::json doc, BundleToJsonValue(bundle, keys));
  return Dump(doc);
}

absl::StatusOr<Bundle> ParsePemBundle(absl::string_view pem) {
  absl::StatusOr<std::vector<crypto::Certificate>> certs = crypto::ParsePemChain(pem);
  if (!certs.ok()) {
    return Annotate(certs.status(), "bundle");
  }
  Bundle bundle;
  for (size_t i = 0; i < certs->size(); ++i) {
    if (!IsSigningCa((*certs)[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("bundle: pem certificate ", i, " is not a CA certificate with keyCertSign"));
    }
    bundle.AddX509Authority((*certs)[i]);
  }
  return bundle;
}

absl::StatusOr<std::string> X509AuthoritiesToPem(const Bundle& bundle) {
  return crypto::ChainToPem(bundle.x509_authorities());
}

absl::StatusOr<Bundle> ParseBundleAuto(absl::string_view text) {
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != absl::string_view::npos && text[first] == '{') {
    return ParseSpiffeBundle(text);
  }
  return ParsePemBundle(text);
}

void BundleSet::Put(const TrustDomain& td, Bundle bundle) {
  bundles_[td] = std::make_shared<const Bundle>(std::move(bundle));
}

bool BundleSet::Remove(const TrustDomain& td) { return bundles_.erase(td) > 0; }

std::shared_ptr<const Bundle> BundleSet::GetBundle(const TrustDomain& td) const {
  auto it = bundles_.find(td);
  return it == bundles_.end() ? nullptr : it->second;
}

absl::StatusOr<BundleSet> ParseBundleMap(absl::string_view json) {
  absl::StatusOr<nlohmann::json> doc = ParseStrictJson(json, {.max_bytes = 64 << 20});
  if (!doc.ok()) {
    return Annotate(doc.status(), "bundle map");
  }
  auto tds = doc->is_object() ? doc->find("trust_domains") : doc->end();
  if (!doc->is_object() || tds == doc->end() || !tds->is_object()) {
    return absl::InvalidArgumentError("bundle map: \"trust_domains\" missing or not an object");
  }
  BundleSet set;
  for (const auto& [name, value] : tds->items()) {
    absl::StatusOr<TrustDomain> td = TrustDomain::Parse(name);
    if (!td.ok()) {
      return Annotate(td.status(), absl::StrCat("bundle map: \"", name, "\""));
    }
    absl::StatusOr<Bundle> bundle = BundleFromJson(value);
    if (!bundle.ok()) {
      return Annotate(bundle.status(), absl::StrCat("bundle map: \"", name, "\""));
    }
    if (set.GetBundle(*td) != nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("bundle map: trust domain \"", td->name(), "\" appears twice"));
    }
    set.Put(*td, *std::move(bundle));
  }
  return set;
}

absl::StatusOr<std::string> ToBundleMapJson(const BundleSet& set) {
  nlohmann::json tds = nlohmann::json::object();
  for (const auto& [td, bundle] : set.bundles()) {
    absl::StatusOr<nlohmann::json> value = BundleToJsonValue(*bundle, BundleKeys::kAll);
    if (!value.ok()) {
      return Annotate(value.status(), absl::StrCat("bundle map: \"", td.name(), "\""));
    }
    tds[td.name()] = *std::move(value);
  }
  nlohmann::json doc = nlohmann::json::object();
  doc["trust_domains"] = std::move(tds);
  return Dump(doc);
}

}  // namespace signet::spiffe
