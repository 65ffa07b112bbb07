// gRPC server reflection (grpc.reflection.v1alpha and v1 ServerReflection) for the h2 server:
// list_services, file_by_filename, file_containing_symbol and all_extension_numbers_of_type,
// answered from the compiled-in descriptors of the registered services. Only the files those
// services need are described; anything else is NOT_FOUND.
#ifndef SIGNET_RPC_H2_REFLECTION_H_
#define SIGNET_RPC_H2_REFLECTION_H_

#include "src/rpc/h2/grpc_server.h"

namespace signet::rpc::h2 {

// Registers both reflection services on `server`, describing what is registered so far: call
// it after every other Register.
void RegisterReflection(Server* server);

}  // namespace signet::rpc::h2

#endif  // SIGNET_RPC_H2_REFLECTION_H_
