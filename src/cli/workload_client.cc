#include "src/cli/workload_client.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "src/common/file_util.h"
#include "src/common/status_macros.h"
#include "src/crypto/certificate.h"
#include "src/crypto/key.h"

namespace signet::cli {
namespace {

absl::StatusOr<std::string> DerToPem(absl::string_view der) {
  SIGNET_ASSIGN_OR_RETURN(std::vector<crypto::Certificate> chain, crypto::ParseDerChain(der));
  return crypto::ChainToPem(chain);
}

}  // namespace

std::unique_ptr<grpc::ClientContext> WorkloadContext(absl::Duration timeout) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata(client::kSecurityHeader, "true");
  if (timeout != absl::InfiniteDuration()) {
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
  return ctx;
}

absl::Status FromWorkloadGrpc(const grpc::Status& s) {
  const auto code = static_cast<absl::StatusCode>(s.error_code());
  return absl::Status(code, absl::StrCat("workload api: ", absl::StatusCodeToString(code), ": ",
                                         s.error_message()));
}

absl::StatusOr<X509SVIDResponse> FirstX509(const std::string& address, absl::Duration timeout) {
  SIGNET_ASSIGN_OR_RETURN(auto stub, WorkloadStub(address));
  auto ctx = WorkloadContext(timeout);
  auto reader = stub->FetchX509SVID(ctx.get(), X509SVIDRequest());
  X509SVIDResponse resp;
  if (reader->Read(&resp)) {
    ctx->TryCancel();
    return resp;
  }
  SIGNET_RETURN_IF_ERROR(FromWorkloadGrpc(reader->Finish()));
  return absl::UnavailableError("workload api: the stream ended without a message");
}

absl::Status WriteX509Files(const X509SVIDResponse& resp, const std::string& dir,
                            const X509FileNames& names) {
  const X509SVID& svid = resp.svids(0);
  SIGNET_ASSIGN_OR_RETURN(std::string chain, DerToPem(svid.x509_svid()));
  SIGNET_ASSIGN_OR_RETURN(crypto::PrivateKey key,
                          crypto::PrivateKey::FromPkcs8Der(svid.x509_svid_key()));
  SIGNET_ASSIGN_OR_RETURN(std::string key_pem, key.ToPkcs8Pem());
  SIGNET_ASSIGN_OR_RETURN(std::string bundle, DerToPem(svid.bundle()));
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(absl::StrCat("cannot create ", dir));
  }
  // All three staged first, then renamed back to back (the key first): a reader of the pair
  // never sees a new key with the old certificate for longer than between two renames.
  SIGNET_RETURN_IF_ERROR(WriteFilesAtomic({{dir + "/" + names.key, key_pem, 0600},
                                           {dir + "/" + names.svid, chain, 0644},
                                           {dir + "/" + names.bundle, bundle, 0644}}));
  for (const auto& [td, der] : resp.federated_bundles()) {
    SIGNET_ASSIGN_OR_RETURN(std::string pem, DerToPem(der));
    std::string name(absl::StripPrefix(td, "spiffe://"));
    if (name.empty() || name.find('/') != std::string::npos) continue;
    if (mkdir((dir + "/federated").c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::FailedPreconditionError(absl::StrCat("cannot create ", dir, "/federated"));
    }
    SIGNET_RETURN_IF_ERROR(WriteFileAtomic(dir + "/federated/" + name + ".pem", pem, 0644));
  }
  return absl::OkStatus();
}

}  // namespace signet::cli
