"""Allocation churn marked as region "churn" (the region API of pytest_benchmem.region).

Run it under benchmem to see the region's peak, allocated bytes and allocation count:

    PYTHONPATH=python benchmem run -- python3 examples/churn.py

Without the preload it runs unchanged (the region is a no-op).
"""

from pytest_benchmem import region


def main() -> None:
    with region("churn"):
        for _ in range(200):
            sum([i * i for i in range(20_000)])


if __name__ == "__main__":
    main()
