// CPU graph convolution. Per sample, the joint mixing runs first, Z[k,c] = A_k^T x[c]^T, then
// the channel mixing y = sum_k W_k Z_k as one GEMM with the long (w,t) axis innermost. Working
// in [.., w, t] order (time innermost) vectorises over T, which is a multiple of the vector
// width for real inputs, instead of over V (17, 21, 25), which never is. Inputs and outputs
// keep the [.., t, v] layout; the transposes happen on tiles that are already in cache.
#include <algorithm>
#include <cstring>
#include <memory>

#include "kernels/gemm.h"
#include "kernels/graph_conv.h"
#include "kernels/parallel.h"

namespace bharnet::kernels {
namespace {

// Uninitialised scratch: zero-filling megabytes per call would cost as much as a small GEMM.
template <class T>
std::unique_ptr<T[]> scratch(int64_t n) {
  return std::unique_ptr<T[]>(new T[size_t(n)]);
}

// Output columns per channel-mixing task: a multiple of every vector panel width in use
// (16, 32, 48, 64 floats) whenever T divides it, e.g. T = 64, 32, 24, 16, 12.
constexpr int64_t kColumns = 192;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Splits n rows into blocks of about `target`, rounded up to a multiple of the GEMM row tiles.
struct Blocks {
  int64_t size, count;
  // 24: whole register tiles for both row-tile heights in use (6 and 8).
  Blocks(int64_t n, int64_t target, int64_t multiple = 24) {
    int64_t nb = std::max<int64_t>(1, ceil_div(n, target));
    size = ceil_div(ceil_div(n, nb), multiple) * multiple;
    count = ceil_div(n, size);
  }
  int64_t begin(int64_t i) const { return i * size; }
  int64_t len(int64_t i, int64_t n) const { return std::min(size, n - i * size); }
};

// Samples processed per pass: enough to keep every thread busy, bounded so the scratch stays
// within a fixed budget.
int64_t group_size(int64_t N, size_t bytes_per_sample) {
  const size_t budget = size_t(256) << 20;
  int64_t g = std::max<int64_t>(8, 2 * num_threads());
  g = std::min<int64_t>(g, std::max<int64_t>(1, int64_t(budget / std::max<size_t>(bytes_per_sample, 1))));
  return std::min(g, N);
}

// src [R][S] -> dst [S][R] with a destination row stride.
template <class T>
void transpose(const T* src, int64_t R, int64_t S, T* dst, int64_t ld_dst) {
  for (int64_t r = 0; r < R; ++r)
    for (int64_t s = 0; s < S; ++s) dst[s * ld_dst + r] = src[r * S + s];
}

// Z[k][c][w][t] = sum_v A[k,v,w] x[c,t,v] for one sample and channel. xt: [V][T] scratch.
template <class T>
void joint_mix(const GraphConvDims& d, const T* x_c, const T* A, T* xt, T* Z, int64_t c) {
  const int64_t V = d.V, Tn = d.T, VT = d.V * d.T;
  transpose(x_c, Tn, V, xt, Tn);
  for (int64_t k = 0; k < d.K; ++k)
    gemm_nn<T>(V, Tn, V, A + k * V * V, 1, V, xt, Tn, Z + (k * d.C + c) * VT, Tn, false);
}

}  // namespace

template <class T>
void graph_conv_forward_cpu(const GraphConvDims& d, const T* x, const T* A, const T* W, const T* b,
                            const T* residual, bool relu, T* y) {
  const int64_t C = d.C, Tn = d.T, V = d.V, K = d.K, O = d.O, VT = V * Tn;
  if (d.N == 0 || O == 0 || VT == 0) return;
  const int64_t G = group_size(d.N, size_t(K * C * VT) * sizeof(T));
  auto Zbuf = scratch<T>(G * K * C * VT);
  const Blocks ob(O, 48);
  const Blocks wb(V, std::max<int64_t>(1, kColumns / Tn), 1);
  const Blocks cg(C, 16, 1);  // channels per joint-mixing task
  // W as [O][K*C], so the sum over k and c is one reduction held in registers.
  auto Wr = scratch<T>(O * K * C);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t o = 0; o < O; ++o)
      std::memcpy(Wr.get() + (o * K + k) * C, W + (k * O + o) * C, sizeof(T) * C);

