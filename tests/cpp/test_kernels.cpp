// The CPU kernels (csrc/kernels) against plain double-precision loops written from their
// definitions (gemm.h, graph_conv.h, pool_attention.h; python/bharnet/ops/reference.py is the
// specification of pool-attention). Runs on whatever ISA path the dispatcher picks, so the
// caller runs it once per path (BHARNET_CPU_ISA caps the choice): tests/cpp/run_kernel_test.py.
//
// Each output array is one check. An element passes when |got - want| <= tol * scale, where scale
// is the sum of the absolute values of the terms that make it up (so the bound is independent of
// cancellation) or 1 + |want| for the attention outputs. Prints one summary line
//   kernel-test isa=<name> checks=<n> failed=<k> max_rel_err_f32=<e> max_rel_err_f64=<e>
// (the worst |got - want| / scale per precision) and exits 1 if any check failed.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/graph_conv.h"
#include "kernels/parallel.h"
#include "kernels/pool_attention.h"

using namespace bharnet::kernels;
using Vd = std::vector<double>;

namespace {

int g_checks = 0, g_failed = 0;
double g_worst[2] = {0, 0};  // worst |got - want| / (tol * scale), for float and double

template <class T> constexpr double tol();
template <> constexpr double tol<float>() { return 2e-5; }
template <> constexpr double tol<double>() { return 1e-12; }
template <class T> constexpr int kind() { return sizeof(T) == 4 ? 0 : 1; }
template <class T> const char* tname() { return sizeof(T) == 4 ? "f32" : "f64"; }

std::mt19937_64 g_rng(20240611);

template <class T>
std::vector<T> random_vec(int64_t n, double lo = -1.0, double hi = 1.0) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = T(u(g_rng));
  return v;
}

template <class T>
Vd widen(const std::vector<T>& v) { return Vd(v.begin(), v.end()); }

// want and scale have got's size; scale may be empty, meaning 1 + |want|.
template <class T>
void check(const std::string& what, const T* got, const Vd& want, const Vd& scale) {
  ++g_checks;
  double worst = 0;
  int64_t bad = -1;
  for (size_t i = 0; i < want.size(); ++i) {
    const double s = scale.empty() ? 1.0 + std::fabs(want[i]) : scale[i] + 1e-30;
    const double r = std::fabs(double(got[i]) - want[i]) / (tol<T>() * s);
    if (!(r <= 1.0) && bad < 0) bad = int64_t(i);  // also catches NaN
    if (r > worst || r != r) worst = r;
  }
  if (worst > g_worst[kind<T>()] || worst != worst) g_worst[kind<T>()] = worst;
  if (bad >= 0) {
    ++g_failed;
    std::printf("FAIL %s [%s]: element %lld got %.9g want %.9g (error %.3g x tolerance)\n",
                what.c_str(), tname<T>(), (long long)bad, double(got[bad]), want[bad], worst);
  }
}

// ---- GEMM ------------------------------------------------------------------------------------
template <class T>
void test_gemm(int64_t M, int64_t N, int64_t L, bool acc) {
  const std::string dims = std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(L) +
                           (acc ? " acc" : "");
  // nn with A addressed both ways: row-major (a_row=L, a_col=1) and transposed (1, M)
  for (int transposed = 0; transposed < 2; ++transposed) {
    const int64_t ldb = N + 3, ldc = N + 5;
    const int64_t ar = transposed ? 1 : L, ac = transposed ? M : 1;
    auto A = random_vec<T>(M * L), B = random_vec<T>(L * ldb), C = random_vec<T>(M * ldc);
    Vd want = widen(C), scale(size_t(M * ldc), 0.0);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = acc ? want[i * ldc + j] : 0.0, a = acc ? std::fabs(want[i * ldc + j]) : 0.0;
        for (int64_t l = 0; l < L; ++l) {
          const double p = double(A[i * ar + l * ac]) * double(B[l * ldb + j]);
          s += p;
          a += std::fabs(p);
        }
        want[i * ldc + j] = s;
        scale[i * ldc + j] = a;
      }
    for (int64_t i = 0; i < M; ++i)  // padding columns must be left alone: exact
      for (int64_t j = N; j < ldc; ++j) scale[i * ldc + j] = 0.0;
    gemm_nn<T>(M, N, L, A.data(), ar, ac, B.data(), ldb, C.data(), ldc, acc);
    check<T>("gemm_nn " + dims + (transposed ? " A^T" : ""), C.data(), want, scale);
  }
  {  // nt: C[M,N] (+)= A[M,L] B[N,L]^T
    const int64_t lda = L + 2, ldb = L + 1, ldc = N + 4;
    auto A = random_vec<T>(M * lda), B = random_vec<T>(N * ldb), C = random_vec<T>(M * ldc);
    Vd want = widen(C), scale(size_t(M * ldc), 0.0);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = acc ? want[i * ldc + j] : 0.0, a = acc ? std::fabs(want[i * ldc + j]) : 0.0;
        for (int64_t l = 0; l < L; ++l) {
          const double p = double(A[i * lda + l]) * double(B[j * ldb + l]);
          s += p;
          a += std::fabs(p);
        }
        want[i * ldc + j] = s;
        scale[i * ldc + j] = a;
      }
    gemm_nt<T>(M, N, L, A.data(), lda, B.data(), ldb, C.data(), ldc, acc);
    check<T>("gemm_nt " + dims, C.data(), want, scale);
  }
}

