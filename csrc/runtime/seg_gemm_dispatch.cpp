#include <cstdlib>
#include <cstring>

#include "kernels/gemm.h"
#include "runtime/seg_gemm.h"

#define BHARNET_DECLARE_SEG_GEMM(ns)                                                        \
  namespace bharnet::runtime::ns {                                                          \
  void seg_gemm_f32(int64_t, int64_t, const Seg*, int, const Epilogue*, float* const*, int64_t, int64_t); \
  }
BHARNET_DECLARE_SEG_GEMM(baseline)
#if defined(__x86_64__) || defined(_M_X64)
BHARNET_DECLARE_SEG_GEMM(avx2)
BHARNET_DECLARE_SEG_GEMM(avx512)
#endif

namespace bharnet::runtime {
namespace {

using Fn = decltype(&baseline::seg_gemm_f32);

// The same contract on kernels::gemm_nn (one accumulating call per segment, then a pass for the
// epilogue): selected by BHARNET_STEP_GEMM=gemm_nn, to measure what the fused kernel buys.
void via_gemm_nn(int64_t M, int64_t N, const Seg* segs, int nseg, const Epilogue* es, float* const* Ys,
                 int64_t ldy, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b) {
    const Seg* sb = segs + b * nseg;
    const Epilogue& e = es[b];
    float* Y = Ys[b];
    for (int s = 0; s < nseg; ++s)
      kernels::gemm_nn<float>(M, N, sb[s].L, sb[s].A, sb[s].lda, 1, sb[s].B, sb[s].ldb, Y, ldy, s > 0);
    for (int64_t m = 0; m < M; ++m) {
      float* y = Y + m * ldy;
      for (int64_t n = 0; n < N; ++n) {
        float v = y[n] + (e.bias ? e.bias[n] : 0.0f) + (e.res ? e.res[m * e.ldr + n] : 0.0f);
        y[n] = e.relu && v < 0.0f ? 0.0f : v;
      }
    }
  }
}

// Follows the GEMM dispatcher's choice, so BHARNET_CPU_ISA caps both in one place.
Fn pick() {
  const char* impl = std::getenv("BHARNET_STEP_GEMM");
  if (impl != nullptr && std::strcmp(impl, "gemm_nn") == 0) return &via_gemm_nn;
#if defined(__x86_64__) || defined(_M_X64)
  const char* isa = kernels::cpu_isa();
  if (std::strcmp(isa, "avx512") == 0) return &avx512::seg_gemm_f32;
  if (std::strcmp(isa, "avx2") == 0) return &avx2::seg_gemm_f32;
#endif
  return &baseline::seg_gemm_f32;
}

Fn fn() {
  static const Fn f = pick();
  return f;
}

}  // namespace

void seg_gemm(int64_t M, int64_t N, const Seg* segs, int nseg, const Epilogue& e, float* Y,
              int64_t ldy) {
  if (M > 0 && N > 0) fn()(M, N, segs, nseg, &e, &Y, ldy, 1);
}

void seg_gemm_batch(int64_t M, int64_t N, const Seg* segs, int nseg, const Epilogue* e, float* const* Y,
                    int64_t ldy, int64_t nb) {
  if (M > 0 && N > 0 && nb > 0) fn()(M, N, segs, nseg, e, Y, ldy, nb);
}

const char* seg_gemm_isa() {
  const Fn f = fn();
  if (f == &via_gemm_nn) return kernels::cpu_isa();
#if defined(__x86_64__) || defined(_M_X64)
  if (f == &avx512::seg_gemm_f32) return "avx512";
  if (f == &avx2::seg_gemm_f32) return "avx2";
#endif
  (void)f;
  return "baseline";
}

}  // namespace bharnet::runtime
