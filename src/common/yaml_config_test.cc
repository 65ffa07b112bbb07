// Tests of the YAML schema walker: conversions, unknown keys, lines, env expansion.
#include "src/common/yaml_config.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signet {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

auto Problem(int line, const std::string& path, const std::string& message_part) {
  return AllOf(Field("line", &ConfigProblem::line, line), Field("path", &ConfigProblem::path, path),
               Field("message", &ConfigProblem::message, HasSubstr(message_part)));
}

ConfigProblems Walk(absl::string_view text, absl::FunctionRef<void(ConfigMap&)> fn) {
  return WalkConfig(text, ConfigOptions{}, fn);
}

// ---------------------------------------------------------------- durations

struct DurationCase {
  const char* text;
  absl::Duration want;
};

TEST(ParseConfigDurationTest, AcceptsUnitsAndBareSeconds) {
  const DurationCase cases[] = {
      {"90s", absl::Seconds(90)},   {"5m", absl::Minutes(5)},
      {"1h", absl::Hours(1)},       {"720h", absl::Hours(720)},
      {"1h30m", absl::Minutes(90)}, {"1h30m15s", absl::Minutes(90) + absl::Seconds(15)},
      {"2m3s", absl::Seconds(123)}, {"1h5s", absl::Seconds(3605)},
      {"0", absl::ZeroDuration()},  {"0s", absl::ZeroDuration()},
      {"3600", absl::Hours(1)},     {"007s", absl::Seconds(7)},
  };
  for (const DurationCase& c : cases) {
    absl::StatusOr<absl::Duration> got = ParseConfigDuration(c.text);
    ASSERT_TRUE(got.ok()) << c.text << ": " << got.status();
    EXPECT_EQ(*got, c.want) << c.text;
  }
}

struct BadDurationCase {
  const char* text;
  const char* why;
};

TEST(ParseConfigDurationTest, RejectsNegativeOverflowAndGarbage) {
  const BadDurationCase cases[] = {
      {"", "empty"},
      {"-5m", "negative"},
      {"-1", "negative"},
      {"5x", "unknown unit \"x\""},
      {"1.5h", "unknown unit \".\""},
      {"h", "want a number of seconds"},
      {"m5", "want a number of seconds"},
      {"5m3", "want a number of seconds"},
      {"30m1h", "in the order h, m, s"},
      {"1h1h", "in the order h, m, s"},
      {"1h 30m", "want a number of seconds"},
      {"5 m", "unknown unit \" \""},
      {"+5m", "want a number of seconds"},
      {"5ms", "want a number of seconds"},
      {"1d", "unknown unit \"d\""},
      {"99999999999999999999", "too large"},
      {"9223372036854775807h", "too large"},
      {"2562047788015215h1000m", "too large"},
  };
  for (const BadDurationCase& c : cases) {
    absl::StatusOr<absl::Duration> got = ParseConfigDuration(c.text);
    ASSERT_FALSE(got.ok()) << c.text << " parsed as " << *got;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(got.status().message(), HasSubstr(c.why)) << c.text;
    EXPECT_THAT(got.status().message(), HasSubstr(absl::StrCat("\"", c.text, "\""))) << c.text;
  }
}

// ---------------------------------------------------------------- environment expansion

TEST(ExpandEnvTest, ReplacesReferencesAndKeepsEscapes) {
  ConfigProblems problems;
  const std::string out = ExpandEnv(
      "a: ${A}\nb: ${A}-${B_2}\nc: $${A} and $$ and $x and $\n# ${UNDEFINED} in a comment\n  "
      "# ${ALSO} indented\nd: 1 # ${B_2} trailing comments are expanded\n",
      MapEnvLookup({{"A", "one"}, {"B_2", ""}}), &problems);
  EXPECT_THAT(problems, IsEmpty());
  EXPECT_EQ(out,
            "a: one\nb: one-\nc: ${A} and $$ and $x and $\n# ${UNDEFINED} in a comment\n  "
            "# ${ALSO} indented\nd: 1 #  trailing comments are expanded\n");
}

