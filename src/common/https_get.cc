#include "src/common/https_get.h"

#include <httplib.h>
#include <openssl/x509.h>

#include <chrono>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace signet {
namespace {

absl::Status BadUrl(absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("https url: ", message));
}

}  // namespace

absl::StatusOr<HttpsUrl> ParseHttpsUrl(absl::string_view url) {
  constexpr absl::string_view kScheme = "https://";
  if (url.size() > 2048) {
    return BadUrl("longer than 2048 bytes");
  }
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return BadUrl("contains a space or a control character");
    }
  }
  if (!absl::StartsWithIgnoreCase(url, kScheme)) {
    return BadUrl(absl::StrCat("\"", url, "\" does not start with https://"));
  }
  absl::string_view rest = url.substr(kScheme.size());
  if (rest.find('#') != absl::string_view::npos) {
    return BadUrl("a fragment (#) has no meaning here");
  }
  size_t slash = rest.find_first_of("/?");
  absl::string_view authority = rest.substr(0, slash);
  HttpsUrl out;
  out.path = slash == absl::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (out.path[0] == '?') out.path.insert(0, "/");
  if (authority.find('@') != absl::string_view::npos) {
    return BadUrl("user info (user@) is not allowed");
  }
  absl::string_view port;
  if (absl::StartsWith(authority, "[")) {
    size_t close = authority.find(']');
    if (close == absl::string_view::npos) {
      return BadUrl("unclosed [ in the host");
    }
    out.host = std::string(authority.substr(1, close - 1));
    absl::string_view after = authority.substr(close + 1);
    if (!after.empty() && after[0] != ':') {
      return BadUrl("unexpected text after ]");
    }
    if (!after.empty()) port = after.substr(1);
  } else {
    size_t colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != absl::string_view::npos) port = authority.substr(colon + 1);
    if (out.host.find_first_of("[]") != std::string::npos) {
      return BadUrl("malformed host");
    }
  }
  if (out.host.empty()) {
    return BadUrl("the host is empty");
  }
  if (authority.find(':') != absl::string_view::npos && (authority.back() == ':' || port.empty())) {
    return BadUrl("the port is empty");
  }
  if (!port.empty()) {
    uint32_t value = 0;
    if (!absl::SimpleAtoi(port, &value) || value == 0 || value > 65535) {
      return BadUrl(absl::StrCat("bad port \"", port, "\""));
    }
    out.port = static_cast<uint16_t>(value);
  }
  return out;
}

namespace {

// One GET on `client` without redirects or keep-alive, each of connect/read/write bounded by
// `timeout`, the body collected into `*body` up to `max_bytes` (`*too_big` when it was cut).
httplib::Result CappedGet(httplib::ClientImpl& client, const std::string& path,
                          const httplib::Headers& headers, absl::Duration timeout, size_t max_bytes,
                          std::string* body, bool* too_big) {
  client.set_follow_location(false);
  client.set_keep_alive(false);
  const auto t = absl::ToChronoMicroseconds(timeout);
  client.set_connection_timeout(t);
  client.set_read_timeout(t);
  client.set_write_timeout(t);
  *too_big = false;
  return client.Get(path, headers, [&](const char* data, size_t length) {
    if (body->size() + length > max_bytes) {
      *too_big = true;
      return false;
    }
    body->append(data, length);
    return true;
  });
}

}  // namespace

absl::StatusOr<std::string> HttpsGet(absl::string_view url, const HttpsGetOptions& options) {
  absl::StatusOr<HttpsUrl> parsed = ParseHttpsUrl(url);
  if (!parsed.ok()) return parsed.status();
  httplib::SSLClient client(parsed->host, parsed->port);
  if (!client.is_valid()) {
    return absl::InternalError("https: cannot create a TLS client");
  }
  if (!options.ca_path.empty()) {
    client.set_ca_cert_path(options.ca_path);
  }
  client.enable_server_certificate_verification(true);
  httplib::Headers headers{{"Accept", "application/json"}};
  if (!options.bearer_token.empty()) {
    headers.emplace("Authorization", "Bearer " + options.bearer_token);
  }
  std::string body;
  bool too_big = false;
  httplib::Result result =
      CappedGet(client, parsed->path, headers, options.timeout, options.max_bytes, &body, &too_big);
  const std::string where = absl::StrCat("GET ", url, ": ");
  if (too_big) {
    return absl::UnavailableError(
        absl::StrCat(where, "the answer is larger than ", options.max_bytes, " bytes"));
  }
  if (!result) {
    std::string cause = absl::StrCat("request failed (", httplib::to_string(result.error()), ")");
    const long verify = client.get_openssl_verify_result();
    if (verify != X509_V_OK) {
      cause = absl::StrCat("the server certificate does not verify: ",
                           X509_verify_cert_error_string(verify));
    } else if (result.error() == httplib::Error::SSLServerVerification) {
      cause = absl::StrCat("the server certificate does not name ", parsed->host);
    }
    return absl::UnavailableError(absl::StrCat(where, cause));
  }
  if (result->status != 200) {
    return absl::UnavailableError(absl::StrCat(where, "HTTP status ", result->status));
  }
  return body;
}

namespace {

// One GET on a configured plain-HTTP client.
absl::StatusOr<HttpAnswer> PlainGet(httplib::ClientImpl& client, const std::string& where,
                                    const std::string& path, absl::Duration timeout,
                                    size_t max_bytes) {
  HttpAnswer answer;
  bool too_big = false;
  httplib::Result result = CappedGet(client, path, httplib::Headers{{"Accept", "application/json"}},
                                     timeout, max_bytes, &answer.body, &too_big);
  const std::string prefix = absl::StrCat("GET ", path, " on ", where, ": ");
  if (too_big) {
    return absl::UnavailableError(absl::StrCat(prefix, "larger than ", max_bytes, " bytes"));
  }
  if (!result) {
    return absl::UnavailableError(
        absl::StrCat(prefix, "request failed (", httplib::to_string(result.error()), ")"));
  }
  answer.status = result->status;
  return answer;
}

}  // namespace

absl::StatusOr<HttpAnswer> PlainHttpGet(const std::string& host, int port, const std::string& path,
                                        absl::Duration timeout, size_t max_bytes) {
  httplib::ClientImpl client(host, port);
  return PlainGet(client, absl::StrCat(host, ":", port), path, timeout, max_bytes);
}

absl::StatusOr<HttpAnswer> UnixHttpGet(const std::string& socket_path, const std::string& path,
                                       absl::Duration timeout, size_t max_bytes) {
  httplib::ClientImpl client(socket_path, 80);  // with AF_UNIX the "host" is the socket path
  client.set_address_family(AF_UNIX);
  return PlainGet(client, socket_path, path, timeout, max_bytes);
}

}  // namespace signet
