// The GIL from tern's own threads, and the interpreter's exit.
//
// Callbacks run on threads Python did not start (a tern::Client's loop
// thread, the broker's io threads). `gil` takes the GIL there; each such
// thread gets one Python thread state for its whole life, not one per call.
// At interpreter exit (atexit) `finalizing` turns true and callbacks stop
// taking the GIL.
#pragma once

#include <pybind11/pybind11.h>

#include <atomic>
#include <cstdint>

namespace tern::python {

namespace py = pybind11;

// True from the interpreter's exit on: no more calls into Python.
extern std::atomic<bool> finalizing;

// True on threads Python did not start (tern's loop threads), once they have
// taken the GIL: an object collected there must not join its own thread.
bool on_foreign_thread();

class gil {
 public:
  gil();
  ~gil() { PyGILState_Release(st_); }
  gil(const gil&) = delete;
  gil& operator=(const gil&) = delete;

 private:
  PyGILState_STATE st_;
};

// How many times a `gil` was taken since the module loaded (the tests check
// that a broker without Python hooks never takes it on its publish path).
std::uint64_t gil_acquisitions() noexcept;

// The main thread (where signal handlers run) with the GIL.
bool on_main_thread();

}  // namespace tern::python
