#include "src/spiffe/jwt_svid.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/base64.h"
#include "src/common/status_macros.h"
#include "src/common/strict_json.h"

namespace signet::spiffe {
namespace {

using crypto::Hash;
using crypto::KeyAlgorithm;
using crypto::RsaPadding;

constexpr JwtAlgorithm kAllAlgorithms[] = {
    JwtAlgorithm::kES256, JwtAlgorithm::kES384, JwtAlgorithm::kES512,
    JwtAlgorithm::kRS256, JwtAlgorithm::kRS384, JwtAlgorithm::kRS512,
    JwtAlgorithm::kPS256, JwtAlgorithm::kPS384, JwtAlgorithm::kPS512};
constexpr size_t kMaxKeyIdLength = 256;
constexpr JsonLimits kHeaderLimits = {.max_bytes = 2048, .max_depth = 4};
constexpr JsonLimits kClaimsLimits = {.max_bytes = kMaxJwtLength, .max_depth = 16};
// NumericDate values beyond this are rejected rather than overflowing time arithmetic.
constexpr double kMaxNumericDate = 1e11;

absl::Status Malformed(absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("jwt: ", message));
}

absl::Status Invalid(absl::string_view message) {
  return absl::UnauthenticatedError(absl::StrCat("jwt: ", message));
}

// `s` as a JSON string literal. Fails with InvalidArgument, naming `what`, when `s` is not valid
// UTF-8: rewriting it would sign something other than what the caller asked for.
absl::StatusOr<std::string> JsonString(absl::string_view s, absl::string_view what) {
  try {
    return nlohmann::json(std::string(s)).dump();
  } catch (const nlohmann::json::type_error&) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not valid UTF-8"));
  }
}

bool IsEc(JwtAlgorithm alg) {
  return alg == JwtAlgorithm::kES256 || alg == JwtAlgorithm::kES384 || alg == JwtAlgorithm::kES512;
}

absl::StatusOr<nlohmann::json> DecodeJsonPart(absl::string_view part, const char* what,
                                              const JsonLimits& limits) {
  absl::StatusOr<std::string> bytes = Base64UrlDecode(part);
  if (!bytes.ok()) {
    return Malformed(absl::StrCat(what, ": ", bytes.status().message()));
  }
  absl::StatusOr<nlohmann::json> json = ParseStrictJson(*bytes, limits);
  if (!json.ok()) {
    return Malformed(absl::StrCat(what, ": ", json.status().message()));
  }
  if (!json->is_object()) {
    return Malformed(absl::StrCat(what, " is not a json object"));
  }
  return json;
}

struct Parts {
  absl::string_view header;
  absl::string_view payload;
  absl::string_view signature;
  absl::string_view signing_input;  // header "." payload
};

absl::StatusOr<Parts> SplitToken(absl::string_view token) {
  if (token.size() > kMaxJwtLength) {
    return Malformed(absl::StrCat("token longer than ", kMaxJwtLength, " bytes"));
  }
  size_t first = token.find('.');
  size_t second = first == absl::string_view::npos ? first : token.find('.', first + 1);
  if (second == absl::string_view::npos || token.find('.', second + 1) != absl::string_view::npos) {
    return Malformed("not a compact JWS (need exactly three dot-separated parts)");
  }
  Parts parts{token.substr(0, first), token.substr(first + 1, second - first - 1),
              token.substr(second + 1), token.substr(0, second)};
  if (parts.header.empty() || parts.payload.empty() || parts.signature.empty()) {
    return Malformed("empty header, payload or signature");
  }
  return parts;
}

// Base64url-decodes one part of the token and visits its members as a strict JSON object.
absl::StatusOr<std::string> VisitJsonPart(absl::string_view part, const char* what,
                                          const JsonLimits& limits, JsonMemberVisitor visit) {
  absl::StatusOr<std::string> bytes = Base64UrlDecode(part);
  if (!bytes.ok()) {
    return Malformed(absl::StrCat(what, ": ", bytes.status().message()));
  }
  absl::Status status = VisitStrictJsonObject(*bytes, limits, visit);
  if (!status.ok()) {
    return Malformed(absl::StrCat(what, ": ", status.message()));
  }
  return bytes;
}

