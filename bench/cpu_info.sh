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