TEST(ExpandEnvTest, ReportsEveryBadReferenceWithItsLine) {
  ConfigProblems problems;
  const std::string text =
      "a: ${MISSING}\n"
      "b: ok\n"
      "c: ${1BAD} ${ALSO_MISSING}\n"
      "d: ${MULTI}\n"
      "e: ${UNTERMINATED\n"
      "f: ${}\n";
  const std::string out = ExpandEnv(text, MapEnvLookup({{"MULTI", "x\ny"}}), &problems);
  EXPECT_THAT(problems,
              ElementsAre(Problem(1, "", "undefined environment variable \"MISSING\""),
                          Problem(3, "", "invalid environment variable name \"1BAD\""),
                          Problem(3, "", "undefined environment variable \"ALSO_MISSING\""),
                          Problem(4, "", "\"MULTI\" contains a line break"),
                          Problem(5, "", "unterminated \"${\""),
                          Problem(6, "", "invalid environment variable name \"\"")));
  EXPECT_EQ(out, text);  // failed references stay in place, so lines do not move
}

TEST(ExpandEnvTest, RefusesNulInValue) {
  ConfigProblems problems;
  ExpandEnv("a: ${N}", MapEnvLookup({{"N", std::string("a\0b", 3)}}), &problems);
  EXPECT_THAT(problems, ElementsAre(Problem(1, "", "NUL")));
}

TEST(WalkConfigTest, ExpandsOnlyWhenAsked) {
  const std::string text = "name: ${NAME}\n";
  std::string name;
  auto read = [&name](ConfigMap& root) { root.GetString("name", &name); };

  EXPECT_THAT(WalkConfig(text, {}, read), IsEmpty());
  EXPECT_EQ(name, "${NAME}");

  const ConfigOptions options{.expand_env = true, .env_lookup = MapEnvLookup({{"NAME", "signet"}})};
  EXPECT_THAT(WalkConfig(text, options, read), IsEmpty());
  EXPECT_EQ(name, "signet");
}

TEST(WalkConfigTest, UndefinedVariableIsReportedOnceAndOtherLinesStillChecked) {
  const ConfigOptions options{.expand_env = true, .env_lookup = MapEnvLookup({})};
  ConfigProblems problems =
      WalkConfig("port: ${PORT}\nother: 1\nflag: maybe\n", options, [](ConfigMap& root) {
        int64_t port = 0;
        bool flag = false;
        root.GetInt("port", &port);
        root.GetBool("flag", &flag);
      });
  EXPECT_THAT(problems, ElementsAre(Problem(1, "", "undefined environment variable \"PORT\""),
                                    Problem(2, "other", "unknown key \"other\""),
                                    Problem(3, "flag", "must be true or false")));
}

// ---------------------------------------------------------------- documents

TEST(WalkConfigTest, SyntaxErrorIsOneProblemWithItsLine) {
  bool called = false;
  ConfigProblems problems =
      Walk("a: 1\nb: [1, 2\nc: 3\n", [&called](ConfigMap&) { called = true; });
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_GE(problems[0].line, 2);
  EXPECT_THAT(problems[0].message, HasSubstr("invalid YAML"));
  EXPECT_FALSE(called);

  EXPECT_THAT(Walk("a: 1\n  b: 2\n", [](ConfigMap&) {}),
              ElementsAre(Problem(2, "", "invalid YAML: mapping values are not allowed")));
}

TEST(WalkConfigTest, DeepNestingIsAProblemNotACrash) {
  for (const std::string& text : {"a: " + std::string(100000, '['), "a: " + std::string(65, '['),
                                  std::string(100000, '{'), [] {
                                    std::string nested = "a:\n";
                                    for (int i = 0; i < 100; ++i) nested += "- ";
                                    return nested + "x";
                                  }()}) {
    ConfigProblems problems = Walk(text, [](ConfigMap&) {});
    ASSERT_EQ(problems.size(), 1u) << text.substr(0, 20);
    EXPECT_THAT(problems[0].message, HasSubstr("nesting is too deep")) << text.substr(0, 20);
  }
  // 64 levels are fine (and then unclosed: a syntax error, not a depth one).
  ConfigProblems problems = Walk("a: " + std::string(63, '['), [](ConfigMap&) {});
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0].message, Not(HasSubstr("nesting")));
}

