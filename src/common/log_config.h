// The `log: {level, format}` section that the server's and the agent's config files share.
#ifndef SIGNET_COMMON_LOG_CONFIG_H_
#define SIGNET_COMMON_LOG_CONFIG_H_

#include "src/common/logging.h"
#include "src/common/yaml_config.h"

namespace signet {

// Reads `log` from `root` when present (level: debug|info|warn|error, format: text|json); each
// value keeps what `*level` / `*format` hold when absent. Problems go to the walk as usual.
void ReadLogSection(ConfigMap& root, LogLevel* level, LogFormat* format);

}  // namespace signet

#endif  // SIGNET_COMMON_LOG_CONFIG_H_
