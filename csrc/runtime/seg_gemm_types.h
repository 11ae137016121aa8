// Plain operand descriptions shared by the per-ISA builds of seg_gemm (no inline code here: an
// inline function compiled with AVX-512 flags could be the copy the linker keeps for all).
#pragma once
#include <cstdint>

namespace bharnet::runtime {

// One term of a sum of products: A[M, L] (row m at A + m*lda, contiguous along l) times
// B[L, N] (row l at B + l*ldb).
struct Seg {
  const float* A;
  int64_t lda;
  const float* B;
  int64_t ldb;
  int64_t L;
};

// Applied to each output once, in registers: + bias[n] + res[m*ldr + n], then max(., 0).
struct Epilogue {
  const float* bias;
  const float* res;
  int64_t ldr;
  bool relu;
};

}  // namespace bharnet::runtime
