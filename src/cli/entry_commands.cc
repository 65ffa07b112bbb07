// signet entry create|show|update|delete|count
#include <google/protobuf/util/json_util.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "signet/admin/v1/admin.grpc.pb.h"
#include "src/cli/admin_client.h"
#include "src/cli/admin_commands.h"
#include "src/cli/admin_print.h"
#include "src/common/file_util.h"
#include "src/spiffe/selector.h"
#include "src/spiffe/spiffe_id.h"

namespace signet::cli {
namespace {

namespace pb = ::signet::admin::v1;

struct EntryFlags {
  AdminFlags admin;
  std::string entry_id;
  std::string spiffe_id;
  std::string parent_id;
  std::vector<std::string> selectors;
  std::string x509_svid_ttl;
  std::string jwt_svid_ttl;
  std::vector<std::string> dns_names;
  std::string hint;
  bool is_admin = false;
  bool downstream = false;
  std::vector<std::string> federates_with;
  bool node = false;
  std::string expires_at;
  std::string data_file;
  std::string match = "exact";
};

absl::Status AddSelectors(const std::vector<std::string>& texts,
                          google::protobuf::RepeatedPtrField<pb::Selector>* out) {
  for (const std::string& text : texts) {
    auto s = spiffe::Selector::Parse(text);
    if (!s.ok())
      return absl::InvalidArgumentError(absl::StrCat("--selector: ", s.status().message()));
    pb::Selector* sel = out->Add();
    sel->set_type(s->type());
    sel->set_value(s->value());
  }
  return absl::OkStatus();
}

// The entry described by the flags (create and update).
absl::StatusOr<pb::Entry> EntryFromFlags(const EntryFlags& f) {
  pb::Entry e;
  e.set_id(f.entry_id);
  e.set_spiffe_id(f.spiffe_id);
  if (f.node) {
    if (!f.parent_id.empty()) {
      return absl::InvalidArgumentError("--node and --parent-id are mutually exclusive");
    }
    auto id = spiffe::SpiffeId::Parse(f.spiffe_id);
    if (!id.ok())
      return absl::InvalidArgumentError(absl::StrCat("--spiffe-id: ", id.status().message()));
    e.set_parent_id(id->trust_domain().IdString() + "/signet/server");
  } else {
    e.set_parent_id(f.parent_id);
  }
  absl::Status status = AddSelectors(f.selectors, e.mutable_selectors());
  if (!status.ok()) return status;
  if (!f.x509_svid_ttl.empty()) {
    auto ttl = ParseTtlFlag("--x509-svid-ttl", f.x509_svid_ttl);
    if (!ttl.ok()) return ttl.status();
    e.set_x509_svid_ttl(*ttl);
  }
  if (!f.jwt_svid_ttl.empty()) {
    auto ttl = ParseTtlFlag("--jwt-svid-ttl", f.jwt_svid_ttl);
    if (!ttl.ok()) return ttl.status();
    e.set_jwt_svid_ttl(*ttl);
  }
  for (const std::string& d : f.dns_names) e.add_dns_names(d);
  e.set_hint(f.hint);
  e.set_admin(f.is_admin);
  e.set_downstream(f.downstream);
  for (const std::string& td : f.federates_with) e.add_federates_with(td);
  if (!f.expires_at.empty()) {
    absl::Time t;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, f.expires_at, &t, &err)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--expires-at: \"", f.expires_at, "\" is not an RFC 3339 time"));
    }
    e.set_expires_at(absl::ToUnixSeconds(t));
  }
  return e;
}

// Entries from a JSON file: {"entries": [ {...}, ... ]} with proto field names.
absl::StatusOr<pb::BatchCreateEntryRequest> EntriesFromFile(const std::string& path) {
  auto text = ReadFile(path, 64 << 20);
  if (!text.ok()) return text.status();
  pb::BatchCreateEntryRequest req;
  auto parsed = google::protobuf::util::JsonStringToMessage(*text, &req);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--data ", path, ": ", std::string(parsed.message())));
  }
  if (req.entries_size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat("--data ", path, ": no \"entries\""));
  }
  return req;
}

// Prints per-item results; returns kExitError if any item failed.
int PrintResults(const google::protobuf::RepeatedPtrField<pb::EntryResult>& results,
                 const AdminFlags& flags, const char* verb) {
  int rc = kExitOk;
  nlohmann::json json_results = nlohmann::json::array();
  for (const pb::EntryResult& r : results) {
    if (r.status().code() != 0) rc = kExitError;
    if (flags.output == OutputFormat::kJson) {
      json_results.push_back(nlohmann::json::parse(ProtoToJson(r)));
    } else if (r.status().code() == 0) {
      PrintEntryText(r.entry());
    } else {
      std::cerr << "signet: failed to " << verb << " entry: " << r.status().message() << "\n";
    }
  }
  if (flags.output == OutputFormat::kJson) PrintJson({{"results", json_results}});
  return rc;
}

