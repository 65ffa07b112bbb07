// bench/datastore's flags (see datastore_bench.cc for what each phase does).
#ifndef SIGNET_BENCH_DATASTORE_OPTIONS_H_
#define SIGNET_BENCH_DATASTORE_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>

namespace signet::bench {

// Every agent owns this many entries; --entries is a multiple of it.
inline constexpr int64_t kEntriesPerAgent = 1000;

struct DatastoreBenchOptions {
  int64_t entries = 1000000;
  int batch = 1000;
  int threads = 2;
  int lookups = 500;
  int restarts = 3;
  bool grouped = false;
  bool sequential_ids = false;
  bool keep = false;
  std::string signet = SIGNET_BINARY;
};

// The flags, or nullopt after printing the usage line for a bad one.
std::optional<DatastoreBenchOptions> ParseDatastoreBenchFlags(int argc, char** argv);

}  // namespace signet::bench

#endif  // SIGNET_BENCH_DATASTORE_OPTIONS_H_
