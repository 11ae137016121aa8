// Per-frame causal preparation in native code: one raw keypoint frame of a track -> that frame's
// model inputs, the same numbers as bharnet.data.causal.CausalPreparer ("causal-v1") to float
// rounding. Python stays the reference and the one place where the rules are defined: it hands
// over a FramePlan of plain index arrays and thresholds derived from its own helpers
// (bharnet.backends.native_frame.frame_plan), so no layout or graph is known here.
//
// Steps per frame (the Python module doing each):
//   split      rows [M', V, cols] -> coordinates and a score          (sdk/adapters.RowSplitter)
//   presence   does the frame show a body?                            (sdk/presence.body_frames)
//   adapt      the model's joints, missing ones zeroed                (data/adapt.adapt)
//   normalise  trailing-horizon statistics of the track's own frames  (data/causal, data/normalise)
//   streams    joint, bone, backward motion, score channel            (data/streams, data/inputs)
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace bharnet::runtime {

enum class StreamKind : int { J = 0, B = 1, JM = 2, BM = 3 };

// A part normalised with body statistics: the body graph, or the unified whole-body graph.
struct BodyPlan {
  int64_t V = 0;
  std::vector<uint8_t> centre_joint;                // joints giving the centre (empty: all)
  std::vector<int32_t> scale_child, scale_parent;   // bones giving the scale
  std::vector<int32_t> bone_child, bone_parent;     // the bone stream's pairs
};

struct FramePlan {
  int64_t src_joints = 0;   // V of the source layout
  int64_t persons = 1;      // M of the model
  int64_t coords = 2;       // coordinates used
  float score_threshold = 0.3f;
  float coord_limit = 1e6f;
  float eps = 1e-6f;
  int64_t horizon = 32;     // K: frames of trailing statistics
  int64_t window = 1;       // frames of a recognition (presence, hand presence, start time)
  StreamKind stream = StreamKind::J;
  bool with_score = true;
  // the adapter: a source index per model joint (body or unified joints first, then the 21
  // left-hand and 21 right-hand joints), and whether the source has it at all
  std::vector<int32_t> gather;
  std::vector<uint8_t> valid;
  bool has_body = false, has_hands = false, unified = false;
  BodyPlan body;            // the body or the unified part
  std::vector<int32_t> hand_child, hand_parent, mcp;
  int64_t hand_min_joints = 5;
  // presence: source joints of the body part and how many must be valid
  std::vector<int32_t> presence_joints;
  int64_t presence_need = 1;
  // source rows whose score column means nothing (score 1 where a score column exists)
  int64_t no_score_lo = 0, no_score_hi = 0;

  int64_t channels() const { return coords + (with_score ? 1 : 0); }
  int64_t hand_instances() const { return 2 * persons; }
  void check() const;   // std::invalid_argument naming what is inconsistent
};

// One raw frame as the caller gave it: rows [persons][joints][cols], C-contiguous float32.
struct RawFrame {
  const float* rows = nullptr;
  int64_t persons = 0, cols = 0;
  int64_t score_col = -1;   // the column holding a confidence, -1 for none (score 1)
};

// One track's preparation state: the last K adapted frames (with what each contributes to the
// statistics, computed once when it arrives) and the previous prepared frame (backward motion).
class FramePrep {
 public:
  explicit FramePrep(const FramePlan& p);
  void reset();
  // Prepares one frame into body_in/hand_in/mask_in/joints_in (the model's per-frame inputs,
  // [C, V, I] and [2M]); returns whether it shows a body by the presence rule.
  bool push(const FramePlan& p, const RawFrame& f);
  size_t nbytes() const;

  std::vector<float> body_in, hand_in, mask_in;   // body_in holds the joints input of a unified model

 private:
  struct Part {   // a ring of K frames of one part, [K][rows][coords] and [K][rows]
    std::vector<float> x, s;
    std::vector<float> prev_x, prev_s;   // the previous normalised frame
  };
  void adapt(const FramePlan& p, const RawFrame& f);
  void normalise_body(const FramePlan& p, float* out_x);
  void normalise_hands(const FramePlan& p, float* out_x, float* out_s);
  void write_input(const FramePlan& p, const float* x, const float* s, const float* px, const float* ps,
                   int64_t inst, int64_t V, const std::vector<int32_t>& child, const std::vector<int32_t>& parent,
                   float* dst);

  // the values the body statistics take medians of, over the horizon, kept sorted: one set per
  // coordinate (centre) and one of bone lengths (scale); a frame's values are merged in when it
  // arrives and out when it leaves the horizon, so a median is an index, not a selection
  void horizon_values(const FramePlan& p, int64_t slot, int64_t q, std::vector<float>& out) const;
  void update_sorted(const FramePlan& p);
  std::vector<std::vector<float>> sorted_;   // [coords + 1]
  std::vector<std::vector<float>> leave_;    // [coords + 1]: the values leaving with the reused slot
  std::vector<float> in_, merged_;

  int64_t head_ = -1, filled_ = 0;
  Part body_, hand_;
  std::vector<float> blen_;      // [K][M * scale bones]: present bone lengths of each frame
  std::vector<int32_t> blen_n_;  // [K]
  std::vector<float> hd_;        // [K][2M]: sum of the present wrist-MCP distances of each hand
  std::vector<int32_t> hn_;      // [K][2M]: their number
  std::vector<float> hcentre_;   // [K][2M][coords]: each hand's centre in each frame
  std::vector<float> raw_x_, raw_s_;   // this frame, split (source joints)
  std::vector<float> nx_, hx_, hs_;   // this frame, normalised
};

}  // namespace bharnet::runtime
