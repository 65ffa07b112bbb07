#include "src/agent/workload/sds_service.h"

#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "envoy/secret.pb.h"
#include "src/common/logging.h"
#include "src/common/status_macros.h"
#include "src/crypto/certificate.h"
#include "src/crypto/key.h"

namespace signet::agent {
namespace {

namespace discovery = ::envoy::service::discovery::v3;
namespace tls = ::envoy::extensions::transport_sockets::tls::v3;

absl::StatusOr<std::string> BundlePem(const spiffe::Bundle& bundle) {
  return crypto::ChainToPem(bundle.x509_authorities());
}

absl::Status AddCertificate(const X509SvidRecord& svid, const std::string& name,
                            discovery::DiscoveryResponse* out) {
  SIGNET_ASSIGN_OR_RETURN(std::vector<crypto::Certificate> chain,
                          crypto::ParseDerChain(svid.ChainDer()));
  SIGNET_ASSIGN_OR_RETURN(std::string chain_pem, crypto::ChainToPem(chain));
  SIGNET_ASSIGN_OR_RETURN(crypto::PrivateKey key, crypto::PrivateKey::FromPkcs8Der(svid.key_der));
  SIGNET_ASSIGN_OR_RETURN(std::string key_pem, key.ToPkcs8Pem());
  tls::Secret secret;
  secret.set_name(name);
  secret.mutable_tls_certificate()->mutable_certificate_chain()->set_inline_bytes(chain_pem);
  secret.mutable_tls_certificate()->mutable_private_key()->set_inline_bytes(key_pem);
  out->add_resources()->PackFrom(secret);
  return absl::OkStatus();
}

absl::Status AddValidation(const spiffe::Bundle& bundle, const std::string& name,
                           discovery::DiscoveryResponse* out) {
  SIGNET_ASSIGN_OR_RETURN(std::string pem, BundlePem(bundle));
  tls::Secret secret;
  secret.set_name(name);
  secret.mutable_validation_context()->mutable_trusted_ca()->set_inline_bytes(pem);
  out->add_resources()->PackFrom(secret);
  return absl::OkStatus();
}

}  // namespace

absl::Status SdsService::Build(const std::vector<spiffe::Selector>& selectors,
                               const std::vector<std::string>& requested,
                               discovery::DiscoveryResponse* out) const {
  WorkloadView view = deps_.cache->For(selectors);
  if (!view.ready) return absl::UnavailableError("the agent is not ready yet; retry");
  if (view.entitled == 0) {
    return absl::PermissionDeniedError("no identity is registered for this workload");
  }
  out->set_type_url(kSecretTypeUrl);
  const std::string own = deps_.trust_domain.IdString();
  std::vector<std::string> names = requested;
  if (names.empty()) {
    for (const auto& svid : view.svids) names.push_back(svid->spiffe_id);
    names.push_back("ROOTCA");
  }
  for (const std::string& name : names) {
    if (name == "default") {
      if (!view.svids.empty()) SIGNET_RETURN_IF_ERROR(AddCertificate(*view.svids[0], name, out));
    } else if (name == "ROOTCA" || name == "ALL" || name == own) {
      // Federated bundles are not synced to agents yet: ALL is the own trust domain's.
      SIGNET_RETURN_IF_ERROR(AddValidation(*view.bundle, name, out));
    } else if (absl::StartsWith(name, "spiffe://")) {
      for (const auto& svid : view.svids) {
        if (svid->spiffe_id == name) {
          SIGNET_RETURN_IF_ERROR(AddCertificate(*svid, name, out));
          break;
        }
      }
    }
    // Anything else (another trust domain, an identity the caller lacks) is left out.
  }
  return absl::OkStatus();
}

// One StreamSecrets call. Requests (subscriptions, ACKs, NACKs) arrive on the event loop; the
// hub pokes it whenever the cache changes; either rebuilds and sends what changed.
namespace {

class SdsStream final : public Pokeable {
 public:
  SdsStream(const SdsService* service, std::shared_ptr<rpc::h2::Call> call)
      : service_(service), call_(std::move(call)) {}

