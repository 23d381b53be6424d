#!/usr/bin/env bash
# The release binary (scripts/release) against today's framework-dependent build
# (`dotnet src/Anchorage.Cli/bin/Release/net10.0/anchorage.dll`): size on disk and start-up time of
# `--version` (start, parse, print, exit) and of `bundle inspect` on a file (loads the SPIFFE
# library and parses JSON), measured with hyperfine in the same run; reported as ratios.
#   bench/release.sh     needs both builds: scripts/release and dotnet build src/Anchorage.Cli -c Release
set -euo pipefail
cd "$(dirname "$0")/.."
release=artifacts/release/linux-x64/anchorage
fdd=src/Anchorage.Cli/bin/Release/net10.0
[[ -x $release ]] || { echo "bench/release.sh: run scripts/release first" >&2; exit 2; }
[[ -f $fdd/anchorage.dll ]] || { echo "bench/release.sh: run dotnet build src/Anchorage.Cli -c Release first" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "bench/release.sh: apt-get install hyperfine" >&2; exit 2; }

echo "size: release $(stat -c %s "$release") bytes (one file);" \
  "framework-dependent $(du -sb "$fdd" | cut -f1) bytes in $(find "$fdd" -type f | wc -l) files" \
  "plus the shared runtime ($(du -sb /usr/share/dotnet/shared | cut -f1) bytes, $(ls /usr/share/dotnet/shared/Microsoft.NETCore.App | tr '\n' ' '))"

bundle=$(mktemp)
trap 'rm -f "$bundle" /tmp/anchorage-release-bench.json' EXIT
printf '{"keys":[]}' > "$bundle"
hyperfine --warmup 3 --runs "${RUNS:-20}" -N --export-json /tmp/anchorage-release-bench.json \
  -n 'release --version' "$release --version" \
  -n 'dotnet dll --version' "dotnet $fdd/anchorage.dll --version" \
  -n 'release bundle inspect' "$release bundle inspect --trust-domain example.org $bundle" \
  -n 'dotnet dll bundle inspect' "dotnet $fdd/anchorage.dll bundle inspect --trust-domain example.org $bundle"
jq -r '.results as $r | "ratio release/dotnet (median): --version \(($r[0].median / $r[1].median * 100 | round) / 100), bundle inspect \(($r[2].median / $r[3].median * 100 | round) / 100)"' /tmp/anchorage-release-bench.json