  for (int64_t n0 = 0; n0 < d.N; n0 += G) {
    const int64_t g = std::min(G, d.N - n0);
    parallel_for(g * cg.count, [&](int64_t task) {
      const int64_t i = task / cg.count, c0 = cg.begin(task % cg.count);
      auto xt = scratch<T>(VT);
      for (int64_t c = c0; c < c0 + cg.len(task % cg.count, C); ++c)
        joint_mix(d, x + ((n0 + i) * C + c) * VT, A, xt.get(), Zbuf.get() + i * K * C * VT, c);
    });
    parallel_for(g * ob.count * wb.count, [&](int64_t task) {
      const int64_t i = task / (ob.count * wb.count), r = task % (ob.count * wb.count);
      const int64_t o0 = ob.begin(r / wb.count), no = ob.len(r / wb.count, O);
      const int64_t w0 = wb.begin(r % wb.count), nw = wb.len(r % wb.count, V);
      const int64_t cols = nw * Tn;
      auto tile = scratch<T>(no * cols);
      const T* Z = Zbuf.get() + i * K * C * VT;
      gemm_nn<T>(no, cols, K * C, Wr.get() + o0 * K * C, K * C, 1, Z + w0 * Tn, VT, tile.get(),
                 cols, false);
      const int64_t n = n0 + i;
      for (int64_t o = 0; o < no; ++o) {
        const T bias = b ? b[o0 + o] : T(0);
        T* yo = y + (n * O + o0 + o) * VT;
        const T* ro = residual ? residual + (n * O + o0 + o) * VT : nullptr;
        for (int64_t w = 0; w < nw; ++w) {
          const T* src = tile.get() + o * cols + w * Tn;
          for (int64_t t = 0; t < Tn; ++t) {
            const int64_t at = t * V + w0 + w;
            T v = src[t] + bias;
            if (ro) v += ro[at];
            yo[at] = relu && v < T(0) ? T(0) : v;
          }
        }
      }
    });
  }
}

