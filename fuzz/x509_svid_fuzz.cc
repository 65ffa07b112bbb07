// Fuzzes X.509 chain parsing (DER and PEM), SVID leaf rules and chain verification.
#include <cstdint>
#include <cstdlib>

#include "src/spiffe/x509_svid.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  auto chain = signet::crypto::ParseChain(input);
  if (!chain.ok()) {
    return 0;
  }
  for (const auto& cert : *chain) {
    (void)cert.UriSans();
    (void)cert.Subject();
    (void)cert.SerialHex();
    (void)signet::spiffe::CheckLeafRules(cert);
  }
  signet::spiffe::BundleSet set;
  signet::spiffe::Bundle bundle;
  bundle.AddX509Authority(chain->back());
  auto td = signet::spiffe::TrustDomain::Parse("example.org");
  set.Put(*td, bundle);
  (void)signet::spiffe::VerifyX509SvidChain(*chain, set, absl::FromUnixSeconds(1700000000));
  return 0;
}
