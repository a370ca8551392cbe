"""``exit_process``: the exit status, buffered output and atexit handlers survive the fast exit, and
the ordinary exit is kept without torch, with a live non-daemon thread or a message code."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

PROLOGUE = """
import atexit, sys, threading, time
{imports}
from bench.cli._process_exit import exit_process
atexit.register(lambda: print("atexit ran", flush=False))
print("buffered", end="")
sys.stderr.write("to stderr")
"""


def _run(body: str, imports: str = "import torch") -> subprocess.CompletedProcess:
    code = textwrap.dedent(PROLOGUE.format(imports=imports)) + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("imports", ["import torch", ""])
@pytest.mark.parametrize("code, status", [("3", 3), ("0", 0), ("None", 0)])
def test_status_output_and_atexit_survive(imports, code, status):
    done = _run(f"exit_process({code})", imports)
    assert done.returncode == status
    assert done.stdout == "buffered" + "atexit ran\n" and done.stderr == "to stderr"


def test_a_message_code_exits_as_python_does():
    done = _run("exit_process('fatal: no store')")
    assert done.returncode == 1 and done.stderr.endswith("fatal: no store\n")


def test_a_live_non_daemon_thread_is_joined():
    done = _run("""
        threading.Thread(target=lambda: (time.sleep(0.3), print(" thread finished"))).start()
        exit_process(0)
    """)
    assert done.returncode == 0 and "thread finished" in done.stdout and "atexit ran" in done.stdout