TEST(WalkConfigTest, RejectsDocumentsThatAreNotOneMap) {
  // The problem points at the second document's marker.
  EXPECT_THAT(Walk("a: 1\n---\nb: 2\n", [](ConfigMap&) {}),
              ElementsAre(Problem(2, "", "only one YAML document")));
  EXPECT_THAT(Walk("- a\n- b\n", [](ConfigMap&) {}),
              ElementsAre(Problem(1, "", "must be a map of keys, not a list")));
  EXPECT_THAT(Walk("just text\n", [](ConfigMap&) {}),
              ElementsAre(Problem(1, "", "must be a map of keys, not a scalar")));
  EXPECT_THAT(Walk(std::string(kMaxConfigBytes + 1, '#'), [](ConfigMap&) {}),
              ElementsAre(Problem(0, "", "larger than")));
}

TEST(WalkConfigTest, EmptyDocumentIsAnEmptyMap) {
  for (const char* text : {"", "# only a comment\n", "~\n"}) {
    ConfigProblems problems = Walk(text, [](ConfigMap& root) {
      std::string value = "default";
      EXPECT_TRUE(root.GetString("optional", &value));
      EXPECT_EQ(value, "default");
      root.GetString("needed", &value, Need::kRequired);
    });
    EXPECT_THAT(problems, ElementsAre(Problem(0, "needed", "required key is missing"))) << text;
  }
}

// ---------------------------------------------------------------- keys

TEST(WalkConfigTest, ReportsUnknownKeysAtEveryDepthWithLines) {
  const std::string text =
      "known: 1\n"      // 1
      "extra: 2\n"      // 2
      "outer:\n"        // 3
      "  inner:\n"      // 4
      "    leaf: x\n"   // 5
      "    stray: y\n"  // 6
      "  wrong: z\n"    // 7
      "list: [a]\n";    // 8
  ConfigProblems problems = Walk(text, [](ConfigMap& root) {
    int64_t known = 0;
    root.GetInt("known", &known);
    root.GetMap("outer", [](ConfigMap& outer) {
      outer.GetMap("inner", [](ConfigMap& inner) {
        std::string leaf;
        inner.GetString("leaf", &leaf);
      });
    });
  });
  EXPECT_THAT(problems, ElementsAre(Problem(2, "extra", "unknown key \"extra\""),
                                    Problem(6, "outer.inner.stray", "unknown key \"stray\""),
                                    Problem(7, "outer.wrong", "unknown key \"wrong\""),
                                    Problem(8, "list", "unknown key \"list\"")));
}

TEST(WalkConfigTest, SuggestsNearKnownKeys) {
  ConfigProblems problems = Walk("drvier: x\nzzz: y\n", [](ConfigMap& root) {
    std::string s;
    root.GetString("driver", &s);
  });
  EXPECT_THAT(problems, ElementsAre(Problem(1, "drvier", "(did you mean \"driver\"?)"),
                                    Problem(2, "zzz", "unknown key \"zzz\"")));
  EXPECT_THAT(problems[1].message, Not(HasSubstr("did you mean")));
}

TEST(WalkConfigTest, RejectsDuplicateAndNonStringKeys) {
  ConfigProblems problems = Walk("a: 1\nb: 2\na: 3\n? [x]\n: 4\n", [](ConfigMap& root) {
    int64_t a = 0;
    int64_t b = 0;
    EXPECT_TRUE(root.GetInt("a", &a));
    EXPECT_EQ(a, 1);
    root.GetInt("b", &b);
  });
  EXPECT_THAT(problems, ElementsAre(Problem(3, "a", "duplicate key \"a\""),
                                    Problem(4, "", "map keys must be strings")));
}

TEST(WalkConfigTest, ForEachUnknownKeyVisitsRemainingKeysInFileOrder) {
  std::vector<std::string> seen;
  ConfigProblems problems = Walk("plugins:\n  b: {}\n  a: {}\n  c: 1\n", [&](ConfigMap& root) {
    root.GetMap("plugins", [&](ConfigMap& plugins) {
      plugins.ForEachUnknownKey([&](absl::string_view key) {
        seen.emplace_back(key);
        if (key == "c") {
          plugins.AddProblem(key, "not a plugin");
        }
      });
    });
  });
  EXPECT_THAT(seen, ElementsAre("b", "a", "c"));
  EXPECT_THAT(problems, ElementsAre(Problem(4, "plugins.c", "not a plugin")));
}

// ---------------------------------------------------------------- typed getters

