"""Allocations of known sizes at known Python frames, for the stack stream's test
(tests/tests/stacks_python.rs). Lines marked `# at:NAME` are looked up by the test."""
import ctypes
import threading


def inner():
    return bytearray(10_000_000)  # at:inner


def outer():
    return inner()  # at:outer


def key(x):
    key.kept = bytearray(5_000_000)  # at:key
    return x


def work(n):
    work.kept.append(bytearray(n))  # at:work


work.kept = []
kept = outer()  # at:module
sorted([1], key=key)  # at:sorted
threads = [threading.Thread(target=work, args=(n,)) for n in (7_000_000, 8_000_000)]
for t in threads:
    t.start()
for t in threads:
    t.join()

# A thread Python never saw (no thread state): strdup of a 777,776-character string is one
# allocation of 777,777 bytes, with native frames only.
libc = ctypes.CDLL(None, use_errno=True)
arg = ctypes.c_char_p(b"x" * 777_776)  # points into the bytes object: no copy
tid = ctypes.c_ulong()
start = ctypes.cast(libc.strdup, ctypes.c_void_p)
assert libc.pthread_create(ctypes.byref(tid), None, start, arg) == 0
assert libc.pthread_join(tid, None) == 0