// ---- graph convolution -------------------------------------------------------------------------
// xa[n,k,c,t,w] = sum_v x[n,c,t,v] A[k,v,w] (and its absolute-value twin)
template <class T>
void ref_joint_mix(const GraphConvDims& d, const std::vector<T>& x, const std::vector<T>& A,
                   Vd& xa, Vd& xa_abs) {
  const int64_t C = d.C, Tn = d.T, V = d.V, K = d.K;
  xa.assign(size_t(d.N * K * C * Tn * V), 0.0);
  xa_abs.assign(xa.size(), 0.0);
  for (int64_t n = 0; n < d.N; ++n)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t t = 0; t < Tn; ++t)
          for (int64_t w = 0; w < V; ++w) {
            double s = 0, a = 0;
            for (int64_t v = 0; v < V; ++v) {
              const double p = double(x[((n * C + c) * Tn + t) * V + v]) * double(A[(k * V + v) * V + w]);
              s += p;
              a += std::fabs(p);
            }
            const size_t i = size_t((((n * K + k) * C + c) * Tn + t) * V + w);
            xa[i] = s;
            xa_abs[i] = a;
          }
}

template <class T>
void test_graph_conv(const GraphConvDims& d, bool bias, bool residual, bool relu) {
  const int64_t C = d.C, Tn = d.T, V = d.V, K = d.K, O = d.O, VT = V * Tn;
  char buf[160];
  std::snprintf(buf, sizeof buf, "graph_conv N%lld C%lld T%lld V%lld K%lld O%lld%s%s%s",
                (long long)d.N, (long long)C, (long long)Tn, (long long)V, (long long)K,
                (long long)O, bias ? " bias" : "", residual ? " residual" : "", relu ? " relu" : "");
  const std::string name = buf;
  auto x = random_vec<T>(d.N * C * VT), A = random_vec<T>(K * V * V, -0.5, 0.5);
  auto W = random_vec<T>(K * O * C), b = random_vec<T>(O), res = random_vec<T>(d.N * O * VT);
  Vd xa, xa_abs;
  ref_joint_mix(d, x, A, xa, xa_abs);

  // forward: y = relu(sum_k W_k xa_k + b + residual)
  Vd want(size_t(d.N * O * VT)), scale(want.size());
  for (int64_t n = 0; n < d.N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t t = 0; t < Tn; ++t)
        for (int64_t w = 0; w < V; ++w) {
          const size_t i = size_t(((n * O + o) * Tn + t) * V + w);
          double s = bias ? double(b[o]) : 0.0, a = std::fabs(s);
          if (residual) {
            s += double(res[i]);
            a += std::fabs(double(res[i]));
          }
          for (int64_t k = 0; k < K; ++k)
            for (int64_t c = 0; c < C; ++c) {
              const size_t j = size_t((((n * K + k) * C + c) * Tn + t) * V + w);
              s += double(W[(k * O + o) * C + c]) * xa[j];
              a += std::fabs(double(W[(k * O + o) * C + c])) * xa_abs[j];
            }
          want[i] = relu && s < 0 ? 0.0 : s;
          scale[i] = a;
        }
  std::vector<T> y(want.size());
  graph_conv_forward_cpu<T>(d, x.data(), A.data(), W.data(), bias ? b.data() : nullptr,
                            residual ? res.data() : nullptr, relu, y.data());
  check<T>(name + " forward", y.data(), want, scale);

  // backward, with the kernel's own y as y_out (the ReLU mask is then the same on both sides)
  auto gy = random_vec<T>(d.N * O * VT);
  Vd gpre(gy.size());
  for (size_t i = 0; i < gy.size(); ++i) gpre[i] = relu && !(y[i] > T(0)) ? 0.0 : double(gy[i]);
  Vd want_gb(size_t(O), 0.0), scale_gb(size_t(O), 0.0);
  Vd want_gW(size_t(K * O * C), 0.0), scale_gW(want_gW.size(), 0.0);
  // gZ[n,k,c,t,w] = sum_o W[k,o,c] gpre[n,o,t,w]
  Vd gZ(xa.size(), 0.0), gZ_abs(xa.size(), 0.0);
  for (int64_t n = 0; n < d.N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t j = 0; j < VT; ++j) {
        const double g = gpre[size_t((n * O + o) * VT + j)];
        want_gb[o] += g;
        scale_gb[o] += std::fabs(g);
        for (int64_t k = 0; k < K; ++k)
          for (int64_t c = 0; c < C; ++c) {
            const size_t z = size_t(((n * K + k) * C + c) * VT + j);
            const size_t wi = size_t((k * O + o) * C + c);
            want_gW[wi] += g * xa[z];
            scale_gW[wi] += std::fabs(g) * xa_abs[z];
            gZ[z] += double(W[wi]) * g;
            gZ_abs[z] += std::fabs(double(W[wi]) * g);
          }
      }
  Vd want_gx(x.size(), 0.0), scale_gx(x.size(), 0.0);
  Vd want_gA(A.size(), 0.0), scale_gA(A.size(), 0.0);
  for (int64_t n = 0; n < d.N; ++n)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t t = 0; t < Tn; ++t)
          for (int64_t v = 0; v < V; ++v) {
            const size_t xi = size_t(((n * C + c) * Tn + t) * V + v);
            for (int64_t w = 0; w < V; ++w) {
              const size_t z = size_t((((n * K + k) * C + c) * Tn + t) * V + w);
              const size_t ai = size_t((k * V + v) * V + w);
              want_gx[xi] += double(A[ai]) * gZ[z];
              scale_gx[xi] += std::fabs(double(A[ai])) * gZ_abs[z];
              want_gA[ai] += double(x[xi]) * gZ[z];
              scale_gA[ai] += std::fabs(double(x[xi])) * gZ_abs[z];
            }
          }
  // outputs start as garbage: the kernel must overwrite, not accumulate
  auto gx = random_vec<T>(int64_t(x.size())), gA = random_vec<T>(int64_t(A.size()));
  auto gW = random_vec<T>(int64_t(W.size())), gb = random_vec<T>(O), gp = random_vec<T>(int64_t(gy.size()));
  graph_conv_backward_cpu<T>(d, gy.data(), x.data(), A.data(), W.data(), y.data(), relu, gx.data(),
                             gA.data(), gW.data(), bias ? gb.data() : nullptr,
                             residual ? gp.data() : nullptr);
  check<T>(name + " grad x", gx.data(), want_gx, scale_gx);
  check<T>(name + " grad A", gA.data(), want_gA, scale_gA);
  check<T>(name + " grad W", gW.data(), want_gW, scale_gW);
  if (bias) check<T>(name + " grad b", gb.data(), want_gb, scale_gb);
  if (residual) check<T>(name + " grad pre-relu", gp.data(), gpre, Vd(gpre.size(), 0.0));
}

