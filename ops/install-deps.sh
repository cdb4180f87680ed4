#!/usr/bin/env bash
# Installs every Debian package Keepwatch needs to build, test and run.
# Idempotent: packages already present are skipped, so a second run is quick.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config ccache mold git
  libcaf-dev librocksdb-dev librdkafka-dev libpqxx-dev
  libboost-dev libboost-system-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libssl-dev openssl libjwt-dev libsodium-dev prometheus-cpp-dev
  libcli11-dev libtoml11-dev
  postgresql-15 kcat curl python3 python3-jsonschema
  wrk
  # Fuzzing and sanitizers (ops/fuzz.sh, ops/test.sh): clang's libFuzzer and
  # sanitizer runtimes, llvm-symbolizer for readable stacks.
  clang libclang-rt-14-dev llvm
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present"
fi
