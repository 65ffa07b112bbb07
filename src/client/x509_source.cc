// X509Source: FetchX509SVID watched by a StreamWatcher. Each message is checked in full (every
// SVID parses, its key matches its leaf, the bundles parse) before it replaces the last good one.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "signet/workload.h"
#include "src/client/endpoint.h"
#include "src/client/parse.h"
#include "src/client/source_util.h"
#include "src/common/status_macros.h"
#include "src/crypto/certificate.h"
#include "src/crypto/key.h"
#include "src/spiffe/spiffe_id.h"
#include "src/spiffe/x509_svid.h"

namespace signet {
namespace {

class X509SourceImpl final : public X509Source {
 public:
  X509SourceImpl(SourceOptions options, std::unique_ptr<SpiffeWorkloadAPI::Stub> stub)
      : options_(std::move(options)),
        stub_(std::move(stub)),
        stream_(
            options_,
            [this](grpc::ClientContext* ctx) {
              return stub_->FetchX509SVID(ctx, X509SVIDRequest());
            },
            client::ParseX509Response) {}

  absl::Status Start() { return stream_.Start("X509-SVID"); }

  absl::StatusOr<X509Svid> Svid(const std::string& spiffe_id) const override {
    return stream_.With([&](const X509Update& current,
                            const std::string& last_error) -> absl::StatusOr<X509Svid> {
      for (const X509Svid& s : current.svids) {
        if (!spiffe_id.empty() && s.spiffe_id != spiffe_id) continue;
        if (s.expires_at <= options_.now()) {
          return absl::FailedPreconditionError(absl::StrCat(
              "the X509-SVID of ", s.spiffe_id, " has expired and no new one came: ", last_error));
        }
        return s;
      }
      return absl::NotFoundError(spiffe_id.empty() ? "no X509-SVID"
                                                   : absl::StrCat("no X509-SVID for ", spiffe_id));
    });
  }
  std::vector<X509Svid> Svids() const override {
    return stream_.With([&](const X509Update& current, const std::string&) {
      std::vector<X509Svid> out;
      for (const X509Svid& s : current.svids) {
        if (s.expires_at > options_.now()) out.push_back(s);
      }
      return out;
    });
  }
  X509Bundles Bundles() const override {
    return stream_.With(
        [](const X509Update& current, const std::string&) { return current.bundles; });
  }
  absl::StatusOr<std::vector<std::string>> BundleFor(const std::string& td) const override {
    return stream_.With([&](const X509Update& current,
                            const std::string&) -> absl::StatusOr<std::vector<std::string>> {
      auto it = current.bundles.find(td);
      if (it == current.bundles.end()) return absl::NotFoundError("no bundle for " + td);
      return it->second;
    });
  }
  int Subscribe(std::function<void(const X509Update&)> callback) override {
    return stream_.Subscribe(std::move(callback));
  }
  void Unsubscribe(int handle) override { stream_.Unsubscribe(handle); }
  uint64_t updates() const override { return stream_.updates(); }

 private:
  const SourceOptions options_;
  const std::unique_ptr<SpiffeWorkloadAPI::Stub> stub_;
  client::WatchedStream<X509SVIDResponse, X509Update> stream_;  // last: stopped first
};

}  // namespace

std::string X509Svid::ChainPem() const {
  std::vector<crypto::Certificate> chain;
  for (const std::string& der : chain_der) {
    absl::StatusOr<crypto::Certificate> c = crypto::Certificate::FromDer(der);
    if (!c.ok()) return "";
    chain.push_back(*std::move(c));
  }
  absl::StatusOr<std::string> pem = crypto::ChainToPem(chain);
  return pem.ok() ? *pem : "";
}

std::string X509Svid::PrivateKeyPem() const {
  absl::StatusOr<crypto::PrivateKey> key = crypto::PrivateKey::FromPkcs8Der(private_key_der);
  if (!key.ok()) return "";
  absl::StatusOr<std::string> pem = key->ToPkcs8Pem();
  return pem.ok() ? *pem : "";
}

absl::StatusOr<std::shared_ptr<X509Source>> X509Source::Create(SourceOptions options) {
  SIGNET_ASSIGN_OR_RETURN(std::unique_ptr<SpiffeWorkloadAPI::Stub> stub,
                          client::WorkloadStub(options.address));
  auto source = std::make_shared<X509SourceImpl>(std::move(options), std::move(stub));
  SIGNET_RETURN_IF_ERROR(source->Start());
  return source;
}

}  // namespace signet
