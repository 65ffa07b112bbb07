#include "src/common/strict_json.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/common/strict_json_internal.h"

namespace signet {
namespace {

// A SAX handler (nlohmann's json_sax interface) that builds the document and enforces the strict
// rules as it goes: one pass, no per-event std::function as the callback parser has.
class StrictDomBuilder {
 public:
  using json = nlohmann::json;

  StrictDomBuilder(json* root, int max_depth) : root_(root), max_depth_(max_depth) {}

  bool null() { return Add(nullptr) != nullptr; }
  bool boolean(bool v) { return Add(v) != nullptr; }
  bool number_integer(json::number_integer_t v) { return Add(v) != nullptr; }
  bool number_unsigned(json::number_unsigned_t v) { return Add(v) != nullptr; }
  bool number_float(json::number_float_t v, const json::string_t&) { return Add(v) != nullptr; }
  bool string(json::string_t& v) { return Add(std::move(v)) != nullptr; }
  bool binary(json::binary_t& v) { return Add(json::binary(std::move(v))) != nullptr; }
  bool start_object(std::size_t) { return Open(json::value_t::object); }
  bool start_array(std::size_t) { return Open(json::value_t::array); }

  bool key(json::string_t& name) {
    if (!names_.back().Insert(name)) {
      error_ = absl::StrCat("duplicate member \"", name, "\"");
      return false;
    }
    member_ = &(*containers_.back())[std::move(name)];
    return true;
  }

  bool end_object() {
    names_.pop_back();
    containers_.pop_back();
    return true;
  }

  bool end_array() {
    containers_.pop_back();
    return true;
  }

  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception&) {
    error_ = absl::StrCat("syntax error at byte ", position);
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  // Places `value` where the grammar says the next value goes and returns its address. Pointers
  // to open containers stay valid: an array only grows while none of its children is open, and
  // object members never move.
  json* Add(json value) {
    if (containers_.empty()) {
      *root_ = std::move(value);
      return root_;
    }
    json* top = containers_.back();
    if (top->is_array()) {
      top->push_back(std::move(value));
      return &top->back();
    }
    *member_ = std::move(value);
    return member_;
  }

  bool Open(json::value_t type) {
    if (static_cast<int>(containers_.size()) >= max_depth_) {
      error_ = absl::StrCat("nesting deeper than ", max_depth_);
      return false;
    }
    containers_.push_back(Add(json(type)));
    if (type == json::value_t::object) {
      names_.emplace_back();
    }
    return true;
  }

  json* root_;
  int max_depth_;
  std::vector<json*> containers_;                  // Open objects and arrays, innermost last.
  std::vector<json_internal::MemberNames> names_;  // Member names of each open object.
  json* member_ = nullptr;                         // Slot of the member whose key was just read.
  std::string error_;
};

}  // namespace

absl::StatusOr<nlohmann::json> ParseStrictJson(absl::string_view text, JsonLimits limits) {
  if (text.size() > limits.max_bytes) {
    return json_internal::TooLarge(limits);
  }
  // nlohmann's lexer takes a NUL byte for the end of input, so "{}\0garbage" would parse as "{}".
  // JSON text never contains a raw NUL (inside strings it must be escaped).
  if (text.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("json: syntax error (nul byte)");
  }
  nlohmann::json result;
  StrictDomBuilder builder(&result, limits.max_depth);
  if (!nlohmann::json::sax_parse(text.begin(), text.end(), &builder)) {
    return absl::InvalidArgumentError(
        absl::StrCat("json: ", builder.error().empty() ? "syntax error" : builder.error()));
  }
  return result;
}

const char* JsonTypeName(const nlohmann::json& value) { return value.type_name(); }

}  // namespace signet
