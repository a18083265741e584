"""A stand-in for a platform service: HTTP, a session check and a WebSocket echo, stdlib only.

Runs inside the stand-in image with Debian's python3 (`python3 -I -S standin.py [ignored args]`):
the image's entrypoint, so whatever `command` the program declares for the real image arrives as
arguments and is only logged. Listens on every port in STANDIN_PORTS (baked into the image per real
image it stands in for, e.g. 5432 for PostgreSQL). Endpoints:

  GET  /health, /healthz, /health/liveliness   200 "ok" (for the real images' healthchecks)
  GET  /                                       JSON: service, hostname, port, peer address, uid,
                                               request headers
  POST /login                                  200, sets cookie "session=<random>" (HttpOnly)
  GET  /session                                200 with a valid session cookie, else 401
  GET  /ws                                     WebSocket echo (RFC 6455), only with a valid
                                               session cookie (401) and, when STANDIN_ORIGINS is
                                               set, an allowed Origin (403)
  PUT  /files/<name>                           writes the body to $STANDIN_DATA_DIR/<name> (the
                                               service's persistent path), fsync'ed; 201
  GET  /files/<name>                           reads it back; 404 when absent or no data dir
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import re
import secrets
import socket
import struct
import sys
import threading

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SESSIONS: set[str] = set()
FILE_NAME = re.compile(r"^/files/([A-Za-z0-9._-]{1,64})$")
LOCK = threading.Lock()


def allowed_origins() -> set[str]:
    return {o for o in os.environ.get("STANDIN_ORIGINS", "").split(",") if o}


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "standin/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args: object) -> None:
        sys.stderr.write(f"{self.address_string()} {fmt % args}\n")

    def _send(
        self, status: int, body: bytes, content_type: str = "text/plain", headers: dict | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _session(self) -> str | None:
        for part in self.headers.get("Cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == "session":
                with LOCK:
                    return value if value in SESSIONS else None
        return None

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        if path in ("/health", "/healthz", "/health/liveliness"):
            self._send(200, b"ok\n")
        elif path == "/session":
            if self._session():
                self._send(200, b"session ok\n", headers={"X-Standin-User": "tester"})
            else:
                self._send(401, b"no session\n")
        elif path == "/ws":
            self._websocket()
        elif FILE_NAME.match(path):
            target = self._data_file(path)
            if target is None or not os.path.isfile(target):
                self._send(404, b"no such file\n")
            else:
                with open(target, "rb") as handle:
                    self._send(200, handle.read(), "application/octet-stream")
        else:
            info = {
                "service": os.environ.get("STANDIN_NAME", ""),
                "hostname": socket.gethostname(),
                "port": self.server.server_address[1],  # type: ignore[index]  # an AF_INET (host, port)
                "peer": self.client_address[0],
                "path": self.path,
                "uid": os.getuid(),
                "headers": dict(self.headers.items()),
            }
            self._send(200, (json.dumps(info) + "\n").encode(), "application/json")

    def _data_file(self, path: str) -> str | None:
        match = FILE_NAME.match(path)
        data_dir = os.environ.get("STANDIN_DATA_DIR", "")
        if not match or not data_dir or match.group(1).startswith("."):
            return None
        return os.path.join(data_dir, match.group(1))

    def do_PUT(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self._data_file(self.path.split("?", 1)[0])
        if target is None:
            self._send(404, b"no data directory\n")
            return
        with open(target, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        digest = hashlib.sha256(body).hexdigest()
        self._send(
            201, (json.dumps({"written": target, "sha256": digest}) + "\n").encode(), "application/json"
        )

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path.split("?", 1)[0] == "/login":
            token = secrets.token_hex(16)
            with LOCK:
                SESSIONS.add(token)
            self._send(
                200, b"logged in\n", headers={"Set-Cookie": f"session={token}; HttpOnly; Secure; Path=/"}
            )
        else:
            self._send(404, b"not found\n")

    def _websocket(self) -> None:
        if self.headers.get("Upgrade", "").lower() != "websocket":
            self._send(400, b"websocket upgrade expected\n")
            return
        if not self._session():
            self._send(401, b"no session\n")
            return
        origins = allowed_origins()
        if origins and self.headers.get("Origin") not in origins:
            self._send(403, b"origin not allowed\n")
            return
        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()  # noqa: S324 - RFC 6455
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        try:
            while True:
                opcode, payload = read_frame(self.rfile)
                if opcode == 0x8:  # close
                    write_frame(self.wfile, 0x8, payload[:2])
                    return
                if opcode == 0x9:  # ping
                    write_frame(self.wfile, 0xA, payload)
                elif opcode in (0x1, 0x2):
                    write_frame(self.wfile, opcode, payload)
        except (ConnectionError, EOFError):
            return


def read_frame(stream) -> tuple[int, bytes]:  # noqa: ANN001
    head = stream.read(2)
    if len(head) < 2:
        raise EOFError
    opcode = head[0] & 0x0F
    masked = head[1] & 0x80
    length = head[1] & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", stream.read(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", stream.read(8))
    mask = stream.read(4) if masked else b"\0\0\0\0"
    data = stream.read(length)
    return opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def write_frame(stream, opcode: int, payload: bytes) -> None:  # noqa: ANN001
    header = bytes([0x80 | opcode])
    if len(payload) < 126:
        header += bytes([len(payload)])
    elif len(payload) < 65536:
        header += bytes([126]) + struct.pack("!H", len(payload))
    else:
        header += bytes([127]) + struct.pack("!Q", len(payload))
    stream.write(header + payload)
    stream.flush()


def main() -> None:
    if len(sys.argv) > 1:
        sys.stderr.write(f"standin: ignoring arguments {sys.argv[1:]!r}\n")
    ports = [int(p) for p in os.environ.get("STANDIN_PORTS", "8080").split(",") if p]
    servers = []
    for port in ports:
        server = http.server.ThreadingHTTPServer(("0.0.0.0", port), Handler)  # noqa: S104 - inside the container
        server.daemon_threads = True
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        sys.stderr.write(f"standin: listening on {port}\n")
    threading.Event().wait()


if __name__ == "__main__":
    main()
