"""The operator channel: a Unix socket in the data dir, owner-only, one JSON request per
connection.

Authentication is the operating system's: only the gateway's own user (and root) can open
a 0600 socket, and the peer's uid, read from the kernel (SO_PEERCRED), names the operator
in the journal. Nothing the client says about itself is trusted. Each request is handed to
the sequencer and answered once its batch is journaled; this thread only moves bytes.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path

import structlog

from fixgw.operator.desk import OperatorRequest, Reply

log = structlog.get_logger("fixgw.admin")

SOCKET_NAME = "admin.sock"
MAX_REQUEST = 64 * 1024
ANSWER_TIMEOUT = 30.0  # seconds; the engine thread answers in well under one


def _request_id_ok(request_id: str) -> bool:
    """Empty (no retries recognised) or bounded printable ASCII: it is journaled."""
    return request_id == "" or (
        len(request_id) <= 64 and request_id.isascii() and request_id.isprintable()
    )


def socket_path(data_dir: Path) -> Path:
    return data_dir / SOCKET_NAME


def check_private(data_dir: Path) -> None:
    """Refuse a data dir others can write to: they could replace the socket with their own
    and collect operators' requests. Raises ValueError with what to do."""
    mode = data_dir.stat().st_mode
    if mode & 0o022:
        raise ValueError(
            f"the data dir {data_dir} is writable by others (mode {mode & 0o777:o}); "
            f"run `chmod go-w {data_dir}` first"
        )


def operator_name(conn: socket.socket) -> str:
    """The connecting process's user, from the kernel."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


class AdminSocket:
    def __init__(self, data_dir: Path) -> None:
        self.path = socket_path(data_dir)
        if self._answers():
            raise ValueError(f"another gateway is running on {data_dir} (it answers {self.path})")
        self.path.unlink(missing_ok=True)  # left by a gateway that was killed
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)  # the socket is born 0600: no window where others can open it
        try:
            self._server.bind(str(self.path))
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)
        self._server.listen(8)

    def _answers(self) -> bool:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(self.path))
        except OSError:
            return False
        finally:
            probe.close()
        return True

    def start(self, submit: Callable[[OperatorRequest], None]) -> None:
        """Serve requests, handing each to `submit` (the runner's inbox)."""
        self._submit = submit
        threading.Thread(target=self._serve, name="fixgw-admin", daemon=True).start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        self.path.unlink(missing_ok=True)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return  # closed
            with conn:
                try:
                    self._handle(conn)
                except (BrokenPipeError, ConnectionResetError, TimeoutError) as gone:
                    log.warning("operator went away before the answer", error=str(gone))
                except Exception:
                    log.exception("operator request failed")

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(5.0)
        data = b""
        while not data.endswith(b"\n") and len(data) <= MAX_REQUEST:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        answer = self._answer(conn, data)
        conn.sendall(json.dumps(answer).encode() + b"\n")

    def _answer(self, conn: socket.socket, data: bytes) -> dict[str, object]:
        if len(data) > MAX_REQUEST:
            return {"ok": False, "error": f"a request is at most {MAX_REQUEST} bytes"}
        try:
            request = json.loads(data)
            op, args = request["op"], request.get("args", {})
            request_id = request.get("request_id", "")
            if not isinstance(op, str) or not isinstance(args, dict):
                raise TypeError("op must be text and args an object")
            if not isinstance(request_id, str) or not _request_id_ok(request_id):
                raise TypeError("request_id must be 1 to 64 printable ASCII characters")
        except (ValueError, KeyError, TypeError) as bad:
            return {"ok": False, "error": f"not a request: {bad}"}
        reply = Reply()
        self._submit(OperatorRequest(op, args, operator_name(conn), reply, request_id))
        answer = reply.wait(ANSWER_TIMEOUT)
        if answer is None and reply.withdraw():
            return {
                "ok": False,
                "error": f"the engine did not take the request within {ANSWER_TIMEOUT:.0f} s; "
                "it was withdrawn and nothing was done",
            }
        # claimed by the engine thread: it is being carried out, so its outcome is awaited
        answer = answer or reply.wait(ANSWER_TIMEOUT)
        if answer is None:
            return {
                "ok": False,
                "error": "the engine took the request but has not answered yet; send it again "
                "with the same request id for its outcome (it will not be carried out twice)",
            }
        return answer
