"""The restart: memory is counted by the benchmem preload, which must be loaded when the
interpreter starts. When memory is requested and the preload is not active, pytest is
re-executed once, with the same command line, under ``LD_PRELOAD``. When pytest runs
inside another program (``pytest.main()``, as IDE runners call it), it cannot be: each
memory pass then runs in a fresh process started under the preload (:mod:`.worker`).
When no preload can be used, why is recorded and the memory tests fail with that message.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import List, Optional

import pytest

from . import options
from .aslr import ADDR_NO_RANDOMIZE, fix_addresses
from .locate import find_preload, missing_preload_message, preloaded_environ
from .region import is_active

__all__ = [
    "ADDR_NO_RANDOMIZE",
    "ENV_RESTARTED",
    "State",
    "ensure_preload",
    "fix_addresses",
    "how_to_run",
    "restart_argv",
    "state",
    "unavailable_message",
]

#: Set in the restarted pytest to the pid that restarted it, so it restarts at most once.
ENV_RESTARTED = "BENCHMEM_PYTEST_RESTARTED"


@dataclass
class State:
    """Per-session restart state (``config.stash``)."""

    #: Why memory cannot be measured (None: it can, or not checked yet).
    unavailable: Optional[str] = None
    #: pytest runs inside another program: memory passes run in a fresh process each.
    child: bool = False
    restart_checked: bool = False
    #: The preload found, if any.
    preload: Optional[str] = None


_STATE = pytest.StashKey[State]()


def state(config: pytest.Config) -> State:
    return config.stash.setdefault(_STATE, State())


def restart_argv(config: pytest.Config) -> Optional[List[str]]:
    """The command that re-runs this pytest exactly, or None when pytest was started
    from ``pytest.main()`` inside another program (or we cannot tell)."""
    if tuple(str(a) for a in config.invocation_params.args) != tuple(sys.argv[1:]):
        return None
    argv0 = sys.argv[0] if sys.argv else ""
    is_module = os.path.normpath(argv0).endswith(os.path.join("pytest", "__main__.py"))
    base = os.path.basename(argv0)
    is_script = base in ("pytest", "py.test") and os.path.isfile(argv0)
    if not (is_module or is_script):
        return None
    orig = list(getattr(sys, "orig_argv", []) or [])
    n = len(sys.argv) - 1
    if len(orig) > n and (n == 0 or orig[-n:] == sys.argv[1:]):
        # Keep the interpreter's own options (-X, -W, -I, ...) exactly as given.
        return [sys.executable, *orig[1:]]
    if is_module:
        return [sys.executable, "-m", "pytest", *sys.argv[1:]]
    return [sys.executable, argv0, *sys.argv[1:]]


def how_to_run(preload: Optional[str]) -> str:
    where = preload or "/path/to/libbenchmem_preload.so"
    return (
        "run the `pytest` command (or `python -m pytest`), which restarts itself under the preload, "
        f"or start the program with LD_PRELOAD={where}, or under `benchmem run -- ...`"
    )


def ensure_preload(config: pytest.Config, why: str) -> None:
    """Make sure memory can be measured: restart under the preload (no return), or
    record why it cannot (the memory tests then fail with that message)."""
    st = state(config)
    if st.restart_checked:
        return
    st.restart_checked = True
    if is_active():
        return
    found = find_preload()
    st.preload = str(found) if found is not None else None
    problem = missing_preload_message()
    if problem is not None or found is None:
        st.unavailable = problem
        return
    if os.environ.get(ENV_RESTARTED) == str(os.getpid()):
        st.unavailable = (
            f"benchmem: pytest was restarted with LD_PRELOAD={found}, but the preload is not active "
            "in it (the loader ignored it, or it is not a benchmem preload for this machine)"
        )
        return
    argv = restart_argv(config)
    if argv is None:
        # pytest.main() inside another program: its process cannot be restarted, so each
        # memory pass runs in a fresh process started under the preload.
        st.child = True
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if config.option.verbose > 0 and reporter is not None:
            reporter.write_line(
                f"benchmem: {why}: pytest runs inside another program (pytest.main()); each memory "
                f"pass runs in a fresh process under the preload (LD_PRELOAD={found})"
            )
        return
    env = preloaded_environ(found)
    env[ENV_RESTARTED] = str(os.getpid())
    if config.option.verbose > 0:
        sys.stdout.write(f"benchmem: {why}: restarting pytest under the preload (LD_PRELOAD={found})\n")
    capman = config.pluginmanager.getplugin("capturemanager")
    if capman is not None:
        try:
            capman.stop_global_capturing()
        except Exception:  # pragma: no cover - best effort, exec follows
            pass
    if not options.keep_aslr(config):
        fix_addresses()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)


def unavailable_message(config: pytest.Config) -> str:
    """Why the memory pass cannot run in this process (after :func:`ensure_preload`)."""
    st = state(config)
    return st.unavailable or f"benchmem: the preload is not active; {how_to_run(st.preload)}"
