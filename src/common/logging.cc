#include "src/common/logging.h"

#include <atomic>
#include <cmath>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "spdlog/logger.h"
#include "spdlog/sinks/base_sink.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace signet {
namespace {

constexpr absl::string_view kTimeFormat = "%Y-%m-%dT%H:%M:%E3SZ";

spdlog::level::level_enum SpdLevel(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
  }
  return spdlog::level::err;
}

// The logger in use. Replaced whole (never mutated) so that Log works on a snapshot.
struct LoggerState {
  LogOptions options;
  std::shared_ptr<spdlog::logger> logger;
};

class Registry {
 public:
  Registry() { Install(LogOptions{}); }

  std::shared_ptr<const LoggerState> Get() const { return state_.load(); }

  void Install(const LogOptions& options) {
    auto state = std::make_shared<LoggerState>();
    state->options = options;
    std::shared_ptr<spdlog::sinks::sink> sink = options.sink;
    if (sink == nullptr) {
      sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    }
    state->logger = std::make_shared<spdlog::logger>("signet", std::move(sink));
    state->logger->set_pattern("%v");  // lines arrive fully formatted
    state->logger->set_level(spdlog::level::trace);
    state->logger->flush_on(spdlog::level::trace);
    state_.store(std::move(state));
    min_level_.store(static_cast<int>(options.level), std::memory_order_relaxed);
  }

  bool Enabled(LogLevel level) const {
    return static_cast<int>(level) >= min_level_.load(std::memory_order_relaxed);
  }

 private:
  // An atomic shared_ptr rather than a mutex: Debian's Abseil is not built for ThreadSanitizer,
  // which then cannot see absl::Mutex ordering. min_level_ is a separate, advisory fast check.
  std::atomic<std::shared_ptr<const LoggerState>> state_;
  std::atomic<int> min_level_{static_cast<int>(LogLevel::kInfo)};
};

Registry& GlobalRegistry() {
  static Registry* const registry = new Registry();  // never destroyed: logging works at exit
  return *registry;
}

// Appends `text` with control characters, quotes and backslashes escaped; other bytes (UTF-8
// included) are kept. Nothing in the result can end the line.
void AppendEscaped(absl::string_view text, std::string* out) {
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          absl::StrAppendFormat(out, "\\u%04x", c);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
}

// Appends `text` as a JSON string. Invalid UTF-8 becomes U+FFFD so the line stays valid JSON.
void AppendJsonString(absl::string_view text, std::string* out) {
  out->append(nlohmann::json(std::string(text))
                  .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

// Text-format keys are restricted so that "k=v" pairs stay parseable.
std::string TextKey(absl::string_view key) {
  std::string out(key.empty() ? "_" : key);
  for (char& c : out) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-') {
      c = '_';
    }
  }
  return out;
}

bool NeedsQuotes(absl::string_view value) {
  if (value.empty()) {
    return true;
  }
  for (unsigned char c : value) {
    if (c <= 0x20 || c == 0x7f || c == '"' || c == '=' || c == '\\') {
      return true;
    }
  }
  return false;
}

std::string FormatText(absl::Time time, LogLevel level, absl::string_view msg, LogFields fields) {
  std::string out = absl::FormatTime(kTimeFormat, time, absl::UTCTimeZone());
  out.push_back(' ');
  out.append(absl::AsciiStrToUpper(LogLevelName(level)));
  out.push_back(' ');
  AppendEscaped(msg, &out);
  for (const LogField& field : fields) {
    absl::StrAppend(&out, " ", TextKey(field.key()), "=");
    if (NeedsQuotes(field.value())) {
      out.push_back('"');
      AppendEscaped(field.value(), &out);
      out.push_back('"');
    } else {
      out.append(field.value());
    }
  }
  return out;
}

std::string FormatJson(absl::Time time, LogLevel level, absl::string_view msg, LogFields fields) {
  std::string out = "{\"time\":\"";
  absl::StrAppend(&out, absl::FormatTime(kTimeFormat, time, absl::UTCTimeZone()), "\",\"level\":\"",
                  LogLevelName(level), "\",\"msg\":");
  AppendJsonString(msg, &out);
  absl::flat_hash_set<std::string> used = {"time", "level", "msg"};
  for (const LogField& field : fields) {
    std::string key = field.key();
    while (used.contains(key)) {
      key = absl::StrCat("field.", key);
    }
    used.insert(key);
    out.push_back(',');
    AppendJsonString(key, &out);
    out.push_back(':');
    if (field.literal()) {
      out.append(field.value());
    } else {
      AppendJsonString(field.value(), &out);
    }
  }
  out.push_back('}');
  return out;
}

}  // namespace

absl::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "error";
}

absl::string_view LogFormatName(LogFormat format) {
  return format == LogFormat::kJson ? "json" : "text";
}

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name) {
  for (LogLevel level : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (name == LogLevelName(level)) {
      return level;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("log level must be one of debug, info, warn, error, not \"", name, "\""));
}

absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view name) {
  for (LogFormat format : {LogFormat::kText, LogFormat::kJson}) {
    if (name == LogFormatName(format)) {
      return format;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("log format must be one of text, json, not \"", name, "\""));
}

LogField::LogField(absl::string_view key, double value) : key_(key) {
  if (std::isfinite(value)) {
    value_ = absl::StrCat(value);
    kind_ = Kind::kLiteral;
  } else {
    value_ = std::isnan(value) ? "NaN" : (value > 0 ? "Infinity" : "-Infinity");
  }
}

LogField::LogField(absl::string_view key, absl::Duration value)
    : key_(key), value_(absl::FormatDuration(value)) {}

LogField::LogField(absl::string_view key, absl::Time value)
    : key_(key), value_(absl::FormatTime(kTimeFormat, value, absl::UTCTimeZone())) {}

LogField::LogField(absl::string_view key, const absl::Status& status)
    : key_(key), value_(status.ToString()) {}

std::string FormatLogLine(LogFormat format, absl::Time time, LogLevel level, absl::string_view msg,
                          LogFields fields) {
  return format == LogFormat::kJson ? FormatJson(time, level, msg, fields)
                                    : FormatText(time, level, msg, fields);
}

void InitLogging(const LogOptions& options) { GlobalRegistry().Install(options); }

bool LogEnabled(LogLevel level) { return GlobalRegistry().Enabled(level); }

void Log(LogLevel level, absl::string_view msg, LogFields fields) {
  Registry& registry = GlobalRegistry();
  if (!registry.Enabled(level)) {
    return;
  }
  std::shared_ptr<const LoggerState> state = registry.Get();
  const Clock& clock = state->options.clock != nullptr ? *state->options.clock : RealClock();
  const std::string line = FormatLogLine(state->options.format, clock.Now(), level, msg, fields);
  state->logger->log(SpdLevel(level), spdlog::string_view_t(line.data(), line.size()));
}

// ---------------------------------------------------------------- ScopedLogCapture

class ScopedLogCapture::Sink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> Lines() {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    lines_.emplace_back(msg.payload.data(), msg.payload.size());
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;
};

ScopedLogCapture::ScopedLogCapture(LogLevel level, LogFormat format, const Clock* clock)
    : sink_(std::make_shared<Sink>()), previous_(GlobalRegistry().Get()->options) {
  InitLogging({.level = level, .format = format, .sink = sink_, .clock = clock});
}

ScopedLogCapture::~ScopedLogCapture() { InitLogging(previous_); }

std::vector<std::string> ScopedLogCapture::Lines() const { return sink_->Lines(); }

}  // namespace signet
