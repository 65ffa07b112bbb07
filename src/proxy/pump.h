// Pumping: copies bytes both ways between a TLS connection and a plain socket until both
// directions have ended. Both sockets are non-blocking and each direction has its own buffer,
// so a peer that is not reading never stops the other direction (no deadlock when both sides
// write at once). A clean end on one side is passed on as a half-close (close_notify to the TLS
// peer, shutdown(SHUT_WR) to the plain one); an error on either side ends both.
//
// PumpState is the state machine, driven by whoever waits for the sockets: a PumpLoop
// (pump_loop.h) with epoll for many connections.
#ifndef SIGNET_PROXY_PUMP_H_
#define SIGNET_PROXY_PUMP_H_

#include <openssl/ssl.h>
#include <signal.h>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace signet::proxy {

struct PumpResult {
  uint64_t from_tls = 0;  // bytes read from the TLS peer (written to the plain side)
  uint64_t to_tls = 0;    // bytes written to the TLS peer
  bool clean = true;      // false when it ended on an error rather than two clean ends
};

// One connection's two directions. Not thread-safe; SIGPIPE must be blocked on the thread that
// calls Step() (ScopedSigpipeBlock).
class PumpState {
 public:
  // kBusy: more could move now, but the step has moved its share (kStepBytes); step again
  // soon, before waiting, so that one busy connection does not hold up others on its thread.
  enum class Outcome { kWait, kBusy, kDone, kFailed };
  static constexpr uint64_t kStepBytes = 64 * 1024;
  // The poll events (POLLIN, POLLOUT) to wait for on each socket; 0 means none.
  struct Interest {
    short tls = 0;
    short plain = 0;
  };

  // `tls_fd` is the socket under `ssl` (handshake done); both sockets must be non-blocking.
  // Neither is owned.
  PumpState(SSL* ssl, int tls_fd, int plain_fd);
  PumpState(const PumpState&) = delete;
  PumpState& operator=(const PumpState&) = delete;

  // Moves what can move without blocking, up to kStepBytes. kWait: wait for interest(), then
  // report what happened with Ready() and step again. kBusy: step again (interest() holds for
  // whatever else the caller waits on meanwhile). kDone/kFailed: both directions have ended
  // (or one failed); result() is final.
  Outcome Step();
  Interest interest() const;
  // What the wait saw on each socket (poll revents; 0 for a socket it did not report). An
  // error on either socket fails the connection at the next Step().
  void Ready(short tls_revents, short plain_revents);

  int tls_fd() const { return tls_fd_; }
  int plain_fd() const { return plain_fd_; }
  const PumpResult& result() const { return result_; }

 private:
  // Bytes read from one side for the other. A read lands in the thread's scratch buffer and is
  // written on at once; only what the other side did not take is copied into memory of the
  // connection's own (Keep), freed once written. An idle connection holds no buffer.
  struct Buffer {
    const char* data = nullptr;
    size_t len = 0;
    size_t off = 0;
    std::unique_ptr<char[]> kept;
    bool empty() const { return off == len; }
    void Fill(const char* scratch, size_t n) {
      data = scratch;
      len = n;
      off = 0;
    }
    // Before the scratch buffer is read into again.
    void Keep();
    void Written(size_t n);
  };
  enum class Io { kProgress, kWouldBlock, kEnd, kError };

  // One pass over both directions; false on an error. *progress: something moved.
  bool Pass(bool* progress);
  // Writes `b` to its side with `write` while that makes progress, then keeps what is left
  // (Buffer::Keep). False on an error.
  bool WriteOut(Buffer& b, Io (PumpState::*write)(), bool* progress);
  bool CanRead() const;
  bool Finished() const;
  Io ReadTls();
  Io WriteTls();
  Io ReadPlain();
  Io WritePlain();

  SSL* const ssl_;
  const int tls_fd_;
  const int plain_fd_;
  PumpResult result_;
  Buffer to_plain_;          // read from the TLS peer
  Buffer to_tls_;            // read from the plain side
  bool tls_open_ = true;     // the TLS peer may still send
  bool plain_open_ = true;   // the plain side may still send
  bool shut_plain_ = false;  // the TLS peer ended: shut the plain side's write half once drained
  bool shut_tls_ = false;    // the plain side ended: send close_notify once drained
  bool read_wants_write_ = false;
  bool write_wants_read_ = false;
  bool socket_error_ = false;  // a wait saw POLLERR/POLLNVAL
  // Whether a read may find something: after a wait said so, or a read that may have left more
  // (a full buffer, or records OpenSSL holds). A read that would only say EAGAIN is not made:
  // the waits are level-triggered, so nothing that arrives meanwhile is missed.
  bool tls_readable_ = true;
  bool plain_readable_ = true;
};

// Blocks SIGPIPE on this thread while it lives. OpenSSL writes to its socket with write(), not
// send(MSG_NOSIGNAL), so a peer that has gone (an alert after an unexpected EOF, a write after a
// reset) would otherwise raise SIGPIPE and end the whole process. A SIGPIPE raised meanwhile is
// discarded when the outermost block ends.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock();
  ~ScopedSigpipeBlock();
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t old_;
};

}  // namespace signet::proxy

#endif  // SIGNET_PROXY_PUMP_H_
