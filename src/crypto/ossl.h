// Owning smart pointers for every OpenSSL type Signet uses, and OpenSSL error reporting.
//
// Every OpenSSL object is owned by one of these from the moment it is created; no code calls
// *_free directly.
#ifndef SIGNET_CRYPTO_OSSL_H_
#define SIGNET_CRYPTO_OSSL_H_

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace signet::crypto {

template <auto kFreeFn>
struct OsslDeleter {
  template <typename T>
  void operator()(T* p) const {
    kFreeFn(p);
  }
};

template <typename T, auto kFreeFn>
using OsslPtr = std::unique_ptr<T, OsslDeleter<kFreeFn>>;

using BioPtr = OsslPtr<BIO, BIO_free_all>;
using BignumPtr = OsslPtr<BIGNUM, BN_free>;
using EvpPkeyPtr = OsslPtr<EVP_PKEY, EVP_PKEY_free>;
using EvpPkeyCtxPtr = OsslPtr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using EvpMdCtxPtr = OsslPtr<EVP_MD_CTX, EVP_MD_CTX_free>;
using EcdsaSigPtr = OsslPtr<ECDSA_SIG, ECDSA_SIG_free>;
using X509Ptr = OsslPtr<X509, X509_free>;
using X509NamePtr = OsslPtr<X509_NAME, X509_NAME_free>;
using X509ExtensionPtr = OsslPtr<X509_EXTENSION, X509_EXTENSION_free>;
using X509StorePtr = OsslPtr<X509_STORE, X509_STORE_free>;
using X509StoreCtxPtr = OsslPtr<X509_STORE_CTX, X509_STORE_CTX_free>;
using Asn1IntegerPtr = OsslPtr<ASN1_INTEGER, ASN1_INTEGER_free>;
using Asn1OctetStringPtr = OsslPtr<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>;
using GeneralNamesPtr = OsslPtr<GENERAL_NAMES, GENERAL_NAMES_free>;
using GeneralNamePtr = OsslPtr<GENERAL_NAME, GENERAL_NAME_free>;
using BasicConstraintsPtr = OsslPtr<BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free>;
using Asn1BitStringPtr = OsslPtr<ASN1_BIT_STRING, ASN1_BIT_STRING_free>;
using ExtKeyUsagePtr = OsslPtr<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free>;
using AuthorityKeyIdPtr = OsslPtr<AUTHORITY_KEYID, AUTHORITY_KEYID_free>;
using OsslParamBldPtr = OsslPtr<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>;
using OsslParamPtr = OsslPtr<OSSL_PARAM, OSSL_PARAM_free>;

inline void OsslFree(void* p) { OPENSSL_free(p); }
using OsslCharPtr = std::unique_ptr<char, OsslDeleter<OsslFree>>;
using OsslBytesPtr = std::unique_ptr<unsigned char, OsslDeleter<OsslFree>>;

// Copies `len` bytes that OpenSSL allocated at `buf` (e.g. by an i2d_* call) into a string and
// frees them. Returns "" when `len` <= 0.
std::string TakeOsslBytes(unsigned char* buf, int len);

// sk_X509 needs pop_free to release its elements.
struct X509StackDeleter {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackDeleter>;

// Returns an error with `code` whose message is `context` followed by the OpenSSL error queue's
// first reason (the queue is then cleared).
absl::Status OsslError(absl::string_view context,
                       absl::StatusCode code = absl::StatusCode::kInternal);

// Drains the thread's OpenSSL error queue.
void ClearOsslErrors();

// Returns the bytes held by a memory BIO.
std::string BioContents(BIO* bio);

// A read-only memory BIO over `data` (which must outlive the BIO).
BioPtr MemBio(absl::string_view data);

// Calls `write` (e.g. a PEM_write_bio_* call, returning 1 on success) on a fresh memory BIO and
// returns what it wrote. Fails with Internal, the message starting with `context`, when the BIO
// cannot be created or `write` does not return 1.
template <typename WriteFn>
absl::StatusOr<std::string> WriteToString(absl::string_view context, WriteFn write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || write(bio.get()) != 1) {
    return OsslError(context);
  }
  return BioContents(bio.get());
}

}  // namespace signet::crypto

#endif  // SIGNET_CRYPTO_OSSL_H_
