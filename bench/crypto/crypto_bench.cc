// Throughput of Signet's SVID operations next to the raw OpenSSL EVP sign/verify rate of the same
// key type, measured in the same run. The machine is shared and noisy, so what matters is the
// ratio: repetitions are interleaved at random and the medians are compared.
//
//   build/release/bench/crypto/crypto_bench [--benchmark_repetitions=N]
#include <openssl/evp.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "src/crypto/cert_builder.h"
#include "src/crypto/csr.h"
#include "src/crypto/ossl.h"
#include "src/spiffe/jwt_svid.h"
#include "src/spiffe/x509_svid.h"

namespace signet {
namespace {

using crypto::KeyType;

struct Fixture {
  KeyType type;
  spiffe::JwtAlgorithm alg;
  crypto::PrivateKey key;
  spiffe::BundleSet bundles;
  std::optional<spiffe::JwtSigner> signer;
  std::string token;
  std::string raw_signature;
  std::optional<crypto::Certificate> ca;
  std::optional<crypto::PrivateKey> leaf_key;
};

const absl::Time kNow = absl::FromUnixSeconds(1800000000);
const spiffe::SpiffeId& WorkloadId() {
  static const auto* id = new spiffe::SpiffeId(
      *spiffe::SpiffeId::Parse("spiffe://example.org/ns/production/sa/payments-api"));
  return *id;
}

Fixture& GetFixture(KeyType type) {
  static auto* fixtures = new std::map<KeyType, Fixture>();
  auto it = fixtures->find(type);
  if (it != fixtures->end()) {
    return it->second;
  }
  crypto::PrivateKey key = *crypto::PrivateKey::Generate(type);
  Fixture f{.type = type, .alg = spiffe::JwtAlgorithm::kES256, .key = key};
  f.signer = *spiffe::JwtSigner::Create(key, "bench-key");
  f.alg = f.signer->algorithm();
  spiffe::TrustDomain td = WorkloadId().trust_domain();
  f.ca = *spiffe::IssueCaCertificate({.trust_domain = td, .subject = "CN=bench"}, key.public_key(),
                                     nullptr, key, kNow);
  f.leaf_key = *crypto::PrivateKey::Generate(type);
  spiffe::Bundle bundle;
  bundle.AddX509Authority(*f.ca);
  (void)bundle.AddJwtAuthority({"bench-key", key.public_key()});
  f.bundles.Put(td, std::move(bundle));
  f.token = *f.signer->Mint({.subject = WorkloadId(), .audience = {"payments"}, .issued_at = kNow});
  f.raw_signature = *crypto::Sign(key, spiffe::JwtSignatureScheme(f.alg), f.token);
  return fixtures->emplace(type, std::move(f)).first->second;
}

// The same JWS signing input length as a real token, so the hashing cost matches.
std::string Message(const Fixture& f) { return f.token.substr(0, f.token.rfind('.')); }

bool ConfigureRsa(EVP_PKEY_CTX* pctx, const Fixture& f) {
  return f.type != KeyType::kRsa2048 || EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
}

const EVP_MD* Md(const Fixture& f) {
  return f.type == KeyType::kEcP384 ? EVP_sha384() : EVP_sha256();
}

void BM_RawSign(benchmark::State& state, KeyType type) {
  Fixture& f = GetFixture(type);
  std::string msg = Message(f);
  unsigned char sig[1024];
  for (auto _ : state) {
    crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    size_t len = sizeof(sig);
    if (EVP_DigestSignInit(ctx.get(), &pctx, Md(f), nullptr, f.key.get()) != 1 ||
        !ConfigureRsa(pctx, f) ||
        EVP_DigestSign(ctx.get(), sig, &len, reinterpret_cast<const unsigned char*>(msg.data()),
                       msg.size()) != 1) {
      state.SkipWithError("sign failed");
      break;
    }
    benchmark::DoNotOptimize(sig);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_RawVerify(benchmark::State& state, KeyType type) {
  Fixture& f = GetFixture(type);
  std::string msg = Message(f);
  std::string der = *crypto::Sign(f.key, spiffe::JwtSignatureScheme(f.alg), msg);
  for (auto _ : state) {
    crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    if (EVP_DigestVerifyInit(ctx.get(), &pctx, Md(f), nullptr, f.key.get()) != 1 ||
        !ConfigureRsa(pctx, f) ||
        EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(der.data()), der.size(),
                         reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) != 1) {
      state.SkipWithError("verify failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_JwtMint(benchmark::State& state, KeyType type) {
  Fixture& f = GetFixture(type);
  spiffe::JwtSvidParams params{
      .subject = WorkloadId(), .audience = {"payments"}, .issued_at = kNow};
  for (auto _ : state) {
    absl::StatusOr<std::string> token = f.signer->Mint(params);
    if (!token.ok()) {
      state.SkipWithError("mint failed");
      break;
    }
    benchmark::DoNotOptimize(*token);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_JwtValidate(benchmark::State& state, KeyType type) {
  Fixture& f = GetFixture(type);
  spiffe::JwtValidationOptions options{.audience = "payments", .now = kNow};
  for (auto _ : state) {
    absl::StatusOr<spiffe::JwtSvid> svid = spiffe::ValidateJwtSvid(f.token, f.bundles, options);
    if (!svid.ok()) {
      state.SkipWithError("validate failed");
      break;
    }
    benchmark::DoNotOptimize(*svid);
  }
  state.SetItemsProcessed(state.iterations());
}

// What batch signing does per SVID: parse and verify the CSR, then issue the certificate.
void BM_X509SvidFromCsr(benchmark::State& state, KeyType type) {
  Fixture& f = GetFixture(type);
  const std::string csr = *crypto::BuildCsrDer(*f.leaf_key);
  spiffe::LeafParams params{.id = WorkloadId(), .dns_names = {"payments.internal"}};
  for (auto _ : state) {
    absl::StatusOr<crypto::PublicKey> key = crypto::ParseCsrDer(csr);
    if (!key.ok()) {
      state.SkipWithError("csr parse failed");
      break;
    }
    absl::StatusOr<crypto::Certificate> cert =
        spiffe::IssueLeafSvid(params, *key, *f.ca, f.key, kNow);
    if (!cert.ok()) {
      state.SkipWithError("x509 mint failed");
      break;
    }
    benchmark::DoNotOptimize(cert->ToDer());
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_X509SvidMint(benchmark::State& state, KeyType type) {
  Fixture& f = GetFixture(type);
  spiffe::LeafParams params{.id = WorkloadId(), .dns_names = {"payments.internal"}};
  for (auto _ : state) {
    absl::StatusOr<crypto::Certificate> cert =
        spiffe::IssueLeafSvid(params, f.leaf_key->public_key(), *f.ca, f.key, kNow);
    if (!cert.ok()) {
      state.SkipWithError("x509 mint failed");
      break;
    }
    benchmark::DoNotOptimize(*cert);
  }
  state.SetItemsProcessed(state.iterations());
}

#define SIGNET_BENCH(fn, type)               \
  BENCHMARK_CAPTURE(fn, type, KeyType::type) \
      ->Repetitions(5)                       \
      ->ReportAggregatesOnly(true)           \
      ->MinTime(0.3)                         \
      ->Unit(benchmark::kMicrosecond)

SIGNET_BENCH(BM_RawSign, kEcP256);
SIGNET_BENCH(BM_JwtMint, kEcP256);
SIGNET_BENCH(BM_X509SvidMint, kEcP256);
SIGNET_BENCH(BM_X509SvidFromCsr, kEcP256);
SIGNET_BENCH(BM_RawVerify, kEcP256);
SIGNET_BENCH(BM_JwtValidate, kEcP256);
SIGNET_BENCH(BM_RawSign, kEcP384);
SIGNET_BENCH(BM_JwtMint, kEcP384);
SIGNET_BENCH(BM_X509SvidMint, kEcP384);
SIGNET_BENCH(BM_X509SvidFromCsr, kEcP384);
SIGNET_BENCH(BM_RawVerify, kEcP384);
SIGNET_BENCH(BM_JwtValidate, kEcP384);
SIGNET_BENCH(BM_RawSign, kRsa2048);
SIGNET_BENCH(BM_JwtMint, kRsa2048);
SIGNET_BENCH(BM_X509SvidMint, kRsa2048);
SIGNET_BENCH(BM_X509SvidFromCsr, kRsa2048);
SIGNET_BENCH(BM_RawVerify, kRsa2048);
SIGNET_BENCH(BM_JwtValidate, kRsa2048);

// Collects the median time per operation of each benchmark, then prints the ratio table.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.aggregate_name == "median") {
        // CPU time: the operations are single-threaded and CPU-bound, and CPU time is less
        // disturbed than wall time by other work on a shared machine.
        median_us_[run.run_name.function_name] = run.GetAdjustedCPUTime();
      }
    }
  }

  int PrintRatios() const {
    int failures = 0;
    std::printf("\n%-10s %-14s %12s %12s %8s %s\n", "key", "operation", "signet op/s",
                "openssl op/s", "ratio", "target");
    for (const char* type : {"kEcP256", "kEcP384", "kRsa2048"}) {
      failures += Row(type, "JWT mint", "BM_JwtMint", "BM_RawSign", 0.85);
      failures += Row(type, "JWT validate", "BM_JwtValidate", "BM_RawVerify", 0.85);
      failures += Row(type, "X509 mint", "BM_X509SvidMint", "BM_RawSign", 0.0);
      failures +=
          RowOfTwo(type, "X509 from CSR", "BM_X509SvidFromCsr", "BM_RawVerify", "BM_RawSign", 0.0);
    }
    return failures;
  }

 private:
  int Row(const std::string& type, const char* label, const std::string& ours,
          const std::string& raw, double target) const {
    auto a = median_us_.find(ours + "/" + type);
    auto b = median_us_.find(raw + "/" + type);
    if (a == median_us_.end() || b == median_us_.end()) {
      return 0;
    }
    double ours_rate = 1e6 / a->second;
    double raw_rate = 1e6 / b->second;
    double ratio = ours_rate / raw_rate;
    bool met = target == 0.0 || ratio >= target;
    std::printf("%-10s %-14s %12.0f %12.0f %8.3f %s\n", type.c_str() + 1, label, ours_rate,
                raw_rate, ratio,
                target == 0.0 ? "(report)" : absl::StrCat(met ? ">= " : "MISSED ", target).c_str());
    return met ? 0 : 1;
  }

  // Like Row, against one `raw_a` and one `raw_b` operation done in sequence (their times add).
  int RowOfTwo(const std::string& type, const char* label, const std::string& ours,
               const std::string& raw_a, const std::string& raw_b, double target) const {
    auto a = median_us_.find(ours + "/" + type);
    auto b = median_us_.find(raw_a + "/" + type);
    auto c = median_us_.find(raw_b + "/" + type);
    if (a == median_us_.end() || b == median_us_.end() || c == median_us_.end()) {
      return 0;
    }
    double ours_rate = 1e6 / a->second;
    double raw_rate = 1e6 / (b->second + c->second);
    double ratio = ours_rate / raw_rate;
    bool met = target == 0.0 || ratio >= target;
    std::printf("%-10s %-14s %12.0f %12.0f %8.3f %s\n", type.c_str() + 1, label, ours_rate,
                raw_rate, ratio,
                target == 0.0 ? "(report: vs verify+sign)"
                              : absl::StrCat(met ? ">= " : "MISSED ", target).c_str());
    return met ? 0 : 1;
  }

  std::map<std::string, double> median_us_;
};

}  // namespace
}  // namespace signet

int main(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  std::string interleave = "--benchmark_enable_random_interleaving=true";
  args.push_back(interleave.data());
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  signet::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  int missed = reporter.PrintRatios();
  benchmark::Shutdown();
  return missed == 0 ? 0 : 1;
}
