#include <cstdlib>
#include <cstring>

#include "kernels/gemm.h"
#include "kernels/gemm_isa.h"

namespace bharnet::kernels {
namespace {

struct Table {
  decltype(&baseline::gemm_nn_f32) nn_f32;
  decltype(&baseline::gemm_nn_f64) nn_f64;
  decltype(&baseline::gemm_nt_f32) nt_f32;
  decltype(&baseline::gemm_nt_f64) nt_f64;
  const char* name;
};

#define BHARNET_TABLE(ns) \
  Table { &ns::gemm_nn_f32, &ns::gemm_nn_f64, &ns::gemm_nt_f32, &ns::gemm_nt_f64, #ns }

// BHARNET_CPU_ISA=avx2|baseline caps the choice, to test the narrower paths on a wide CPU.
Table pick() {
  const char* cap = std::getenv("BHARNET_CPU_ISA");
  int level = 2;
  if (cap != nullptr && std::strcmp(cap, "avx2") == 0) level = 1;
  if (cap != nullptr && std::strcmp(cap, "baseline") == 0) level = 0;
#ifdef BHARNET_X86
  __builtin_cpu_init();
  if (level >= 2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl"))
    return BHARNET_TABLE(avx512);
  if (level >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return BHARNET_TABLE(avx2);
#else
  (void)level;
#endif
  return BHARNET_TABLE(baseline);
}

const Table& table() {
  static const Table t = pick();
  return t;
}

}  // namespace

template <>
void gemm_nn<float>(int64_t M, int64_t N, int64_t L, const float* A, int64_t ar, int64_t ac,
                    const float* B, int64_t ldb, float* C, int64_t ldc, bool acc) {
  table().nn_f32(M, N, L, A, ar, ac, B, ldb, C, ldc, acc);
}
template <>
void gemm_nn<double>(int64_t M, int64_t N, int64_t L, const double* A, int64_t ar, int64_t ac,
                     const double* B, int64_t ldb, double* C, int64_t ldc, bool acc) {
  table().nn_f64(M, N, L, A, ar, ac, B, ldb, C, ldc, acc);
}
template <>
void gemm_nt<float>(int64_t M, int64_t N, int64_t L, const float* A, int64_t lda, const float* B,
                    int64_t ldb, float* C, int64_t ldc, bool acc) {
  table().nt_f32(M, N, L, A, lda, B, ldb, C, ldc, acc);
}
template <>
void gemm_nt<double>(int64_t M, int64_t N, int64_t L, const double* A, int64_t lda,
                     const double* B, int64_t ldb, double* C, int64_t ldc, bool acc) {
  table().nt_f64(M, N, L, A, lda, B, ldb, C, ldc, acc);
}

const char* cpu_isa() { return table().name; }

}  // namespace bharnet::kernels
