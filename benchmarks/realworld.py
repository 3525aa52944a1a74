#!/usr/bin/python3
"""Real-world reload benchmark (process level): tests/TestApps/RealWorldApp (EF Core on SQLite, OpenTelemetry,
Serilog, Swashbuckle, a resilient HttpClient, SignalR, gRPC, FluentValidation, caches, rate limiting, a background
service) with 2 and 4 workers, reloaded with SIGHUP one reload after another under light traffic.

Per worker count: RSS after reload 5, 50 and 100 (and every --window reloads for the trend), load contexts still alive
(the library's "was unloaded but its load context is still alive" warnings, less those collected later), reload
durations (median, p90, max) and failed requests. The runtime's own warm-up is told apart from a leak as
lifecycle.py does it: the runtime writes a line per method it compiles (DOTNET_JitStdOutFile +
DOTNET_JitDisasmSummary), and each window counts the methods of the shared framework (the default load context:
compiled once for the process, tiering up while the framework's start-up path runs once per worker boot) apart from
those of the app and its packages (compiled again by every worker, freed with it).

It builds nothing: run it with benchmarks/run.sh --realworld, which builds RealWorldApp in Release first.
Servers bind 127.0.0.1 only; the traffic is a bounded loop; only the processes this script starts are stopped.
"""
import argparse
import base64
import datetime
import glob
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

from load import ROOT, free_port, wait_for_port

APP_DLL = os.environ.get("REALWORLD_APP") or os.path.join(ROOT, "artifacts", "bin", "RealWorldApp", "release",
                                                         "RealWorldApp.dll")
REQUEST_LOG = re.compile(r"\] HTTP \S+ \S+ responded \d+ in ")
LEVEL = re.compile(r"^\[\d\d:\d\d:\d\d (\w\w\w)\] ")
PATTERNS = {
    "reloaded": r"Reloaded \d+ workers in (\d+) ms",
    "unloaded": r"Worker \d+ \(generation \d+\) was unloaded\.",
    "alive": r"was unloaded but its load context is still alive",
    "late": r"Worker \d+ \(generation \d+\) was unloaded .+ after it was found alive",
    "ready": r"Worker \d+ \(generation \d+\) is ready in (\d+) ms",
}


# ---------------------------------------------------------------------------------------------------------------------
# Which methods are the app's: the type names the app's own assemblies define (read from their ECMA-335 metadata).


def defined_types(path):
    """The full names (namespace.name) of the top-level types an assembly defines, from its TypeDef table."""
    with open(path, "rb") as f:
        pe = f.read()
    u16 = lambda o: struct.unpack_from("<H", pe, o)[0]
    u32 = lambda o: struct.unpack_from("<I", pe, o)[0]
    coff = u32(0x3C) + 4
    sections, optional_size = u16(coff + 2), u16(coff + 16)
    optional = coff + 20
    directories = optional + (96 if u16(optional) == 0x10B else 112)
    cli_rva = u32(directories + 14 * 8)
    table = optional + optional_size

    def offset(rva):
        for i in range(sections):
            s = table + 40 * i
            virtual_size, virtual_address, raw_size, raw_pointer = struct.unpack_from("<IIII", pe, s + 8)
            if virtual_address <= rva < virtual_address + max(virtual_size, raw_size):
                return rva - virtual_address + raw_pointer
        raise ValueError(f"RVA {rva:#x} is in no section of {path}")

    root = offset(u32(offset(cli_rva) + 8))
    version_length = u32(root + 12)
    position = root + 16 + version_length
    count, position = u16(position + 2), position + 4
    streams = {}
    for _ in range(count):
        stream_offset = u32(position)
        end = pe.index(b"\0", position + 8)
        streams[pe[position + 8:end].decode()] = root + stream_offset
        position = (end + 4) & ~3
    tables = streams.get("#~", streams.get("#-"))
    strings = streams["#Strings"]
    heap_sizes = pe[tables + 6]
    valid = struct.unpack_from("<Q", pe, tables + 8)[0]
    rows, position = {}, tables + 24
    for number in range(64):
        if valid >> number & 1:
            rows[number] = u32(position)
            position += 4
    if heap_sizes & 0x40:
        position += 4
    string_size = 4 if heap_sizes & 1 else 2
    guid_size = 4 if heap_sizes & 2 else 2
    index = lambda *numbers, tag_bits=0: 2 if max(rows.get(n, 0) for n in numbers) < 1 << (16 - tag_bits) else 4
    module_row = 2 + string_size + 3 * guid_size
    type_ref_row = index(0x00, 0x1A, 0x23, 0x01, tag_bits=2) + 2 * string_size
    extends = index(0x02, 0x01, 0x1B, tag_bits=2)
    type_def_row = 4 + 2 * string_size + extends + index(0x04) + index(0x06)
    position += rows.get(0x00, 0) * module_row + rows.get(0x01, 0) * type_ref_row

    def string(at):
        value = u32(at) if string_size == 4 else u16(at)
        return pe[strings + value:pe.index(b"\0", strings + value)].decode(errors="replace")

    names = set()
    for _ in range(rows.get(0x02, 0)):
        flags = u32(position)
        name, namespace = string(position + 4), string(position + 4 + string_size)
        if flags & 0x7 < 2:  # not nested (nested types show as Outer+Inner: the outer one decides)
            names.add(f"{namespace}.{name}" if namespace else name)
        position += type_def_row
    return names


