#!/usr/bin/python3
"""A JWT-SVID peer built on PyJWT, for Signet's interop tests (tests/interop/jwt_interop_test.cc).

Run it with the system python (Debian's python3-jwt and python3-cryptography), not a pyenv one.

  verify --jwks FILE --audience A --token T [--alg ALG]
      Loads the JWT authorities (use "jwt-svid") of the SPIFFE bundle FILE with jwt.PyJWKSet,
      picks the key named by the token's kid and verifies the token with jwt.decode, allowing only
      ALG (default: the algorithm PyJWK derives from the key; never the token's own header).
      Prints the sub claim and exits 0; prints the reason and exits 1 on any failure.

  mint --key PEMFILE --kid K --alg ALG --sub S --aud A [--aud A2 ...] [--exp-offset SECONDS]
      Signs {sub, aud, iat=now, exp=now+SECONDS (default 300)} with the PKCS#8 PEM key, header
      {alg, kid, typ: JWT}, and prints the token.
"""

import argparse
import json
import sys
import time

import jwt
from cryptography.hazmat.primitives import serialization

# What PyJWK picks for a key without an "alg" member (SPIFFE bundles carry none).
_DEFAULT_ALG_BY_CURVE = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}


def _default_alg(jwk_dict):
    if jwk_dict.get("kty") == "RSA":
        return "RS256"
    return _DEFAULT_ALG_BY_CURVE[jwk_dict.get("crv")]


def verify(args):
    with open(args.jwks, encoding="utf-8") as f:
        bundle = json.load(f)
    jwt_keys = [k for k in bundle.get("keys", []) if k.get("use") == "jwt-svid"]
    key_set = jwt.PyJWKSet(jwt_keys)
    kid = jwt.get_unverified_header(args.token).get("kid")
    if not isinstance(kid, str) or not kid:
        raise jwt.InvalidTokenError("token has no kid")
    try:
        key = key_set[kid]
    except KeyError as e:
        raise jwt.InvalidTokenError(f"no key with kid {kid!r} in the bundle") from e
    alg = args.alg or _default_alg(key._jwk_data)  # pylint: disable=protected-access
    claims = jwt.decode(
        args.token,
        key=key.key,
        algorithms=[alg],
        audience=args.audience,
        options={"require": ["exp", "sub", "aud"]},
    )
    print(claims["sub"])


def mint(args):
    with open(args.key, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    now = int(time.time())
    payload = {
        "sub": args.sub,
        "aud": args.aud[0] if len(args.aud) == 1 else args.aud,
        "iat": now,
        "exp": now + args.exp_offset,
    }
    token = jwt.encode(payload, key, algorithm=args.alg, headers={"kid": args.kid, "typ": "JWT"})
    print(token)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    v = commands.add_parser("verify")
    v.add_argument("--jwks", required=True)
    v.add_argument("--audience", required=True)
    v.add_argument("--token", required=True)
    v.add_argument("--alg")

    m = commands.add_parser("mint")
    m.add_argument("--key", required=True)
    m.add_argument("--kid", required=True)
    m.add_argument("--alg", required=True)
    m.add_argument("--sub", required=True)
    m.add_argument("--aud", required=True, action="append")
    m.add_argument("--exp-offset", type=int, default=300)

    args = parser.parse_args(argv)
    try:
        if args.command == "verify":
            verify(args)
        else:
            mint(args)
    except (jwt.PyJWTError, KeyError, ValueError, OSError) as e:
        print(f"pyjwt_tool {args.command}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
