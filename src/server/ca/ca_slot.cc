#include "src/server/ca/ca_slot.h"

#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/common/base64.h"
#include "src/common/status_macros.h"

namespace signet::server {
namespace {

constexpr int kKeyIdRandomBytes = 24;

absl::Status JournalError(const CaKeyRecord& record, absl::string_view problem) {
  return absl::DataLossError(absl::StrCat("ca: journal key \"", record.key_id, "\" (",
                                          CaKeyKindName(record.kind), "): ", problem));
}

absl::Time WholeSeconds(absl::Time t) { return absl::FromUnixSeconds(absl::ToUnixSeconds(t)); }

std::string SubjectKeyIdHex(const crypto::Certificate& cert) {
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(cert.get());
  if (ski == nullptr) {
    return "";
  }
  return crypto::HexEncode(
      absl::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(ski)),
                        static_cast<size_t>(ASN1_STRING_length(ski))));
}

// Checks that `cert` is a self-signed CA certificate whose only URI SAN is the ID of `td`.
absl::Status CheckCaCertificate(const CaKeyRecord& record, const crypto::Certificate& cert,
                                const spiffe::TrustDomain& td) {
  if (cert.BasicConstraintsCa() != true) {
    return JournalError(record, "certificate is not a CA certificate");
  }
  if (!cert.SelfIssued()) {
    return JournalError(record, "certificate is not self-issued");
  }
  std::vector<std::string> uris = cert.UriSans();
  if (uris.size() != 1 || uris[0] != td.IdString()) {
    return JournalError(record,
                        absl::StrCat("certificate does not name the trust domain ", td.IdString()));
  }
  if (cert.NotBefore() != record.not_before || cert.NotAfter() != record.not_after) {
    return JournalError(record, "validity period differs from the certificate's");
  }
  return absl::OkStatus();
}

absl::Status LoadX509Material(const spiffe::TrustDomain& td, CaSlot& slot) {
  absl::StatusOr<crypto::Certificate> cert = crypto::Certificate::FromDer(slot.record.public_der);
  if (!cert.ok()) {
    return JournalError(slot.record, absl::StrCat("bad certificate: ", cert.status().message()));
  }
  SIGNET_RETURN_IF_ERROR(CheckCaCertificate(slot.record, *cert, td));
  slot.public_key = cert->public_key();
  slot.subject_key_id = SubjectKeyIdHex(*cert);
  if (slot.subject_key_id.empty()) {
    return JournalError(slot.record, "certificate has no subject key identifier");
  }
  slot.certificate = *std::move(cert);
  return absl::OkStatus();
}

absl::Status LoadJwtMaterial(CaSlot& slot) {
  absl::StatusOr<crypto::PublicKey> key = crypto::PublicKey::FromDer(slot.record.public_der);
  if (!key.ok()) {
    return JournalError(slot.record, absl::StrCat("bad public key: ", key.status().message()));
  }
  slot.public_key = *std::move(key);
  return absl::OkStatus();
}

// Sets the private key (and for JWT keys the signer) of a slot whose public half is loaded.
absl::Status AttachPrivateKey(const crypto::PrivateKey& key, CaSlot& slot) {
  slot.private_key = key;
  if (slot.record.kind == CaKeyKind::kJwt) {
    SIGNET_ASSIGN_OR_RETURN(spiffe::JwtSigner signer,
                            spiffe::JwtSigner::Create(key, slot.key_id()));
    slot.jwt_signer = std::make_shared<const spiffe::JwtSigner>(std::move(signer));
  }
  return absl::OkStatus();
}

// A new slot must be recordable: its encoding and (for X.509) its SKI exist.
absl::Status CheckEncoded(const CaSlot& slot) {
  if (slot.record.public_der.empty()) {
    return absl::InternalError("ca: cannot encode the new key's public part");
  }
  if (slot.record.kind == CaKeyKind::kX509 && slot.subject_key_id.empty()) {
    return absl::InternalError("ca: new ca certificate has no subject key identifier");
  }
  return absl::OkStatus();
}

