#include "src/cli/core_commands.h"

#include <openssl/opensslv.h>

#include <iostream>
#include <iterator>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "src/cli/output.h"
#include "src/common/file_util.h"
#include "src/common/status_macros.h"
#include "src/spiffe/bundle.h"
#include "src/spiffe/jwt_svid.h"
#include "src/spiffe/spiffe_id.h"

namespace signet::cli {
namespace {

constexpr char kVersion[] = "0.1.0";

int IdParse(const std::string& text, OutputFormat format) {
  absl::StatusOr<spiffe::SpiffeId> id = spiffe::SpiffeId::Parse(text);
  if (!id.ok()) {
    return Fail(id.status());
  }
  if (format == OutputFormat::kJson) {
    PrintJson({{"spiffe_id", id->String()},
               {"trust_domain", id->trust_domain().name()},
               {"path", id->path()}});
  } else {
    std::cout << "spiffe id:    " << id->String() << "\n"
              << "trust domain: " << id->trust_domain().name() << "\n"
              << "path:         " << (id->path().empty() ? "(none: trust-domain ID)" : id->path())
              << "\n";
  }
  return kExitOk;
}

std::string KeyDescription(const crypto::KeyInfo& info) {
  if (info.algorithm == crypto::KeyAlgorithm::kRsa) {
    return absl::StrCat("RSA-", info.bits);
  }
  return absl::StrCat("EC ", info.curve);
}

nlohmann::json X509AuthorityJson(const crypto::Certificate& cert) {
  nlohmann::json uris = cert.UriSans();
  return {{"subject", cert.Subject()},
          {"uri_sans", uris},
          {"not_before", FormatRfc3339(cert.NotBefore())},
          {"not_after", FormatRfc3339(cert.NotAfter())},
          {"key", KeyDescription(cert.public_key().info())},
          {"sha256", cert.Sha256Fingerprint()}};
}

nlohmann::json BundleSummary(const spiffe::Bundle& bundle, bool is_json_doc) {
  nlohmann::json x509 = nlohmann::json::array();
  for (const auto& cert : bundle.x509_authorities()) {
    x509.push_back(X509AuthorityJson(cert));
  }
  nlohmann::json jwt = nlohmann::json::array();
  for (const auto& a : bundle.jwt_authorities()) {
    jwt.push_back({{"key_id", a.key_id}, {"key", KeyDescription(a.key.info())}});
  }
  nlohmann::json out = {{"format", is_json_doc ? "spiffe" : "pem"},
                        {"x509_authorities", x509},
                        {"jwt_authorities", jwt}};
  if (bundle.sequence().has_value()) out["spiffe_sequence"] = *bundle.sequence();
  if (bundle.refresh_hint_seconds().has_value()) {
    out["spiffe_refresh_hint"] = *bundle.refresh_hint_seconds();
  }
  return out;
}

void PrintBundleText(const nlohmann::json& s) {
  std::cout << "format:              " << s["format"].get<std::string>() << "\n";
  if (s.contains("spiffe_sequence")) {
    std::cout << "spiffe_sequence:     " << s["spiffe_sequence"] << "\n";
  }
  if (s.contains("spiffe_refresh_hint")) {
    std::cout << "spiffe_refresh_hint: " << s["spiffe_refresh_hint"] << " s\n";
  }
  std::cout << "x509 authorities:    " << s["x509_authorities"].size() << "\n";
  for (const auto& a : s["x509_authorities"]) {
    std::cout << "  - subject:    " << a["subject"].get<std::string>() << "\n";
    for (const auto& uri : a["uri_sans"]) {
      std::cout << "    uri san:    " << uri.get<std::string>() << "\n";
    }
    std::cout << "    key:        " << a["key"].get<std::string>() << "\n"
              << "    valid:      " << a["not_before"].get<std::string>() << " .. "
              << a["not_after"].get<std::string>() << "\n"
              << "    sha256:     " << a["sha256"].get<std::string>() << "\n";
  }
  std::cout << "jwt authorities:     " << s["jwt_authorities"].size() << "\n";
  for (const auto& a : s["jwt_authorities"]) {
    std::cout << "  - key id:     " << a["key_id"].get<std::string>() << "\n"
              << "    key:        " << a["key"].get<std::string>() << "\n";
  }
}

int BundleInspect(const std::string& path, OutputFormat format) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return Fail(text.status());
  }
  absl::StatusOr<spiffe::Bundle> bundle = spiffe::ParseBundleAuto(*text);
  if (!bundle.ok()) {
    return Fail(Annotate(bundle.status(), path));
  }
  bool is_json_doc = text->find_first_not_of(" \t\r\n") != std::string::npos &&
                     (*text)[text->find_first_not_of(" \t\r\n")] == '{';
  nlohmann::json summary = BundleSummary(*bundle, is_json_doc);
  if (format == OutputFormat::kJson) {
    PrintJson(summary);
  } else {
    PrintBundleText(summary);
  }
  return kExitOk;
}

