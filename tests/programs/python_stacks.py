"""Asks the preload, through its diagnostic entry point, for the stack it would record at
chosen points of a Python program, and prints each answer as JSON for
tests/tests/stacks_python.rs. Lines marked `# at:NAME` are looked up by the test."""
import ctypes
import gc
import json
import os
import sys
import threading

dbg = ctypes.CDLL(None).benchmem_debug_python_stack
dbg.restype = ctypes.c_size_t
dbg.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint32]
buf = ctypes.create_string_buffer(1 << 16)
out = {"minor": sys.version_info[1]}


flags = 0


def stack():
    n = dbg(buf, len(buf), flags)  # at:stack
    return buf.raw[:n].decode()


def inner():
    return stack()  # at:inner


def outer():
    return inner()  # at:outer


def key(x):
    out["cold" if flags else "sorted"] = stack()  # at:key
    return x


def generator():
    yield stack()  # at:generator


async def coroutine():
    return inner()  # at:coroutine


def naïve_函数():
    return stack()  # at:unicode


def worker():
    out["thread"] = stack()  # at:worker


out["direct"] = outer()  # at:direct
out["again"] = outer()  # at:again
sorted([1], key=key)  # at:sorted
# As if the innermost eval-loop frame were in a part of the loop its symbol does not cover.
flags = 1
sorted([1], key=key)  # at:cold
flags = 0
out["next"] = next(generator())  # at:next
out["for"] = [s for s in generator()][0]  # at:for
try:
    coroutine().send(None)  # at:send
except StopIteration as e:
    out["send"] = e.value
out["unicode"] = naïve_函数()
# Names of each width: Latin-1 (one byte a character), the BMP (two), beyond (four).
ns = {"stack": stack}
exec(compile("def g():\n    return stack()\n", "fïle.py", "exec"), ns)
g = ns["g"]
name = "co_qualname" if sys.version_info >= (3, 11) else "co_name"
g.__code__ = g.__code__.replace(**{name: "g_🐍"})
out["wide"] = g()
t = threading.Thread(target=worker)
t.start()
t.join()

# Code objects made and freed one after another, often at the same address: each must
# keep its own name and first line.
gen = []
for i in range(20):
    ns = {"stack": stack}
    src = "\n" * i + "def fn_%d():\n    return stack()\n" % i
    exec(compile(src, "gen_%d.py" % i, "exec"), ns)
    gen.append(ns["fn_%d" % i]())
    del ns
    gc.collect()
out["gen"] = gen

r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    os.write(w, outer().encode())  # at:child
    os._exit(0)
os.close(w)
child = b""
while True:
    b = os.read(r, 1 << 16)
    if not b:
        break
    child += b
os.waitpid(pid, 0)
out["child"] = child.decode()
print(json.dumps(out))
