// Calls: the message framing, Call's thread-safe Write and Finish, the SingleRequest adapter,
// and the grpc-message and grpc-timeout encodings. The server and its loops: grpc_server.cc.
#include <google/protobuf/message_lite.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "src/rpc/h2/connection.h"
#include "src/rpc/h2/grpc_server.h"

namespace signet::rpc::h2 {
namespace {

std::string Frame(size_t size) {
  std::string framed(5 + size, '\0');
  framed[1] = static_cast<char>((size >> 24) & 0xff);
  framed[2] = static_cast<char>((size >> 16) & 0xff);
  framed[3] = static_cast<char>((size >> 8) & 0xff);
  framed[4] = static_cast<char>(size & 0xff);
  return framed;
}

class SingleRequestHandler final : public Handler {
 public:
  SingleRequestHandler(std::shared_ptr<Call> call,
                       std::function<void(std::shared_ptr<Call>, std::string)> run,
                       std::function<void(const std::shared_ptr<Call>&)> cancelled)
      : call_(std::move(call)), run_(std::move(run)), cancelled_(std::move(cancelled)) {}

  void OnMessage(std::string message) override {
    if (received_) {
      call_->Finish(absl::InternalError("this method takes one request message, not several"));
      return;
    }
    received_ = true;
    request_ = std::move(message);
  }
  void OnHalfClose() override {
    if (call_->done()) return;
    if (!received_) {
      call_->Finish(absl::InternalError("this method takes one request message; none was sent"));
      return;
    }
    run_(call_, std::move(request_));
  }
  void OnCancel() override {
    if (cancelled_) cancelled_(call_);
  }

 private:
  const std::shared_ptr<Call> call_;
  const std::function<void(std::shared_ptr<Call>, std::string)> run_;
  const std::function<void(const std::shared_ptr<Call>&)> cancelled_;
  bool received_ = false;
  std::string request_;
};

}  // namespace

const std::string* CallInfo::Find(absl::string_view name) const {
  for (const auto& [key, value] : metadata) {
    if (key == name) return &value;
  }
  return nullptr;
}

bool Call::Write(std::string message) {
  std::string framed = Frame(message.size());
  std::copy(message.begin(), message.end(), framed.begin() + 5);
  std::shared_ptr<Connection> connection = connection_.lock();
  if (connection == nullptr || done()) return false;
  return connection->PostWrite(stream_id_, std::move(framed));
}

bool Call::Write(const google::protobuf::MessageLite& message) {
  const size_t size = message.ByteSizeLong();
  std::string framed = Frame(size);
  if (!message.SerializeToArray(framed.data() + 5, static_cast<int>(size))) return false;
  std::shared_ptr<Connection> connection = connection_.lock();
  if (connection == nullptr || done()) return false;
  return connection->PostWrite(stream_id_, std::move(framed));
}

void Call::Finish(const absl::Status& status) {
  if (!MarkDone()) return;
  if (std::shared_ptr<Connection> connection = connection_.lock()) {
    connection->PostFinish(stream_id_, status);
  }
}

HandlerFactory SingleRequest(std::function<void(std::shared_ptr<Call>, std::string)> run,
                             std::function<void(const std::shared_ptr<Call>&)> cancelled) {
  return [run = std::move(run), cancelled = std::move(cancelled)](std::shared_ptr<Call> call) {
    return std::make_unique<SingleRequestHandler>(std::move(call), run, cancelled);
  };
}

std::string PercentEncode(absl::string_view message) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(message.size());
  for (char ch : message) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c > 0x7e || c == '%') {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += ch;
    }
  }
  return out;
}

std::string PercentDecode(absl::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    int byte = 0;
    if (in[i] == '%' && i + 2 < in.size() && absl::ascii_isxdigit(in[i + 1]) &&
        absl::ascii_isxdigit(in[i + 2]) && absl::SimpleHexAtoi(in.substr(i + 1, 2), &byte)) {
      out.push_back(static_cast<char>(byte));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

std::optional<absl::Duration> ParseGrpcTimeout(absl::string_view value) {
  // TimeoutValue: 1 to 8 ASCII digits; TimeoutUnit: H, M, S, m, u or n.
  if (value.size() < 2 || value.size() > 9) return std::nullopt;
  const absl::string_view digits = value.substr(0, value.size() - 1);
  if (!std::all_of(digits.begin(), digits.end(), absl::ascii_isdigit)) return std::nullopt;
  int64_t amount = 0;
  if (!absl::SimpleAtoi(digits, &amount)) return std::nullopt;
  switch (value.back()) {
    case 'H':
      return absl::Hours(amount);
    case 'M':
      return absl::Minutes(amount);
    case 'S':
      return absl::Seconds(amount);
    case 'm':
      return absl::Milliseconds(amount);
    case 'u':
      return absl::Microseconds(amount);
    case 'n':
      return absl::Nanoseconds(amount);
    default:
      return std::nullopt;
  }
}

}  // namespace signet::rpc::h2
