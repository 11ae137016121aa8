// The head of a StepProgram, run on prediction frames: blocks are read in place from the rings
// (step j of a collect of n steps, spacing s, is the element of age (n-1-j)*s), the rest are
// small vectors in the workspace.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "kernels/pool_attention.h"
#include "runtime/step_internal.h"

namespace bharnet::runtime {

void StepProgram::run_head_op(const StepOp& op, const Ctx& c) const {
  const float* w = weights_.data();
  float* out = op.kind == OpKind::Collect ? nullptr : data(op.out, c);
  auto step_of = [&](const TensorInfo& blk, int64_t j) {
    return slot(blk.src, (blk.steps - 1 - j) * blk.spacing, c);
  };
  switch (op.kind) {
    case OpKind::Collect:
      return;
    case OpKind::Presence: {  // 1 where the instance is present in any collected frame
      const TensorInfo& blk = tensors_[size_t(op.ins[0])];
      const int64_t ld = tensors_[size_t(blk.src)].ld;
      for (int64_t i = 0; i < blk.V; ++i) {
        bool any = false;
        for (int64_t j = 0; j < blk.steps && !any; ++j) any = step_of(blk, j)[i * ld] > 0.0f;
        out[i] = any ? 1.0f : 0.0f;
      }
      return;
    }
    case OpKind::Gap: {  // mean over steps and joints, then over the (present) instances
      const TensorInfo& blk = tensors_[size_t(op.ins[0])];
      const int64_t ld = tensors_[size_t(blk.src)].ld, I = blk.inst, V = blk.V, C = blk.C;
      const float* m = op.ins.size() > 1 && op.ins[1] >= 0 ? data(op.ins[1], c) : nullptr;
      double* sum = reinterpret_cast<double*>(c.ws + op.tmp);  // [I][C]
      std::fill(sum, sum + I * C, 0.0);
      for (int64_t j = 0; j < blk.steps; ++j) {  // rows in memory order, channels innermost
        const float* e = step_of(blk, j);
        for (int64_t i = 0; i < I; ++i)
          for (int64_t v = 0; v < V; ++v) {
            const float* row = e + (i * V + v) * ld;
            double* s = sum + i * C;
            for (int64_t ch = 0; ch < C; ++ch) s[ch] += row[ch];
          }
      }
      double msum = 0.0;
      for (int64_t i = 0; i < I; ++i) msum += m ? m[i] : 1.0;
      const double inv = (m ? 1.0 / std::max(msum, 1e-6) : 1.0 / double(I)) / double(blk.steps * V);
      for (int64_t ch = 0; ch < C; ++ch) {
        double acc = 0.0;
        for (int64_t i = 0; i < I; ++i) acc += sum[i * C + ch] * (m ? m[i] : 1.0);
        out[ch] = float(acc * inv);
      }
      return;
    }
    case OpKind::PoolAttention: {
      // gather both blocks into the kernel's [C, n, V, I] layout
      const TensorInfo& f = tensors_[size_t(op.ins[0])];
      const TensorInfo& g = tensors_[size_t(op.ins[1])];
      float* feat = c.ws + op.tmp;
      float* ctx = feat + (f.C * f.steps * f.rows() + 15) / 16 * 16;
      auto gather = [&](const TensorInfo& blk, float* dst) {
        const int64_t ld = tensors_[size_t(blk.src)].ld, n = blk.steps, V = blk.V, I = blk.inst;
        for (int64_t j = 0; j < n; ++j) {
          const float* e = step_of(blk, j);
          for (int64_t i = 0; i < I; ++i)
            for (int64_t v = 0; v < V; ++v) {
              const float* row = e + (i * V + v) * ld;
              for (int64_t ch = 0; ch < blk.C; ++ch) dst[((ch * n + j) * V + v) * I + i] = row[ch];
            }
        }
      };
      gather(f, feat);
      gather(g, ctx);
      const kernels::PoolAttentionDims d{1, f.C, f.steps, f.V, f.inst, g.C, g.steps, g.V, g.inst, op.D, op.heads};
      const float* fm = op.ins[2] >= 0 ? data(op.ins[2], c) : nullptr;
      const float* cm = op.ins[3] >= 0 ? data(op.ins[3], c) : nullptr;
      kernels::pool_attention_forward_cpu<float>(d, feat, ctx, fm, cm, w + op.w[0], w + op.w[1], w + op.w[2],
                                                 w + op.w[3], out);
      for (int64_t ch = 0; ch < f.C; ++ch) out[ch] *= op.scale;
      return;
    }
    case OpKind::Linear: {
      const float* x = data(op.ins[0], c);
      const int64_t C = tensors_[size_t(op.ins[0])].size;
      const float *W = w + op.w[0], *b = w + op.w[1];
      for (int64_t k = 0; k < op.O; ++k) {
        double s = b[k];
        for (int64_t ch = 0; ch < C; ++ch) s += double(W[k * C + ch]) * x[ch];
        out[k] = float(s);
      }
      return;
    }
    case OpKind::Fuse: {  // as bharnet.variants.fuse
      const int64_t K = tensors_[size_t(op.out)].size;
      if (op.how == "sum" || op.how == "single") {
        for (int64_t k = 0; k < K; ++k) {
          double s = 0.0;
          for (int t : op.ins) s += data(t, c)[k];
          out[k] = float(s);
        }
        return;
      }
      // probabilities: noisy_or = 1 - prod(1 - p), mean = sum(p) / n; renormalised, log
      const bool noisy = op.how == "noisy_or";
      double* fused = reinterpret_cast<double*>(c.ws + op.tmp);  // K doubles (workspace offsets are 64-byte multiples)
      for (int64_t k = 0; k < K; ++k) fused[k] = noisy ? 1.0 : 0.0;
      for (int t : op.ins) {
        const float* z = data(t, c);
        const double mx = *std::max_element(z, z + K);
        double sum = 0.0;
        for (int64_t k = 0; k < K; ++k) sum += std::exp(double(z[k]) - mx);
        for (int64_t k = 0; k < K; ++k) {
          const double p = std::exp(double(z[k]) - mx) / sum;
          fused[k] = noisy ? fused[k] * (1.0 - p) : fused[k] + p / double(op.ins.size());
        }
      }
      double total = 0.0;
      for (int64_t k = 0; k < K; ++k) {
        if (noisy) fused[k] = 1.0 - fused[k];
        total += fused[k];
      }
      for (int64_t k = 0; k < K; ++k) out[k] = float(std::log(std::max(fused[k] / total, 1e-12)));
      return;
    }
    default:
      throw std::logic_error("step runtime: a sequence op in the head list");
  }
}

}  // namespace bharnet::runtime
