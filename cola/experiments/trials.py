"""A trial's child process: `python -m cola` (train.py's command) started by a search worker, watched, and stopped.

The child runs in its own process group, asks the kernel to kill it if its worker dies, and is stopped with its
whole group when the worker is interrupted (Ctrl-C, SIGTERM): a trial never outlives its worker. While it runs, the
worker logs a line now and then with the last line of the trial's log; when it fails, its `error: ...` line is the
trial's reason (`cola.experiments.search`).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

logger = logging.getLogger(__name__)

# What a trial runs: `python -m cola` (train.py's own command, from the package, wherever the repository is), from
# the folder that holds the package this worker imported.
TRIAL_MODULE = "cola"
PACKAGE_ROOT = Path(__file__).resolve().parents[2]

# How a trial starts (`python -m cola`, as `runpy` runs it): on Linux it first asks the kernel to kill it if its
# worker dies (prctl PR_SET_PDEATHSIG), so a worker killed outright (SIGKILL, an OOM kill) never leaves a training
# run behind as an orphan holding a CPU or GPU; a worker that died before the request took effect is noticed by its
# parent id. Arguments: the worker's pid, the folder holding the package, the module, then the trial's options.
_CHILD_START = (
    "import os, runpy, sys\n"
    "if sys.platform == 'linux':\n"
    "    import ctypes, signal\n"
    "    ctypes.CDLL(None).prctl(1, signal.SIGKILL)\n"
    "    if os.getppid() != int(sys.argv[1]): os._exit(137)\n"
    "sys.path.insert(0, sys.argv[2])\n"
    "sys.argv = sys.argv[3:]\n"
    "runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)\n"
)
STOP_GRACE_S = 20  # a stopped trial's train.py gets this long to end on SIGTERM before SIGKILL
PROGRESS_EVERY_S = 60  # while a trial runs, a log line this often


def launch_subprocess(argv: list[str], env: dict, log_path: Path) -> int:
    """Run `python -m cola` (train.py's command) with `argv` in a child process, its output in `log_path`; its exit
    status.

    The child runs in its own process group (a terminal's Ctrl-C reaches the worker only), and the worker stops
    the whole group when it is interrupted: a child never outlives its worker."""
    with open(log_path, "a", encoding="utf-8") as log:
        child = subprocess.Popen([sys.executable, "-c", _CHILD_START, str(os.getpid()), str(PACKAGE_ROOT), TRIAL_MODULE,
                                  *argv], env=env,
                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            started = time.monotonic()
            while True:  # a trial runs for minutes to hours: say now and then that it is alive, and where it is
                try:
                    return child.wait(timeout=PROGRESS_EVERY_S)
                except subprocess.TimeoutExpired:
                    logger.info("%s: running for %s; its log (%s) last says: %s", log_path.parent.name,
                                minutes(time.monotonic() - started), log_path, last_line(log_path))
        except BaseException:  # KeyboardInterrupt: Ctrl-C, or SIGTERM (see main)
            stop_process_group(child)
            raise


def stop_process_group(child: subprocess.Popen) -> None:
    """SIGTERM to the child's process group, then SIGKILL if it has not ended within STOP_GRACE_S."""
    for sig, grace in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, None)):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            return
        try:
            child.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def interrupt(signum, frame):
    raise KeyboardInterrupt


def last_line(log_path: Path, limit: int = 160) -> str:
    """The last line a running train.py wrote (a progress line, a seed starting), cut to `limit` characters."""
    try:
        with open(log_path, "rb") as log:
            log.seek(max(0, log_path.stat().st_size - 4096))
            lines = [line.strip() for line in log.read().decode("utf-8", errors="replace").splitlines() if line.strip()]
    except OSError:
        return "(no log yet)"
    text = lines[-1] if lines else "(nothing yet)"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def error_line(log_path: Path) -> str:
    """A failed train.py's reason: its `error: ...` line, else the last line it printed (a traceback's last)."""
    try:
        lines = [line.strip() for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines()]
    except OSError:
        return "no log was written"
    errors = [line for line in lines if line.startswith("error: ")]
    last = errors[-1].removeprefix("error: ") if errors else next((line for line in reversed(lines) if line), "")
    return last or "train.py failed without a message"
