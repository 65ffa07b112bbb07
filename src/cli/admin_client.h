// The client side of the admin API for CLI commands: where the socket is, one channel, calls
// with a deadline, and gRPC status -> exit code and message.
#ifndef SIGNET_CLI_ADMIN_CLIENT_H_
#define SIGNET_CLI_ADMIN_CLIENT_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <chrono>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/cli/output.h"

namespace signet::cli {

// $SIGNET_ADMIN_SOCKET, or this.
inline constexpr char kDefaultAdminSocket[] = "/run/signet/server/admin.sock";

// Flags every admin command shares.
struct AdminFlags {
  std::string socket;
  OutputFormat output = OutputFormat::kText;
  double timeout_seconds = 30;
};

// Adds --socket, --output and --timeout to `cmd`.
void AddAdminFlags(CLI::App* cmd, AdminFlags* flags);

class AdminClient {
 public:
  explicit AdminClient(const AdminFlags& flags);
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  // A context with the command's deadline.
  std::unique_ptr<grpc::ClientContext> Context() const;
  const AdminFlags& flags() const { return flags_; }
  bool json() const { return flags_.output == OutputFormat::kJson; }

 private:
  AdminFlags flags_;
  std::shared_ptr<grpc::Channel> channel_;
};

// Prints a failed call as "signet: <what>: <message>" (with a hint when the server is not
// reachable) and returns kExitError.
int FailRpc(const grpc::Status& status, const std::string& what, const AdminFlags& flags);

// "3600", "90s", "5m", "1h30m" -> seconds. InvalidArgument names the flag.
absl::StatusOr<int32_t> ParseTtlFlag(const std::string& flag, const std::string& text);

}  // namespace signet::cli

#endif  // SIGNET_CLI_ADMIN_CLIENT_H_
