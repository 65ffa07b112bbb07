// A check of configuration text with libyaml, the reference YAML parser, before yaml-cpp reads
// it. yaml-cpp 0.7 (Debian 12) never returns, allocating without bound, on several invalid
// inputs (a ',' after a root that is not a block mapping, "{a} ,", "\"q\"\n,"; a '%' line that
// it takes for the start of a second document; found by fuzz/config_fuzz). So every syntax error
// is libyaml's to report, and yaml-cpp only sees one well-formed document whose root is a mapping
// or empty.
#ifndef SIGNET_COMMON_YAML_SYNTAX_H_
#define SIGNET_COMMON_YAML_SYNTAX_H_

#include "absl/strings/string_view.h"
#include "src/common/yaml_config.h"

namespace signet {

// True when `text` is well-formed YAML with at most one document, whose root is a mapping or
// empty. Otherwise false, with one problem added to `problems`: libyaml's message and line, a
// second document, or what the root is instead of a mapping.
bool CheckYamlSyntax(absl::string_view text, ConfigProblems* problems);

}  // namespace signet

#endif  // SIGNET_COMMON_YAML_SYNTAX_H_