// ---- pooling attention -------------------------------------------------------------------------
// tokens of one sample of f [C,T,V,I]: [T][C], [V][C], [I][C] (reference.axis_tokens)
void ref_tokens(const Vd& f, int64_t C, int64_t Tn, int64_t V, int64_t I, const Vd& m, Vd& tt,
                Vd& tv, Vd& ti) {
  double msum = 0;
  for (double x : m) msum += x;
  const double denom = std::max(msum, 1e-6);
  tt.assign(size_t(Tn * C), 0.0);
  tv.assign(size_t(V * C), 0.0);
  ti.assign(size_t(I * C), 0.0);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t t = 0; t < Tn; ++t)
      for (int64_t v = 0; v < V; ++v) {
        double inst = 0;
        for (int64_t i = 0; i < I; ++i) {
          const double x = f[size_t(((c * Tn + t) * V + v) * I + i)];
          inst += x * m[size_t(i)];
          ti[size_t(i * C + c)] += x / double(Tn * V);
        }
        inst /= denom;
        tt[size_t(t * C + c)] += inst / double(V);
        tv[size_t(v * C + c)] += inst / double(Tn);
      }
}

// out[C] += sum_l pool_w[l] * (q_tok[l] + MHA(q_tok[l], kv_tok)), reference._cross_attention
void ref_attend(const Vd& q_tok, int64_t L, int64_t C, const Vd& kv_tok, int64_t S, int64_t Cc,
                const std::vector<bool>& key_valid, const Vd& wq, const Vd& wk, const Vd& wv,
                const Vd& wo, int64_t D, int64_t H, const Vd& pool_w, double* out) {
  const int64_t dh = D / H;
  auto proj = [](const Vd& tok, int64_t R, int64_t In, const Vd& w, int64_t Out) {
    Vd r(size_t(R * Out), 0.0);
    for (int64_t i = 0; i < R; ++i)
      for (int64_t o = 0; o < Out; ++o)
        for (int64_t c = 0; c < In; ++c) r[size_t(i * Out + o)] += tok[size_t(i * In + c)] * w[size_t(o * In + c)];
    return r;
  };
  const Vd q = proj(q_tok, L, C, wq, D), k = proj(kv_tok, S, Cc, wk, D), v = proj(kv_tok, S, Cc, wv, D);
  bool any = false;
  for (bool b : key_valid) any = any || b;
  for (int64_t l = 0; l < L; ++l) {
    Vd att(size_t(D), 0.0);
    if (any)
      for (int64_t h = 0; h < H; ++h) {
        Vd p(size_t(S), 0.0);
        double mx = -INFINITY, z = 0;
        for (int64_t s = 0; s < S; ++s) {
          if (!key_valid[size_t(s)]) continue;
          double dot = 0;
          for (int64_t e = 0; e < dh; ++e) dot += q[size_t(l * D + h * dh + e)] * k[size_t(s * D + h * dh + e)];
          p[size_t(s)] = dot / std::sqrt(double(dh));
          mx = std::max(mx, p[size_t(s)]);
        }
        for (int64_t s = 0; s < S; ++s) {
          p[size_t(s)] = key_valid[size_t(s)] ? std::exp(p[size_t(s)] - mx) : 0.0;
          z += p[size_t(s)];
        }
        for (int64_t s = 0; s < S; ++s)
          for (int64_t e = 0; e < dh; ++e) att[size_t(h * dh + e)] += p[size_t(s)] / z * v[size_t(s * D + h * dh + e)];
      }
    for (int64_t c = 0; c < C; ++c) {
      double upd = q_tok[size_t(l * C + c)];
      for (int64_t e = 0; e < D; ++e) upd += att[size_t(e)] * wo[size_t(c * D + e)];
      out[c] += pool_w[size_t(l)] * upd;
    }
  }
}

