// Compiled with -mavx512f -mavx512vl -mavx2 -mfma on x86-64 (CMakeLists.txt); empty elsewhere.
#if defined(__x86_64__) || defined(_M_X64)
#define BHARNET_ISA avx512
#define BHARNET_VBYTES 64
// 32 registers: MR x NV accumulators + NV weight vectors + 1 broadcast, at most about 28.
#define BHARNET_SEG_NVMAX 4
#define BHARNET_SEG_MR(nv) ((nv) == 1 ? 12 : (nv) == 2 ? 10 : (nv) == 3 ? 8 : 6)
#include "runtime/seg_gemm_isa.inc"
#endif