// The header members validation looks at; the others (jwk, jku, x5u, ...) are ignored.
struct Header {
  nlohmann::json alg;
  nlohmann::json kid;
  nlohmann::json typ = nlohmann::json(nlohmann::json::value_t::discarded);  // Discarded: absent.
  bool has_crit = false;
};

absl::StatusOr<Header> DecodeHeader(absl::string_view part) {
  Header header;
  SIGNET_RETURN_IF_ERROR(VisitJsonPart(part, "header", kHeaderLimits,
                                       [&](absl::string_view name, nlohmann::json& value) {
                                         if (name == "alg") {
                                           header.alg = std::move(value);
                                         } else if (name == "kid") {
                                           header.kid = std::move(value);
                                         } else if (name == "typ") {
                                           header.typ = std::move(value);
                                         } else if (name == "crit") {
                                           header.has_crit = true;
                                         }
                                         return absl::OkStatus();
                                       })
                             .status());
  return header;
}

absl::StatusOr<JwtAlgorithm> CheckHeader(const Header& header, std::string* key_id) {
  if (!header.alg.is_string()) {
    return Malformed("header: \"alg\" missing or not a string");
  }
  absl::StatusOr<JwtAlgorithm> algorithm =
      ParseJwtAlgorithm(header.alg.get_ref<const std::string&>());
  if (!algorithm.ok()) {
    return Malformed(algorithm.status().message());
  }
  if (header.has_crit) {
    return Malformed("header: \"crit\" is not supported");
  }
  const nlohmann::json& typ = header.typ;
  if (!typ.is_discarded() && (!typ.is_string() || (typ != "JWT" && typ != "JOSE"))) {
    return Malformed("header: \"typ\" must be \"JWT\" or \"JOSE\"");
  }
  if (!header.kid.is_string() || header.kid.get_ref<const std::string&>().empty()) {
    return Malformed("header: \"kid\" missing or empty");
  }
  *key_id = header.kid.get_ref<const std::string&>();
  return algorithm;
}

// The registered claims validation checks, and the decoded claims text for JwtSvid::Claims.
// A member that is absent stays a discarded value, so that an explicit null is told apart.
struct Claims {
  nlohmann::json sub = nlohmann::json(nlohmann::json::value_t::discarded);
  nlohmann::json aud = nlohmann::json(nlohmann::json::value_t::discarded);
  nlohmann::json exp = nlohmann::json(nlohmann::json::value_t::discarded);
  nlohmann::json nbf = nlohmann::json(nlohmann::json::value_t::discarded);
  nlohmann::json iat = nlohmann::json(nlohmann::json::value_t::discarded);
  nlohmann::json iss = nlohmann::json(nlohmann::json::value_t::discarded);
  std::string text;
};

bool Present(const nlohmann::json& claim) { return !claim.is_discarded(); }

absl::StatusOr<Claims> DecodeClaims(absl::string_view part) {
  Claims claims;
  SIGNET_ASSIGN_OR_RETURN(claims.text,
                          VisitJsonPart(part, "claims", kClaimsLimits,
                                        [&](absl::string_view name, nlohmann::json& value) {
                                          nlohmann::json* slot = name == "sub"   ? &claims.sub
                                                                 : name == "aud" ? &claims.aud
                                                                 : name == "exp" ? &claims.exp
                                                                 : name == "nbf" ? &claims.nbf
                                                                 : name == "iat" ? &claims.iat
                                                                 : name == "iss" ? &claims.iss
                                                                                 : nullptr;
                                          if (slot != nullptr) {
                                            *slot = std::move(value);
                                          }
                                          return absl::OkStatus();
                                        }));
  return claims;
}

absl::StatusOr<absl::Time> NumericDate(const nlohmann::json& v, const char* name) {
  if (!v.is_number()) {
    return Malformed(absl::StrCat("claim \"", name, "\" is not a number"));
  }
  double seconds = v.get<double>();
  if (!std::isfinite(seconds) || std::fabs(seconds) > kMaxNumericDate) {
    return Malformed(absl::StrCat("claim \"", name, "\" out of range"));
  }
  return absl::FromUnixMicros(static_cast<int64_t>(seconds * 1e6));
}

