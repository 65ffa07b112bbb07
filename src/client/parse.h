// What libsignet-client makes of Workload API messages (input from the agent, so checked in
// full): an X509SVIDResponse as an X509Update, JWT bundles as parsed bundle sets.
#ifndef SIGNET_CLIENT_PARSE_H_
#define SIGNET_CLIENT_PARSE_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "signet/workload.h"
#include "src/spiffe/bundle.h"
#include "workload.pb.h"

namespace signet::client {

// Every SVID parses, its key matches its leaf and its ID is the one named; every bundle parses;
// a federated bundle never replaces the SVIDs' own trust domain's. InvalidArgument otherwise.
absl::StatusOr<X509Update> ParseX509Response(const X509SVIDResponse& resp);

struct JwtBundles {
  std::map<std::string, std::string> jwks;  // trust domain name -> JWK Set JSON
  spiffe::BundleSet set;
};
// Keys are trust domains (name or spiffe:// ID), values SPIFFE bundle (JWK Set) documents.
absl::StatusOr<JwtBundles> ParseJwtBundles(const std::map<std::string, std::string>& by_key);
absl::StatusOr<JwtBundles> ParseJwtBundlesResponse(const JWTBundlesResponse& resp);

}  // namespace signet::client

#endif  // SIGNET_CLIENT_PARSE_H_