  void Attested(SharedSelectors selectors) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    selectors_ = std::move(selectors);
  }
  void Request(const discovery::DiscoveryRequest& r) ABSL_LOCKS_EXCLUDED(mu_) {
    if (r.has_error_detail()) {
      LogWarn("sds: the client rejected secrets",
              {{"nonce", r.response_nonce()}, {"error", r.error_detail().message()}});
    }
    absl::MutexLock lock(&mu_);
    names_.assign(r.resource_names().begin(), r.resource_names().end());
    subscribed_ = true;
  }

  bool Poke() override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (call_->done()) return false;
    if (selectors_ == nullptr || !subscribed_) return true;
    discovery::DiscoveryResponse resp;
    absl::Status built = service_->Build(*selectors_, names_, &resp);
    if (absl::IsPermissionDenied(built)) {
      call_->Finish(built);
      return false;
    }
    std::string bytes = resp.SerializeAsString();
    if (!built.ok() || bytes == last_) return true;
    last_ = std::move(bytes);
    resp.set_version_info(std::to_string(++version_));
    resp.set_nonce(std::to_string(version_));
    return call_->Write(resp);
  }
  void End(const absl::Status& status) override { call_->Finish(status); }

 private:
  const SdsService* const service_;
  const std::shared_ptr<rpc::h2::Call> call_;
  absl::Mutex mu_;
  SharedSelectors selectors_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> names_ ABSL_GUARDED_BY(mu_);
  bool subscribed_ ABSL_GUARDED_BY(mu_) = false;
  std::string last_ ABSL_GUARDED_BY(mu_);
  int64_t version_ ABSL_GUARDED_BY(mu_) = 0;
};

class SdsStreamHandler final : public rpc::h2::Handler {
 public:
  SdsStreamHandler(const SdsService* service, WorkloadCallers& callers,
                   std::shared_ptr<rpc::h2::Call> call)
      : callers_(callers), call_(call), stream_(std::make_shared<SdsStream>(service, call)) {}

  void OnMessage(std::string bytes) override {
    discovery::DiscoveryRequest request;
    if (!request.ParseFromString(bytes)) {
      return call_->Finish(absl::InvalidArgumentError("malformed DiscoveryRequest"));
    }
    stream_->Request(request);
    if (started_) {
      stream_->Poke();  // a new subscription is answered at once
      return;
    }
    started_ = true;
    if (callers_.stopping())
      return call_->Finish(absl::UnavailableError("the agent is shutting down"));
    callers_.Attest(call_, [call = call_, stream = stream_, &callers = callers_](
                               absl::StatusOr<SharedSelectors> selectors, bool) {
      if (!selectors.ok()) return call->Finish(selectors.status());
      stream->Attested(*std::move(selectors));
      callers.hub().Add(stream);
    });
  }
  void OnHalfClose() override { call_->Finish(absl::OkStatus()); }

 private:
  WorkloadCallers& callers_;
  const std::shared_ptr<rpc::h2::Call> call_;
  const std::shared_ptr<SdsStream> stream_;
  bool started_ = false;
};

}  // namespace

void SdsService::Register(rpc::h2::Server* server) {
  server->Register(
      "/envoy.service.secret.v3.SecretDiscoveryService/StreamSecrets",
      [this](std::shared_ptr<rpc::h2::Call> call) -> std::unique_ptr<rpc::h2::Handler> {
        return std::make_unique<SdsStreamHandler>(this, callers_, std::move(call));
      });
  server->Register(
      "/envoy.service.secret.v3.SecretDiscoveryService/FetchSecrets",
      rpc::h2::SingleRequest([this](std::shared_ptr<rpc::h2::Call> call, std::string bytes) {
        discovery::DiscoveryRequest req;
        if (!req.ParseFromString(bytes)) {
          return call->Finish(absl::InvalidArgumentError("malformed DiscoveryRequest"));
        }
        callers_.Attest(call, [this, call, req = std::move(req)](
                                  absl::StatusOr<SharedSelectors> selectors, bool) {
          if (!selectors.ok()) return call->Finish(selectors.status());
          discovery::DiscoveryResponse resp;
          absl::Status built = Build(
              **selectors,
              std::vector<std::string>(req.resource_names().begin(), req.resource_names().end()),
              &resp);
          if (!built.ok()) return call->Finish(built);
          resp.set_version_info(std::to_string(deps_.cache->version()));
          call->Write(resp);
          call->Finish(absl::OkStatus());
        });
      }));
}

}  // namespace signet::agent
