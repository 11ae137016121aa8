// The step runtime's GEMM: Y[M,N] = act(bias + res + sum_s A_s B_s), a sum of products over
// several operand pairs ("segments") accumulated in registers and stored once.
//
// Why not kernels::gemm_nn: per frame, every matrix is tiny (M = 17..42 joint rows, L = 3..256
// channels, N = 8..256 output channels), so the work is dominated by what surrounds the
// multiply-adds. One call here covers a whole temporal conv (one segment per tap, each read
// straight from its ring slot), or the joint mixing of a graph conv (one segment per adjacency
// matrix), with bias, residual and ReLU in the epilogue: no accumulate passes over Y, no
// separate bias/ReLU pass, no copies of the taps. The layout is channels-last (rows are joints,
// channels contiguous) and the vectors run along N, the output channels: N is a multiple of
// the vector width for real widths (16..256), which the joint count (17, 21, 65) never is.
//
// Contract: B_s and bias must be readable (zero-padded) up to padded(N) columns in every row;
// A, res and Y are read/written only within their M x L / M x N extents.
#pragma once
#include <cstdint>

#include "runtime/seg_gemm_types.h"

namespace bharnet::runtime {

// Columns of B and bias are padded to a multiple of the widest vector (16 floats).
constexpr int64_t kPad = 16;
inline int64_t padded(int64_t n) { return (n + kPad - 1) / kPad * kPad; }

// At most this many segments per call (taps of a temporal conv, adjacency matrices of a gconv).
constexpr int kMaxSegs = 64;

void seg_gemm(int64_t M, int64_t N, const Seg* segs, int nseg, const Epilogue& e, float* Y,
              int64_t ldy);

// nb products of one shape at once (one per track of a batch, step_many): product b has the
// segments segs[b * nseg ...], the epilogue e[b] and the output Y[b]; B and bias are the same
// weights in all of them, so each block of B is loaded into cache once for the whole batch.
void seg_gemm_batch(int64_t M, int64_t N, const Seg* segs, int nseg, const Epilogue* e, float* const* Y,
                    int64_t ldy, int64_t nb);

// The ISA seg_gemm runs with: the one the GEMM dispatcher picked (BHARNET_CPU_ISA caps both).
const char* seg_gemm_isa();

}  // namespace bharnet::runtime