int JwtInspect(std::string token, OutputFormat format) {
  if (token == "-") {
    token.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  absl::StatusOr<spiffe::UnverifiedJwt> jwt = spiffe::DecodeJwtUnverified(token);
  if (!jwt.ok()) {
    return Fail(jwt.status());
  }
  if (format == OutputFormat::kJson) {
    PrintJson({{"verified", false}, {"header", jwt->header}, {"claims", jwt->claims}});
    return kExitOk;
  }
  std::cout << "UNVERIFIED: the signature and claims have NOT been checked.\n"
            << "header:\n"
            << jwt->header.dump(2) << "\nclaims:\n"
            << jwt->claims.dump(2) << "\n";
  for (const char* claim : {"iat", "nbf", "exp"}) {
    auto it = jwt->claims.find(claim);
    if (it != jwt->claims.end() && it->is_number_integer()) {
      std::cout << claim << ": " << FormatRfc3339(absl::FromUnixSeconds(it->get<int64_t>()))
                << "\n";
    }
  }
  return kExitOk;
}

}  // namespace

void RegisterVersionCommand(CLI::App& app, int* exit_code) {
  CLI::App* cmd = app.add_subcommand("version", "Print the version of signet and OpenSSL");
  cmd->callback([exit_code] {
    std::cout << "signet " << kVersion << " (" << OPENSSL_VERSION_TEXT << ")\n";
    *exit_code = kExitOk;
  });
}

void RegisterIdCommands(CLI::App& app, int* exit_code) {
  CLI::App* id = app.add_subcommand("id", "Work with SPIFFE IDs");
  id->require_subcommand(1);
  CLI::App* parse = id->add_subcommand(
      "parse", "Validate a SPIFFE ID and print its parts; exits 1 naming the rule it breaks");
  auto text = std::make_shared<std::string>();
  auto format = std::make_shared<OutputFormat>(OutputFormat::kText);
  parse->add_option("ID", *text, "The SPIFFE ID, e.g. spiffe://example.org/ns/prod/sa/web")
      ->required();
  AddOutputFlag(parse, format.get());
  parse->callback([=] { *exit_code = IdParse(*text, *format); });
}

void RegisterBundleCommands(CLI::App& app, int* exit_code) {
  CLI::App* bundle = app.add_subcommand("bundle", "Work with trust bundles");
  bundle->require_subcommand(1);
  CLI::App* inspect = bundle->add_subcommand(
      "inspect", "Summarise a bundle file (SPIFFE JSON bundle or PEM certificates)");
  auto path = std::make_shared<std::string>();
  auto format = std::make_shared<OutputFormat>(OutputFormat::kText);
  inspect->add_option("FILE", *path, "Bundle file")->required();
  AddOutputFlag(inspect, format.get());
  inspect->callback([=] { *exit_code = BundleInspect(*path, *format); });
}

void RegisterJwtCommands(CLI::App& app, int* exit_code) {
  CLI::App* jwt = app.add_subcommand("jwt", "Work with JWT-SVIDs");
  jwt->require_subcommand(1);
  CLI::App* inspect = jwt->add_subcommand(
      "inspect", "Decode a JWT and print its header and claims WITHOUT verifying it");
  auto token = std::make_shared<std::string>();
  auto format = std::make_shared<OutputFormat>(OutputFormat::kText);
  inspect->add_option("TOKEN", *token, "The compact JWT, or - to read it from stdin")->required();
  AddOutputFlag(inspect, format.get());
  inspect->callback([=] { *exit_code = JwtInspect(*token, *format); });
}

}  // namespace signet::cli
