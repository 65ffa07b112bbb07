#include "src/agent/workload/sds_service.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

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

grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

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

absl::StatusOr<std::vector<spiffe::Selector>> SdsService::Caller(const grpc::ServerContext& ctx) {
  std::optional<rpc::PeerCred> cred = deps_.peers->Lookup(ctx.peer());
  if (!cred.has_value()) {
    return absl::PermissionDeniedError("the caller's process could not be identified");
  }
  return attestation_.Attest(
      *deps_.attestors,
      WorkloadProcess{.pid = cred->pid, .uid = cred->uid, .gid = cred->gid, .pidfd = cred->pidfd});
}

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

grpc::Status SdsService::FetchSecrets(grpc::ServerContext* ctx,
                                      const discovery::DiscoveryRequest* req,
                                      discovery::DiscoveryResponse* resp) {
  absl::StatusOr<std::vector<spiffe::Selector>> selectors = Caller(*ctx);
  if (!selectors.ok()) return ToGrpc(selectors.status());
  absl::Status built = Build(
      *selectors,
      std::vector<std::string>(req->resource_names().begin(), req->resource_names().end()), resp);
  if (!built.ok()) return ToGrpc(built);
  resp->set_version_info(std::to_string(deps_.cache->version()));
  return grpc::Status::OK;
}

grpc::Status SdsService::StreamSecrets(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<discovery::DiscoveryResponse, discovery::DiscoveryRequest>* stream) {
  absl::StatusOr<std::vector<spiffe::Selector>> selectors = Caller(*ctx);
  if (!selectors.ok()) return ToGrpc(selectors.status());
  // Requests (subscriptions, ACKs, NACKs) are read on their own thread; this one answers them
  // and pushes what changes in the cache.
  std::mutex mu;
  std::condition_variable wake;
  std::deque<discovery::DiscoveryRequest> requests;
  bool reader_done = false;
  std::thread reader([&] {
    discovery::DiscoveryRequest r;
    while (stream->Read(&r)) {
      std::lock_guard<std::mutex> lock(mu);
      requests.push_back(r);
      wake.notify_all();
    }
    std::lock_guard<std::mutex> lock(mu);
    reader_done = true;
    wake.notify_all();
  });
  grpc::Status result = grpc::Status::OK;
  std::vector<std::string> names;
  bool subscribed = false;
  std::string last;
  int64_t version = 0;
  while (!ctx->IsCancelled()) {
    {
      std::unique_lock<std::mutex> lock(mu);
      while (!requests.empty()) {
        const discovery::DiscoveryRequest& r = requests.front();
        if (r.has_error_detail()) {
          LogWarn("sds: the client rejected secrets",
                  {{"nonce", r.response_nonce()}, {"error", r.error_detail().message()}});
        }
        names.assign(r.resource_names().begin(), r.resource_names().end());
        subscribed = true;
        requests.pop_front();
      }
      if (reader_done) break;
    }
    if (deps_.stopping != nullptr && deps_.stopping->load()) {
      result = grpc::Status(grpc::StatusCode::UNAVAILABLE, "the agent is shutting down");
      break;
    }
    if (subscribed) {
      discovery::DiscoveryResponse resp;
      absl::Status built = Build(*selectors, names, &resp);
      if (absl::IsPermissionDenied(built)) {
        result = ToGrpc(built);
        break;
      }
      std::string bytes;
      resp.SerializeToString(&bytes);
      if (built.ok() && bytes != last) {
        last = bytes;
        resp.set_version_info(std::to_string(++version));
        resp.set_nonce(std::to_string(version));
        if (!stream->Write(resp)) break;
      }
    }
    const uint64_t seen = deps_.cache->version();
    std::unique_lock<std::mutex> lock(mu);
    if (requests.empty() && !reader_done) {
      lock.unlock();
      deps_.cache->WaitForChange(seen, absl::Now() + absl::Milliseconds(200));
    }
  }
  ctx->TryCancel();
  reader.join();
  return result;
}

}  // namespace signet::agent
