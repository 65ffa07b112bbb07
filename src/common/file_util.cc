#include "src/common/file_util.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"

namespace signet {
namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path, int err) {
  std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  if (err == ENOENT) {
    return absl::NotFoundError(message);
  }
  if (err == EACCES || err == EPERM) {
    return absl::PermissionDeniedError(message);
  }
  return absl::InternalError(message);
}

// Closes a file descriptor on scope exit.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return ErrnoError("write", path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoError("open", path, errno);
  }
  FdCloser closer(fd);
  std::string out;
  char buf[16384];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return ErrnoError("read", path, errno);
    }
    if (n == 0) {
      break;
    }
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("read ", path, ": file larger than ", max_bytes, " bytes"));
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

namespace {

// `data` in a new temporary file beside `path` with `mode`, fsynced; its name in *tmp.
absl::Status Stage(const std::string& path, absl::string_view data, mode_t mode, std::string* tmp) {
  std::filesystem::path target(path);
  std::filesystem::path dir = target.parent_path();
  if (dir.empty()) {
    dir = ".";
  }
  *tmp = (dir / ("." + target.filename().string() + ".tmpXXXXXX")).string();
  int fd = ::mkostemp(tmp->data(), O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    tmp->clear();
    return ErrnoError("create temporary file for", path, err);
  }
  absl::Status status;
  {
    FdCloser closer(fd);
    if (::fchmod(fd, mode) != 0) {
      status = ErrnoError("chmod", *tmp, errno);
    }
    if (status.ok()) {
      status = WriteAll(fd, data, *tmp);
    }
    if (status.ok() && ::fsync(fd) != 0) {
      status = ErrnoError("fsync", *tmp, errno);
    }
  }
  if (!status.ok()) {
    ::unlink(tmp->c_str());
    tmp->clear();
  }
  return status;
}

// The renames are durable only once the directory is synced. When that fails the new content
// is in place but may not survive a crash, and the caller must hear about it.
absl::Status SyncDir(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) {
    dir = ".";
  }
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    return ErrnoError("open directory", dir.string(), errno);
  }
  FdCloser dir_closer(dir_fd);
  if (::fsync(dir_fd) != 0) {
    return ErrnoError("fsync directory", dir.string(), errno);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteFileAtomic(const std::string& path, absl::string_view data, mode_t mode) {
  return WriteFilesAtomic({{path, data, mode}});
}

absl::Status WriteFilesAtomic(const std::vector<FileToWrite>& files) {
  std::vector<std::string> staged;
  auto discard = [&staged] {
    for (const std::string& t : staged) ::unlink(t.c_str());
  };
  for (const FileToWrite& f : files) {
    std::string tmp;
    if (absl::Status s = Stage(f.path, f.data, f.mode, &tmp); !s.ok()) {
      discard();
      return s;
    }
    staged.push_back(std::move(tmp));
  }
  for (size_t i = 0; i < files.size(); ++i) {
    if (::rename(staged[i].c_str(), files[i].path.c_str()) != 0) {
      const int err = errno;
      staged.erase(staged.begin(), staged.begin() + static_cast<std::ptrdiff_t>(i));
      discard();
      return ErrnoError("rename onto", files[i].path, err);
    }
  }
  std::set<std::string> dirs;  // each directory synced once
  for (const FileToWrite& f : files) {
    const std::string dir = std::filesystem::path(f.path).parent_path().string();
    if (dirs.insert(dir).second) SIGNET_RETURN_IF_ERROR(SyncDir(f.path));
  }
  return absl::OkStatus();
}

size_t RaiseOpenFileLimit() {
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) != 0) return 1024;
  if (files.rlim_cur < files.rlim_max) {
    rlimit raised = files;
    raised.rlim_cur = files.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) files = raised;
  }
  return static_cast<size_t>(files.rlim_cur);
}

}  // namespace signet
