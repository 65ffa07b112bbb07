// Printing admin API messages: protobuf -> one line of JSON (proto field names), and the text
// layouts SPIRE users know.
#ifndef SIGNET_CLI_ADMIN_PRINT_H_
#define SIGNET_CLI_ADMIN_PRINT_H_

#include <google/protobuf/message.h>

#include <string>

#include "signet/admin/v1/admin.pb.h"

namespace signet::cli {

// One line of JSON with the proto field names and default values included.
std::string ProtoToJson(const google::protobuf::Message& message);
void PrintProtoJson(const google::protobuf::Message& message);

void PrintEntryText(const admin::v1::Entry& entry);
void PrintAgentText(const admin::v1::Agent& agent);
// "2026-11-24T10:00:00Z", or "never" for 0.
std::string UnixToText(int64_t seconds, const char* zero_text = "never");

}  // namespace signet::cli

#endif  // SIGNET_CLI_ADMIN_PRINT_H_
