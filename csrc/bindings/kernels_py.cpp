// Placeholder registration; the kernels issue fills this in.
#include <pybind11/pybind11.h>
namespace py = pybind11;
namespace bharnet::bindings {
void register_kernels(py::module_& m) { (void)m; }
}
