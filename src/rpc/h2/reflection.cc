#include "src/rpc/h2/reflection.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpc/reflection/v1/reflection.pb.h"
#include "grpc/reflection/v1alpha/reflection.pb.h"

namespace signet::rpc::h2 {
namespace {

// v1 and v1alpha share their wire format, so v1alpha's messages parse and build both.
namespace pb = ::grpc::reflection::v1alpha;
using google::protobuf::DescriptorPool;
using google::protobuf::FileDescriptor;

constexpr char kV1Alpha[] = "grpc.reflection.v1alpha.ServerReflection";
constexpr char kV1[] = "grpc.reflection.v1.ServerReflection";
constexpr int kNotFound = 5;
constexpr int kInvalidArgument = 3;

struct Catalog {
  std::vector<std::string> services;
  std::set<std::string> files;  // the services' files and everything they import
};

void AddFile(const FileDescriptor* file, std::set<std::string>* files) {
  if (!files->insert(file->name()).second) return;
  for (int i = 0; i < file->dependency_count(); ++i) AddFile(file->dependency(i), files);
}

class ReflectionHandler final : public Handler {
 public:
  ReflectionHandler(std::shared_ptr<const Catalog> catalog, std::shared_ptr<Call> call)
      : catalog_(std::move(catalog)), call_(std::move(call)) {}

  void OnMessage(std::string bytes) override {
    pb::ServerReflectionRequest request;
    if (!request.ParseFromString(bytes)) {
      return call_->Finish(absl::InvalidArgumentError("malformed ServerReflectionRequest"));
    }
    pb::ServerReflectionResponse response;
    response.set_valid_host(request.host());
    *response.mutable_original_request() = request;
    Answer(request, &response);
    call_->Write(response);
  }
  void OnHalfClose() override { call_->Finish(absl::OkStatus()); }

 private:
  void Answer(const pb::ServerReflectionRequest& request, pb::ServerReflectionResponse* out) {
    const DescriptorPool* pool = DescriptorPool::generated_pool();
    switch (request.message_request_case()) {
      case pb::ServerReflectionRequest::kListServices:
        for (const std::string& name : catalog_->services) {
          out->mutable_list_services_response()->add_service()->set_name(name);
        }
        return;
      case pb::ServerReflectionRequest::kFileByFilename:
        return Describe(pool->FindFileByName(request.file_by_filename()), out);
      case pb::ServerReflectionRequest::kFileContainingSymbol:
        return Describe(pool->FindFileContainingSymbol(request.file_containing_symbol()), out);
      case pb::ServerReflectionRequest::kAllExtensionNumbersOfType: {
        const auto* type = pool->FindMessageTypeByName(request.all_extension_numbers_of_type());
        if (type == nullptr || catalog_->files.count(type->file()->name()) == 0) {
          return Error(kNotFound, "type not found", out);
        }
        out->mutable_all_extension_numbers_response()->set_base_type_name(type->full_name());
        std::vector<const google::protobuf::FieldDescriptor*> extensions;
        pool->FindAllExtensions(type, &extensions);
        for (const auto* e : extensions) {
          out->mutable_all_extension_numbers_response()->add_extension_number(e->number());
        }
        return;
      }
      case pb::ServerReflectionRequest::kFileContainingExtension:
        return Error(kNotFound, "extension not found", out);
      default:
        return Error(kInvalidArgument, "no request in ServerReflectionRequest", out);
    }
  }

  // The file and everything it imports, each once per stream.
  void Describe(const FileDescriptor* file, pb::ServerReflectionResponse* out) {
    if (file == nullptr || catalog_->files.count(file->name()) == 0) {
      return Error(kNotFound, "file not found", out);
    }
    std::set<std::string> needed;
    AddFile(file, &needed);
    auto* files = out->mutable_file_descriptor_response();
    for (const std::string& name : needed) {
      if (name != file->name() && !sent_.insert(name).second) continue;
      google::protobuf::FileDescriptorProto proto;
      DescriptorPool::generated_pool()->FindFileByName(name)->CopyTo(&proto);
      proto.SerializeToString(files->add_file_descriptor_proto());
    }
    sent_.insert(file->name());
  }

  static void Error(int code, const char* message, pb::ServerReflectionResponse* out) {
    out->mutable_error_response()->set_error_code(code);
    out->mutable_error_response()->set_error_message(message);
  }

  const std::shared_ptr<const Catalog> catalog_;
  const std::shared_ptr<Call> call_;
  std::set<std::string> sent_;
};

}  // namespace

void RegisterReflection(Server* server) {
  auto catalog = std::make_shared<Catalog>();
  catalog->services = server->Services();
  catalog->services.push_back(kV1);
  catalog->services.push_back(kV1Alpha);
  std::sort(catalog->services.begin(), catalog->services.end());
  // Linking the reflection messages also links their file's descriptor.
  (void)pb::ServerReflectionRequest::descriptor();
  (void)::grpc::reflection::v1::ServerReflectionRequest::descriptor();
  for (const std::string& name : catalog->services) {
    const auto* service = DescriptorPool::generated_pool()->FindServiceByName(name);
    if (service != nullptr) AddFile(service->file(), &catalog->files);
  }
  for (const char* name : {kV1Alpha, kV1}) {
    server->Register(absl::StrCat("/", name, "/ServerReflectionInfo"),
                     [catalog](std::shared_ptr<Call> call) -> std::unique_ptr<Handler> {
                       return std::make_unique<ReflectionHandler>(catalog, std::move(call));
                     });
  }
}

}  // namespace signet::rpc::h2
