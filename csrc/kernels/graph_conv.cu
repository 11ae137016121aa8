// CUDA graph convolution: plain one-thread-per-output kernels and one-block-per-output
// reductions. Deliberately simple (it could not be run where it was written); the layout of
// the intermediate Z [N,K,C,T,V] keeps global loads coalesced along (t, v).
#include <cuda_runtime.h>

#include "kernels/graph_conv.h"

namespace bharnet::kernels {
namespace {

constexpr int kThreads = 256;

inline unsigned blocks_for(int64_t n) { return unsigned((n + kThreads - 1) / kThreads); }

// Z[n,k,c,t,w] = sum_v x[n,c,t,v] A[k,v,w]
template <class T>
__global__ void joint_mix_kernel(GraphConvDims d, const T* __restrict__ x, const T* __restrict__ A,
                                 T* __restrict__ Z) {
  const int64_t total = d.N * d.K * d.C * d.T * d.V;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    int64_t r = idx;
    const int64_t w = r % d.V; r /= d.V;
    const int64_t t = r % d.T; r /= d.T;
    const int64_t c = r % d.C; r /= d.C;
    const int64_t k = r % d.K;
    const int64_t n = r / d.K;
    const T* xr = x + ((n * d.C + c) * d.T + t) * d.V;
    const T* Ak = A + k * d.V * d.V + w;
    T s = 0;
    for (int64_t v = 0; v < d.V; ++v) s += xr[v] * Ak[v * d.V];
    Z[idx] = s;
  }
}

// y[n,o,t,w] = act(sum_(k,c) W[k,o,c] Z[n,k,c,t,w] + b[o] + res)
template <class T>
__global__ void channel_mix_kernel(GraphConvDims d, const T* __restrict__ Z, const T* __restrict__ W,
                                   const T* __restrict__ b, const T* __restrict__ res, bool relu,
                                   T* __restrict__ y) {
  const int64_t TV = d.T * d.V, total = d.N * d.O * TV;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = idx % TV, o = (idx / TV) % d.O, n = idx / (TV * d.O);
    T s = b ? b[o] : T(0);
    for (int64_t k = 0; k < d.K; ++k) {
      const T* Wr = W + (k * d.O + o) * d.C;
      const T* Zk = Z + ((n * d.K + k) * d.C) * TV + j;
      for (int64_t c = 0; c < d.C; ++c) s += Wr[c] * Zk[c * TV];
    }
    if (res) s += res[idx];
    y[idx] = (relu && s < T(0)) ? T(0) : s;
  }
}

template <class T>
__global__ void relu_mask_kernel(int64_t total, const T* __restrict__ gy, const T* __restrict__ y,
                                 bool relu, T* __restrict__ g) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x)
    g[idx] = (relu && !(y[idx] > T(0))) ? T(0) : gy[idx];
}

// Block-wide sum; every thread gets the result.
template <class T>
__device__ T block_sum(T v) {
  __shared__ T buf[kThreads];
  buf[threadIdx.x] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) buf[threadIdx.x] += buf[threadIdx.x + s];
    __syncthreads();
  }
  T r = buf[0];
  __syncthreads();
  return r;
}

// One block per o: db[o] = sum_(n,t,w) g[n,o,t,w]
template <class T>
__global__ void bias_grad_kernel(GraphConvDims d, const T* __restrict__ g, T* __restrict__ gb) {
  const int64_t o = blockIdx.x, TV = d.T * d.V;
  T s = 0;
  for (int64_t r = threadIdx.x; r < d.N * TV; r += blockDim.x)
    s += g[((r / TV) * d.O + o) * TV + r % TV];
  s = block_sum(s);
  if (threadIdx.x == 0) gb[o] = s;
}

// One block per (k,o,c): dW = sum_(n,t,w) g[n,o,t,w] Z[n,k,c,t,w]
template <class T>
__global__ void weight_grad_kernel(GraphConvDims d, const T* __restrict__ g, const T* __restrict__ Z,
                                   T* __restrict__ gW) {
  const int64_t idx = blockIdx.x, c = idx % d.C, o = (idx / d.C) % d.O, k = idx / (d.C * d.O);
  const int64_t TV = d.T * d.V;
  T s = 0;
  for (int64_t r = threadIdx.x; r < d.N * TV; r += blockDim.x) {
    const int64_t n = r / TV, j = r % TV;
    s += g[(n * d.O + o) * TV + j] * Z[((n * d.K + k) * d.C + c) * TV + j];
  }
  s = block_sum(s);
  if (threadIdx.x == 0) gW[idx] = s;
}

// gZ[n,k,c,t,w] = sum_o W[k,o,c] g[n,o,t,w]
template <class T>
__global__ void z_grad_kernel(GraphConvDims d, const T* __restrict__ g, const T* __restrict__ W,
                              T* __restrict__ gZ) {
  const int64_t TV = d.T * d.V, total = d.N * d.K * d.C * TV;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = idx % TV, c = (idx / TV) % d.C, k = (idx / (TV * d.C)) % d.K,
                  n = idx / (TV * d.C * d.K);
    T s = 0;
    for (int64_t o = 0; o < d.O; ++o) s += W[(k * d.O + o) * d.C + c] * g[(n * d.O + o) * TV + j];
    gZ[idx] = s;
  }
}

