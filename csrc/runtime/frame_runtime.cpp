// The continual frame path (frame_runtime.h): preparation, the model step and the window's
// bookkeeping of one frame in one call.
#include "runtime/frame_runtime.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace bharnet::runtime {

namespace {
struct Hold {   // a track's busy flag, cleared however the push ends
  std::atomic<bool>& flag;
  explicit Hold(std::atomic<bool>& f) : flag(f) {
    if (flag.exchange(true, std::memory_order_acquire))
      throw std::runtime_error("frame runtime: two threads pushed one track at once (lock each track)");
  }
  ~Hold() { flag.store(false, std::memory_order_release); }
};

struct HoldMany {   // every track of a push_many, released however it ends
  FrameTrack* const* tracks;
  int64_t taken = 0;
  HoldMany(FrameTrack* const* t, int64_t n) : tracks(t) {
    for (; taken < n; ++taken)
      if (tracks[taken]->busy.exchange(true, std::memory_order_acquire))
        throw std::runtime_error("frame runtime: a track pushed twice at once (two threads, or twice in one call)");
  }
  ~HoldMany() {
    for (int64_t k = 0; k < taken; ++k) tracks[k]->busy.store(false, std::memory_order_release);
  }
};

void check_frame(const FramePlan& p, const RawFrame& f) {
  if (f.persons < 0 || f.cols < p.coords || f.score_col >= f.cols || !f.rows)
    throw std::invalid_argument("frame runtime: a raw frame with too few columns");
}
}  // namespace

void softmax(const float* z, int64_t n, double* p) {
  if (n <= 0) return;
  double m = z[0];
  for (int64_t k = 1; k < n; ++k) m = std::max(m, double(z[k]));
  double total = 0.0;
  for (int64_t k = 0; k < n; ++k) total += (p[k] = std::exp(double(z[k]) - m));
  for (int64_t k = 0; k < n; ++k) p[k] /= total;
}

FrameTrack::FrameTrack(const FramePlan& plan, std::unique_ptr<StepState> s, int64_t outputs_floats)
    : prep(plan), step(std::move(s)) {
  ts.assign(size_t(plan.window), 0.0);
  body.assign(size_t(plan.window), 0);
  hand.assign(size_t(plan.window * (plan.has_hands ? 2 * plan.persons : 0)), 0.0f);
  out.assign(size_t(outputs_floats), 0.0f);
}

size_t FrameTrack::nbytes() const {
  return prep.nbytes() + step->nbytes() + ts.capacity() * sizeof(double) + body.capacity() +
         (hand.capacity() + out.capacity()) * sizeof(float) + sizeof(*this);
}

FrameRuntime::FrameRuntime(std::shared_ptr<const StepProgram> program, FramePlan plan)
    : program_(std::move(program)), plan_(std::move(plan)) {
  if (!program_) throw std::invalid_argument("frame runtime: no step program");
  plan_.check();
  const int64_t C = plan_.channels(), M = plan_.persons;
  const auto& names = program_->input_names();
  const auto& shapes = program_->input_shapes();
  for (size_t i = 0; i < names.size(); ++i) {
    std::vector<int64_t> want;
    int part;
    if (names[i] == "body" && plan_.has_body && !plan_.unified) {
      part = 0, want = {C, plan_.body.V, M};
    } else if (names[i] == "joints" && plan_.unified) {
      part = 0, want = {C, plan_.body.V, M};
    } else if (names[i] == "hand" && plan_.has_hands) {
      part = 1, want = {C, 21, 2 * M};
    } else if (names[i] == "hand_mask" && plan_.has_hands) {
      part = 2, want = {2 * M};
    } else {
      throw std::invalid_argument("frame runtime: the program's input '" + names[i] +
                                  "' is not one the frame plan prepares");
    }
    if (shapes[i] != want)
      throw std::invalid_argument("frame runtime: the program's input '" + names[i] +
                                  "' has another per-frame shape than the frame plan prepares");
    input_part_.push_back(part);
  }
  for (size_t j = 0; j < program_->output_names().size(); ++j) {
    out_off_.push_back(out_floats_);
    out_floats_ += program_->output_size(j);
  }
  const int64_t every = program_->frames_per_prediction();
  lead_ = ((-plan_.window) % every + every) % every;
}

void FrameRuntime::inputs_into(const FrameTrack& t, const float** in) const {
  for (size_t i = 0; i < input_part_.size(); ++i) {
    const int part = input_part_[i];
    in[i] = part == 0 ? t.prep.body_in.data() : part == 1 ? t.prep.hand_in.data() : t.prep.mask_in.data();
  }
}

void FrameRuntime::outputs_into(FrameTrack& t, float** out) const {
  for (size_t j = 0; j < out_off_.size(); ++j) out[j] = t.out.data() + out_off_[j];
}

std::vector<const float*> FrameRuntime::inputs_of(const FrameTrack& t) const {
  std::vector<const float*> in(input_part_.size());
  inputs_into(t, in.data());
  return in;
}

