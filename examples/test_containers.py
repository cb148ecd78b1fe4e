"""A small parametrized pytest-benchmark suite: build a container of n items, three kinds.

The pictures in the README are drawn from it (scripts/plots): run with the benchmem
plugin for memory,

    pytest examples/test_containers.py --benchmark-only --benchmark-memory --benchmark-json=v1.json

and again with EXAMPLE_VARIANT=v2 or v3 for "later versions" of the same code.
"""

import os
from typing import Any

import pytest

VARIANT = os.environ.get("EXAMPLE_VARIANT", "v1")


def build(kind: str, n: int) -> object:
    if kind == "list":
        # v2 stores records as dicts instead of tuples: more memory per item.
        if VARIANT in ("v2", "v3"):
            return [{"id": i, "name": str(i)} for i in range(n)]
        return [(i, str(i)) for i in range(n)]
    if kind == "dict":
        # v3 keys by int and keeps ints: no string per item.
        if VARIANT == "v3":
            return {i: i for i in range(n)}
        return {i: str(i) for i in range(n)}
    return {str(i) for i in range(n)}


@pytest.mark.parametrize("n", [100, 1000, 10000])
@pytest.mark.parametrize("kind", ["list", "dict", "set"])
def test_build(benchmark: Any, kind: str, n: int) -> None:
    benchmark(build, kind, n)
