#include "src/server/api/api_context.h"

#include <grpc/grpc_security_constants.h>

#include <algorithm>
#include <cstdio>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/common/logging.h"
#include "src/common/status_macros.h"
#include "src/server/ca/ca_manager.h"
#include "src/spiffe/bundle.h"
#include "src/spiffe/x509_svid.h"

namespace signet::server {
namespace {

absl::string_view View(const grpc::string_ref& ref) {
  return absl::string_view(ref.data(), ref.size());
}

// The one value of `name` in `auth`, or nullopt when it is absent or repeated.
std::optional<absl::string_view> OnlyValue(const grpc::AuthContext& auth, const char* name) {
  std::vector<grpc::string_ref> values = auth.FindPropertyValues(name);
  if (values.size() != 1) return std::nullopt;
  return View(values.front());
}

}  // namespace

std::string ApiContext::CallerName(const grpc::ServerContext& ctx) const {
  std::optional<rpc::PeerCred> cred = peers_ == nullptr ? std::nullopt : peers_->Lookup(ctx.peer());
  if (cred) return absl::StrCat("uid:", cred->uid);
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (auth == nullptr) return "unknown";
  absl::StatusOr<std::vector<crypto::Certificate>> chain = PeerCertificateChain(*auth);
  std::optional<spiffe::SpiffeId> id;
  if (!chain.ok() || !spiffe::CheckLeafRules(chain->front(), &id).empty() || !id) {
    return "unknown";
  }
  return id->String();
}

absl::Status ApiContext::AuthorizeAdmin(const spiffe::SpiffeId& caller) const {
  if (std::find(settings_.admin_ids.begin(), settings_.admin_ids.end(), caller) !=
      settings_.admin_ids.end()) {
    return absl::OkStatus();
  }
  const absl::Time now = Now();
  const EntryFilter filter{.spiffe_id = caller.String(), .admin = true};
  std::string page_token;
  do {
    // One row answers the question unless it has expired.
    absl::StatusOr<EntryPage> page = store_->ListEntries(filter, page_token, 1);
    if (!page.ok()) {
      return absl::UnavailableError(absl::StrCat(
          "admin authorization: cannot read registration entries: ", page.status().message()));
    }
    for (const RegistrationEntry& entry : page->entries) {
      if (entry.expires_at == absl::InfinitePast() || entry.expires_at > now) {
        return absl::OkStatus();
      }
    }
    page_token = std::move(page->next_page_token);
  } while (!page_token.empty());
  return absl::PermissionDeniedError(
      absl::StrCat(caller.String(),
                   " may not call the admin api: it is not in admin_ids and no unexpired "
                   "registration entry for it has admin: true"));
}

namespace {

// Audit text is free-form input (IDs, audiences, messages): keep printable ASCII, escape every
// other byte as \xNN so that the record is always valid UTF-8 without control characters, and
// cut it at `max` bytes (escapes are never split).
std::string AuditText(absl::string_view text, size_t max) {
  std::string out;
  for (unsigned char c : text) {
    std::string piece = (c >= 0x20 && c < 0x7f && c != '\\')
                            ? std::string(1, static_cast<char>(c))
                            : absl::StrCat("\\x", absl::Hex(c, absl::kZeroPad2));
    if (out.size() + piece.size() > max) break;
    out += piece;
  }
  return out;
}

}  // namespace

void ApiContext::Audit(const grpc::ServerContext& ctx, absl::string_view action,
                       absl::string_view target, const absl::Status& result,
                       absl::string_view detail) const {
  AuditEvent event{.time = Now(),
                   .caller = CallerName(ctx),
                   .action = std::string(action),
                   .target = AuditText(target, 2048),
                   .result = ResultName(result),
                   .detail = AuditText(detail.empty() ? result.message() : detail, 1024)};
  absl::Status status = store_->AppendAudit(event);
  if (!status.ok()) {
    std::fprintf(stderr, "signet: audit log write failed for %s: %s\n", event.action.c_str(),
                 std::string(status.message()).c_str());
  }
}

absl::StatusOr<std::vector<crypto::Certificate>> PeerCertificateChain(
    const grpc::AuthContext& auth) {
  std::optional<absl::string_view> leaf_pem = OnlyValue(auth, GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (!leaf_pem) return absl::UnauthenticatedError("peer: no client certificate");
  absl::StatusOr<std::vector<crypto::Certificate>> leaf = crypto::ParsePemChain(*leaf_pem);
  if (!leaf.ok() || leaf->size() != 1) {
    return absl::UnauthenticatedError("peer: the client certificate cannot be parsed");
  }
  std::vector<crypto::Certificate> chain = {leaf->front()};
  std::optional<absl::string_view> chain_pem =
      OnlyValue(auth, GRPC_X509_PEM_CERT_CHAIN_PROPERTY_NAME);
  if (!chain_pem) return chain;
  absl::StatusOr<std::vector<crypto::Certificate>> rest = crypto::ParsePemChain(*chain_pem);
  if (!rest.ok()) {
    return absl::UnauthenticatedError("peer: the client certificate chain cannot be parsed");
  }
  for (size_t i = 0; i < rest->size(); ++i) {
    if (i == 0 && (*rest)[0] == chain.front()) continue;
    chain.push_back((*rest)[i]);
  }
  return chain;
}

absl::StatusOr<spiffe::SpiffeId> SvidAuthProcessor::Authorize(absl::string_view method,
                                                              const grpc::AuthContext& auth) const {
  SIGNET_ASSIGN_OR_RETURN(std::vector<crypto::Certificate> chain, PeerCertificateChain(auth));
  spiffe::BundleSet own;
  own.Put(api_->settings().trust_domain, *api_->ca().Bundle());
  SIGNET_ASSIGN_OR_RETURN(spiffe::SpiffeId caller, spiffe::VerifyX509Svid(chain, own, api_->Now()));
  for (const SvidRule& rule : rules_) {
    if (!absl::StartsWith(method, rule.method_prefix)) continue;
    if (rule.anonymous) return caller;
    SIGNET_RETURN_IF_ERROR(rule.policy(caller));
    return caller;
  }
  return absl::PermissionDeniedError(
      absl::StrCat("method \"", method, "\" is not served on the tcp listener"));
}

bool SvidAuthProcessor::IsAnonymous(absl::string_view method) const {
  for (const SvidRule& rule : rules_) {
    if (absl::StartsWith(method, rule.method_prefix)) return rule.anonymous;
  }
  return false;
}

grpc::Status SvidAuthProcessor::Process(const InputMetadata& auth_metadata,
                                        grpc::AuthContext* context,
                                        OutputMetadata* /*consumed_auth_metadata*/,
                                        OutputMetadata* /*response_metadata*/) {
  absl::string_view method;
  auto path = auth_metadata.find(":path");
  if (path != auth_metadata.end()) method = View(path->second);
  if (IsAnonymous(method)) return grpc::Status::OK;
  absl::StatusOr<spiffe::SpiffeId> caller =
      context == nullptr ? absl::UnauthenticatedError("peer: no auth context")
                         : Authorize(method, *context);
  if (caller.ok()) return grpc::Status::OK;
  LogWarn("tcp listener: call refused", {{"method", method}, {"error", caller.status()}});
  if (caller.status().code() == absl::StatusCode::kUnauthenticated) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        absl::StrCat("the client certificate is not a valid x509-svid of ",
                                     api_->settings().trust_domain.name()));
  }
  return ToGrpc(caller.status());
}

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

std::string ResultName(const absl::Status& status) {
  if (status.ok()) return "ok";
  return absl::AsciiStrToLower(absl::StatusCodeToString(status.code()));
}

}  // namespace signet::server
