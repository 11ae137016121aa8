// Checks seg_gemm against a plain loop over shapes that hit every tile height, partial vectors,
// several segments with their own strides, and each epilogue part. Built on its own (no Python)
// so the aarch64 NEON build can run under qemu: tests/test_native_step.py compiles and runs it.
// Prints the worst relative difference and exits non-zero above 1e-5.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "runtime/seg_gemm.h"

using bharnet::runtime::Epilogue;
using bharnet::runtime::Seg;
using bharnet::runtime::padded;

int main() {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  double worst = 0.0;
  const int Ms[] = {1, 5, 17, 21, 42};
  const int Ns[] = {1, 3, 10, 14, 16, 17, 40, 64, 100};
  for (int M : Ms)
    for (int N : Ns)
      for (int nseg = 1; nseg <= 3; ++nseg)
        for (int variant = 0; variant < 4; ++variant) {
          const bool bias = variant & 1, res = variant & 2, relu = variant != 0;
          std::vector<std::vector<float>> As, Bs;
          std::vector<Seg> segs;
          for (int s = 0; s < nseg; ++s) {
            const int L = 3 + 7 * s, lda = L + s, ldb = int(padded(N)) + 16 * s;
            As.emplace_back(size_t(M * lda));
            Bs.emplace_back(size_t(L * ldb), 0.0f);
            for (auto& x : As.back()) x = u(rng);
            for (int l = 0; l < L; ++l)
              for (int n = 0; n < N; ++n) Bs.back()[size_t(l * ldb + n)] = u(rng);
            segs.push_back({As.back().data(), lda, Bs.back().data(), ldb, L});
          }
          std::vector<float> b(size_t(padded(N)), 0.0f), r(size_t(M * (N + 3))), y(size_t(M * (N + 5)), 9.0f);
          for (int n = 0; n < N; ++n) b[size_t(n)] = u(rng);
          for (auto& x : r) x = u(rng);
          const Epilogue e{bias ? b.data() : nullptr, res ? r.data() : nullptr, N + 3, relu};
          bharnet::runtime::seg_gemm(M, N, segs.data(), nseg, e, y.data(), N + 5);
          for (int m = 0; m < M; ++m)
            for (int n = 0; n < N + 5; ++n) {
              if (n >= N) {  // never written past N
                if (y[size_t(m * (N + 5) + n)] != 9.0f) worst = 1.0;
                continue;
              }
              double want = bias ? b[size_t(n)] : 0.0;
              if (res) want += r[size_t(m * (N + 3) + n)];
              for (int s = 0; s < nseg; ++s)
                for (int l = 0; l < segs[size_t(s)].L; ++l)
                  want += double(segs[size_t(s)].A[m * segs[size_t(s)].lda + l]) *
                          segs[size_t(s)].B[l * segs[size_t(s)].ldb + n];
              if (relu && want < 0) want = 0;
              worst = std::fmax(worst, std::fabs(want - y[size_t(m * (N + 5) + n)]) / (1.0 + std::fabs(want)));
            }
        }
  std::printf("%s %.3g\n", bharnet::runtime::seg_gemm_isa(), worst);
  return worst <= 1e-5 ? 0 : 1;
}
