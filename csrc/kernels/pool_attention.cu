// CUDA pooling-attention forward: four plain kernels over a per-sample workspace (tokens,
// projections, per-token attention output, pooling). Sizes here are tiny (tens of tokens),
// so the aim is correctness and no host synchronisation, not peak throughput.
#include <cuda_runtime.h>

#include "kernels/pool_attention.h"

namespace bharnet::kernels {
namespace {

constexpr int kThreads = 128;

struct Layout {  // offsets (in elements) of one sample's workspace
  int64_t tq, tk, q, k, v, att, total;
  __host__ __device__ explicit Layout(const PoolAttentionDims& d) {
    const int64_t L = d.T + d.V + d.I, S = d.T2 + d.V2 + d.I2;
    tq = 0;
    tk = tq + L * d.C;
    q = tk + S * d.Cc;
    k = q + L * d.D;
    v = k + S * d.D;
    att = v + S * d.D;
    total = att + L * d.D;
  }
};

template <class T>
__device__ T mask_at(const T* m, int64_t n, int64_t I, int64_t i) {
  return m ? m[n * I + i] : T(1);
}

// One block per sample: threads over channels compute all three token sequences.
template <class T>
__device__ void tokens(const T* f, int64_t C, int64_t Tn, int64_t V, int64_t I, const T* mask,
                       int64_t n, T* tok) {
  T msum = 0;
  for (int64_t i = 0; i < I; ++i) msum += mask_at(mask, n, I, i);
  const T inv_m = T(1) / (msum > T(1e-6) ? msum : T(1e-6));
  T* tok_t = tok;
  T* tok_v = tok + Tn * C;
  T* tok_i = tok + (Tn + V) * C;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    const T* fc = f + (n * C + c) * Tn * V * I;
    for (int64_t v = 0; v < V; ++v) tok_v[v * C + c] = 0;
    for (int64_t i = 0; i < I; ++i) tok_i[i * C + c] = 0;
    for (int64_t t = 0; t < Tn; ++t) {
      T row = 0;
      for (int64_t v = 0; v < V; ++v) {
        T inst = 0;
        for (int64_t i = 0; i < I; ++i) {
          const T p = fc[(t * V + v) * I + i];
          inst += p * mask_at(mask, n, I, i);
          tok_i[i * C + c] += p;
        }
        inst *= inv_m;
        row += inst;
        tok_v[v * C + c] += inst;
      }
      tok_t[t * C + c] = row / T(V);
    }
    for (int64_t v = 0; v < V; ++v) tok_v[v * C + c] /= T(Tn);
    for (int64_t i = 0; i < I; ++i) tok_i[i * C + c] /= T(Tn * V);
  }
}

template <class T>
__global__ void tokens_kernel(PoolAttentionDims d, const T* x, const T* ctx, const T* xm,
                              const T* cm, T* ws) {
  const Layout lay(d);
  const int64_t n = blockIdx.x;
  T* w = ws + n * lay.total;
  tokens(x, d.C, d.T, d.V, d.I, xm, n, w + lay.tq);
  tokens(ctx, d.Cc, d.T2, d.V2, d.I2, cm, n, w + lay.tk);
}

// out[r][e] = sum_c in[r][c] w[e][c] for rows of every sample; one thread per output.
template <class T>
__global__ void project_kernel(PoolAttentionDims d, int64_t rows, int64_t cin, int64_t in_off,
                               int64_t out_off, const T* wt, T* ws) {
  const Layout lay(d);
  const int64_t total = d.N * rows * d.D;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t e = idx % d.D, r = (idx / d.D) % rows, n = idx / (d.D * rows);
    const T* in = ws + n * lay.total + in_off + r * cin;
    const T* wr = wt + e * cin;
    T s = 0;
    for (int64_t c = 0; c < cin; ++c) s += in[c] * wr[c];
    ws[n * lay.total + out_off + r * d.D + e] = s;
  }
}