def shared_assembly_names():
    """What the library shares with the default load context: the shared frameworks' assemblies, and WorkerHosting
    with what it depends on outside them (from the app's deps.json)."""
    names = set()
    dotnet = os.path.dirname(os.path.realpath(shutil.which("dotnet") or "/usr/share/dotnet/dotnet"))
    for framework in ("Microsoft.NETCore.App", "Microsoft.AspNetCore.App"):
        for dll in glob.glob(os.path.join(dotnet, "shared", framework, "*", "*.dll")):
            names.add(os.path.splitext(os.path.basename(dll))[0].lower())
    with open(os.path.splitext(APP_DLL)[0] + ".deps.json") as f:
        targets = next(iter(json.load(f)["targets"].values()))
    by_name = {key.split("/")[0]: value for key, value in targets.items()}
    pending = ["WorkerHosting"]
    while pending:
        entry = by_name.get(pending.pop(), {})
        for dll in entry.get("runtime", {}):
            names.add(os.path.splitext(os.path.basename(dll))[0].lower())
        pending += [d for d in entry.get("dependencies", {}) if os.path.splitext(d)[0].lower() not in names]
    return names


def app_type_names():
    """The types of every assembly in the app's folder that each worker loads into its own load context."""
    shared = shared_assembly_names()
    names, assemblies = set(), []
    for dll in sorted(glob.glob(os.path.join(os.path.dirname(APP_DLL), "*.dll"))):
        name = os.path.splitext(os.path.basename(dll))[0]
        if name.lower() in shared:
            continue
        try:
            names |= defined_types(dll)
            assemblies.append(name)
        except (ValueError, struct.error, IndexError, KeyError) as error:
            print(f"cannot read the types of {dll}: {error}", file=sys.stderr)
    return names, assemblies


TOKEN = re.compile(r"[A-Za-z_<][\w.`<>$]*")


def compiled_by_kind(lines, app_types):
    """Counts the runtime's "JIT compiled <method> [tier ...]" lines: the app's own methods (a type of the app or of a
    package only it uses, or a generic instantiated over one: compiled into the worker's load context, freed with
    it), dynamic methods (emitted at run time), and the rest: the shared framework, WorkerHosting and Polly.Core,
    compiled once in the default load context."""
    kinds = {"shared": 0, "app": 0, "dynamic": 0}
    for line in lines:
        if "JIT compiled " not in line:
            continue
        method = line.split("JIT compiled ", 1)[1].rsplit(" [", 1)[0]
        if method.startswith("(dynamicClass)"):
            kinds["dynamic"] += 1
        elif any(token in app_types for token in TOKEN.findall(method)):
            kinds["app"] += 1
        else:
            kinds["shared"] += 1
    return kinds


# ---------------------------------------------------------------------------------------------------------------------
# The app process.


