// The native step runtime: a layer program (bharnet/program.py) executed frame by frame.
//
// Schedule (export/program_torch.py's step semantics, one frame per call): every sequence
// tensor of rate r (frames per element) gets one new element on the frames f (counted from 1
// since the state started) with f % r == 0; an op fires on exactly those frames of its
// output's rate, so a temporal op of stride s fires on every s-th new element of its input and
// reads its taps from that input's ring. The head (collect, presence, gap, pool_attention,
// linear, fuse) runs when the final features got a new element and returns the outputs. An
// atrous program (bharnet.program.to_atrous) has every rate 1: a prediction every frame.
//
// Memory. One StepProgram (weights, plan, the steady state) is immutable after construction
// and serves any number of tracks from any number of threads. Each track owns a StepState:
// one ring per tensor that a temporal op or a collect reads (its last L elements, written in
// place at a moving head: no state is ever shifted or copied), a head index per ring, and the
// frame counter. Everything that lives only within a frame sits in a per-thread workspace,
// laid out once by liveness, so a step allocates nothing.
//
// Layout: an element of a sequence tensor is [instances * joints rows][channels], channels
// contiguous (row stride `ld`); see seg_gemm.h for why.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/seg_gemm_types.h"
#include "runtime/spec.h"

namespace bharnet::runtime {

enum class OpKind {
  Embed, MaskSeq, GConv, Pw, Affine, Concat, Add, TConv, TMax, TPick,      // sequence ops
  Collect, Presence, Gap, PoolAttention, Linear, Fuse                      // head ops
};

enum class Store {
  Input,    // the caller's frame
  Ring,     // its own ring in the state
  Scratch,  // the per-thread workspace
  Alias,    // a channel slice of another tensor's element (a concat's input written in place)
  View,     // an older element of another tensor's ring (a temporal "pick" that copies nothing)
  Block,    // a collect: steps of a ring, read in place by the head
  Head,     // a head vector in the workspace
  Fused,    // an add's operand that a GEMM epilogue sums directly: never made
};

struct TensorInfo {
  std::string name;
  int64_t inst = 1, C = 1, V = 1;  // element = inst * V rows of C channels
  int64_t ld = 0;                  // row stride in floats
  int64_t rate = 0;                // frames per element (0: head tensor)
  Store store = Store::Scratch;
  int index = -1;   // Input: frame index; Ring: ring index
  int64_t off = 0;  // Scratch/Head: workspace offset; Alias: channel offset into `root`
  int root = -1;    // Alias: the tensor holding the storage (Ring or Scratch)
  int src = -1;     // View/Block: the ringed tensor read
  int64_t age = 0;  // View: element age (0 = newest)
  int64_t steps = 0, spacing = 0;  // Block
  int64_t size = 0;                // Head: floats
  int64_t rows() const { return inst * V; }
};

struct RingInfo {
  int tensor;
  int64_t L;     // elements kept
  int64_t E;     // floats per element
  int64_t off;   // in StepState::rings
  int64_t rate;  // the tensor's rate: the head moves on frames f % rate == 0
};

struct StepOp {
  OpKind kind;
  int out = -1;
  std::vector<int> ins;        // -1 for an absent optional input; gconv/pw/temporal conv: ins[1]
                               // is a residual added in the GEMM epilogue (before the ReLU)
  int64_t rate = 1;            // fires on frames f % rate == 0 (sequence ops)
  bool relu = false;
  std::vector<int64_t> ages;   // temporal: the age of each tap in the input's ring
  std::vector<int64_t> w;      // offsets of this op's packed weights
  int64_t O = 0, Op = 0, K = 0;  // output channels, padded, gconv adjacency count
  int64_t tmp = -1;            // workspace offset of a temporary (gconv, pool_attention)
  int64_t heads = 0, D = 0;    // pool_attention
  float scale = 1.0f;          // pool_attention
  std::string how;             // fuse
};

class StepState {
 public:
  std::vector<float> rings;
  std::vector<int64_t> heads;
  int64_t frame = 0;           // frames stepped since the state started
  std::atomic<bool> busy{false};  // set while a thread steps it: a second one is refused
  const void* owner = nullptr;     // the StepProgram that made it
  size_t nbytes() const { return rings.size() * sizeof(float) + heads.size() * sizeof(int64_t) + sizeof(frame); }
};

class StepProgram {
 public:
  StepProgram(const ProgramSpec& spec, const WeightMap& weights);

