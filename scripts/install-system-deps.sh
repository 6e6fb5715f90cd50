#!/usr/bin/env bash
# Installs the system packages weightwatcher needs to build its native addon (a C++ compiler,
# pkg-config, OpenBLAS and LAPACKE) when they are missing. With --browser it also installs
# Chromium and a font for the HTML-report browser test and PNG text rendering; with --redis,
# redis-server for the queue (scale-out) tests, which start their own instance on a free port; with
# --test-fixtures, h5py, which writes the HDF5 fixtures h5wasm cannot (tests skip without it).
# Debian/Ubuntu (apt-get); elsewhere it only checks and explains.
set -euo pipefail

pkgs=(g++ make python3 pkg-config libopenblas-dev liblapacke-dev fonts-dejavu-core)
for arg in "$@"; do
  case "$arg" in
    --browser) pkgs+=(chromium) ;;
    --redis) pkgs+=(redis-server) ;;
    --test-fixtures) pkgs+=(python3-h5py) ;;
    *) echo "usage: $0 [--browser] [--redis] [--test-fixtures]" >&2; exit 2 ;;
  esac
done

if ! command -v dpkg-query >/dev/null 2>&1; then
  if pkg-config --exists openblas lapacke 2>/dev/null; then exit 0; fi
  echo "weightwatcher: install a C++ compiler, pkg-config, OpenBLAS and LAPACKE with your package manager" >&2
  echo "  (Fedora: dnf install gcc-c++ make pkgconf openblas-devel lapack-devel; macOS: brew install openblas lapack pkg-config)" >&2
  exit 1
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then exit 0; fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "weightwatcher: installing system packages: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
