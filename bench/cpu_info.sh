# Sourced by the bench scripts: what CPU this is and which nala tiers it can run, from /proc/cpuinfo.
#   cpu_model        "AMD EPYC 7B13 (family 25, model 1)"
#   cpu_has FLAG     true when the first CPU lists FLAG (avx2, fma, avx512f, ...)
#   cpu_tiers        the tiers this CPU can run, best last: "ref avx2 avx512"
#   nala_tier OUTPUT the tier a nala run reported (isa=X / tier X / tier: X), empty if none
cpu_model() {
  awk -F': *' '/^model name/ && !n { n = $2 } /^cpu family/ && !f { f = $2 } /^model[ \t]*:/ && !m { m = $2 }
    END { if (n == "") n = "unknown CPU"; printf "%s (family %s, model %s)", n, f == "" ? "?" : f, m == "" ? "?" : m }' \
    /proc/cpuinfo 2>/dev/null || echo "unknown CPU"
}
cpu_has() { grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | grep -qw -- "$1"; }
cpu_tiers() {
  local t="ref"
  cpu_has avx2 && cpu_has fma && t="$t avx2"
  # the *_avx512.c kernels are built with F, DQ, BW and VL (core/kernels/isa.c checks the same)
  cpu_has avx512f && cpu_has avx512dq && cpu_has avx512bw && cpu_has avx512vl && t="$t avx512"
  echo "$t"
}
nala_tier() { grep -oiE '\b(isa|tier)[=: ]+ *(ref|avx2|avx512)\b' <<<"$1" | head -1 | grep -oiE '(ref|avx2|avx512)$' || true; }
# torch_blas_core PY: the OpenBLAS core that PY's torch runs on this CPU ("Haswell", "SkylakeX", ...)
# torch_blas_env CORE masked|native: OPENBLAS_CORETYPE=<core> when CORE is a fallback without AVX2
# on a CPU that has it (Debian 12's OpenBLAS 0.3.21 takes a Xeon of family 6 model 207 for a
# Prescott: SSE3 sgemm, PyTorch ~1.8x slower), else nothing: SkylakeX with AVX-512, Haswell with
# AVX2 or under the CPUID mask (masked). A peer timed on a fallback it would not take on a CPU it
# knows is not the peer a user would tune, so the benches set it and say so under their tables.
torch_blas_core() {
  OPENBLAS_VERBOSE=2 "$1" -c "import torch; torch.mm(torch.ones(64, 64), torch.ones(64, 64))" 2>&1 |
    sed -n 's/^Core: *//p' | head -1
}
torch_blas_env() {
  case "$1" in
  "" | Haswell | Zen | SkylakeX | Cooperlake | SapphireRapids) return 0 ;;
  esac
  cpu_has avx2 && cpu_has fma || return 0
  if [ "$2" != masked ] && cpu_has avx512f && cpu_has avx512bw && cpu_has avx512dq && cpu_has avx512vl; then
    echo "OPENBLAS_CORETYPE=SkylakeX"
  else
    echo "OPENBLAS_CORETYPE=Haswell"
  fi
}
# torch_blas_note CORE: the line for a table's notes when torch_blas_env overrides CORE
torch_blas_note() {
  [ -n "$(torch_blas_env "$1" native)" ] || return 0
  echo "PyTorch: Debian's OpenBLAS $(dpkg-query -W -f '${Version}' libopenblas0-openmp 2>/dev/null) does not know this CPU and runs its $1 kernels (no AVX2); the PyTorch columns ran with $(torch_blas_env "$1" native) ($(torch_blas_env "$1" masked | cut -d= -f2) in masked rows), the kernels it picks on a CPU it knows."
}