absl::StatusOr<std::vector<std::string>> Audience(nlohmann::json& aud) {
  if (!Present(aud)) {
    return Malformed("claim \"aud\" missing");
  }
  std::vector<std::string> out;
  if (aud.is_string()) {
    out.push_back(std::move(aud.get_ref<std::string&>()));
  } else if (aud.is_array()) {
    out.reserve(aud.size());
    for (auto& v : aud) {
      if (!v.is_string()) {
        return Malformed("claim \"aud\" has a non-string member");
      }
      out.push_back(std::move(v.get_ref<std::string&>()));
    }
  } else {
    return Malformed("claim \"aud\" is neither a string nor an array");
  }
  if (out.empty()) {
    return Malformed("claim \"aud\" is empty");
  }
  return out;
}

absl::Status VerifySignature(const Parts& parts, JwtAlgorithm alg, const crypto::PublicKey& key) {
  absl::StatusOr<std::string> sig = Base64UrlDecode(parts.signature);
  if (!sig.ok()) {
    return Malformed(absl::StrCat("signature: ", sig.status().message()));
  }
  if (IsEc(alg)) {
    size_t size = crypto::EcCoordinateSize(key.info().curve);
    if (sig->size() != 2 * size) {
      return Invalid("signature has the wrong length for the algorithm");
    }
    absl::StatusOr<std::string> der = crypto::EcdsaRawToDer(*sig);
    if (!der.ok()) {
      return Invalid("signature is not a valid ecdsa value");
    }
    *sig = *std::move(der);
  }
  if (!crypto::Verify(key, JwtSignatureScheme(alg), parts.signing_input, *sig)) {
    return Invalid("signature verification failed");
  }
  return absl::OkStatus();
}

// Checks exp (required), nbf and iat against options.now with leeway; fills the two times.
struct TimeOptions {
  absl::Time now;
  absl::Duration leeway;
};

absl::Status CheckTimes(const Claims& claims, const TimeOptions& options, absl::Time* expiry,
                        std::optional<absl::Time>* issued_at) {
  if (!Present(claims.exp)) {
    return Malformed("claim \"exp\" missing");
  }
  SIGNET_ASSIGN_OR_RETURN(*expiry, NumericDate(claims.exp, "exp"));
  if (options.now > *expiry + options.leeway) {
    return Invalid("token has expired");
  }
  if (Present(claims.nbf)) {
    SIGNET_ASSIGN_OR_RETURN(absl::Time nbf, NumericDate(claims.nbf, "nbf"));
    if (options.now + options.leeway < nbf) {
      return Invalid("token is not valid yet (nbf)");
    }
  }
  if (Present(claims.iat)) {
    SIGNET_ASSIGN_OR_RETURN(absl::Time iat, NumericDate(claims.iat, "iat"));
    if (options.now + options.leeway < iat) {
      return Invalid("token was issued in the future (iat)");
    }
    *issued_at = iat;
  }
  return absl::OkStatus();
}

// Everything after the key is found: the key fits the algorithm, the signature, the issuer (when
// `issuer` is not empty), the times and the audience. The issuer is compared only once the
// signature holds, so that its message quotes signed data.
absl::StatusOr<VerifiedJwt> VerifyWithKey(const Parts& parts, JwtAlgorithm algorithm,
                                          std::string key_id, const crypto::PublicKey& key,
                                          Claims& claims, absl::string_view issuer,
                                          absl::string_view audience, const TimeOptions& times) {
  if (!KeyMatchesAlgorithm(key.info(), algorithm)) {
    return Invalid(absl::StrCat("alg ", JwtAlgorithmName(algorithm),
                                " does not match the type of key \"", key_id, "\""));
  }
  SIGNET_RETURN_IF_ERROR(VerifySignature(parts, algorithm, key));
  if (!issuer.empty() && !claims.iss.is_string()) {
    return Malformed("claim \"iss\" missing or not a string");
  }
  if (!issuer.empty() && claims.iss.get_ref<const std::string&>() != issuer) {
    return Invalid(absl::StrCat("issuer \"",
                                claims.iss.get_ref<const std::string&>().substr(0, 256),
                                "\" is not the configured \"", issuer, "\""));
  }
  VerifiedJwt out{.algorithm = algorithm, .key_id = std::move(key_id)};
  SIGNET_RETURN_IF_ERROR(CheckTimes(claims, times, &out.expiry, &out.issued_at));
  SIGNET_ASSIGN_OR_RETURN(out.audience, Audience(claims.aud));
  if (std::find(out.audience.begin(), out.audience.end(), audience) == out.audience.end()) {
    return Invalid(absl::StrCat("audience does not include \"", audience.substr(0, 128), "\""));
  }
  out.claims_json = std::move(claims.text);
  return out;
}

}  // namespace

