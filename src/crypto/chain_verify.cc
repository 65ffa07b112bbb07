#include "src/crypto/chain_verify.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace signet::crypto {
namespace {

constexpr int kMaxDepth = 16;
// Index of the problem list in the X509_STORE_CTX's application data.
int ProblemsIndex() {
  static const int index = X509_STORE_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Records every error and lets verification continue, so that the caller hears all of them. Fails
// the verification if the problem list is not reachable: an error must never go unrecorded.
int CollectProblems(int ok, X509_STORE_CTX* ctx) {
  if (ok == 1) {
    return 1;
  }
  int index = ProblemsIndex();
  auto* problems =
      index < 0 ? nullptr
                : static_cast<std::vector<std::string>*>(X509_STORE_CTX_get_ex_data(ctx, index));
  if (problems == nullptr) {
    return 0;
  }
  int err = X509_STORE_CTX_get_error(ctx);
  std::string message = absl::StrCat("certificate at depth ", X509_STORE_CTX_get_error_depth(ctx),
                                     ": ", X509_verify_cert_error_string(err));
  if (std::find(problems->begin(), problems->end(), message) == problems->end()) {
    problems->push_back(std::move(message));
  }
  return 1;
}

// Adds a reference to each certificate of `certs` to `stack`.
bool PushAll(std::span<const Certificate> certs, STACK_OF(X509) * stack) {
  for (const Certificate& cert : certs) {
    if (X509_up_ref(cert.get()) != 1) {
      return false;
    }
    X509Ptr ref(cert.get());
    if (sk_X509_push(stack, ref.get()) == 0) {
      return false;  // `ref` drops the reference the stack did not take.
    }
    (void)ref.release();  // Now owned by the stack.
  }
  return true;
}

bool AddAnchors(std::span<const Certificate> anchors, X509_STORE* store) {
  for (const Certificate& anchor : anchors) {
    if (X509_STORE_add_cert(store, anchor.get()) != 1) {
      return false;
    }
  }
  return true;
}

std::vector<std::string> SetupFailure(absl::string_view what) {
  ClearOsslErrors();
  return {absl::StrCat("chain verification: ", what)};
}

}  // namespace

std::vector<std::string> VerifyCertificateChain(const Certificate& leaf,
                                                std::span<const Certificate> intermediates,
                                                std::span<const Certificate> anchors,
                                                absl::Time now) {
  std::vector<std::string> problems;
  X509StorePtr store(X509_STORE_new());
  X509StackPtr untrusted(sk_X509_new_null());
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (store == nullptr || untrusted == nullptr || ctx == nullptr ||
      !AddAnchors(anchors, store.get()) || !PushAll(intermediates, untrusted.get()) ||
      X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), untrusted.get()) != 1) {
    return SetupFailure("out of memory");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, absl::ToTimeT(now));
  X509_VERIFY_PARAM_set_depth(param, kMaxDepth);
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  int index = ProblemsIndex();
  if (index < 0 || X509_STORE_CTX_set_ex_data(ctx.get(), index, &problems) != 1) {
    return SetupFailure("cannot attach the problem list");
  }
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
