// Rules for what the datastore accepts and what it accepts back from the database.
//
// The Normalize* functions take caller input, put it in canonical form (sorted selectors,
// normalized SPIFFE IDs, times truncated to the stored whole seconds) and check it:
// InvalidArgument whose message starts with the field name ("spiffe_id: ..."). The Check*
// functions apply the same rules to a value read back; the store turns their errors into
// DataLoss naming the table, so the field names double as column names.
#ifndef SIGNET_SERVER_DATASTORE_VALIDATION_H_
#define SIGNET_SERVER_DATASTORE_VALIDATION_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/server/datastore/datastore.h"

namespace signet::server::internal {

inline constexpr size_t kMaxIdLength = 64;
inline constexpr size_t kMaxDnsNameLength = 255;
inline constexpr size_t kMaxHintLength = 1024;
inline constexpr size_t kMaxShortTextLength = 255;
inline constexpr size_t kMaxAuditTextLength = 2048;
inline constexpr size_t kMinJoinTokenLength = 16;

// 1 to 64 characters of [A-Za-z0-9._-].
absl::Status CheckEntryId(absl::string_view id);
// 32 lowercase hex characters from the OpenSSL CSPRNG.
absl::StatusOr<std::string> NewEntryId(absl::Time now);

// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or values past U+10FFFF).
bool IsValidUtf8(absl::string_view text);

// `value` is valid UTF-8 without control characters, at most `max_length` bytes (and not empty
// unless `allow_empty`).
absl::Status CheckText(absl::string_view field, absl::string_view value, size_t max_length,
                       bool allow_empty);
// A valid SPIFFE ID; `path_required` rejects trust-domain IDs ("spiffe://example.org").
absl::Status CheckSpiffeId(absl::string_view field, absl::string_view id, bool path_required);
// A finite time, or InfinitePast ("unset") when `optional`.
absl::Status CheckTime(absl::string_view field, absl::Time t, bool optional);
// t rounded down to whole seconds (InfinitePast stays).
absl::Time ToStoredTime(absl::Time t);

absl::Status NormalizeEntry(RegistrationEntry& entry);
// Also requires the store-set fields (revision >= 1, created_at).
absl::Status CheckStoredEntry(const RegistrationEntry& entry);

absl::Status NormalizeNode(AttestedNode& node);
absl::Status CheckStoredNode(const AttestedNode& node);

absl::Status NormalizeCaKey(CaKeyRecord& record);

// Turns a rule violation found in a stored row into DataLoss "datastore: <table> <what>: ...".
absl::Status StoredRowError(const absl::Status& status, absl::string_view table,
                            absl::string_view what);

}  // namespace signet::server::internal

#endif  // SIGNET_SERVER_DATASTORE_VALIDATION_H_
