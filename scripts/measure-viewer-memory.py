#!/usr/bin/env python3
"""Measures `plotstream serve`'s memory under the two hostile loads of the
viewer-hardening review, on loopback, and prints what it found.

  python3 scripts/measure-viewer-memory.py [--bin PATH] [--streams N]
      [--threads N] [--overwrites N] [--overwrite-bytes N] [--idle SECONDS]

1. --streams one-point streams (100,000), each with a token of its own, from
   --threads threads (8), to an open viewer with its default limits (1,000
   figures): resident memory after.
2. --overwrites overwrites (300) of --overwrite-bytes each (1 MB) to one
   trace (maxpoints 500) while one browser-like subscriber never reads:
   resident memory after.
It also samples the idle viewer's CPU over --idle seconds (5) after load 1.
It measures --bin, else $PLOTSTREAM_BIN, else a release build it makes
(and says which). Set either to 0 to skip that load.

Uses only Python's standard library; sends to 127.0.0.1 only.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time

BIN = "target/release/plotstream"


def parse_args():
    def at_least(low):
        def parse(text):
            try:
                value = int(text.replace("_", ""))
            except ValueError:
                raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
            if value < low:
                raise argparse.ArgumentTypeError(f"{text!r} is below {low}")
            return value
        return parse

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", help="the plotstream binary (default: $PLOTSTREAM_BIN, else a release build)")
    p.add_argument("--streams", type=at_least(0), default=100_000, help="one-point streams of load 1 (0 skips it)")
    p.add_argument("--threads", type=at_least(1), default=8, help="threads sending them")
    p.add_argument("--overwrites", type=at_least(0), default=300, help="overwrites of load 2 (0 skips it)")
    p.add_argument("--overwrite-bytes", type=at_least(200), default=1_000_000, help="bytes of each overwrite")
    p.add_argument("--idle", type=at_least(0), default=5, help="seconds the idle CPU is sampled over")
    return p.parse_args()


def plotstream_bin(given):
    path = given or os.environ.get("PLOTSTREAM_BIN")
    if path:
        if not os.access(path, os.X_OK):
            sys.exit(f"error: {path} is not an executable file")
        print(f"measuring {path}", file=sys.stderr)
        return path
    print("measuring target/release/plotstream (cargo build --release --bin plotstream)", file=sys.stderr)
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "plotstream"], check=True)
    return "target/release/plotstream"


def rss_kib(pid):
    status = open(f"/proc/{pid}/status").read()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def cpu_seconds(pid):
    stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(stat[11]) + int(stat[12])) / ticks


def start():
    args = [BIN, "serve", "--addr", "127.0.0.1:0"]
    # Builds that keep figures in a data dir: measure memory, not the disk,
    # and leave the user's data dir alone.
    if "--in-memory" in subprocess.run([BIN, "serve", "--help"], capture_output=True, text=True).stdout:
        args.append("--in-memory")
    p = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    while True:
        line = p.stdout.readline()
        if line.startswith("listening on http://"):
            return p, line.strip().rsplit("/", 1)[1]


def request(addr, data):
    host, port = addr.split(":")
    with socket.create_connection((host, int(port))) as s:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def stream(addr, token, lines):
    body = b"".join(b"%x\r\n%s\r\n" % (len(l), l) for l in lines) + b"0\r\n\r\n"
    head = (f"POST / HTTP/1.1\r\nhost: localhost\r\nplotly-streamtoken: {token}\r\n"
            "transfer-encoding: chunked\r\n\r\n").encode()
    return request(addr, head + body)


def status_of(answer):
    return int(answer.split(b" ", 2)[1]) if answer else 0


def many_tokens(n, threads, idle):
    p, addr = start()
    counts = {}
    lock = threading.Lock()

    def work(k):
        for i in range(k, n, threads):
            s = status_of(stream(addr, f"tok-{i}", [b'{"x":1,"y":1}\n']))
            with lock:
                counts[s] = counts.get(s, 0) + 1

    t0 = time.time()
    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    took = time.time() - t0
    rss, hwm = rss_kib(p.pid)
    index = request(addr, b"GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
    c0 = cpu_seconds(p.pid)
    time.sleep(idle)
    idle_cpu = (cpu_seconds(p.pid) - c0) / idle if idle else None
    p.kill()
    return {"streams": n, "answers": counts, "seconds": round(took, 1), "rss_mib": round(rss / 1024, 1),
            "peak_mib": round(hwm / 1024, 1), "index_page_kib": round(len(index) / 1024, 1),
            "idle_cpu_share_of_a_core": round(idle_cpu, 4)}


def stuck_subscriber(n, size):
    p, addr = start()
    fig = json.dumps({"data": [{"type": "scatter", "stream": {"token": "big", "maxpoints": 500}}]}).encode()
    answer = request(addr, b"POST /api/figures HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n"
                     b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(fig), fig))
    fid = json.loads(answer.split(b"\r\n\r\n", 1)[1])["id"]
    host, port = addr.split(":")
    stuck = socket.create_connection((host, int(port)))
    stuck.sendall(f"GET /plot/{fid}/events HTTP/1.1\r\nhost: localhost\r\n\r\n".encode())
    # 5,000 values of about 200 bytes: one overwrite of about 1 MB.
    value = json.dumps("v" * 196)
    line = ('{"text":[' + ",".join([value] * (size // 200)) + "]}\n").encode()
    statuses = {}
    for _ in range(n):
        s = status_of(stream(addr, "big", [line]))
        statuses[s] = statuses.get(s, 0) + 1
    time.sleep(1)
    rss, hwm = rss_kib(p.pid)
    p.kill()
    stuck.close()
    return {"overwrites": n, "bytes_each": len(line), "answers": statuses, "rss_mib": round(rss / 1024, 1),
            "peak_mib": round(hwm / 1024, 1)}


if __name__ == "__main__":
    args = parse_args()
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    BIN = plotstream_bin(args.bin)
    if args.streams:
        print(json.dumps({"many_tokens": many_tokens(args.streams, args.threads, args.idle)}, indent=1))
    if args.overwrites:
        print(json.dumps({"stuck_subscriber": stuck_subscriber(args.overwrites, args.overwrite_bytes)}, indent=1))
