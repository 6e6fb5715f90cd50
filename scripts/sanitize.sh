#!/usr/bin/env bash
# Builds native/test/sanitize.cc with the pure C++ core under AddressSanitizer and
# UndefinedBehaviorSanitizer and runs it (used by test/native/sanitize.test.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-build/sanitize}"
mkdir -p "$(dirname "$out")"
# shellcheck disable=SC2046
g++ -std=c++17 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
  -Inative $(node scripts/blas-flags.mjs --cflags | sed 's/\([^ ]\+\)/-I\1/g') \
  native/test/sanitize.cc native/core/*.cc $(node scripts/blas-flags.mjs --libs) -o "$out"
ASAN_OPTIONS=detect_leaks=1 "$out"
