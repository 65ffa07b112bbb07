// KeyManager: where the server's signing keys (CA and JWT keys) live. The CA manager names each
// key with an id and asks the key manager to generate, fetch or delete it; private key material
// never leaves the key manager except as a crypto::PrivateKey handed to the caller.
//
// Key ids match [a-zA-Z0-9_-]{1,64}, so that an id can be used as a file name and can never
// name anything outside the key manager's storage ("../x" is rejected with InvalidArgument).
//
// Thread-safe: every implementation may be called from any number of threads.
#ifndef SIGNET_SERVER_CA_KEY_MANAGER_H_
#define SIGNET_SERVER_CA_KEY_MANAGER_H_

#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "src/crypto/key.h"

namespace signet::server {

inline constexpr size_t kMaxKeyIdLength = 64;

// OkStatus when `key_id` matches [a-zA-Z0-9_-]{1,64}, else InvalidArgument naming the rule.
absl::Status ValidateKeyId(absl::string_view key_id);

class KeyManager {
 public:
  virtual ~KeyManager() = default;

  // Generate generates a fresh key of `type`, stores it under `key_id` (replacing any key with
  // that id) and returns it. InvalidArgument for a malformed id; other codes when storing fails,
  // in which case any previous key under `key_id` is unchanged.
  virtual absl::StatusOr<crypto::PrivateKey> Generate(absl::string_view key_id,
                                                      crypto::KeyType type) = 0;
  // Get returns the key stored under `key_id`. NotFound when there is none; DataLoss when the
  // stored key cannot be read back as a valid key.
  virtual absl::StatusOr<crypto::PrivateKey> Get(absl::string_view key_id) = 0;
  // Delete removes the key stored under `key_id`. NotFound when there is none.
  virtual absl::Status Delete(absl::string_view key_id) = 0;
};

// Keeps keys in process memory only: every key is lost when the process exits.
class MemoryKeyManager final : public KeyManager {
 public:
  // KeyManager:
  absl::StatusOr<crypto::PrivateKey> Generate(absl::string_view key_id,
                                              crypto::KeyType type) override;
  absl::StatusOr<crypto::PrivateKey> Get(absl::string_view key_id) override;
  absl::Status Delete(absl::string_view key_id) override;

 private:
  absl::Mutex mu_;
  std::map<std::string, crypto::PrivateKey, std::less<>> keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_CA_KEY_MANAGER_H_
