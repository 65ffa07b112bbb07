#!/usr/bin/python3
"""Walks spiffe-conformance.md section 6 against a running Workload API endpoint.

Independent of Signet's code: Python's grpcio (Debian python3-grpcio) with message classes that
protoc generates from the proto text below, written from the standard's field facts (not from
Signet's proto), PyJWT and python3-cryptography for checking what comes back.

  workload_conformance.py --socket PATH --trust-domain TD --spiffe-id ID --mode entitled
      The caller has exactly one identity, ID. Every check of 6.2-6.6 that a single caller can
      make; prints "ok <item>" for each and exits 0, or "FAIL <item>: <why>" and exits 1.
  workload_conformance.py --socket PATH --trust-domain TD --mode denied
      The caller has no identity: every RPC must answer PermissionDenied (6.2, 6.5).

Run it with the system python (/usr/bin/python3).
"""

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time

import grpc
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtensionOID

# From the standard (6.3/6.4): proto3, no package, importing struct.proto.
SPEC_PROTO = """
syntax = "proto3";
import "google/protobuf/struct.proto";
message X509SVIDRequest {}
message X509SVIDResponse {
  repeated X509SVID svids = 1;
  repeated bytes crl = 2;
  map<string, bytes> federated_bundles = 3;
}
message X509SVID {
  string spiffe_id = 1; bytes x509_svid = 2; bytes x509_svid_key = 3; bytes bundle = 4;
  string hint = 5;
}
message X509BundlesRequest {}
message X509BundlesResponse { repeated bytes crl = 1; map<string, bytes> bundles = 2; }
message JWTSVIDRequest { repeated string audience = 1; string spiffe_id = 2; }
message JWTSVIDResponse { repeated JWTSVID svids = 1; }
message JWTSVID { string spiffe_id = 1; string svid = 2; string hint = 3; }
message JWTBundlesRequest {}
message JWTBundlesResponse { map<string, bytes> bundles = 1; }
message ValidateJWTSVIDRequest { string audience = 1; string svid = 2; }
message ValidateJWTSVIDResponse { string spiffe_id = 1; google.protobuf.Struct claims = 2; }
message WITSVIDRequest { string spiffe_id = 1; }
message WITBundlesRequest {}
"""

HEADER = (("workload.spiffe.io", "true"),)


class Failure(Exception):
    pass


def check(item, condition, why):
    if not condition:
        raise Failure(f"{item}: {why}")
    print(f"ok {item}", flush=True)


def load_messages(workdir):
    path = os.path.join(workdir, "spec_workload.proto")
    with open(path, "w", encoding="utf-8") as f:
        f.write(SPEC_PROTO)
    subprocess.run(["protoc", f"--proto_path={workdir}", "--proto_path=/usr/include",
                    f"--python_out={workdir}", path], check=True)
    sys.path.insert(0, workdir)
    return importlib.import_module("spec_workload_pb2")


class Client:
    def __init__(self, socket, pb):
        self.channel = grpc.insecure_channel(f"unix:{socket}")
        self.pb = pb

    def unary(self, method, request, response_type, metadata=HEADER):
        call = self.channel.unary_unary(f"/SpiffeWorkloadAPI/{method}",
                                        request_serializer=lambda m: m.SerializeToString(),
                                        response_deserializer=response_type.FromString)
        return call(request, metadata=metadata, timeout=10)

    def stream(self, method, request, response_type, metadata=HEADER, timeout=10):
        call = self.channel.unary_stream(f"/SpiffeWorkloadAPI/{method}",
                                         request_serializer=lambda m: m.SerializeToString(),
                                         response_deserializer=response_type.FromString)
        return call(request, metadata=metadata, timeout=timeout)

    def first(self, method, request, response_type, metadata=HEADER):
        it = self.stream(method, request, response_type, metadata)
        message = next(it)
        it.cancel()
        return message

    def all_rpcs(self):
        pb = self.pb
        return [
            ("FetchX509SVID", True, pb.X509SVIDRequest(), pb.X509SVIDResponse),
            ("FetchX509Bundles", True, pb.X509BundlesRequest(), pb.X509BundlesResponse),
            ("FetchJWTSVID", False, pb.JWTSVIDRequest(audience=["a"]), pb.JWTSVIDResponse),
            ("FetchJWTBundles", True, pb.JWTBundlesRequest(), pb.JWTBundlesResponse),
            ("ValidateJWTSVID", False, pb.ValidateJWTSVIDRequest(audience="a", svid="x.y.z"),
             pb.ValidateJWTSVIDResponse),
        ]

    def code_of(self, method, streaming, request, response_type, metadata=HEADER):
        try:
            if streaming:
                self.first(method, request, response_type, metadata)
            else:
                self.unary(method, request, response_type, metadata)
        except grpc.RpcError as e:
            return e.code()
        return grpc.StatusCode.OK