// mask_mode: 0 no masks (null), 1 random 0/1 masks with one sample lacking every x instance and
// one lacking every ctx instance
template <class T>
void test_pool_attention(const PoolAttentionDims& d, int mask_mode) {
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "pool_attention N%lld x[%lld,%lld,%lld,%lld] ctx[%lld,%lld,%lld,%lld] D%lld H%lld %s",
                (long long)d.N, (long long)d.C, (long long)d.T, (long long)d.V, (long long)d.I,
                (long long)d.Cc, (long long)d.T2, (long long)d.V2, (long long)d.I2, (long long)d.D,
                (long long)d.H, mask_mode ? "masked" : "no masks");
  const int64_t xs = d.C * d.T * d.V * d.I, cs = d.Cc * d.T2 * d.V2 * d.I2;
  auto x = random_vec<T>(d.N * xs), ctx = random_vec<T>(d.N * cs);
  auto wq = random_vec<T>(d.D * d.C), wk = random_vec<T>(d.D * d.Cc), wv = random_vec<T>(d.D * d.Cc);
  auto wo = random_vec<T>(d.C * d.D);
  std::vector<T> xm(size_t(d.N * d.I), T(1)), cm(size_t(d.N * d.I2), T(1));
  if (mask_mode) {
    std::bernoulli_distribution present(0.6);
    for (auto& m : xm) m = present(g_rng) ? T(1) : T(0);
    for (auto& m : cm) m = present(g_rng) ? T(1) : T(0);
    xm[0] = T(1);                                                   // sample 0 keeps an instance
    for (int64_t i = 0; i < d.I; ++i) xm[size_t((d.N - 1) * d.I + i)] = T(0);   // last: none
    if (d.N > 2)
      for (int64_t i = 0; i < d.I2; ++i) cm[size_t(1 * d.I2 + i)] = T(0);       // no ctx at all
  }
  const Vd Wq = widen(wq), Wk = widen(wk), Wv = widen(wv), Wo = widen(wo);
  Vd want(size_t(d.N * d.C), 0.0);
  for (int64_t n = 0; n < d.N; ++n) {
    const Vd xmn(xm.begin() + n * d.I, xm.begin() + (n + 1) * d.I);
    const Vd cmn(cm.begin() + n * d.I2, cm.begin() + (n + 1) * d.I2);
    bool x_any = false, c_any = false;
    for (double m : xmn) x_any = x_any || m > 0;
    for (double m : cmn) c_any = c_any || m > 0;
    if (!x_any) continue;  // zeros
    Vd q[3], k[3];
    ref_tokens(Vd(x.begin() + n * xs, x.begin() + (n + 1) * xs), d.C, d.T, d.V, d.I, xmn, q[0], q[1], q[2]);
    ref_tokens(Vd(ctx.begin() + n * cs, ctx.begin() + (n + 1) * cs), d.Cc, d.T2, d.V2, d.I2, cmn, k[0], k[1], k[2]);
    const int64_t L[3] = {d.T, d.V, d.I}, S[3] = {d.T2, d.V2, d.I2};
    double xsum = 0;
    for (double m : xmn) xsum += m;
    for (int a = 0; a < 3; ++a) {
      std::vector<bool> valid(size_t(S[a]));
      for (int64_t s = 0; s < S[a]; ++s) valid[size_t(s)] = a == 2 ? cmn[size_t(s)] > 0 : c_any;
      Vd pw(size_t(L[a]), 1.0 / double(L[a]));
      if (a == 2)
        for (int64_t l = 0; l < L[a]; ++l) pw[size_t(l)] = xmn[size_t(l)] / std::max(xsum, 1e-6);
      ref_attend(q[a], L[a], d.C, k[a], S[a], d.Cc, valid, Wq, Wk, Wv, Wo, d.D, d.H, pw, &want[size_t(n * d.C)]);
    }
  }
  std::vector<T> out = random_vec<T>(d.N * d.C);  // garbage in: must be overwritten
  pool_attention_forward_cpu<T>(d, x.data(), ctx.data(), mask_mode ? xm.data() : nullptr,
                                mask_mode ? cm.data() : nullptr, wq.data(), wk.data(), wv.data(),
                                wo.data(), out.data());
  check<T>(buf, out.data(), want, Vd());
}

