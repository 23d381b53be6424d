# Shared by the bench/*.sh scripts that start real processes: free loopback ports, waiting for a
# process to be ready, and failing with the tails of the logs. Source it; it defines functions only.

port() { # a loopback port nothing answers on, not handed out before in this run
  # Below the ephemeral range: after a connection benchmark tens of thousands of the machine's own
  # client ports sit in TIME_WAIT, where nothing answers but a listener cannot bind.
  local p low=32768
  [[ -r /proc/sys/net/ipv4/ip_local_port_range ]] && read -r low _ </proc/sys/net/ipv4/ip_local_port_range
  while :; do
    p=$((20000 + RANDOM % (low > 21000 ? low - 20000 : 1000)))
    [[ " ${taken:-} " == *" $p "* ]] && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    # Any socket on it, TIME_WAIT included (ss from iproute2, where present).
    if command -v ss >/dev/null && [[ -n "$(ss -Htan "sport = :$p" 2>/dev/null)" ]]; then continue; fi
    taken="${taken:-} $p"; echo "$p"; return
  done
}

die() { # die MESSAGE LOG...: print the tail of each log, then the message (prefixed by $bench_name)
  local message=$1; shift
  for log in "$@"; do echo "--- tail of $log" >&2; tail -n 20 "$log" >&2 || true; done
  echo "${bench_name:-bench}: $message" >&2
  exit 1
}

wait_for() { # wait_for SECONDS PID LOG COMMAND...: until COMMAND succeeds, or the process exits
  local deadline=$((SECONDS + $1)) pid=$2 log=$3; shift 3
  until "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || die "the process $pid exited" "$log"
    [[ $SECONDS -lt $deadline ]] || die "timed out waiting for: $*" "$log"
    sleep 0.5
  done
}
