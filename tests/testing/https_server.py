#!/usr/bin/python3
"""A static HTTPS file server for Signet's tests (Python's http.server and ssl modules).

  https_server.py --dir DIR --cert PEM --key PEM

Binds 127.0.0.1 on a free port, prints "PORT <n>" on stdout once it listens, then serves the
files of DIR until killed. Run it with the system python.
"""

import argparse
import functools
import http.server
import ssl
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=args.dir)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print("PORT", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
