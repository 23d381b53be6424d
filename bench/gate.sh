#!/usr/bin/env bash
# The gate against stunnel4, in one run, with the same certificates: starts `anchorage server run`
# and `anchorage agent run` (gate: a TCP and a unix outbound listener whose target is the same
# agent's inbound listener, which forwards to a plain echo backend), and stunnel4 as client and
# server with the SVID and bundle the agent hands this process. One load generator
# (`Anchorage.Benchmarks.dll gate-load`) measures every path:
#   gate      client -> outbound gate (tcp) -> mTLS -> inbound gate -> echo
#   gate-unix client -> outbound gate (unix socket) -> mTLS -> inbound gate -> echo
#   gate-tunnel client -> outbound gate (tcp, tunnels: true) -> one stream of a pooled mTLS
#             HTTP/2 tunnel -> inbound gate -> echo (docs/gate-transport.md)
#   stunnel   client -> stunnel client -> mTLS -> stunnel server -> echo (stunnel's default: the
#             client resumes its last TLS session, so after the first connection no handshake
#             signs or verifies a certificate)
#   stunnel-full  the same with sessionResume = no: a full mTLS handshake per connection (the
#             gate's direct mTLS resumes too, and verifies each resumed session in full again:
#             docs/gate-transport.md, "Session resumption")
#   mtls      client does mTLS itself -> TLS echo (direct, no proxy)
#   plain     client -> echo (no TLS, no proxy)
#   gate-transparent  client in a bench cgroup -> plain text to the inbound gate's real address,
#             redirected by cgroup connect4 -> outbound gate (tcp) -> mTLS -> inbound gate -> echo
#             (root, cgroup v2 and the eBPF object only; otherwise the summary says why it is skipped)
# and prints, besides each path's figures,
#   gate conn/s = R x stunnel       (closed loop, C clients, new connection + 1-byte echo each),
#             and R x stunnel-full
#   gate MB/s = R x stunnel         (S streams echoing 64 KiB chunks)
#   gate-tunnel conn/s = R x stunnel, set-up p50, MB/s = R x stunnel
#   agent context switches per connection (c=1): gate-tunnel N, direct gate M
#   gate set-up p50 = A ms (direct mTLS B ms)
#   gate tcp attribution with 1000 processes: p50 = A ms (unix socket B ms)
#   gate-transparent set-up p50 = A ms = R x the unix-socket listener's; conn/s = R x stunnel
#   gate-tunnel memory: A KB per idle stream, B KB per idle tunnel (agent VmRSS, read once settled)
# Goals (issue 6): conn/s R >= 1.0, MB/s R >= 0.8; (issue 10) transparent set-up p50 <= 1.3x unix;
# (issue 12) tunnel conn/s R >= 2.0, direct conn/s R >= 0.8, tunnel MB/s R >= 0.9.
#
# Before any figure, each gate path runs --warmup seconds unmeasured at C clients: the agent is a
# daemon, and its first minute is the runtime's JIT (tiered compilation) more than the gate.
#
# usage: bench/gate.sh [--seconds S] [--clients C] [--streams S] [--warmup S] [--keep]
set -euo pipefail

seconds=5
warmup=10
clients=16
streams=4
idle_streams=1000   # idle connections over warm tunnels: agent memory per idle stream
idle_tunnels=100    # users holding one idle connection each: agent memory per idle tunnel
keep=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift ;;
    --clients) clients="$2"; shift ;;
    --streams) streams="$2"; shift ;;
    --warmup) warmup="$2"; shift ;;
    --keep) keep=1 ;;
    *) echo "usage: $0 [--seconds S] [--clients C] [--streams S] [--warmup S] [--keep]" >&2; exit 2 ;;
  esac
  shift
done
command -v stunnel4 >/dev/null || { echo "gate: needs stunnel4 (apt-get install stunnel4)" >&2; exit 2; }
command -v curl >/dev/null || { echo "gate: needs curl (apt-get install curl)" >&2; exit 2; }
[[ -x /usr/bin/python3 ]] || { echo "gate: needs /usr/bin/python3 (apt-get install python3)" >&2; exit 2; }
# The idle-stream figure holds $idle_streams connections: each is two sockets in the agent and one
# in the load generator and the echo backend. A login shell's 1024 is not enough.
ulimit -n "$(ulimit -Hn)"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cli=(dotnet "$root/src/Anchorage.Cli/bin/Release/net10.0/anchorage.dll")
bench=(dotnet "$root/bench/Anchorage.Benchmarks/bin/Release/net10.0/Anchorage.Benchmarks.dll")
bench_name=gate
# shellcheck source=lib/procs.sh
source "$root/bench/lib/procs.sh"

