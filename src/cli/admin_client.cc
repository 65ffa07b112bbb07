#include "src/cli/admin_client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <cstdlib>
#include <iostream>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace signet::cli {

void AddAdminFlags(CLI::App* cmd, AdminFlags* flags) {
  const char* env = std::getenv("SIGNET_ADMIN_SOCKET");
  flags->socket = env != nullptr && *env != '\0' ? env : kDefaultAdminSocket;
  cmd->add_option("--socket", flags->socket,
                  "Admin socket of the server (default: $SIGNET_ADMIN_SOCKET or " +
                      std::string(kDefaultAdminSocket) + ")");
  AddOutputFlag(cmd, &flags->output);
  cmd->add_option("--timeout", flags->timeout_seconds, "Seconds to wait for the server")
      ->check(CLI::Range(0.1, 3600.0));
}

AdminClient::AdminClient(const AdminFlags& flags)
    : flags_(flags),
      channel_(grpc::CreateChannel("unix:" + flags.socket, grpc::InsecureChannelCredentials())) {}

std::unique_ptr<grpc::ClientContext> AdminClient::Context() const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(static_cast<int64_t>(flags_.timeout_seconds * 1000)));
  return ctx;
}

int FailRpc(const grpc::Status& status, const std::string& what, const AdminFlags& flags) {
  std::string message = status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    message = absl::StrCat("cannot reach the server on ", flags.socket, " (", message,
                           "); is `signet server run` running? (--socket PATH)");
  }
  return Fail(absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                           absl::StrCat(what, ": ", message)));
}

absl::StatusOr<int32_t> ParseTtlFlag(const std::string& flag, const std::string& text) {
  int64_t seconds = 0;
  if (!absl::SimpleAtoi(text, &seconds)) {
    absl::Duration d;
    if (!absl::ParseDuration(text, &d) || d < absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": \"", text, "\" is not a duration (e.g. 3600, 90s, 5m, 1h30m)"));
    }
    seconds = absl::ToInt64Seconds(d);
  }
  if (seconds < 0 || seconds > std::numeric_limits<int32_t>::max()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": out of range"));
  }
  return static_cast<int32_t>(seconds);
}

}  // namespace signet::cli
