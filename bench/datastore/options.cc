#include "bench/datastore/options.h"

#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "src/server/datastore/datastore.h"

namespace signet::bench {

namespace {

bool ParseInt(absl::string_view arg, absl::string_view name, int64_t min, int64_t max,
              int64_t* out) {
  return absl::ConsumePrefix(&arg, name) && absl::SimpleAtoi(arg, out) && *out >= min &&
         *out <= max;
}

}  // namespace

std::optional<DatastoreBenchOptions> ParseDatastoreBenchFlags(int argc, char** argv) {
  DatastoreBenchOptions o;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    int64_t v = 0;
    if (ParseInt(arg, "--entries=", kEntriesPerAgent, 10000000, &v) && v % kEntriesPerAgent == 0) {
      o.entries = v;
    } else if (ParseInt(arg, "--batch=", 1, server::kMaxBatchSize, &v)) {
      o.batch = static_cast<int>(v);
    } else if (ParseInt(arg, "--threads=", 1, 16, &v)) {
      o.threads = static_cast<int>(v);
    } else if (ParseInt(arg, "--lookups=", 10, 100000, &v)) {
      o.lookups = static_cast<int>(v);
    } else if (ParseInt(arg, "--restarts=", 1, 20, &v)) {
      o.restarts = static_cast<int>(v);
    } else if (arg == "--layout=interleaved" || arg == "--layout=grouped") {
      o.grouped = arg == "--layout=grouped";
    } else if (absl::ConsumePrefix(&arg, "--signet=") && !arg.empty()) {
      o.signet = std::string(arg);
    } else if (arg == "--sequential_ids") {
      o.sequential_ids = true;
    } else if (arg == "--keep") {
      o.keep = true;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--entries=N (multiple of 1000)] [--batch=B] [--threads=T] "
                   "[--lookups=L] [--restarts=R] [--layout=interleaved|grouped] "
                   "[--sequential_ids] [--signet=PATH] [--keep]\n",
                   argv[0]);
      return std::nullopt;
    }
  }
  return o;
}

}  // namespace signet::bench
