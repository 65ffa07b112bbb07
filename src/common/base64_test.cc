// Tests of the strict base64 (RFC 4648 §4) and base64url (§5) codecs.
#include "src/common/base64.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signet {
namespace {

struct Vector {
  std::string data;
  std::string base64;
  std::string base64url;
};

// RFC 4648 §10, then inputs whose encodings use the characters where the alphabets differ.
std::vector<Vector> Vectors() {
  return {
      {"", "", ""},
      {"f", "Zg==", "Zg"},
      {"fo", "Zm8=", "Zm8"},
      {"foo", "Zm9v", "Zm9v"},
      {"foob", "Zm9vYg==", "Zm9vYg"},
      {"fooba", "Zm9vYmE=", "Zm9vYmE"},
      {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
      {"\xfb\xef\xbe", "++++", "----"},
      {"\xff\xff\xff", "////", "____"},
      {"\xfb\xff", "+/8=", "-_8"},
      {"\xff", "/w==", "_w"},
      {std::string("\0", 1), "AA==", "AA"},
      {std::string("\0\0\0", 3), "AAAA", "AAAA"},
      {"\x14\xfb\x9c\x03\xd9\x7e", "FPucA9l+", "FPucA9l-"},
  };
}

TEST(Base64Test, Rfc4648Vectors) {
  for (const Vector& v : Vectors()) {
    SCOPED_TRACE(v.base64);
    EXPECT_EQ(Base64Encode(v.data), v.base64);
    EXPECT_EQ(Base64UrlEncode(v.data), v.base64url);

    absl::StatusOr<std::string> decoded = Base64Decode(v.base64);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, v.data);
    absl::StatusOr<std::string> url_decoded = Base64UrlDecode(v.base64url);
    ASSERT_TRUE(url_decoded.ok()) << url_decoded.status();
    EXPECT_EQ(*url_decoded, v.data);
  }
}

TEST(Base64Test, RoundTripEveryByteAndLength) {
  std::string data;
  for (int i = 0; i < 256; ++i) {
    data.push_back(static_cast<char>(i));
  }
  for (size_t len = 0; len <= data.size(); ++len) {
    SCOPED_TRACE(len);
    const std::string part = data.substr(data.size() - len);
    const std::string encoded = Base64Encode(part);
    EXPECT_EQ(encoded.size(), (len + 2) / 3 * 4);
    absl::StatusOr<std::string> decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, part);

    const std::string url = Base64UrlEncode(part);
    EXPECT_EQ(url.size(), (len * 8 + 5) / 6);
    EXPECT_EQ(url.find_first_of("+/="), std::string::npos);
    absl::StatusOr<std::string> url_decoded = Base64UrlDecode(url);
    ASSERT_TRUE(url_decoded.ok()) << url_decoded.status();
    EXPECT_EQ(*url_decoded, part);
  }
}

TEST(Base64Test, UrlEncodeAppendAppends) {
  std::string out = "header.";
  Base64UrlEncodeAppend("foob", &out);
  EXPECT_EQ(out, "header.Zm9vYg");
  Base64UrlEncodeAppend("\xfb\xff", &out);
  EXPECT_EQ(out, "header.Zm9vYg-_8");
  Base64UrlEncodeAppend("", &out);
  EXPECT_EQ(out, "header.Zm9vYg-_8");
}

void ExpectRejected(absl::StatusOr<std::string> result) {
  ASSERT_FALSE(result.ok()) << "decoded to \"" << *result << "\"";
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), ::testing::HasSubstr("base64"));
}

TEST(Base64Test, StandardDecoderIsStrict) {
  const std::vector<std::string> bad = {
      // Characters outside the alphabet, including the base64url ones and whitespace.
      "Zm9v!A==",
      "-_8=",
      "Zm9_",
      "Zm9-",
      "Zm9v\n",
      " Zm9v",
      "Zm 9",
      "Zm9v\r\nYmFy",
      "Zm9\t",
      std::string("Zm9\0", 4),
      "Zm9\xff",
      // Padding missing, short, excessive or misplaced.
      "Zg",
      "Zg=",
      "Zm8",
      "Zg===",
      "Z===",
      "====",
      "Zm9v====",
      "Zm=v",
      "=Zm9",
      "Zg==Zg==",
      "Zm8==",
      "Zm9vYg=",
      // Lengths that no encoding has.
      "Z",
      "Zm9vY",
      // Non-zero bits after the last byte: each has a canonical sibling above.
      "Zh==",
      "Zm9=",
      "Zm+=",
      "/x==",
      "+/9=",
  };
  for (const std::string& text : bad) {
    SCOPED_TRACE(text);
    ExpectRejected(Base64Decode(text));
  }
}

TEST(Base64Test, UrlDecoderIsStrict) {
  const std::vector<std::string> bad = {
      // Padding is not part of base64url as JOSE uses it.
      "Zg==",
      "Zg=",
      "Zm8=",
      "Zm9vYg==",
      "=",
      "====",
      // Characters of the standard alphabet, outside both, and whitespace.
      "+/8",
      "Zm9/",
      "Zm9+",
      "Zm9v!",
      "Zm9v\n",
      " Zm9v",
      "Zm 9",
      std::string("Zm\0", 3),
      "Zm9\xff",
      // len % 4 == 1 never encodes anything.
      "Z",
      "Zm9vY",
      "Zm9vYmFyZ",
      // Non-zero trailing bits.
      "Zh",
      "Zm9",
      "_x",
      "-_9",
  };
  for (const std::string& text : bad) {
    SCOPED_TRACE(text);
    ExpectRejected(Base64UrlDecode(text));
  }
}

TEST(Base64Test, EveryDecodedValueHasOneEncoding) {
  // Flipping any unused trailing bit of a canonical encoding must make it invalid.
  for (const std::string& data : {std::string("f"), std::string("fo"), std::string("\xff\xff")}) {
    SCOPED_TRACE(data);
    const std::string url = Base64UrlEncode(data);
    const int unused_bits = static_cast<int>(url.size() * 6 - data.size() * 8);
    ASSERT_GT(unused_bits, 0);
    static constexpr absl::string_view kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const size_t last = kAlphabet.find(url.back());
    ASSERT_NE(last, absl::string_view::npos);
    for (int bit = 0; bit < unused_bits; ++bit) {
      std::string mutated = url;
      mutated.back() = kAlphabet[last ^ (size_t{1} << bit)];
      SCOPED_TRACE(mutated);
      ExpectRejected(Base64UrlDecode(mutated));
    }
  }
}

TEST(Base64Test, EmptyInput) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64UrlEncode(""), "");
  absl::StatusOr<std::string> decoded = Base64Decode("");
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, "");
  absl::StatusOr<std::string> url_decoded = Base64UrlDecode("");
  ASSERT_TRUE(url_decoded.ok());
  EXPECT_EQ(*url_decoded, "");
}

}  // namespace
}  // namespace signet
