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
  const size_t full = text.size() / 4;
  const size_t rest = text.size() % 4;  // 0, 2 or 3 characters -> 0, 1 or 2 bytes.
  std::string out(full * 3 + (rest == 0 ? 0 : rest - 1), '\0');
  const auto* in = reinterpret_cast<const uint8_t*>(text.data());
  auto* o = reinterpret_cast<uint8_t*>(out.data());
  int32_t bad = 0;  // Negative if any character is outside the alphabet.
  for (size_t i = 0; i < full; ++i, in += 4, o += 3) {
    int32_t a = table[in[0]], b = table[in[1]], c = table[in[2]], d = table[in[3]];
    bad |= a | b | c | d;
    uint32_t v = (static_cast<uint32_t>(a) << 18) | (static_cast<uint32_t>(b) << 12) |
                 (static_cast<uint32_t>(c) << 6) | static_cast<uint32_t>(d);
    o[0] = static_cast<uint8_t>(v >> 16);
    o[1] = static_cast<uint8_t>(v >> 8);
    o[2] = static_cast<uint8_t>(v);
  }
  if (rest != 0) {
    int32_t a = table[in[0]], b = table[in[1]], c = rest == 3 ? table[in[2]] : 0;
    bad |= a | b | c;
    uint32_t v = (static_cast<uint32_t>(a) << 18) | (static_cast<uint32_t>(b) << 12) |
                 (static_cast<uint32_t>(c) << 6);
    if (bad >= 0 && (rest == 2 ? (v & 0xffff) : (v & 0xff)) != 0) {
      return absl::InvalidArgumentError("base64: non-zero trailing bits");
    }
    o[0] = static_cast<uint8_t>(v >> 16);
    if (rest == 3) {
      o[1] = static_cast<uint8_t>(v >> 8);
    }
  }
  if (bad < 0) {
    return absl::InvalidArgumentError("base64: character outside the alphabet");
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
