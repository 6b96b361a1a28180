#!/usr/bin/env bash
# Sets up a fresh Debian machine (as root) and builds or runs nala.
#   bash setup.sh demo    install, build Release, run tools/demo.sh (the shipped demo models on generated
#                         data: overlay video, contact sheet, mIoU, COCO stats; then the backbone demo)
#   bash setup.sh test    install, build Release and asan (ASan+UBSan), run every test in both, then
#                         build the libFuzzer harnesses (clang) and run each 30 s on its corpus
#   bash setup.sh bench   install (with PyTorch, and ONNX Runtime, OpenVINO, ncnn from PyPI into
#                         .venv-bench), build Release, run bench/run.sh
#   bash setup.sh deps | build
set -euo pipefail
cd "$(dirname "$0")"
JOBS=$(nproc)

deps() {
  local pkgs=(build-essential cmake pkg-config libdnnl-dev libcjson-dev check libopencv-dev libpng-dev)
  # qemu's user-mode emulator runs the kernel suites on an emulated AVX2-only Zen 3 (tests/CMakeLists.txt)
  if [ "${1:-}" = test ]; then pkgs+=(qemu-user); fi
  if [ "${1:-}" = bench ]; then pkgs+=(python3 python3-venv python3-torch python3-torchvision python3-pil python3-numpy python3-opencv time libopenblas0-openmp); fi  # Debian torch on netlib BLAS is ~16x slower
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

# The benchmark peers come from PyPI (bench/requirements-peers.txt) into a venv that sees Debian's
# torch and numpy; nothing in the build or the tests uses it.
bench_venv() {
  local venv=.venv-bench
  [ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv --system-site-packages "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r bench/requirements-peers.txt
  "$venv/bin/python" -c "import torch, numpy, onnx, onnxruntime, openvino, ncnn, pnnx
assert numpy.__version__.startswith('1.'), numpy.__version__
print(f'setup.sh: $venv: torch {torch.__version__}, numpy {numpy.__version__}, onnxruntime {onnxruntime.__version__}, openvino {openvino.get_version()}, ncnn {ncnn.__version__}')" 2>&1 || {
    echo "setup.sh: $venv cannot import torch and the peers together" >&2
    return 1
  }
}

build() { # build <type> <dir>
  cmake -S . -B "$2" -DCMAKE_BUILD_TYPE="$1" >/dev/null
  cmake --build "$2" -j "$JOBS"
}

case "${1:-}" in
  deps) deps "${2:-}" ;;
  build) deps; build Release build ;;
  demo) deps; build Release build; bash tools/demo.sh ;;
  test)
    deps test
    build Release build
    build asan build-asan
    (cd build && ctest --output-on-failure -j "$JOBS")
    (cd build-asan && ctest --output-on-failure -j "$JOBS")
    JOBS="$JOBS" bash tests/fuzz/run.sh 30  # fails on any finding
    ;;
  bench) deps bench; bench_venv; build Release build; bash bench/run.sh ;;
  *) echo "usage: bash setup.sh demo|test|bench|deps|build" >&2; exit 2 ;;
esac
