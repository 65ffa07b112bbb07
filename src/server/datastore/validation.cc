#include "src/server/datastore/validation.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/spiffe/spiffe_id.h"

namespace signet::server::internal {
namespace {

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

template <typename T>
bool IsSortedUnique(const std::vector<T>& v) {
  return std::adjacent_find(v.begin(), v.end(), [](const T& a, const T& b) { return !(a < b); }) ==
         v.end();
}

absl::Status CheckTtl(absl::string_view field, int32_t ttl) {
  if (ttl < 0) {
    return Invalid(field, absl::StrCat("negative ttl ", ttl));
  }
  return absl::OkStatus();
}

absl::Status CheckSelectors(const std::vector<Selector>& selectors, bool allow_empty) {
  if (selectors.empty() && !allow_empty) {
    return Invalid("selectors", "at least one selector is required");
  }
  for (const Selector& s : selectors) {
    if (!IsValidUtf8(s.value())) {
      return Invalid("selectors",
                     absl::StrCat("value of a \"", s.type(), "\" selector is not UTF-8"));
    }
  }
  if (!IsSortedUnique(selectors)) {
    return Invalid("selectors", "not sorted and unique");
  }
  return absl::OkStatus();
}

// Rules shared by NormalizeEntry (after canonicalization) and CheckStoredEntry.
absl::Status CheckEntry(const RegistrationEntry& e) {
  SIGNET_RETURN_IF_ERROR(CheckEntryId(e.id));
  SIGNET_RETURN_IF_ERROR(CheckSpiffeId("spiffe_id", e.spiffe_id, /*path_required=*/true));
  SIGNET_RETURN_IF_ERROR(CheckSpiffeId("parent_id", e.parent_id, /*path_required=*/false));
  SIGNET_RETURN_IF_ERROR(CheckSelectors(e.selectors, /*allow_empty=*/false));
  SIGNET_RETURN_IF_ERROR(CheckTtl("x509_svid_ttl_seconds", e.x509_svid_ttl_seconds));
  SIGNET_RETURN_IF_ERROR(CheckTtl("jwt_svid_ttl_seconds", e.jwt_svid_ttl_seconds));
  for (size_t i = 0; i < e.dns_names.size(); ++i) {
    const std::string& name = e.dns_names[i];
    SIGNET_RETURN_IF_ERROR(CheckText(absl::StrCat("dns_names[", i, "]"), name, kMaxDnsNameLength,
                                     /*allow_empty=*/false));
    if (name.find(' ') != std::string::npos) {
      return Invalid(absl::StrCat("dns_names[", i, "]"), "contains a space");
    }
  }
  SIGNET_RETURN_IF_ERROR(CheckText("hint", e.hint, kMaxHintLength, /*allow_empty=*/true));
  for (size_t i = 0; i < e.federates_with.size(); ++i) {
    spiffe::IdError error = spiffe::ValidateTrustDomainName(e.federates_with[i]);
    if (error != spiffe::IdError::kNone) {
      return Invalid(absl::StrCat("federates_with[", i, "]"), spiffe::ErrorString(error));
    }
  }
  if (!IsSortedUnique(e.federates_with)) {
    return Invalid("federates_with", "not sorted and unique");
  }
  return CheckTime("expires_at", e.expires_at, /*optional=*/true);
}

}  // namespace

absl::Status CheckEntryId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength || !std::all_of(id.begin(), id.end(), IsIdChar)) {
    return Invalid("id", "must be 1 to 64 characters of [A-Za-z0-9._-]");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> NewEntryId(absl::Time now) {
  unsigned char bytes[16];
  // 48 bits of milliseconds since the epoch, big-endian, then 80 random bits (the layout of
  // UUIDv7): ids sort by creation time, so the id index is appended to instead of taking inserts
  // at random places, and two ids drawn in the same millisecond still collide with probability
  // 2^-80.
  const uint64_t millis = static_cast<uint64_t>(std::max<int64_t>(0, absl::ToUnixMillis(now)));
  for (int i = 0; i < 6; ++i) {
    bytes[i] = static_cast<unsigned char>(millis >> (8 * (5 - i)));
  }
  if (RAND_bytes(bytes + 6, sizeof(bytes) - 6) != 1) {
    return absl::InternalError("datastore: RAND_bytes failed");
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

bool IsValidUtf8(absl::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    // The lead byte gives the sequence length, the smallest code point that needs it (anything
    // below is an overlong form) and the code point's high bits.
    int extra = 0;
    uint32_t min = 0;
    uint32_t cp = 0;
    if ((c & 0xe0) == 0xc0) {
      extra = 1;
      min = 0x80;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      min = 0x800;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      min = 0x10000;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p <= extra) {
      return false;
    }
    for (int i = 1; i <= extra; ++i) {
      if ((p[i] & 0xc0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    p += extra + 1;
  }
  return true;
}

absl::Status CheckText(absl::string_view field, absl::string_view value, size_t max_length,
                       bool allow_empty) {
  if (value.empty() && !allow_empty) {
    return Invalid(field, "empty");
  }
  if (value.size() > max_length) {
    return Invalid(field, absl::StrCat("longer than ", max_length, " bytes"));
  }
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) {
      return Invalid(field, "contains a control character");
    }
  }
  if (!IsValidUtf8(value)) {
    return Invalid(field, "not valid UTF-8");
  }
  return absl::OkStatus();
}

absl::Status CheckSpiffeId(absl::string_view field, absl::string_view id, bool path_required) {
  spiffe::IdError error = spiffe::ValidateSpiffeId(id);
  if (error != spiffe::IdError::kNone) {
    return Invalid(field, absl::StrCat("\"", id.substr(0, 80), "\": ", spiffe::ErrorString(error)));
  }
  if (path_required && id.find('/', spiffe::kSpiffeScheme.size()) == absl::string_view::npos) {
    return Invalid(field, absl::StrCat("\"", id, "\" names a trust domain, not a workload"));
  }
  return absl::OkStatus();
}

absl::Status CheckTime(absl::string_view field, absl::Time t, bool optional) {
  if (t == absl::InfinitePast() && optional) {
    return absl::OkStatus();
  }
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) {
    return Invalid(field, optional ? "must be finite (InfinitePast means unset)" : "required");
  }
  return absl::OkStatus();
}

absl::Time ToStoredTime(absl::Time t) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) {
    return t;
  }
  return absl::FromUnixSeconds(absl::ToUnixSeconds(t));
}

