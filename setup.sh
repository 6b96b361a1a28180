#!/usr/bin/env bash
# Sets up a fresh Debian machine (as root) and builds or runs nala.
#   bash setup.sh demo    install, build Release, run the backbone demo
#   bash setup.sh test    install, build Release and asan (ASan+UBSan), run every test in both, then
#                         build the libFuzzer harnesses (clang) and run each 30 s on its corpus
#   bash setup.sh bench   install (with PyTorch), build Release, run bench/run.sh
#   bash setup.sh deps | build
set -euo pipefail
cd "$(dirname "$0")"
JOBS=$(nproc)

deps() {
  local pkgs=(build-essential cmake pkg-config libdnnl-dev libcjson-dev check libopencv-dev libpng-dev)
  # qemu's user-mode emulator runs the kernel suites on an emulated AVX2-only Zen 3 (tests/CMakeLists.txt)
  if [ "${1:-}" = test ]; then pkgs+=(qemu-user); fi
  if [ "${1:-}" = bench ]; then pkgs+=(python3 python3-torch python3-numpy python3-opencv time libopenblas0-openmp); fi  # Debian torch on netlib BLAS is ~16x slower
  # tests/fuzz: clang, libFuzzer (libclang-rt-14-dev on Debian 12) and LLVM's OpenMP for clang builds.
  if [ "${1:-}" = test ] || [ "${1:-}" = bench ]; then pkgs+=(clang libclang-rt-14-dev libomp-dev); fi
  local missing=()
  for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

build() { # build <type> <dir>
  cmake -S . -B "$2" -DCMAKE_BUILD_TYPE="$1" >/dev/null
  cmake --build "$2" -j "$JOBS"
}

case "${1:-}" in
  deps) deps "${2:-}" ;;
  build) deps; build Release build ;;
  demo) deps; build Release build; ./build/nala demo ;;
  test)
    deps test
    build Release build
    build asan build-asan
    (cd build && ctest --output-on-failure -j "$JOBS")
    (cd build-asan && ctest --output-on-failure -j "$JOBS")
    JOBS="$JOBS" bash tests/fuzz/run.sh 30  # fails on any finding
    ;;
  bench) deps bench; build Release build; bash bench/run.sh ;;
  *) echo "usage: bash setup.sh demo|test|bench|deps|build" >&2; exit 2 ;;
esac
