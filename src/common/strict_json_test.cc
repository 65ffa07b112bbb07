// Tests of the strict JSON parser used for untrusted input.
#include "src/common/strict_json.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace signet {
namespace {

using ::testing::HasSubstr;

// The whole literal, embedded NUL bytes included.
template <size_t N>
std::string Bytes(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

// `depth` nested arrays: "[[...]]".
std::string NestedArrays(int depth) {
  return std::string(static_cast<size_t>(depth), '[') +
         std::string(static_cast<size_t>(depth), ']');
}

// `depth` nested objects: {"a":{"a":{}}}.
std::string NestedObjects(int depth) {
  std::string out;
  for (int i = 1; i < depth; ++i) {
    out += R"({"a":)";
  }
  out += "{}";
  out += std::string(static_cast<size_t>(depth - 1), '}');
  return out;
}

void ExpectError(absl::string_view text, absl::string_view want, JsonLimits limits = {}) {
  absl::StatusOr<nlohmann::json> parsed = ParseStrictJson(text, limits);
  ASSERT_FALSE(parsed.ok()) << "parsed as " << parsed->dump();
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr(std::string(want)));
}

nlohmann::json ExpectOk(absl::string_view text, JsonLimits limits = {}) {
  absl::StatusOr<nlohmann::json> parsed = ParseStrictJson(text, limits);
  EXPECT_TRUE(parsed.ok()) << parsed.status() << "\n" << text.substr(0, 200);
  return parsed.ok() ? *parsed : nlohmann::json();
}

TEST(StrictJsonTest, ParsesValidDocuments) {
  nlohmann::json doc = ExpectOk(
      R"( {"a": 1, "b": [true, null, "x", {"c": -2.5}], "d": {"e": 18446744073709551615}} )");
  EXPECT_EQ(doc["a"], 1);
  EXPECT_EQ(doc["b"][2], "x");
  EXPECT_EQ(doc["b"][3]["c"], -2.5);
  EXPECT_EQ(doc["d"]["e"].get<uint64_t>(), 18446744073709551615u);
  EXPECT_EQ(ExpectOk("[]"), nlohmann::json::array());
  EXPECT_EQ(ExpectOk("\"s\""), "s");
  EXPECT_EQ(ExpectOk("null"), nullptr);
  EXPECT_EQ(ExpectOk("{}\n"), nlohmann::json::object());
  EXPECT_EQ(ExpectOk(R"({"\u00e9": "\ud83d\ude00"})"),
            nlohmann::json::parse("{\"\xc3\xa9\": \"\xf0\x9f\x98\x80\"}"));
}

TEST(StrictJsonTest, RejectsDuplicateTopLevelMember) {
  ExpectError(R"({"a": 1, "a": 1})", "duplicate member \"a\"");
  ExpectError(R"({"a": 1, "b": 2, "a": 3})", "duplicate member \"a\"");
  // Same name once unescaped.
  ExpectError(R"({"a": 1, "\u0061": 2})", "duplicate member \"a\"");
}

TEST(StrictJsonTest, RejectsDuplicateNestedMember) {
  ExpectError(R"({"x": {"b": 1, "b": 2}})", "duplicate member \"b\"");
  ExpectError(R"([1, {"b": 1, "b": 2}])", "duplicate member \"b\"");
  ExpectError(R"({"x": [{"y": {"z": [], "z": []}}]})", "duplicate member \"z\"");
  // The outer object's names are still tracked after a nested object closes.
  ExpectError(R"({"a": {"b": 1}, "a": 2})", "duplicate member \"a\"");
  ExpectError(R"({"a": [{"b": 1}], "c": 1, "a": 2})", "duplicate member \"a\"");
}

// {"m0": 0, "m1": 1, ...} with `count` members, then `extra` appended verbatim.
std::string ManyMembers(int count, const std::string& extra = "") {
  std::string out = "{";
  for (int i = 0; i < count; ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ", ", "\"m", i, "\": ", i);
  }
  return absl::StrCat(out, extra, "}");
}

TEST(StrictJsonTest, DuplicatesFoundInLargeObjects) {
  // Small and large objects are tracked differently: test both sides of the switch.
  for (int count : {1, 15, 16, 17, 18, 100, 5000}) {
    SCOPED_TRACE(count);
    EXPECT_EQ(ExpectOk(ManyMembers(count)).size(), static_cast<size_t>(count));
    ExpectError(ManyMembers(count, R"(, "m0": 0)"), "duplicate member \"m0\"");
    const std::string last = absl::StrCat("m", count - 1);
    ExpectError(ManyMembers(count, absl::StrCat(R"(, ")", last, R"(": 0)")),
                absl::StrCat("duplicate member \"", last, "\""));
  }
  // A large object nested in another, with a duplicate in the outer one afterwards.
  ExpectError(absl::StrCat(R"({"a": )", ManyMembers(40), R"(, "b": 1, "a": 2})"),
              "duplicate member \"a\"");
  ExpectOk(absl::StrCat(R"({"a": )", ManyMembers(40), R"(, "m0": )", ManyMembers(40), "}"));
}