// Runs one getter on `value` (as the document "key: <value>") and returns the problems.
template <typename Fn>
ConfigProblems One(const std::string& value, Fn fn) {
  return Walk(absl::StrCat("key: ", value, "\n"), [&fn](ConfigMap& root) { fn(root); });
}

TEST(ConfigMapTest, GetString) {
  std::string out = "default";
  auto get = [&out](ConfigMap& m) { m.GetString("key", &out); };
  EXPECT_THAT(One("hello world", get), IsEmpty());
  EXPECT_EQ(out, "hello world");
  EXPECT_THAT(One("8081", get), IsEmpty());
  EXPECT_EQ(out, "8081");
  EXPECT_THAT(One("\"\"", get), IsEmpty());
  EXPECT_EQ(out, "");
  EXPECT_THAT(One("", get), ElementsAre(Problem(1, "key", "value is missing (want a string)")));
  EXPECT_THAT(One("{a: 1}", get), ElementsAre(Problem(1, "key", "must be a string, not a map")));
  EXPECT_THAT(One("[a]", get), ElementsAre(Problem(1, "key", "must be a string, not a list")));
  EXPECT_THAT(One("\"a\\0b\"", get), ElementsAre(Problem(1, "key", "NUL")));
}

TEST(ConfigMapTest, RequiredAndOptional) {
  std::string out = "default";
  ConfigProblems problems = Walk("m:\n  x: 1\n", [&out](ConfigMap& root) {
    EXPECT_TRUE(root.GetString("absent", &out));
    EXPECT_EQ(out, "default");
    root.GetMap("m", [&out](ConfigMap& m) {
      int64_t x = 0;
      m.GetInt("x", &x);
      EXPECT_FALSE(m.GetString("needed", &out, Need::kRequired));
    });
    EXPECT_FALSE(root.GetString("also_needed", &out, Need::kRequired));
  });
  // A missing key is reported at the line of the map that should hold it.
  EXPECT_THAT(problems, ElementsAre(Problem(0, "also_needed", "required key is missing"),
                                    Problem(1, "m.needed", "required key is missing")));
}

TEST(ConfigMapTest, GetBool) {
  bool out = false;
  auto get = [&out](ConfigMap& m) { m.GetBool("key", &out); };
  for (const char* yes : {"true", "True", "TRUE"}) {
    out = false;
    EXPECT_THAT(One(yes, get), IsEmpty());
    EXPECT_TRUE(out) << yes;
  }
  for (const char* no : {"false", "False", "FALSE"}) {
    out = true;
    EXPECT_THAT(One(no, get), IsEmpty());
    EXPECT_FALSE(out) << no;
  }
  for (const char* bad : {"yes", "on", "1", "t"}) {
    EXPECT_THAT(One(bad, get), ElementsAre(Problem(1, "key", "must be true or false"))) << bad;
  }
}

TEST(ConfigMapTest, GetIntChecksSyntaxAndRange) {
  int64_t out = 0;
  auto get = [&out](ConfigMap& m) { m.GetInt("key", &out, {.min = -5, .max = 65535}); };
  EXPECT_THAT(One("65535", get), IsEmpty());
  EXPECT_EQ(out, 65535);
  EXPECT_THAT(One("-5", get), IsEmpty());
  EXPECT_EQ(out, -5);
  EXPECT_THAT(One("0", get), IsEmpty());
  EXPECT_EQ(out, 0);
  EXPECT_THAT(One("65536", get),
              ElementsAre(Problem(1, "key", "must be between -5 and 65535, not 65536")));
  EXPECT_THAT(One("-6", get), ElementsAre(Problem(1, "key", "must be between -5 and 65535")));
  for (const char* bad : {"0x10", "1e3", "1.0", "0755", "+1", "abc", "--1", "1 2"}) {
    EXPECT_THAT(One(bad, get), ElementsAre(Problem(1, "key", "must be a decimal integer"))) << bad;
  }
  EXPECT_THAT(One("99999999999999999999", get), ElementsAre(Problem(1, "key", "out of range")));
  int64_t unbounded = 0;
  EXPECT_THAT(One("-1", [&](ConfigMap& m) { m.GetInt("key", &unbounded, {.min = 0}); }),
              ElementsAre(Problem(1, "key", "must be at least 0, not -1")));
}