  // A state at the steady state of missing (all-zero) frames, frame counter 0.
  std::unique_ptr<StepState> new_state() const;
  void reset(StepState& s) const;

  // One frame: frames[i] is input i (input_names() order) without batch or time axes, float32
  // C-contiguous: [C, V, I] for keypoints, [I] for hand_mask. Returns true when this frame
  // made a prediction; then outputs[j] (output_names() order) received output_size(j) floats.
  bool step(StepState& s, const float* const* frames, float* const* outputs) const;
  // Several tracks' frames at once (n distinct states): states[b] steps frames[b], and on a
  // prediction outputs[b] receives the outputs and predicted[b] is set. The same numbers as n
  // step() calls; the ops run op by op over the batch, each GEMM one seg_gemm_batch call, and
  // every state keeps its own schedule (states of different phases may share a batch).
  void step_many(StepState* const* states, const float* const* const* frames, float* const* const* outputs,
                 int64_t n, bool* predicted) const;
  bool predicts_next(const StepState& s) const { return (s.frame + 1) % head_rate_ == 0; }

  const std::vector<std::string>& input_names() const { return input_names_; }
  const std::vector<std::vector<int64_t>>& input_shapes() const { return input_shapes_; }
  const std::vector<std::string>& output_names() const { return output_names_; }
  int64_t output_size(size_t j) const { return tensors_[output_tensors_[j]].size; }
  int64_t frames_per_prediction() const { return head_rate_; }
  int64_t receptive_field() const { return receptive_field_; }
  int64_t state_floats() const { return state_floats_; }
  int64_t workspace_floats() const { return ws_floats_; }
  size_t state_bytes() const;
  // What the plan made of the program: sequence ops run per kind, and tensors per storage.
  std::vector<std::pair<std::string, int64_t>> plan_summary() const;

 private:
  // construction (step_plan.cpp)
  void build_tensors(const ProgramSpec& spec, const WeightMap& weights);
  void fuse_adds();
  void plan_storage();
  void allocate_workspace();
  void compute_steady_state();
  const WeightArray& weight(const OpSpec& o, const std::string& role, const WeightMap& w,
                            std::vector<int64_t> shape) const;
  int64_t pack(const std::vector<float>& data);

  // execution (step_exec.cpp, step_head.cpp; step_internal.h)
  struct Ctx;
  void run_op(const StepOp& op, const Ctx* cs, int64_t n) const;   // the op on n tracks' frames
  void run_elementwise(const StepOp& op, const Ctx& c) const;      // its non-GEMM kinds, one track
  void run_head_op(const StepOp& op, const Ctx& c) const;
  Epilogue epilogue(const StepOp& op, const float* bias, const Ctx& c) const;
  inline float* slot(int t, int64_t age, const Ctx& c) const;  // element `age` of t's ring
  inline float* data(int t, const Ctx& c) const;               // t's element of this frame

  std::vector<std::string> input_names_, output_names_;
  std::vector<std::vector<int64_t>> input_shapes_;  // per frame
  std::vector<int> output_tensors_;
  std::vector<TensorInfo> tensors_;
  std::vector<RingInfo> rings_;
  std::vector<StepOp> seq_ops_, head_ops_;
  std::vector<float> weights_;  // every op's weights, packed for the kernels
  std::vector<float> steady_;   // the rings at the steady state of missing frames
  std::vector<int64_t> steady_heads_;
  std::vector<int64_t> rf_;     // per tensor: frames of input one element depends on
  int64_t head_rate_ = 1, receptive_field_ = 1, state_floats_ = 0, ws_floats_ = 0;
};

}  // namespace bharnet::runtime
