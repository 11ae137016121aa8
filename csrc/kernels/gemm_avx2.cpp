// Compiled with -mavx2 -mfma on x86-64 (cmake/simd.cmake); empty elsewhere.
#if defined(__x86_64__) || defined(_M_X64)
#define BHARNET_ISA avx2
#define BHARNET_VBYTES 32
#include "kernels/gemm_isa.inc"
#endif
