// Graph convolution of a skeleton feature map:
//   y[n,o,t,w] = sum_k sum_v sum_c W[k,o,c] x[n,c,t,v] A[k,v,w] + b[o]  (+ residual, then ReLU)
// Tensors are dense row-major: x [N,C,T,V], A [K,V,V], W [K,O,C], b [O], residual/y [N,O,T,V].
// b and residual may be null. Instantiated for float and double.
#pragma once
#include <cstddef>
#include <cstdint>

// Same declaration as cuda_runtime.h, so callers need no CUDA headers for the launchers.
struct CUstream_st;
typedef struct CUstream_st* cudaStream_t;

namespace bharnet::kernels {

struct GraphConvDims {
  int64_t N, C, T, V, K, O;
};

// ---- CPU (vectorised, runs on the pool in parallel.h) ---------------------------------------
template <class T>
void graph_conv_forward_cpu(const GraphConvDims& d, const T* x, const T* A, const T* W, const T* b,
                            const T* residual, bool relu, T* y);

// gy: gradient of y. y_out (the forward output) is needed only when relu is set, to mask gy.
// Outputs: gx [N,C,T,V], gA [K,V,V], gW [K,O,C], gb [O] (may be null), and g_pre [N,O,T,V]
// (may be null): the gradient before the ReLU, which is also the residual's gradient.
template <class T>
void graph_conv_backward_cpu(const GraphConvDims& d, const T* gy, const T* x, const T* A,
                             const T* W, const T* y_out, bool relu, T* gx, T* gA, T* gW, T* gb,
                             T* g_pre);

// ---- CUDA (only in builds with BHARNET_WITH_CUDA) -------------------------------------------
// Raw device pointers, asynchronous on `stream`; `workspace` must hold the bytes the matching
// *_workspace_bytes function returns. They return a cudaError_t value (0 = success).
size_t graph_conv_forward_workspace_bytes(const GraphConvDims& d, size_t elem_size);
size_t graph_conv_backward_workspace_bytes(const GraphConvDims& d, size_t elem_size);

template <class T>
int graph_conv_forward_cuda(const GraphConvDims& d, const T* x, const T* A, const T* W, const T* b,
                            const T* residual, bool relu, T* y, void* workspace,
                            cudaStream_t stream);

template <class T>
int graph_conv_backward_cuda(const GraphConvDims& d, const T* gy, const T* x, const T* A,
                             const T* W, const T* y_out, bool relu, T* gx, T* gA, T* gW, T* gb,
                             T* g_pre, void* workspace, cudaStream_t stream);

}  // namespace bharnet::kernels
