#!/usr/bin/env bash
# X.509-SVID issuance throughput against openssl in one run, single thread:
#   openssl speed -seconds 3 ecdsap256  ->  sign/s (S) and verify/s (V)
#   (a) mint from a public key          ->  N/s, ratio N / S                 (goal >= 0.4)
#   (b) CSR path: parse+verify+mint     ->  N/s, ratio N / T, T = 1/(1/S + 1/V)  (goal >= 0.4)
# Prints exactly:
#   x509-svid mint: N/s = R x openssl p256 sign (S/s)
#   x509-svid csr: N/s = R x openssl p256 sign+verify (T/s)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${SECONDS_PER_RUN:-3}"

dotnet build bench/Anchorage.Benchmarks -c Release -v q -nologo >/dev/null

line="$(openssl speed -seconds "$seconds" ecdsap256 2>/dev/null | grep 'ecdsa (nistp256)')"
sign="$(awk '{print $(NF-1)}' <<<"$line")"
verify="$(awk '{print $NF}' <<<"$line")"

dotnet run --project bench/Anchorage.Benchmarks -c Release --no-build -- \
  issuance --seconds "$seconds" --openssl-sign "$sign" --openssl-verify "$verify"
