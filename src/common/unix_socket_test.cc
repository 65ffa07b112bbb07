// ListenUnix's lock on `<path>.lock`: the check, bind and listen of two processes (here two
// open file descriptions, which flock treats alike) never interleave, and nobody else's file
// can stand in for the lock.
#include "src/common/unix_socket.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_ca.h"

namespace signet {
namespace {

using ::testing::HasSubstr;

// Holds an exclusive flock on the file at `path` (created 0600 if need be) while it lives, as
// another ListenUnix would.
class HeldLock {
 public:
  explicit HeldLock(const std::string& path) : fd_(open(path.c_str(), O_RDWR | O_CREAT, 0600)) {
    EXPECT_EQ(flock(fd_, LOCK_EX), 0) << path;
  }
  ~HeldLock() { Release(); }
  void Release() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

TEST(UnixSocketTest, ASocketIsMadeOnlyOnceTheLockIsFree) {
  testing::TempDir dir;
  const std::string path = dir.File("a.sock");
  HeldLock other(path + kLockSuffix);
  std::atomic<bool> done{false};
  absl::StatusOr<UnixListener> listener;
  std::thread make([&] {
    listener = ListenUnix(path, 0600, 0, 8);
    done = true;
  });
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_FALSE(done) << "ListenUnix went ahead while another process held the lock";
  EXPECT_FALSE(Exists(path));
  other.Release();
  make.join();
  ASSERT_TRUE(listener.ok()) << listener.status();
  EXPECT_TRUE(Exists(path));
  struct stat st {};
  ASSERT_EQ(stat((path + kLockSuffix).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  RemoveUnixSocket(path, *listener);
  close(listener->fd);
}

TEST(UnixSocketTest, AHeldLockIsWaitedOnForAWhileOnly) {
  testing::TempDir dir;
  HeldLock other(dir.File("b.sock") + kLockSuffix);
  const absl::Time start = absl::Now();
  absl::StatusOr<UnixListener> listener = ListenUnix(dir.File("b.sock"), 0600, 0, 8);
  EXPECT_GE(absl::Now() - start, kSocketLockWait);
  ASSERT_FALSE(listener.ok());
  EXPECT_EQ(listener.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(listener.status().message(), HasSubstr("another process of this user has held"));
  EXPECT_FALSE(Exists(dir.File("b.sock")));
}

// Only this user's own regular file is a lock: one of another user's, or a symlink planted at
// the name, is not waited on (else anyone able to create or lock it could keep the socket from
// being made). ListenUnix goes on unlocked at once.
TEST(UnixSocketTest, NobodyElsesFileIsTakenForTheLock) {
  testing::TempDir dir;
  const std::string foreign = dir.File("c.sock");
  HeldLock theirs(foreign + kLockSuffix);
  ASSERT_EQ(chown((foreign + kLockSuffix).c_str(), 65534, 65534), 0) << "the tests run as root";
  const std::string planted = dir.File("d.sock");
  HeldLock target(dir.File("elsewhere"));
  ASSERT_EQ(symlink(dir.File("elsewhere").c_str(), (planted + kLockSuffix).c_str()), 0);
  for (const std::string& path : {foreign, planted}) {
    // Waiting on the held lock would end in Unavailable.
    absl::StatusOr<UnixListener> listener = ListenUnix(path, 0600, 0, 8);
    ASSERT_TRUE(listener.ok()) << path << ": " << listener.status();
    RemoveUnixSocket(path, *listener);
    close(listener->fd);
  }
}

// Two at once on one path: exactly one listens there, the other is told it is in use, and the
// socket file left is the winner's (not one orphaned by the loser's stale-socket check). The
// outcome in every interleaving; without the lock the bad one (between one's bind and its
// listen) is rarely hit here, which is why the two tests above show the lock itself.
TEST(UnixSocketTest, TwoListenersStartingAtOnceNeverBothTakeThePath) {
  testing::TempDir dir;
  const std::string path = dir.File("e.sock");
  for (int round = 0; round < 100; ++round) {
    absl::StatusOr<UnixListener> a;
    absl::StatusOr<UnixListener> b;
    std::atomic<int> ready{0};
    auto at_once = [&ready](absl::StatusOr<UnixListener>* out, const std::string& p) {
      ready.fetch_add(1);
      while (ready.load() < 2) {
      }
      *out = ListenUnix(p, 0600, 0, 8);
    };
    std::thread ta(at_once, &a, path);
    std::thread tb(at_once, &b, path);
    ta.join();
    tb.join();
    ASSERT_NE(a.ok(), b.ok()) << round << ": " << a.status() << " / " << b.status();
    const UnixListener& won = a.ok() ? *a : *b;
    const absl::Status& lost = a.ok() ? b.status() : a.status();
    EXPECT_THAT(lost.message(), HasSubstr("already in use")) << round;
    struct stat st {};
    ASSERT_EQ(lstat(path.c_str(), &st), 0) << round;
    EXPECT_EQ(st.st_ino, won.ino) << round;
    RemoveUnixSocket(path, won);
    close(won.fd);
  }
}

}  // namespace
}  // namespace signet
