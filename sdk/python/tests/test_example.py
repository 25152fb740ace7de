"""The README example (examples/mint_and_verify.py), run verbatim against the test's dev node."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import EXAMPLE, DevNode


def test_the_example_mints_and_verifies_and_can_run_again(dev_node: DevNode) -> None:
    env = dict(os.environ, KEEPSAKE_RPC=dev_node.url, KEEPSAKE_DEV_HOME=str(dev_node.home))
    code = [line for line in EXAMPLE.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(code) <= 10, "the README example stays at most ten lines"
    editions = []
    for _ in range(2):  # a second run reuses the registrations and the series
        run = subprocess.run([sys.executable, str(EXAMPLE)], env=env, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        m = re.fullmatch(r"VALID Apsaras #(\d+) of 100, checkpoint (\d+)\n", run.stdout)
        assert m, run.stdout
        editions.append(int(m.group(1)))
    assert editions[1] == editions[0] + 1


def test_the_readme_shows_the_example_verbatim() -> None:
    readme = (EXAMPLE.parents[3] / "README.md").read_text()
    block = readme.split("<!-- python-example:begin -->", 1)[1].split("<!-- python-example:end -->", 1)[0]
    shown = block.split("```python\n", 1)[1].split("```", 1)[0]
    assert shown == EXAMPLE.read_text(), "README.md's Python example differs from examples/mint_and_verify.py"