TEST(ConfigMapTest, GetDurationChecksRange) {
  absl::Duration out;
  auto get = [&out](ConfigMap& m) {
    m.GetDuration("key", &out, {.min = absl::Minutes(1), .max = absl::Hours(24)});
  };
  EXPECT_THAT(One("1h30m", get), IsEmpty());
  EXPECT_EQ(out, absl::Minutes(90));
  EXPECT_THAT(One("60", get), IsEmpty());
  EXPECT_EQ(out, absl::Minutes(1));
  EXPECT_THAT(One("59s", get),
              ElementsAre(Problem(1, "key", "must be between 1m and 24h, not 59s")));
  EXPECT_THAT(One("25h", get), ElementsAre(Problem(1, "key", "must be between 1m and 24h")));
  EXPECT_THAT(One("-1m", get), ElementsAre(Problem(1, "key", "must not be negative")));
  EXPECT_THAT(One("soon", get), ElementsAre(Problem(1, "key", "invalid duration \"soon\"")));
  EXPECT_THAT(One("[1h]", get), ElementsAre(Problem(1, "key", "must be a duration, not a list")));
}

enum class Color { kRed, kGreen };

TEST(ConfigMapTest, GetEnum) {
  Color out = Color::kRed;
  auto get = [&out](ConfigMap& m) {
    m.GetEnum("key", &out, {{"red", Color::kRed}, {"green", Color::kGreen}});
  };
  EXPECT_THAT(One("green", get), IsEmpty());
  EXPECT_EQ(out, Color::kGreen);
  EXPECT_THAT(One("Green", get),
              ElementsAre(Problem(1, "key", "must be one of red, green, not \"Green\"")));
  EXPECT_EQ(out, Color::kGreen);
}

TEST(ConfigMapTest, GetStringListReportsEachBadItemAtItsLine) {
  std::vector<std::string> out = {"default"};
  ConfigProblems problems = Walk("key:\n  - a\n  - [b]\n  - c\n  - {d: 1}\n",
                                 [&](ConfigMap& m) { EXPECT_FALSE(m.GetStringList("key", &out)); });
  EXPECT_THAT(problems, ElementsAre(Problem(3, "key[1]", "must be a string, not a list"),
                                    Problem(5, "key[3]", "must be a string, not a map")));
  EXPECT_THAT(out, ElementsAre("default"));  // untouched on failure

  EXPECT_THAT(One("[x, y]", [&](ConfigMap& m) { m.GetStringList("key", &out); }), IsEmpty());
  EXPECT_THAT(out, ElementsAre("x", "y"));
  EXPECT_THAT(One("[]", [&](ConfigMap& m) { m.GetStringList("key", &out); }), IsEmpty());
  EXPECT_THAT(out, IsEmpty());
  EXPECT_THAT(One("x", [&](ConfigMap& m) { m.GetStringList("key", &out); }),
              ElementsAre(Problem(1, "key", "must be a list, not a scalar")));
  EXPECT_THAT(One("", [&](ConfigMap& m) { m.GetStringList("key", &out); }),
              ElementsAre(Problem(1, "key", "value is missing (want a list)")));
}

TEST(ConfigMapTest, GetMapAcceptsNullAndRejectsOtherKinds) {
  bool called = false;
  auto get = [&called](ConfigMap& m) { m.GetMap("key", [&called](ConfigMap&) { called = true; }); };
  EXPECT_THAT(One("", get), IsEmpty());
  EXPECT_TRUE(called);
  called = false;
  EXPECT_THAT(One("[1]", get), ElementsAre(Problem(1, "key", "must be a map, not a list")));
  EXPECT_FALSE(called);
  EXPECT_THAT(Walk("", get), IsEmpty());
  EXPECT_FALSE(called);
}

