// One frame of a StepProgram: the ring heads move, the sequence ops due on this frame run, and
// on prediction frames the head (step_head.cpp).
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "runtime/step_internal.h"

namespace bharnet::runtime {
namespace {

// Clears the state's busy flag however the step ends.
struct Busy {
  std::atomic<bool>& flag;
  ~Busy() { flag.store(false, std::memory_order_release); }
};

// The per-thread workspace: grown once to the largest program this thread has run, never per frame.
float* workspace(int64_t floats) {
  thread_local std::vector<float> ws;
  if (int64_t(ws.size()) < floats) ws.resize(size_t(floats));
  return ws.data();
}

inline float relu_if(float v, bool relu) { return relu && v < 0.0f ? 0.0f : v; }

}  // namespace

bool StepProgram::step(StepState& s, const float* const* frames, float* const* outputs) const {
  if (s.owner != this) throw std::invalid_argument("step runtime: this state belongs to another step program");
  if (s.busy.exchange(true, std::memory_order_acquire))
    throw std::runtime_error("step runtime: two threads stepped one state at once (lock each track)");
  Busy busy{s.busy};
  const Ctx c{s, workspace(ws_floats_), frames, ++s.frame};
  for (size_t r = 0; r < rings_.size(); ++r)
    if (c.f % rings_[r].rate == 0) s.heads[r] = s.heads[r] + 1 == rings_[r].L ? 0 : s.heads[r] + 1;
  for (const StepOp& op : seq_ops_)
    if (c.f % op.rate == 0) run_op(op, c);
  if (c.f % head_rate_ != 0) return false;
  for (const StepOp& op : head_ops_) run_head_op(op, c);
  for (size_t j = 0; j < output_tensors_.size(); ++j)
    std::memcpy(outputs[j], data(output_tensors_[j], c), sizeof(float) * size_t(output_size(j)));
  return true;
}

Epilogue StepProgram::epilogue(const StepOp& op, const float* bias, const Ctx& c) const {
  const bool res = op.ins.size() > 1 && op.ins[1] >= 0;
  return Epilogue{bias, res ? data(op.ins[1], c) : nullptr, res ? tensors_[size_t(op.ins[1])].ld : 0, op.relu};
}

void StepProgram::run_op(const StepOp& op, const Ctx& c) const {
  const TensorInfo& y = tensors_[size_t(op.out)];
  const TensorInfo& x = tensors_[size_t(op.ins[0])];
  float* out = data(op.out, c);
  const float* w = weights_.data();
  const int64_t rows = y.rows(), ldy = y.ld;
  switch (op.kind) {
    case OpKind::Embed: {  // frame [C, V, I] -> rows (i, v) of C channels
      const float* in = data(op.ins[0], c);
      const float *scale = w + op.w[0], *shift = w + op.w[1];
      const int64_t C = x.C, V = x.V, I = x.inst;
      for (int64_t i = 0; i < I; ++i)
        for (int64_t v = 0; v < V; ++v) {
          float* r = out + (i * V + v) * ldy;
          for (int64_t ch = 0; ch < C; ++ch)
            r[ch] = in[(ch * V + v) * I + i] * scale[v * C + ch] + shift[v * C + ch];
        }
      return;
    }
    case OpKind::MaskSeq: {
      const float* in = data(op.ins[0], c);
      for (int64_t r = 0; r < rows; ++r) out[r * ldy] = in[r];
      return;
    }
    case OpKind::GConv: {
      // channels first, U = x W_k for every k at once, then the joints: y_i = sum_k A_k^T U_ik
      const float* in = data(op.ins[0], c);
      const int64_t ldu = op.K * op.Op, V = x.V;
      float* U = c.ws + op.tmp;
      const Seg mix{in, x.ld, w + op.w[0], ldu, x.C};
      seg_gemm(rows, ldu, &mix, 1, Epilogue{nullptr, nullptr, 0, false}, U, ldu);
      Epilogue e = epilogue(op, w + op.w[2], c);
      const float* res = e.res;
      Seg segs[kMaxSegs];
      for (int64_t i = 0; i < x.inst; ++i) {
        for (int64_t k = 0; k < op.K; ++k)
          segs[k] = Seg{w + op.w[1] + k * V, op.K * V, U + i * V * ldu + k * op.Op, ldu, V};
        e.res = res ? res + i * V * e.ldr : nullptr;
        seg_gemm(V, op.O, segs, int(op.K), e, out + i * V * ldy, ldy);
      }
      return;
    }
    case OpKind::Pw: {
      const Seg seg{data(op.ins[0], c), x.ld, w + op.w[0], op.Op, x.C};
      seg_gemm(rows, op.O, &seg, 1, epilogue(op, w + op.w[1], c), out, ldy);
      return;
    }
    case OpKind::TConv: {  // one segment per tap, read in place from the input's ring
      Seg segs[kMaxSegs];
      const int64_t n = int64_t(op.ages.size()), B = x.C * op.Op;
      for (int64_t t = 0; t < n; ++t) segs[t] = Seg{slot(op.ins[0], op.ages[size_t(t)], c), x.ld, w + op.w[0] + t * B, op.Op, x.C};
      seg_gemm(rows, op.O, segs, int(n), epilogue(op, w + op.w[1], c), out, ldy);
      return;
    }
    case OpKind::TMax: {
      const float* first = slot(op.ins[0], op.ages[0], c);
      for (int64_t r = 0; r < rows; ++r) {
        float* yr = out + r * ldy;
        std::memcpy(yr, first + r * x.ld, sizeof(float) * size_t(x.C));
        for (size_t t = 1; t < op.ages.size(); ++t) {
          const float* xr = slot(op.ins[0], op.ages[t], c) + r * x.ld;
          for (int64_t ch = 0; ch < x.C; ++ch) yr[ch] = std::max(yr[ch], xr[ch]);
        }
        if (op.relu)
          for (int64_t ch = 0; ch < x.C; ++ch) yr[ch] = relu_if(yr[ch], true);
      }
      return;
    }
    case OpKind::TPick: {  // only when it must be materialised (a ring of its own, or a ReLU)
      const float* in = slot(op.ins[0], op.ages[0], c);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t ch = 0; ch < x.C; ++ch) out[r * ldy + ch] = relu_if(in[r * x.ld + ch], op.relu);
      return;
    }
    case OpKind::Affine: {
      const float* in = data(op.ins[0], c);
      const float *scale = w + op.w[0], *shift = w + op.w[1];
      for (int64_t r = 0; r < rows; ++r) {
        const float* xr = in + r * x.ld;
        float* yr = out + r * ldy;
        for (int64_t ch = 0; ch < x.C; ++ch) yr[ch] = relu_if(xr[ch] * scale[ch] + shift[ch], op.relu);
      }
      return;
    }
    case OpKind::Add: {
      const float* a = data(op.ins[0], c);
      const float* b = data(op.ins[1], c);
      const int64_t lda = x.ld, ldb = tensors_[size_t(op.ins[1])].ld;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t ch = 0; ch < y.C; ++ch) out[r * ldy + ch] = relu_if(a[r * lda + ch] + b[r * ldb + ch], op.relu);
      return;
    }
    case OpKind::Concat: {  // inputs already written in place (Store::Alias) are skipped
      for (size_t k = 0; k < op.ins.size(); ++k) {
        const TensorInfo& in = tensors_[size_t(op.ins[k])];
        if (in.store == Store::Alias) continue;
        const float* src = data(op.ins[k], c);
        for (int64_t r = 0; r < rows; ++r)
          std::memcpy(out + r * ldy + op.ages[k], src + r * in.ld, sizeof(float) * size_t(in.C));
      }
      return;
    }
    default:
      throw std::logic_error("step runtime: a head op in the sequence list");
  }
}

}  // namespace bharnet::runtime