void FrameRuntime::set_batching(int64_t batch_min, int64_t batch) {
  if (batch_min < 2 || batch < 1) throw std::invalid_argument("frame runtime: batch_min must be >= 2 and batch >= 1");
  batch_min_ = batch_min;
  batch_ = batch;
}

std::unique_ptr<FrameTrack> FrameRuntime::new_track() const {
  auto t = std::make_unique<FrameTrack>(plan_, program_->new_state(), out_floats_);
  reset(*t);
  return t;
}

void FrameRuntime::reset(FrameTrack& t) const {
  Hold hold(t.busy);
  t.prep.reset();
  t.count = 0;
  program_->reset(*t.step);
  if (!lead_) return;
  // missing frames: every input zero (what the ring of a missing frame holds)
  std::fill(t.prep.body_in.begin(), t.prep.body_in.end(), 0.0f);
  std::fill(t.prep.hand_in.begin(), t.prep.hand_in.end(), 0.0f);
  std::fill(t.prep.mask_in.begin(), t.prep.mask_in.end(), 0.0f);
  const auto in = inputs_of(t);
  std::vector<float*> outs;
  for (size_t j = 0; j < out_off_.size(); ++j) outs.push_back(t.out.data() + out_off_[j]);
  for (int64_t i = 0; i < lead_; ++i) program_->step(*t.step, in.data(), outs.data());
}

void FrameRuntime::begin(FrameTrack& t, const RawFrame& f, double ts) const {
  const FramePlan& p = plan_;
  const bool body = t.prep.push(p, f);
  const int64_t W = p.window, H = p.has_hands ? 2 * p.persons : 0;
  const int64_t i = t.count % W;
  t.ts[size_t(i)] = ts;
  t.body[size_t(i)] = body;
  std::copy(t.prep.mask_in.begin(), t.prep.mask_in.end(), t.hand.begin() + i * H);
  ++t.count;
}

FrameResult FrameRuntime::finish(const FrameTrack& t, double ts, bool predicted) const {
  FrameResult r;
  r.predicted = predicted;
  if (!predicted) return r;
  const int64_t W = plan_.window, H = plan_.has_hands ? 2 * plan_.persons : 0;
  const int64_t n = std::min(t.count, W);
  int64_t seen = 0, left = 0, right = 0;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t slot = (t.count - n + k) % W;
    seen += t.body[size_t(slot)];
    if (H) {
      left += t.hand[size_t(slot * H)] > 0.0f;
      right += t.hand[size_t(slot * H + 1)] > 0.0f;
    }
  }
  r.frames = n;
  r.body_presence = double(seen) / double(n);
  r.hand_left = float(left) / float(n);
  r.hand_right = float(right) / float(n);
  r.start_ts = t.ts[size_t((t.count - n) % W)];
  r.end_ts = ts;
  return r;
}

FrameResult FrameRuntime::push(FrameTrack& t, const RawFrame& f, double ts) const {
  check_frame(plan_, f);
  Hold hold(t.busy);
  begin(t, f, ts);
  const auto in = inputs_of(t);
  std::vector<float*> outs(out_off_.size());
  outputs_into(t, outs.data());
  return finish(t, ts, program_->step(*t.step, in.data(), outs.data()));
}

void FrameRuntime::push_batch(FrameTrack* const* tracks, const RawFrame* frames, const double* ts, int64_t n,
                              FrameResult* results) const {
  const size_t ni = input_part_.size(), no = out_off_.size();
  std::vector<const float*> in(size_t(n) * ni);
  std::vector<float*> out(size_t(n) * no);
  std::vector<const float* const*> ins(static_cast<size_t>(n));
  std::vector<float* const*> outs(static_cast<size_t>(n));
  std::vector<StepState*> states(static_cast<size_t>(n));
  std::unique_ptr<bool[]> predicted(new bool[size_t(n)]);
  for (int64_t k = 0; k < n; ++k) {
    begin(*tracks[k], frames[k], ts[k]);
    inputs_into(*tracks[k], in.data() + k * int64_t(ni));
    outputs_into(*tracks[k], out.data() + k * int64_t(no));
    ins[size_t(k)] = in.data() + k * int64_t(ni);
    outs[size_t(k)] = out.data() + k * int64_t(no);
    states[size_t(k)] = tracks[k]->step.get();
  }
  program_->step_many(states.data(), ins.data(), outs.data(), n, predicted.get());
  for (int64_t k = 0; k < n; ++k) results[k] = finish(*tracks[k], ts[k], predicted[size_t(k)]);
}

void FrameRuntime::push_many(FrameTrack* const* tracks, const RawFrame* frames, const double* ts, int64_t n,
                             FrameResult* results) const {
  if (n < batch_min_) {
    for (int64_t k = 0; k < n; ++k) results[k] = push(*tracks[k], frames[k], ts[k]);
    return;
  }
  for (int64_t k = 0; k < n; ++k) check_frame(plan_, frames[k]);   // before any track changes
  const HoldMany hold(tracks, n);
  for (int64_t k0 = 0; k0 < n; k0 += batch_) {
    const int64_t m = std::min(batch_, n - k0);
    push_batch(tracks + k0, frames + k0, ts + k0, m, results + k0);
  }
}

}  // namespace bharnet::runtime