TEST(StrictJsonTest, SameNameInDifferentObjectsIsFine) {
  ExpectOk(R"({"a": 1, "b": {"a": 2}})");
  ExpectOk(R"({"x": {"k": 1}, "y": {"k": 2}})");
  ExpectOk(R"([{"k": 1}, {"k": 2}])");
  ExpectOk(R"({"k": {"k": {"k": 1}}})");
  // Names differing only in case are different names.
  ExpectOk(R"({"kid": 1, "KID": 2})");
}

TEST(StrictJsonTest, DepthLimit) {
  const JsonLimits limits{.max_depth = 3};
  ExpectOk(NestedArrays(3), limits);
  ExpectOk(NestedObjects(3), limits);
  ExpectOk(R"({"a": [1, {"b": 2}], "c": [[3]]})", limits);
  ExpectError(NestedArrays(4), "nesting deeper than 3", limits);
  ExpectError(NestedObjects(4), "nesting deeper than 3", limits);
  ExpectError(R"({"a": [{"b": [1]}]})", "nesting deeper than 3", limits);
}

TEST(StrictJsonTest, DefaultDepthLimitIs32) {
  EXPECT_EQ(JsonLimits().max_depth, 32);
  ExpectOk(NestedArrays(32));
  ExpectError(NestedArrays(33), "nesting deeper than 32");
  ExpectError(NestedObjects(33), "nesting deeper than 32");
}

TEST(StrictJsonTest, VeryDeepInputFailsCleanly) {
  // Must not overflow the stack, even with a generous size limit.
  ExpectError(NestedArrays(200000), "nesting deeper", {.max_bytes = 1 << 20});
  ExpectError(std::string(200000, '['), "nesting deeper");
}

TEST(StrictJsonTest, SizeLimit) {
  const JsonLimits limits{.max_bytes = 10};
  ExpectOk("[1,2,3,4 ]", limits);  // Exactly 10 bytes.
  ExpectError("[1,2,3,4  ]", "larger than 10 bytes", limits);
  EXPECT_EQ(JsonLimits().max_bytes, size_t{1} << 20);
  const std::string big = absl::StrCat("\"", std::string((1 << 20) - 2, 'x'), "\"");
  ExpectOk(big);
  ExpectError(big + " ", "larger than");
}

TEST(StrictJsonTest, RejectsTrailingContent) {
  ExpectError("{} x", "syntax error");
  ExpectError("{}{}", "syntax error");
  ExpectError("[]]", "syntax error");
  ExpectError("1 2", "syntax error");
  ExpectError(R"({"a": 1}})", "syntax error");
}

TEST(StrictJsonTest, RejectsNulBytes) {
  // nlohmann's lexer stops at a NUL byte as if the input ended there.
  ExpectError(Bytes("{}\0"), "syntax error");
  ExpectError(Bytes("{\"keys\": []}\0{\"keys\": 1}"), "syntax error");
  ExpectError(Bytes("1\0 2"), "syntax error");
  ExpectError(Bytes("\"a\0b\""), "syntax error");
  ExpectError(Bytes("\0"), "syntax error");
  // An escaped NUL inside a string is valid JSON.
  nlohmann::json doc = ExpectOk(R"({"s": "a\u0000b"})");
  EXPECT_EQ(doc["s"].get<std::string>(), Bytes("a\0b"));
}

TEST(StrictJsonTest, RejectsSyntaxErrors) {
  const std::vector<std::string> bad = {
      "",
      " ",
      "{",
      "[1,]",
      R"({"a": 1,})",
      R"({"a": })",
      R"({"a" 1})",
      "{'a': 1}",
      "{a: 1}",
      "nul",
      "NaN",
      "Infinity",
      "01",
      "+1",
      "0x10",
      "// comment\n{}",
      "/* comment */ {}",
      "\"unterminated",
      "\"tab\tinside\"",
      "\"\xff\"",     // Invalid UTF-8.
      "\"\\ud800\"",  // Lone surrogate.
      "\"\\x41\"",    // Not a JSON escape.
  };
  for (const std::string& text : bad) {
    SCOPED_TRACE(text);
    ExpectError(text, "json: syntax error");
  }
}

TEST(StrictJsonTest, TypeNames) {
  EXPECT_STREQ(JsonTypeName(nlohmann::json::object()), "object");
  EXPECT_STREQ(JsonTypeName(nlohmann::json::array()), "array");
  EXPECT_STREQ(JsonTypeName(nlohmann::json("s")), "string");
  EXPECT_STREQ(JsonTypeName(nlohmann::json(1)), "number");
  EXPECT_STREQ(JsonTypeName(nlohmann::json(1.5)), "number");
  EXPECT_STREQ(JsonTypeName(nlohmann::json(true)), "boolean");
  EXPECT_STREQ(JsonTypeName(nlohmann::json(nullptr)), "null");
}

