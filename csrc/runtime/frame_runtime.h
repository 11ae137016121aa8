// The continual frame path in native code: one call per frame takes a track's raw keypoint rows
// to its model step, and on prediction frames returns the outputs with what a recognition needs
// besides them (body presence, hand presence, the window's times and length).
//
// A FrameRuntime (a StepProgram, a FramePlan, the lead) is immutable and serves any number of
// tracks from any number of threads; a FrameTrack is one track's whole state: the preparation
// (frame_prep.h), the step state, and rings of the last `window` frames' timestamps, body
// presence and hand mask. Python keeps the API, validation, clocks, callbacks and statistics
// (bharnet/backends/native_frame.py, bharnet/sdk/recognizer.py).
//
// The lead: a track is first stepped `lead` missing (all-zero) frames so that predictions land
// on the frames the window mode recognises (sdk/streaming.py says why).
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/frame_prep.h"
#include "runtime/step_program.h"

namespace bharnet::runtime {

class FrameTrack {
 public:
  FrameTrack(const FramePlan& plan, std::unique_ptr<StepState> step, int64_t outputs_floats);
  FramePrep prep;
  std::unique_ptr<StepState> step;
  std::vector<double> ts;          // [window] timestamps
  std::vector<uint8_t> body;       // [window] body seen
  std::vector<float> hand;         // [window][2M] hand mask
  std::vector<float> out;          // the last prediction's outputs, concatenated
  int64_t count = 0;               // frames since the last reset
  std::atomic<bool> busy{false};   // set while a thread pushes it: a second one is refused
  size_t nbytes() const;
};

// What one frame produced. The outputs are in the track's `out` when `predicted`.
struct FrameResult {
  bool predicted = false;
  double body_presence = 0.0;      // fraction of the window's frames showing a body
  float hand_left = 0.0f, hand_right = 0.0f;   // person 0's hands: fraction of frames present
  double start_ts = 0.0, end_ts = 0.0;
  int64_t frames = 0;              // frames in the window (fewer than `window` after a reset)
};

// Softmax of n logits in double, the largest subtracted first (sdk/recognizer._softmax).
void softmax(const float* z, int64_t n, double* p);

class FrameRuntime {
 public:
  FrameRuntime(std::shared_ptr<const StepProgram> program, FramePlan plan);
  std::unique_ptr<FrameTrack> new_track() const;
  void reset(FrameTrack& t) const;
  FrameResult push(FrameTrack& t, const RawFrame& f, double ts) const;
  // Several distinct tracks' frames in one call (results[i] for tracks[i]), the same numbers as
  // n push() calls. From batch_min() tracks on, the model steps them together, up to batch()
  // tracks per StepProgram::step_many (its GEMMs batched across tracks); fewer run one by one.
  void push_many(FrameTrack* const* tracks, const RawFrame* frames, const double* ts, int64_t n,
                 FrameResult* results) const;
  // The batching rule (bench/frame_path.py measures it): batch_min >= 2, batch >= 1.
  void set_batching(int64_t batch_min, int64_t batch);
  int64_t batch_min() const { return batch_min_; }
  int64_t batch() const { return batch_; }

  const StepProgram& program() const { return *program_; }
  const FramePlan& plan() const { return plan_; }
  int64_t lead() const { return lead_; }
  int64_t output_offset(size_t j) const { return out_off_[j]; }
  int64_t outputs_floats() const { return out_floats_; }

 private:
  std::vector<const float*> inputs_of(const FrameTrack& t) const;
  void inputs_into(const FrameTrack& t, const float** in) const;
  void outputs_into(FrameTrack& t, float** out) const;
  // push() in three parts: the frame prepared and recorded, the model step, the window's summary
  void begin(FrameTrack& t, const RawFrame& f, double ts) const;
  FrameResult finish(const FrameTrack& t, double ts, bool predicted) const;
  void push_batch(FrameTrack* const* tracks, const RawFrame* frames, const double* ts, int64_t n,
                  FrameResult* results) const;   // n <= batch_, every track held
  std::shared_ptr<const StepProgram> program_;
  FramePlan plan_;
  int64_t lead_ = 0;
  std::vector<int> input_part_;    // per program input: 0 body/joints, 1 hand, 2 hand_mask
  std::vector<int64_t> out_off_;
  int64_t out_floats_ = 0;
  // Measured on the embedded model (bench/frame_path.py, frame_path.json "batching"): one
  // step_many over 2, 4, 8, 16 tracks costs 0.98x, 0.98x, 1.00x, 0.99x of n step() calls, and
  // push_many batched vs unbatched 1.04x: within this machine's run-to-run noise, so the rule
  // (from 4 tracks, at most 8 per call) is not shown faster end to end, only no slower. The gain
  // is small because each track's step is already a GEMM of 17-42 joint rows, not a GEMV.
  int64_t batch_min_ = 4, batch_ = 8;
};

}  // namespace bharnet::runtime
