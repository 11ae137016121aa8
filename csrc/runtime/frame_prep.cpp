// Per-frame causal preparation (frame_prep.h). Each step names the Python function whose numbers
// it reproduces; float32 throughout where NumPy computes in float32, so the two agree to rounding.
// This file is compiled without floating-point contraction (CMakeLists.txt) for the same reason.
#include "runtime/frame_prep.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <stdexcept>
#include <string>

namespace bharnet::runtime {
namespace {

constexpr int64_t kHand = 21;   // joints of a hand (hand21)

// data/adapt.coords_ok: finite, not absurd, not all zero (NaN compares false).
inline bool coords_ok(const float* g, int64_t c, float limit) {
  bool ok = true, nonzero = false;
  for (int64_t k = 0; k < c; ++k) {
    const float a = std::fabs(g[k]);
    ok = ok && a < limit;
    nonzero = nonzero || a > 0.0f;
  }
  return ok && nonzero;
}

// data/normalise.norm of a difference: float32, summed per channel.
inline float dist(const float* a, const float* b, int64_t c) {
  float d = a[0] - b[0];
  float sq = d * d;
  for (int64_t k = 1; k < c; ++k) {
    d = a[k] - b[k];
    sq += d * d;
  }
  return std::sqrt(sq);
}

// np.median of sorted float32 values: the middle one, or the float32 mean of the two.
float median_sorted(const std::vector<float>& v) {
  const size_t h = v.size() / 2;
  if (v.size() % 2) return v[h];
  return (v[h - 1] + v[h]) / 2.0f;
}

void need(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("frame runtime: inconsistent frame plan: " + what);
}

bool in_range(const std::vector<int32_t>& idx, int64_t n) {
  return std::all_of(idx.begin(), idx.end(), [n](int32_t i) { return i >= 0 && i < n; });
}

}  // namespace

void FramePlan::check() const {
  need(src_joints > 0 && persons > 0 && (coords == 2 || coords == 3), "joints, persons or coords");
  need(horizon > 0 && window > 0, "horizon and window must be >= 1");
  need(gather.size() == valid.size() && in_range(gather, src_joints), "gather indices");
  need(has_body || has_hands || unified, "no input part");
  const int64_t nb = (has_body || unified) ? body.V : 0;
  need(int64_t(gather.size()) == nb + (has_hands ? 2 * kHand : 0), "gather length vs parts");
  if (nb) {
    need(body.centre_joint.empty() || int64_t(body.centre_joint.size()) == body.V, "centre joints");
    need(body.scale_child.size() == body.scale_parent.size() && in_range(body.scale_child, body.V) &&
             in_range(body.scale_parent, body.V), "scale bones");
    need(int64_t(body.bone_child.size()) == body.V && body.bone_child.size() == body.bone_parent.size() &&
             in_range(body.bone_child, body.V) && in_range(body.bone_parent, body.V), "body bones");
  }
  if (has_hands) {
    need(int64_t(hand_child.size()) == kHand && hand_parent.size() == hand_child.size() &&
             in_range(hand_child, kHand) && in_range(hand_parent, kHand), "hand bones");
    need(in_range(mcp, kHand) && !mcp.empty(), "hand MCP joints");
  }
  need(in_range(presence_joints, src_joints), "presence joints");
  need(no_score_lo >= 0 && no_score_lo <= no_score_hi && no_score_hi <= src_joints, "no-score rows");
}

FramePrep::FramePrep(const FramePlan& p) {
  const int64_t K = p.horizon, M = p.persons, c = p.coords, C = p.channels();
  const int64_t vb = (p.has_body || p.unified) ? p.body.V : 0;
  const int64_t hr = p.has_hands ? M * 2 * kHand : 0;
  body_.x.assign(size_t(K * M * vb * c), 0.0f);
  body_.s.assign(size_t(K * M * vb), 0.0f);
  body_.prev_x.assign(size_t(M * vb * c), 0.0f);
  body_.prev_s.assign(size_t(M * vb), 0.0f);
  hand_.x.assign(size_t(K * hr * c), 0.0f);
  hand_.s.assign(size_t(K * hr), 0.0f);
  hand_.prev_x.assign(size_t(hr * c), 0.0f);
  hand_.prev_s.assign(size_t(hr), 0.0f);
  blen_.assign(size_t(K * M * int64_t(p.body.scale_child.size())), 0.0f);
  blen_n_.assign(size_t(K), 0);
  const int64_t H = p.has_hands ? 2 * M : 0;
  hd_.assign(size_t(K * H), 0.0f);
  hn_.assign(size_t(K * H), 0);
  hcentre_.assign(size_t(K * H * c), 0.0f);
  raw_x_.assign(size_t(M * p.src_joints * c), 0.0f);
  raw_s_.assign(size_t(M * p.src_joints), 0.0f);
  nx_.assign(size_t(M * vb * c), 0.0f);
  hx_.assign(size_t(hr * c), 0.0f);
  hs_.assign(size_t(hr), 0.0f);
  const size_t most = size_t(K * M * std::max<int64_t>(vb, int64_t(p.body.scale_child.size())));
  sorted_.assign(size_t(c + 1), {});
  for (auto& v : sorted_) v.reserve(most);
  leave_.assign(size_t(c + 1), {});
  for (auto& v : leave_) v.reserve(most / size_t(std::max<int64_t>(K, 1)) + 1);
  merged_.reserve(most);
  body_in.assign(size_t(C * vb * M), 0.0f);
  hand_in.assign(size_t(C * kHand * H), 0.0f);
  mask_in.assign(size_t(H), 0.0f);
  reset();
}

void FramePrep::reset() {
  head_ = -1;
  filled_ = 0;
  for (auto& v : sorted_) v.clear();
  for (auto& v : leave_) v.clear();
  std::fill(body_.prev_x.begin(), body_.prev_x.end(), 0.0f);
  std::fill(body_.prev_s.begin(), body_.prev_s.end(), 0.0f);
  std::fill(hand_.prev_x.begin(), hand_.prev_x.end(), 0.0f);
  std::fill(hand_.prev_s.begin(), hand_.prev_s.end(), 0.0f);
}

size_t FramePrep::nbytes() const {
  size_t n = 0;
  for (const auto* v : {&body_.x, &body_.s, &body_.prev_x, &body_.prev_s, &hand_.x, &hand_.s, &hand_.prev_x,
                        &hand_.prev_s, &blen_, &hd_, &hcentre_, &raw_x_, &raw_s_, &nx_, &hx_, &hs_, &body_in,
                        &hand_in, &mask_in})
    n += v->capacity() * sizeof(float);
  n += (blen_n_.capacity() + hn_.capacity()) * sizeof(int32_t);
  for (const auto& v : sorted_) n += v.capacity() * sizeof(float);
  for (const auto& v : leave_) n += v.capacity() * sizeof(float);
  n += (in_.capacity() + merged_.capacity()) * sizeof(float);
  return n;
}

bool FramePrep::push(const FramePlan& p, const RawFrame& f) {
  const int64_t M = p.persons, V = p.src_joints, c = p.coords;
  // split (sdk/adapters.RowSplitter): persons beyond M dropped, missing ones zero (score 0)
  bool body_seen = false;
  for (int64_t m = 0; m < M; ++m) {
    float* x = raw_x_.data() + m * V * c;
    float* s = raw_s_.data() + m * V;
    if (m >= f.persons) {
      std::fill(x, x + V * c, 0.0f);
      std::fill(s, s + V, 0.0f);
      continue;
    }
    const float* row = f.rows + m * V * f.cols;
    for (int64_t v = 0; v < V; ++v, row += f.cols) {
      for (int64_t k = 0; k < c; ++k) x[v * c + k] = row[k];
      float sc = 1.0f;
      if (f.score_col >= 0) {
        sc = (v >= p.no_score_lo && v < p.no_score_hi) ? 1.0f : row[f.score_col];
        if (!(sc >= 0.0f)) sc = 0.0f;   // a NaN confidence is "unknown": missing
      }
      s[v] = sc;
    }
    // presence (sdk/presence.body_frames)
    int64_t valid = 0;
    for (int32_t j : p.presence_joints)
      valid += coords_ok(x + j * c, c, p.coord_limit) && s[j] >= p.score_threshold;
    body_seen = body_seen || valid >= p.presence_need;
  }
  adapt(p, f);
  if (p.has_body || p.unified) {
    normalise_body(p, nx_.data());
    const float* s = body_.s.data() + head_ * M * p.body.V;
    write_input(p, nx_.data(), s, body_.prev_x.data(), body_.prev_s.data(), M, p.body.V, p.body.bone_child,
                p.body.bone_parent, body_in.data());
    if (p.stream == StreamKind::JM || p.stream == StreamKind::BM) {
      std::copy(nx_.begin(), nx_.end(), body_.prev_x.begin());
      std::copy(s, s + M * p.body.V, body_.prev_s.begin());
    }
  }
  if (p.has_hands) {
    normalise_hands(p, hx_.data(), hs_.data());
    write_input(p, hx_.data(), hs_.data(), hand_.prev_x.data(), hand_.prev_s.data(), 2 * M, kHand, p.hand_child,
                p.hand_parent, hand_in.data());
    if (p.stream == StreamKind::JM || p.stream == StreamKind::BM) {
      std::copy(hx_.begin(), hx_.end(), hand_.prev_x.begin());
      std::copy(hs_.begin(), hs_.end(), hand_.prev_s.begin());
    }
  }
  return body_seen;
}

// data/adapt.adapt into a new ring slot, the hands masked (normalise.hand_presence), and what the
// frame contributes to the trailing statistics computed once.
void FramePrep::adapt(const FramePlan& p, const RawFrame&) {
  const int64_t K = p.horizon, M = p.persons, V = p.src_joints, c = p.coords;
  const int64_t vb = (p.has_body || p.unified) ? p.body.V : 0;
  const bool leaving = filled_ == K;   // the slot about to be reused leaves the horizon
  head_ = (head_ + 1) % K;
  filled_ = std::min(filled_ + 1, K);
  for (int64_t q = 0; vb && q <= c; ++q) {   // what the slot about to be reused takes out
    if (leaving)
      horizon_values(p, head_, q, leave_[size_t(q)]);
    else
      leave_[size_t(q)].clear();
  }
  float* bx = body_.x.data() + head_ * M * vb * c;
  float* bs = body_.s.data() + head_ * M * vb;
  float* hx = hand_.x.data() + head_ * M * 2 * kHand * c;
  float* hs = hand_.s.data() + head_ * M * 2 * kHand;
  const int64_t n = int64_t(p.gather.size());
  for (int64_t m = 0; m < M; ++m) {
    const float* x = raw_x_.data() + m * V * c;
    const float* s = raw_s_.data() + m * V;
    for (int64_t j = 0; j < n; ++j) {
      const int64_t src = p.gather[size_t(j)];
      const float* g = x + src * c;
      const bool ok = p.valid[size_t(j)] && coords_ok(g, c, p.coord_limit) && s[src] >= p.score_threshold;
      float *dx, *ds;
      if (j < vb) {
        dx = bx + (m * vb + j) * c;
        ds = bs + m * vb + j;
      } else {
        const int64_t side = (j - vb) / kHand, k = (j - vb) % kHand;
        dx = hx + ((m * 2 + side) * kHand + k) * c;
        ds = hs + (m * 2 + side) * kHand + k;
      }
      for (int64_t k = 0; k < c; ++k) dx[k] = ok ? g[k] : 0.0f;
      *ds = ok ? s[src] : 0.0f;
    }
  }
  if (vb) {   // body bone lengths (normalise.body_stats' scale)
    const auto& bp = p.body;
    const int64_t nbone = int64_t(bp.scale_child.size());
    float* len = blen_.data() + head_ * M * nbone;
    int32_t cnt = 0;
    for (int64_t m = 0; m < M; ++m)
      for (int64_t b = 0; b < nbone; ++b) {
        const int64_t ch = m * vb + bp.scale_child[size_t(b)], pa = m * vb + bp.scale_parent[size_t(b)];
        if (bs[ch] > 0.0f && bs[pa] > 0.0f) len[cnt++] = dist(bx + ch * c, bx + pa * c, c);
      }
    blen_n_[size_t(head_)] = cnt;
    update_sorted(p);
  }
  if (p.has_hands) {   // mask, per-frame centre, wrist-MCP distances (normalise.hand_stats)
    for (int64_t h = 0; h < 2 * M; ++h) {
      float* x = hx + h * kHand * c;
      float* s = hs + h * kHand;
      int64_t present = 0;
      for (int64_t k = 0; k < kHand; ++k) present += s[k] > 0.0f;
      if (present < p.hand_min_joints) std::fill(s, s + kHand, 0.0f), present = 0;
      float* centre = hcentre_.data() + (head_ * 2 * M + h) * c;
      for (int64_t k = 0; k < c; ++k) centre[k] = x[k];
      if (present && !(s[0] > 0.0f)) {   // no wrist: the mean of the present joints
        float cnt = 0.0f;
        for (int64_t k = 0; k < c; ++k) centre[k] = 0.0f;
        for (int64_t j = 0; j < kHand; ++j)
          if (s[j] > 0.0f) {
            cnt += 1.0f;
            for (int64_t k = 0; k < c; ++k) centre[k] += x[j * c + k];
          }
        for (int64_t k = 0; k < c; ++k) centre[k] /= cnt;
      }
      float d = 0.0f;
      int32_t nd = 0;
      if (s[0] > 0.0f)
        for (int32_t j : p.mcp)
          if (s[j] > 0.0f) {
            d += dist(x + j * c, x, c);
            ++nd;
          }
      hd_[size_t(head_ * 2 * M + h)] = d;
      hn_[size_t(head_ * 2 * M + h)] = nd;
    }
  }
}

// The values ring slot `slot` gives body statistic q: coordinate q of its present centre joints
// (q < coords), or its present bone lengths (q == coords).
void FramePrep::horizon_values(const FramePlan& p, int64_t slot, int64_t q, std::vector<float>& out) const {
  const BodyPlan& bp = p.body;
  const int64_t c = p.coords, E = p.persons * bp.V;
  out.clear();
  if (q == c) {
    const float* len = blen_.data() + slot * p.persons * int64_t(bp.scale_child.size());
    out.assign(len, len + blen_n_[size_t(slot)]);
  } else {
    const float* x = body_.x.data() + slot * E * c;
    const float* s = body_.s.data() + slot * E;
    for (int64_t i = 0; i < E; ++i)
      if (s[i] > 0.0f && (bp.centre_joint.empty() || bp.centre_joint[size_t(i % bp.V)])) out.push_back(x[i * c + q]);
  }
  std::sort(out.begin(), out.end());
}

// One pass over each sorted set: the values of the slot that left the horizon (leave_) taken
// out, the newest slot's values merged in.
void FramePrep::update_sorted(const FramePlan& p) {
  for (int64_t q = 0; q <= p.coords; ++q) {
    std::vector<float>& v = sorted_[size_t(q)];
    const std::vector<float>& out = leave_[size_t(q)];
    horizon_values(p, head_, q, in_);
    merged_.resize(v.size() + in_.size());
    float* m = merged_.data();
    size_t j = 0, k = 0;
    for (float x : v) {
      if (j < out.size() && x == out[j]) {   // out is a sorted sub-multiset of v
        ++j;
        continue;
      }
      while (k < in_.size() && in_[k] < x) *m++ = in_[k++];
      *m++ = x;
    }
    while (k < in_.size()) *m++ = in_[k++];
    merged_.resize(size_t(m - merged_.data()));
    v.swap(merged_);
  }
}

// data/causal._body_frames for the newest frame: centre and scale over the ring (body_stats).
void FramePrep::normalise_body(const FramePlan& p, float* out) {
  const BodyPlan& bp = p.body;
  const int64_t M = p.persons, V = bp.V, c = p.coords, K = p.horizon, E = M * V;
  const float* cx = body_.x.data() + head_ * E * c;
  const float* cs = body_.s.data() + head_ * E;
  std::fill(out, out + E * c, 0.0f);
  bool any = false;
  for (int64_t i = 0; i < E; ++i) any = any || cs[i] > 0.0f;
  if (!any) return;   // nothing to normalise: the frame stays zero
  float centre[3] = {0.0f, 0.0f, 0.0f};
  float scale = 1.0f;
  const int64_t npts = int64_t(sorted_[0].size());
  if (npts) {
    for (int64_t k = 0; k < c; ++k) centre[k] = median_sorted(sorted_[size_t(k)]);
    const std::vector<float>& lengths = sorted_[size_t(c)];
    double sc = lengths.empty() ? 0.0 : double(median_sorted(lengths));
    if (sc < p.eps) {   // no usable bone: the rms spread of the points around the centre
      double acc = 0.0;
      for (int64_t f = 0; f < filled_; ++f) {
        const int64_t slot = (head_ - f + K) % K;
        const float* x = body_.x.data() + slot * E * c;
        const float* s = body_.s.data() + slot * E;
        for (int64_t i = 0; i < E; ++i)
          if (s[i] > 0.0f && (bp.centre_joint.empty() || bp.centre_joint[size_t(i % V)])) {
            const float d = dist(x + i * c, centre, c);
            acc += double(d * d);
          }
      }
      sc = double(std::sqrt(float(acc / double(npts))));
    }
    scale = sc > p.eps ? float(sc) : 1.0f;
  }
  for (int64_t i = 0; i < E; ++i)
    if (cs[i] > 0.0f)
      for (int64_t k = 0; k < c; ++k) out[i * c + k] = (cx[i * c + k] - centre[k]) / scale;
}

// data/causal._hand_frames for the newest frame: wrist centre, scale over the ring, left mirrored.
void FramePrep::normalise_hands(const FramePlan& p, float* out, float* out_s) {
  const int64_t M = p.persons, c = p.coords, K = p.horizon, H = 2 * M;
  const float* cx = hand_.x.data() + head_ * H * kHand * c;
  const float* cs = hand_.s.data() + head_ * H * kHand;
  std::fill(out, out + H * kHand * c, 0.0f);
  std::copy(cs, cs + H * kHand, out_s);
  for (int64_t h = 0; h < H; ++h) {
    const float* s = cs + h * kHand;
    bool any = false;
    for (int64_t j = 0; j < kHand; ++j) any = any || s[j] > 0.0f;
    mask_in[size_t(h)] = any ? 1.0f : 0.0f;   // a masked hand has no present joint left
    if (!any) continue;
    double dsum = 0.0;
    int64_t dn = 0;
    for (int64_t f = 0; f < filled_; ++f) {
      const int64_t slot = (head_ - f + K) % K;
      dsum += double(hd_[size_t(slot * H + h)]);
      dn += hn_[size_t(slot * H + h)];
    }
    double scale;
    if (dn > 0) {
      scale = dsum / double(dn);
    } else {   // no wrist-MCP pair in the horizon: rms spread around the frame centres
      double acc = 0.0;
      int64_t np = 0;
      for (int64_t f = 0; f < filled_; ++f) {
        const int64_t slot = (head_ - f + K) % K;
        const float* x = hand_.x.data() + (slot * H + h) * kHand * c;
        const float* fs = hand_.s.data() + (slot * H + h) * kHand;
        const float* centre = hcentre_.data() + (slot * H + h) * c;
        for (int64_t j = 0; j < kHand; ++j)
          if (fs[j] > 0.0f) {
            const float d = dist(x + j * c, centre, c);
            acc += double(d * d);
            ++np;
          }
      }
      scale = std::sqrt(acc / double(std::max<int64_t>(np, 1)));
    }
    const float sc = scale > p.eps ? float(scale) : 1.0f;
    const float* centre = hcentre_.data() + (head_ * H + h) * c;
    const float* x = cx + h * kHand * c;
    float* o = out + h * kHand * c;
    for (int64_t j = 0; j < kHand; ++j)
      if (s[j] > 0.0f)
        for (int64_t k = 0; k < c; ++k) o[j * c + k] = (x[j * c + k] - centre[k]) / sc;
    if (h % 2 == 0)   // the left hand, mirrored in x
      for (int64_t j = 0; j < kHand; ++j) o[j * c] = -o[j * c];
  }
}

// data/inputs.to_inputs for one frame: the stream (streams.stream, backward motion) and the score
// channel, written channel-first [C, V, I].
void FramePrep::write_input(const FramePlan& p, const float* x, const float* s, const float* px, const float* ps,
                            int64_t inst, int64_t V, const std::vector<int32_t>& child,
                            const std::vector<int32_t>& parent, float* dst) {
  const int64_t c = p.coords;
  const bool bone = p.stream == StreamKind::B || p.stream == StreamKind::BM;
  const bool motion = p.stream == StreamKind::JM || p.stream == StreamKind::BM;
  for (int64_t i = 0; i < inst; ++i) {
    const float *xi = x + i * V * c, *si = s + i * V, *pxi = px + i * V * c, *psi = ps + i * V;
    for (int64_t v = 0; v < V; ++v) {
      float val[3] = {0.0f, 0.0f, 0.0f};
      if (!bone) {
        const bool ok = si[v] > 0.0f && (!motion || psi[v] > 0.0f);
        if (ok)
          for (int64_t k = 0; k < c; ++k) val[k] = motion ? xi[v * c + k] - pxi[v * c + k] : xi[v * c + k];
      } else {
        const int64_t a = child[size_t(v)], b = parent[size_t(v)];
        const bool ok = si[a] > 0.0f && si[b] > 0.0f;
        const bool pok = psi[a] > 0.0f && psi[b] > 0.0f;
        if (ok && (!motion || pok))
          for (int64_t k = 0; k < c; ++k) {
            const float bt = xi[a * c + k] - xi[b * c + k];
            val[k] = motion ? bt - (pxi[a * c + k] - pxi[b * c + k]) : bt;
          }
      }
      for (int64_t k = 0; k < c; ++k) dst[(k * V + v) * inst + i] = std::isfinite(val[k]) ? val[k] : 0.0f;
      if (p.with_score) dst[(c * V + v) * inst + i] = si[v];
    }
  }
}

}  // namespace bharnet::runtime
