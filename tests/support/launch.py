"""Start the real gateway (or any FIX acceptor) in a subprocess on a free loopback port.

Shared by the integration tests and the benchmarks: a throwaway roster with known
passwords, the repo's instruments and dictionary, and a data dir of the caller's choosing.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, ClassVar

from fixgw.roster import hash_password

REPO = Path(__file__).resolve().parents[2]
PASSWORDS = {"CLIENT1": "pw-client1", "CLIENT2": "pw-client2", "MM1": "pw-mm1"}
ROLES = {"CLIENT1": "customer", "CLIENT2": "customer", "MM1": "market_maker"}
# the latency harness's extra sessions (customers), so 8 can trade at once
BENCH_PASSWORDS = {f"BENCH{i}": f"pw-bench{i}" for i in range(1, 9)}
CANCEL_ON_DISCONNECT = ("MM1",)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


FUNDING = '{ HKD = "100000000", BTC = "1000", ETH = "10000" }'


def write_config(
    workdir: Path,
    cancel_on_disconnect: tuple[str, ...],
    gateway_settings: str = "",
    funding: str = FUNDING,
    bench_sessions: bool = False,
    participant_settings: Mapping[str, str] | None = None,
    files_settings: str = "",
    comp_id: str = "FIXGW",
    extra_roster: str = "",
) -> Path:
    """A roster of the demo participants, each opening with `funding` (a TOML table);
    `participant_settings` adds TOML lines to named participants' entries, `files_settings`
    to the [files] section (affiliates, the FATF list); `extra_roster` is more roster
    entries, as TOML."""
    entries = []
    everyone = PASSWORDS | (BENCH_PASSWORDS if bench_sessions else {})
    for account, (name, password) in enumerate(everyone.items(), 1):
        role = ROLES.get(name, "customer")
        entries.append(
            f'[participants.{name}]\nrole = "{role}"\naccount = {account}\n'
            f"cancel_on_disconnect = {str(name in cancel_on_disconnect).lower()}\n"
            f'password_hash = "{hash_password(password)}"\n'
            f"funding = {funding}\n"
            f"{(participant_settings or {}).get(name, '')}"
        )
    (workdir / "roster.toml").write_text("\n".join(entries) + "\n" + extra_roster)
    config = workdir / "fixgw.toml"
    config.write_text(
        f'[gateway]\ncomp_id = "{comp_id}"\nhost = "127.0.0.1"\n{gateway_settings}'
        f'[files]\nroster = "roster.toml"\n'
        f'instruments = "{REPO / "sessions" / "instruments.toml"}"\n'
        f'dictionary = "{REPO / "spec" / "FIX44.xml"}"\n{files_settings}'
    )
    return config


class GatewayProcess:
    """The gateway as a subprocess; its output is drained continuously so a chatty gateway
    can never block on a full pipe."""

    # every gateway started and not yet stopped: the tests' fixture ends what a failing
    # test left running, so that no gateway outlives its test holding a port
    running: ClassVar[set[GatewayProcess]] = set()

    def __init__(
        self,
        workdir: Path,
        cancel_on_disconnect: tuple[str, ...] = CANCEL_ON_DISCONNECT,
        extra_args: tuple[str, ...] = (),
        gateway_settings: str = "",
        wrapper: tuple[str, ...] = (),
        funding: str = FUNDING,
        bench_sessions: bool = False,
        participant_settings: Mapping[str, str] | None = None,
        environment: Mapping[str, str] | None = None,
        files_settings: str = "",
        comp_id: str = "FIXGW",
        extra_roster: str = "",
        port: int = 0,
    ) -> None:
        """`wrapper` is a command the gateway runs under (for example `setpriv ...`);
        `environment` is added to this process's for the gateway's; `port` (a free one by
        default) lets a restart listen where its peers expect it."""
        self.workdir = workdir
        self.port = port or free_port()
        config = write_config(
            workdir,
            cancel_on_disconnect,
            gateway_settings,
            funding,
            bench_sessions,
            participant_settings,
            files_settings,
            comp_id,
            extra_roster,
        )
        self.proc = subprocess.Popen(
            [
                *wrapper,
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
                *extra_args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(environment or {})},
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        GatewayProcess.running.add(self)
        self._out: list[str] = []
        # log lines (a link logging on, say) may come before the line that says it listens
        self.ready = self.proc.stdout.readline()
        while self.ready and "listening" not in self.ready:
            self._out.append(self.ready)
            self.ready = self.proc.stdout.readline()
        self._err: list[str] = []
        self._drains = [
            threading.Thread(target=_drain, args=(self.proc.stdout, self._out), daemon=True),
            threading.Thread(target=_drain, args=(self.proc.stderr, self._err), daemon=True),
        ]
        for drain in self._drains:
            drain.start()
        if "listening" not in self.ready:
            self.proc.wait(timeout=30)
            self._join()
            raise AssertionError(f"gateway did not start: {''.join(self._out)}{''.join(self._err)}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> str:
        """Stop it cleanly; returns its stderr. Its later stdout is in `final_output`."""
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self._join()
        return "".join(self._err)

    def exited(self, timeout: float = 30) -> int:
        """Wait for a gateway that ends by itself; its exit code."""
        code = self.proc.wait(timeout=timeout)
        self._join()
        return code

    def kill(self) -> None:
        """kill -9: no chance to flush or close anything."""
        self.proc.kill()
        self.proc.wait(timeout=30)
        self._join()

    @property
    def final_output(self) -> str:
        return "".join(self._out)

    def _join(self) -> None:
        GatewayProcess.running.discard(self)
        for drain in self._drains:
            drain.join(timeout=30)


def _drain(stream: IO[str], sink: list[str]) -> None:
    for line in stream:
        sink.append(line)
