// bharnet._C: the Python face of the csrc kernels.
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace bharnet::bindings {
void register_kernels(py::module_& m);  // defined in kernels_py.cpp
void register_runtime(py::module_& m);  // defined in runtime_py.cpp
void register_frame(py::module_& m);    // defined in frame_py.cpp

#ifdef BHARNET_WITH_CUDA
constexpr bool kWithCuda = true;
#else
constexpr bool kWithCuda = false;
#endif
}  // namespace bharnet::bindings

PYBIND11_MODULE(_C, m) {
  using bharnet::bindings::kWithCuda;
  m.doc() = "bharnet native kernels (CPU, and CUDA where compiled)";
  py::dict info;
  info["cuda"] = kWithCuda;
  m.attr("build_info") = info;
  // what tests and tools ask before trusting a CUDA result: were the CUDA kernels compiled in?
  m.def("has_cuda", [] { return kWithCuda; }, "True when this build has the CUDA kernels");
  bharnet::bindings::register_kernels(m);
  bharnet::bindings::register_runtime(m);
  bharnet::bindings::register_frame(m);
}
