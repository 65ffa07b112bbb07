#include "src/server/ca/key_manager.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/common/file_util.h"
#include "src/server/ca/disk_key_manager.h"
#include "tests/testing/test_ca.h"

namespace signet::server {
namespace {

using crypto::KeyType;

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(ValidateKeyIdTest, AcceptsTheAlphabetUpTo64Characters) {
  for (const std::string& id :
       std::vector<std::string>{"a", "Z", "0", "_", "-", "abc-DEF_123", std::string(64, 'k')}) {
    EXPECT_TRUE(ValidateKeyId(id).ok()) << id;
  }
}

TEST(ValidateKeyIdTest, RejectsEverythingElse) {
  for (const std::string& id :
       std::vector<std::string>{"", std::string(65, 'k'), "../x", "..", ".", "a/b", "a.b", "a b",
                                "a\\b", "a\nb", std::string("a\0b", 3), "caf\xc3\xa9", "x.pem"}) {
    absl::Status status = ValidateKeyId(id);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << id;
  }
}

// The behaviour both implementations share.
void ExerciseKeyManager(KeyManager& keys) {
  absl::StatusOr<crypto::PrivateKey> generated = keys.Generate("key-1", KeyType::kEcP256);
  ASSERT_TRUE(generated.ok()) << generated.status();
  EXPECT_EQ(generated->info().curve, "P-256");

  absl::StatusOr<crypto::PrivateKey> got = keys.Get("key-1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->public_key().Equals(generated->public_key()));

  // Generating again under the same id replaces the key.
  absl::StatusOr<crypto::PrivateKey> replaced = keys.Generate("key-1", KeyType::kEcP384);
  ASSERT_TRUE(replaced.ok()) << replaced.status();
  got = keys.Get("key-1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->public_key().Equals(replaced->public_key()));
  EXPECT_FALSE(got->public_key().Equals(generated->public_key()));

  EXPECT_EQ(keys.Get("other").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(keys.Delete("other").code(), absl::StatusCode::kNotFound);

  ASSERT_TRUE(keys.Delete("key-1").ok());
  EXPECT_EQ(keys.Get("key-1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(keys.Delete("key-1").code(), absl::StatusCode::kNotFound);

  for (const std::string& bad : std::vector<std::string>{"", "../x", "a/b", std::string(65, 'a')}) {
    EXPECT_EQ(keys.Generate(bad, KeyType::kEcP256).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
    EXPECT_EQ(keys.Get(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(keys.Delete(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(MemoryKeyManagerTest, GenerateGetReplaceDelete) {
  MemoryKeyManager keys;
  ExerciseKeyManager(keys);
}

TEST(MemoryKeyManagerTest, KeysAreIndependent) {
  MemoryKeyManager keys;
  ASSERT_TRUE(keys.Generate("a", KeyType::kEcP256).ok());
  ASSERT_TRUE(keys.Generate("b", KeyType::kEcP256).ok());
  ASSERT_TRUE(keys.Delete("a").ok());
  EXPECT_TRUE(keys.Get("b").ok());
}

class DiskKeyManagerTest : public ::testing::Test {
 protected:
  std::string KeyDir() const { return tmp_.File("keys"); }
  std::unique_ptr<DiskKeyManager> Open() {
    absl::StatusOr<std::unique_ptr<DiskKeyManager>> keys = DiskKeyManager::Create(KeyDir());
    EXPECT_TRUE(keys.ok()) << keys.status();
    return keys.ok() ? *std::move(keys) : nullptr;
  }

  signet::testing::TempDir tmp_;
};

TEST_F(DiskKeyManagerTest, GenerateGetReplaceDelete) {
  std::unique_ptr<DiskKeyManager> keys = Open();
  ASSERT_NE(keys, nullptr);
  ExerciseKeyManager(*keys);
  EXPECT_TRUE(ListDir(KeyDir()).empty());
}

TEST_F(DiskKeyManagerTest, CreatesDirectory0700EvenWithPermissiveUmask) {
  mode_t old_umask = ::umask(0);
  std::unique_ptr<DiskKeyManager> keys = Open();
  ::umask(old_umask);
  ASSERT_NE(keys, nullptr);
  EXPECT_EQ(ModeOf(KeyDir()), 0700);
}

TEST_F(DiskKeyManagerTest, KeyFilesAre0600PemAndNothingElseIsLeftBehind) {
  std::unique_ptr<DiskKeyManager> keys = Open();
  ASSERT_NE(keys, nullptr);
  ASSERT_TRUE(keys->Generate("k1", KeyType::kEcP256).ok());
  ASSERT_TRUE(keys->Generate("k1", KeyType::kEcP256).ok());  // atomic replace
  EXPECT_EQ(keys->KeyPath("k1"), KeyDir() + "/k1.pem");
  EXPECT_EQ(ModeOf(keys->KeyPath("k1")), 0600);
  EXPECT_EQ(ListDir(KeyDir()), std::vector<std::string>{"k1.pem"});
  absl::StatusOr<std::string> pem = ReadFile(keys->KeyPath("k1"));
  ASSERT_TRUE(pem.ok());
  EXPECT_EQ(pem->rfind("-----BEGIN PRIVATE KEY-----", 0), 0u) << "expected PKCS#8 PEM";
}

TEST_F(DiskKeyManagerTest, KeysSurviveReopening) {
  std::unique_ptr<DiskKeyManager> first = Open();
  ASSERT_NE(first, nullptr);
  absl::StatusOr<crypto::PrivateKey> ec = first->Generate("ec", KeyType::kEcP384);
  absl::StatusOr<crypto::PrivateKey> rsa = first->Generate("rsa", KeyType::kRsa2048);
  ASSERT_TRUE(ec.ok() && rsa.ok());
  first.reset();

  std::unique_ptr<DiskKeyManager> second = Open();
  ASSERT_NE(second, nullptr);
  absl::StatusOr<crypto::PrivateKey> ec2 = second->Get("ec");
  absl::StatusOr<crypto::PrivateKey> rsa2 = second->Get("rsa");
  ASSERT_TRUE(ec2.ok()) << ec2.status();
  ASSERT_TRUE(rsa2.ok()) << rsa2.status();
  EXPECT_TRUE(ec2->public_key().Equals(ec->public_key()));
  EXPECT_TRUE(rsa2->public_key().Equals(rsa->public_key()));
  EXPECT_EQ(ModeOf(KeyDir()), 0700);
}

TEST_F(DiskKeyManagerTest, KeyIdCannotEscapeTheDirectory) {
  std::unique_ptr<DiskKeyManager> keys = Open();
  ASSERT_NE(keys, nullptr);
  signet::testing::WriteTestFile(tmp_.File("x.pem"), "not a key");
  EXPECT_EQ(keys->Generate("../x", KeyType::kEcP256).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(keys->Get("../x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(keys->Delete("../x").code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::string> outside = ReadFile(tmp_.File("x.pem"));
  ASSERT_TRUE(outside.ok());
  EXPECT_EQ(*outside, "not a key");
  EXPECT_TRUE(ListDir(KeyDir()).empty());
}

TEST_F(DiskKeyManagerTest, CorruptedFileIsDataLoss) {
  std::unique_ptr<DiskKeyManager> keys = Open();
  ASSERT_NE(keys, nullptr);
  ASSERT_TRUE(keys->Generate("k", KeyType::kEcP256).ok());
  absl::StatusOr<std::string> pem = ReadFile(keys->KeyPath("k"));
  ASSERT_TRUE(pem.ok());
  for (const std::string& damaged : {std::string(""), pem->substr(0, pem->size() / 2),
                                     std::string("garbage"), std::string(70 * 1024, 'A')}) {
    ASSERT_TRUE(WriteFileAtomic(keys->KeyPath("k"), damaged, 0600).ok());
    absl::StatusOr<crypto::PrivateKey> got = keys->Get("k");
    EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
  }
}

TEST_F(DiskKeyManagerTest, KeyFileReadableByOthersIsRejected) {
  std::unique_ptr<DiskKeyManager> keys = Open();
  ASSERT_NE(keys, nullptr);
  ASSERT_TRUE(keys->Generate("k", KeyType::kEcP256).ok());
  ASSERT_EQ(::chmod(keys->KeyPath("k").c_str(), 0640), 0);
  EXPECT_EQ(keys->Get("k").status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(DiskKeyManagerTest, KeyPathThatIsNotARegularFileIsDataLoss) {
  std::unique_ptr<DiskKeyManager> keys = Open();
  ASSERT_NE(keys, nullptr);
  ASSERT_EQ(::mkdir(keys->KeyPath("dir").c_str(), 0700), 0);
  EXPECT_EQ(keys->Get("dir").status().code(), absl::StatusCode::kDataLoss);
  signet::testing::WriteTestFile(tmp_.File("elsewhere.pem"), "x");
  ASSERT_EQ(::symlink(tmp_.File("elsewhere.pem").c_str(), keys->KeyPath("link").c_str()), 0);
  EXPECT_EQ(keys->Get("link").status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(DiskKeyManagerTest, ExistingDirectoryOpenToOthersIsRejected) {
  ASSERT_EQ(::mkdir(KeyDir().c_str(), 0700), 0);
  ASSERT_EQ(::chmod(KeyDir().c_str(), 0755), 0);
  absl::StatusOr<std::unique_ptr<DiskKeyManager>> keys = DiskKeyManager::Create(KeyDir());
  EXPECT_EQ(keys.status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_EQ(::chmod(KeyDir().c_str(), 0700), 0);
  EXPECT_TRUE(DiskKeyManager::Create(KeyDir()).ok());
}

TEST_F(DiskKeyManagerTest, PathThatIsAFileOrHasNoParentIsRejected) {
  signet::testing::WriteTestFile(KeyDir(), "file");
  EXPECT_EQ(DiskKeyManager::Create(KeyDir()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(DiskKeyManager::Create(tmp_.File("missing/keys")).ok());
  EXPECT_EQ(DiskKeyManager::Create("").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace signet::server
