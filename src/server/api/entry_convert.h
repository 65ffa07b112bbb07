// Admin API entries: conversion between the wire form and the datastore's, with every rule an
// entry must meet. Error messages name the field ("entry.selectors[2]: ...").
#ifndef SIGNET_SERVER_API_ENTRY_CONVERT_H_
#define SIGNET_SERVER_API_ENTRY_CONVERT_H_

#include <string>

#include "absl/status/statusor.h"
#include "signet/admin/v1/admin.pb.h"
#include "src/server/datastore/datastore.h"
#include "src/spiffe/spiffe_id.h"

namespace signet::server {

inline constexpr int kMaxSelectorsPerEntry = 64;
inline constexpr int kMaxDnsNamesPerEntry = 32;
inline constexpr int kMaxFederatesWith = 64;
inline constexpr size_t kMaxHintLength = 256;
inline constexpr int32_t kMinSvidTtlSeconds = 10;
inline constexpr int32_t kMaxX509SvidTtlSeconds = 30 * 24 * 3600;
inline constexpr int32_t kMaxJwtSvidTtlSeconds = 24 * 3600;

// The selector types an entry may use: the workload and node attestors Signet knows.
bool IsKnownSelectorType(absl::string_view type);

// Validates a wire entry for `td` and converts it. `require_id` for updates.
absl::StatusOr<RegistrationEntry> EntryFromProto(const admin::v1::Entry& in,
                                                 const spiffe::TrustDomain& td, bool require_id);
void EntryToProto(const RegistrationEntry& in, admin::v1::Entry* out);

// Validates a wire filter and converts it.
absl::StatusOr<EntryFilter> FilterFromProto(const admin::v1::EntryFilter& in);

// Unix seconds; 0 for an unset time (absl::InfinitePast()).
int64_t ToUnixOrZero(absl::Time t);
// Appends `in` to a wire selector list.
void SelectorsToProto(const std::vector<Selector>& in,
                      google::protobuf::RepeatedPtrField<admin::v1::Selector>* out);

// Checks a DNS name for an X.509 SAN: LDH labels of 1..63 bytes, at most 253 bytes, an optional
// leading "*." wildcard label.
absl::Status ValidateDnsName(absl::string_view name);

// Converts selectors, checking each and that its type is known; canonical on success.
absl::StatusOr<std::vector<Selector>> SelectorsFromProto(
    const google::protobuf::RepeatedPtrField<admin::v1::Selector>& in, absl::string_view field);

}  // namespace signet::server

#endif  // SIGNET_SERVER_API_ENTRY_CONVERT_H_
