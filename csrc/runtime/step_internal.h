// What the execution files share: the per-call context and the tensor addressing.
#pragma once
#include "runtime/seg_gemm.h"
#include "runtime/step_program.h"

namespace bharnet::runtime {

struct StepProgram::Ctx {
  StepState& s;
  float* ws;                   // this thread's workspace
  const float* const* frames;  // the caller's inputs
  int64_t f;                   // this frame's number, from 1
};

inline float* StepProgram::slot(int t, int64_t age, const Ctx& c) const {
  const RingInfo& r = rings_[tensors_[t].index];
  int64_t i = c.s.heads[tensors_[t].index] - age;
  if (i < 0) i += r.L;
  return c.s.rings.data() + r.off + i * r.E;
}

inline float* StepProgram::data(int t, const Ctx& c) const {
  const TensorInfo& x = tensors_[t];
  switch (x.store) {
    case Store::Input: return const_cast<float*>(c.frames[x.index]);
    case Store::Ring: return slot(t, 0, c);
    case Store::Scratch:
    case Store::Head: return c.ws + x.off;
    case Store::Alias: return data(x.root, c) + x.off;
    case Store::View: return slot(x.src, x.age, c);
    case Store::Block:
    case Store::Fused: break;
  }
  return nullptr;
}

}  // namespace bharnet::runtime
