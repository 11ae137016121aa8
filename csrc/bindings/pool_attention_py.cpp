// Python entry points of the pooling-attention kernel (raw pointers for torch, numpy for the SDK).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "kernels/pool_attention.h"

namespace py = pybind11;
namespace k = bharnet::kernels;

namespace bharnet::bindings {
namespace {

k::PoolAttentionDims pa_dims(py::tuple t) {
  if (t.size() != 11) throw std::invalid_argument("dims must be (N,C,T,V,I, Cc,T2,V2,I2, D,H)");
  int64_t v[11];
  for (int i = 0; i < 11; ++i) v[i] = t[i].cast<int64_t>();
  if (v[10] <= 0 || v[9] % v[10] != 0) throw std::invalid_argument("D must be divisible by H");
  return {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10]};
}

void pa_forward(const std::string& dtype, bool cuda, py::tuple dims, uintptr_t x, uintptr_t ctx,
                uintptr_t xm, uintptr_t cm, uintptr_t wq, uintptr_t wk, uintptr_t wv, uintptr_t wo,
                uintptr_t out, uintptr_t workspace, uintptr_t stream) {
  const auto d = pa_dims(dims);
  if (dtype != "float32" && dtype != "float64")
    throw std::invalid_argument("bharnet kernels support float32 and float64, got " + dtype);
  py::gil_scoped_release nogil;
  auto run = [&](auto tag) {
    using T = decltype(tag);
    auto P = [](uintptr_t p) { return reinterpret_cast<T*>(p); };
    if (!cuda) {
      k::pool_attention_forward_cpu<T>(d, P(x), P(ctx), P(xm), P(cm), P(wq), P(wk), P(wv), P(wo),
                                       P(out));
      return;
    }
#ifdef BHARNET_WITH_CUDA
    int err = k::pool_attention_forward_cuda<T>(d, P(x), P(ctx), P(xm), P(cm), P(wq), P(wk), P(wv),
                                                P(wo), P(out), reinterpret_cast<void*>(workspace),
                                                reinterpret_cast<cudaStream_t>(stream));
    if (err != 0) throw std::runtime_error("pool_attention_forward_cuda: CUDA error " + std::to_string(err));
#else
    (void)workspace, (void)stream;
    throw std::runtime_error("bharnet._C was built without CUDA");
#endif
  };
  dtype == "float64" ? run(double{}) : run(float{});
}

size_t pa_workspace(py::tuple dims, int64_t elem_size) {
#ifdef BHARNET_WITH_CUDA
  return k::pool_attention_workspace_bytes(pa_dims(dims), size_t(elem_size));
#else
  (void)dims, (void)elem_size;
  return 0;
#endif
}

template <class T>
using Arr = py::array_t<T, py::array::c_style | py::array::forcecast>;

template <class T>
py::array pa_numpy_impl(py::array x_in, py::array ctx_in, std::optional<py::array> xm_in,
                        std::optional<py::array> cm_in, py::array wq_in, py::array wk_in,
                        py::array wv_in, py::array wo_in, int64_t H) {
  Arr<T> x(x_in), ctx(ctx_in), wq(wq_in), wk(wk_in), wv(wv_in), wo(wo_in);
  if (x.ndim() != 5 || ctx.ndim() != 5 || wq.ndim() != 2 || wk.ndim() != 2 || wv.ndim() != 2 ||
      wo.ndim() != 2)
    throw std::invalid_argument("pool_attention: x, ctx 5-D; weights 2-D");
  const k::PoolAttentionDims d{x.shape(0),   x.shape(1),   x.shape(2), x.shape(3), x.shape(4),
                               ctx.shape(1), ctx.shape(2), ctx.shape(3), ctx.shape(4),
                               wq.shape(0),  H};
  if (ctx.shape(0) != d.N || wq.shape(1) != d.C || wk.shape(0) != d.D || wk.shape(1) != d.Cc ||
      wv.shape(0) != d.D || wv.shape(1) != d.Cc || wo.shape(0) != d.C || wo.shape(1) != d.D ||
      H <= 0 || d.D % H != 0)
    throw std::invalid_argument("pool_attention: inconsistent shapes");
  std::optional<Arr<T>> xm, cm;
  if (xm_in) {
    xm.emplace(*xm_in);
    if (xm->size() != d.N * d.I) throw std::invalid_argument("pool_attention: x_mask [N,I]");
  }
  if (cm_in) {
    cm.emplace(*cm_in);
    if (cm->size() != d.N * d.I2) throw std::invalid_argument("pool_attention: ctx_mask [N,I2]");
  }
  Arr<T> out({d.N, d.C});
  const T* xmp = xm ? xm->data() : nullptr;
  const T* cmp = cm ? cm->data() : nullptr;
  T* op = out.mutable_data();
  {
    py::gil_scoped_release nogil;
    k::pool_attention_forward_cpu<T>(d, x.data(), ctx.data(), xmp, cmp, wq.data(), wk.data(),
                                     wv.data(), wo.data(), op);
  }
  return std::move(out);
}

py::array pa_numpy(py::array x, py::array ctx, std::optional<py::array> xm,
                   std::optional<py::array> cm, py::array wq, py::array wk, py::array wv,
                   py::array wo, int64_t H) {
  if (x.dtype().is(py::dtype::of<double>())) return pa_numpy_impl<double>(x, ctx, xm, cm, wq, wk, wv, wo, H);
  return pa_numpy_impl<float>(x, ctx, xm, cm, wq, wk, wv, wo, H);
}

}  // namespace

void register_pool_attention(py::module_& m) {
  m.def("pool_attention_forward_ptr", &pa_forward, py::arg("dtype"), py::arg("cuda"),
        py::arg("dims"), py::arg("x"), py::arg("ctx"), py::arg("x_mask"), py::arg("ctx_mask"),
        py::arg("wq"), py::arg("wk"), py::arg("wv"), py::arg("wo"), py::arg("out"),
        py::arg("workspace") = 0, py::arg("stream") = 0,
        "Pooling-attention forward on raw pointers (0 = null); dims = (N,C,T,V,I,Cc,T2,V2,I2,D,H)");
  m.def("pool_attention_workspace_bytes", &pa_workspace, py::arg("dims"), py::arg("elem_size"));
  m.def("pool_attention", &pa_numpy, py::arg("x"), py::arg("ctx"), py::arg("x_mask"),
        py::arg("ctx_mask"), py::arg("wq"), py::arg("wk"), py::arg("wv"), py::arg("wo"),
        py::arg("num_heads"), "Pooling-attention forward on numpy arrays");
}

}  // namespace bharnet::bindings
