// Fuzzes what libsignet-client makes of Workload API messages from the agent: the first byte
// picks X509SVIDResponse (even) or JWTBundlesResponse (odd), the rest is its protobuf encoding.
#include <cstddef>
#include <cstdint>

#include "src/client/parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool jwt = (data[0] & 1) != 0;
  const void* body = data + 1;
  const int length = static_cast<int>(size - 1);
  if (jwt) {
    JWTBundlesResponse resp;
    if (resp.ParseFromArray(body, length)) (void)signet::client::ParseJwtBundlesResponse(resp);
  } else {
    X509SVIDResponse resp;
    if (resp.ParseFromArray(body, length)) (void)signet::client::ParseX509Response(resp);
  }
  return 0;
}
