#!/usr/bin/env bash
# CPU seconds per million delivered writes: `plotstream load` against Tsung 1.7,
# one after the other, the same streams at the same rate for the same time,
# to the same Mosquitto (MQTT, QoS 0) and the same nginx + Nchan (WebSocket
# publishers). Delivered writes are counted by a subscriber that is not part
# of either tool (mosquitto_sub; curl on Nchan's EventSource). Loopback only.
#
#   bash scripts/compare-tsung.sh [STREAMS] [RATE] [SECONDS]
#
# With ARTILLERY set to an Artillery 2 command (such as "npx artillery",
# from `npm install artillery@2`), Artillery's ws engine runs the same
# WebSocket load too, into the same Nchan.
#
# Needs Debian's mosquitto, mosquitto-clients, nginx-light,
# libnginx-mod-nchan, tsung, time and curl. It measures $PLOTSTREAM_BIN, or
# else a release build it makes (and says which). The servers, the
# subscribers and Tsung's port mapper are its own, on free ports, and are
# stopped by PID at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/servers.sh
source scripts/servers.sh
streams=${1:-100}; rate=${2:-20}; seconds=${3:-60}
need python3 curl /usr/bin/time /usr/sbin/mosquitto mosquitto_sub nginx tsung epmd
plotstream_bin
# Tsung's Erlang VM starts a port mapper (epmd) that outlives it: give it a
# port of this script's own, so that the one stopped at the end is ours.
ERL_EPMD_PORT=$(free_port); export ERL_EPMD_PORT
mq=$(free_port); nx=$(free_port)
start_mosquitto "$mq" $'max_queued_messages 1000000\n'
start_nchan "$nx" 100
sleep 1
writes=$((rate * seconds))   # per stream
think=$(python3 -c "print(1/$rate)")
cpu() { awk '{print $1+$2}' "$1"; }   # user + sys seconds from /usr/bin/time -f '%U %S'

tsung_conf() { # $1 session type, $2 server port, $3 connect request, $4 publish request
cat <<XML
<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="error">
  <clients><client host="localhost" use_controller_vm="true" maxusers="$((streams + 10))"/></clients>
  <servers><server host="127.0.0.1" port="$2" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="2" unit="second"><users maxnumber="$streams" arrivalrate="$streams" unit="second"/></arrivalphase></load>
  <sessions><session name="s" probability="100" type="$1">
    <request>$3</request>
    <for from="1" to="$writes" incr="1" var="i">
      <request subst="true">$4</request>
      <thinktime value="$think" random="false"/>
    </for>
  </session></sessions>
</tsung>
XML
}

run() { # $1 name, $2 subscriber command (counts lines on stdout), $3 load command...
  local name=$1 sub=$2; shift 2
  bash -c "$sub" > "$work/$name.sub" 2>/dev/null & local s=$!
  sleep 1
  /usr/bin/time -f '%U %S' -o "$work/$name.time" "$@" > "$work/$name.out" 2>&1 || true
  sleep 2; kill $s 2>/dev/null || true; wait $s 2>/dev/null || true
  local delivered; delivered=$(grep -c 'seq' "$work/$name.sub" || true)
  local c; c=$(cpu "$work/$name.time" 2>/dev/null || true)
  if [[ ! $c =~ ^[0-9.]+$ ]]; then
    printf '%-28s failed; its output ends:\n' "$name"
    tail -n 5 "$work/$name.out" | sed 's/^/    /'
    return
  fi
  printf '%-28s sent %8d  delivered %8d  cpu %6.2f s  cpu per million delivered %7.1f s\n' \
    "$name" $((streams * writes)) "$delivered" "$c" "$(python3 -c "print($c/max($delivered,1)*1e6)")"
}

echo "$streams streams x $rate writes/s x $seconds s, payload about 60 bytes; $(nproc) cores"
run "plotstream load, MQTT" "mosquitto_sub -h 127.0.0.1 -p $mq -t 'bench/#'" \
  "$bin" load --url "mqtt://127.0.0.1:$mq" --topic 'bench/all' --payload point \
  --streams "$streams" --rate "$rate" --duration "${seconds}s"
tsung_conf ts_mqtt "$mq" '<mqtt type="connect" clean_start="true" keepalive="60"></mqtt>' \
  '<mqtt type="publish" topic="bench/all" qos="0" retained="false">{"stream":"tsung","seq":%%_i%%,"x":12345,"y":0.123456789012}</mqtt>' > "$work/mqtt.xml"
run "Tsung 1.7, MQTT" "mosquitto_sub -h 127.0.0.1 -p $mq -t 'bench/#'" \
  tsung -f "$work/mqtt.xml" -l "$work/tsung-mqtt" start
run "plotstream load, WebSocket" "curl -sN -H 'Accept: text/event-stream' http://127.0.0.1:$nx/sub/all" \
  "$bin" load --url "ws://127.0.0.1:$nx/pub/all" --payload point \
  --streams "$streams" --rate "$rate" --duration "${seconds}s"
tsung_conf ts_websocket "$nx" '<websocket type="connect" path="/pub/all"></websocket>' \
  '<websocket type="message" ack="no_ack">{"stream":"tsung","seq":%%_i%%,"x":12345,"y":0.123456789012}</websocket>' > "$work/ws.xml"
run "Tsung 1.7, WebSocket" "curl -sN -H 'Accept: text/event-stream' http://127.0.0.1:$nx/sub/all" \
  tsung -f "$work/ws.xml" -l "$work/tsung-ws" start
if [[ -n ${ARTILLERY:-} ]]; then
  cat > "$work/ws.yml" <<YML
config:
  target: "ws://127.0.0.1:$nx/pub/all"
  phases:
    - duration: 2
      arrivalRate: $((streams / 2))
scenarios:
  - engine: ws
    flow:
      - loop:
          - send: '{"stream":"artillery","seq":1,"x":12345,"y":0.123456789012}'
          - think: $think
        count: $writes
YML
  # shellcheck disable=SC2086
  run "Artillery 2, WebSocket" "curl -sN -H 'Accept: text/event-stream' http://127.0.0.1:$nx/sub/all" \
    $ARTILLERY run "$work/ws.yml"
fi
