// Tests of bounded reads and atomic, permission-exact writes.
#include "src/common/file_util.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signet {
namespace {

namespace fs = std::filesystem;

// Root ignores file permissions, and CI runs as root. For the permission tests, a root process
// switches its effective uid/gid to nobody for the scope (and back), so they run everywhere.
class ScopedUnprivileged {
 public:
  static constexpr uid_t kNobody = 65534;
  ScopedUnprivileged() : was_root_(::geteuid() == 0) {
    if (was_root_) {
      EXPECT_EQ(::setegid(kNobody), 0);
      EXPECT_EQ(::seteuid(kNobody), 0);
    }
  }
  ~ScopedUnprivileged() {
    if (was_root_) {
      EXPECT_EQ(::seteuid(0), 0);
      EXPECT_EQ(::setegid(0), 0);
    }
  }
  ScopedUnprivileged(const ScopedUnprivileged&) = delete;
  ScopedUnprivileged& operator=(const ScopedUnprivileged&) = delete;

 private:
  bool was_root_;
};
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// This target does not link the shared test fixtures, so it has its own temporary directory.
class FileUtilTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = absl::StrCat(base != nullptr ? base : "/tmp", "/signet-file-util-XXXXXX");
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string File(const std::string& name) const { return dir_ + "/" + name; }

  // The names in the directory, sorted.
  std::vector<std::string> Listing() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  static mode_t ModeOf(const std::string& path) {
    struct stat st;
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }

  static void WritePlain(const std::string& path, const std::string& data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << data;
    ASSERT_TRUE(out.good()) << path;
  }

  std::string dir_;
};

// Sets the process umask for the lifetime of the object.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

TEST_F(FileUtilTest, WriteThenRead) {
  const std::string data = std::string("binary\0data\n\xff", 13);
  ASSERT_TRUE(WriteFileAtomic(File("f"), data, 0644).ok());
  absl::StatusOr<std::string> read = ReadFile(File("f"));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, data);
  // Only the target is left: the temporary file was renamed onto it.
  EXPECT_THAT(Listing(), ElementsAre("f"));
}

TEST_F(FileUtilTest, EmptyFile) {
  ASSERT_TRUE(WriteFileAtomic(File("empty"), "", 0600).ok());
  absl::StatusOr<std::string> read = ReadFile(File("empty"));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, "");
  absl::StatusOr<std::string> bounded = ReadFile(File("empty"), 0);
  ASSERT_TRUE(bounded.ok()) << bounded.status();
}

TEST_F(FileUtilTest, ModeIsExactWhateverTheUmask) {
  struct Case {
    mode_t umask;
    mode_t mode;
  };
  const std::vector<Case> cases = {
      {0, 0600}, {0, 0644}, {0, 0400}, {022, 0600}, {022, 0640}, {077, 0644}, {077, 0755},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat("umask 0", absl::Hex(c.umask), " mode 0", absl::Hex(c.mode)));
    ScopedUmask umask(c.umask);
    const std::string path = File(absl::StrCat("mode-", c.umask, "-", c.mode));
    ASSERT_TRUE(WriteFileAtomic(path, "secret", c.mode).ok());
    EXPECT_EQ(ModeOf(path), c.mode) << std::oct << ModeOf(path);
  }
}

TEST_F(FileUtilTest, ReplacesExistingFileAtomically) {
  const std::string path = File("key.pem");
  WritePlain(path, "old content that is longer than the new one");
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  // A reader that opened the old file keeps seeing the old content: the file is replaced by a
  // rename, never truncated and rewritten in place.
  std::ifstream reader(path, std::ios::binary);
  ASSERT_TRUE(reader.good());

  ASSERT_TRUE(WriteFileAtomic(path, "new", 0600).ok());

  absl::StatusOr<std::string> read = ReadFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, "new");
  EXPECT_EQ(ModeOf(path), 0600u);  // The new mode, not the old file's.
  const std::string old_content((std::istreambuf_iterator<char>(reader)),
                                std::istreambuf_iterator<char>());
  EXPECT_EQ(old_content, "old content that is longer than the new one");
  EXPECT_THAT(Listing(), ElementsAre("key.pem"));
}

TEST_F(FileUtilTest, RelativePathWritesIntoCurrentDirectory) {
  const fs::path old_cwd = fs::current_path();
  fs::current_path(dir_);
  absl::Status status = WriteFileAtomic("relative", "data", 0600);
  fs::current_path(old_cwd);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_THAT(Listing(), ElementsAre("relative"));
  absl::StatusOr<std::string> read = ReadFile(File("relative"));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, "data");
}

TEST_F(FileUtilTest, MissingDirectoryFailsWithoutLeavingFiles) {
  absl::Status status = WriteFileAtomic(File("no-such-dir/f"), "data", 0600);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_THAT(status.message(), HasSubstr("no-such-dir/f"));
  EXPECT_THAT(Listing(), ElementsAre());
}

TEST_F(FileUtilTest, FailedRenameRemovesTemporaryFile) {
  // The temporary file is created and written, then cannot be renamed onto a directory.
  const std::string target = File("target");
  ASSERT_TRUE(fs::create_directory(target));
  WritePlain(File("target/inside"), "keep");

  absl::Status status = WriteFileAtomic(target, "data", 0600);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("target"));
  EXPECT_THAT(Listing(), ElementsAre("target"));
  EXPECT_TRUE(fs::is_directory(target));
  absl::StatusOr<std::string> inside = ReadFile(File("target/inside"));
  ASSERT_TRUE(inside.ok()) << inside.status();
  EXPECT_EQ(*inside, "keep");
}

