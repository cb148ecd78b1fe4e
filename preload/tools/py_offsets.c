/* Prints the CPython structure offsets that preload/src/python_frames.rs keeps in its
 * LAYOUTS table, from a CPython version's own headers (internal ones included).
 *
 *   cc -w -I$PREFIX/include/python3.X -I$PREFIX/include/python3.X/internal \
 *      preload/tools/py_offsets.c -o py_offsets && ./py_offsets
 *
 * Only needed when adding or checking a version: nothing builds it. */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#if PY_VERSION_HEX >= 0x030b0000
#include "internal/pycore_frame.h"
#include "internal/pycore_code.h"
#endif
#if PY_VERSION_HEX < 0x030b0000
#include "frameobject.h"
#endif
#define P(name, expr) printf("%-28s %zu\n", name, (size_t)(expr))
int main(void) {
    printf("version %s\n", PY_VERSION);
#if PY_VERSION_HEX >= 0x030d0000
    P("tstate.current_frame", offsetof(PyThreadState, current_frame));
#elif PY_VERSION_HEX >= 0x030b0000
    P("tstate.cframe", offsetof(PyThreadState, cframe));
    P("cframe.current_frame", offsetof(_PyCFrame, current_frame));
#else
    P("tstate.frame", offsetof(PyThreadState, frame));
    P("frame.f_back", offsetof(PyFrameObject, f_back));
    P("frame.f_code", offsetof(PyFrameObject, f_code));
    P("frame.f_lasti", offsetof(PyFrameObject, f_lasti));
#endif
#if PY_VERSION_HEX >= 0x030b0000
#if PY_VERSION_HEX >= 0x030d0000
    P("iframe.code", offsetof(_PyInterpreterFrame, f_executable));
    P("iframe.instr", offsetof(_PyInterpreterFrame, instr_ptr));
#else
    P("iframe.code", offsetof(_PyInterpreterFrame, f_code));
    P("iframe.instr", offsetof(_PyInterpreterFrame, prev_instr));
#endif
    P("iframe.previous", offsetof(_PyInterpreterFrame, previous));
    P("iframe.owner", offsetof(_PyInterpreterFrame, owner));
#if PY_VERSION_HEX < 0x030c0000
    P("iframe.is_entry", offsetof(_PyInterpreterFrame, is_entry));
#endif
    P("code.qualname", offsetof(PyCodeObject, co_qualname));
    P("code.linetable", offsetof(PyCodeObject, co_linetable));
    P("code.code_adaptive", offsetof(PyCodeObject, co_code_adaptive));
    P("code.firsttraceable", offsetof(PyCodeObject, _co_firsttraceable));
#elif PY_VERSION_HEX >= 0x030a0000
    P("code.linetable", offsetof(PyCodeObject, co_linetable));
#else
    P("code.linetable(lnotab)", offsetof(PyCodeObject, co_lnotab));
#endif
    P("code.name", offsetof(PyCodeObject, co_name));
    P("code.filename", offsetof(PyCodeObject, co_filename));
    P("code.firstlineno", offsetof(PyCodeObject, co_firstlineno));
    P("bytes.size", offsetof(PyVarObject, ob_size));
    P("bytes.sval", offsetof(PyBytesObject, ob_sval));
    P("ascii.size", sizeof(PyASCIIObject));
    P("compact.size", sizeof(PyCompactUnicodeObject));
    P("ascii.length", offsetof(PyASCIIObject, length));
    P("ascii.state", offsetof(PyASCIIObject, state));
    P("compact.utf8_length", offsetof(PyCompactUnicodeObject, utf8_length));
    P("compact.utf8", offsetof(PyCompactUnicodeObject, utf8));
    PyASCIIObject a;
    memset(&a, 0, sizeof a); a.state.kind = 7; printf("kind mask %#x\n", *(unsigned*)&a.state);
    memset(&a, 0, sizeof a); a.state.compact = 1; printf("compact mask %#x\n", *(unsigned*)&a.state);
    memset(&a, 0, sizeof a); a.state.ascii = 1; printf("ascii mask %#x\n", *(unsigned*)&a.state);
    return 0;
}
