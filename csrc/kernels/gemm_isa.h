// Declarations of the per-ISA GEMM entry points that gemm_dispatch.cpp chooses between.
#pragma once
#include <cstdint>

#define BHARNET_DECLARE_GEMM_ISA(ns)                                                              \
  namespace bharnet::kernels::ns {                                                                \
  void gemm_nn_f32(int64_t, int64_t, int64_t, const float*, int64_t, int64_t, const float*,       \
                   int64_t, float*, int64_t, bool);                                               \
  void gemm_nn_f64(int64_t, int64_t, int64_t, const double*, int64_t, int64_t, const double*,     \
                   int64_t, double*, int64_t, bool);                                              \
  void gemm_nt_f32(int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t,       \
                   float*, int64_t, bool);                                                        \
  void gemm_nt_f64(int64_t, int64_t, int64_t, const double*, int64_t, const double*, int64_t,     \
                   double*, int64_t, bool);                                                       \
  }

BHARNET_DECLARE_GEMM_ISA(baseline)
#if defined(__x86_64__) || defined(_M_X64)
#define BHARNET_X86 1
BHARNET_DECLARE_GEMM_ISA(avx2)
BHARNET_DECLARE_GEMM_ISA(avx512)
#endif