// One thread per (sample, query token, head): softmax over that axis' keys, written to att.
template <class T>
__global__ void attend_kernel(PoolAttentionDims d, const T* cm, T* ws) {
  const Layout lay(d);
  const int64_t L = d.T + d.V + d.I, dh = d.D / d.H, total = d.N * L * d.H;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t h = idx % d.H, l = (idx / d.H) % L, n = idx / (d.H * L);
    T* w = ws + n * lay.total;
    int axis = l < d.T ? 0 : (l < d.T + d.V ? 1 : 2);
    const int64_t s0 = axis == 0 ? 0 : (axis == 1 ? d.T2 : d.T2 + d.V2);
    const int64_t S = axis == 0 ? d.T2 : (axis == 1 ? d.V2 : d.I2);
    bool ctx_any = false;
    for (int64_t i = 0; i < d.I2; ++i) ctx_any = ctx_any || mask_at(cm, n, d.I2, i) > T(0);
    T* out = w + lay.att + l * d.D + h * dh;
    for (int64_t e = 0; e < dh; ++e) out[e] = 0;
    const T* q = w + lay.q + l * d.D + h * dh;
    const T scale = T(1) / sqrt(T(dh));
    auto valid = [&](int64_t s) { return axis == 2 ? mask_at(cm, n, d.I2, s) > T(0) : ctx_any; };
    T mx = 0;
    bool any = false;
    for (int64_t s = 0; s < S; ++s) {
      if (!valid(s)) continue;
      const T* k = w + lay.k + (s0 + s) * d.D + h * dh;
      T dot = 0;
      for (int64_t e = 0; e < dh; ++e) dot += q[e] * k[e];
      dot *= scale;
      mx = any ? (dot > mx ? dot : mx) : dot;
      any = true;
    }
    if (!any) continue;
    T z = 0;
    for (int64_t s = 0; s < S; ++s) {
      if (!valid(s)) continue;
      const T* k = w + lay.k + (s0 + s) * d.D + h * dh;
      const T* v = w + lay.v + (s0 + s) * d.D + h * dh;
      T dot = 0;
      for (int64_t e = 0; e < dh; ++e) dot += q[e] * k[e];
      const T p = exp(dot * scale - mx);
      z += p;
      for (int64_t e = 0; e < dh; ++e) out[e] += p * v[e];
    }
    for (int64_t e = 0; e < dh; ++e) out[e] /= z;
  }
}

// One block per sample: out[c] = x_any * sum_axes sum_l w_l (tq[l][c] + att[l] . wo[c]).
template <class T>
__global__ void pool_kernel(PoolAttentionDims d, const T* xm, const T* wo, const T* ws, T* out) {
  const Layout lay(d);
  const int64_t n = blockIdx.x, L = d.T + d.V + d.I;
  const T* w = ws + n * lay.total;
  T xsum = 0;
  bool x_any = false;
  for (int64_t i = 0; i < d.I; ++i) {
    const T m = mask_at(xm, n, d.I, i);
    xsum += m;
    x_any = x_any || m > T(0);
  }
  const T inv_x = T(1) / (xsum > T(1e-6) ? xsum : T(1e-6));
  for (int64_t c = threadIdx.x; c < d.C; c += blockDim.x) {
    T acc = 0;
    for (int64_t l = 0; l < L; ++l) {
      const T pw = l < d.T ? T(1) / T(d.T)
                           : (l < d.T + d.V ? T(1) / T(d.V) : mask_at(xm, n, d.I, l - d.T - d.V) * inv_x);
      T upd = w[lay.tq + l * d.C + c];
      const T* a = w + lay.att + l * d.D;
      const T* wr = wo + c * d.D;
      for (int64_t e = 0; e < d.D; ++e) upd += a[e] * wr[e];
      acc += pw * upd;
    }
    out[n * d.C + c] = x_any ? acc : T(0);
  }
}

unsigned grid_for(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return unsigned(b < 65535 ? (b > 0 ? b : 1) : 65535);
}

}  // namespace

size_t pool_attention_workspace_bytes(const PoolAttentionDims& d, size_t elem_size) {
  return size_t(d.N * Layout(d).total) * elem_size;
}

template <class T>
int pool_attention_forward_cuda(const PoolAttentionDims& d, const T* x, const T* ctx,
                                const T* x_mask, const T* ctx_mask, const T* wq, const T* wk,
                                const T* wv, const T* wo, T* out, void* workspace,
                                cudaStream_t stream) {
  if (d.N == 0) return 0;
  const Layout lay(d);
  T* ws = static_cast<T*>(workspace);
  const int64_t L = d.T + d.V + d.I, S = d.T2 + d.V2 + d.I2;
  tokens_kernel<T><<<unsigned(d.N), kThreads, 0, stream>>>(d, x, ctx, x_mask, ctx_mask, ws);
  project_kernel<T><<<grid_for(d.N * L * d.D), kThreads, 0, stream>>>(d, L, d.C, lay.tq, lay.q, wq, ws);
  project_kernel<T><<<grid_for(d.N * S * d.D), kThreads, 0, stream>>>(d, S, d.Cc, lay.tk, lay.k, wk, ws);
  project_kernel<T><<<grid_for(d.N * S * d.D), kThreads, 0, stream>>>(d, S, d.Cc, lay.tk, lay.v, wv, ws);
  attend_kernel<T><<<grid_for(d.N * L * d.H), kThreads, 0, stream>>>(d, ctx_mask, ws);
  pool_kernel<T><<<unsigned(d.N), kThreads, 0, stream>>>(d, x_mask, wo, ws, out);
  return int(cudaGetLastError());
}

template int pool_attention_forward_cuda<float>(const PoolAttentionDims&, const float*,
                                                const float*, const float*, const float*,
                                                const float*, const float*, const float*,
                                                const float*, float*, void*, cudaStream_t);
template int pool_attention_forward_cuda<double>(const PoolAttentionDims&, const double*,
                                                 const double*, const double*, const double*,
                                                 const double*, const double*, const double*,
                                                 const double*, double*, void*, cudaStream_t);

}  // namespace bharnet::kernels
