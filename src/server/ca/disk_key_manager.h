// DiskKeyManager: one unencrypted PKCS#8 PEM file per key, "<dir>/<key_id>.pem", mode 0600, in a
// directory of mode 0700. Keys survive restarts. Each file is replaced atomically (written to a
// temporary file in the same directory, fsynced and renamed), so a crash leaves either the old or
// the new key, never a torn one.
//
// Files are validated when read back: a key file that is not a regular file, is accessible by
// group or others, or does not parse as a key is reported instead of being used.
//
// Thread-safe: file operations are atomic and no state is kept in memory.
#ifndef SIGNET_SERVER_CA_DISK_KEY_MANAGER_H_
#define SIGNET_SERVER_CA_DISK_KEY_MANAGER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/crypto/key.h"
#include "src/server/ca/key_manager.h"

namespace signet::server {

class DiskKeyManager final : public KeyManager {
 public:
  // Create opens `dir`, creating it with mode 0700 when it does not exist (its parent must).
  // FailedPrecondition when `dir` exists but is not a directory or is accessible by group or
  // others: private keys must not sit where other users can list or read them.
  static absl::StatusOr<std::unique_ptr<DiskKeyManager>> Create(const std::string& dir);

  // The path of the file holding `key_id` (which must be valid).
  std::string KeyPath(absl::string_view key_id) const;

  // KeyManager:
  // Get fails with FailedPrecondition when the file is accessible by group or others and with
  // DataLoss when it is not a regular file or does not hold a valid key.
  absl::StatusOr<crypto::PrivateKey> Generate(absl::string_view key_id,
                                              crypto::KeyType type) override;
  absl::StatusOr<crypto::PrivateKey> Get(absl::string_view key_id) override;
  absl::Status Delete(absl::string_view key_id) override;

 private:
  explicit DiskKeyManager(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_CA_DISK_KEY_MANAGER_H_
