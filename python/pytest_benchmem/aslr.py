"""Address-space randomization off for the processes benchmem starts under the preload,
as ``benchmem run`` does for its command: CPython's arena use depends on addresses, so
fixed addresses give the same numbers in every run. A kernel or seccomp filter that
refuses only costs that determinism."""

from __future__ import annotations

import contextlib
import ctypes
from typing import Iterator, Optional

__all__ = ["ADDR_NO_RANDOMIZE", "fix_addresses", "fixed_addresses"]

ADDR_NO_RANDOMIZE = 0x0040000
_QUERY = 0xFFFFFFFF


def _personality(value: int) -> Optional[int]:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        result = int(libc.personality(ctypes.c_ulong(value)))
    except (OSError, AttributeError):
        return None
    return None if result == -1 else result


def fix_addresses() -> bool:
    """Turn randomization off for the next exec of this thread (the persona is inherited
    by children and survives exec); False when refused."""
    cur = _personality(_QUERY)
    return cur is not None and _personality(cur | ADDR_NO_RANDOMIZE) is not None


@contextlib.contextmanager
def fixed_addresses(enabled: bool = True) -> Iterator[bool]:
    """Processes started inside the block (by this thread) run without randomization;
    this thread's persona is restored after. Yields whether it was turned off."""
    cur = _personality(_QUERY) if enabled else None
    changed = cur is not None and not cur & ADDR_NO_RANDOMIZE and _personality(cur | ADDR_NO_RANDOMIZE) is not None
    try:
        yield changed or (cur is not None and bool(cur & ADDR_NO_RANDOMIZE))
    finally:
        if changed and cur is not None:
            _personality(cur)
