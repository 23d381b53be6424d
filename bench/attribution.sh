#!/usr/bin/env bash
# Connect-time attribution cost per accepted connection (issue 10): eBPF records (kernel mode)
# against the user-space fallback, loopback TCP and unix socket, on a quiet host and then with
# 1000 idle processes and 10,000 TIME_WAIT sockets, in one run. Prints p50/p99 per path and the
# loaded/quiet ratio of each p50. Goal: kernel p50 <= 50 us and flat (ratio ~1.0).
# Needs root (the benchmark moves itself into a cgroup of its own under /sys/fs/cgroup/unified and
# attaches the programs there; never the root cgroup) and the agent built with clang and bpftool.
#
# usage: bench/attribution.sh [--samples N] [--fallback-samples N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ $(id -u) -eq 0 ]] || { echo "attribution: needs root" >&2; exit 2; }
echo "building the benchmarks (Release) ..."
out="$(dotnet build "$root/bench/Anchorage.Benchmarks" -c Release -v q -nologo 2>&1)" || { printf '%s\n' "$out" >&2; exit 1; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
exec dotnet "$root/bench/Anchorage.Benchmarks/bin/Release/net10.0/Anchorage.Benchmarks.dll" attribution "$@"
