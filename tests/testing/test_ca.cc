#include "tests/testing/test_ca.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"

namespace signet::testing {
namespace {

template <typename T>
T OrDie(absl::StatusOr<T> v, const char* what) {
  if (!v.ok()) {
    std::cerr << "test fixture: " << what << ": " << v.status() << "\n";
    std::abort();
  }
  return *std::move(v);
}

}  // namespace

crypto::PrivateKey MustGenerate(crypto::KeyType type) {
  return OrDie(crypto::PrivateKey::Generate(type), "generate key");
}

crypto::PublicKey EcPublicKeyWithoutPoint() {
  char group[] = "P-256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
                         OSSL_PARAM_construct_end()};
  crypto::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEY_PARAMETERS, params) != 1) {
    std::cerr << "test fixture: ec key parameters: " << crypto::OsslError("fromdata") << "\n";
    std::abort();
  }
  return OrDie(crypto::PublicKey::FromEvp(crypto::EvpPkeyPtr(raw)), "ec key without point");
}

std::string MustEncode(absl::StatusOr<std::string> encoded) {
  return OrDie(std::move(encoded), "encode");
}

absl::Time TestNow() { return absl::FromUnixSeconds(1800000000); }  // 2027-01-15

TestCa::TestCa(const std::string& trust_domain, crypto::KeyType key_type, absl::Time now)
    : td_(OrDie(spiffe::TrustDomain::Parse(trust_domain), "trust domain")),
      now_(now),
      root_key_(OrDie(crypto::PrivateKey::Generate(key_type), "root key")),
      root_(OrDie(spiffe::IssueCaCertificate(
                      {.trust_domain = td_, .subject = "O=Signet Test,CN=" + trust_domain},
                      root_key_.public_key(), nullptr, root_key_, now),
                  "root certificate")),
      jwt_signer_(
          OrDie(spiffe::JwtSigner::Create(
                    OrDie(crypto::PrivateKey::Generate(crypto::KeyType::kEcP256), "jwt key"),
                    "kid-" + trust_domain),
                "jwt signer")) {}

spiffe::Bundle TestCa::bundle() const {
  spiffe::Bundle b;
  b.AddX509Authority(root_);
  (void)b.AddJwtAuthority({jwt_signer_.key_id(), jwt_signer_.public_key()});
  b.set_sequence(1);
  return b;
}

spiffe::BundleSet TestCa::bundle_set() const {
  spiffe::BundleSet set;
  set.Put(td_, bundle());
  return set;
}

spiffe::X509Svid TestCa::MintSvid(const std::string& path, crypto::KeyType key_type,
                                  absl::Duration ttl) const {
  crypto::PrivateKey key = OrDie(crypto::PrivateKey::Generate(key_type), "leaf key");
  spiffe::SpiffeId id = OrDie(spiffe::SpiffeId::FromParts(td_, path), "leaf id");
  crypto::Certificate leaf =
      OrDie(spiffe::IssueLeafSvid({.id = id, .ttl = ttl}, key.public_key(), root_, root_key_, now_),
            "leaf");
  return OrDie(spiffe::X509Svid::FromParts({leaf}, key), "svid");
}

spiffe::X509Svid TestCa::MintSvidViaIntermediate(const std::string& path) const {
  crypto::PrivateKey mid_key = OrDie(crypto::PrivateKey::Generate(crypto::KeyType::kEcP256), "key");
  crypto::Certificate mid = OrDie(
      spiffe::IssueCaCertificate(
          {.trust_domain = td_, .subject = "O=Signet Test,CN=intermediate", .ttl = absl::Hours(12)},
          mid_key.public_key(), &root_, root_key_, now_),
      "intermediate");
  crypto::PrivateKey key = OrDie(crypto::PrivateKey::Generate(crypto::KeyType::kEcP256), "key");
  spiffe::SpiffeId id = OrDie(spiffe::SpiffeId::FromParts(td_, path), "leaf id");
  crypto::Certificate leaf =
      OrDie(spiffe::IssueLeafSvid({.id = id}, key.public_key(), mid, mid_key, now_), "leaf");
  return OrDie(spiffe::X509Svid::FromParts({leaf, mid}, key), "svid");
}

std::string TestCa::MintJwt(const std::string& path, const std::vector<std::string>& audience,
                            absl::Duration ttl) const {
  spiffe::SpiffeId id = OrDie(spiffe::SpiffeId::FromParts(td_, path), "jwt id");
  return OrDie(
      jwt_signer_.Mint({.subject = id, .audience = audience, .issued_at = now_, .ttl = ttl}),
      "jwt");
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = absl::StrCat(base != nullptr ? base : "/tmp", "/signet-test-XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::File(const std::string& name) const { return path_ + "/" + name; }

void WriteTestFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  if (!out) {
    std::cerr << "test fixture: cannot write " << path << "\n";
    std::abort();
  }
}

int RunCommand(const std::string& command, std::string* output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    return -1;
  }
  std::string captured;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) {
    captured.append(buf, n);
  }
  int status = pclose(pipe);
  if (output != nullptr) {
    *output = captured;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace signet::testing
