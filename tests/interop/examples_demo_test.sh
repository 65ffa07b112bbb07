#!/usr/bin/env bash
# README command (1), minus the release build: installs libsignet-client from this build tree,
# builds examples/ against the installed package (find_package(signet), as a user's project
# does), then runs scripts/demo-run with them. Fails if any demo step fails.
#   examples_demo_test.sh SOURCE_DIR BUILD_DIR SIGNET_BINARY CXX_FLAGS
set -euo pipefail
src=$1 build=$2 signet=$3 flags=$4
tmp=$(mktemp -d /tmp/sgex-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --component client --prefix "$tmp/prefix" >/dev/null
test -f "$tmp/prefix/lib/cmake/signet/signetConfig.cmake"
test -f "$tmp/prefix/include/signet/tls.h"
cmake -S "$src/examples" -B "$tmp/build" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DCMAKE_CXX_FLAGS="$flags" >/dev/null
cmake --build "$tmp/build" >/dev/null
DEMO_ROTATION_SECONDS=${DEMO_ROTATION_SECONDS:-12} "$src/scripts/demo-run" "$signet" "$tmp/build"
