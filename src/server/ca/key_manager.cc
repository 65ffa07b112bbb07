#include "src/server/ca/key_manager.h"

#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"

namespace signet::server {
namespace {

bool IsKeyIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

}  // namespace

absl::Status ValidateKeyId(absl::string_view key_id) {
  if (key_id.empty() || key_id.size() > kMaxKeyIdLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("key id must be 1 to ", kMaxKeyIdLength, " characters"));
  }
  for (char c : key_id) {
    if (!IsKeyIdChar(c)) {
      return absl::InvalidArgumentError("key id may only contain a-z, A-Z, 0-9, '_' and '-'");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<crypto::PrivateKey> MemoryKeyManager::Generate(absl::string_view key_id,
                                                              crypto::KeyType type) {
  SIGNET_RETURN_IF_ERROR(Annotate(ValidateKeyId(key_id), "key manager"));
  SIGNET_ASSIGN_OR_RETURN(crypto::PrivateKey key, crypto::PrivateKey::Generate(type));
  absl::MutexLock lock(&mu_);
  keys_.insert_or_assign(std::string(key_id), key);
  return key;
}

absl::StatusOr<crypto::PrivateKey> MemoryKeyManager::Get(absl::string_view key_id) {
  SIGNET_RETURN_IF_ERROR(Annotate(ValidateKeyId(key_id), "key manager"));
  absl::MutexLock lock(&mu_);
  auto it = keys_.find(key_id);
  if (it == keys_.end()) {
    return absl::NotFoundError(absl::StrCat("key manager: no key \"", key_id, "\""));
  }
  return it->second;
}

absl::Status MemoryKeyManager::Delete(absl::string_view key_id) {
  SIGNET_RETURN_IF_ERROR(Annotate(ValidateKeyId(key_id), "key manager"));
  absl::MutexLock lock(&mu_);
  auto it = keys_.find(key_id);
  if (it == keys_.end()) {
    return absl::NotFoundError(absl::StrCat("key manager: no key \"", key_id, "\""));
  }
  keys_.erase(it);
  return absl::OkStatus();
}

}  // namespace signet::server
