// One frame of a StepProgram: the ring heads move, the sequence ops due on this frame run, and
// on prediction frames the head (step_head.cpp).
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "runtime/step_internal.h"

namespace bharnet::runtime {
namespace {

// Clears the busy flags of the states a step took, however it ends.
struct Busy {
  StepState* const* states;
  int64_t taken = 0;
  ~Busy() {
    for (int64_t b = 0; b < taken; ++b) states[b]->busy.store(false, std::memory_order_release);
  }
};

// Per-thread scratch, grown once to the largest program and batch this thread has run, never
// per frame: the workspace (one region per track of a batch) and the batched GEMM's operands.
struct Scratch {
  std::vector<float> ws;
  std::vector<Seg> segs;
  std::vector<Epilogue> epi;
  std::vector<float*> ys;
  float* workspace(int64_t floats) {
    if (int64_t(ws.size()) < floats) ws.resize(size_t(floats));
    return ws.data();
  }
  void problems(int64_t n, int nseg) {   // room for n products of nseg segments
    if (int64_t(epi.size()) < n) epi.resize(size_t(n)), ys.resize(size_t(n));
    if (int64_t(segs.size()) < n * nseg) segs.resize(size_t(n * nseg));
  }
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

template <class C>
struct CtxList {   // the per-track contexts of a step, and those due for the current op
  std::vector<C> all, due;
};

inline float relu_if(float v, bool relu) { return relu && v < 0.0f ? 0.0f : v; }

int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

}  // namespace

bool StepProgram::step(StepState& s, const float* const* frames, float* const* outputs) const {
  StepState* states[1] = {&s};
  bool predicted = false;
  step_many(states, &frames, &outputs, 1, &predicted);
  return predicted;
}

void StepProgram::step_many(StepState* const* states, const float* const* const* frames,
                            float* const* const* outputs, int64_t n, bool* predicted) const {
  for (int64_t b = 0; b < n; ++b)
    if (states[b]->owner != this) throw std::invalid_argument("step runtime: this state belongs to another step program");
  Busy busy{states};
  for (; busy.taken < n; ++busy.taken)
    if (states[busy.taken]->busy.exchange(true, std::memory_order_acquire))
      throw std::runtime_error("step runtime: one state stepped twice at once (two threads, or twice in one batch)");
  const int64_t stride = round16(ws_floats_);
  float* ws = scratch().workspace(stride * n);
  thread_local CtxList<Ctx> ctx;
  ctx.all.clear();
  for (int64_t b = 0; b < n; ++b) {
    StepState& s = *states[b];
    ctx.all.push_back(Ctx{s, ws + b * stride, frames[b], ++s.frame});
    for (size_t r = 0; r < rings_.size(); ++r)
      if (s.frame % rings_[r].rate == 0) s.heads[r] = s.heads[r] + 1 == rings_[r].L ? 0 : s.heads[r] + 1;
  }
  for (const StepOp& op : seq_ops_) {
    ctx.due.clear();
    for (const Ctx& c : ctx.all)
      if (c.f % op.rate == 0) ctx.due.push_back(c);
    if (!ctx.due.empty()) run_op(op, ctx.due.data(), int64_t(ctx.due.size()));
  }
  for (int64_t b = 0; b < n; ++b) {
    const Ctx& c = ctx.all[size_t(b)];
    predicted[b] = c.f % head_rate_ == 0;
    if (!predicted[b]) continue;
    for (const StepOp& op : head_ops_) run_head_op(op, c);
    for (size_t j = 0; j < output_tensors_.size(); ++j)
      std::memcpy(outputs[b][j], data(output_tensors_[j], c), sizeof(float) * size_t(output_size(j)));
  }
}

Epilogue StepProgram::epilogue(const StepOp& op, const float* bias, const Ctx& c) const {
  const bool res = op.ins.size() > 1 && op.ins[1] >= 0;
  return Epilogue{bias, res ? data(op.ins[1], c) : nullptr, res ? tensors_[size_t(op.ins[1])].ld : 0, op.relu};
}

void StepProgram::run_op(const StepOp& op, const Ctx* cs, int64_t n) const {
  const TensorInfo& y = tensors_[size_t(op.out)];
  const TensorInfo& x = tensors_[size_t(op.ins[0])];
  const float* w = weights_.data();
  const int64_t rows = y.rows(), ldy = y.ld;
  Scratch& sc = scratch();
  switch (op.kind) {
    case OpKind::GConv: {
      // channels first, U = x W_k for every k at once, then the joints: y_i = sum_k A_k^T U_ik
      const int64_t ldu = op.K * op.Op, V = x.V, I = x.inst;
      sc.problems(n * std::max<int64_t>(I, 1), int(std::max<int64_t>(op.K, 1)));
      for (int64_t b = 0; b < n; ++b) {
        sc.segs[size_t(b)] = Seg{data(op.ins[0], cs[b]), x.ld, w + op.w[0], ldu, x.C};
        sc.epi[size_t(b)] = Epilogue{nullptr, nullptr, 0, false};
        sc.ys[size_t(b)] = cs[b].ws + op.tmp;
      }
      seg_gemm_batch(rows, ldu, sc.segs.data(), 1, sc.epi.data(), sc.ys.data(), ldu, n);
      for (int64_t b = 0; b < n; ++b) {
        const float* U = cs[b].ws + op.tmp;
        const Epilogue e = epilogue(op, w + op.w[2], cs[b]);
        float* out = data(op.out, cs[b]);
        for (int64_t i = 0; i < I; ++i) {
          const int64_t p = b * I + i;
          for (int64_t k = 0; k < op.K; ++k)
            sc.segs[size_t(p * op.K + k)] = Seg{w + op.w[1] + k * V, op.K * V, U + i * V * ldu + k * op.Op, ldu, V};
          sc.epi[size_t(p)] = e;
          sc.epi[size_t(p)].res = e.res ? e.res + i * V * e.ldr : nullptr;
          sc.ys[size_t(p)] = out + i * V * ldy;
        }
      }
      seg_gemm_batch(V, op.O, sc.segs.data(), int(op.K), sc.epi.data(), sc.ys.data(), ldy, n * I);
      return;
    }
    case OpKind::Pw: {
      sc.problems(n, 1);
      for (int64_t b = 0; b < n; ++b) {
        sc.segs[size_t(b)] = Seg{data(op.ins[0], cs[b]), x.ld, w + op.w[0], op.Op, x.C};
        sc.epi[size_t(b)] = epilogue(op, w + op.w[1], cs[b]);
        sc.ys[size_t(b)] = data(op.out, cs[b]);
      }
      seg_gemm_batch(rows, op.O, sc.segs.data(), 1, sc.epi.data(), sc.ys.data(), ldy, n);
      return;
    }
    case OpKind::TConv: {  // one segment per tap, read in place from the input's ring
      const int nt = int(op.ages.size());
      const int64_t B = x.C * op.Op;
      sc.problems(n, nt);
      for (int64_t b = 0; b < n; ++b) {
        for (int t = 0; t < nt; ++t)
          sc.segs[size_t(b * nt + t)] = Seg{slot(op.ins[0], op.ages[size_t(t)], cs[b]), x.ld, w + op.w[0] + t * B, op.Op, x.C};
        sc.epi[size_t(b)] = epilogue(op, w + op.w[1], cs[b]);
        sc.ys[size_t(b)] = data(op.out, cs[b]);
      }
      seg_gemm_batch(rows, op.O, sc.segs.data(), nt, sc.epi.data(), sc.ys.data(), ldy, n);
      return;
    }
    default:
      for (int64_t b = 0; b < n; ++b) run_elementwise(op, cs[b]);
      return;
  }
}

void StepProgram::run_elementwise(const StepOp& op, const Ctx& c) const {
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
      throw std::logic_error("step runtime: a GEMM or head op where an elementwise op belongs");
  }
}

}  // namespace bharnet::runtime
