// VisitStrictJsonObject: a small recursive-descent parser for the JSON objects on hot paths (the
// header and claims of every JWT-SVID validated). nlohmann's lexer costs ~10 ns a byte, which is
// most of what JWT validation spends around the signature check; this one reads each byte once
// and builds nothing but the members' values.
//
// It accepts exactly what ParseStrictJson accepts (RFC 8259 as nlohmann reads it: a leading UTF-8
// BOM is skipped, UTF-8 is checked per RFC 3629, \u escapes must pair surrogates, integers that
// overflow become doubles, doubles that overflow are errors), plus the strict rules.
// fuzz/json_visit_fuzz.cc checks the two parsers against each other.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/common/strict_json.h"
#include "src/common/strict_json_internal.h"

namespace signet {
namespace {

using nlohmann::json;

// Returns the status of a step when it is not OK.
#define SIGNET_VISIT_TRY(expr)                \
  do {                                        \
    if (absl::Status s_ = (expr); !s_.ok()) { \
      return s_;                              \
    }                                         \
  } while (false)

class ObjectVisitor {
 public:
  ObjectVisitor(absl::string_view text, int max_depth, JsonMemberVisitor visit)
      : p_(text.data()),
        begin_(text.data()),
        end_(text.data() + text.size()),
        max_depth_(max_depth),
        visit_(visit) {}

  absl::Status Run() {
    if (end_ - p_ >= 3 && absl::string_view(p_, 3) == "\xEF\xBB\xBF") {
      p_ += 3;
    }
    SkipSpace();
    if (p_ == end_ || *p_ != '{') {
      return p_ == end_ || !StartsValue(*p_) ? Syntax() : Fail("not a json object");
    }
    if (max_depth_ < 1) {
      return Fail(absl::StrCat("nesting deeper than ", max_depth_));
    }
    SIGNET_VISIT_TRY(Object(1, nullptr));
    SkipSpace();
    return p_ == end_ ? absl::OkStatus() : Syntax();
  }

 private:
  static bool StartsValue(char c) {
    return c == '[' || c == '"' || c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' ||
           c == 'n';
  }

  absl::Status Fail(absl::string_view message) const {
    return absl::InvalidArgumentError(absl::StrCat("json: ", message));
  }

  absl::Status Syntax() const {
    return Fail(absl::StrCat("syntax error at byte ", p_ - begin_ + 1));
  }

  void SkipSpace() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) {
      ++p_;
    }
  }

  bool Consume(char c) {
    SkipSpace();
    if (p_ != end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }

  // Parses an object whose '{' is at p_. With `out` null this is the root: members go to the
  // visitor instead of into a document.
  absl::Status Object(int depth, json* out) {
    ++p_;
    json_internal::MemberNames names;
    if (out != nullptr) {
      *out = json::object();
    }
    if (Consume('}')) {
      return absl::OkStatus();
    }
    std::string name;
    do {
      SkipSpace();
      if (p_ == end_ || *p_ != '"') {
        return Syntax();
      }
      name.clear();
      SIGNET_VISIT_TRY(String(&name));
      if (!names.Insert(name)) {
        return Fail(absl::StrCat("duplicate member \"", name, "\""));
      }
      if (!Consume(':')) {
        return Syntax();
      }
      if (out != nullptr) {
        SIGNET_VISIT_TRY(Value(depth, &(*out)[name]));
        continue;
      }
      json value;
      SIGNET_VISIT_TRY(Value(depth, &value));
      SIGNET_VISIT_TRY(visit_(name, value));
    } while (Consume(','));
    return Consume('}') ? absl::OkStatus() : Syntax();
  }

  absl::Status Array(int depth, json* out) {
    ++p_;
    *out = json::array();
    if (Consume(']')) {
      return absl::OkStatus();
    }
    do {
      json value;
      SIGNET_VISIT_TRY(Value(depth, &value));
      out->push_back(std::move(value));
    } while (Consume(','));
    return Consume(']') ? absl::OkStatus() : Syntax();
  }

  // A value inside a container at `depth`.
  absl::Status Value(int depth, json* out) {
    SkipSpace();
    if (p_ == end_) {
      return Syntax();
    }
    switch (*p_) {
      case '{':
      case '[':
        if (depth >= max_depth_) {
          return Fail(absl::StrCat("nesting deeper than ", max_depth_));
        }
        return *p_ == '{' ? Object(depth + 1, out) : Array(depth + 1, out);
      case '"': {
        std::string s;
        SIGNET_VISIT_TRY(String(&s));
        *out = std::move(s);
        return absl::OkStatus();
      }
      case 't':
        return Literal("true", json(true), out);
      case 'f':
        return Literal("false", json(false), out);
      case 'n':
        return Literal("null", json(nullptr), out);
      default:
        return Number(out);
    }
  }

  absl::Status Literal(absl::string_view word, json value, json* out) {
    if (static_cast<size_t>(end_ - p_) < word.size() ||
        absl::string_view(p_, word.size()) != word) {
      return Syntax();
    }
    p_ += word.size();
    *out = std::move(value);
    return absl::OkStatus();
  }

  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }

