// JwtSource: FetchJWTBundles watched by a StreamWatcher; tokens fetched with FetchJWTSVID, and
// validated locally against the watched bundles.
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "signet/workload.h"
#include "src/client/endpoint.h"
#include "src/client/parse.h"
#include "src/client/source_util.h"
#include "src/common/status_macros.h"
#include "src/spiffe/bundle.h"
#include "src/spiffe/jwt_svid.h"
#include "src/spiffe/spiffe_id.h"

namespace signet {
namespace {

using client::JwtBundles;
using client::ParseJwtBundles;

absl::StatusOr<JwtSvidClaims> Validate(const std::string& token, const std::string& audience,
                                       const spiffe::BundleSet& bundles, SystemTime now) {
  absl::StatusOr<spiffe::JwtSvid> jwt =
      spiffe::ValidateJwtSvid(token, bundles, {.audience = audience, .now = absl::FromChrono(now)});
  if (!jwt.ok()) return absl::UnauthenticatedError(jwt.status().message());
  return JwtSvidClaims{.spiffe_id = jwt->id.String(),
                       .audience = jwt->audience,
                       .expires_at = absl::ToChronoTime(jwt->expiry)};
}

class JwtSourceImpl final : public JwtSource {
 public:
  JwtSourceImpl(SourceOptions options, std::unique_ptr<SpiffeWorkloadAPI::Stub> stub)
      : options_(std::move(options)),
        stub_(std::move(stub)),
        stream_(
            options_,
            [this](grpc::ClientContext* ctx) {
              return stub_->FetchJWTBundles(ctx, JWTBundlesRequest());
            },
            client::ParseJwtBundlesResponse) {}

  absl::Status Start() { return stream_.Start("JWT bundle"); }

  absl::StatusOr<std::string> FetchToken(const std::string& audience,
                                         const std::string& spiffe_id) const override {
    grpc::ClientContext ctx;
    ctx.AddMetadata(client::kSecurityHeader, "true");
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    JWTSVIDRequest req;
    req.add_audience(audience);
    req.set_spiffe_id(spiffe_id);
    JWTSVIDResponse resp;
    const grpc::Status status = stub_->FetchJWTSVID(&ctx, req, &resp);
    if (!status.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          client::DescribeEnd(status));
    }
    if (resp.svids().empty()) return absl::NotFoundError("the Workload API sent no JWT-SVID");
    return resp.svids(0).svid();
  }

  absl::StatusOr<JwtSvidClaims> ValidateJwt(const std::string& token,
                                            const std::string& audience) const override {
    return stream_.With([&](const JwtBundles& current, const std::string&) {
      return Validate(token, audience, current.set, options_.now());
    });
  }

  std::map<std::string, std::string> Bundles() const override {
    return stream_.With([](const JwtBundles& current, const std::string&) { return current.jwks; });
  }
  int Subscribe(std::function<void(const std::map<std::string, std::string>&)> callback) override {
    return stream_.Subscribe(
        [callback = std::move(callback)](const JwtBundles& b) { callback(b.jwks); });
  }
  void Unsubscribe(int handle) override { stream_.Unsubscribe(handle); }
  uint64_t updates() const override { return stream_.updates(); }

 private:
  const SourceOptions options_;
  const std::unique_ptr<SpiffeWorkloadAPI::Stub> stub_;
  client::WatchedStream<JWTBundlesResponse, JwtBundles> stream_;  // last: stopped first
};

}  // namespace

absl::StatusOr<std::shared_ptr<JwtSource>> JwtSource::Create(SourceOptions options) {
  SIGNET_ASSIGN_OR_RETURN(std::unique_ptr<SpiffeWorkloadAPI::Stub> stub,
                          client::WorkloadStub(options.address));
  auto source = std::make_shared<JwtSourceImpl>(std::move(options), std::move(stub));
  SIGNET_RETURN_IF_ERROR(source->Start());
  return source;
}

absl::StatusOr<JwtSvidClaims> ValidateJwt(const std::string& token, const std::string& audience,
                                          const std::map<std::string, std::string>& jwks,
                                          SystemTime now) {
  SIGNET_ASSIGN_OR_RETURN(JwtBundles bundles, ParseJwtBundles(jwks));
  return Validate(token, audience, bundles.set, now);
}

}  // namespace signet