void AddEntryFieldFlags(CLI::App* cmd, EntryFlags* f) {
  cmd->add_option("--spiffe-id", f->spiffe_id, "The SPIFFE ID the entry grants");
  cmd->add_option("--parent-id", f->parent_id, "The agent or node entry allowed to serve it");
  cmd->add_option("--selector", f->selectors,
                  "A selector type:value the workload must have (repeatable)");
  cmd->add_option("--x509-svid-ttl", f->x509_svid_ttl,
                  "X509-SVID TTL, e.g. 1h (default: server's)");
  cmd->add_option("--jwt-svid-ttl", f->jwt_svid_ttl, "JWT-SVID TTL, e.g. 5m (default: server's)");
  cmd->add_option("--dns", f->dns_names, "A DNS SAN for the X509-SVID (repeatable)");
  cmd->add_option("--hint", f->hint, "A hint for workloads holding several SVIDs");
  cmd->add_flag("--admin", f->is_admin, "The SVID may call the admin API");
  cmd->add_flag("--downstream", f->downstream, "The SVID may act as a downstream CA");
  cmd->add_option("--federates-with", f->federates_with,
                  "A trust domain whose bundle the workload gets (repeatable)");
  cmd->add_flag("--node", f->node,
                "A node entry: parent is the server; selectors are node selectors");
  cmd->add_option("--expires-at", f->expires_at, "When the entry expires (RFC 3339)");
}

int EntryCreate(const EntryFlags& f) {
  pb::BatchCreateEntryRequest req;
  if (!f.data_file.empty()) {
    if (!f.spiffe_id.empty() || !f.selectors.empty()) {
      return Fail(absl::InvalidArgumentError("--data cannot be combined with entry flags"));
    }
    auto from_file = EntriesFromFile(f.data_file);
    if (!from_file.ok()) return Fail(from_file.status());
    req = *std::move(from_file);
  } else {
    auto entry = EntryFromFlags(f);
    if (!entry.ok()) return Fail(entry.status());
    *req.add_entries() = *std::move(entry);
  }
  AdminClient client(f.admin);
  auto stub = pb::Entries::NewStub(client.channel());
  pb::BatchCreateEntryResponse resp;
  grpc::Status status = stub->BatchCreateEntry(client.Context().get(), req, &resp);
  if (!status.ok()) return FailRpc(status, "entry create", f.admin);
  return PrintResults(resp.results(), f.admin, "create");
}

int EntryUpdate(const EntryFlags& f) {
  if (f.entry_id.empty()) return Fail(absl::InvalidArgumentError("--entry-id: required"));
  auto entry = EntryFromFlags(f);
  if (!entry.ok()) return Fail(entry.status());
  pb::BatchUpdateEntryRequest req;
  *req.add_entries() = *std::move(entry);
  AdminClient client(f.admin);
  auto stub = pb::Entries::NewStub(client.channel());
  pb::BatchUpdateEntryResponse resp;
  grpc::Status status = stub->BatchUpdateEntry(client.Context().get(), req, &resp);
  if (!status.ok()) return FailRpc(status, "entry update", f.admin);
  return PrintResults(resp.results(), f.admin, "update");
}

int EntryDelete(const EntryFlags& f) {
  if (f.entry_id.empty()) return Fail(absl::InvalidArgumentError("--entry-id: required"));
  pb::BatchDeleteEntryRequest req;
  req.add_ids(f.entry_id);
  AdminClient client(f.admin);
  auto stub = pb::Entries::NewStub(client.channel());
  pb::BatchDeleteEntryResponse resp;
  grpc::Status status = stub->BatchDeleteEntry(client.Context().get(), req, &resp);
  if (!status.ok()) return FailRpc(status, "entry delete", f.admin);
  return PrintResults(resp.results(), f.admin, "delete");
}

absl::StatusOr<pb::EntryFilter> FilterFromFlags(const EntryFlags& f) {
  pb::EntryFilter filter;
  filter.set_by_spiffe_id(f.spiffe_id);
  filter.set_by_parent_id(f.parent_id);
  absl::Status status = AddSelectors(f.selectors, filter.mutable_by_selectors());
  if (!status.ok()) return status;
  static const std::map<std::string, pb::SelectorMatch> kModes = {
      {"exact", pb::SELECTOR_MATCH_EXACT},
      {"subset", pb::SELECTOR_MATCH_SUBSET},
      {"superset", pb::SELECTOR_MATCH_SUPERSET},
      {"any", pb::SELECTOR_MATCH_ANY}};
  auto mode = kModes.find(f.match);
  if (mode == kModes.end()) {
    return absl::InvalidArgumentError("--match: one of exact, subset, superset, any");
  }
  filter.set_selector_match(mode->second);
  if (!f.federates_with.empty()) filter.set_by_federates_with(f.federates_with.front());
  return filter;
}

