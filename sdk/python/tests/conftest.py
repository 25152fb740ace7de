"""Shared test fixtures: paths to the repository's golden fixtures, test keys, and a dev node."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

import keepsake

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures" / "certificates"
ED25519_VECTORS = REPO / "tests" / "fixtures" / "ed25519" / "vectors.json"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mint_and_verify.py"


def read(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def load(name: str) -> Any:
    return json.loads(read(name))


def tkey(n: int) -> keepsake.Keypair:
    """Key ``n`` of the test network (testkit.rs): seed ``n || 00 x 30 || 6b``."""
    return keepsake.Keypair(bytes([n]) + bytes(30) + b"\x6b")


@dataclass
class DevNode:
    url: str
    home: Path
    process: "subprocess.Popen[bytes]"
    log: Path

    @property
    def genesis(self) -> Path:
        return self.home / "genesis.json"

    def key(self, name: str) -> keepsake.Keypair:
        return keepsake.Keypair.load(self.home / "keys" / f"{name}.json")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def start_dev_node() -> Iterator[DevNode]:
    """``keepsake dev --home <tmp> --rpc 127.0.0.1:<free port>``, up until /health answers; stopped at the end.

    The binary is ``$KEEPSAKE_BIN`` (default ``<repo>/target/release/keepsake``). Missing: the
    tests that need a node are skipped, unless ``KEEPSAKE_SDK_TESTS=1``, when they fail.
    """
    binary = Path(os.environ.get("KEEPSAKE_BIN", REPO / "target" / "release" / "keepsake"))
    required = os.environ.get("KEEPSAKE_SDK_TESTS") == "1"
    if not binary.is_file() or not os.access(binary, os.X_OK):
        message = f"no keepsake binary at {binary} (build it, or set KEEPSAKE_BIN)"
        if required:
            pytest.fail(f"KEEPSAKE_SDK_TESTS=1: {message}", pytrace=False)
        pytest.skip(message)
    tmp = Path(tempfile.mkdtemp(prefix="keepsake-sdk-"))
    home = tmp / "dev"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp / "node.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(binary), "dev", "--home", str(home), "--rpc", f"127.0.0.1:{port}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    node = DevNode(url=url, home=home, process=proc, log=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"keepsake dev exited with {proc.returncode}:\n{log.read_text()[-3000:]}", pytrace=False)
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"keepsake dev did not answer /health in 30 s:\n{log.read_text()[-3000:]}", pytrace=False)
            time.sleep(0.1)
        yield node
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def dev_node() -> Iterator[DevNode]:
    """A fresh dev chain for each test module that asks for one."""
    with start_dev_node() as node:
        yield node
