"""A real ``contacthub run`` process for tests that kill and restart it, and small helpers."""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def png_bytes(width: int, height: int) -> bytes:
    """A valid RGB PNG: a diagonal gradient."""
    rows = b"".join(
        b"\x00" + b"".join(bytes(((x * 255) // width, (y * 255) // height, 128)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


class HubProcess:
    """``python -m hub.cli run --no-demo --no-worker`` on a fixed port and data directory."""

    def __init__(self, data_dir: Path, port: int, config: Path) -> None:
        self.data_dir = data_dir
        self.port = port
        self.log_path = data_dir.parent / "hub.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CONTACTHUB_")},
            "CONTACTHUB_DATA_DIR": str(data_dir), "CONTACTHUB_CONFIG": str(config),
            "PYTHONUNBUFFERED": "1",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> Path:
        return self.data_dir / "contacthub.sqlite"

    def cli(self, *args: str, stdin: str = "", timeout: float = 60) -> str:
        """Run another ``contacthub`` command against the same settings; its output."""
        done = subprocess.run([sys.executable, "-m", "hub.cli", *args], input=stdin.encode(), cwd=ROOT,
                              env=self.env, capture_output=True, timeout=timeout, check=False)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode()

    def start(self, timeout: float = 30) -> None:
        """Start the hub and wait until it accepts connections (it binds after start-up)."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        with open(self.log_path, "ab") as log:
            log.write(b"\n---- start ----\n")
            command = [sys.executable, "-m", "hub.cli", "run", "--no-demo", "--no-worker",
                       "--port", str(self.port)]
            self.proc = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the hub exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.kill()
        raise AssertionError(f"the hub did not listen on {self.port} within {timeout} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flushing, like a crash."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """A clean stop (SIGINT, as Ctrl+C), killed if it takes too long."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""
