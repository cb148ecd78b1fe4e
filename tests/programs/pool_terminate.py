"""A multiprocessing pool ended by terminate(): its two workers die of SIGTERM, sent and
reaped by the parent (not by benchmem)."""
import multiprocessing as mp
import time


def sleepy(_: int) -> None:
    time.sleep(30)


if __name__ == "__main__":
    mp.set_start_method("fork")
    pool = mp.Pool(2)
    pool.map_async(sleepy, range(2))
    time.sleep(0.5)
    pool.terminate()
    pool.join()
    print("done")
