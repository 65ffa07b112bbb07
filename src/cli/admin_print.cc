#include "src/cli/admin_print.h"

#include <google/protobuf/util/json_util.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "src/cli/output.h"

namespace signet::cli {

std::string ProtoToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  options.add_whitespace = false;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) return "{}";
  return out;
}

void PrintProtoJson(const google::protobuf::Message& message) {
  std::cout << ProtoToJson(message) << "\n";
}

std::string UnixToText(int64_t seconds, const char* zero_text) {
  if (seconds == 0) return zero_text;
  return FormatRfc3339(absl::FromUnixSeconds(seconds));
}

namespace {

std::string TtlText(int32_t ttl) { return ttl == 0 ? "default" : absl::StrCat(ttl, "s"); }

}  // namespace

void PrintEntryText(const admin::v1::Entry& e) {
  std::cout << "Entry ID         : " << e.id() << "\n"
            << "SPIFFE ID        : " << e.spiffe_id() << "\n"
            << "Parent ID        : " << e.parent_id() << "\n"
            << "Revision         : " << e.revision() << "\n"
            << "X509-SVID TTL    : " << TtlText(e.x509_svid_ttl()) << "\n"
            << "JWT-SVID TTL     : " << TtlText(e.jwt_svid_ttl()) << "\n"
            << "Expires at       : " << UnixToText(e.expires_at()) << "\n";
  for (const auto& s : e.selectors()) {
    std::cout << "Selector         : " << s.type() << ":" << s.value() << "\n";
  }
  for (const auto& d : e.dns_names()) std::cout << "DNS name         : " << d << "\n";
  for (const auto& f : e.federates_with()) std::cout << "FederatesWith    : " << f << "\n";
  if (!e.hint().empty()) std::cout << "Hint             : " << e.hint() << "\n";
  if (e.admin()) std::cout << "Admin            : true\n";
  if (e.downstream()) std::cout << "Downstream       : true\n";
  std::cout << "\n";
}

void PrintAgentText(const admin::v1::Agent& a) {
  std::cout << "SPIFFE ID         : " << a.spiffe_id() << "\n"
            << "Attestation type  : " << a.attestation_type() << "\n"
            << "Expiration time   : " << UnixToText(a.cert_expires_at(), "-") << "\n"
            << "Serial number     : " << a.cert_serial() << "\n"
            << "Can re-attest     : " << (a.can_reattest() ? "true" : "false") << "\n"
            << "Banned            : " << (a.banned() ? "true" : "false") << "\n";
  for (const auto& s : a.selectors()) {
    std::cout << "Selector          : " << s.type() << ":" << s.value() << "\n";
  }
  std::cout << "\n";
}

}  // namespace signet::cli
