"""``python -m pytest_benchmem._cli ARGS``: runs the ``benchmem`` binary installed with the
package (the wheel puts it on the environment's PATH as ``benchmem``; this finds it
without PATH, and honours ``BENCHMEM_BIN``)."""

from __future__ import annotations

import os
import sys
from typing import List, Optional

from .locate import find_binary


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    binary = find_binary()
    if binary is None or not binary.is_file():
        where = f" ({binary} does not exist)" if binary is not None else ""
        sys.stderr.write(
            "benchmem: the benchmem binary is not installed with this package"
            f"{where}; reinstall with `pip install benchmem`, or set BENCHMEM_BIN\n"
        )
        return 2
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(str(binary), [str(binary), *args])
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main())
