// Small socket and flag helpers shared by the two examples (nothing Signet-specific).
#ifndef SIGNET_EXAMPLES_NET_H_
#define SIGNET_EXAMPLES_NET_H_

#include <openssl/ssl.h>

#include <map>
#include <string>

namespace example {

// --name=value flags; a flag without '=' gets "true". Exits with a usage line on anything else.
std::map<std::string, std::string> ParseFlags(int argc, char** argv, const char* usage);
// Listens on 127.0.0.1:port (0: any free port); returns the fd and sets *bound.
int Listen(int port, int* bound);
// Connects to host:port; -1 on failure.
int Connect(const std::string& host_port);
// Reads one line (without the newline) over TLS; false on EOF or error.
bool ReadLine(SSL* ssl, std::string* line);
bool WriteAll(SSL* ssl, const std::string& data);
// The OpenSSL error queue as text, emptied.
std::string SslErrors();

}  // namespace example

#endif  // SIGNET_EXAMPLES_NET_H_
