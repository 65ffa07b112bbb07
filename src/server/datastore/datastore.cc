#include "src/server/datastore/datastore.h"

#include <openssl/rand.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "src/common/clock.h"
#include "src/server/datastore/sql_datastore.h"

namespace signet::server {

absl::StatusOr<std::string> NewJoinTokenValue() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return absl::InternalError("join token: RNG failure");
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

absl::string_view CaKeyKindName(CaKeyKind kind) {
  switch (kind) {
    case CaKeyKind::kX509:
      return "x509";
    case CaKeyKind::kJwt:
      return "jwt";
  }
  return "unknown";
}

absl::string_view CaSlotStateName(CaSlotState s) {
  switch (s) {
    case CaSlotState::kPrepared:
      return "prepared";
    case CaSlotState::kActive:
      return "active";
    case CaSlotState::kOld:
      return "old";
    case CaSlotState::kTainted:
      return "tainted";
    case CaSlotState::kRevoked:
      return "revoked";
  }
  return "unknown";
}

absl::StatusOr<CaKeyKind> ParseCaKeyKind(absl::string_view name) {
  for (CaKeyKind kind : {CaKeyKind::kX509, CaKeyKind::kJwt}) {
    if (name == CaKeyKindName(kind)) {
      return kind;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown ca key kind \"", name.substr(0, 32), "\""));
}

absl::StatusOr<CaSlotState> ParseCaSlotState(absl::string_view name) {
  for (CaSlotState state : {CaSlotState::kPrepared, CaSlotState::kActive, CaSlotState::kOld,
                            CaSlotState::kTainted, CaSlotState::kRevoked}) {
    if (name == CaSlotStateName(state)) {
      return state;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown ca slot state \"", name.substr(0, 32), "\""));
}

absl::StatusOr<std::unique_ptr<DataStore>> OpenDataStore(const DataStoreOptions& options) {
  return OpenSqlDataStore(options, RealClock());
}

}  // namespace signet::server
