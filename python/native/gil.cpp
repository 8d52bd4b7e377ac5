#include "gil.hpp"

namespace tern::python {

std::atomic<bool> finalizing{false};

namespace {

thread_local bool tl_foreign = false;
std::atomic<std::uint64_t> g_acquisitions{0};

struct thread_state_keeper {
  PyThreadState* ts = nullptr;
  PyGILState_STATE st{};
  ~thread_state_keeper() {
    if (ts && !finalizing.load() && Py_IsInitialized()) {
      PyEval_RestoreThread(ts);
      PyGILState_Release(st);
    }
  }
};

}  // namespace

bool on_foreign_thread() { return tl_foreign; }

std::uint64_t gil_acquisitions() noexcept { return g_acquisitions.load(std::memory_order_relaxed); }

gil::gil() {
  g_acquisitions.fetch_add(1, std::memory_order_relaxed);
  thread_local thread_state_keeper keeper;
  if (!keeper.ts && PyGILState_GetThisThreadState() == nullptr) {
    keeper.st = PyGILState_Ensure();
    keeper.ts = PyEval_SaveThread();
    tl_foreign = true;
  }
  st_ = PyGILState_Ensure();
}

bool on_main_thread() { return PyGILState_GetThisThreadState() && _PyOS_IsMainThread(); }

}  // namespace tern::python
