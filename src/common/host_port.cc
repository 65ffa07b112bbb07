#include "src/common/host_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace signet {
namespace {

// A DNS name: letters, digits, hyphens and dots (and underscores for kDial), labels of 1-63
// bytes.
bool IsHostName(absl::string_view host, HostNames names) {
  if (host.empty() || host.size() > 253) {
    return false;
  }
  size_t label = 0;
  for (char c : host) {
    if (c == '.') {
      if (label == 0) {
        return false;
      }
      label = 0;
    } else if (absl::ascii_isalnum(c) || c == '-' || (c == '_' && names == HostNames::kDial)) {
      if (++label > 63) {
        return false;
      }
    } else {
      return false;
    }
  }
  return label != 0 || host.size() > 1;
}

}  // namespace

absl::Status ParseHostPort(absl::string_view text, std::string* host, uint16_t* port,
                           HostNames names) {
  if (absl::StrContains(text, '/')) {
    return absl::InvalidArgumentError(absl::StrCat("want host:port, not a URL or gRPC target: \"",
                                                   text, "\" (e.g. 10.0.0.5:8081)"));
  }
  absl::string_view host_part;
  absl::string_view port_part;
  bool bracketed = false;
  if (absl::StartsWith(text, "[")) {
    const size_t close = text.find(']');
    if (close == absl::string_view::npos || text.substr(close + 1, 1) != ":") {
      return absl::InvalidArgumentError("want \"[ipv6]:port\"");
    }
    host_part = text.substr(1, close - 1);
    port_part = text.substr(close + 2);
    bracketed = true;
  } else {
    const size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError("want host:port, e.g. 127.0.0.1:8081");
    }
    host_part = text.substr(0, colon);
    port_part = text.substr(colon + 1);
    if (absl::StrContains(host_part, ':')) {
      return absl::InvalidArgumentError("an IPv6 address must be in brackets, e.g. [::1]:8081");
    }
  }
  uint32_t port_number = 0;
  if (port_part.empty() || !std::all_of(port_part.begin(), port_part.end(), absl::ascii_isdigit) ||
      port_part.size() > 5 || !absl::SimpleAtoi(port_part, &port_number) || port_number > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("port must be a number from 0 to 65535, not \"", port_part, "\""));
  }
  const std::string host_string(host_part);
  in6_addr v6;
  in_addr v4;
  if (bracketed) {
    if (inet_pton(AF_INET6, host_string.c_str(), &v6) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("\"", host_part, "\" is not an IPv6 address"));
    }
  } else if (host_part.empty()) {
    return absl::InvalidArgumentError("host is empty (use 0.0.0.0 to listen on every address)");
  } else if (inet_pton(AF_INET, host_string.c_str(), &v4) != 1 && !IsHostName(host_part, names)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", host_part, "\" is neither an IPv4 address nor a host name"));
  }
  *host = host_string;
  *port = static_cast<uint16_t>(port_number);
  return absl::OkStatus();
}

}  // namespace signet