echo "building anchorage and the benchmarks (Release) ..."
for project in src/Anchorage.Cli bench/Anchorage.Benchmarks; do
  out="$(dotnet build "$root/$project" -c Release -v q -nologo 2>&1)" || { printf '%s\n' "$out" >&2; exit 1; }
done

work="$(mktemp -d)"
# Transparent interception needs root, cgroup v2 and the eBPF object; without them it is skipped (said below).
cgroup=""
transparent_skip=""
if [[ $EUID -ne 0 ]]; then transparent_skip="not root"
elif [[ ! -f /sys/fs/cgroup/unified/cgroup.procs ]]; then transparent_skip="no cgroup v2 at /sys/fs/cgroup/unified"
elif [[ ! -f "$root/src/Anchorage.Cli/bin/Release/net10.0/bpf/transparent.bpf.o" ]]; then transparent_skip="built without the eBPF programs (clang, bpftool)"
else cgroup="/sys/fs/cgroup/unified/anchorage-bench-$$"; mkdir "$cgroup"; fi
pids=()
sleepers=()
cleanup() {
  local pid
  for pid in "${sleepers[@]}"; do kill "$pid" 2>/dev/null || true; done
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null && wait "${pids[i]}" 2>/dev/null || true
  done
  if [[ -n "$cgroup" && -d "$cgroup" ]]; then
    echo 1 >"$cgroup/cgroup.kill" 2>/dev/null || true
    for _ in $(seq 50); do rmdir "$cgroup" 2>/dev/null && break; sleep 0.1; done
  fi
  if [[ $keep -eq 1 ]]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

td=bench.test
agent_api_port=$(port); server_health_port=$(port); agent_health_port=$(port)
echo_port=$(port); tls_echo_port=$(port); out_port=$(port); in_port=$(port); sc_port=$(port); ss_port=$(port); tun_port=$(port); sf_port=$(port)
mkdir -p "$work/server" "$work/agent" "$work/svid"
cat >"$work/server/server.yaml" <<YAML
trustDomain: $td
dataDir: $work/server/data
listen:
  agentApi: 127.0.0.1:$agent_api_port
  health: 127.0.0.1:$server_health_port
YAML

echo "starting the server ($work) ..."
"${cli[@]}" server run --config "$work/server/server.yaml" >"$work/server/log" 2>&1 &
pids+=($!)
export ANCHORAGE_ADMIN_SOCKET="$work/server/data/admin.sock"
wait_for 60 "${pids[0]}" "$work/server/log" "${cli[@]}" server healthcheck

"${cli[@]}" bundle show --format spiffe >"$work/agent/bundle.json"
token_json="$("${cli[@]}" token generate --ttl 10m --output json)"
json_field() { grep -o "\"$1\": *\"[^\"]*\"" <<<"$token_json" | head -n 1 | sed 's/.*: *"\(.*\)"/\1/'; }
token="$(json_field token)"
agent_id="$(json_field agentSpiffeId)"
[[ -n "$token" && "$agent_id" == spiffe://* ]] || die "cannot read token and agentSpiffeId from: token generate --output json" "$work/server/log"

# One identity for this user's processes: the load generator (outbound) and the echo backend
# (the inbound gate presents the SVID of the process listening on its forward address).
self_id="spiffe://$td/bench/self"
"${cli[@]}" entry create --spiffe-id "$self_id" --parent-id "$agent_id" --selector "unix:uid:$(id -u)" >/dev/null ||
  die "entry create failed" "$work/server/log"
# Idle tunnels: a tunnel is per (local SPIFFE ID, peer address), so one idle connection from each
# of $idle_tunnels users (each its own entry) holds that many tunnels open (measured at the end).
idle_uid0=61000
{
  echo "entries:"
  for ((i = 1; i <= idle_tunnels; i++)); do
    printf '  - { spiffeId: "spiffe://%s/bench/idle/%d", parentId: "%s", selectors: ["unix:uid:%d"] }\n' "$td" "$i" "$agent_id" $((idle_uid0 + i))
  done
} >"$work/idle-entries.yaml"
"${cli[@]}" entry create -f "$work/idle-entries.yaml" >/dev/null || die "entry create (idle users) failed" "$work/server/log"

cat >"$work/agent/policy.yaml" <<YAML
apiVersion: anchorage.dev/v1alpha1
kind: CommunicationPolicy
metadata: { name: bench }
spec:
  rules:
    - name: self-to-self
      action: allow
      from: { spiffeId: "$self_id" }
      to: { spiffeId: "$self_id", port: $in_port }
$(for ((i = 1; i <= idle_tunnels; i++)); do
    printf '    - { name: idle-%d, action: allow, from: { spiffeId: "spiffe://%s/bench/idle/%d" }, to: { spiffeId: "%s", port: %d } }\n' "$i" "$td" "$i" "$self_id" "$in_port"
  done)
YAML

cat >"$work/agent/agent.yaml" <<YAML
trustDomain: $td
dataDir: $work/agent/data
serverAddress: 127.0.0.1:$agent_api_port
joinToken: "$token"
trustBundleFile: $work/agent/bundle.json
workloadApi:
  socket: $work/agent/api.sock
listen:
  adminSocket: $work/agent/admin.sock
  health: 127.0.0.1:$agent_health_port
adminUids: [$(id -u)]
$([[ -n "$cgroup" ]] && printf 'attestation:\n  kernel: { mode: auto, cgroups: [%s] }' "$cgroup")
gate:
  policyFile: $work/agent/policy.yaml
  audit: { file: $work/agent/audit.jsonl, maxSizeMB: 100, keep: 2 }
  outbound:
    - name: bench-tcp
      listen: tcp://127.0.0.1:$out_port
      target: 127.0.0.1:$in_port
      peer: $self_id
    - name: bench-unix
      listen: unix://$work/agent/out.sock
      target: 127.0.0.1:$in_port
      peer: $self_id
    - name: bench-tunnel
      listen: tcp://127.0.0.1:$tun_port
      target: 127.0.0.1:$in_port
      peer: $self_id
      tunnels: true
  inbound:
    - name: echo
      listen: tcp://127.0.0.1:$in_port
      forward: 127.0.0.1:$echo_port
YAML
# Transparent: a client in the bench cgroup calls the inbound gate's real address in plain text;
# the kernel redirects it to the outbound gate, which dials that address with mTLS (same path as
# bench-unix after the listener). failMode open: nothing stays attached if the bench dies.
if [[ -n "$cgroup" ]]; then
  cat >>"$work/agent/agent.yaml" <<YAML
  transparent:
    listen: tcp://127.0.0.1:$(port)
    failMode: open
    cgroups: [$cgroup]
    destinations:
      - { name: bench-transparent, cidr: 127.0.0.1/32, ports: "$in_port", peer: "$self_id" }
YAML
fi

echo "starting the echo backends and the agent ..."
"${bench[@]}" gate-echo --listen "127.0.0.1:$echo_port" >"$work/echo.log" 2>&1 &
pids+=($!)
"${cli[@]}" agent run --config "$work/agent/agent.yaml" >"$work/agent/log" 2>&1 &
agent_pid=$!
pids+=("$agent_pid")
wait_for 60 "$agent_pid" "$work/agent/log" curl -fsS "http://127.0.0.1:$agent_health_port/ready"
fetch() { SPIFFE_ENDPOINT_SOCKET="unix://$work/agent/api.sock" "${cli[@]}" agent api fetch x509 --write "$work/svid"; }
wait_for 60 "$agent_pid" "$work/agent/log" fetch
svid="$work/svid/svid.0.pem" key="$work/svid/svid.0.key" ca="$work/svid/bundle.0.pem"

"${bench[@]}" gate-echo --listen "127.0.0.1:$tls_echo_port" --cert "$svid" --key "$key" --ca "$ca" >"$work/tls-echo.log" 2>&1 &
pids+=($!)

# stunnel4 with the same SVID, key and bundle: verifyChain checks the peer chains to the bundle
# (stunnel cannot check a URI SAN, so it verifies less than the gate does).
for side in server client; do
  cat >"$work/stunnel-$side.conf" <<CONF
foreground = yes
pid =
output = $work/stunnel-$side.log
debug = 3
[$side]
$([[ $side == client ]] && echo "client = yes")
accept = 127.0.0.1:$([[ $side == client ]] && echo "$sc_port" || echo "$ss_port")
connect = 127.0.0.1:$([[ $side == client ]] && echo "$ss_port" || echo "$echo_port")
cert = $svid
key = $key
CAfile = $ca
verifyChain = yes
$([[ $side == server ]] && echo "requireCert = yes")
CONF
  stunnel4 "$work/stunnel-$side.conf" &
  pids+=($!)
done
# stunnel-full: a second client that never resumes a session (same server).
sed -e "s/^accept = .*/accept = 127.0.0.1:$sf_port/" -e "s|^output = .*|output = $work/stunnel-full.log|" -e '$a sessionResume = no' \
  "$work/stunnel-client.conf" >"$work/stunnel-full.conf"
stunnel4 "$work/stunnel-full.conf" &
pids+=($!)

probe() { "${bench[@]}" gate-load --connect "$1" --mode conn --clients 1 --seconds 0.2 --label probe | grep -q 'errors=0'; }
wait_for 30 "${pids[0]}" "$work/agent/log" probe "127.0.0.1:$out_port"
wait_for 30 "${pids[0]}" "$work/agent/log" probe "127.0.0.1:$tun_port"
wait_for 30 "${pids[0]}" "$work/stunnel-client.log" probe "127.0.0.1:$sc_port"
wait_for 30 "${pids[0]}" "$work/stunnel-full.log" probe "127.0.0.1:$sf_port"
echo "ready; load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"

out="$work/results"
# With the bench cgroup every load generator runs inside it, so the agent attributes its
# connections from the eBPF records taken at connect() (kernel mode, the product's mode); the
# references (stunnel, mtls, plain) run there too, under the same conditions. Without it the agent
# falls back to user space (a scan of /proc per connection; bench/attribution.sh times both).
in_cgroup() { if [[ -n "$cgroup" ]]; then sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cgroup" "$@"; else "$@"; fi; }
load() { in_cgroup "${bench[@]}" gate-load "$@" --seconds "$seconds" | tee -a "$out"; }
tls=(--cert "$svid" --key "$key" --ca "$ca")
if [[ "$warmup" != 0 ]]; then
  echo "warm-up: ${warmup}s per gate path, not measured ..."
  for target in "127.0.0.1:$out_port" "unix:$work/agent/out.sock" "127.0.0.1:$tun_port"; do
    in_cgroup "${bench[@]}" gate-load --label warm-up --connect "$target" --mode conn --clients "$clients" --seconds "$warmup" >/dev/null
  done
  in_cgroup "${bench[@]}" gate-load --label warm-up --connect "127.0.0.1:$tun_port" --mode stream --clients "$streams" --seconds "$warmup" >/dev/null
fi
# Set-up latency, one client at a time. For the direct and the tunnel path also the agent's
# context switches (every thread's, both gates) over the run: at one client a connection's set-up
# is a chain of hand-offs, and each that wakes a parked thread costs a switch.
ctx_switches() { cat /proc/"$agent_pid"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { s += $2 } END { print s + 0 }'; }
switches0="$(ctx_switches)"
load --label gate --connect "127.0.0.1:$out_port" --mode conn --clients 1
switches1="$(ctx_switches)"
load --label gate-unix --connect "unix:$work/agent/out.sock" --mode conn --clients 1
switches2="$(ctx_switches)"
load --label gate-tunnel --connect "127.0.0.1:$tun_port" --mode conn --clients 1
switches3="$(ctx_switches)"
load --label stunnel --connect "127.0.0.1:$sc_port" --mode conn --clients 1
[[ -n "$cgroup" ]] && load --label gate-transparent --connect "127.0.0.1:$in_port" --mode conn --clients 1
load --label mtls --connect "127.0.0.1:$tls_echo_port" --mode conn --clients 1 "${tls[@]}"
load --label plain --connect "127.0.0.1:$echo_port" --mode conn --clients 1
# Throughput of connections and of bytes, gate then stunnel.
load --label gate --connect "127.0.0.1:$out_port" --mode conn --clients "$clients"
load --label gate-unix --connect "unix:$work/agent/out.sock" --mode conn --clients "$clients"
load --label gate-tunnel --connect "127.0.0.1:$tun_port" --mode conn --clients "$clients"
load --label stunnel --connect "127.0.0.1:$sc_port" --mode conn --clients "$clients"
load --label stunnel-full --connect "127.0.0.1:$sf_port" --mode conn --clients "$clients"
[[ -n "$cgroup" ]] && load --label gate-transparent --connect "127.0.0.1:$in_port" --mode conn --clients "$clients"
load --label gate --connect "127.0.0.1:$out_port" --mode stream --clients "$streams"
load --label gate-tunnel --connect "127.0.0.1:$tun_port" --mode stream --clients "$streams"
load --label stunnel --connect "127.0.0.1:$sc_port" --mode stream --clients "$streams"

# TCP attribution looks the caller up among every process's sockets: time it with 1000 more
# processes running, against the unix socket path (SO_PEERCRED, no lookup) in the same state.
echo "starting 1000 idle processes ..."
for ((i = 0; i < 1000; i++)); do sleep 600 & sleepers+=($!); done
load --label gate-1000procs --connect "127.0.0.1:$out_port" --mode conn --clients 1
load --label gate-unix-1000procs --connect "unix:$work/agent/out.sock" --mode conn --clients 1
for pid in "${sleepers[@]}"; do kill "$pid" 2>/dev/null || true; done
sleepers=()

# Agent memory per idle stream and per idle tunnel (VmRSS, both gates are this one agent). Streams:
# $idle_streams connections through the tunnel listener, each echoing a byte, then held (they fill
# $idle_streams/100 tunnels). Tunnels: one connection from each of $idle_tunnels users, each its
# own SPIFFE ID, so each its own tunnel; the streams' share is taken out with the per-stream figure.
# RSS also holds garbage the GC has not collected yet (a tunnel's set-up allocates on the large
# object heap): the per-tunnel figure moves by +-150 KB between runs; compare several runs.
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$agent_pid/status"; }
tunnels_open() { ss -Htn state established "dport = :$in_port" | wc -l; }
settled_rss_kb() { # the agent's VmRSS once it has not changed by more than 1% for 2 s (at most 20 s)
  local last now i
  last="$(rss_kb)"
  for ((i = 0; i < 10; i++)); do
    sleep 2
    now="$(rss_kb)"
    ((now - last < last / 100 && last - now < last / 100)) && break
    last="$now"
  done
  echo "$now"
}
held() { # held FILE N: wait until FILE has N lines (or 60 s)
  local i
  for ((i = 0; i < 600; i++)); do [[ $(wc -l <"$1" 2>/dev/null || echo 0) -ge $2 ]] && return 0; sleep 0.1; done
  return 1
}
echo "holding $idle_streams idle streams, then $idle_tunnels idle tunnels ..."
rss0="$(settled_rss_kb)"
tun0="$(tunnels_open)"
in_cgroup "${bench[@]}" gate-load --label idle --connect "127.0.0.1:$tun_port" --mode idle --clients "$idle_streams" --seconds 120 >"$work/idle-streams.out" 2>&1 &
idle_pid=$!
held "$work/idle-streams.out" 1 || die "idle streams were not held" "$work/agent/log"
grep -q 'errors=0' "$work/idle-streams.out" || die "idle streams: $(cat "$work/idle-streams.out")" "$work/agent/log"
rss1="$(settled_rss_kb)"
tun1="$(tunnels_open)"
kill "$idle_pid" 2>/dev/null || true
wait "$idle_pid" 2>/dev/null || true
per_stream_kb=$(((rss1 - rss0) / idle_streams))
echo "idle streams: $idle_streams on $tun1 tunnels ($tun0 before): agent rss $((rss0 / 1024)) -> $((rss1 / 1024)) MB" | tee -a "$out"

if [[ $EUID -ne 0 ]]; then
  echo "gate-tunnel memory: ${per_stream_kb} KB per idle stream ($idle_streams held); per idle tunnel skipped (needs root to run clients as other users)"
else
rss2="$(settled_rss_kb)"
tun2="$(tunnels_open)"
hold_py='import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"x")
assert s.recv(1) == b"x", "no echo"
print("held", flush=True)
time.sleep(120)'
: >"$work/idle-tunnels.out"
idle_pids=()
for ((i = 1; i <= idle_tunnels; i++)); do
  uid=$((idle_uid0 + i))
  in_cgroup setpriv --reuid="$uid" --regid="$uid" --clear-groups /usr/bin/python3 -c "$hold_py" "$tun_port" >>"$work/idle-tunnels.out" 2>&1 &
  idle_pids+=($!)
done
held "$work/idle-tunnels.out" "$idle_tunnels" || die "idle tunnels were not held: $(sort "$work/idle-tunnels.out" | uniq -c)" "$work/agent/log"
rss3="$(settled_rss_kb)"
tun3="$(tunnels_open)"
for pid in "${idle_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
per_tunnel_kb=$(((rss3 - rss2 - per_stream_kb * idle_tunnels) / (tun3 - tun2 > 0 ? tun3 - tun2 : 1)))
echo "idle tunnels: $((tun3 - tun2)) new ($tun2 -> $tun3), $idle_tunnels streams: agent rss $((rss2 / 1024)) -> $((rss3 / 1024)) MB" | tee -a "$out"
fi

field() { # field LABEL KIND C NAME: the value of NAME= on the line "LABEL KIND c=C: ..."
  awk -v l="$1" -v k="$2" -v c="c=$3:" -v n="$4=" '$1 == l && $2 == k && $3 == c {
      for (i = 4; i <= NF; i++) if (index($i, n) == 1) { v = substr($i, length(n) + 1); sub(/ms$/, "", v); print v } }' "$out"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo
echo "attribution: $([[ -n "$cgroup" ]] && echo "kernel (eBPF records, the load generators in $cgroup)" || echo "user-space fallback ($transparent_skip)")"
echo "gate set-up p50 = $(field gate conn 1 p50) ms (direct mTLS $(field mtls conn 1 p50) ms, stunnel $(field stunnel conn 1 p50) ms, plain $(field plain conn 1 p50) ms)"
echo "gate tcp attribution with 1000 processes: p50 = $(field gate-1000procs conn 1 p50) ms (unix socket $(field gate-unix-1000procs conn 1 p50) ms; tcp without them $(field gate conn 1 p50) ms)"
echo "gate conn/s = $(ratio "$(field gate conn "$clients" conn/s)" "$(field stunnel conn "$clients" conn/s)") x stunnel (c=$clients, tcp outbound listener; goal >= 1.0, direct mode >= 0.8)"
echo "gate conn/s = $(ratio "$(field gate conn "$clients" conn/s)" "$(field stunnel-full conn "$clients" conn/s)") x stunnel-full (c=$clients, stunnel with a full mTLS handshake each, no resumption)"
echo "gate-unix conn/s = $(ratio "$(field gate-unix conn "$clients" conn/s)" "$(field stunnel conn "$clients" conn/s)") x stunnel (c=$clients, unix-socket outbound listener)"
echo "gate-tunnel conn/s = $(ratio "$(field gate-tunnel conn "$clients" conn/s)" "$(field stunnel conn "$clients" conn/s)") x stunnel (c=$clients, gate to gate, each connection one stream of a warm tunnel; goal >= 2.0)"
echo "gate-tunnel set-up p50 = $(field gate-tunnel conn 1 p50) ms (plain $(field plain conn 1 p50) ms, direct gate $(field gate conn 1 p50) ms)"
per_conn() { awk -v d="$1" -v r="$2" -v s="$seconds" 'BEGIN { if (r > 0) printf "%.0f", d / (r * s); else print "n/a" }'; }
echo "agent context switches per connection (c=1): gate-tunnel $(per_conn $((switches3 - switches2)) "$(field gate-tunnel conn 1 conn/s)"), direct gate $(per_conn $((switches1 - switches0)) "$(field gate conn 1 conn/s)")"
echo "gate-tunnel MB/s = $(ratio "$(field gate-tunnel stream "$streams" MB/s)" "$(field stunnel stream "$streams" MB/s)") x stunnel ($streams streams over one tunnel; goal >= 0.9)"
echo "gate MB/s = $(ratio "$(field gate stream "$streams" MB/s)" "$(field stunnel stream "$streams" MB/s)") x stunnel ($streams streams; goal >= 0.8)"
if [[ -n "$cgroup" ]]; then
  echo "gate-transparent set-up p50 = $(field gate-transparent conn 1 p50) ms = $(ratio "$(field gate-transparent conn 1 p50)" "$(field gate-unix conn 1 p50)") x the unix-socket listener's ($(field gate-unix conn 1 p50) ms; goal <= 1.3)"
  echo "gate-transparent conn/s = $(ratio "$(field gate-transparent conn "$clients" conn/s)" "$(field stunnel conn "$clients" conn/s)") x stunnel (c=$clients, unmodified client redirected by cgroup connect4)"
else
  echo "gate-transparent: skipped ($transparent_skip)"
fi
[[ $EUID -eq 0 ]] && echo "gate-tunnel memory: ${per_stream_kb} KB per idle stream ($idle_streams held; both gates' share, sockets included), ${per_tunnel_kb} KB per idle tunnel ($((tun3 - tun2)) held, streams' share taken out)"
denied="$(grep -c '"decision":"deny"' "$work/agent/audit.jsonl" || true)"
echo "audit: $(wc -l <"$work/agent/audit.jsonl") records, $denied denials; load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
