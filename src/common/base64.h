// Base64 (RFC 4648 §4, padded) and base64url (§5, unpadded, as JOSE uses it).
//
// The decoders are strict: they reject characters outside the alphabet, whitespace, wrong
// padding, impossible lengths and non-zero unused bits, so that every decoded value has exactly
// one encoding.
#ifndef SIGNET_COMMON_BASE64_H_
#define SIGNET_COMMON_BASE64_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace signet {

std::string Base64Encode(absl::string_view data);
absl::StatusOr<std::string> Base64Decode(absl::string_view text);

std::string Base64UrlEncode(absl::string_view data);
// Appends the encoding of `data` to `*out`.
void Base64UrlEncodeAppend(absl::string_view data, std::string* out);
absl::StatusOr<std::string> Base64UrlDecode(absl::string_view text);

}  // namespace signet

#endif  // SIGNET_COMMON_BASE64_H_
