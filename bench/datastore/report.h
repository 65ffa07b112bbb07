// The result table of bench/datastore: metrics with a value, an optional target and verdict,
// and a ratio to the OpenSSL ECDSA P-256 sign rate measured in the same run.
#ifndef SIGNET_BENCH_DATASTORE_REPORT_H_
#define SIGNET_BENCH_DATASTORE_REPORT_H_

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"

namespace signet::bench {

enum class Verdict { kReport, kPass, kMissed };

struct Row {
  std::string metric;
  std::string value;
  std::string target;
  std::string ratio;
  Verdict verdict = Verdict::kReport;
};

class Report {
 public:
  explicit Report(double sign_rate) : sign_rate_(sign_rate) {}

  // A rate; its ratio is rate ÷ the sign rate.
  void Rate(const std::string& metric, double per_s) {
    rows_.push_back({metric, absl::StrFormat("%.0f /s", per_s), "",
                     absl::StrFormat("%.4f", per_s / sign_rate_)});
  }
  // A time; its ratio is time ÷ the time of one sign. `target_s` <= 0: no target.
  void Time(const std::string& metric, double seconds, double target_s, bool ms) {
    Row row{metric,
            ms ? absl::StrFormat("%.2f ms", seconds * 1000) : absl::StrFormat("%.2f s", seconds),
            "", absl::StrFormat("%.0f", seconds * sign_rate_)};
    if (target_s > 0) {
      row.target = ms ? absl::StrFormat("< %.0f ms", target_s * 1000)
                      : absl::StrFormat("< %.0f s", target_s);
      row.verdict = seconds < target_s ? Verdict::kPass : Verdict::kMissed;
    }
    rows_.push_back(row);
  }
  void Note(const std::string& metric, const std::string& value) {
    rows_.push_back({metric, value, "", ""});
  }

  // Prints the table, then `footer`; returns the number of missed targets.
  int Print(const char* footer) const {
    int missed = 0;
    std::printf("\n%-46s %14s %9s %10s  %s\n", "metric", "value", "target", "ratio", "result");
    for (const Row& r : rows_) {
      const char* verdict = r.verdict == Verdict::kPass     ? "PASS"
                            : r.verdict == Verdict::kMissed ? "MISSED"
                                                            : "";
      missed += r.verdict == Verdict::kMissed ? 1 : 0;
      std::printf("%-46s %14s %9s %10s  %s\n", r.metric.c_str(), r.value.c_str(), r.target.c_str(),
                  r.ratio.c_str(), verdict);
    }
    std::printf(
        "ratio: a rate / the OpenSSL ECDSA P-256 sign rate; a time / the time of one sign.\n%s",
        footer);
    return missed;
  }

 private:
  double sign_rate_;
  std::vector<Row> rows_;
};

}  // namespace signet::bench

#endif  // SIGNET_BENCH_DATASTORE_REPORT_H_
