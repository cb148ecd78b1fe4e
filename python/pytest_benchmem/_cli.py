"""The ``benchmem`` console command: runs the Rust binary bundled with the package."""

from __future__ import annotations

import os
import sys
from typing import List, Optional

from .locate import ENV_PRELOAD, find_binary, find_preload


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    binary = find_binary()
    if binary is None or not binary.is_file():
        where = f" ({binary} does not exist)" if binary is not None else ""
        sys.stderr.write(
            "benchmem: the benchmem binary is not installed with this package"
            f"{where}; reinstall with `pip install benchmem` on a machine with cargo, "
            "or set BENCHMEM_BIN\n"
        )
        return 2
    env = dict(os.environ)
    preload = find_preload()
    if ENV_PRELOAD not in env and preload is not None and preload.parent != binary.parent:
        # The binary looks for the preload next to itself; tell it when it lives elsewhere.
        env[ENV_PRELOAD] = str(preload)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(str(binary), [str(binary), *args], env)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main())
