// The key set of an OIDC issuer as the jwt node attestor sees it: fetched from a file or an
// https URL, cached, refreshed when older than the refresh interval, and fetched again early
// (at most once per `min_refetch_interval`) when a token names a key id the cached set lacks —
// the way an issuer's key rotation shows. A failed refresh keeps the last good set.
#ifndef SIGNET_SERVER_NODEATTESTOR_JWKS_CACHE_H_
#define SIGNET_SERVER_NODEATTESTOR_JWKS_CACHE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/common/clock.h"
#include "src/spiffe/jwk.h"

namespace signet::server {

// Reads the JWK Set text (a file read or an https GET).
using JwksFetcher = std::function<absl::StatusOr<std::string>()>;

struct JwksCacheOptions {
  std::string source;  // the path or URL, for messages
  absl::Duration refresh_interval = absl::Minutes(5);
  absl::Duration min_refetch_interval = absl::Seconds(30);
};

class JwksCache {
 public:
  JwksCache(JwksFetcher fetch, const Clock& clock, JwksCacheOptions options);

  // The key set to verify a token whose header names `key_id` with. Fetches when there is none
  // yet, when it is older than the refresh interval, or when it lacks `key_id` and the last fetch
  // is older than the minimum refetch interval — but never twice within that interval, even while
  // no set could be fetched. Unavailable (naming the source and the cause) only when no set was
  // ever fetched. Thread-safe; one fetch at a time.
  absl::StatusOr<std::shared_ptr<const spiffe::JwkSet>> For(absl::string_view key_id);

 private:
  // Fetches and parses; on success replaces the set. Returns the fetch's status.
  absl::Status Refresh() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  JwksFetcher fetch_;
  const Clock& clock_;
  const JwksCacheOptions options_;
  absl::Mutex mu_;
  std::shared_ptr<const spiffe::JwkSet> set_ ABSL_GUARDED_BY(mu_);
  absl::Time fetched_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();    // last good fetch
  absl::Time attempted_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();  // last try
  absl::Status last_error_ ABSL_GUARDED_BY(mu_) =
      absl::UnavailableError("jwt: the key set was not fetched yet");
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_NODEATTESTOR_JWKS_CACHE_H_