absl::string_view JwtAlgorithmName(JwtAlgorithm alg) {
  switch (alg) {
    case JwtAlgorithm::kES256:
      return "ES256";
    case JwtAlgorithm::kES384:
      return "ES384";
    case JwtAlgorithm::kES512:
      return "ES512";
    case JwtAlgorithm::kRS256:
      return "RS256";
    case JwtAlgorithm::kRS384:
      return "RS384";
    case JwtAlgorithm::kRS512:
      return "RS512";
    case JwtAlgorithm::kPS256:
      return "PS256";
    case JwtAlgorithm::kPS384:
      return "PS384";
    case JwtAlgorithm::kPS512:
      return "PS512";
  }
  return "";
}

absl::StatusOr<JwtAlgorithm> ParseJwtAlgorithm(absl::string_view name) {
  for (JwtAlgorithm alg : kAllAlgorithms) {
    if (name == JwtAlgorithmName(alg)) {
      return alg;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("alg \"", name.substr(0, 32),
                   "\" is not allowed (only ES256/384/512, RS256/384/512 and PS256/384/512 are)"));
}

crypto::SignatureScheme JwtSignatureScheme(JwtAlgorithm alg) {
  switch (alg) {
    case JwtAlgorithm::kES256:
      return {KeyAlgorithm::kEc, Hash::kSha256};
    case JwtAlgorithm::kES384:
      return {KeyAlgorithm::kEc, Hash::kSha384};
    case JwtAlgorithm::kES512:
      return {KeyAlgorithm::kEc, Hash::kSha512};
    case JwtAlgorithm::kRS256:
      return {KeyAlgorithm::kRsa, Hash::kSha256, RsaPadding::kPkcs1};
    case JwtAlgorithm::kRS384:
      return {KeyAlgorithm::kRsa, Hash::kSha384, RsaPadding::kPkcs1};
    case JwtAlgorithm::kRS512:
      return {KeyAlgorithm::kRsa, Hash::kSha512, RsaPadding::kPkcs1};
    case JwtAlgorithm::kPS256:
      return {KeyAlgorithm::kRsa, Hash::kSha256, RsaPadding::kPss};
    case JwtAlgorithm::kPS384:
      return {KeyAlgorithm::kRsa, Hash::kSha384, RsaPadding::kPss};
    case JwtAlgorithm::kPS512:
      return {KeyAlgorithm::kRsa, Hash::kSha512, RsaPadding::kPss};
  }
  return {KeyAlgorithm::kEc, Hash::kSha256};
}

bool KeyMatchesAlgorithm(const crypto::KeyInfo& key, JwtAlgorithm alg) {
  switch (alg) {
    case JwtAlgorithm::kES256:
      return key.algorithm == KeyAlgorithm::kEc && key.curve == "P-256";
    case JwtAlgorithm::kES384:
      return key.algorithm == KeyAlgorithm::kEc && key.curve == "P-384";
    case JwtAlgorithm::kES512:
      return key.algorithm == KeyAlgorithm::kEc && key.curve == "P-521";
    default:
      return key.algorithm == KeyAlgorithm::kRsa;
  }
}

JwtSigner::JwtSigner(crypto::PrivateKey key, std::string key_id, JwtAlgorithm alg,
                     std::string header)
    : key_(std::move(key)),
      key_id_(std::move(key_id)),
      alg_(alg),
      encoded_header_(std::move(header)) {}

absl::StatusOr<JwtSigner> JwtSigner::Create(crypto::PrivateKey key, std::string key_id,
                                            std::optional<JwtAlgorithm> alg) {
  if (key_id.empty() || key_id.size() > kMaxKeyIdLength) {
    return absl::InvalidArgumentError("jwt signer: key id must be 1 to 256 bytes");
  }
  if (!alg.has_value()) {
    const crypto::KeyInfo& info = key.info();
    alg = info.algorithm == KeyAlgorithm::kRsa ? JwtAlgorithm::kRS256
          : info.curve == "P-384"              ? JwtAlgorithm::kES384
          : info.curve == "P-521"              ? JwtAlgorithm::kES512
                                               : JwtAlgorithm::kES256;
  }
  if (!KeyMatchesAlgorithm(key.info(), *alg)) {
    return absl::InvalidArgumentError(
        absl::StrCat("jwt signer: key does not fit ", JwtAlgorithmName(*alg)));
  }
  SIGNET_ASSIGN_OR_RETURN(std::string kid, JsonString(key_id, "jwt signer: key id"));
  std::string header =
      absl::StrCat("{\"alg\":\"", JwtAlgorithmName(*alg), "\",\"kid\":", kid, ",\"typ\":\"JWT\"}");
  std::string encoded = Base64UrlEncode(header);
  encoded.push_back('.');
  return JwtSigner(std::move(key), std::move(key_id), *alg, std::move(encoded));
}

absl::StatusOr<std::string> JwtSigner::Mint(const JwtSvidParams& params) const {
  if (params.subject.IsTrustDomainId()) {
    return absl::InvalidArgumentError("jwt svid: subject must have a path");
  }
  if (params.audience.empty()) {
    return absl::InvalidArgumentError("jwt svid: at least one audience is required");
  }
  if (params.ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("jwt svid: ttl must be positive");
  }
  for (const auto& aud : params.audience) {
    if (aud.empty()) {
      return absl::InvalidArgumentError("jwt svid: empty audience");
    }
  }
  SIGNET_ASSIGN_OR_RETURN(std::string sub,
                          JsonString(params.subject.String(), "jwt svid: subject"));
  std::string claims = absl::StrCat("{\"sub\":", sub, ",\"aud\":");
  if (params.audience.size() > 1) {
    claims.push_back('[');
  }
  for (size_t i = 0; i < params.audience.size(); ++i) {
    SIGNET_ASSIGN_OR_RETURN(std::string aud, JsonString(params.audience[i], "jwt svid: audience"));
    absl::StrAppend(&claims, i == 0 ? "" : ",", aud);
  }
  if (params.audience.size() > 1) {
    claims.push_back(']');
  }
  int64_t iat = absl::ToUnixSeconds(params.issued_at);
  absl::StrAppend(&claims, ",\"exp\":", absl::ToUnixSeconds(params.issued_at + params.ttl),
                  ",\"iat\":", iat);
  if (!params.issuer.empty()) {
    SIGNET_ASSIGN_OR_RETURN(std::string iss, JsonString(params.issuer, "jwt svid: issuer"));
    absl::StrAppend(&claims, ",\"iss\":", iss);
  }
  claims.push_back('}');

  std::string token = encoded_header_;
  token.reserve(token.size() + claims.size() * 4 / 3 + 200);
  Base64UrlEncodeAppend(claims, &token);
  SIGNET_ASSIGN_OR_RETURN(std::string sig, crypto::Sign(key_, JwtSignatureScheme(alg_), token));
  if (IsEc(alg_)) {
    SIGNET_ASSIGN_OR_RETURN(
        sig, crypto::EcdsaDerToRaw(sig, crypto::EcCoordinateSize(key_.info().curve)));
  }
  token.push_back('.');
  Base64UrlEncodeAppend(sig, &token);
  return token;
}

absl::StatusOr<JwtSvid> ValidateJwtSvid(absl::string_view token, const BundleSource& bundles,
                                        const JwtValidationOptions& options) {
  if (options.audience.empty()) {
    return absl::InvalidArgumentError("jwt: expected audience is required");
  }
  SIGNET_ASSIGN_OR_RETURN(Parts parts, SplitToken(token));
  SIGNET_ASSIGN_OR_RETURN(Header header, DecodeHeader(parts.header));
  std::string key_id;
  SIGNET_ASSIGN_OR_RETURN(JwtAlgorithm algorithm, CheckHeader(header, &key_id));
  SIGNET_ASSIGN_OR_RETURN(Claims claims, DecodeClaims(parts.payload));

  if (!claims.sub.is_string()) {
    return Malformed("claim \"sub\" missing or not a string");
  }
  absl::StatusOr<SpiffeId> id = SpiffeId::Parse(claims.sub.get_ref<const std::string&>());
  if (!id.ok()) {
    return Malformed(absl::StrCat("claim \"sub\": ", id.status().message()));
  }
  if (id->IsTrustDomainId()) {
    return Malformed("claim \"sub\" has no path");
  }
  std::shared_ptr<const Bundle> bundle = bundles.GetBundle(id->trust_domain());
  if (bundle == nullptr) {
    return Invalid(absl::StrCat("no bundle for trust domain ", id->trust_domain().name()));
  }
  const JwtAuthority* authority = bundle->FindJwtAuthority(key_id);
  if (authority == nullptr) {
    return Invalid(absl::StrCat("key id \"", key_id.substr(0, 64),
                                "\" is not a JWT authority of trust domain ",
                                id->trust_domain().name()));
  }
  SIGNET_ASSIGN_OR_RETURN(VerifiedJwt jwt,
                          VerifyWithKey(parts, algorithm, std::move(key_id), authority->key, claims,
                                        "", options.audience, {options.now, options.leeway}));
  return JwtSvid{.id = *std::move(id),
                 .audience = std::move(jwt.audience),
                 .expiry = jwt.expiry,
                 .issued_at = jwt.issued_at,
                 .algorithm = jwt.algorithm,
                 .key_id = std::move(jwt.key_id),
                 .claims_json = std::move(jwt.claims_json)};
}

absl::StatusOr<VerifiedJwt> VerifyJwt(absl::string_view token, const JwkSet& keys,
                                      const JwtVerifyOptions& options) {
  if (options.audience.empty() || options.issuer.empty()) {
    return absl::InvalidArgumentError("jwt: expected issuer and audience are required");
  }
  SIGNET_ASSIGN_OR_RETURN(Parts parts, SplitToken(token));
  SIGNET_ASSIGN_OR_RETURN(Header header, DecodeHeader(parts.header));
  std::string key_id;
  SIGNET_ASSIGN_OR_RETURN(JwtAlgorithm algorithm, CheckHeader(header, &key_id));
  SIGNET_ASSIGN_OR_RETURN(Claims claims, DecodeClaims(parts.payload));
  const JwkSetKey* key = keys.Find(key_id);
  if (key == nullptr) {
    return Invalid(
        absl::StrCat("key id \"", key_id.substr(0, 64), "\" is not in the issuer's key set"));
  }
  if (!key->algorithm.empty() && key->algorithm != JwtAlgorithmName(algorithm)) {
    return Invalid(absl::StrCat("alg ", JwtAlgorithmName(algorithm), " is not the \"",
                                key->algorithm.substr(0, 16), "\" that key \"", key_id,
                                "\" is published for"));
  }
  return VerifyWithKey(parts, algorithm, key_id, key->key, claims, options.issuer, options.audience,
                       {options.now, options.leeway});
}

nlohmann::json JwtSvid::Claims() const {
  absl::StatusOr<nlohmann::json> claims = ParseStrictJson(claims_json, kClaimsLimits);
  return claims.ok() ? *std::move(claims) : nlohmann::json();
}

absl::StatusOr<UnverifiedJwt> DecodeJwtUnverified(absl::string_view token) {
  SIGNET_ASSIGN_OR_RETURN(Parts parts, SplitToken(token));
  UnverifiedJwt out;
  SIGNET_ASSIGN_OR_RETURN(out.header, DecodeJsonPart(parts.header, "header", kHeaderLimits));
  SIGNET_ASSIGN_OR_RETURN(out.claims, DecodeJsonPart(parts.payload, "claims", kClaimsLimits));
  return out;
}

}  // namespace signet::spiffe
