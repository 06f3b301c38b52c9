# Shared by the benchmark scripts (source it): the plotstream binary, free
# loopback ports, and servers started on them that are stopped by PID when
# the script exits. Nothing here touches a system service or another
# process's server.

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  # An Erlang port mapper started for this script's own port (Tsung's).
  if [[ -n ${ERL_EPMD_PORT:-} ]] && command -v epmd >/dev/null; then
    epmd -port "$ERL_EPMD_PORT" -kill >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Refuses to start, naming what is missing, unless every command given is here.
need() {
  local missing=()
  for c in "$@"; do command -v "$c" >/dev/null || [[ -x $c ]] || missing+=("$c"); done
  if ((${#missing[@]})); then
    echo "error: this script needs ${missing[*]} (Debian: mosquitto, mosquitto-clients, nginx-light, libnginx-mod-nchan, tsung, time, curl)" >&2
    exit 2
  fi
}

# The plotstream binary to measure, in $bin: $PLOTSTREAM_BIN if set (it must
# be there), else a release build made now. Says which on stderr.
plotstream_bin() {
  if [[ -n ${PLOTSTREAM_BIN:-} ]]; then
    bin=$PLOTSTREAM_BIN
    if [[ ! -x $bin ]]; then
      echo "error: PLOTSTREAM_BIN=$bin is not an executable file" >&2
      exit 2
    fi
    echo "measuring $bin (PLOTSTREAM_BIN)" >&2
  else
    echo "measuring target/release/plotstream (cargo build --release --bin plotstream; set PLOTSTREAM_BIN to measure another build)" >&2
    cargo build --release --quiet --bin plotstream >&2
    bin=target/release/plotstream
  fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Mosquitto on 127.0.0.1:$1; more config lines in $2.
start_mosquitto() {
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n%s' "$1" "${2:-}" > "$work/m.conf"
  /usr/sbin/mosquitto -c "$work/m.conf" >"$work/mosquitto.log" 2>&1 &
  pids+=($!)
}

# nginx with Nchan on 127.0.0.1:$1: WebSocket and HTTP publishers at
# /pub/CHANNEL keeping $2 messages, EventSource subscribers at /sub/CHANNEL.
start_nchan() {
  mkdir -p "$work/nx"
  cat > "$work/nx/nginx.conf" <<NGINX
load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
daemon off; master_process off; worker_processes 1; pid $work/nx/nginx.pid;
error_log $work/nx/error.log warn; worker_rlimit_nofile 65536;
events { worker_connections 65536; }
http { access_log off; client_body_temp_path $work/nx/b; proxy_temp_path $work/nx/p;
  fastcgi_temp_path $work/nx/f; uwsgi_temp_path $work/nx/u; scgi_temp_path $work/nx/s;
  server { listen 127.0.0.1:$1;
    location ~ ^/pub/([^/]+)\$ { nchan_publisher websocket http; nchan_channel_id \$1; nchan_message_buffer_length $2; }
    location ~ ^/sub/([^/]+)\$ { nchan_subscriber; nchan_channel_id \$1; nchan_subscriber_first_message newest; } } }
NGINX
  nginx -c "$work/nx/nginx.conf" -p "$work/nx" >/dev/null 2>&1 &
  pids+=($!)
}