template <class T>
void graph_conv_backward_cpu(const GraphConvDims& d, const T* gy, const T* x, const T* A,
                             const T* W, const T* y_out, bool relu, T* gx, T* gA, T* gW, T* gb,
                             T* g_pre) {
  const int64_t C = d.C, Tn = d.T, V = d.V, K = d.K, O = d.O, VT = V * Tn, CT = C * Tn;
  std::fill(gA, gA + K * V * V, T(0));
  std::fill(gW, gW + K * O * C, T(0));
  if (gb) std::fill(gb, gb + O, T(0));
  if (d.N == 0 || VT == 0) {
    std::fill(gx, gx + d.N * C * VT, T(0));
    if (g_pre) std::fill(g_pre, g_pre + d.N * O * VT, T(0));
    return;
  }
  // Per sample: Z, later overwritten by gZ [K][C][V][T]; gt [O][V][T]; xv [V][C][T];
  // gZv [K][V][C][T] (the layouts the dA reduction wants contiguous).
  const int64_t zs = K * C * VT, gs = O * VT, xs = C * VT;
  const int64_t G = group_size(d.N, size_t(2 * zs + gs + xs) * sizeof(T));
  auto Zb = scratch<T>(G * zs), gtb = scratch<T>(G * gs), xvb = scratch<T>(G * xs), gZvb = scratch<T>(G * zs);
  const Blocks ob(O, 48), cb(C, 48), cb_nt(C, 48, 4), ob_nt(O, 48, 4);
  const Blocks wb(V, std::max<int64_t>(1, kColumns / Tn), 1);
  const Blocks vb(V, ceil_div(V, 2), 1);

  for (int64_t n0 = 0; n0 < d.N; n0 += G) {
    const int64_t g = std::min(G, d.N - n0);
    // gradient before the ReLU, transposed to [o][w][t]
    parallel_for(g * O, [&](int64_t task) {
      const int64_t i = task / O, o = task % O, off = ((n0 + i) * O + o) * VT;
      T* dst = gtb.get() + i * gs + o * VT;
      for (int64_t t = 0; t < Tn; ++t)
        for (int64_t w = 0; w < V; ++w) {
          T v = gy[off + t * V + w];
          if (relu && !(y_out[off + t * V + w] > T(0))) v = T(0);
          dst[w * Tn + t] = v;
          if (g_pre) g_pre[off + t * V + w] = v;
        }
    });
    parallel_for(g * C, [&](int64_t task) {
      const int64_t i = task / C, c = task % C;
      T* xt = xvb.get() + i * xs;  // [V][C][T]: the per-channel [V][T] slab is strided by CT
      const T* xc = x + ((n0 + i) * C + c) * VT;
      transpose(xc, Tn, V, xt + c * Tn, CT);
      T* Z = Zb.get() + i * zs;
      for (int64_t k = 0; k < K; ++k)
        gemm_nn<T>(V, Tn, V, A + k * V * V, 1, V, xt + c * Tn, CT, Z + (k * C + c) * VT, Tn, false);
    });
    // dW[k,o,c] += sum_j g[o,j] Z[k,c,j] and db; each task owns its block of dW, so no races.
    parallel_for(K * ob_nt.count * cb_nt.count, [&](int64_t task) {
      const int64_t k = task / (ob_nt.count * cb_nt.count), r = task % (ob_nt.count * cb_nt.count);
      const int64_t o0 = ob_nt.begin(r / cb_nt.count), no = ob_nt.len(r / cb_nt.count, O);
      const int64_t c0 = cb_nt.begin(r % cb_nt.count), nc = cb_nt.len(r % cb_nt.count, C);
      for (int64_t i = 0; i < g; ++i) {
        const T* gt = gtb.get() + i * gs;
        gemm_nt<T>(no, nc, VT, gt + o0 * VT, VT, Zb.get() + i * zs + (k * C + c0) * VT, VT,
                   gW + (k * O + o0) * C + c0, C, true);
        if (gb && k == 0 && c0 == 0)
          for (int64_t o = o0; o < o0 + no; ++o) {
            T s = 0;
            for (int64_t j = 0; j < VT; ++j) s += gt[o * VT + j];
            gb[o] += s;
          }
      }
    });
    // gZ[k,c,j] = sum_o W[k,o,c] g[o,j], written over Z
    parallel_for(g * K * cb.count * wb.count, [&](int64_t task) {
      const int64_t i = task / (K * cb.count * wb.count);
      int64_t r = task % (K * cb.count * wb.count);
      const int64_t k = r / (cb.count * wb.count);
      r %= cb.count * wb.count;
      const int64_t c0 = cb.begin(r / wb.count), nc = cb.len(r / wb.count, C);
      const int64_t w0 = wb.begin(r % wb.count), nw = wb.len(r % wb.count, V);
      gemm_nn<T>(nc, nw * Tn, O, W + k * O * C + c0, 1, C, gtb.get() + i * gs + w0 * Tn, VT,
                 Zb.get() + i * zs + (k * C + c0) * VT + w0 * Tn, VT, false);
    });
    // dx[c] = sum_k A_k gZ[k,c], and gZ re-laid out as [K][V][C][T] for dA
    parallel_for(g * C, [&](int64_t task) {
      const int64_t i = task / C, c = task % C;
      const T* gZ = Zb.get() + i * zs;
      auto gxt = scratch<T>(VT);
      for (int64_t k = 0; k < K; ++k)
        gemm_nn<T>(V, Tn, V, A + k * V * V, V, 1, gZ + (k * C + c) * VT, Tn, gxt.get(), Tn, k > 0);
      transpose(gxt.get(), V, Tn, gx + ((n0 + i) * C + c) * VT, V);
      T* gZv = gZvb.get() + i * zs;
      for (int64_t k = 0; k < K; ++k)
        for (int64_t w = 0; w < V; ++w)
          std::memcpy(gZv + (k * V + w) * CT + c * Tn, gZ + ((k * C + c) * V + w) * Tn,
                      sizeof(T) * Tn);
    });
    // dA[k,v,w] += sum_(c,t) x[v,(c,t)] gZ[k,w,(c,t)]
    parallel_for(K * vb.count, [&](int64_t task) {
      const int64_t k = task / vb.count, v0 = vb.begin(task % vb.count), nv = vb.len(task % vb.count, V);
      for (int64_t i = 0; i < g; ++i)
        gemm_nt<T>(nv, V, CT, xvb.get() + i * xs + v0 * CT, CT, gZvb.get() + i * zs + k * V * CT,
                   CT, gA + (k * V + v0) * V, V, true);
    });
  }
}

#define BHARNET_INSTANTIATE(T)                                                                   \
  template void graph_conv_forward_cpu<T>(const GraphConvDims&, const T*, const T*, const T*,    \
                                          const T*, const T*, bool, T*);                         \
  template void graph_conv_backward_cpu<T>(const GraphConvDims&, const T*, const T*, const T*,   \
                                           const T*, const T*, bool, T*, T*, T*, T*, T*);
BHARNET_INSTANTIATE(float)
BHARNET_INSTANTIATE(double)
#undef BHARNET_INSTANTIATE

}  // namespace bharnet::kernels
