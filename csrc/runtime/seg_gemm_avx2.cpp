// Compiled with -mavx2 -mfma on x86-64 (CMakeLists.txt); empty elsewhere.
#if defined(__x86_64__) || defined(_M_X64)
#define BHARNET_ISA avx2
#define BHARNET_VBYTES 32
// 16 registers: 12 accumulators + 2 weight vectors + 1 broadcast.
#define BHARNET_SEG_NVMAX 2
#define BHARNET_SEG_MR(nv) ((nv) == 1 ? 12 : 6)
#include "runtime/seg_gemm_isa.inc"
#endif