  absl::Status Number(json* out) {
    const char* start = p_;
    bool negative = p_ != end_ && *p_ == '-';
    p_ += negative ? 1 : 0;
    if (p_ == end_ || !IsDigit(*p_)) {
      return Syntax();
    }
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ != end_ && IsDigit(*p_)) {
        ++p_;
      }
    }
    bool integral = true;
    if (p_ != end_ && *p_ == '.') {
      integral = false;
      SIGNET_VISIT_TRY(Digits());
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      integral = false;
      if (p_ + 1 != end_ && (p_[1] == '+' || p_[1] == '-')) {
        ++p_;
      }
      SIGNET_VISIT_TRY(Digits());
    }
    if (integral && negative) {
      int64_t v = 0;
      if (std::from_chars(start, p_, v).ec == std::errc()) {
        *out = v;
        return absl::OkStatus();
      }
    } else if (integral) {
      uint64_t v = 0;
      if (std::from_chars(start, p_, v).ec == std::errc()) {
        *out = v;
        return absl::OkStatus();
      }
    }
    // Like nlohmann: strtod, where underflow gives zero and overflow is an error.
    std::string copy(start, p_);
    double v = std::strtod(copy.c_str(), nullptr);
    if (!std::isfinite(v)) {
      return Fail(absl::StrCat("number overflow at byte ", start - begin_ + 1));
    }
    *out = v;
    return absl::OkStatus();
  }

  // One or more digits after the '.', 'e', '+' or '-' at p_.
  absl::Status Digits() {
    ++p_;
    if (p_ == end_ || !IsDigit(*p_)) {
      return Syntax();
    }
    while (p_ != end_ && IsDigit(*p_)) {
      ++p_;
    }
    return absl::OkStatus();
  }

  // Parses the string whose '"' is at p_, appending its decoded bytes to `out`.
  absl::Status String(std::string* out) {
    ++p_;
    while (true) {
      const char* run = p_;
      while (p_ != end_ && static_cast<unsigned char>(*p_) >= 0x20 && *p_ != '"' && *p_ != '\\' &&
             static_cast<unsigned char>(*p_) < 0x80) {
        ++p_;
      }
      out->append(run, p_);
      if (p_ == end_) {
        return Syntax();
      }
      auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return absl::OkStatus();
      }
      if (c < 0x20) {
        return Syntax();
      }
      SIGNET_VISIT_TRY(c == '\\' ? Escape(out) : Utf8(out));
    }
  }

  // A multi-byte UTF-8 sequence at p_ (RFC 3629: shortest form, no surrogates, <= U+10FFFF).
  absl::Status Utf8(std::string* out) {
    auto b0 = static_cast<unsigned char>(*p_);
    int length = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      length = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      length = 3;
      lo = b0 == 0xE0 ? 0xA0 : 0x80;
      hi = b0 == 0xED ? 0x9F : 0xBF;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      length = 4;
      lo = b0 == 0xF0 ? 0x90 : 0x80;
      hi = b0 == 0xF4 ? 0x8F : 0xBF;
    } else {
      return Syntax();
    }
    if (end_ - p_ < length) {
      return Syntax();
    }
    for (int i = 1; i < length; ++i) {
      auto b = static_cast<unsigned char>(p_[i]);
      if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF)) {
        return Syntax();
      }
    }
    out->append(p_, static_cast<size_t>(length));
    p_ += length;
    return absl::OkStatus();
  }

  absl::Status Escape(std::string* out) {
    ++p_;
    if (p_ == end_) {
      return Syntax();
    }
    char c = *p_++;
    switch (c) {
      case '"':
      case '\\':
      case '/':
        out->push_back(c);
        return absl::OkStatus();
      case 'b':
        out->push_back('\b');
        return absl::OkStatus();
      case 'f':
        out->push_back('\f');
        return absl::OkStatus();
      case 'n':
        out->push_back('\n');
        return absl::OkStatus();
      case 'r':
        out->push_back('\r');
        return absl::OkStatus();
      case 't':
        out->push_back('\t');
        return absl::OkStatus();
      case 'u':
        return UnicodeEscape(out);
      default:
        --p_;
        return Syntax();
    }
  }

  // Four hex digits at p_, or -1.
  int Hex4() {
    if (end_ - p_ < 4) {
      return -1;
    }
    int v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = p_[i];
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (d < 0) {
        return -1;
      }
      v = v * 16 + d;
    }
    p_ += 4;
    return v;
  }

  // After "\u": one code unit, or a high surrogate that must be followed by "\u" + low surrogate.
  absl::Status UnicodeEscape(std::string* out) {
    int unit = Hex4();
    if (unit < 0 || (unit >= 0xDC00 && unit <= 0xDFFF)) {
      return Syntax();
    }
    uint32_t code = static_cast<uint32_t>(unit);
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') {
        return Syntax();
      }
      p_ += 2;
      int low = Hex4();
      if (low < 0xDC00 || low > 0xDFFF) {
        return Syntax();
      }
      code = 0x10000 + ((code - 0xD800) << 10) + static_cast<uint32_t>(low - 0xDC00);
    }
    AppendUtf8(code, out);
    return absl::OkStatus();
  }

  static void AppendUtf8(uint32_t code, std::string* out) {
    if (code < 0x80) {
      out->push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (code >> 6)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (code >> 12)));
      out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (code >> 18)));
      out->push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
  }

#undef SIGNET_VISIT_TRY

  const char* p_;
  const char* const begin_;
  const char* const end_;
  const int max_depth_;
  JsonMemberVisitor visit_;
};

}  // namespace

absl::Status VisitStrictJsonObject(absl::string_view text, JsonLimits limits,
                                   JsonMemberVisitor visit) {
  if (text.size() > limits.max_bytes) {
    return json_internal::TooLarge(limits);
  }
  return ObjectVisitor(text, limits.max_depth, visit).Run();
}

}  // namespace signet