absl::Status NormalizeEntry(RegistrationEntry& entry) {
  spiffe::CanonicalizeSelectors(entry.selectors);
  std::sort(entry.federates_with.begin(), entry.federates_with.end());
  entry.federates_with.erase(std::unique(entry.federates_with.begin(), entry.federates_with.end()),
                             entry.federates_with.end());
  entry.expires_at = ToStoredTime(entry.expires_at);
  return CheckEntry(entry);
}

absl::Status CheckStoredEntry(const RegistrationEntry& entry) {
  SIGNET_RETURN_IF_ERROR(CheckEntry(entry));
  if (entry.revision < 1) {
    return Invalid("revision", absl::StrCat("must be positive, found ", entry.revision));
  }
  return absl::OkStatus();
}

absl::Status NormalizeNode(AttestedNode& node) {
  spiffe::CanonicalizeSelectors(node.selectors);
  node.cert_not_after = ToStoredTime(node.cert_not_after);
  return CheckStoredNode(node);
}

absl::Status CheckStoredNode(const AttestedNode& node) {
  SIGNET_RETURN_IF_ERROR(CheckSpiffeId("spiffe_id", node.spiffe_id, /*path_required=*/true));
  SIGNET_RETURN_IF_ERROR(CheckText("attestation_type", node.attestation_type, kMaxShortTextLength,
                                   /*allow_empty=*/false));
  if (node.cert_serial.size() > 128 ||
      !std::all_of(node.cert_serial.begin(), node.cert_serial.end(), absl::ascii_isxdigit)) {
    return Invalid("cert_serial", "must be at most 128 hex digits");
  }
  SIGNET_RETURN_IF_ERROR(CheckTime("cert_not_after", node.cert_not_after, /*optional=*/true));
  return CheckSelectors(node.selectors, /*allow_empty=*/true);
}

absl::Status NormalizeCaKey(CaKeyRecord& record) {
  SIGNET_RETURN_IF_ERROR(
      CheckText("key_id", record.key_id, kMaxShortTextLength, /*allow_empty=*/false));
  if (record.key_type != "ec-p256" && record.key_type != "ec-p384" &&
      record.key_type != "rsa-2048") {
    return Invalid("key_type",
                   absl::StrCat("unknown key type \"", record.key_type.substr(0, 32), "\""));
  }
  if (record.public_der.empty()) {
    return Invalid("public_der", "empty");
  }
  record.not_before = ToStoredTime(record.not_before);
  record.not_after = ToStoredTime(record.not_after);
  SIGNET_RETURN_IF_ERROR(CheckTime("not_before", record.not_before, /*optional=*/true));
  SIGNET_RETURN_IF_ERROR(CheckTime("not_after", record.not_after, /*optional=*/true));
  if (record.not_before != absl::InfinitePast() && record.not_after != absl::InfinitePast() &&
      record.not_after <= record.not_before) {
    return Invalid("not_after", "not after not_before");
  }
  return absl::OkStatus();
}

absl::Status StoredRowError(const absl::Status& status, absl::string_view table,
                            absl::string_view what) {
  return absl::DataLossError(absl::StrCat("datastore: ", table, " ", what, ": ", status.message()));
}

}  // namespace signet::server::internal
