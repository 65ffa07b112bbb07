// Fuzzes the h2 gRPC server's connection: whatever a local process sends after the HTTP/2
// client preface goes through nghttp2 and our stream, header, framing and call handling, with
// a unary echo method and a bidirectional echo method registered. Invariants: no crash, no
// sanitizer report, and output that is HTTP/2 frames (checked by length prefix walking).
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "src/rpc/h2/connection.h"

namespace {

using signet::rpc::h2::Call;
using signet::rpc::h2::Connection;
using signet::rpc::h2::Handler;
using signet::rpc::h2::HandlerFactory;

class Owner final : public signet::rpc::h2::ConnectionOwner {
 public:
  void Schedule(std::shared_ptr<Connection> c) override { pending.push_back(std::move(c)); }
  // What the loop does after each read: applies what calls posted, until nothing is left.
  void RunAll() {
    while (!pending.empty()) {
      for (auto& conn : std::exchange(pending, {})) conn->RunPosted();
    }
  }
  std::vector<std::shared_ptr<Connection>> pending;
};

class Echo final : public Handler {
 public:
  explicit Echo(std::shared_ptr<Call> call) : call_(std::move(call)) {}
  void OnMessage(std::string m) override { call_->Write(std::move(m)); }
  void OnHalfClose() override { call_->Finish(absl::OkStatus()); }

 private:
  std::shared_ptr<Call> call_;
};

const absl::flat_hash_map<std::string, HandlerFactory>& Methods() {
  static const auto* methods = new absl::flat_hash_map<std::string, HandlerFactory>{
      {"/SpiffeWorkloadAPI/FetchJWTSVID",
       signet::rpc::h2::SingleRequest([](std::shared_ptr<Call> call, std::string request) {
         call->Write(std::move(request));
         call->Finish(absl::PermissionDeniedError("no\nidentity %"));
       })},
      {"/Echo/Bidi",
       [](std::shared_ptr<Call> call) -> std::unique_ptr<Handler> {
         return std::make_unique<Echo>(std::move(call));
       }},
  };
  return *methods;
}

// Server output must be a sequence of whole HTTP/2 frames (9-byte header + length).
void CheckFrames(const std::string& out) {
  size_t at = 0;
  while (at + 9 <= out.size()) {
    const auto* p = reinterpret_cast<const uint8_t*>(out.data() + at);
    at += 9 + ((size_t{p[0]} << 16) | (size_t{p[1]} << 8) | p[2]);
  }
  if (at != out.size()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Owner owner;
  std::shared_ptr<Connection> c =
      Connection::Create({.methods = &Methods(),
                          .max_request_bytes = 1024,
                          .max_concurrent_streams = 8,
                          .max_header_bytes = 2048},
                         signet::rpc::PeerCred{.pid = 1, .uid = 2, .gid = 3}, 1, &owner);
  if (c == nullptr) return 0;
  static const std::string kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  std::string out;
  bool ok = c->Receive(reinterpret_cast<const uint8_t*>(kPreface.data()), kPreface.size());
  // Feed in two halves, so that state carried across reads is exercised too.
  const size_t half = size / 2;
  for (auto [p, n] : {std::pair{data, half}, std::pair{data + half, size - half}}) {
    if (!ok) break;
    ok = c->Receive(p, n);
    owner.RunAll();
    c->ExpireDeadlines(absl::InfiniteFuture());
    owner.RunAll();
    c->PullOutput(&out, 1 << 20);
  }
  CheckFrames(out);
  c->CancelAll();
  return 0;
}
