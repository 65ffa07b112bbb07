#include "src/proxy/pump.h"

#include <openssl/err.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <utility>

namespace signet::proxy {
namespace {

// Where reads land, a TLS record's worth; what is not written on at once is copied out
// (Buffer::Keep).
constexpr size_t kReadSize = 16 * 1024;
thread_local char scratch[kReadSize];

bool WouldBlock(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

sigset_t OnlySigpipe() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  return set;
}

}  // namespace

void PumpState::Buffer::Keep() {
  if (empty() || data == kept.get()) return;
  const size_t n = len - off;
  auto copy = std::make_unique<char[]>(n);
  std::memcpy(copy.get(), data + off, n);
  kept = std::move(copy);
  Fill(kept.get(), n);
}

void PumpState::Buffer::Written(size_t n) {
  off += n;
  if (empty()) kept.reset();
}

PumpState::PumpState(SSL* ssl, int tls_fd, int plain_fd)
    : ssl_(ssl), tls_fd_(tls_fd), plain_fd_(plain_fd) {
  // One recv takes a whole TLS record, or several, instead of a header then a body; what it
  // read beyond one record waits in OpenSSL's buffer (SSL_has_pending).
  SSL_set_read_ahead(ssl_, 1);
  // Non-blocking writes: one may be partial, and a retry may come from another place (a kept
  // copy of the scratch buffer).
  SSL_set_mode(ssl_, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
}

PumpState::Io PumpState::ReadTls() {
  ERR_clear_error();
  const int n = SSL_read(ssl_, scratch, sizeof(scratch));
  if (n > 0) {
    read_wants_write_ = false;
    to_plain_.Fill(scratch, static_cast<size_t>(n));
    return Io::kProgress;
  }
  switch (SSL_get_error(ssl_, n)) {
    case SSL_ERROR_WANT_READ:
      read_wants_write_ = false;
      return Io::kWouldBlock;
    case SSL_ERROR_WANT_WRITE:
      read_wants_write_ = true;
      return Io::kWouldBlock;
    case SSL_ERROR_ZERO_RETURN:
      return Io::kEnd;
    default:
      return Io::kError;
  }
}

PumpState::Io PumpState::WriteTls() {
  Buffer& b = to_tls_;
  ERR_clear_error();
  const int n = SSL_write(ssl_, b.data + b.off, static_cast<int>(b.len - b.off));
  if (n > 0) {
    write_wants_read_ = false;
    b.Written(static_cast<size_t>(n));
    result_.to_tls += static_cast<uint64_t>(n);
    return Io::kProgress;
  }
  switch (SSL_get_error(ssl_, n)) {
    case SSL_ERROR_WANT_WRITE:
      write_wants_read_ = false;
      return Io::kWouldBlock;
    case SSL_ERROR_WANT_READ:
      write_wants_read_ = true;
      return Io::kWouldBlock;
    default:
      return Io::kError;
  }
}

PumpState::Io PumpState::ReadPlain() {
  const ssize_t n = recv(plain_fd_, scratch, sizeof(scratch), 0);
  if (n > 0) {
    to_tls_.Fill(scratch, static_cast<size_t>(n));
    return Io::kProgress;
  }
  if (n == 0) return Io::kEnd;
  return WouldBlock(errno) ? Io::kWouldBlock : Io::kError;
}

PumpState::Io PumpState::WritePlain() {
  Buffer& b = to_plain_;
  const ssize_t n = send(plain_fd_, b.data + b.off, b.len - b.off, MSG_NOSIGNAL);
  if (n > 0) {
    b.Written(static_cast<size_t>(n));
    result_.from_tls += static_cast<uint64_t>(n);
    return Io::kProgress;
  }
  return WouldBlock(errno) ? Io::kWouldBlock : Io::kError;
}

bool PumpState::WriteOut(Buffer& b, Io (PumpState::*write)(), bool* progress) {
  // On while the writes make progress: a partial TLS write is one record (small ones if the
  // peer asked for a max_fragment_length), and the rest goes out now, not after a wait.
  while (!b.empty()) {
    const Io io = (this->*write)();
    if (io == Io::kError) return false;
    if (io != Io::kProgress) break;
    *progress = true;
  }
  b.Keep();
  return true;
}

bool PumpState::Pass(bool* progress) {
  // A read's outcome: data, the end of that side's stream (the other gets a shutdown once
  // drained), or nothing yet. False on an error.
  auto take_read = [progress](Io io, bool* open, bool* shut_other) {
    if (io == Io::kError) return false;
    if (io == Io::kEnd) {
      *open = false;
      *shut_other = true;
    }
    *progress |= io != Io::kWouldBlock;
    return true;
  };
  if (tls_open_ && to_plain_.empty() && tls_readable_) {
    const Io io = ReadTls();
    if (!take_read(io, &tls_open_, &shut_plain_)) return false;
    tls_readable_ = io == Io::kProgress && SSL_has_pending(ssl_) == 1;
  }
  if (!WriteOut(to_plain_, &PumpState::WritePlain, progress)) return false;
  if (shut_plain_ && to_plain_.empty()) {
    shutdown(plain_fd_, SHUT_WR);
    shut_plain_ = false;
  }
  if (plain_open_ && to_tls_.empty() && plain_readable_) {
    const Io io = ReadPlain();
    if (!take_read(io, &plain_open_, &shut_tls_)) return false;
    plain_readable_ = io == Io::kProgress && to_tls_.len == kReadSize;
  }
  if (!WriteOut(to_tls_, &PumpState::WriteTls, progress)) return false;
  if (shut_tls_ && to_tls_.empty()) {
    // close_notify: the peer sees our end and may still send. WANT_WRITE: it waits behind a
    // full socket, and goes out when the wait says there is room.
    ERR_clear_error();
    const int rc = SSL_shutdown(ssl_);
    shut_tls_ = rc < 0 && SSL_get_error(ssl_, rc) == SSL_ERROR_WANT_WRITE;
  }
  return true;
}

bool PumpState::CanRead() const {
  return (tls_open_ && to_plain_.empty() && tls_readable_) ||
         (plain_open_ && to_tls_.empty() && plain_readable_);
}

bool PumpState::Finished() const {
  return !tls_open_ && !plain_open_ && to_plain_.empty() && to_tls_.empty() && !shut_tls_;
}

PumpState::Outcome PumpState::Step() {
  const uint64_t start = result_.from_tls + result_.to_tls;
  for (;;) {
    bool progress = false;
    if (socket_error_ || !Pass(&progress)) {
      result_.clean = false;
      return Outcome::kFailed;
    }
    if (Finished()) return Outcome::kDone;
    // Another pass while something moved and there may be more to read; else wait.
    if (!progress || !CanRead()) return Outcome::kWait;
    if (result_.from_tls + result_.to_tls - start >= kStepBytes) return Outcome::kBusy;
  }
}

PumpState::Interest PumpState::interest() const {
  Interest in;
  if (tls_open_ && to_plain_.empty()) in.tls |= read_wants_write_ ? POLLOUT : POLLIN;
  if (!to_tls_.empty()) in.tls |= write_wants_read_ ? POLLIN : POLLOUT;
  if (shut_tls_ && to_tls_.empty()) in.tls |= POLLOUT;
  if (plain_open_ && to_tls_.empty()) in.plain |= POLLIN;
  if (!to_plain_.empty()) in.plain |= POLLOUT;
  return in;
}

void PumpState::Ready(short tls_revents, short plain_revents) {
  // An error on a socket we only wait to write to would wake the wait at once, forever.
  if ((tls_revents | plain_revents) & (POLLERR | POLLNVAL)) socket_error_ = true;
  // The TLS read runs again when its socket is ready for it (or hung up), or when OpenSSL
  // holds bytes that no wait can see (a record read ahead with the one before it). A record
  // held only in part costs one read that finds nothing more, never a busy loop: the wait has
  // blocked first.
  const short tls_ready = (read_wants_write_ ? POLLOUT : POLLIN) | POLLHUP;
  if (SSL_has_pending(ssl_) == 1 || (tls_revents & tls_ready) != 0) tls_readable_ = true;
  if ((plain_revents & (POLLIN | POLLHUP)) != 0) plain_readable_ = true;
}

ScopedSigpipeBlock::ScopedSigpipeBlock() {
  const sigset_t pipe = OnlySigpipe();
  pthread_sigmask(SIG_BLOCK, &pipe, &old_);
}

ScopedSigpipeBlock::~ScopedSigpipeBlock() {
  if (sigismember(&old_, SIGPIPE) == 1) return;  // an outer block is still on
  const sigset_t pipe = OnlySigpipe();
  const timespec now{};
  for (;;) {  // until none is pending (EAGAIN); EINTR is another try, not the end
    const int taken = sigtimedwait(&pipe, nullptr, &now);
    if (taken != SIGPIPE && !(taken < 0 && errno == EINTR)) break;
  }
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

}  // namespace signet::proxy
