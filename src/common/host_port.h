// "host:port" as listeners and targets are written: a host name, an IPv4 address or a bracketed
// IPv6 address, and a port from 0 to 65535.
#ifndef SIGNET_COMMON_HOST_PORT_H_
#define SIGNET_COMMON_HOST_PORT_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace signet {

// Which host names pass: kListen, RFC 1123 names only (letters, digits, '-', '.'); kDial, also
// '_', which resolvers such as Docker's serve (service names like "signet_server").
enum class HostNames { kListen, kDial };

// Splits "host:port" / "[v6]:port" and checks both halves; InvalidArgument saying what is wrong.
absl::Status ParseHostPort(absl::string_view text, std::string* host, uint16_t* port,
                           HostNames names = HostNames::kListen);

}  // namespace signet

#endif  // SIGNET_COMMON_HOST_PORT_H_
