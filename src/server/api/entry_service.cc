#include "src/server/api/entry_service.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/server/api/entry_convert.h"

namespace signet::server {
namespace {

namespace pb = ::signet::admin::v1;

void SetResult(const absl::Status& status, pb::EntryResult* out) {
  out->mutable_status()->set_code(static_cast<int>(status.code()));
  out->mutable_status()->set_message(std::string(status.message()));
}

absl::Status CheckBatchSize(int size) {
  if (size == 0) return absl::InvalidArgumentError("entries: empty batch");
  if (size > kMaxBatchSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("entries: ", size, " items exceed the batch limit of ", kMaxBatchSize));
  }
  return absl::OkStatus();
}

// "12 ok, 1 failed" for the audit record of a batch call.
std::string Tally(const google::protobuf::RepeatedPtrField<pb::EntryResult>& results) {
  int ok = 0;
  for (const pb::EntryResult& r : results) ok += r.status().code() == 0 ? 1 : 0;
  return absl::StrCat(ok, " ok, ", results.size() - ok, " failed");
}

absl::Status CheckPageSize(int32_t page_size) {
  if (page_size < 0 || page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: must be between 0 and ", kMaxPageSize, ", got ", page_size));
  }
  return absl::OkStatus();
}

}  // namespace

grpc::Status EntryService::BatchCreateEntry(grpc::ServerContext* ctx,
                                            const pb::BatchCreateEntryRequest* req,
                                            pb::BatchCreateEntryResponse* resp) {
  absl::Status size = CheckBatchSize(req->entries_size());
  if (!size.ok()) {
    api_->Audit(*ctx, "entry.create", "", size);
    return ToGrpc(size);
  }
  // Validate every item; only the valid ones reach the store, in one transaction.
  std::vector<absl::StatusOr<RegistrationEntry>> parsed;
  std::vector<RegistrationEntry> valid;
  parsed.reserve(req->entries_size());
  for (const pb::Entry& in : req->entries()) {
    parsed.push_back(EntryFromProto(in, api_->settings().trust_domain, /*require_id=*/false));
    if (parsed.back().ok()) valid.push_back(*parsed.back());
  }
  std::vector<absl::StatusOr<RegistrationEntry>> stored;
  if (!valid.empty()) {
    auto created = api_->store().CreateEntries(valid);
    if (!created.ok()) {
      api_->Audit(*ctx, "entry.create", absl::StrCat(req->entries_size(), " entries"),
                  created.status());
      return ToGrpc(created.status());
    }
    stored = *std::move(created);
    if (stored.size() != valid.size()) {
      return ToGrpc(absl::InternalError("entries: the datastore returned a short result list"));
    }
  }
  size_t next = 0;
  for (absl::StatusOr<RegistrationEntry>& item : parsed) {
    pb::EntryResult* out = resp->add_results();
    const absl::StatusOr<RegistrationEntry>& result = item.ok() ? stored[next++] : item;
    SetResult(result.status(), out);
    if (result.ok()) EntryToProto(*result, out->mutable_entry());
  }
  api_->Audit(*ctx, "entry.create",
              req->entries_size() == 1 ? req->entries(0).spiffe_id()
                                       : absl::StrCat(req->entries_size(), " entries"),
              absl::OkStatus(), Tally(resp->results()));
  return grpc::Status::OK;
}

grpc::Status EntryService::BatchUpdateEntry(grpc::ServerContext* ctx,
                                            const pb::BatchUpdateEntryRequest* req,
                                            pb::BatchUpdateEntryResponse* resp) {
  absl::Status size = CheckBatchSize(req->entries_size());
  if (!size.ok()) {
    api_->Audit(*ctx, "entry.update", "", size);
    return ToGrpc(size);
  }
  for (const pb::Entry& in : req->entries()) {
    pb::EntryResult* out = resp->add_results();
    auto entry = EntryFromProto(in, api_->settings().trust_domain, /*require_id=*/true);
    std::optional<int64_t> expected;
    if (in.revision() != 0) expected = in.revision();
    absl::StatusOr<RegistrationEntry> updated =
        entry.ok() ? api_->store().UpdateEntry(*entry, expected) : entry;
    SetResult(updated.status(), out);
    if (updated.ok()) EntryToProto(*updated, out->mutable_entry());
  }
  api_->Audit(*ctx, "entry.update",
              req->entries_size() == 1 ? req->entries(0).id()
                                       : absl::StrCat(req->entries_size(), " entries"),
              absl::OkStatus(), Tally(resp->results()));
  return grpc::Status::OK;
}

grpc::Status EntryService::BatchDeleteEntry(grpc::ServerContext* ctx,
                                            const pb::BatchDeleteEntryRequest* req,
                                            pb::BatchDeleteEntryResponse* resp) {
  absl::Status size = CheckBatchSize(req->ids_size());
  if (!size.ok()) {
    api_->Audit(*ctx, "entry.delete", "", size);
    return ToGrpc(size);
  }
  for (const std::string& id : req->ids()) {
    pb::EntryResult* out = resp->add_results();
    absl::StatusOr<RegistrationEntry> deleted =
        id.empty() ? absl::InvalidArgumentError("ids: empty entry id")
                   : api_->store().DeleteEntry(id);
    SetResult(deleted.status(), out);
    if (deleted.ok()) EntryToProto(*deleted, out->mutable_entry());
  }
  api_->Audit(*ctx, "entry.delete",
              req->ids_size() == 1 ? req->ids(0) : absl::StrCat(req->ids_size(), " entries"),
              absl::OkStatus(), Tally(resp->results()));
  return grpc::Status::OK;
}

grpc::Status EntryService::GetEntry(grpc::ServerContext* ctx, const pb::GetEntryRequest* req,
                                    pb::Entry* resp) {
  if (req->id().empty()) return ToGrpc(absl::InvalidArgumentError("id: required"));
  auto entry = api_->store().GetEntry(req->id());
  api_->Audit(*ctx, "entry.get", req->id(), entry.status());
  if (!entry.ok()) return ToGrpc(entry.status());
  EntryToProto(*entry, resp);
  return grpc::Status::OK;
}

grpc::Status EntryService::ListEntries(grpc::ServerContext* ctx, const pb::ListEntriesRequest* req,
                                       pb::ListEntriesResponse* resp) {
  absl::Status page_size = CheckPageSize(req->page_size());
  if (!page_size.ok()) return ToGrpc(page_size);
  auto filter = FilterFromProto(req->filter());
  if (!filter.ok()) return ToGrpc(filter.status());
  auto page = api_->store().ListEntries(*filter, req->page_token(),
                                        req->page_size() == 0 ? 100 : req->page_size());
  api_->Audit(*ctx, "entry.list", "", page.status());
  if (!page.ok()) return ToGrpc(page.status());
  for (const RegistrationEntry& e : page->entries) EntryToProto(e, resp->add_entries());
  resp->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status EntryService::CountEntries(grpc::ServerContext* ctx,
                                        const pb::CountEntriesRequest* req,
                                        pb::CountEntriesResponse* resp) {
  auto filter = FilterFromProto(req->filter());
  if (!filter.ok()) return ToGrpc(filter.status());
  auto count = api_->store().CountEntries(*filter);
  api_->Audit(*ctx, "entry.count", "", count.status());
  if (!count.ok()) return ToGrpc(count.status());
  resp->set_count(*count);
  return grpc::Status::OK;
}

}  // namespace signet::server
