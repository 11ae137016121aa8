// CPU pooling-attention. Work per sample is small (a few dozen tokens), so samples run in
// parallel and everything inside one sample is sequential. The output projection is linear,
// so it is applied once to the pooled attention output instead of to every token.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/parallel.h"
#include "kernels/pool_attention.h"

namespace bharnet::kernels {
namespace {

// Token sequences of one sample of a [C,T,V,I] feature: tok_t [T][C], tok_v [V][C], tok_i [I][C].
template <class T>
void axis_tokens(const T* f, int64_t C, int64_t Tn, int64_t V, int64_t I, const T* m, T* tok_t,
                 T* tok_v, T* tok_i) {
  T msum = 0;
  for (int64_t i = 0; i < I; ++i) msum += m[i];
  const T inv_m = T(1) / std::max(msum, T(1e-6));
  const T inv_t = T(1) / T(Tn), inv_v = T(1) / T(V), inv_tv = T(1) / T(Tn * V);
  std::fill(tok_v, tok_v + V * C, T(0));
  std::fill(tok_i, tok_i + I * C, T(0));
  for (int64_t c = 0; c < C; ++c) {
    const T* fc = f + c * Tn * V * I;
    for (int64_t t = 0; t < Tn; ++t) {
      T row = 0;
      for (int64_t v = 0; v < V; ++v) {
        const T* p = fc + (t * V + v) * I;
        T inst = 0;
        for (int64_t i = 0; i < I; ++i) {
          inst += p[i] * m[i];
          tok_i[i * C + c] += p[i];
        }
        inst *= inv_m;
        row += inst;
        tok_v[v * C + c] += inst;
      }
      tok_t[t * C + c] = row * inv_v;
    }
  }
  for (int64_t j = 0; j < V * C; ++j) tok_v[j] *= inv_t;
  for (int64_t j = 0; j < I * C; ++j) tok_i[j] *= inv_tv;
}

// Weighted sum over the query tokens of the attention output (before the output projection):
// acc[D] += sum_l pool_w[l] * softmax(q_l k^T / sqrt(dh)) v, per head; masked keys excluded.
template <class T>
void attend_pooled(int64_t L, int64_t S, int64_t D, int64_t H, const T* q, const T* k, const T* v,
                   const char* key_valid, const T* pool_w, T* acc) {
  const int64_t dh = D / H;
  const T scale = T(1) / std::sqrt(T(dh));
  std::vector<T> p(static_cast<size_t>(S));
  for (int64_t h = 0; h < H; ++h)
    for (int64_t l = 0; l < L; ++l) {
      if (pool_w[l] == T(0)) continue;
      const T* ql = q + l * D + h * dh;
      T mx = -std::numeric_limits<T>::infinity();
      for (int64_t s = 0; s < S; ++s) {
        if (!key_valid[s]) continue;
        const T* ks = k + s * D + h * dh;
        T dot = 0;
        for (int64_t e = 0; e < dh; ++e) dot += ql[e] * ks[e];
        p[s] = dot * scale;
        mx = std::max(mx, p[s]);
      }
      T z = 0;
      for (int64_t s = 0; s < S; ++s) {
        p[s] = key_valid[s] ? std::exp(p[s] - mx) : T(0);
        z += p[s];
      }
      const T wz = pool_w[l] / z;
      for (int64_t s = 0; s < S; ++s) {
        if (p[s] == T(0)) continue;
        const T a = p[s] * wz;
        const T* vs = v + s * D + h * dh;
        for (int64_t e = 0; e < dh; ++e) acc[h * dh + e] += a * vs[e];
      }
    }
}

}  // namespace

template <class T>
void pool_attention_forward_cpu(const PoolAttentionDims& d, const T* x, const T* ctx,
                                const T* x_mask, const T* ctx_mask, const T* wq, const T* wk,
                                const T* wv, const T* wo, T* out) {
  const int64_t C = d.C, Cc = d.Cc, D = d.D;

  const int64_t Lx[3] = {d.T, d.V, d.I}, Sc[3] = {d.T2, d.V2, d.I2};
  const int64_t Lsum = d.T + d.V + d.I, Ssum = d.T2 + d.V2 + d.I2;

  parallel_for(d.N, [&](int64_t n) {
    std::vector<T> xm(size_t(d.I), T(1)), cm(size_t(d.I2), T(1));
    if (x_mask) std::copy(x_mask + n * d.I, x_mask + (n + 1) * d.I, xm.begin());
    if (ctx_mask) std::copy(ctx_mask + n * d.I2, ctx_mask + (n + 1) * d.I2, cm.begin());
    T* o = out + n * C;
    std::fill(o, o + C, T(0));
    bool x_any = false, ctx_any = false;
    for (T v : xm) x_any = x_any || v > T(0);
    for (T v : cm) ctx_any = ctx_any || v > T(0);
    if (!x_any) return;

    std::vector<T> tq(size_t(Lsum * C)), tk(size_t(Ssum * Cc));
    axis_tokens(x + n * C * d.T * d.V * d.I, C, d.T, d.V, d.I, xm.data(), tq.data(),
                tq.data() + d.T * C, tq.data() + (d.T + d.V) * C);
    axis_tokens(ctx + n * Cc * d.T2 * d.V2 * d.I2, Cc, d.T2, d.V2, d.I2, cm.data(), tk.data(),
                tk.data() + d.T2 * Cc, tk.data() + (d.T2 + d.V2) * Cc);
    // All three axes' tokens share the projections, so each is one GEMM over the stacked tokens.
    std::vector<T> q(size_t(Lsum * D)), kk(size_t(Ssum * D)), vv(size_t(Ssum * D));
    // The weights are [D, C] row-major, i.e. already the B^T the dot-product GEMM wants.
    gemm_nt<T>(Lsum, D, C, tq.data(), C, wq, C, q.data(), D, false);
    gemm_nt<T>(Ssum, D, Cc, tk.data(), Cc, wk, Cc, kk.data(), D, false);
    gemm_nt<T>(Ssum, D, Cc, tk.data(), Cc, wv, Cc, vv.data(), D, false);

    T xsum = 0;
    for (T v : xm) xsum += v;
    const T inv_x = T(1) / std::max(xsum, T(1e-6));
    std::vector<T> attn(size_t(D), T(0)), pool_w;
    std::vector<char> valid_c;
    int64_t lo = 0, so = 0;
    for (int a = 0; a < 3; ++a) {
      const int64_t L = Lx[a], S = Sc[a];
      pool_w.assign(size_t(L), L > 0 ? T(1) / T(L) : T(0));
      if (a == 2)
        for (int64_t l = 0; l < L; ++l) pool_w[l] = xm[l] * inv_x;
      // residual path: the pooled query tokens themselves
      for (int64_t l = 0; l < L; ++l)
        for (int64_t c = 0; c < C; ++c) o[c] += pool_w[l] * tq[(lo + l) * C + c];
      valid_c.assign(size_t(S), 0);
      bool any = false;
      for (int64_t s = 0; s < S; ++s) {
        valid_c[s] = a == 2 ? cm[s] > T(0) : ctx_any;
        any = any || valid_c[s];
      }
      if (any && S > 0)
        attend_pooled(L, S, D, d.H, q.data() + lo * D, kk.data() + so * D, vv.data() + so * D,
                      valid_c.data(), pool_w.data(), attn.data());
      lo += L;
      so += S;
    }
    // o += attn @ wo^T
    gemm_nt<T>(1, C, D, attn.data(), D, wo, D, o, C, true);
  });
}

template void pool_attention_forward_cpu<float>(const PoolAttentionDims&, const float*,
                                                const float*, const float*, const float*,
                                                const float*, const float*, const float*,
                                                const float*, float*);
template void pool_attention_forward_cpu<double>(const PoolAttentionDims&, const double*,
                                                 const double*, const double*, const double*,
                                                 const double*, const double*, const double*,
                                                 const double*, double*);

}  // namespace bharnet::kernels
