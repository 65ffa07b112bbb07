// Which SPIFFE peers `signet proxy` lets through: exact IDs, whole trust domains, or ID prefixes
// at a path-segment boundary ("spiffe://example.org/ns/prod" admits .../ns/prod and
// .../ns/prod/web, not .../ns/production). Empty admits nobody (deny by default).
#ifndef SIGNET_PROXY_ALLOW_LIST_H_
#define SIGNET_PROXY_ALLOW_LIST_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "signet/tls.h"

namespace signet::proxy {

class AllowList {
 public:
  // Every item is checked: IDs and prefixes must be SPIFFE IDs (a prefix with a path),
  // trust domains valid names. InvalidArgument naming the bad item otherwise, or when all three
  // lists are empty.
  static absl::StatusOr<AllowList> Create(std::vector<std::string> ids,
                                          std::vector<std::string> trust_domains,
                                          std::vector<std::string> prefixes);

  // OK when `peer_id` matches a rule, PermissionDenied otherwise.
  absl::Status Check(const std::string& peer_id) const;
  Authorizer AsAuthorizer() const;
  std::string Describe() const;  // for the startup log line

 private:
  std::vector<std::string> ids_;
  std::vector<std::string> trust_domains_;
  std::vector<std::string> prefixes_;
};

}  // namespace signet::proxy

#endif  // SIGNET_PROXY_ALLOW_LIST_H_
