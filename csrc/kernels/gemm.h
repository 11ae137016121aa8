// Single-threaded GEMM building blocks for the CPU kernels, dispatched at run time to the
// widest vector ISA the CPU has (AVX-512, AVX2+FMA, or the baseline: SSE2 on x86-64, NEON
// on aarch64). Callers parallelise over tiles.
#pragma once
#include <cstdint>

namespace bharnet::kernels {

// C[M,N] (+)= A[M,L] B[L,N].  A is addressed as A[i*a_row + l*a_col], so a transposed or
// strided A needs no copy; rows of B and C are contiguous (leading dims ldb, ldc).
template <class T>
void gemm_nn(int64_t M, int64_t N, int64_t L, const T* A, int64_t a_row, int64_t a_col,
             const T* B, int64_t ldb, T* C, int64_t ldc, bool accumulate);

// C[M,N] (+)= A[M,L] B[N,L]^T, rows of A and B contiguous along L.
template <class T>
void gemm_nt(int64_t M, int64_t N, int64_t L, const T* A, int64_t lda, const T* B, int64_t ldb,
             T* C, int64_t ldc, bool accumulate);

// Name of the ISA the dispatcher picked ("avx512", "avx2", "baseline").
const char* cpu_isa();

}  // namespace bharnet::kernels