// dx[n,c,t,v] = sum_(k,w) gZ[n,k,c,t,w] A[k,v,w]
template <class T>
__global__ void x_grad_kernel(GraphConvDims d, const T* __restrict__ gZ, const T* __restrict__ A,
                              T* __restrict__ gx) {
  const int64_t TV = d.T * d.V, total = d.N * d.C * TV;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t v = idx % d.V, t = (idx / d.V) % d.T, c = (idx / TV) % d.C, n = idx / (TV * d.C);
    T s = 0;
    for (int64_t k = 0; k < d.K; ++k) {
      const T* gz = gZ + (((n * d.K + k) * d.C + c) * d.T + t) * d.V;
      const T* Ar = A + (k * d.V + v) * d.V;
      for (int64_t w = 0; w < d.V; ++w) s += gz[w] * Ar[w];
    }
    gx[idx] = s;
  }
}

// One block per (k,v,w): dA = sum_(n,c,t) x[n,c,t,v] gZ[n,k,c,t,w]
template <class T>
__global__ void adj_grad_kernel(GraphConvDims d, const T* __restrict__ x, const T* __restrict__ gZ,
                                T* __restrict__ gA) {
  const int64_t idx = blockIdx.x, w = idx % d.V, v = (idx / d.V) % d.V, k = idx / (d.V * d.V);
  const int64_t CT = d.C * d.T;
  T s = 0;
  for (int64_t r = threadIdx.x; r < d.N * CT; r += blockDim.x) {
    const int64_t n = r / CT, ct = r % CT;
    s += x[(n * CT + ct) * d.V + v] * gZ[((n * d.K + k) * CT + ct) * d.V + w];
  }
  s = block_sum(s);
  if (threadIdx.x == 0) gA[idx] = s;
}

unsigned grid_for(int64_t n) {
  const int64_t b = blocks_for(n);
  return unsigned(b < 65535 * 8 ? (b > 0 ? b : 1) : 65535 * 8);
}

}  // namespace

size_t graph_conv_forward_workspace_bytes(const GraphConvDims& d, size_t elem_size) {
  return size_t(d.N * d.K * d.C * d.T * d.V) * elem_size;
}

size_t graph_conv_backward_workspace_bytes(const GraphConvDims& d, size_t elem_size) {
  return size_t(d.N * d.K * d.C * d.T * d.V + d.N * d.O * d.T * d.V) * elem_size;
}

template <class T>
int graph_conv_forward_cuda(const GraphConvDims& d, const T* x, const T* A, const T* W, const T* b,
                            const T* residual, bool relu, T* y, void* workspace,
                            cudaStream_t stream) {
  if (d.N * d.O * d.T * d.V == 0) return 0;
  T* Z = static_cast<T*>(workspace);
  const int64_t nz = d.N * d.K * d.C * d.T * d.V, ny = d.N * d.O * d.T * d.V;
  if (nz > 0) joint_mix_kernel<T><<<grid_for(nz), kThreads, 0, stream>>>(d, x, A, Z);
  channel_mix_kernel<T><<<grid_for(ny), kThreads, 0, stream>>>(d, Z, W, b, residual, relu, y);
  return int(cudaGetLastError());
}

template <class T>
int graph_conv_backward_cuda(const GraphConvDims& d, const T* gy, const T* x, const T* A,
                             const T* W, const T* y_out, bool relu, T* gx, T* gA, T* gW, T* gb,
                             T* g_pre, void* workspace, cudaStream_t stream) {
  const int64_t nz = d.N * d.K * d.C * d.T * d.V, ny = d.N * d.O * d.T * d.V;
  const int64_t nx = d.N * d.C * d.T * d.V;
  T* Z = static_cast<T*>(workspace);
  T* g = Z + nz;
  if (ny > 0) relu_mask_kernel<T><<<grid_for(ny), kThreads, 0, stream>>>(ny, gy, y_out, relu, g);
  if (g_pre && ny > 0) cudaMemcpyAsync(g_pre, g, sizeof(T) * ny, cudaMemcpyDeviceToDevice, stream);
  if (gb && d.O > 0) bias_grad_kernel<T><<<unsigned(d.O), kThreads, 0, stream>>>(d, g, gb);
  if (nz > 0) joint_mix_kernel<T><<<grid_for(nz), kThreads, 0, stream>>>(d, x, A, Z);
  if (d.K * d.O * d.C > 0)
    weight_grad_kernel<T><<<unsigned(d.K * d.O * d.C), kThreads, 0, stream>>>(d, g, Z, gW);
  // Z is dead after dW, so gZ takes its place.
  if (nz > 0) z_grad_kernel<T><<<grid_for(nz), kThreads, 0, stream>>>(d, g, W, Z);
  if (nx > 0) x_grad_kernel<T><<<grid_for(nx), kThreads, 0, stream>>>(d, Z, A, gx);
  if (d.K * d.V * d.V > 0)
    adj_grad_kernel<T><<<unsigned(d.K * d.V * d.V), kThreads, 0, stream>>>(d, x, Z, gA);
  return int(cudaGetLastError());
}

#define BHARNET_INSTANTIATE(T)                                                                    \
  template int graph_conv_forward_cuda<T>(const GraphConvDims&, const T*, const T*, const T*,     \
                                          const T*, const T*, bool, T*, void*, cudaStream_t);     \
  template int graph_conv_backward_cuda<T>(const GraphConvDims&, const T*, const T*, const T*,    \
                                           const T*, const T*, bool, T*, T*, T*, T*, T*, void*,   \
                                           cudaStream_t);
BHARNET_INSTANTIATE(float)
BHARNET_INSTANTIATE(double)
#undef BHARNET_INSTANTIATE

}  // namespace bharnet::kernels