TEST(ConfigMapTest, RawSubTreeIsWalkedLaterWithOriginalLines) {
  RawConfig raw;
  ConfigProblems problems = Walk(
      "plugins:\n"         // 1
      "  jwt:\n"           // 2
      "    audience: a\n"  // 3
      "    ttl: 5x\n"      // 4
      "    bogus: 1\n",    // 5
      [&raw](ConfigMap& root) {
        root.GetMap("plugins", [&raw](ConfigMap& p) { EXPECT_TRUE(p.GetRaw("jwt", &raw)); });
      });
  EXPECT_THAT(problems, IsEmpty());  // the plugin's keys are not checked by the walk
  EXPECT_EQ(raw.path, "plugins.jwt");
  EXPECT_EQ(raw.line, 2);

  std::string audience;
  ConfigProblems plugin_problems = WalkRawConfig(raw, [&](ConfigMap& m) {
    m.GetString("audience", &audience, Need::kRequired);
    absl::Duration ttl;
    m.GetDuration("ttl", &ttl);
    std::string issuer;
    m.GetString("issuer", &issuer, Need::kRequired);
  });
  EXPECT_EQ(audience, "a");
  EXPECT_THAT(plugin_problems,
              ElementsAre(Problem(2, "plugins.jwt.issuer", "required key is missing"),
                          Problem(4, "plugins.jwt.ttl", "invalid duration"),
                          Problem(5, "plugins.jwt.bogus", "unknown key \"bogus\"")));

  RawConfig empty;
  EXPECT_THAT(One("", [&](ConfigMap& m) { m.GetRaw("key", &empty); }), IsEmpty());
  EXPECT_TRUE(empty.node.IsNull());
  EXPECT_THAT(WalkRawConfig(empty, [](ConfigMap&) {}), IsEmpty());
  EXPECT_THAT(One("[1]", [&](ConfigMap& m) { m.GetRaw("key", &empty); }),
              ElementsAre(Problem(1, "key", "must be a map, not a list")));
}

TEST(ConfigMapTest, ValueOnTheNextLineIsReportedThere) {
  int64_t out = 0;
  EXPECT_THAT(Walk("a: 1\nkey:\n  nope\n",
                   [&out](ConfigMap& m) {
                     int64_t a = 0;
                     m.GetInt("a", &a);
                     m.GetInt("key", &out);
                   }),
              ElementsAre(Problem(3, "key", "must be a decimal integer")));
}

TEST(WalkConfigTest, CollectsEveryProblemSortedByLine) {
  const std::string text =
      "count: many\n"      // 1
      "name: [x]\n"        // 2
      "sub:\n"             // 3
      "  when: never\n"    // 4
      "  flag: perhaps\n"  // 5
      "typo: 1\n";         // 6
  ConfigProblems problems = Walk(text, [](ConfigMap& root) {
    std::string name;
    int64_t count = 0;
    // Asked for out of file order: the result is still sorted by line.
    root.GetMap("sub", [](ConfigMap& sub) {
      bool flag = false;
      absl::Duration when;
      sub.GetBool("flag", &flag);
      sub.GetDuration("when", &when);
    });
    root.GetString("name", &name);
    root.GetInt("count", &count);
    root.GetString("required", &name, Need::kRequired);
  });
  EXPECT_THAT(problems, ElementsAre(Problem(0, "required", "required key is missing"),
                                    Problem(1, "count", "must be a decimal integer"),
                                    Problem(2, "name", "must be a string, not a list"),
                                    Problem(4, "sub.when", "invalid duration"),
                                    Problem(5, "sub.flag", "must be true or false"),
                                    Problem(6, "typo", "unknown key \"typo\"")));
}

// ---------------------------------------------------------------- formatting

TEST(ConfigProblemTest, FormatsWithSourceLineAndPath) {
  const ConfigProblem with_line{.line = 3, .path = "datastore.driver", .message = "bad"};
  EXPECT_EQ(with_line.ToString(), "line 3: datastore.driver: bad");
  EXPECT_EQ(with_line.ToString("server.yaml"), "server.yaml:3: datastore.driver: bad");
  const ConfigProblem no_line{.line = 0, .path = "trust_domain", .message = "missing"};
  EXPECT_EQ(no_line.ToString(), "trust_domain: missing");
  EXPECT_EQ(no_line.ToString("s.yaml"), "s.yaml: trust_domain: missing");
  const ConfigProblem document{.line = 2, .path = "", .message = "invalid YAML: x"};
  EXPECT_EQ(document.ToString(), "line 2: invalid YAML: x");
}

TEST(ConfigProblemTest, ProblemsToStatusListsAllOfThem) {
  EXPECT_TRUE(ProblemsToStatus({}).ok());
  absl::Status status = ProblemsToStatus(
      {{.line = 1, .path = "a", .message = "x"}, {.line = 2, .path = "b", .message = "y"}},
      "f.yaml");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "f.yaml:1: a: x\nf.yaml:2: b: y");
}

