#!/usr/bin/env bash
# Sets our single-threaded SVID verification throughput against `openssl speed ecdsap256` on the
# same machine, in the same run, interleaved (openssl, ours, openssl, ours, ...), and prints
#   x509-svid verify: 9100/s = 0.87 x openssl p256 verify (10460/s)
# for each operation, using the BEST (highest) figure of each side over the rounds: on a shared
# machine noise only ever slows a run down, so the best round is the least disturbed one.
#
# usage: bench/crypto-ratio.sh [--check] [--rounds N] [--seconds S] [--elapsed]
#   --check    exit 1 when any ratio is below the goal (0.6); without it the exit code is 0
#   --rounds   interleaved rounds (default 2)
#   --seconds  measuring time per operation, both sides (default 3; ours adds 3 s of warm-up)
#   --elapsed  count wall-clock time on both sides (openssl speed -elapsed); the default counts
#              CPU time on both sides (openssl: its user time; ours: the measuring thread's CPU
#              time), which is what plain `openssl speed` reports
set -euo pipefail

GOAL="${CRYPTO_RATIO_GOAL:-0.6}"  # override only to test the --check path
check=0
rounds=2
seconds=3
elapsed=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --check) check=1 ;;
    --rounds) rounds="$2"; shift ;;
    --seconds) seconds="$2"; shift ;;
    --elapsed) elapsed=1 ;;
    *) echo "usage: $0 [--check] [--rounds N] [--seconds S] [--elapsed]" >&2; exit 2 ;;
  esac
  shift
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
project="$root/bench/Anchorage.Benchmarks"
dll="$project/bin/Release/net10.0/Anchorage.Benchmarks.dll"

echo "building $project (Release) ..."
dotnet build "$project" -c Release -v q -nologo >/tmp/crypto-ratio-build.$$ 2>&1 || {
  cat /tmp/crypto-ratio-build.$$ >&2; rm -f /tmp/crypto-ratio-build.$$; exit 1; }
rm -f /tmp/crypto-ratio-build.$$

openssl_args=(speed -seconds "$seconds")
ours_args=(ratio --seconds "$seconds")
clock="CPU time"
if [[ $elapsed -eq 1 ]]; then
  openssl_args+=(-elapsed)
  ours_args+=(--clock wall)
  clock="wall-clock time"
fi
openssl_args+=(ecdsap256)

# openssl 3.0 prints a header "  sign  verify  sign/s verify/s" and a row
# " 256 bits ecdsa (nistp256)   0.0000s   0.0001s  30962.5  10787.9". The columns are located by
# their header names, counted from the end of the line (the row's label has a variable number of words).
parse_openssl() {
  awk '
    /sign\/s/ && /verify\/s/ { n = split($0, h, " "); for (i = 1; i <= n; i++) col[h[i]] = i - n; next }
    /\(nistp256\)/ && ("sign/s" in col) && ("verify/s" in col) {
      m = split($0, f, " "); s = f[m + col["sign/s"]]; v = f[m + col["verify/s"]]
      if (s ~ /^[0-9.]+$/ && v ~ /^[0-9.]+$/) { print s, v; found = 1 }
    }
    END { if (!found) exit 1 }'
}

declare -A best=()
declare -A all=()
keep() { # name value: remember every value and the best
  all[$1]="${all[$1]:-}${all[$1]:+ }$(printf '%.0f' "$2")"
  if [[ -z "${best[$1]:-}" ]] || awk -v a="$2" -v b="${best[$1]}" 'BEGIN { exit !(a > b) }'; then best[$1]="$2"; fi
}

for ((r = 1; r <= rounds; r++)); do
  echo "round $r/$rounds: openssl ${openssl_args[*]} ..."
  out="$(openssl "${openssl_args[@]}" 2>/dev/null)" || { echo "openssl speed failed" >&2; exit 1; }
  read -r sign verify < <(printf '%s\n' "$out" | parse_openssl) || {
    echo "cannot find the nistp256 sign/s and verify/s columns in openssl speed output:" >&2
    printf '%s\n' "$out" >&2; exit 1; }
  keep openssl-sign "$sign"
  keep openssl-verify "$verify"
  echo "round $r/$rounds: dotnet Anchorage.Benchmarks.dll ${ours_args[*]} ..."
  ours="$(dotnet "$dll" "${ours_args[@]}")" || { echo "ratio mode failed" >&2; exit 1; }
  while IFS=$'\t' read -r name value; do
    [[ -z "$name" || "$name" == \#* ]] && continue
    keep "$name" "$value"
  done <<<"$ours"
done

ossl="${best[openssl-verify]}"
echo
printf 'openssl p256 (best of %s, %s): sign %.0f/s [%s], verify %.0f/s [%s]\n' \
  "$rounds" "$clock" "${best[openssl-sign]}" "${all[openssl-sign]}" "$ossl" "${all[openssl-verify]}"
printf 'ours per round: x509-svid verify [%s], leaf under root [%s], jwt-svid es256 validate [%s]\n' \
  "${all[x509-svid-verify-intermediate-cached]:-}" "${all[x509-svid-verify-leaf-under-root]:-}" "${all[jwt-svid-es256-validate]:-}"
failed=0
report() { # label name
  local ours="${best[$2]:-}"
  if [[ -z "$ours" ]]; then echo "$1: no result from ratio mode" >&2; exit 1; fi
  local ratio
  ratio="$(awk -v a="$ours" -v b="$ossl" 'BEGIN { printf "%.2f", a / b }')"
  printf '%s: %.0f/s = %s x openssl p256 verify (%.0f/s)\n' "$1" "$ours" "$ratio" "$ossl"
  # Compared unrounded: 0.597 prints as 0.60 but misses the goal.
  if awk -v a="$ours" -v b="$ossl" -v g="$GOAL" 'BEGIN { exit !(a / b < g) }'; then failed=1; fi
}
report "x509-svid verify" x509-svid-verify-intermediate-cached
report "x509-svid verify (leaf under root)" x509-svid-verify-leaf-under-root
report "jwt-svid es256 validate" jwt-svid-es256-validate
echo "(x509-svid verify = leaf via an intermediate the verifier already knows; single thread; best of $rounds rounds, $clock)"
if [[ $failed -eq 0 ]]; then
  echo "goal: each ratio >= $GOAL x openssl p256 verify: met"
else
  echo "goal: each ratio >= $GOAL x openssl p256 verify: NOT met"
  [[ $check -eq 1 ]] && exit 1
fi
exit 0