// ---------------------------------------------------------------------------------------------
// VisitStrictJsonObject: the same rules, members handed over one by one.

struct Visited {
  std::vector<std::pair<std::string, nlohmann::json>> members;
  absl::Status status;
};

Visited Visit(absl::string_view text, JsonLimits limits = {}) {
  Visited out;
  out.status = VisitStrictJsonObject(text, limits, [&](absl::string_view name, nlohmann::json& v) {
    out.members.emplace_back(std::string(name), std::move(v));
    return absl::OkStatus();
  });
  return out;
}

TEST(VisitStrictJsonObjectTest, HandsOverEveryMemberInOrder) {
  Visited v = Visit(R"( {"b": 1, "a": [true, {"x": null}], "c": {"d": {"e": "f"}}, "g": "h"} )");
  ASSERT_TRUE(v.status.ok()) << v.status;
  ASSERT_EQ(v.members.size(), 4u);
  EXPECT_EQ(v.members[0].first, "b");
  EXPECT_EQ(v.members[0].second, 1);
  EXPECT_EQ(v.members[1].first, "a");
  EXPECT_EQ(v.members[1].second, nlohmann::json::parse(R"([true, {"x": null}])"));
  EXPECT_EQ(v.members[2].first, "c");
  EXPECT_EQ(v.members[2].second, nlohmann::json::parse(R"({"d": {"e": "f"}})"));
  EXPECT_EQ(v.members[3].first, "g");
  EXPECT_EQ(v.members[3].second, "h");
}

TEST(VisitStrictJsonObjectTest, EmptyObjectVisitsNothing) {
  Visited v = Visit("{}");
  EXPECT_TRUE(v.status.ok()) << v.status;
  EXPECT_TRUE(v.members.empty());
}

TEST(VisitStrictJsonObjectTest, RootMustBeAnObject) {
  for (const char* text : {"[]", "[{\"a\":1}]", "\"a\"", "1", "null", "true"}) {
    SCOPED_TRACE(text);
    Visited v = Visit(text);
    EXPECT_EQ(v.status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(v.status.message(), HasSubstr("not a json object"));
  }
}

TEST(VisitStrictJsonObjectTest, EnforcesTheStrictRules) {
  struct Case {
    std::string text;
    const char* want;
  };
  const Case cases[] = {
      {R"({"a":1,"a":2})", "duplicate member \"a\""},
      {R"({"a":{"b":1,"b":1}})", "duplicate member \"b\""},
      {R"({"a":[{"b":1,"b":1}]})", "duplicate member \"b\""},
      {R"({"a":1} x)", "syntax error"},
      {R"({"a":1)", "syntax error"},
      {Bytes("{\"a\":1}\0"), "syntax error"},
      {NestedObjects(5), "nesting deeper than 4"},
      {R"({"a":[[[[]]]]})", "nesting deeper than 4"},
      {R"({"a":1e400})", "number overflow"},
      {R"({"a":-1e400})", "number overflow"},
      {R"({"a":01})", "syntax error"},
      {R"({"a":1.})", "syntax error"},
      {R"({"a":"\ud800"})", "syntax error"},
      {R"({"a":"\udc00"})", "syntax error"},
      {"{\"a\":\"\xc0\xaf\"}", "syntax error"},
      {"{\"a\":\"\xed\xa0\x80\"}", "syntax error"},
      {"{\"a\":\"\x01\"}", "syntax error"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    Visited v = Visit(c.text, {.max_depth = 4});
    EXPECT_EQ(v.status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(v.status.message(), HasSubstr(c.want));
  }
  EXPECT_TRUE(Visit(NestedObjects(4), {.max_depth = 4}).status.ok());
  EXPECT_TRUE(Visit(R"({"a":1e-400,"b":18446744073709551616,"c":"\ud83d\ude00"})").status.ok());
  EXPECT_THAT(Visit(R"({"a":"0123456789"})", {.max_bytes = 10}).status.message(),
              HasSubstr("larger than 10 bytes"));
}

TEST(VisitStrictJsonObjectTest, VisitorErrorStopsTheParse) {
  int calls = 0;
  absl::Status status = VisitStrictJsonObject(
      R"({"a":1,"stop":[1],"b":2})", {}, [&](absl::string_view name, nlohmann::json&) {
        ++calls;
        return name == "stop" ? absl::FailedPreconditionError("stopped here") : absl::OkStatus();
      });
  EXPECT_EQ(status, absl::FailedPreconditionError("stopped here"));
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace signet
