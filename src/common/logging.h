// Process-wide structured logging on spdlog: one line per event, to stderr unless told otherwise.
//
//   InitLogging({.level = LogLevel::kInfo, .format = LogFormat::kJson});
//   LogInfo("server started", {{"trust_domain", td.name()}, {"port", 8081}});
//
// Text format:  2027-01-15T00:00:00.000Z INFO server started trust_domain=example.org port=8081
// JSON format:  {"time":"2027-01-15T00:00:00.000Z","level":"info","msg":"server started",
//                "trust_domain":"example.org","port":8081}        (on one line)
//
// Times are RFC 3339 in UTC with milliseconds. Messages and values are escaped so that no input
// (a SPIFFE ID sent by an agent, a path) can start a new line or forge a field. Field keys are
// chosen by the caller and should be snake_case literals; fields named like the built-in ones
// (time, level, msg) are renamed with a "field." prefix in JSON.
//
// Caller rule: never log secrets — private keys, join tokens, JWT-SVIDs, database passwords or
// whole connection strings. Log a key's ID, a token's hash or its expiry instead.
//
// Thread-safe: any thread may log while another calls InitLogging; a line is never interleaved
// with another. Until InitLogging is called, info and above go to stderr in text format.
#ifndef SIGNET_COMMON_LOGGING_H_
#define SIGNET_COMMON_LOGGING_H_

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/common/clock.h"

namespace spdlog::sinks {
class sink;
}  // namespace spdlog::sinks

namespace signet {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
enum class LogFormat { kText, kJson };

// "debug", "info", "warn", "error" / "text", "json".
absl::string_view LogLevelName(LogLevel level);
absl::string_view LogFormatName(LogFormat format);
// Inverse of the above; InvalidArgument for anything else.
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name);
absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view name);

// One key/value pair attached to a log line. Numbers and booleans stay numbers and booleans in
// JSON; everything else is a string.
class LogField {
 public:
  LogField(absl::string_view key, absl::string_view value) : key_(key), value_(value) {}
  LogField(absl::string_view key, const std::string& value) : key_(key), value_(value) {}
  LogField(absl::string_view key, const char* value)
      : key_(key), value_(value != nullptr ? value : "") {}
  LogField(absl::string_view key, bool value)
      : key_(key), value_(value ? "true" : "false"), kind_(Kind::kLiteral) {}
  template <typename T,
            std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  LogField(absl::string_view key, T value)
      : key_(key), value_(std::to_string(value)), kind_(Kind::kLiteral) {}
  // Finite values are numbers; NaN and infinities are strings.
  LogField(absl::string_view key, double value);
  // Other pointers would silently become booleans.
  template <typename T>
  LogField(absl::string_view key, T* value) = delete;
  // The duration as absl formats it ("1h30m").
  LogField(absl::string_view key, absl::Duration value);
  // RFC 3339 in UTC.
  LogField(absl::string_view key, absl::Time value);
  // The status as "CODE: message", or "OK".
  LogField(absl::string_view key, const absl::Status& status);

  const std::string& key() const { return key_; }
  const std::string& value() const { return value_; }
  // True for numbers and booleans, written without quotes in JSON.
  bool literal() const { return kind_ == Kind::kLiteral; }

 private:
  enum class Kind { kString, kLiteral };
  std::string key_;
  std::string value_;
  Kind kind_ = Kind::kString;
};

using LogFields = std::initializer_list<LogField>;

struct LogOptions {
  LogLevel level = LogLevel::kInfo;
  LogFormat format = LogFormat::kText;
  // Receives each finished line as the message payload (the logger's "%v" pattern adds the
  // newline). Must be thread-safe (an spdlog `_mt` sink). nullptr means stderr. Tests pass a
  // spdlog::sinks::ostream_sink_mt or use ScopedLogCapture.
  std::shared_ptr<spdlog::sinks::sink> sink;
  // Time source for timestamps. nullptr means the real clock. Must outlive its use.
  const Clock* clock = nullptr;
};

// Replaces the process-wide logger. Lines being written concurrently go to the old or the new
// sink, never half to each.
void InitLogging(const LogOptions& options);

// Whether a line at `level` would be written: lets callers skip building expensive fields.
bool LogEnabled(LogLevel level);

void Log(LogLevel level, absl::string_view msg, LogFields fields = {});
inline void LogDebug(absl::string_view msg, LogFields fields = {}) {
  Log(LogLevel::kDebug, msg, fields);
}
inline void LogInfo(absl::string_view msg, LogFields fields = {}) {
  Log(LogLevel::kInfo, msg, fields);
}
inline void LogWarn(absl::string_view msg, LogFields fields = {}) {
  Log(LogLevel::kWarn, msg, fields);
}
inline void LogError(absl::string_view msg, LogFields fields = {}) {
  Log(LogLevel::kError, msg, fields);
}

// Formats one line as Log would, without the newline. Exposed for tests and for tools that print
// log-shaped output.
std::string FormatLogLine(LogFormat format, absl::Time time, LogLevel level, absl::string_view msg,
                          LogFields fields);

// For tests: while alive, sends every line to memory (at `level`, in `format`, stamped by
// `clock`), then restores the previous logger. Not for use by two tests at once.
class ScopedLogCapture {
 public:
  explicit ScopedLogCapture(LogLevel level = LogLevel::kDebug, LogFormat format = LogFormat::kText,
                            const Clock* clock = nullptr);
  ~ScopedLogCapture();
  ScopedLogCapture(const ScopedLogCapture&) = delete;
  ScopedLogCapture& operator=(const ScopedLogCapture&) = delete;

  // The lines written so far, without newlines.
  std::vector<std::string> Lines() const;

 private:
  class Sink;
  std::shared_ptr<Sink> sink_;
  LogOptions previous_;
};

}  // namespace signet

#endif  // SIGNET_COMMON_LOGGING_H_
