#include "src/crypto/chain_verify.h"

#include "absl/strings/str_cat.h"

namespace signet::crypto {
namespace {

constexpr int kMaxDepth = 16;
// Index of the problem list in the X509_STORE_CTX's application data.
int ProblemsIndex() {
  static const int index = X509_STORE_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Records every error and lets verification continue, so that the caller hears all of them.
int CollectProblems(int ok, X509_STORE_CTX* ctx) {
  if (ok == 1) {
    return 1;
  }
  auto* problems =
      static_cast<std::vector<std::string>*>(X509_STORE_CTX_get_ex_data(ctx, ProblemsIndex()));
  int err = X509_STORE_CTX_get_error(ctx);
  std::string message = absl::StrCat("certificate at depth ", X509_STORE_CTX_get_error_depth(ctx),
                                     ": ", X509_verify_cert_error_string(err));
  if (problems != nullptr &&
      std::find(problems->begin(), problems->end(), message) == problems->end()) {
    problems->push_back(std::move(message));
  }
  return 1;
}

}  // namespace

std::vector<std::string> VerifyCertificateChain(const Certificate& leaf,
                                                std::span<const Certificate> intermediates,
                                                std::span<const Certificate> anchors,
                                                absl::Time now) {
  std::vector<std::string> problems;
  X509StorePtr store(X509_STORE_new());
  for (const Certificate& anchor : anchors) {
    X509_STORE_add_cert(store.get(), anchor.get());
  }
  X509StackPtr untrusted(sk_X509_new_null());
  for (const Certificate& cert : intermediates) {
    X509_up_ref(cert.get());
    sk_X509_push(untrusted.get(), cert.get());
  }
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (store == nullptr || untrusted == nullptr || ctx == nullptr ||
      X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), untrusted.get()) != 1) {
    ClearOsslErrors();
    return {"chain verification: out of memory"};
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, absl::ToTimeT(now));
  X509_VERIFY_PARAM_set_depth(param, kMaxDepth);
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  X509_STORE_CTX_set_ex_data(ctx.get(), ProblemsIndex(), &problems);
  X509_STORE_CTX_set_verify_cb(ctx.get(), CollectProblems);
  if (X509_verify_cert(ctx.get()) != 1 && problems.empty()) {
    problems.push_back(
        absl::StrCat("chain verification: ",
                     X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()))));
  }
  ClearOsslErrors();
  return problems;
}

}  // namespace signet::crypto