int EntryShow(const EntryFlags& f) {
  AdminClient client(f.admin);
  auto stub = pb::Entries::NewStub(client.channel());
  if (!f.entry_id.empty()) {
    pb::GetEntryRequest req;
    req.set_id(f.entry_id);
    pb::Entry entry;
    grpc::Status status = stub->GetEntry(client.Context().get(), req, &entry);
    if (!status.ok()) return FailRpc(status, "entry show", f.admin);
    if (client.json()) {
      PrintJson({{"entries", nlohmann::json::array({nlohmann::json::parse(ProtoToJson(entry))})}});
    } else {
      std::cout << "Found 1 entry\n";
      PrintEntryText(entry);
    }
    return kExitOk;
  }
  auto filter = FilterFromFlags(f);
  if (!filter.ok()) return Fail(filter.status());
  pb::ListEntriesRequest req;
  *req.mutable_filter() = *filter;
  req.set_page_size(1000);
  std::vector<pb::Entry> all;
  do {
    pb::ListEntriesResponse resp;
    grpc::Status status = stub->ListEntries(client.Context().get(), req, &resp);
    if (!status.ok()) return FailRpc(status, "entry show", f.admin);
    for (pb::Entry& e : *resp.mutable_entries()) all.push_back(std::move(e));
    req.set_page_token(resp.next_page_token());
  } while (!req.page_token().empty());
  if (client.json()) {
    nlohmann::json entries = nlohmann::json::array();
    for (const pb::Entry& e : all) entries.push_back(nlohmann::json::parse(ProtoToJson(e)));
    PrintJson({{"entries", entries}});
  } else {
    std::cout << "Found " << all.size() << (all.size() == 1 ? " entry\n" : " entries\n");
    for (const pb::Entry& e : all) PrintEntryText(e);
  }
  return kExitOk;
}

int EntryCount(const EntryFlags& f) {
  auto filter = FilterFromFlags(f);
  if (!filter.ok()) return Fail(filter.status());
  AdminClient client(f.admin);
  auto stub = pb::Entries::NewStub(client.channel());
  pb::CountEntriesRequest req;
  *req.mutable_filter() = *filter;
  pb::CountEntriesResponse resp;
  grpc::Status status = stub->CountEntries(client.Context().get(), req, &resp);
  if (!status.ok()) return FailRpc(status, "entry count", f.admin);
  if (client.json()) {
    PrintJson({{"count", resp.count()}});
  } else {
    std::cout << resp.count()
              << (resp.count() == 1 ? " registration entry\n" : " registration entries\n");
  }
  return kExitOk;
}

}  // namespace

void RegisterEntryCommands(CLI::App& app, int* exit_code) {
  CLI::App* entry = app.add_subcommand("entry", "Manage registration entries");
  entry->require_subcommand(1);
  auto flags = std::make_shared<EntryFlags>();

  CLI::App* create = entry->add_subcommand("create", "Create registration entries");
  AddAdminFlags(create, &flags->admin);
  AddEntryFieldFlags(create, flags.get());
  create->add_option("--data", flags->data_file,
                     "A JSON file {\"entries\": [...]} to create in one batch");
  create->callback([=] { *exit_code = EntryCreate(*flags); });

  CLI::App* update = entry->add_subcommand("update", "Replace an entry's fields");
  AddAdminFlags(update, &flags->admin);
  update->add_option("--entry-id", flags->entry_id, "The entry to update")->required();
  AddEntryFieldFlags(update, flags.get());
  update->callback([=] { *exit_code = EntryUpdate(*flags); });

  CLI::App* del = entry->add_subcommand("delete", "Delete an entry");
  AddAdminFlags(del, &flags->admin);
  del->add_option("--entry-id", flags->entry_id, "The entry to delete")->required();
  del->callback([=] { *exit_code = EntryDelete(*flags); });

  CLI::App* show = entry->add_subcommand("show", "Show entries (all, or by id or filters)");
  AddAdminFlags(show, &flags->admin);
  show->add_option("--entry-id", flags->entry_id, "Show only this entry");
  show->add_option("--spiffe-id", flags->spiffe_id, "Filter by SPIFFE ID");
  show->add_option("--parent-id", flags->parent_id, "Filter by parent ID");
  show->add_option("--selector", flags->selectors, "Filter by selector (repeatable)");
  show->add_option("--match", flags->match, "Selector match: exact, subset, superset, any");
  show->add_option("--federates-with", flags->federates_with, "Filter by federated trust domain");
  show->callback([=] { *exit_code = EntryShow(*flags); });

  CLI::App* count = entry->add_subcommand("count", "Count entries (all, or by filters)");
  AddAdminFlags(count, &flags->admin);
  count->add_option("--spiffe-id", flags->spiffe_id, "Filter by SPIFFE ID");
  count->add_option("--parent-id", flags->parent_id, "Filter by parent ID");
  count->add_option("--selector", flags->selectors, "Filter by selector (repeatable)");
  count->add_option("--match", flags->match, "Selector match: exact, subset, superset, any");
  count->callback([=] { *exit_code = EntryCount(*flags); });
}

}  // namespace signet::cli