template <class T>
void run_all() {
  // GEMM: tails narrower than a vector, ragged row tiles, L = 0, accumulate on and off
  const int64_t shapes[][3] = {{1, 1, 1},  {5, 3, 7},   {6, 8, 64}, {7, 17, 33}, {13, 4, 2},
                               {12, 33, 9}, {50, 64, 300}, {3, 100, 1}, {9, 5, 0}, {25, 24, 25}};
  for (auto& s : shapes)
    for (int acc = 0; acc < 2; ++acc) test_gemm<T>(s[0], s[1], s[2], acc == 1);
  // graph conv: body/hand joint counts, T that is and is not a multiple of the vector width
  const GraphConvDims gdims[] = {{2, 3, 7, 25, 3, 5}, {1, 16, 12, 21, 3, 16}, {3, 8, 64, 17, 1, 24},
                                 {2, 5, 1, 1, 2, 3},  {9, 6, 13, 19, 3, 50}};
  for (const auto& d : gdims)
    for (int flags = 0; flags < 8; flags += (flags == 0 ? 3 : 4))  // 0, 3, 7: none, bias+res, all
      test_graph_conv<T>(d, flags & 1, flags & 2, flags & 4);
  test_graph_conv<T>(gdims[1], true, false, true);
  const PoolAttentionDims pdims[] = {{3, 8, 5, 7, 2, 6, 4, 9, 3, 8, 2},
                                     {4, 16, 8, 17, 1, 16, 8, 21, 2, 16, 4},
                                     {5, 5, 3, 3, 2, 7, 2, 5, 2, 6, 1}};
  for (const auto& d : pdims)
    for (int masks = 0; masks < 2; ++masks) test_pool_attention<T>(d, masks);
}

}  // namespace

int main() {
  // both the serial path and the pool (more threads than cores is fine and exercises the split)
  for (int threads : {1, 3}) {
    set_num_threads(threads);
    run_all<float>();
    run_all<double>();
  }
  std::printf("kernel-test isa=%s checks=%d failed=%d max_rel_err_f32=%.3g max_rel_err_f64=%.3g\n",
              cpu_isa(), g_checks, g_failed, g_worst[0] * tol<float>(), g_worst[1] * tol<double>());
  return g_failed == 0 ? 0 : 1;
}