absl::Status CheckRecordFields(const CaKeyRecord& record, CaKeyKind kind) {
  if (record.kind != kind) {
    return JournalError(record, absl::StrCat("listed as a ", CaKeyKindName(kind), " key"));
  }
  if (absl::Status id = ValidateKeyId(record.key_id); !id.ok()) {
    return JournalError(record, id.message());
  }
  if (record.state == CaSlotState::kRevoked) {
    return JournalError(record, "revoked keys are not kept in the journal");
  }
  if (record.not_before >= record.not_after) {
    return JournalError(record, "not_before is not before not_after");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> RandomKeyId() {
  unsigned char bytes[kKeyIdRandomBytes];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return absl::InternalError("ca: random number generator failed");
  }
  return Base64UrlEncode(absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

bool KeyMatchesType(const crypto::KeyInfo& info, crypto::KeyType type) {
  switch (type) {
    case crypto::KeyType::kEcP256:
      return info.algorithm == crypto::KeyAlgorithm::kEc && info.curve == "P-256";
    case crypto::KeyType::kEcP384:
      return info.algorithm == crypto::KeyAlgorithm::kEc && info.curve == "P-384";
    case crypto::KeyType::kRsa2048:
      return info.algorithm == crypto::KeyAlgorithm::kRsa && info.bits == 2048;
  }
  return false;
}

absl::StatusOr<CaSlot> NewX509Slot(const std::string& key_id, CaSlotState state,
                                   crypto::KeyType type, const crypto::PrivateKey& key,
                                   const spiffe::CaParams& params, absl::Time now) {
  SIGNET_ASSIGN_OR_RETURN(crypto::Certificate cert,
                          spiffe::IssueCaCertificate(params, key.public_key(), nullptr, key, now));
  CaSlot slot;
  slot.record = {.key_id = key_id,
                 .kind = CaKeyKind::kX509,
                 .state = state,
                 .key_type = std::string(crypto::KeyTypeName(type)),
                 .public_der = cert.ToDer(),
                 .not_before = cert.NotBefore(),
                 .not_after = cert.NotAfter()};
  slot.public_key = key.public_key();
  slot.subject_key_id = SubjectKeyIdHex(cert);
  slot.certificate = std::move(cert);
  SIGNET_RETURN_IF_ERROR(CheckEncoded(slot));
  SIGNET_RETURN_IF_ERROR(AttachPrivateKey(key, slot));
  return slot;
}

absl::StatusOr<CaSlot> NewJwtSlot(const std::string& key_id, CaSlotState state,
                                  crypto::KeyType type, const crypto::PrivateKey& key,
                                  absl::Duration ttl, absl::Time now) {
  // The journal keeps whole seconds; rounding here keeps a reloaded slot identical.
  absl::Time not_before = WholeSeconds(now);
  CaSlot slot;
  slot.record = {.key_id = key_id,
                 .kind = CaKeyKind::kJwt,
                 .state = state,
                 .key_type = std::string(crypto::KeyTypeName(type)),
                 .public_der = key.public_key().ToDer(),
                 .not_before = not_before,
                 .not_after = not_before + absl::Trunc(ttl, absl::Seconds(1))};
  slot.public_key = key.public_key();
  SIGNET_RETURN_IF_ERROR(CheckEncoded(slot));
  SIGNET_RETURN_IF_ERROR(AttachPrivateKey(key, slot));
  return slot;
}

absl::StatusOr<CaSlot> LoadSlot(const CaKeyRecord& record, CaKeyKind kind,
                                const spiffe::TrustDomain& td, KeyManager& keys) {
  SIGNET_RETURN_IF_ERROR(CheckRecordFields(record, kind));
  absl::StatusOr<crypto::KeyType> type = crypto::ParseKeyType(record.key_type);
  if (!type.ok()) {
    return JournalError(record, absl::StrCat("unknown key type \"", record.key_type, "\""));
  }
  CaSlot slot;
  slot.record = record;
  SIGNET_RETURN_IF_ERROR(kind == CaKeyKind::kX509 ? LoadX509Material(td, slot)
                                                  : LoadJwtMaterial(slot));
  if (!KeyMatchesType(slot.public_key->info(), *type)) {
    return JournalError(record, absl::StrCat("public key is not of type ", record.key_type));
  }
  absl::StatusOr<crypto::PrivateKey> key = keys.Get(record.key_id);
  if (absl::IsNotFound(key.status())) {
    return slot;  // Known to the bundle, but it can no longer sign.
  }
  if (!key.ok()) {
    return Annotate(key.status(), absl::StrCat("ca: load key \"", record.key_id, "\""));
  }
  if (!key->public_key().Equals(*slot.public_key)) {
    return JournalError(record, "the key manager's key does not match the journal's public key");
  }
  SIGNET_RETURN_IF_ERROR(AttachPrivateKey(*key, slot));
  return slot;
}

absl::Status AddAuthority(const CaSlot& slot, spiffe::Bundle& bundle) {
  if (slot.record.kind == CaKeyKind::kX509) {
    bundle.AddX509Authority(*slot.certificate);
    return absl::OkStatus();
  }
  return bundle.AddJwtAuthority({.key_id = slot.key_id(), .key = *slot.public_key});
}

bool BundleHasAuthority(const spiffe::Bundle& bundle, const CaSlot& slot) {
  if (slot.record.kind == CaKeyKind::kX509) {
    const auto& certs = bundle.x509_authorities();
    return std::find(certs.begin(), certs.end(), *slot.certificate) != certs.end();
  }
  const spiffe::JwtAuthority* authority = bundle.FindJwtAuthority(slot.key_id());
  return authority != nullptr && authority->key.Equals(*slot.public_key);
}

bool SameContent(const spiffe::Bundle& a, const spiffe::Bundle& b) {
  auto x509_set = [](const spiffe::Bundle& bundle) {
    std::set<std::string> out;
    for (const crypto::Certificate& cert : bundle.x509_authorities()) {
      out.insert(cert.ToDer());
    }
    return out;
  };
  auto jwt_set = [](const spiffe::Bundle& bundle) {
    std::set<std::pair<std::string, std::string>> out;
    for (const spiffe::JwtAuthority& authority : bundle.jwt_authorities()) {
      out.emplace(authority.key_id, authority.key.ToDer());
    }
    return out;
  };
  return a.refresh_hint_seconds() == b.refresh_hint_seconds() && x509_set(a) == x509_set(b) &&
         jwt_set(a) == jwt_set(b);
}

}  // namespace signet::server