class RealWorld:
    """RealWorldApp with n workers on two loopback ports and a temp database; its console log kept in a file, with the
    lifecycle lines counted as they come (request log lines are only counted)."""

    def __init__(self, workers, folder, out, env=None):
        self.workers = workers
        self.http_port, self.grpc_port = free_port(), free_port()
        while self.grpc_port == self.http_port:
            self.grpc_port = free_port()
        self.lines = []
        self.counts = {name: 0 for name in PATTERNS}
        self.values = {name: [] for name in PATTERNS}
        self.levels = {}
        self.requests_logged = 0
        self.ended_at = None
        self.changed = threading.Condition()
        self.log = open(os.path.join(out, f"app-{workers}-workers.log"), "w")
        database = os.path.join(folder, f"db-{workers}")
        os.makedirs(database, exist_ok=True)
        self.process = subprocess.Popen(
            ["dotnet", APP_DLL, f"--Workers:Count={workers}",
             f"--Kestrel:Endpoints:Http:Url=http://127.0.0.1:{self.http_port}",
             f"--Kestrel:Endpoints:Grpc:Url=http://127.0.0.1:{self.grpc_port}",
             f"--ConnectionStrings:Default=Data Source={os.path.join(database, 'app.db')}"],
            cwd=os.path.dirname(APP_DLL), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True, env={**os.environ, **(env or {})})
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        try:
            wait_for_port(self.http_port, self.process, timeout=120)
            self.wait_for("ready_all", 1, pattern=rf"{workers} of {workers} workers are ready")
        except BaseException:
            self.stop()
            raise

    def _read(self):
        for line in self.process.stdout:
            line = line.rstrip("\n")
            self.log.write(line + "\n")
            with self.changed:
                if REQUEST_LOG.search(line):
                    self.requests_logged += 1
                    continue
                self.lines.append(line)
                if level := LEVEL.match(line):
                    self.levels[level.group(1)] = self.levels.get(level.group(1), 0) + 1
                for name, pattern in PATTERNS.items():
                    if m := re.search(pattern, line):
                        self.counts[name] += 1
                        if m.groups():
                            self.values[name].append(int(m.group(1)))
                self.changed.notify_all()
        with self.changed:
            self.ended_at = time.time()  # the process closed its output: it ended
            self.changed.notify_all()
        self.log.flush()

    def count(self, name):
        with self.changed:
            return self.counts[name]

    def wait_for(self, name, count, timeout=120, pattern=None):
        """Waits until `count` lines of PATTERNS[name] (or of `pattern`) have been logged."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                seen = (sum(1 for line in self.lines if re.search(pattern, line)) if pattern else self.counts[name])
                if seen >= count:
                    return
                if self.process.poll() is not None:
                    raise RuntimeError(f"the app exited with {self.process.returncode}")
                if not self.changed.wait(timeout=min(1.0, max(0.0, deadline - time.monotonic()))) \
                        and time.monotonic() >= deadline:
                    raise TimeoutError(f"waited {timeout} s for {count} lines like {pattern or PATTERNS[name]!r}")

    def reload(self, timeout=180):
        done = self.count("reloaded")
        self.process.send_signal(signal.SIGHUP)
        self.wait_for("reloaded", done + 1, timeout)

    def wait_for_verification(self, generations, timeout=60):
        """Waits until every replaced worker was verified: unloaded, or reported still alive."""
        deadline = time.monotonic() + timeout
        expected = generations * self.workers
        with self.changed:
            while self.counts["unloaded"] + self.counts["alive"] < expected:
                if time.monotonic() >= deadline or self.ended_at is not None:
                    return False
                self.changed.wait(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
        return True

    def rss_mb(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024

    def matching(self, pattern):
        with self.changed:
            return [line for line in self.lines if re.search(pattern, line)]

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # the process started here, by its PID
            try:
                self.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self.reader.join(timeout=10)
        self.log.close()


# ---------------------------------------------------------------------------------------------------------------------
# Light traffic over every feature: plain HTTP/1.1 with http.client, gRPC over HTTP/2 cleartext (prior knowledge) and
# SignalR over a WebSocket, both by hand on a socket (the standard library has neither).


class Failure(Exception):
    pass


TIMEOUT = 30  # seconds a request may take before it counts as failed (a new worker's first EF Core query is slow)


def http_request(port, method, path, body=None, connection=None, timeout=TIMEOUT):
    """One request; a new connection unless one is given. Returns (status, body bytes)."""
    own = connection is None
    connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Connection": "close"} if own else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        if own:
            connection.close()


def expect(status, content, wanted):
    if status != wanted:
        raise Failure(f"status {status} (wanted {wanted}): {content[:200]!r}")
    return content


def grpc_say_hello(port, name="bench", timeout=TIMEOUT):
    """Greeter.SayHello over HTTP/2 with prior knowledge, on a new connection: HPACK literals without Huffman coding."""
    def literal(index, value):  # literal header field without indexing, indexed name (4-bit prefix)
        head = bytes([index]) if index < 15 else bytes([15, index - 15])
        return head + bytes([len(value)]) + value

    def frame(kind, flags, stream, payload):
        return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload

    authority = f"127.0.0.1:{port}".encode()
    block = (b"\x83\x86" + literal(4, b"/greet.Greeter/SayHello") + literal(1, authority)
             + literal(31, b"application/grpc") + b"\x00\x02te\x08trailers")
    message = b"\x0a" + bytes([len(name)]) + name.encode()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b"")
                  + frame(1, 4, 1, block) + frame(0, 1, 1, b"\x00" + struct.pack(">I", len(message)) + message))
        buffer, data, headers = b"", b"", 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            while len(buffer) >= 9 and len(buffer) >= 9 + int.from_bytes(buffer[:3], "big"):
                length = int.from_bytes(buffer[:3], "big")
                kind, flags, stream = buffer[3], buffer[4], struct.unpack(">I", buffer[5:9])[0] & 0x7FFFFFFF
                payload, buffer = buffer[9:9 + length], buffer[9 + length:]
                if kind == 4 and not flags & 1:
                    s.sendall(frame(4, 1, 0, b""))  # acknowledge the server's settings
                elif kind == 6 and not flags & 1:
                    s.sendall(frame(6, 1, 0, payload))  # answer a ping
                elif kind == 7:
                    raise Failure(f"GOAWAY {payload[4:8].hex()}")
                elif kind == 3 and stream == 1:
                    raise Failure(f"RST_STREAM {payload.hex()}")
                elif stream == 1 and kind in (0, 1):
                    if kind == 0:
                        data += payload
                    else:
                        headers += 1
                    if flags & 1:  # END_STREAM: the trailers (or a trailers-only error)
                        reply = f"Hello {name}".encode()
                        if reply not in data:
                            raise Failure(f"no reply in {data[:100]!r} after {headers} header blocks")
                        s.sendall(frame(7, 0, 0, struct.pack(">II", 1, 0)))  # GOAWAY, no error
                        return
            chunk = s.recv(65536)
            if not chunk:
                raise Failure("connection closed before the end of the stream")
            buffer += chunk
        raise Failure("timed out")


def signalr_echo(port, text="bench", timeout=TIMEOUT):
    """A SignalR hub call (Echo) over a WebSocket without negotiation, then a close handshake."""
    def send(s, payload, opcode=1):
        mask = os.urandom(4)
        header = bytes([0x80 | opcode])
        header += bytes([0x80 | len(payload)]) if len(payload) < 126 else bytes([0x80 | 126]) + struct.pack(">H", len(payload))
        s.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def receive(s, buffer):
        while True:
            if len(buffer) >= 2:
                length, at = buffer[1] & 0x7F, 2
                if length == 126:
                    length, at = (struct.unpack(">H", buffer[2:4])[0], 4) if len(buffer) >= 4 else (None, 0)
                elif length == 127:
                    length, at = (struct.unpack(">Q", buffer[2:10])[0], 10) if len(buffer) >= 10 else (None, 0)
                if length is not None and len(buffer) >= at + length:
                    return buffer[0] & 0x0F, buffer[at:at + length], buffer[at + length:]
            chunk = s.recv(65536)
            if not chunk:
                raise Failure("connection closed")
            buffer += chunk

    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall((f"GET /hubs/echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            chunk = s.recv(65536)
            if not chunk:
                raise Failure("connection closed during the upgrade")
            buffer += chunk
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise Failure(f"upgrade answered {head.splitlines()[0]!r}")
        send(s, b'{"protocol":"json","version":1}\x1e')
        messages = []
        invocation = json.dumps({"type": 1, "invocationId": "1", "target": "Echo", "arguments": [text]}).encode() + b"\x1e"
        sent = False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            opcode, payload, buffer = receive(s, buffer)
            if opcode == 8:
                raise Failure(f"closed by the server: {payload[2:]!r}")
            messages += [json.loads(m) for m in payload.split(b"\x1e") if m]
            for m in messages:
                if m.get("error"):
                    raise Failure(f"hub error {m['error']}")
                if not sent and m == {}:  # the handshake's answer
                    send(s, invocation)
                    sent = True
                if m.get("type") == 3 and m.get("invocationId") == "1":
                    if (m.get("result") or {}).get("message") != text:
                        raise Failure(f"echo answered {m}")
                    send(s, struct.pack(">H", 1000), opcode=8)
                    try:
                        while receive(s, buffer)[0] != 8:
                            pass
                    except (Failure, OSError):
                        pass
                    return
            messages = []
        raise Failure("timed out")


STEP_NAMES = ["GET /worker", "POST /blogs + /blogs/{id}/posts", "GET /blogs/{id}", "GET /blogs", "POST invalid post (400)",
              "GET /self", "GET /cached/output x2", "GET /cached/memory x2", "GET /limited", "GET /ticks", "GET /metrics",
              "GET /swagger/v1/swagger.json", "gRPC SayHello", "SignalR Echo"]


class Traffic:
    """A bounded background loop of requests over every feature, paced to about `rate` requests a second; each
    request on a new connection (so requests spread over the workers), except the cache checks, which send two
    requests on one kept-alive connection (one worker, whose cache answers the second)."""

    def __init__(self, app, rate, max_seconds, write_every, otel=True):
        self.app, self.rate, self.max_seconds, self.write_every, self.otel = app, rate, max_seconds, write_every, otel
        self.stopping = threading.Event()
        self.results = {}
        self.errors = []
        self.retried = 0
        self.cut_off = []
        self.latencies = {}
        self.blogs = []
        self.cycles = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.started = time.monotonic()
        self.thread.start()

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=60)
        self.elapsed = time.monotonic() - self.started

    def _steps(self):
        port, grpc = self.app.http_port, self.app.grpc_port

        def worker():
            info = json.loads(expect(*http_request(port, "GET", "/worker"), 200))
            if info.get("role") != "Worker":
                raise Failure(f"/worker answered {info}")

        def write():
            blog = json.loads(expect(*http_request(port, "POST", "/blogs", {"name": f"bench-{self.cycles}"}), 201))
            expect(*http_request(port, "POST", f"/blogs/{blog['id']}/posts",
                                 {"title": "Hello", "content": "From the real-world benchmark."}), 201)
            self.blogs.append(blog["id"])

        def read():
            if self.blogs:
                blog = json.loads(expect(*http_request(port, "GET", f"/blogs/{random.choice(self.blogs)}"), 200))
                if not blog.get("posts"):
                    raise Failure(f"blog without its post: {blog}")

        def invalid():
            body = expect(*http_request(port, "POST", "/blogs/1/posts", {"title": "", "content": ""}), 400)
            if b"'Title' must not be empty." not in body:
                raise Failure(f"validation answered {body[:200]!r}")

        def cached(path):
            def check():
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
                try:
                    first = json.loads(expect(*http_request(port, "GET", path, connection=connection), 200))
                    try:
                        second = json.loads(expect(*http_request(port, "GET", path, connection=connection), 200))
                    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                        # The worker closed the idle kept-alive connection (it is draining): a client retries an
                        # idempotent request on a new connection, which may reach another worker and cache.
                        self.retried += 1
                        expect(*http_request(port, "GET", path), 200)
                        return
                    if first["value"] != second["value"]:
                        raise Failure(f"{path}: two values on one connection: {first} {second}")
                finally:
                    connection.close()
            return check

        def status(path, wanted=200, contains=None):
            def check():
                body = expect(*http_request(port, "GET", path), wanted)
                if contains and contains not in body:
                    raise Failure(f"{path}: no {contains!r} in {body[:200]!r}")
            return check

        return [
            ("GET /worker", worker),
            ("POST /blogs + /blogs/{id}/posts", write),
            ("GET /blogs/{id}", read),
            ("GET /blogs", status("/blogs", contains=b"[")),
            ("POST invalid post (400)", invalid),
            ("GET /self", status("/self", contains=b"answeredBy")),
            ("GET /cached/output x2", cached("/cached/output")),
            ("GET /cached/memory x2", cached("/cached/memory")),
            ("GET /limited", status("/limited", contains=b"Worker")),
            ("GET /ticks", status("/ticks", contains=b"ticks")),
            ("GET /metrics", status("/metrics", contains=b"target_info" if self.otel else None)),
            ("GET /swagger/v1/swagger.json", status("/swagger/v1/swagger.json", contains=b'"openapi"')),
            ("gRPC SayHello", lambda: grpc_say_hello(grpc)),
            ("SignalR Echo", lambda: signalr_echo(port)),
        ]

    def _run(self):
        steps = self._steps()
        interval = 1.0 / self.rate
        deadline = time.monotonic() + self.max_seconds
        next_at = time.monotonic()
        for number in range(int(self.rate * self.max_seconds) + 1):  # bounded in count and in time
            if self.stopping.is_set() or time.monotonic() > deadline or self.app.process.poll() is not None:
                break
            name, step = steps[number % len(steps)]
            if number % len(steps) == 0:
                self.cycles += 1
            if step is steps[1][1] and (self.cycles - 1) % self.write_every:
                continue  # the write, every --write-every cycles only
            self.results.setdefault(name, [0, 0])
            begun = time.monotonic()
            try:
                step()
                self.results[name][0] += 1
            except (Failure, OSError, http.client.HTTPException, ValueError, KeyError) as error:
                if self.app.process.poll() is not None:
                    break  # the app is gone: not a request failure
                self.results[name][1] += 1
                self.errors.append((time.time(), name, f"{type(error).__name__}: {error}"))
            self.latencies.setdefault(name, []).append(time.monotonic() - begun)
            next_at += interval
            now = time.monotonic()
            if next_at < now - 1:
                next_at = now  # fell behind (a slow request): do not burst to catch up
            self.stopping.wait(max(0.0, next_at - now))


# ---------------------------------------------------------------------------------------------------------------------


def percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def run(workers, args, out, app_types):
    folder = tempfile.mkdtemp(prefix=f"realworld-bench-{workers}-")
    jit_log = os.path.join(out, f"jit-{workers}-workers.txt")
    env = {"DOTNET_JitStdOutFile": jit_log, "DOTNET_JitDisasmSummary": "1"} if not args.no_jit_log else {}
    jit = bool(env)
    env.update(dict(item.split("=", 1) for item in args.env))
    if args.no_otel:
        env["OTEL_SDK_DISABLED"] = "true"  # OpenTelemetry's own switch: no providers, no instrumentation
    started = time.monotonic()
    app = RealWorld(workers, folder, out, env)
    samples, crash, traffic = [], None, None
    reloaded = 0
    try:
        boot_rss = app.rss_mb()
        traffic = Traffic(app, args.rate, args.max_seconds, args.write_every, otel=not args.no_otel)
        traffic.start()
        time.sleep(args.settle)
        jit_read = os.path.getsize(jit_log) if jit else 0
        checkpoints = set(args.at) | set(range(args.window, args.reloads + 1, args.window))
        reload_started = time.monotonic()
        printed = 0
        for number in range(1, args.reloads + 1):
            if time.monotonic() - started > args.max_seconds:
                crash = f"stopped after {number - 1} reloads: --max-seconds {args.max_seconds} reached"
                break
            try:
                app.reload()
            except RuntimeError as error:  # the process ended: record it, report what was measured
                crash = f"the app process ended during reload {number}: {error} (exit code {app.process.returncode})"
                print(f"  {crash}", flush=True)
                break
            except TimeoutError as error:
                crash = f"reload {number} did not finish: {error}"
                print(f"  {crash}", flush=True)
                break
            reloaded = number
            if number in checkpoints:
                verified = app.wait_for_verification(number)
                time.sleep(1)  # let the runtime's background tier-up of the window finish
                kinds = None
                if jit:
                    with open(jit_log, "rb") as log:
                        log.seek(jit_read)
                        written = log.read()
                    jit_read += len(written)
                    kinds = compiled_by_kind(written.decode(errors="replace").splitlines(), app_types)
                try:
                    rss = round(app.rss_mb(), 1)
                except (OSError, StopIteration):
                    crash = f"the app process ended after reload {number} (exit code {app.process.poll()})"
                    break
                samples.append({"reload": number, "rss_mb": rss, "compiled": kinds, "verified": verified})
                print(f"  {workers} workers, reload {number}: RSS {rss} MB, compiled since the last sample {kinds}, "
                      f"requests {sum(ok for ok, _ in traffic.results.values())} ok "
                      f"{sum(f for _, f in traffic.results.values())} failed", flush=True)
                for t, name, error in traffic.errors[printed:]:
                    print(f"    failed {datetime.datetime.fromtimestamp(t).strftime('%H:%M:%S.%f')[:-3]} {name}: {error}")
                printed = len(traffic.errors)
        reload_seconds = time.monotonic() - reload_started
        traffic.stop()
        if app.process.poll() is not None:
            # Requests cut off by the process's end are not the reloads' failures: the crash is reported as such.
            app.reader.join(timeout=10)
            ended = (app.ended_at or time.time()) - 2
            traffic.cut_off = [e for e in traffic.errors if e[0] >= ended]
            traffic.errors = [e for e in traffic.errors if e[0] < ended]
            for _, name, _ in traffic.cut_off:
                traffic.results[name][1] -= 1
        verified = app.wait_for_verification(reloaded) if crash is None else False
        # The reloads' replaced workers only: stopping the app unloads its last workers too.
        unloaded, alive, late = app.count("unloaded"), app.count("alive"), app.count("late")
        alive_lines, late_lines = app.matching(PATTERNS["alive"]), app.matching(PATTERNS["late"])
    finally:
        if traffic is not None and not traffic.stopping.is_set():
            traffic.stop()
        app.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "workers": workers,
        "reloads": reloaded,
        "crash": crash,
        "boot_rss_mb": round(boot_rss, 1),
        "samples": samples,
        "reload_ms": list(app.values["reloaded"]),
        "worker_ready_ms": list(app.values["ready"]),
        "unloaded": unloaded,
        "still_alive_warnings": alive,
        "collected_late": late,
        "contexts_alive": alive - late,
        "all_verified": verified,
        "alive_lines": alive_lines,
        "late_lines": late_lines,
        "unloaded_with_the_stop": app.count("unloaded") - unloaded,
        "alive_after_the_stop": app.count("alive") - app.count("late") - (alive - late),
        "warnings_and_errors": app.matching(r"^\[\d\d:\d\d:\d\d (WRN|ERR|FTL)\]")[:50],
        "levels": dict(app.levels),
        "requests": {name: {"ok": ok, "failed": failed,
                            "median_ms": round(statistics.median(traffic.latencies[name]) * 1000, 1),
                            "max_ms": round(max(traffic.latencies[name]) * 1000, 1),
                            "over_1s": sum(1 for t in traffic.latencies[name] if t > 1)}
                     for name, (ok, failed) in traffic.results.items() if traffic.latencies.get(name)},
        "failed": sum(failed for _, failed in traffic.results.values()),
        "ok": sum(ok for ok, _ in traffic.results.values()),
        "keep_alive_retried": traffic.retried,
        "failed_as_the_process_ended": len(traffic.cut_off),
        "errors": [{"time": datetime.datetime.fromtimestamp(t).strftime("%H:%M:%S.%f")[:-3], "request": name,
                    "error": error} for t, name, error in traffic.errors[:100]],
        "traffic_seconds": round(traffic.elapsed, 1),
        "blogs_written": len(traffic.blogs),
        "reload_seconds": round(reload_seconds, 1),
        "run_seconds": round(time.monotonic() - started, 1),
        "exit_code": app.process.returncode,
    }


def render(results, args, app_assemblies):
    median = statistics.median
    lines = [f"Measured {datetime.date.today()} on {os.cpu_count()} cores ({platform.machine()}), {platform.system()} "
             f"{platform.release()}; {os.path.relpath(APP_DLL, ROOT) if APP_DLL.startswith(ROOT) else APP_DLL} "
             f"(Release, server GC as the web SDK sets it), up to {args.reloads} SIGHUP reloads one after another "
             f"(each waits for the last one's \"Reloaded N workers\" line) under light traffic: about {args.rate:g} "
             f"requests/s over every feature (HTTP/1.1 on a new connection per request, the two cache checks kept "
             f"alive, gRPC over h2c, SignalR over a WebSocket), a blog and a post written every {args.write_every} "
             f"cycles of {len(STEP_NAMES)} requests. RSS is VmRSS once the reload's replaced workers were verified, "
             f"plus 1 s." + (" OpenTelemetry disabled (OTEL_SDK_DISABLED=true)." if args.no_otel else ""),
             "",
             "| workers | reloads done | RSS after 5 MB | after 50 MB | after 100 MB | 5→100 | 50→100 | contexts alive | "
             "reload ms median | p90 | max | requests ok | failed | run |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        rss = {s["reload"]: s["rss_mb"] for s in r["samples"]}
        cell = lambda n: f"{rss[n]:.1f}" if n in rss else "-"
        growth = lambda a, b: f"{(rss[b] / rss[a] - 1) * 100:+.1f}%" if a in rss and b in rss else "-"
        d = r["reload_ms"] or [float("nan")]
        lines.append(
            f"| {r['workers']} | {r['reloads']}{' (crashed)' if r['crash'] and 'ended' in r['crash'] else ''} | "
            f"{cell(5)} | {cell(50)} | {cell(100)} | {growth(5, 100)} | {growth(50, 100)} | "
            f"{r['contexts_alive']} | {median(d):.0f} | {percentile(d, 0.9):.0f} | {max(d):.0f} | {r['ok']:,} | "
            f"{r['failed']} | {r['run_seconds'] / 60:.1f} min |")
    lines += ["", "Per reload count: RSS MB and the methods the runtime compiled since the previous row, shared framework "
              "(default load context: the framework, WorkerHosting, Polly.Core) / the app and its packages (each "
              "worker's own load context) / dynamic methods.", ""]
    header = "| reloads | " + " | ".join(f"{r['workers']} workers: RSS MB | shared | app | dynamic" for r in results) + " |"
    lines += [header, "|---|" + "---|---|---|---|" * len(results)]
    for n in sorted({s["reload"] for r in results for s in r["samples"]}):
        cells = []
        for r in results:
            s = next((s for s in r["samples"] if s["reload"] == n), None)
            if s is None:
                cells.append(" |  |  | ")
            elif s["compiled"]:
                c = s["compiled"]
                cells.append(f"{s['rss_mb']:.1f} | {c['shared']:,} | {c['app']:,} | {c['dynamic']:,}")
            else:
                cells.append(f"{s['rss_mb']:.1f} | - | - | -")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines += [""]
    for r in results:
        window = [s for s in r["samples"] if s["compiled"]]
        mid = r["reloads"] // 2
        first = [s for s in window if s["reload"] <= mid]
        second = [s for s in window if s["reload"] > mid]
        summary = (f"{r['workers']} workers: {r['unloaded']} \"was unloaded.\" lines for {r['reloads'] * r['workers']} "
                   f"replaced workers, {r['still_alive_warnings']} \"still alive\" warnings ({r['collected_late']} "
                   f"collected later): {r['contexts_alive']} contexts alive. ")
        if first and second:
            summary += (f"Shared-framework methods compiled in reloads 1–{mid}: "
                        f"{sum(s['compiled']['shared'] for s in first):,}, in {mid}–{r['reloads']}: "
                        f"{sum(s['compiled']['shared'] for s in second):,}; the app's own per {args.window} reloads: "
                        f"{statistics.median(s['compiled']['app'] for s in window):,.0f} (every worker boot compiles "
                        f"it again). ")
        summary += (f"Requests: {r['ok']:,} ok, {r['failed']} failed"
                    + (f", {r['keep_alive_retried']} retried on a new connection after a draining worker closed an idle "
                       f"kept-alive one" if r["keep_alive_retried"] else "")
                    + f"; {r['blogs_written']} blogs written. Worker boot median "
                    f"{median(r['worker_ready_ms'] or [float('nan')]):.0f} ms.")
        if r["crash"]:
            summary += f" **{r['crash']}.**"
        lines += [summary, ""]
    lines += ["Requests by feature (ok / failed, median and slowest ms, how many took over 1 s):", "",
              "| request | " + " | ".join(f"{r['workers']} workers" for r in results) + " |",
              "|---|" + "---|" * len(results)]
    for name in STEP_NAMES:
        cells = []
        for r in results:
            q = r["requests"].get(name)
            cells.append(f"{q['ok']:,} / {q['failed']}, {q['median_ms']:.0f} / {q['max_ms']:.0f} ms, {q['over_1s']}"
                         if q else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [""]
    lines += ["Which reading is the leak signal: contexts alive (a worker whose load context is not collected is a leak, "
              "whatever RSS does), and RSS growth over the reloads where the shared framework has stopped compiling "
              "(50→100, next to the shared column): the runtime's warm-up is code compiled once for the process, so it "
              "shows as RSS growth that goes with shared-framework compilations and stops with them, while a leak keeps "
              "growing at the same rate per reload however few methods the framework still compiles. The app's own "
              "column stays flat: each worker compiles the app again and that code goes with its load context.",
              "",
              "App assemblies (per worker): " + ", ".join(app_assemblies) + "."]
    return "\n".join(lines) + "\n"


def main():
    global APP_DLL
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="2,4", help="worker counts, e.g. 2,4")
    parser.add_argument("--reloads", type=int, default=100)
    parser.add_argument("--at", default="5,50,100", help="reload counts RSS is read at besides every --window")
    parser.add_argument("--window", type=int, default=10, help="reloads between RSS samples for the trend")
    parser.add_argument("--rate", type=float, default=30, help="requests a second of the light traffic")
    parser.add_argument("--write-every", type=int, default=3, help="write a blog and a post every this many cycles")
    parser.add_argument("--settle", type=float, default=5, help="seconds of traffic before the first reload")
    parser.add_argument("--max-seconds", type=int, default=1800, help="upper bound of one worker count's run")
    parser.add_argument("--no-jit-log", action="store_true", help="no JIT summary (then no warm-up separation)")
    parser.add_argument("--app", default=APP_DLL, help="RealWorldApp.dll to run (another tree's build, say)")
    parser.add_argument("--no-otel", action="store_true", help="run the app with OTEL_SDK_DISABLED=true (a diagnosis: "
                        "the rest of the app without OpenTelemetry; /metrics is then empty)")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the app's environment (repeatable)")
    args = parser.parse_args()
    APP_DLL = os.path.abspath(args.app)
    args.at = [n for n in (int(x) for x in args.at.split(",") if x.strip()) if n <= args.reloads]
    if not os.path.exists(APP_DLL):
        parser.error(f"{APP_DLL} is missing: dotnet build -c Release tests/TestApps/RealWorldApp (or benchmarks/run.sh --realworld)")

    app_types, app_assemblies = app_type_names()
    out = os.path.join(ROOT, "benchmarks", "results", "realworld-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    while os.path.exists(out):
        out += "-1"
    os.makedirs(out)
    results = []
    for workers in (int(w) for w in args.workers.split(",") if w.strip()):
        print(f"RealWorldApp with {workers} workers, {args.reloads} reloads", flush=True)
        results.append(run(workers, args, out, app_types))
        print(f"  done in {results[-1]['run_seconds']:.0f} s", flush=True)

    markdown = render(results, args, app_assemblies)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"args": vars(args), "app": APP_DLL, "results": results}, f, indent=2)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(markdown)
    print()
    print(markdown)
    for r in results:
        for line in r["alive_lines"]:
            print(f"{r['workers']} workers: {line}")
        for e in r["errors"][:20]:
            print(f"{r['workers']} workers: failed {e['time']} {e['request']}: {e['error']}")
    print(f"Written to {out}")


if __name__ == "__main__":
    main()
