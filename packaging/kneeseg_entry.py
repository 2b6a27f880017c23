"""Entry point of the frozen KneeSeg bundle (both executables run this script).

* ``KneeSeg``            no arguments: the window with the demo case (``kneeseg demo``);
                         ``KneeSeg --selftest [...]``: the headless self-test, plus a check
                         that the main window starts (offscreen, in a child process);
                         any other arguments: the ``kneeseg`` command line.
* ``kneeseg-cli ...``    the ``kneeseg`` command line (console), e.g. ``kneeseg-cli selftest``;
                         it takes ``--selftest`` too.
* ``--startup-probe``    (hidden) builds and shows the main window, prints the seconds from
                         process start to the window shown, and quits: the cold-start measure.

This is the one place that adjusts process-wide state for the frozen app: a windowed
(console-less) Windows executable has no stdout/stderr, so they are sent to a log file in
the per-user cache folder before anything prints. Works unfrozen too
(``PYTHONPATH=. python packaging/kneeseg_entry.py --selftest``).
"""

from __future__ import annotations

import time

ENTRY_STARTED = time.perf_counter()

import argparse  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:
    from kneeseg_app.core.selftest import CheckResult

CLI_EXECUTABLE = "kneeseg-cli"
SELFTEST_FLAG = "--selftest"
PROBE_FLAG = "--startup-probe"
WINDOW_CHECK_TIMEOUT_S = 60


def is_cli_executable(executable: str) -> bool:
    """True for ``kneeseg-cli`` / ``kneeseg-cli.exe`` (the console twin of the window exe)."""
    return Path(executable).stem.lower() == CLI_EXECUTABLE


def seconds_since_process_start() -> float | None:
    """Wall time since the OS created this process (Linux), so the bootloader is counted too."""
    try:
        stat = Path("/proc/self/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
        start_ticks = int(stat[19])  # field 22 of /proc/pid/stat
        uptime = float(Path("/proc/uptime").read_text(encoding="utf-8").split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def give_windowed_app_streams() -> None:
    """A console-less Windows exe has ``sys.stdout is None``: print into a log file instead."""
    if sys.stdout is not None and sys.stderr is not None:
        return
    try:
        from kneeseg_app.core import paths

        folder = paths.user_cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        stream = open(folder / "kneeseg.log", "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - lives as long as the process
    except OSError:
        stream = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    sys.stdout = sys.stdout or stream
    sys.stderr = sys.stderr or stream


def startup_probe() -> int:
    """Show the main window, report the time to it, quit (the window's settings are left untouched)."""
    from PySide6.QtCore import QTimer

    from kneeseg_app.ui.app import create_application
    from kneeseg_app.ui.windows.main_window import MainWindow

    app = create_application([sys.argv[0]])
    window = MainWindow()
    window.show()

    def report() -> None:
        since_process = seconds_since_process_start()
        in_python = time.perf_counter() - ENTRY_STARTED
        shown = window.isVisible()
        where = f"{since_process:.2f} s since process start, " if since_process is not None else ""
        print(
            f"startup-probe: window {'shown' if shown else 'NOT shown'} after {where}{in_python:.2f} s in Python "
            f"(Qt platform {app.platformName()})",
            flush=True,
        )
        app.exit(0 if shown else 1)

    QTimer.singleShot(0, report)
    return int(app.exec())


def probe_command() -> list[str]:
    """How to start this program again with the startup probe (frozen exe, or this script)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, PROBE_FLAG]
    return [sys.executable, str(Path(__file__).resolve()), PROBE_FLAG]


def window_check() -> CheckResult:
    """Self-test part 4: the window's whole stack (Qt plugins, pyqtgraph, the main window) starts.

    Run in a child process on Qt's offscreen platform, so it works without a display and a
    broken Qt aborts only the child.
    """
    import subprocess

    from kneeseg_app.core.selftest import SelftestError, run_check

    def body() -> tuple[str, list[str]]:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
        try:
            done = subprocess.run(
                probe_command(),
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                env=env,
                timeout=WINDOW_CHECK_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            raise SelftestError(f"The main window did not appear within {WINDOW_CHECK_TIMEOUT_S} s.") from None
        if done.returncode != 0:  # the probe exits 0 only once the window is shown
            last = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["no output"])[-1]
            raise SelftestError(f"The main window cannot start (exit status {done.returncode}: {last}).")
        # a windowed Windows exe may print into its log file instead of the pipe
        shown = [line for line in done.stdout.splitlines() if line.startswith("startup-probe: window shown")]
        detail = shown[0].removeprefix("startup-probe: ") if shown else "window shown"
        return f"main {detail}", []

    return run_check("window", body)


def run_selftest_flag(args: Sequence[str]) -> int:
    """``KneeSeg --selftest [options]``: the ``selftest`` command plus the window check."""
    from kneeseg_app.commands import selftest

    parser = argparse.ArgumentParser(prog=f"KneeSeg {SELFTEST_FLAG}")
    selftest.register(parser.add_subparsers(dest="command"))
    namespace = parser.parse_args(["selftest", *args])
    try:
        return selftest.run_and_print(namespace, extra_checks=[window_check])
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback, and a failing status
        print(f"kneeseg: self-test could not run ({type(exc).__name__}: {exc}).", file=sys.stderr)
        return 70


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not is_cli_executable(sys.executable):
        give_windowed_app_streams()
    if args[:1] == [PROBE_FLAG]:
        return startup_probe()
    if args[:1] == [SELFTEST_FLAG]:
        return run_selftest_flag(args[1:])
    from kneeseg_app.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    multiprocessing.freeze_support()  # before anything else: a frozen child process must not start the app
    sys.exit(main())
