#!/usr/bin/env python3
"""Polyglot client test: drives a running wagate server from Python.

Generates Python stubs from the repository's protos (proto/wagate/v1 and the
vendored google/api and google/rpc files they import) with grpc_tools.protoc
into a temporary directory, then walks one session through its lifecycle on
the simulated WhatsApp network:

  CreateSession -> ConnectSession (NEED_SCAN + QR) -> SimulatorService.ScanQr
  -> GetSessionStatus until CONNECTED -> GetSessionUser
  and GetSession without a token -> UNAUTHENTICATED.

Environment:
  WAGATE_ADDR         host:port of the server's gRPC port (required)
  WAGATE_ADMIN_TOKEN  the server's admin token (required)

Needs `pip install -r tests/python/requirements.txt`. Prints one line per
step and ends with `1 passed, 0 failed`; on a failure prints the reason and
exits 1.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import tempfile
import time
from pathlib import Path

PHONE = "+14155550100"
JID_PREFIX = "14155550100:"
POLLS = 50
POLL_INTERVAL = 0.1
RPC_TIMEOUT = 10.0

PROTO_ROOT = (Path(__file__).resolve().parent / ".." / ".." / "proto").resolve()


class Failure(Exception):
    """A failed check; the message says what was expected and what came."""


def step(message: str) -> None:
    print(f"[polyglot] {message}", flush=True)


def fail(message: str) -> None:
    raise Failure(message)


def proto_files() -> list[str]:
    """Every .proto under proto/wagate/v1 plus the repo-local files it imports
    (google/api, google/rpc), as paths relative to proto/. google/protobuf
    comes with grpc_tools and the protobuf runtime."""
    wanted = sorted(
        str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / "wagate" / "v1").glob("*.proto")
    )
    if not wanted:
        fail(f"no .proto files under {PROTO_ROOT / 'wagate' / 'v1'}")
    seen: set[str] = set()
    queue = list(wanted)
    import_re = re.compile(r'^\s*import\s+(?:public\s+|weak\s+)?"([^"]+)"\s*;', re.M)
    while queue:
        rel = queue.pop()
        if rel in seen:
            continue
        seen.add(rel)
        text = (PROTO_ROOT / rel).read_text(encoding="utf-8")
        for dep in import_re.findall(text):
            if (PROTO_ROOT / dep).is_file() and dep not in seen:
                queue.append(dep)
    return sorted(seen)


def generate_stubs(out_dir: Path) -> None:
    from grpc_tools import protoc  # noqa: PLC0415 (imported late: a clear error if missing)

    files = proto_files()
    well_known = Path(protoc.__file__).resolve().parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *files,
    ]
    code = protoc.main(args)
    if code != 0:
        fail(f"grpc_tools.protoc exited with {code} for {' '.join(files)}")
    # Make the generated google.api / google.rpc regular packages so they win
    # over any other copy on sys.path (e.g. googleapis-common-protos); `google`
    # itself stays a namespace package so google.protobuf still resolves.
    for package_dir in {p.parent for p in out_dir.rglob("*_pb2.py")}:
        current = package_dir
        while current != out_dir and current.name != "google":
            init = current / "__init__.py"
            if not init.exists():
                init.write_text("")
            current = current.parent
    step(f"generated Python stubs for {len(files)} proto files into {out_dir}")


def run(addr: str, token: str) -> None:
    import grpc  # noqa: PLC0415

    session_pb2 = importlib.import_module("wagate.v1.session_pb2")
    session_grpc = importlib.import_module("wagate.v1.session_pb2_grpc")
    simulator_pb2 = importlib.import_module("wagate.v1.simulator_pb2")
    simulator_grpc = importlib.import_module("wagate.v1.simulator_pb2_grpc")

    admin = (("authorization", f"Bearer {token}"),)
    status_name = session_pb2.SessionStatus.Name

    def call(what: str, method, request, metadata=admin):
        try:
            return method(request, metadata=metadata, timeout=RPC_TIMEOUT)
        except grpc.RpcError as err:
            fail(f"{what} failed: {err.code().name}: {err.details()}")

    with grpc.insecure_channel(addr) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=RPC_TIMEOUT)
        except grpc.FutureTimeoutError:
            fail(f"cannot reach the server at {addr} within {RPC_TIMEOUT:.0f}s")
        sessions = session_grpc.SessionServiceStub(channel)
        simulator = simulator_grpc.SimulatorServiceStub(channel)

        created = call(
            "CreateSession",
            sessions.CreateSession,
            session_pb2.CreateSessionRequest(
                session=session_pb2.Session(display_name="Polyglot", phone_number=PHONE)
            ),
        )
        if not created.name.startswith("sessions/"):
            fail(f"CreateSession returned name {created.name!r}, expected sessions/{{id}}")
        step(f"CreateSession: {created.name} ({created.display_name}, {created.phone_number})")

        connected = call(
            "ConnectSession",
            sessions.ConnectSession,
            session_pb2.ConnectSessionRequest(name=created.name),
        )
        if connected.status != session_pb2.SESSION_STATUS_NEED_SCAN:
            fail(
                f"ConnectSession returned {status_name(connected.status)}, "
                f"expected SESSION_STATUS_NEED_SCAN ({connected.message})"
            )
        qr = connected.qr_code.code
        if not qr:
            fail("ConnectSession returned NEED_SCAN without a QR code")
        step(f"ConnectSession: {status_name(connected.status)}, QR code of {len(qr)} characters")

        scanned = call(
            "SimulatorService.ScanQr",
            simulator.ScanQr,
            simulator_pb2.ScanQrRequest(qr_code=qr, phone_number=PHONE),
        )
        step(f"ScanQr: linked device {scanned.device_jid or '(none reported)'}")

        status = None
        for poll in range(1, POLLS + 1):
            status = call(
                "GetSessionStatus",
                sessions.GetSessionStatus,
                session_pb2.GetSessionStatusRequest(name=created.name),
            )
            if status.status == session_pb2.SESSION_STATUS_CONNECTED:
                step(f"GetSessionStatus: SESSION_STATUS_CONNECTED after {poll} poll(s)")
                break
            time.sleep(POLL_INTERVAL)
        else:
            fail(
                f"session not CONNECTED after {POLLS} polls {POLL_INTERVAL * 1000:.0f} ms apart: "
                f"last status {status_name(status.status)} ({status.reason!r})"
            )

        user = call(
            "GetSessionUser",
            sessions.GetSessionUser,
            session_pb2.GetSessionUserRequest(name=created.name),
        )
        if not user.jid.startswith(JID_PREFIX):
            fail(f"GetSessionUser jid {user.jid!r} does not start with {JID_PREFIX!r}")
        step(f"GetSessionUser: jid {user.jid}")

        try:
            sessions.GetSession(
                session_pb2.GetSessionRequest(name=created.name), timeout=RPC_TIMEOUT
            )
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.UNAUTHENTICATED:
                fail(f"GetSession without a token: {err.code().name}, expected UNAUTHENTICATED")
            step(f"GetSession without a token: UNAUTHENTICATED ({err.details()})")
        else:
            fail("GetSession without a token succeeded, expected UNAUTHENTICATED")


def main() -> int:
    addr = os.environ.get("WAGATE_ADDR", "").strip()
    token = os.environ.get("WAGATE_ADMIN_TOKEN", "").strip()
    try:
        if not addr or not token:
            fail("set WAGATE_ADDR (host:port) and WAGATE_ADMIN_TOKEN")
        try:
            import grpc  # noqa: F401, PLC0415
            import grpc_tools  # noqa: F401, PLC0415
            import google.protobuf  # noqa: F401, PLC0415
        except ImportError as err:
            fail(f"{err}; install with: pip install -r tests/python/requirements.txt")
        step(f"server {addr}, protos from {PROTO_ROOT}")
        with tempfile.TemporaryDirectory(prefix="wagate-pystubs-") as tmp:
            out_dir = Path(tmp)
            generate_stubs(out_dir)
            sys.path.insert(0, str(out_dir))
            try:
                run(addr, token)
            finally:
                sys.path.remove(str(out_dir))
    except Failure as err:
        print(f"[polyglot] FAILED: {err}", flush=True)
        print("0 passed, 1 failed", flush=True)
        return 1
    except Exception as err:  # noqa: BLE001 (any other error is a failure too)
        print(f"[polyglot] FAILED: {type(err).__name__}: {err}", flush=True)
        print("0 passed, 1 failed", flush=True)
        return 1
    print("1 passed, 0 failed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
