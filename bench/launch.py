"""Start the real gateway (or any FIX acceptor) in a subprocess on a free loopback port.

Shared by the integration tests and the benchmarks: a throwaway roster with known
passwords, the repo's instruments and dictionary, and a data dir of the caller's choosing.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from fixgw.roster import hash_password

REPO = Path(__file__).resolve().parent.parent
PASSWORDS = {"CLIENT1": "pw-client1", "CLIENT2": "pw-client2", "MM1": "pw-mm1"}
ROLES = {"CLIENT1": "customer", "CLIENT2": "customer", "MM1": "market_maker"}
CANCEL_ON_DISCONNECT = ("MM1",)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(workdir: Path, cancel_on_disconnect: tuple[str, ...]) -> Path:
    entries = []
    for account, (comp_id, password) in enumerate(PASSWORDS.items(), 1):
        entries.append(
            f'[participants.{comp_id}]\nrole = "{ROLES[comp_id]}"\naccount = {account}\n'
            f"cancel_on_disconnect = {str(comp_id in cancel_on_disconnect).lower()}\n"
            f'password_hash = "{hash_password(password)}"\n'
        )
    (workdir / "roster.toml").write_text("\n".join(entries))
    config = workdir / "fixgw.toml"
    config.write_text(
        '[gateway]\ncomp_id = "FIXGW"\nhost = "127.0.0.1"\n'
        f'[files]\nroster = "roster.toml"\n'
        f'instruments = "{REPO / "sessions" / "instruments.toml"}"\n'
        f'dictionary = "{REPO / "spec" / "FIX44.xml"}"\n'
    )
    return config


class GatewayProcess:
    def __init__(
        self, workdir: Path, cancel_on_disconnect: tuple[str, ...] = CANCEL_ON_DISCONNECT
    ) -> None:
        self.workdir = workdir
        self.port = free_port()
        config = write_config(workdir, cancel_on_disconnect)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fixgw.cli",
                "serve",
                "--config",
                str(config),
                "--port",
                str(self.port),
                "--data-dir",
                str(workdir / "var"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        ready = self.proc.stdout.readline()
        if "listening" not in ready:
            self.proc.kill()
            raise AssertionError(f"gateway did not start: {ready}{self.proc.stderr.read()}")  # type: ignore[union-attr]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> str:
        """Stop it and return what it wrote to stderr."""
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=20)
        return err
