// Baseline ISA: SSE2 on x86-64, NEON on aarch64 (both 128-bit).
#define BHARNET_ISA baseline
#define BHARNET_VBYTES 16
#define BHARNET_SEG_NVMAX 2
#define BHARNET_SEG_MR(nv) ((nv) == 1 ? 12 : 6)
#include "runtime/seg_gemm_isa.inc"
