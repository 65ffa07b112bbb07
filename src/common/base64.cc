#include "src/common/base64.h"

#include <array>
#include <cstdint>

#include "absl/status/status.h"

namespace signet {
namespace {

constexpr char kStd[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

using DecodeTable = std::array<int8_t, 256>;

constexpr DecodeTable MakeTable(const char* alphabet) {
  DecodeTable t{};
  for (auto& v : t) {
    v = -1;
  }
  for (int i = 0; i < 64; ++i) {
    t[static_cast<uint8_t>(alphabet[i])] = static_cast<int8_t>(i);
  }
  return t;
}

constexpr DecodeTable kStdTable = MakeTable(kStd);
constexpr DecodeTable kUrlTable = MakeTable(kUrl);

void EncodeAppend(absl::string_view data, const char* alphabet, bool pad, std::string* out) {
  out->reserve(out->size() + (data.size() + 2) / 3 * 4);
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
    out->push_back(alphabet[(v >> 18) & 63]);
    out->push_back(alphabet[(v >> 12) & 63]);
    out->push_back(alphabet[(v >> 6) & 63]);
    out->push_back(alphabet[v & 63]);
  }
  size_t rest = data.size() - i;
  if (rest == 0) {
    return;
  }
  uint32_t v = p[i] << 16;
  if (rest == 2) {
    v |= p[i + 1] << 8;
  }
  out->push_back(alphabet[(v >> 18) & 63]);
  out->push_back(alphabet[(v >> 12) & 63]);
  if (rest == 2) {
    out->push_back(alphabet[(v >> 6) & 63]);
  }
  if (pad) {
    out->append(rest == 1 ? "==" : "=");
  }
}

// Decodes unpadded text; `text.size() % 4` must not be 1.
absl::StatusOr<std::string> DecodeUnpadded(absl::string_view text, const DecodeTable& table) {
  if (text.size() % 4 == 1) {
    return absl::InvalidArgumentError("base64: impossible length");
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int8_t v = table[static_cast<uint8_t>(c)];
    if (v < 0) {
      return absl::InvalidArgumentError("base64: character outside the alphabet");
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0) {
    return absl::InvalidArgumentError("base64: non-zero trailing bits");
  }
  return out;
}

}  // namespace

std::string Base64Encode(absl::string_view data) {
  std::string out;
  EncodeAppend(data, kStd, /*pad=*/true, &out);
  return out;
}

absl::StatusOr<std::string> Base64Decode(absl::string_view text) {
  if (text.size() % 4 != 0) {
    return absl::InvalidArgumentError("base64: length is not a multiple of 4");
  }
  size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') {
    ++padding;
  }
  return DecodeUnpadded(text.substr(0, text.size() - padding), kStdTable);
}

std::string Base64UrlEncode(absl::string_view data) {
  std::string out;
  EncodeAppend(data, kUrl, /*pad=*/false, &out);
  return out;
}

void Base64UrlEncodeAppend(absl::string_view data, std::string* out) {
  EncodeAppend(data, kUrl, /*pad=*/false, out);
}

absl::StatusOr<std::string> Base64UrlDecode(absl::string_view text) {
  return DecodeUnpadded(text, kUrlTable);
}

}  // namespace signet
