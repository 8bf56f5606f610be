// aiowatchdog._native.gc_callback(phase, info): the gc.callbacks hook that
// tells the core which thread the garbage collector runs on (gc_phase.h).
// A plain METH_FASTCALL C function rather than a pybind11 binding: it runs
// twice per collection, on every thread, while any watcher runs.
#ifndef AIOWATCHDOG_PYTHON_GC_CALLBACK_H_
#define AIOWATCHDOG_PYTHON_GC_CALLBACK_H_

#include <Python.h>

namespace aiowatchdog {

// A new reference to the callback, a builtin function of module `module_name`.
PyObject* NewGcCallback(PyObject* module_name);

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_PYTHON_GC_CALLBACK_H_
