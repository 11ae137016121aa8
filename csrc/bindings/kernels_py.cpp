// Two faces per kernel: raw-pointer entry points for torch tensors (the torch ops pass
// data_ptr() of contiguous tensors; the extension never links libtorch), and numpy entry
// points for the torch-free SDK backend. The GIL is released while kernels run.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "kernels/gemm.h"
#include "kernels/graph_conv.h"
#include "kernels/parallel.h"
#include "kernels/pool_attention.h"

namespace py = pybind11;
namespace k = bharnet::kernels;

namespace bharnet::bindings {
namespace {

template <class T>
T* ptr(uintptr_t p) {
  return reinterpret_cast<T*>(p);
}

bool is_f64(const std::string& dtype) {
  if (dtype == "float64") return true;
  if (dtype == "float32") return false;
  throw std::invalid_argument("bharnet kernels support float32 and float64, got " + dtype);
}

k::GraphConvDims gc_dims(py::tuple t) {
  if (t.size() != 6) throw std::invalid_argument("dims must be (N, C, T, V, K, O)");
  return {t[0].cast<int64_t>(), t[1].cast<int64_t>(), t[2].cast<int64_t>(),
          t[3].cast<int64_t>(), t[4].cast<int64_t>(), t[5].cast<int64_t>()};
}

void check_cuda(int err, const char* what) {
  if (err != 0) throw std::runtime_error(std::string(what) + ": CUDA error " + std::to_string(err));
}

[[noreturn]] void no_cuda() { throw std::runtime_error("bharnet._C was built without CUDA"); }

// ---- graph conv, raw pointers ---------------------------------------------------------------
void gc_forward(const std::string& dtype, bool cuda, py::tuple dims, uintptr_t x, uintptr_t A,
                uintptr_t W, uintptr_t b, uintptr_t res, bool relu, uintptr_t y,
                uintptr_t workspace, uintptr_t stream) {
  const auto d = gc_dims(dims);
  const bool f64 = is_f64(dtype);
  py::gil_scoped_release nogil;
  auto run = [&](auto tag) {
    using T = decltype(tag);
    if (!cuda) {
      k::graph_conv_forward_cpu<T>(d, ptr<T>(x), ptr<T>(A), ptr<T>(W), ptr<T>(b), ptr<T>(res), relu,
                                   ptr<T>(y));
      return;
    }
#ifdef BHARNET_WITH_CUDA
    check_cuda(k::graph_conv_forward_cuda<T>(d, ptr<T>(x), ptr<T>(A), ptr<T>(W), ptr<T>(b),
                                             ptr<T>(res), relu, ptr<T>(y),
                                             reinterpret_cast<void*>(workspace),
                                             reinterpret_cast<cudaStream_t>(stream)),
               "graph_conv_forward_cuda");
#else
    (void)workspace, (void)stream;
    no_cuda();
#endif
  };
  f64 ? run(double{}) : run(float{});
}

void gc_backward(const std::string& dtype, bool cuda, py::tuple dims, uintptr_t gy, uintptr_t x,
                 uintptr_t A, uintptr_t W, uintptr_t y, bool relu, uintptr_t gx, uintptr_t gA,
                 uintptr_t gW, uintptr_t gb, uintptr_t g_pre, uintptr_t workspace,
                 uintptr_t stream) {
  const auto d = gc_dims(dims);
  const bool f64 = is_f64(dtype);
  py::gil_scoped_release nogil;
  auto run = [&](auto tag) {
    using T = decltype(tag);
    if (!cuda) {
      k::graph_conv_backward_cpu<T>(d, ptr<T>(gy), ptr<T>(x), ptr<T>(A), ptr<T>(W), ptr<T>(y), relu,
                                    ptr<T>(gx), ptr<T>(gA), ptr<T>(gW), ptr<T>(gb), ptr<T>(g_pre));
      return;
    }
#ifdef BHARNET_WITH_CUDA
    check_cuda(k::graph_conv_backward_cuda<T>(d, ptr<T>(gy), ptr<T>(x), ptr<T>(A), ptr<T>(W),
                                              ptr<T>(y), relu, ptr<T>(gx), ptr<T>(gA), ptr<T>(gW),
                                              ptr<T>(gb), ptr<T>(g_pre),
                                              reinterpret_cast<void*>(workspace),
                                              reinterpret_cast<cudaStream_t>(stream)),
               "graph_conv_backward_cuda");
#else
    (void)workspace, (void)stream;
    no_cuda();
#endif
  };
  f64 ? run(double{}) : run(float{});
}

size_t gc_workspace(py::tuple dims, int64_t elem_size, bool backward) {
#ifdef BHARNET_WITH_CUDA
  const auto d = gc_dims(dims);
  return backward ? k::graph_conv_backward_workspace_bytes(d, size_t(elem_size))
                  : k::graph_conv_forward_workspace_bytes(d, size_t(elem_size));
#else
  (void)dims, (void)elem_size, (void)backward;
  return 0;
#endif
}

// ---- graph conv, numpy (CPU, for the SDK's native backend) ----------------------------------
template <class T>
using Arr = py::array_t<T, py::array::c_style | py::array::forcecast>;

template <class T>
py::array gc_numpy_impl(py::array x_in, py::array A_in, py::array W_in, std::optional<py::array> b_in,
                        std::optional<py::array> res_in, bool relu) {
  Arr<T> x(x_in), A(A_in), W(W_in);
  if (x.ndim() != 4 || A.ndim() != 3 || W.ndim() != 3)
    throw std::invalid_argument("graph_conv: x [N,C,T,V], A [K,V,V], W [K,O,C]");
  const k::GraphConvDims d{x.shape(0), x.shape(1), x.shape(2), x.shape(3), A.shape(0), W.shape(1)};
  if (A.shape(1) != d.V || A.shape(2) != d.V || W.shape(0) != d.K || W.shape(2) != d.C)
    throw std::invalid_argument("graph_conv: inconsistent shapes");
  std::optional<Arr<T>> b, res;
  if (b_in) {
    b.emplace(*b_in);
    if (b->ndim() != 1 || b->shape(0) != d.O) throw std::invalid_argument("graph_conv: b [O]");
  }
  if (res_in) {
    res.emplace(*res_in);
    if (res->ndim() != 4 || res->shape(0) != d.N || res->shape(1) != d.O || res->shape(2) != d.T ||
        res->shape(3) != d.V)
      throw std::invalid_argument("graph_conv: residual [N,O,T,V]");
  }
  Arr<T> y({d.N, d.O, d.T, d.V});
  const T* bp = b ? b->data() : nullptr;
  const T* rp = res ? res->data() : nullptr;
  T* yp = y.mutable_data();
  {
    py::gil_scoped_release nogil;
    k::graph_conv_forward_cpu<T>(d, x.data(), A.data(), W.data(), bp, rp, relu, yp);
  }
  return std::move(y);
}

py::array gc_numpy(py::array x, py::array A, py::array W, std::optional<py::array> b,
                   std::optional<py::array> res, bool relu) {
  if (x.dtype().is(py::dtype::of<double>())) return gc_numpy_impl<double>(x, A, W, b, res, relu);
  return gc_numpy_impl<float>(x, A, W, b, res, relu);
}

}  // namespace

void register_pool_attention(py::module_& m);  // pool_attention_py.cpp

void register_kernels(py::module_& m) {
  m.def("cpu_isa", &k::cpu_isa, "Vector ISA the CPU kernels dispatched to");
  m.def("get_num_threads", &k::num_threads);
  m.def("set_num_threads", &k::set_num_threads, py::arg("n"),
        "Threads for the CPU kernels (n <= 0: hardware concurrency)");
  m.def("graph_conv_forward_ptr", &gc_forward, py::arg("dtype"), py::arg("cuda"), py::arg("dims"),
        py::arg("x"), py::arg("A"), py::arg("W"), py::arg("b"), py::arg("residual"), py::arg("relu"),
        py::arg("y"), py::arg("workspace") = 0, py::arg("stream") = 0,
        "Graph conv forward on raw pointers (0 = null); dims = (N, C, T, V, K, O)");
  m.def("graph_conv_backward_ptr", &gc_backward, py::arg("dtype"), py::arg("cuda"),
        py::arg("dims"), py::arg("gy"), py::arg("x"), py::arg("A"), py::arg("W"), py::arg("y"),
        py::arg("relu"), py::arg("gx"), py::arg("gA"), py::arg("gW"), py::arg("gb"),
        py::arg("g_pre"), py::arg("workspace") = 0, py::arg("stream") = 0);
  m.def("graph_conv_workspace_bytes", &gc_workspace, py::arg("dims"), py::arg("elem_size"),
        py::arg("backward"), "CUDA scratch the pointer entry points need (0 on CPU builds)");
  m.def("graph_conv", &gc_numpy, py::arg("x"), py::arg("A"), py::arg("W"), py::arg("b") = py::none(),
        py::arg("residual") = py::none(), py::arg("relu") = false,
        "Graph conv forward on numpy arrays (float32 unless x is float64)");
  register_pool_attention(m);
}

}  // namespace bharnet::bindings
