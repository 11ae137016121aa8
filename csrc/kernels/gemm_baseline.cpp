// Baseline ISA: SSE2 on x86-64, NEON on aarch64 (both 128-bit).
#define BHARNET_ISA baseline
#define BHARNET_VBYTES 16
#include "kernels/gemm_isa.inc"
