#!/usr/bin/env bash
# Haihe developer entry point. Run as root on Debian 12 (or with sudo rights).
#
#   ./dev.sh run    install what is missing, build (release), run the exchange
#   ./dev.sh test   install what is missing, build (release + asan), run every test
#   ./dev.sh setup  only install the Debian packages (idempotent)
#   ./dev.sh build [PRESET]   only configure and build (default: release)
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(
  build-essential cmake ninja-build pkg-config clang
  libboost1.81-all-dev libquickfix-dev liblmdb-dev lmdb-utils libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev libtomlplusplus-dev libssl-dev
  librapidcheck-dev libconcurrentqueue-dev valgrind gnuplot-nox python3
)

setup() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all ${#PACKAGES[@]} packages present"
    return
  fi
  echo "setup: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

jobs() { nproc 2>/dev/null || echo 2; }

build() {
  local preset="${1:-release}"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$(jobs)"
}

case "${1:-}" in
  setup) setup ;;
  build) setup; build "${2:-release}" ;;
  run)
    setup
    build release
    shift
    # The exchange: FIX 4.4 on port 9878, data in ./haihe-data (haihe serve --help).
    exec ./build/release/app/haihe serve "$@"
    ;;
  test)
    setup
    build release
    ctest --preset release -j "$(jobs)"
    build asan
    ctest --preset asan -j "$(jobs)"
    ;;
  *)
    sed -n '2,8p' "$0"
    exit 2
    ;;
esac
