#include "src/server/nodeattestor/jwks_cache.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/logging.h"

namespace signet::server {

JwksCache::JwksCache(JwksFetcher fetch, const Clock& clock, JwksCacheOptions options)
    : fetch_(std::move(fetch)), clock_(clock), options_(std::move(options)) {}

absl::Status JwksCache::Refresh() {
  attempted_at_ = clock_.Now();
  absl::StatusOr<std::string> text = fetch_();
  absl::StatusOr<spiffe::JwkSet> parsed = text.ok() ? spiffe::JwkSet::Parse(*text) : text.status();
  if (!parsed.ok()) {
    absl::Status status = absl::UnavailableError(absl::StrCat(
        "jwt: cannot load the key set from ", options_.source, ": ", parsed.status().message()));
    LogWarn(
        "jwt node attestor: key set refresh failed",
        {{"source", options_.source}, {"error", status}, {"keeping_previous", set_ != nullptr}});
    return status;
  }
  set_ = std::make_shared<const spiffe::JwkSet>(*std::move(parsed));
  fetched_at_ = attempted_at_;
  LogInfo("jwt node attestor: key set loaded",
          {{"source", options_.source}, {"keys", set_->keys().size()}});
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const spiffe::JwkSet>> JwksCache::For(absl::string_view key_id) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  // Tries are spaced even while nothing was ever fetched, so that a burst of attestations does
  // not become a burst of requests to an issuer that is down.
  const bool may_try = now - attempted_at_ >= options_.min_refetch_interval;
  const bool wanted = set_ == nullptr || now - fetched_at_ >= options_.refresh_interval ||
                      set_->Find(key_id) == nullptr;
  if (wanted && may_try) {
    last_error_ = Refresh();
  }
  if (set_ == nullptr) return last_error_;
  return set_;
}

}  // namespace signet::server
