"""Run `mailcrm serve` as a real subprocess on a free loopback port (test helper)."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path

DROPBOX = "crm+secret@example.org"
USER = "me@example.org"


class DaemonProcess:
    """A `mailcrm serve` subprocess with its own config; stop() or kill() it."""

    def __init__(self, config_path: Path, port: int, log_path: Path) -> None:
        self.config_path = config_path
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        """Environment for mailcrm commands against this daemon's config."""
        env = dict(os.environ)
        env["MAILCRM_CONFIG"] = str(self.config_path)
        return env

    def start(self, timeout: float = 30.0) -> "DaemonProcess":
        """Start and wait until the SMTP port accepts connections."""
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mailcrm", "serve"], env=self.env(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mailcrm serve exited {self.proc.returncode}: {self.log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.recv(100)
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("mailcrm serve did not start listening")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait (drain)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL the whole process group (a crash)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def smtp(self) -> smtplib.SMTP:
        """A connected smtplib client."""
        return smtplib.SMTP("127.0.0.1", self.port, timeout=30)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a mailcrm command against this daemon's config."""
        res = subprocess.run([sys.executable, "-m", "mailcrm", *args], env=self.env(), capture_output=True,
                             text=True, timeout=120)
        if check and res.returncode != 0:
            raise AssertionError(f"mailcrm {' '.join(args)} failed ({res.returncode}): {res.stderr}")
        return res
