#include "src/common/log_config.h"

namespace signet {

void ReadLogSection(ConfigMap& root, LogLevel* level, LogFormat* format) {
  root.GetMap("log", [&](ConfigMap& log) {
    log.GetEnum("level", level,
                {{"debug", LogLevel::kDebug},
                 {"info", LogLevel::kInfo},
                 {"warn", LogLevel::kWarn},
                 {"error", LogLevel::kError}});
    log.GetEnum("format", format, {{"text", LogFormat::kText}, {"json", LogFormat::kJson}});
  });
}

}  // namespace signet
