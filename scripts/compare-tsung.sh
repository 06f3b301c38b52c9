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
# libnginx-mod-nchan, tsung, time, curl, and a release build of plotstream.
set -euo pipefail
streams=${1:-100}; rate=${2:-20}; seconds=${3:-60}
bin=${PLOTSTREAM_BIN:-target/release/plotstream}
work=$(mktemp -d)
trap 'pkill -f "$work/" 2>/dev/null; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mq=$(free_port); nx=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 1000000\n' "$mq" > "$work/m.conf"
/usr/sbin/mosquitto -c "$work/m.conf" >/dev/null 2>&1 &
disown
mkdir -p "$work/nx"
cat > "$work/nx/nginx.conf" <<NGINX
load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
daemon off; master_process off; worker_processes 1; pid $work/nx/nginx.pid;
error_log $work/nx/error.log warn;
events { worker_connections 16384; }
http { access_log off; client_body_temp_path $work/nx/b; proxy_temp_path $work/nx/p;
  fastcgi_temp_path $work/nx/f; uwsgi_temp_path $work/nx/u; scgi_temp_path $work/nx/s;
  server { listen 127.0.0.1:$nx;
    location ~ ^/pub/([^/]+)\$ { nchan_publisher websocket http; nchan_channel_id \$1; nchan_message_buffer_length 100; }
    location ~ ^/sub/([^/]+)\$ { nchan_subscriber; nchan_channel_id \$1; nchan_subscriber_first_message newest; } } }
NGINX
nginx -c "$work/nx/nginx.conf" -p "$work/nx" >/dev/null 2>&1 &
disown
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
  local c; c=$(cpu "$work/$name.time")
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