TEST(ProcessEnvLookupTest, ReadsTheProcessEnvironment) {
  // Hermetic: sets a variable only this test uses.
  ASSERT_EQ(setenv("SIGNET_YAML_CONFIG_TEST_VAR", "v", 1), 0);
  EXPECT_EQ(ProcessEnvLookup()("SIGNET_YAML_CONFIG_TEST_VAR"), "v");
  unsetenv("SIGNET_YAML_CONFIG_TEST_VAR");
  EXPECT_EQ(ProcessEnvLookup()("SIGNET_YAML_CONFIG_TEST_VAR"), std::nullopt);
}

}  // namespace
}  // namespace signet

namespace signet {
namespace {

// yaml-cpp 0.7 loops forever on these (fuzz/config_fuzz found the first); they must come back as
// problems at once.
TEST(WalkConfigTest, DocumentStartingWithCommaIsAProblemNotAHang) {
  for (const char* text :
       {",", ",a: 1", "\n  ,", "# c\n,", "---\n,", "--- ,", "%YAML 1.2\n---\n,", "\t,",
        // After node properties (tags, anchors), on the same line or a later one.
        "!debug, x", "!a ,", "&a ,", "!a\n,", "!t\n  ,", "!t # c\n,", "---\n!t ,", "--- !t ,",
        " !t ,", "!<tag:x> ,", "&x !t , y", "!!str ,"}) {
    ConfigProblems problems = WalkConfig(text, {}, [](ConfigMap&) {});
    ASSERT_EQ(problems.size(), 1u) << text;
    EXPECT_THAT(problems[0].message, ::testing::HasSubstr("cannot start with ','")) << text;
  }
}

// More yaml-cpp 0.7 hangs: a ',' after a root that is not a block mapping. libyaml looks first.
TEST(WalkConfigTest, CommaAfterANonMappingRootIsAProblemNotAHang) {
  for (const char* text : {"{a} ,", "[a] ,", "{a}, b", "{a}\n,", "{a}\n  ,", "\"q\"\n,", "'q' ,",
                           "|\n x\n,", "!t \"q\" ,", "&a [b] ,", "!t g, x\n{D}\n,u"}) {
    ConfigProblems problems = WalkConfig(text, {}, [](ConfigMap&) {});
    ASSERT_EQ(problems.size(), 1u) << text;
    EXPECT_THAT(problems[0].message,
                ::testing::AnyOf(::testing::HasSubstr("invalid YAML"),
                                 ::testing::HasSubstr("must be a map of keys")))
        << text;
  }
  // A flow mapping root that parses is still a configuration.
  ConfigProblems problems = WalkConfig("{a: 1}", {}, [](ConfigMap& m) { m.ReportUnknownKeys(); });
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0].message, ::testing::HasSubstr("unknown key \"a\""));
}

TEST(WalkConfigTest, NodePropertiesBeforeRealContentStillParse) {
  for (const char* text : {"!t\nx: 1", "&a\nx: 1", "!!map\nx: 1"}) {
    ConfigProblems problems = WalkConfig(text, {}, [](ConfigMap& m) { m.ReportUnknownKeys(); });
    ASSERT_EQ(problems.size(), 1u) << text;
    EXPECT_THAT(problems[0].message, ::testing::HasSubstr("unknown key \"x\"")) << text;
  }
}

TEST(WalkConfigTest, DocumentMarkersOnlyAroundOneDocument) {
  for (const char* ok : {"---\na: 1\n", "# c\n---\na: 1\n", "a: 1\n...\n", "a: 1\n...\n# end\n",
                         "%YAML 1.2\n---\na: 1\n"}) {
    ConfigProblems problems = WalkConfig(ok, {}, [](ConfigMap& m) { (void)m.Get("a"); });
    EXPECT_TRUE(problems.empty()) << ok << ": " << problems[0].message;
  }
  for (const char* bad :
       {"a: 1\n---\nb: 2\n", "a: 1\n...\n,", "---\n---\n,", "a: 1\n...\nb: 2\n"}) {
    ConfigProblems problems = WalkConfig(bad, {}, [](ConfigMap&) {});
    ASSERT_FALSE(problems.empty()) << bad;
    EXPECT_THAT(problems[0].message, ::testing::HasSubstr("only one YAML document")) << bad;
  }
}

}  // namespace
}  // namespace signet
