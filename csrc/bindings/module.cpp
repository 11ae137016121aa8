// bharnet._C: the Python face of the csrc kernels.
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace bharnet::bindings {
void register_kernels(py::module_& m);  // defined in kernels_py.cpp
void register_runtime(py::module_& m);  // defined in runtime_py.cpp
}

PYBIND11_MODULE(_C, m) {
  m.doc() = "bharnet native kernels (CPU, and CUDA where compiled)";
  py::dict info;
#ifdef BHARNET_WITH_CUDA
  info["cuda"] = true;
#else
  info["cuda"] = false;
#endif
  m.attr("build_info") = info;
  bharnet::bindings::register_kernels(m);
  bharnet::bindings::register_runtime(m);
}
