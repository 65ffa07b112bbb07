// A minimal HTTP client for the few documents Signet fetches: an OIDC issuer's JWK Set (jwt node
// attestor) and the agent's bootstrap trust bundle over https, and the Docker Engine API over
// its Unix socket. Built on cpp-httplib; the
// library's headers stay inside https_get.cc.
//
// Deny by default: https only, the server certificate must verify (against `ca_path` or the
// system store) and match the host, redirects are not followed, bodies are capped.
#ifndef SIGNET_COMMON_HTTPS_GET_H_
#define SIGNET_COMMON_HTTPS_GET_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace signet {

// The parts of an https URL.
struct HttpsUrl {
  std::string host;  // without brackets for IPv6
  uint16_t port = 443;
  std::string path;  // starts with '/', includes any query
};

// Parses "https://host[:port][/path]". InvalidArgument for another scheme, user info, a
// fragment, an empty or malformed host or port, spaces or control characters.
absl::StatusOr<HttpsUrl> ParseHttpsUrl(absl::string_view url);

struct HttpsGetOptions {
  std::string ca_path;  // PEM file of CA certificates to trust; empty: the system store
  absl::Duration timeout = absl::Seconds(10);  // each of connect, read and write
  size_t max_bytes = 1 << 20;
  std::string bearer_token;  // sent as "Authorization: Bearer ..." when set; never logged
};

// GETs `url` and returns the body of a 200 answer. InvalidArgument for a bad URL; Unavailable
// for connection, TLS and verification failures, other statuses and oversized bodies, with a
// message that names the URL and the cause.
absl::StatusOr<std::string> HttpsGet(absl::string_view url, const HttpsGetOptions& options);

// GETs `path` from an HTTP server on the Unix socket `socket_path` (the Docker Engine API) and
// returns the body with the status. Unavailable when the server cannot be reached or the body
// is over `max_bytes`.
struct HttpAnswer {
  int status = 0;
  std::string body;
};
// GETs `path` over plain HTTP from `host`:`port` (the kubelet's read-only port on loopback).
absl::StatusOr<HttpAnswer> PlainHttpGet(const std::string& host, int port, const std::string& path,
                                        absl::Duration timeout = absl::Seconds(5),
                                        size_t max_bytes = 16 << 20);
absl::StatusOr<HttpAnswer> UnixHttpGet(const std::string& socket_path, const std::string& path,
                                       absl::Duration timeout = absl::Seconds(5),
                                       size_t max_bytes = 4 << 20);

}  // namespace signet

#endif  // SIGNET_COMMON_HTTPS_GET_H_
