#include "src/server/ca/disk_key_manager.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/common/file_util.h"
#include "src/common/status_macros.h"

namespace signet::server {
namespace {

constexpr mode_t kDirMode = 0700;
constexpr mode_t kKeyFileMode = 0600;
constexpr size_t kMaxKeyFileBytes = size_t{64} * 1024;

absl::Status ErrnoStatus(absl::string_view what, const std::string& path, int err) {
  std::string message = absl::StrCat("key manager: ", what, " ", path, ": ", std::strerror(err));
  if (err == ENOENT) {
    return absl::NotFoundError(message);
  }
  if (err == EACCES || err == EPERM) {
    return absl::PermissionDeniedError(message);
  }
  return absl::InternalError(message);
}

std::string ModeString(mode_t mode) { return absl::StrFormat("%04o", mode & 07777); }

// Creates `dir` with mode 0700 unless it exists. The explicit chmod undoes the umask, which may
// only ever remove bits, so that the mode is exactly 0700.
absl::Status EnsureDirectory(const std::string& dir) {
  if (::mkdir(dir.c_str(), kDirMode) == 0) {
    if (::chmod(dir.c_str(), kDirMode) != 0) {
      return ErrnoStatus("chmod", dir, errno);
    }
    return absl::OkStatus();
  }
  if (errno != EEXIST) {
    return ErrnoStatus("create directory", dir, errno);
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    return ErrnoStatus("stat", dir, errno);
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("key manager: ", dir, " exists and is not a directory"));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("key manager: directory ", dir, " has mode ", ModeString(st.st_mode),
                     "; it must not be accessible by group or others (chmod 700)"));
  }
  return absl::OkStatus();
}

// Checks that `path` is a regular file only its owner can access.
absl::Status CheckKeyFile(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    return ErrnoStatus("stat", path, errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::DataLossError(absl::StrCat("key manager: ", path, " is not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("key manager: key file ", path, " has mode ", ModeString(st.st_mode),
                     "; it must not be accessible by group or others (chmod 600)"));
  }
  return absl::OkStatus();
}

void FsyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Overwrites key material before the string's memory is released.
void Wipe(std::string& secret) {
  if (!secret.empty()) {
    OPENSSL_cleanse(secret.data(), secret.size());
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<DiskKeyManager>> DiskKeyManager::Create(const std::string& dir) {
  if (dir.empty()) {
    return absl::InvalidArgumentError("key manager: directory is required");
  }
  SIGNET_RETURN_IF_ERROR(EnsureDirectory(dir));
  return std::unique_ptr<DiskKeyManager>(new DiskKeyManager(dir));
}

std::string DiskKeyManager::KeyPath(absl::string_view key_id) const {
  return absl::StrCat(dir_, "/", key_id, ".pem");
}

absl::StatusOr<crypto::PrivateKey> DiskKeyManager::Generate(absl::string_view key_id,
                                                            crypto::KeyType type) {
  SIGNET_RETURN_IF_ERROR(Annotate(ValidateKeyId(key_id), "key manager"));
  SIGNET_ASSIGN_OR_RETURN(crypto::PrivateKey key, crypto::PrivateKey::Generate(type));
  absl::StatusOr<std::string> pem = key.ToPkcs8Pem();
  if (!pem.ok()) {
    return Annotate(pem.status(), "key manager");
  }
  absl::Status written = WriteFileAtomic(KeyPath(key_id), *pem, kKeyFileMode);
  Wipe(*pem);
  if (!written.ok()) {
    return Annotate(written, absl::StrCat("key manager: store key \"", key_id, "\""));
  }
  return key;
}

absl::StatusOr<crypto::PrivateKey> DiskKeyManager::Get(absl::string_view key_id) {
  SIGNET_RETURN_IF_ERROR(Annotate(ValidateKeyId(key_id), "key manager"));
  std::string path = KeyPath(key_id);
  absl::Status checked = CheckKeyFile(path);
  if (absl::IsNotFound(checked)) {
    return absl::NotFoundError(absl::StrCat("key manager: no key \"", key_id, "\""));
  }
  SIGNET_RETURN_IF_ERROR(checked);
  absl::StatusOr<std::string> pem = ReadFile(path, kMaxKeyFileBytes);
  if (!pem.ok()) {
    return absl::IsInvalidArgument(pem.status())
               ? absl::DataLossError(absl::StrCat("key manager: ", pem.status().message()))
               : Annotate(pem.status(), "key manager");
  }
  absl::StatusOr<crypto::PrivateKey> key = crypto::PrivateKey::FromPem(*pem);
  Wipe(*pem);
  if (!key.ok()) {
    // The parser's message describes the encoding problem, never the key bytes.
    return absl::DataLossError(
        absl::StrCat("key manager: key file ", path, " is corrupted: ", key.status().message()));
  }
  return key;
}

absl::Status DiskKeyManager::Delete(absl::string_view key_id) {
  SIGNET_RETURN_IF_ERROR(Annotate(ValidateKeyId(key_id), "key manager"));
  std::string path = KeyPath(key_id);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat("key manager: no key \"", key_id, "\""));
    }
    return ErrnoStatus("delete", path, errno);
  }
  FsyncDirectory(dir_);
  return absl::OkStatus();
}

}  // namespace signet::server
