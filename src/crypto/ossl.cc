#include "src/crypto/ossl.h"

#include <openssl/err.h>

#include "absl/strings/str_cat.h"

namespace signet::crypto {

absl::Status OsslError(absl::string_view context, absl::StatusCode code) {
  unsigned long err = ERR_peek_error();  // NOLINT(runtime/int): OpenSSL's type
  std::string message(context);
  if (err != 0) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof(buf));
    const char* reason = ERR_reason_error_string(err);
    absl::StrAppend(&message, ": ", reason != nullptr ? reason : buf);
  }
  ERR_clear_error();
  return absl::Status(code, message);
}

void ClearOsslErrors() { ERR_clear_error(); }

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);  // NOLINT(runtime/int): OpenSSL's type
  return std::string(data, static_cast<size_t>(len));
}

std::string TakeOsslBytes(unsigned char* buf, int len) {
  OsslBytesPtr owned(buf);
  if (owned == nullptr || len <= 0) {
    return "";
  }
  return std::string(reinterpret_cast<char*>(owned.get()), static_cast<size_t>(len));
}

BioPtr MemBio(absl::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

}  // namespace signet::crypto
