#include "src/common/yaml_syntax.h"

#include <yaml.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"

namespace signet {
namespace {

struct ParserDeleter {
  void operator()(yaml_parser_t* parser) const {
    yaml_parser_delete(parser);
    delete parser;
  }
};
using ParserPtr = std::unique_ptr<yaml_parser_t, ParserDeleter>;

struct Event {
  yaml_event_t event{};
  bool owned = false;
  ~Event() {
    if (owned) yaml_event_delete(&event);
  }
};

int Line(const yaml_mark_t& mark) { return static_cast<int>(mark.line) + 1; }

// Deeper than any configuration needs.
constexpr int kMaxDepth = 64;

// The plain scalars YAML reads as null.
bool IsNullWord(absl::string_view value) {
  return value.empty() || value == "~" || value == "null" || value == "Null" || value == "NULL";
}

}  // namespace

bool CheckYamlSyntax(absl::string_view text, ConfigProblems* problems) {
  ParserPtr parser(new yaml_parser_t);
  if (yaml_parser_initialize(parser.get()) != 1) {
    delete parser.release();
    problems->push_back({0, "", "invalid YAML: cannot start the parser"});
    return false;
  }
  yaml_parser_set_input_string(parser.get(), reinterpret_cast<const unsigned char*>(text.data()),
                               text.size());
  int documents = 0;
  int depth = 0;
  bool at_root = false;
  while (true) {
    Event e;
    if (yaml_parser_parse(parser.get(), &e.event) != 1) {
      const char* problem = parser->problem != nullptr ? parser->problem : "syntax error";
      problems->push_back(
          {Line(parser->problem_mark), "", absl::StrCat("invalid YAML: ", problem)});
      return false;
    }
    e.owned = true;
    const yaml_event_type_t type = e.event.type;
    if (type == YAML_STREAM_END_EVENT) {
      return true;
    }
    if (type == YAML_MAPPING_START_EVENT || type == YAML_SEQUENCE_START_EVENT) {
      // Checked as the events come: libyaml's scanner slows down quadratically with the depth
      // of unclosed flow collections ("[[[[..."), so deep input must stop early.
      if (++depth > kMaxDepth) {
        problems->push_back({Line(e.event.start_mark), "", "invalid YAML: nesting is too deep"});
        return false;
      }
    } else if (type == YAML_MAPPING_END_EVENT || type == YAML_SEQUENCE_END_EVENT) {
      --depth;
    }
    if (type == YAML_DOCUMENT_START_EVENT) {
      if (++documents > 1) {
        problems->push_back(
            {Line(e.event.start_mark), "", "only one YAML document is allowed (remove \"---\")"});
        return false;
      }
      at_root = true;
      continue;
    }
    if (!at_root) {
      continue;
    }
    at_root = false;
    if (type == YAML_MAPPING_START_EVENT) {
      continue;
    }
    if (type == YAML_SCALAR_EVENT && e.event.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        IsNullWord(absl::string_view(reinterpret_cast<const char*>(e.event.data.scalar.value),
                                     e.event.data.scalar.length))) {
      continue;  // an empty document ("---" alone, "~")
    }
    problems->push_back({Line(e.event.start_mark), "",
                         absl::StrCat("the configuration must be a map of keys, not ",
                                      type == YAML_SEQUENCE_START_EVENT ? "a list" : "a scalar")});
    return false;
  }
}

}  // namespace signet
