"""Streams to a plotstream viewer with Plotly's own Python client.

Usage: python3 chart_studio_stream.py PORT TOKEN WRITES

chart_studio 1.1.0's Stream always connects to port 80 (443 with TLS) of the
configured streaming domain; this script overrides only that lookup,
get_streaming_specs, so everything else (open, write, heartbeat, close, the
chunked framing, the doubled Host header) is the client's own code. It writes
WRITES points with a heartbeat every 1000, closes, and prints the HTTP answer
to close() as JSON.

chart_studio 1.1.0 cannot hand that answer back on Python 3: close() parses it
with a StringIO fed bytes, which raises TypeError, and a bare `except` turns
every answer into b''. So the script records the bytes the client's own
close() reads from its socket and parses them with http.client.
"""

import http.client
import io
import json
import sys

import chart_studio.plotly as py

port, token, writes = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])


class LocalStream(py.Stream):
    def get_streaming_specs(self):
        return {
            "server": "127.0.0.1",
            "port": port,
            "ssl_enabled": False,
            "ssl_verification_enabled": False,
            "headers": {"Host": "127.0.0.1", "plotly-streamtoken": self.stream_id},
        }


class RecordingSocket:
    """The client's socket, keeping a copy of every byte it receives."""

    def __init__(self, sock):
        self._sock = sock
        self.received = b""

    def recv(self, n):
        data = self._sock.recv(n)
        self.received += data
        return data

    def __getattr__(self, name):
        return getattr(self._sock, name)


class BytesSocket:
    def __init__(self, data):
        self._file = io.BytesIO(data)

    def makefile(self, *args, **kwargs):
        return self._file


stream = LocalStream(token)
stream.open()
recording = RecordingSocket(stream._stream._conn.sock)
stream._stream._conn.sock = recording
for i in range(writes):
    stream.write(dict(x=i, y=i * i))
    if i % 1000 == 999:
        stream.heartbeat()

stream.close()
answer = http.client.HTTPResponse(BytesSocket(recording.received))
answer.begin()
print(json.dumps({"status": answer.status, "body": answer.read().decode()}))