TEST_F(FileUtilTest, FailedWriteLeavesExistingFileUnchanged) {
  const std::string path = File("f");
  WritePlain(path, "original");
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  ASSERT_EQ(::chmod(dir_.c_str(), 0555), 0);  // Readable, not writable, by anyone.
  absl::Status status;
  {
    ScopedUnprivileged unprivileged;
    status = WriteFileAtomic(path, "replacement", 0600);
  }
  ASSERT_EQ(::chmod(dir_.c_str(), 0700), 0);
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
  EXPECT_THAT(Listing(), ElementsAre("f"));
  absl::StatusOr<std::string> read = ReadFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, "original");
}

TEST_F(FileUtilTest, DirectoryThatCannotBeSyncedIsAnError) {
  // Writable and searchable but not readable: the file is created and renamed into place, but the
  // directory cannot be opened to fsync the rename.
  const std::string sub = File("drop");
  ASSERT_TRUE(fs::create_directory(sub));
  if (::geteuid() == 0) {  // The unprivileged scope below runs as nobody.
    ASSERT_EQ(::chown(sub.c_str(), ScopedUnprivileged::kNobody, ScopedUnprivileged::kNobody), 0);
  }
  ASSERT_EQ(::chmod(sub.c_str(), 0300), 0);
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  absl::Status status;
  {
    ScopedUnprivileged unprivileged;
    status = WriteFileAtomic(sub + "/f", "data", 0600);
  }
  ASSERT_EQ(::chmod(sub.c_str(), 0700), 0);
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
  EXPECT_THAT(status.message(), HasSubstr("directory"));
  // The content is in place (only its durability is unknown) and no temporary file is left.
  absl::StatusOr<std::string> read = ReadFile(sub + "/f");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, "data");
  EXPECT_EQ(std::distance(fs::directory_iterator(sub), fs::directory_iterator()), 1);
}

TEST_F(FileUtilTest, ReadFileLimit) {
  const std::string small(100, 's');
  WritePlain(File("small"), small);
  absl::StatusOr<std::string> exact = ReadFile(File("small"), 100);
  ASSERT_TRUE(exact.ok()) << exact.status();
  EXPECT_EQ(*exact, small);
  absl::StatusOr<std::string> over = ReadFile(File("small"), 99);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kInvalidArgument) << over.status();
  EXPECT_THAT(over.status().message(), HasSubstr("larger than 99 bytes"));

  // Larger than one read() so that the limit is checked across reads.
  std::string big;
  for (int i = 0; i < 50000; ++i) {
    big.push_back(static_cast<char>('a' + i % 26));
  }
  WritePlain(File("big"), big);
  absl::StatusOr<std::string> all = ReadFile(File("big"), big.size());
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(*all, big);
  EXPECT_EQ(ReadFile(File("big"), big.size() - 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadFile(File("big"), 20000).status().code(), absl::StatusCode::kInvalidArgument);
  // The default limit is generous.
  absl::StatusOr<std::string> by_default = ReadFile(File("big"));
  ASSERT_TRUE(by_default.ok()) << by_default.status();
  EXPECT_EQ(by_default->size(), big.size());
}

TEST_F(FileUtilTest, ReadMissingFileIsNotFound) {
  absl::StatusOr<std::string> read = ReadFile(File("missing"));
  EXPECT_EQ(read.status().code(), absl::StatusCode::kNotFound) << read.status();
  EXPECT_THAT(read.status().message(), HasSubstr("missing"));
  EXPECT_EQ(ReadFile(File("no-dir/missing")).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(FileUtilTest, ReadDirectoryFails) {
  absl::StatusOr<std::string> read = ReadFile(dir_);
  EXPECT_FALSE(read.ok());
}

TEST_F(FileUtilTest, ReadUnreadableFileIsPermissionDenied) {
  WritePlain(File("locked"), "x");
  ASSERT_EQ(::chmod(File("locked").c_str(), 0), 0);
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  absl::StatusOr<std::string> read;
  {
    ScopedUnprivileged unprivileged;
    read = ReadFile(File("locked"));
  }
  EXPECT_EQ(read.status().code(), absl::StatusCode::kPermissionDenied) << read.status();
}

}  // namespace
}  // namespace signet

namespace signet {
namespace {

class WriteFilesAtomicTest : public FileUtilTest {};

TEST_F(WriteFilesAtomicTest, WritesEveryFileWithItsMode) {
  ASSERT_TRUE(WriteFilesAtomic({{File("k"), "key", 0600}, {File("c"), "cert", 0644}}).ok());
  EXPECT_EQ(*ReadFile(File("k")), "key");
  EXPECT_EQ(*ReadFile(File("c")), "cert");
  EXPECT_EQ(ModeOf(File("k")), 0600u);
  EXPECT_EQ(ModeOf(File("c")), 0644u);
  EXPECT_THAT(Listing(), ElementsAre("c", "k"));  // sorted
}

TEST_F(WriteFilesAtomicTest, AFailureBeforeTheRenamesChangesNothing) {
  WritePlain(File("k"), "old key");
  // The second file cannot be staged (no such directory): the first must stay the old one.
  absl::Status status =
      WriteFilesAtomic({{File("k"), "new key", 0600}, {File("missing/c"), "cert", 0644}});
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_EQ(*ReadFile(File("k")), "old key");
  EXPECT_THAT(Listing(), ElementsAre("k")) << "no temporary file is left behind";
}

}  // namespace
}  // namespace signet
