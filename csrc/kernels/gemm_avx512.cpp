// Compiled with -mavx512f -mavx512vl -mavx2 -mfma on x86-64 (cmake/simd.cmake); empty elsewhere.
#if defined(__x86_64__) || defined(_M_X64)
#define BHARNET_ISA avx512
#define BHARNET_VBYTES 64
// 32 vector registers: a 4x4 dot-product tile plus its 8 operands still fits.
#define BHARNET_NT_MR 4
#define BHARNET_NT_NR 4
// 8x3 broadcast tile: 11 loads per 24 FMAs (6x2 would be 8 per 12); 8 rows divide O = 64..256.
#define BHARNET_NN_MR 8
#define BHARNET_NN_NV 3
#include "kernels/gemm_isa.inc"
#endif