def der_chain(blob):
    certs = []
    while blob:
        # Each DER certificate is a SEQUENCE: tag 0x30 and a definite length.
        if blob[0] != 0x30:
            raise Failure("6.4 x509_svid: not concatenated DER certificates")
        n = blob[1]
        if n < 0x80:
            size, head = n, 2
        else:
            count = n & 0x7F
            size, head = int.from_bytes(blob[2:2 + count], "big"), 2 + count
        certs.append(x509.load_der_x509_certificate(blob[:head + size]))
        blob = blob[head + size:]
    return certs


def check_headers(client):
    for method, streaming, request, response_type in client.all_rpcs():
        check(f"6.2 {method} without the header is InvalidArgument",
              client.code_of(method, streaming, request, response_type, metadata=()) ==
              grpc.StatusCode.INVALID_ARGUMENT, "another code")
        check(f"6.2 {method} with a wrong header value is InvalidArgument",
              client.code_of(method, streaming, request, response_type,
                             metadata=(("workload.spiffe.io", "True"),)) ==
              grpc.StatusCode.INVALID_ARGUMENT, "another code")


def check_x509(client, args):
    pb = client.pb
    start = time.monotonic()
    resp = client.first("FetchX509SVID", pb.X509SVIDRequest(), pb.X509SVIDResponse)
    check("6.6 the first message comes at once", time.monotonic() - start < 5, "slow")
    check("6.5 FetchX509SVID returns the caller's one identity",
          [s.spiffe_id for s in resp.svids] == [args.spiffe_id], [s.spiffe_id for s in resp.svids])
    svid = resp.svids[0]
    check("6.4 every field but hint is filled",
          svid.x509_svid and svid.x509_svid_key and svid.bundle, "an empty field")
    chain = der_chain(svid.x509_svid)
    leaf = chain[0]
    sans = leaf.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    uris = sans.get_values_for_type(x509.UniformResourceIdentifier)
    check("6.7 the leaf has one URI SAN, the SPIFFE ID", uris == [args.spiffe_id], uris)
    basic = leaf.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value
    check("6.7 the leaf is not a CA", not basic.ca, "CA:true")
    usage = leaf.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE).value
    check("6.7 digitalSignature, no keyCertSign or cRLSign",
          usage.digital_signature and not usage.key_cert_sign and not usage.crl_sign, usage)
    key = serialization.load_der_private_key(svid.x509_svid_key, password=None)
    same = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo) == \
        leaf.public_key().public_bytes(serialization.Encoding.DER,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    check("6.4 x509_svid_key is PKCS#8 DER of the leaf's key", same, "key mismatch")
    roots = der_chain(svid.bundle)
    issuers = [c.subject for c in roots]
    check("6.4 bundle holds the CA that issued the chain", chain[-1].issuer in issuers,
          "issuer not in bundle")

    bundles = client.first("FetchX509Bundles", pb.X509BundlesRequest(), pb.X509BundlesResponse)
    own = f"spiffe://{args.trust_domain}"
    check("6.5 FetchX509Bundles includes the own trust domain, keyed by its SPIFFE ID",
          own in bundles.bundles and der_chain(bundles.bundles[own]), list(bundles.bundles))

    # 6.6: identical snapshots are suppressed: nothing more arrives while nothing changes.
    it = client.stream("FetchX509SVID", pb.X509SVIDRequest(), pb.X509SVIDResponse, timeout=4)
    count = 0
    try:
        for _ in it:
            count += 1
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
            raise
    check("6.6 no identical second message within 4 s", count == 1, f"{count} messages")


def check_jwt(client, args):
    pb = client.pb
    own = f"spiffe://{args.trust_domain}"
    check("6.2 FetchJWTSVID without an audience is InvalidArgument",
          client.code_of("FetchJWTSVID", False, pb.JWTSVIDRequest(), pb.JWTSVIDResponse) ==
          grpc.StatusCode.INVALID_ARGUMENT, "another code")
    resp = client.unary("FetchJWTSVID", pb.JWTSVIDRequest(audience=["db", "cache"]),
                        pb.JWTSVIDResponse)
    check("6.5 FetchJWTSVID returns the caller's identity",
          [s.spiffe_id for s in resp.svids] == [args.spiffe_id], "wrong identities")
    token = resp.svids[0].svid
    check("6.5 spiffe_id filters to one identity",
          client.code_of("FetchJWTSVID", False,
                         pb.JWTSVIDRequest(audience=["db"], spiffe_id=own + "/not-mine"),
                         pb.JWTSVIDResponse) == grpc.StatusCode.PERMISSION_DENIED,
          "another code")
    bundles = client.first("FetchJWTBundles", pb.JWTBundlesRequest(), pb.JWTBundlesResponse)
    check("6.5 FetchJWTBundles includes the own trust domain", own in bundles.bundles,
          list(bundles.bundles))
    jwks = json.loads(bundles.bundles[own])
    check("6.4 every JWT bundle key has a kid",
          jwks["keys"] and all(k.get("kid") for k in jwks["keys"]), jwks)
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(jwt.PyJWK(k) for k in jwks["keys"] if k["kid"] == kid)
    claims = jwt.decode(token, key.key, algorithms=[jwt.get_unverified_header(token)["alg"]],
                        audience="db")
    check("3.2 the JWT-SVID verifies with the JWT bundle (PyJWT)", claims["sub"] == args.spiffe_id,
          claims)

    check("6.2 ValidateJWTSVID without a token is InvalidArgument",
          client.code_of("ValidateJWTSVID", False, pb.ValidateJWTSVIDRequest(audience="db"),
                         pb.ValidateJWTSVIDResponse) == grpc.StatusCode.INVALID_ARGUMENT, "code")
    check("6.5 ValidateJWTSVID with a bad token is InvalidArgument",
          client.code_of("ValidateJWTSVID", False,
                         pb.ValidateJWTSVIDRequest(audience="db", svid=token[:-4] + "AAAA"),
                         pb.ValidateJWTSVIDResponse) == grpc.StatusCode.INVALID_ARGUMENT, "code")
    check("6.5 ValidateJWTSVID with another audience is InvalidArgument",
          client.code_of("ValidateJWTSVID", False,
                         pb.ValidateJWTSVIDRequest(audience="other", svid=token),
                         pb.ValidateJWTSVIDResponse) == grpc.StatusCode.INVALID_ARGUMENT, "code")
    valid = client.unary("ValidateJWTSVID", pb.ValidateJWTSVIDRequest(audience="db", svid=token),
                         pb.ValidateJWTSVIDResponse)
    aud = list(valid.claims["aud"])
    check("6.4 ValidateJWTSVID returns the SPIFFE ID and aud as a list",
          valid.spiffe_id == args.spiffe_id and sorted(aud) == ["cache", "db"], (valid, aud))


def check_service(client):
    pb = client.pb
    for method, request in (("FetchWITSVID", pb.WITSVIDRequest()),
                            ("FetchWITBundles", pb.WITBundlesRequest())):
        check(f"6.3 {method} (optional) is Unimplemented",
              client.code_of(method, True, request, pb.X509BundlesResponse) ==
              grpc.StatusCode.UNIMPLEMENTED, "another code")
    # Server reflection: ServerReflectionInfo with list_services (field 7, empty string).
    call = client.channel.stream_stream(
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        request_serializer=lambda b: b, response_deserializer=lambda b: b)
    answer = next(call(iter([b"\x3a\x00"]), timeout=10))
    check("6.3 gRPC server reflection lists SpiffeWorkloadAPI", b"SpiffeWorkloadAPI" in answer,
          answer)


def run_denied(client):
    for method, streaming, request, response_type in client.all_rpcs():
        if method == "ValidateJWTSVID":
            continue
        check(f"6.2 {method} for a caller with no identity is PermissionDenied",
              client.code_of(method, streaming, request, response_type) ==
              grpc.StatusCode.PERMISSION_DENIED, "another code")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", required=True)
    parser.add_argument("--trust-domain", required=True)
    parser.add_argument("--spiffe-id")
    parser.add_argument("--mode", choices=["entitled", "denied"], required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        client = Client(args.socket, load_messages(workdir))
        try:
            if args.mode == "denied":
                run_denied(client)
            else:
                check_headers(client)
                check_x509(client, args)
                check_jwt(client, args)
                check_service(client)
        except Failure as e:
            print(f"FAIL {e}", flush=True)
            return 1
        except grpc.RpcError as e:
            print(f"FAIL unexpected {e.code()}: {e.details()}", flush=True)
            return 1
    print("all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
