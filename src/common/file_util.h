// Filesystem helpers: bounded reads and atomic, permission-correct writes.
#ifndef SIGNET_COMMON_FILE_UTIL_H_
#define SIGNET_COMMON_FILE_UTIL_H_

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace signet {

// Reads the whole file at `path`. Fails with InvalidArgument if it is larger than `max_bytes`.
absl::StatusOr<std::string> ReadFile(const std::string& path, size_t max_bytes = 16 << 20);

// Writes `data` to `path` atomically: a temporary file in the same directory is created with
// `mode` (e.g. 0600 for keys), written, fsynced and renamed over `path`, then the directory is
// fsynced. On failure `path` is unchanged and no temporary file is left behind, except when only
// the final directory fsync fails: the new content is then in place but may not be durable.
absl::Status WriteFileAtomic(const std::string& path, absl::string_view data, mode_t mode);

struct FileToWrite {
  std::string path;
  absl::string_view data;
  mode_t mode;
};
// Several files that belong together (a certificate and its key): each is written and fsynced
// under a temporary name first, then all are renamed in order, so a reader sees the old set or
// the new one except for the microseconds between the renames (not the time of the writes and
// fsyncs). A failure before the renames changes nothing; a failed rename leaves the files before
// it replaced.
absl::Status WriteFilesAtomic(const std::vector<FileToWrite>& files);

// Raises the soft open-file limit to the hard one; returns the soft limit now in force.
size_t RaiseOpenFileLimit();

}  // namespace signet

#endif  // SIGNET_COMMON_FILE_UTIL_H_
