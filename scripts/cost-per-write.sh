#!/usr/bin/env bash
# The load generator's own cost per paced write, on every target: user and
# kernel CPU per write and memory per open stream, for one or two builds of
# plotstream side by side (BEFORE=path/to/old/plotstream adds the second).
#
#   bash scripts/cost-per-write.sh [STREAMS] [RATE] [SECONDS]
#
# The servers are started here on free loopback ports and stopped by PID at
# the end: `plotstream serve --in-memory` (plotly and http targets), nginx +
# Nchan (ws), Mosquitto (mqtt). Each run is timed by /usr/bin/time as a
# whole process. Memory per stream is the peak RSS of a run of STREAMS
# streams less that of a run of STREAMS/10, over the difference in streams.
# With SYSCALLS=1, one more short run per target under `strace -c -f` counts
# the write system calls per write.
#
# Measures $PLOTSTREAM_BIN, or else a release build it makes; needs Debian's
# time, mosquitto, nginx-light and libnginx-mod-nchan (and strace).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/servers.sh
source scripts/servers.sh
streams=${1:-2000}; rate=${2:-10}; seconds=${3:-10}
need python3 /usr/bin/time /usr/sbin/mosquitto nginx
plotstream_bin

vp=$(free_port); mq=$(free_port); nx=$(free_port)
"$bin" serve --in-memory --addr "127.0.0.1:$vp" --max-figures 200000 --max-connections 200000 >"$work/serve.log" 2>&1 &
pids+=($!)
start_mosquitto "$mq"
start_nchan "$nx" 10
sleep 1

target_args() { # $1 target
  case $1 in
    plotly) echo "--url http://127.0.0.1:$vp" ;;
    http) echo "--url http://127.0.0.1:$vp --target http --header plotly-streamtoken:{token}" ;;
    ws) echo "--url ws://127.0.0.1:$nx/pub/{token} --payload point" ;;
    mqtt) echo "--url mqtt://127.0.0.1:$mq --payload point" ;;
  esac
}

measure() { # $1 binary, $2 target, $3 streams: prints "writes user sys maxrss_kb"
  local out="$work/run.out" t="$work/run.time"
  # shellcheck disable=SC2046
  /usr/bin/time -f '%U %S %M' -o "$t" "$1" load $(target_args "$2") \
    --streams "$3" --rate "$rate" --duration "${seconds}s" --token-prefix "c$RANDOM" >"$out" 2>&1 || true
  local writes; writes=$(awk '/^  writes/ {print $2; exit}' "$out")
  echo "${writes:-0} $(cat "$t")"
}

echo "$streams streams x $rate writes/s x $seconds s on $(nproc) cores ($(uname -r)); per write, whole process"
printf '%-10s %-8s %10s %12s %12s %10s %12s\n' build target writes 'user us/w' 'kernel us/w' 'peak MB' 'KB/stream'
small=$((streams / 10))
for build in now before; do
  b=$bin
  if [[ $build == before ]]; then
    [[ -n ${BEFORE:-} ]] || continue
    b=$BEFORE
  fi
  for target in plotly http ws mqtt; do
    read -r w u s m < <(measure "$b" "$target" "$streams")
    read -r _ _ _ m0 < <(measure "$b" "$target" "$small")
    python3 - "$build" "$target" "$w" "$u" "$s" "$m" "$m0" "$streams" "$small" <<'PY'
import sys
build, target, w, u, s, m, m0, n, n0 = sys.argv[1:]
w = max(int(w), 1)
print(f"{build:<10} {target:<8} {w:>10} {float(u)/w*1e6:>12.2f} {float(s)/w*1e6:>12.2f} "
      f"{int(m)/1024:>10.1f} {(int(m)-int(m0))/(int(n)-int(n0)):>12.2f}")
PY
  done
done
if [[ ${SYSCALLS:-0} == 1 ]]; then
  echo "write system calls per write (strace -c -f, 200 streams x $rate/s x 5 s):"
  for target in plotly http ws mqtt; do
    # shellcheck disable=SC2046
    strace -c -f -o "$work/strace" -e trace=write,writev,sendto,sendmsg "$bin" load $(target_args "$target") \
      --streams 200 --rate "$rate" --duration 5s --token-prefix "s$RANDOM" >"$work/s.out" 2>&1 || true
    w=$(awk '/^  writes/ {print $2; exit}' "$work/s.out")
    calls=$(awk '$NF ~ /^(write|writev|sendto|sendmsg)$/ {n += $4} END {print n+0}' "$work/strace")
    python3 -c "print(f'  {\"$target\":<8} {$calls} calls for ${w:-0} writes: {$calls/max(${w:-0},1):.3f} a write')"
  done
fi
