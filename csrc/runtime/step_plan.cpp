// Building a StepProgram: tensor shapes and rates, where each tensor lives, the packed weights,
// the workspace layout, and the steady state of missing frames.
#include <algorithm>
#include <map>
#include <numeric>
#include <stdexcept>

#include "runtime/seg_gemm.h"
#include "runtime/step_internal.h"

namespace bharnet::runtime {
namespace {

[[noreturn]] void fail(const std::string& msg) { throw std::invalid_argument("step runtime: " + msg); }

std::string where(const OpSpec& o) { return o.op + " -> " + o.out; }

const Attr& attr(const OpSpec& o, const char* key) {
  auto it = o.attrs.find(key);
  if (it == o.attrs.end()) fail(where(o) + ": missing attribute '" + key + "'");
  return it->second;
}

std::vector<int64_t> attr_ints(const OpSpec& o, const char* key) {
  const Attr& a = attr(o, key);
  if (a.is_text) fail(where(o) + ": attribute '" + key + "' must be numeric");
  std::vector<int64_t> v;
  for (double x : a.nums) v.push_back(int64_t(x));
  return v;
}

int64_t attr_int(const OpSpec& o, const char* key) {
  auto v = attr_ints(o, key);
  if (v.size() != 1) fail(where(o) + ": attribute '" + key + "' must be one number");
  return v[0];
}

double attr_num(const OpSpec& o, const char* key) {
  const Attr& a = attr(o, key);
  if (a.is_text || a.nums.size() != 1) fail(where(o) + ": attribute '" + key + "' must be one number");
  return a.nums[0];
}

std::string attr_text(const OpSpec& o, const char* key) {
  const Attr& a = attr(o, key);
  if (!a.is_text) fail(where(o) + ": attribute '" + key + "' must be text");
  return a.text;
}

bool attr_relu(const OpSpec& o) { return attr_num(o, "relu") != 0.0; }

OpKind kind_of(const OpSpec& o) {
  static const std::map<std::string, OpKind> kinds = {
      {"embed", OpKind::Embed},       {"mask_seq", OpKind::MaskSeq},
      {"gconv", OpKind::GConv},       {"pw", OpKind::Pw},
      {"affine", OpKind::Affine},     {"concat", OpKind::Concat},
      {"add", OpKind::Add},           {"collect", OpKind::Collect},
      {"presence", OpKind::Presence}, {"gap", OpKind::Gap},
      {"pool_attention", OpKind::PoolAttention},
      {"linear", OpKind::Linear},     {"fuse", OpKind::Fuse}};
  if (o.op == "temporal") {
    const std::string k = attr_text(o, "kind");
    if (k == "conv") return OpKind::TConv;
    if (k == "max") return OpKind::TMax;
    if (k == "pick") return OpKind::TPick;
    fail(where(o) + ": unknown temporal kind '" + k + "'");
  }
  auto it = kinds.find(o.op);
  if (it == kinds.end()) fail("unknown operation '" + o.op + "'");
  return it->second;
}

bool is_head(OpKind k) { return k >= OpKind::Collect; }

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

// First-fit allocation of workspace intervals, so tensors that are never alive at the same time
// share memory and a frame's working set stays in cache.
class Arena {
 public:
  int64_t alloc(int64_t size) {
    size = round16(std::max<int64_t>(size, 1));
    for (size_t i = 0; i < free_.size(); ++i)
      if (free_[i].second >= size) {
        const int64_t off = free_[i].first;
        free_[i].first += size;
        free_[i].second -= size;
        if (free_[i].second == 0) free_.erase(free_.begin() + long(i));
        return off;
      }
    if (!free_.empty() && free_.back().first + free_.back().second == top_) {  // grow the last gap
      const int64_t off = free_.back().first;
      free_.pop_back();
      top_ = off + size;
      return off;
    }
    const int64_t off = top_;
    top_ += size;
    return off;
  }
  void release(int64_t off, int64_t size) {
    size = round16(std::max<int64_t>(size, 1));
    free_.push_back({off, size});
    std::sort(free_.begin(), free_.end());
    std::vector<std::pair<int64_t, int64_t>> merged;
    for (auto& b : free_)
      if (!merged.empty() && merged.back().first + merged.back().second == b.first)
        merged.back().second += b.second;
      else
        merged.push_back(b);
    free_ = merged;
  }
  int64_t top() const { return top_; }

 private:
  std::vector<std::pair<int64_t, int64_t>> free_;  // (offset, size), sorted
  int64_t top_ = 0;
};

}  // namespace

const WeightArray& StepProgram::weight(const OpSpec& o, const std::string& role, const WeightMap& w,
                                       std::vector<int64_t> shape) const {
  auto r = o.weights.find(role);
  if (r == o.weights.end()) fail(where(o) + ": missing weight role '" + role + "'");
  auto it = w.find(r->second);
  if (it == w.end()) fail(where(o) + ": weight '" + r->second + "' is not in the weights");
  const auto& have = it->second.shape;
  bool ok = have.size() == shape.size();
  for (size_t i = 0; ok && i < shape.size(); ++i) ok = shape[i] < 0 || shape[i] == have[i];
  if (!ok)
    fail(where(o) + ": weight '" + r->second + "' has shape " + shape_str(have) + ", expected " +
         shape_str(shape) + " (-1: any)");
  if (int64_t(it->second.data.size()) !=
      std::accumulate(have.begin(), have.end(), int64_t(1), std::multiplies<int64_t>()))
    fail(where(o) + ": weight '" + r->second + "' holds the wrong number of values");
  return it->second;
}

int64_t StepProgram::pack(const std::vector<float>& data) {
  const int64_t off = int64_t(weights_.size());
  weights_.insert(weights_.end(), data.begin(), data.end());
  weights_.resize(size_t(round16(int64_t(weights_.size()))), 0.0f);  // every block aligned
  return off;
}

StepProgram::StepProgram(const ProgramSpec& spec, const WeightMap& weights) {
  build_tensors(spec, weights);
  fuse_adds();
  plan_storage();
  allocate_workspace();
  compute_steady_state();
}

namespace {

// W [O, C] (or one tap of [O, C, k]) as the kernel's B: [C][padded(O)], zero-padded.
std::vector<float> as_b(const float* W, int64_t O, int64_t C, int64_t stride_o, int64_t stride_c) {
  const int64_t Op = padded(O);
  std::vector<float> b(size_t(C * Op), 0.0f);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t o = 0; o < O; ++o) b[size_t(c * Op + o)] = W[o * stride_o + c * stride_c];
  return b;
}

std::vector<float> padded_bias(const std::vector<float>& b) {
  std::vector<float> p(size_t(padded(int64_t(b.size()))), 0.0f);
  std::copy(b.begin(), b.end(), p.begin());
  return p;
}

}  // namespace

void StepProgram::build_tensors(const ProgramSpec& spec, const WeightMap& wmap) {
  std::map<std::string, int> id;
  std::vector<int64_t> rf;  // frames of input each element depends on
  auto add = [&](TensorInfo t, int64_t frames) {
    if (id.count(t.name)) fail("tensor '" + t.name + "' is written twice");
    id[t.name] = int(tensors_.size());
    tensors_.push_back(std::move(t));
    rf.push_back(frames);
    return int(tensors_.size()) - 1;
  };
  for (const InputSpec& in : spec.inputs) {
    TensorInfo t;
    t.name = in.name;
    t.store = Store::Input;
    t.index = int(input_names_.size());
    t.rate = 1;
    if (in.shape.size() == 4) {  // [C, T, V, I]
      t.C = in.shape[0], t.V = in.shape[2], t.inst = in.shape[3];
      input_shapes_.push_back({t.C, t.V, t.inst});
    } else if (in.shape.size() == 2) {  // [T, I]: a presence mask
      t.C = 1, t.V = in.shape[1], t.inst = 1;
      input_shapes_.push_back({t.V});
    } else {
      fail("input '" + in.name + "' has shape " + shape_str(in.shape) + "; expected [C, T, V, I] or [T, I]");
    }
    input_names_.push_back(in.name);
    add(t, 1);
  }

  std::vector<bool> is_mask(tensors_.size(), false);  // derived from a presence mask
  int64_t rf_final = 1;
  for (const OpSpec& o : spec.ops) {
    const OpKind kind = kind_of(o);
    StepOp op;
    op.kind = kind;
    for (const std::string& n : o.ins) {
      if (n.empty()) {
        op.ins.push_back(-1);
        continue;
      }
      auto it = id.find(n);
      if (it == id.end()) fail(where(o) + " reads '" + n + "' before it is made");
      op.ins.push_back(it->second);
    }
    auto in = [&](size_t k) -> const TensorInfo& {
      if (k >= op.ins.size() || op.ins[k] < 0) fail(where(o) + ": missing input " + std::to_string(k));
      return tensors_[size_t(op.ins[k])];
    };
    const bool head = is_head(kind);
    for (int t : op.ins) {
      if (t < 0) continue;
      const bool seq = tensors_[size_t(t)].rate > 0;
      if (kind == OpKind::Collect ? !seq : seq == head)
        fail(where(o) + ": cannot read '" + tensors_[size_t(t)].name + "' (" +
             (seq ? "a sequence" : "a head tensor") + ")");
      if (!head && kind != OpKind::Embed && kind != OpKind::MaskSeq &&
          tensors_[size_t(t)].store == Store::Input)
        fail(where(o) + ": only embed and mask_seq may read a program input");
    }
    TensorInfo out;
    out.name = o.out;
    int64_t frames = 1;
    bool mask = kind == OpKind::MaskSeq;
    if (!head) {
      const TensorInfo& x = in(0);
      out.inst = x.inst, out.C = x.C, out.V = x.V, out.rate = x.rate;
      for (int t : op.ins) {
        if (t < 0) continue;
        if (tensors_[size_t(t)].rate != x.rate) fail(where(o) + ": inputs at different rates");
        frames = std::max(frames, rf[size_t(t)]);
        mask = mask || is_mask[size_t(t)];
      }
      op.relu = o.attrs.count("relu") && attr_relu(o);
    } else {
      out.store = Store::Head;
    }
    auto same_shape = [&](const TensorInfo& a, const TensorInfo& b) {
      if (a.inst != b.inst || a.C != b.C || a.V != b.V)
        fail(where(o) + ": '" + a.name + "' and '" + b.name + "' differ in shape");
    };
    switch (kind) {
      case OpKind::Embed: {
        const TensorInfo& x = in(0);
        if (input_shapes_[size_t(x.index)].size() != 3) fail(where(o) + ": embed reads a keypoint input");
        if (attr_int(o, "instances") != x.inst)
          fail(where(o) + ": " + std::to_string(attr_int(o, "instances")) + " instances, but the input has " +
               std::to_string(x.inst));
        op.w = {pack(weight(o, "scale", wmap, {x.V * x.C}).data), pack(weight(o, "shift", wmap, {x.V * x.C}).data)};
        break;
      }
      case OpKind::MaskSeq:
        if (input_shapes_[size_t(in(0).index)].size() != 1) fail(where(o) + ": mask_seq reads a [T, I] input");
        break;
      case OpKind::GConv: {
        const TensorInfo& x = in(0);
        const auto& b = weight(o, "b", wmap, {-1});
        const int64_t O = b.shape[0];
        const auto& A = weight(o, "A", wmap, {-1, x.V, x.V});
        const int64_t K = A.shape[0];
        const auto& W = weight(o, "W", wmap, {K, O, x.C});
        if (K > kMaxSegs) fail(where(o) + ": more than " + std::to_string(kMaxSegs) + " adjacency matrices");
        out.C = O;
        op.O = O, op.Op = padded(O), op.K = K;
        // channel mixing first: U[r, k*Op + o] = sum_c x[r, c] W[k, o, c]  (B = [C][K*Op])
        std::vector<float> wcat(size_t(x.C * K * op.Op), 0.0f);
        for (int64_t c = 0; c < x.C; ++c)
          for (int64_t k = 0; k < K; ++k)
            for (int64_t oo = 0; oo < O; ++oo)
              wcat[size_t(c * K * op.Op + k * op.Op + oo)] = W.data[size_t((k * O + oo) * x.C + c)];
        // then the joints: y[w, o] = sum_k sum_v A[k, v, w] U[v, k*Op + o]  (A^T as [w][k][v])
        std::vector<float> at(size_t(x.V * K * x.V));
        for (int64_t w = 0; w < x.V; ++w)
          for (int64_t k = 0; k < K; ++k)
            for (int64_t v = 0; v < x.V; ++v)
              at[size_t((w * K + k) * x.V + v)] = A.data[size_t((k * x.V + v) * x.V + w)];
        op.w = {pack(wcat), pack(at), pack(padded_bias(b.data))};
        if (op.ins.size() > 1 && op.ins[1] >= 0) {
          TensorInfo want = out;
          same_shape(want, in(1));
        }
        break;
      }
      case OpKind::Pw: {
        const TensorInfo& x = in(0);
        const auto& b = weight(o, "b", wmap, {-1});
        const int64_t O = b.shape[0];
        const auto& W = weight(o, "W", wmap, {O, x.C});
        out.C = O, op.O = O, op.Op = padded(O);
        op.w = {pack(as_b(W.data.data(), O, x.C, x.C, 1)), pack(padded_bias(b.data))};
        break;
      }
      case OpKind::Affine: {
        const TensorInfo& x = in(0);
        op.w = {pack(weight(o, "scale", wmap, {x.C}).data), pack(weight(o, "shift", wmap, {x.C}).data)};
        break;
      }
      case OpKind::Concat: {
        out.C = 0;
        for (size_t k = 0; k < op.ins.size(); ++k) {
          const TensorInfo& x = in(k);
          if (x.inst != out.inst || x.V != out.V) fail(where(o) + ": inputs differ in joints or instances");
          op.ages.push_back(out.C);  // the channel offset of each input
          out.C += x.C;
        }
        break;
      }
      case OpKind::Add:
        if (op.ins.size() != 2) fail(where(o) + ": add takes two inputs");
        same_shape(in(0), in(1));
        break;
      case OpKind::TConv:
      case OpKind::TMax:
      case OpKind::TPick: {
        const TensorInfo& x = in(0);
        const auto taps = attr_ints(o, "taps");
        const int64_t span = attr_int(o, "span"), stride = attr_int(o, "stride");
        if (attr_int(o, "pad") != 0)
          fail(where(o) + ": a padded temporal op; the step runtime runs valid (streaming) programs only");
        if (taps.empty() || int64_t(taps.size()) > kMaxSegs || stride < 1)
          fail(where(o) + ": bad taps or stride");
        if (kind == OpKind::TPick && taps.size() != 1) fail(where(o) + ": a pick has one tap");
        for (int64_t t : taps) {
          if (t < 0 || t >= span) fail(where(o) + ": tap outside the span");
          op.ages.push_back(span - 1 - t);
        }
        out.rate = x.rate * stride;
        frames = rf[size_t(op.ins[0])] + (span - 1) * x.rate;
        if (kind == OpKind::TConv) {
          const int64_t k = int64_t(taps.size());
          const auto& b = weight(o, "b", wmap, {-1});
          const int64_t O = b.shape[0];
          const auto& W = weight(o, "W", wmap, {O, x.C, k});
          out.C = O, op.O = O, op.Op = padded(O);
          std::vector<float> wt;
          for (int64_t t = 0; t < k; ++t) {
            auto part = as_b(W.data.data() + t, O, x.C, x.C * k, k);
            wt.insert(wt.end(), part.begin(), part.end());
          }
          op.w = {pack(wt), pack(padded_bias(b.data))};
        }
        break;
      }
      case OpKind::Collect: {
        const TensorInfo& x = in(0);
        out.store = Store::Block;
        out.src = op.ins[0];
        out.steps = attr_int(o, "steps"), out.spacing = attr_int(o, "spacing");
        if (out.steps < 1 || out.spacing < 1) fail(where(o) + ": steps and spacing must be positive");
        out.inst = x.inst, out.C = x.C, out.V = x.V;
        op.rate = x.rate;
        mask = is_mask[size_t(op.ins[0])];
        if (!mask) rf_final = std::max(rf_final, rf[size_t(op.ins[0])] + (out.steps - 1) * out.spacing * x.rate);
        head_rate_ = std::lcm(head_rate_, x.rate);
        break;
      }
      case OpKind::Presence: {
        const TensorInfo& x = in(0);
        if (x.store != Store::Block || x.inst != 1 || x.C != 1) fail(where(o) + ": presence reads a collected mask");
        out.size = x.V;
        break;
      }
      case OpKind::Gap: {
        const TensorInfo& x = in(0);
        if (x.store != Store::Block) fail(where(o) + ": gap reads a collected block");
        if (attr_int(o, "instances") != x.inst) fail(where(o) + ": instances do not match the block");
        if (op.ins.size() > 1 && op.ins[1] >= 0 && in(1).size != x.inst)
          fail(where(o) + ": the presence has " + std::to_string(in(1).size) + " instances, the block " +
               std::to_string(x.inst));
        out.size = x.C;
        break;
      }
      case OpKind::PoolAttention: {
        const TensorInfo& x = in(0);
        const TensorInfo& ctx = in(1);
        if (x.store != Store::Block || ctx.store != Store::Block)
          fail(where(o) + ": pool_attention reads two collected blocks");
        if (attr_int(o, "instances") != x.inst || attr_int(o, "ctx_instances") != ctx.inst)
          fail(where(o) + ": instances do not match the blocks");
        if (op.ins.size() != 4) fail(where(o) + ": pool_attention takes [feat, ctx, feat_mask, ctx_mask]");
        if (op.ins[2] >= 0 && in(2).size != x.inst) fail(where(o) + ": feat_mask does not match");
        if (op.ins[3] >= 0 && in(3).size != ctx.inst) fail(where(o) + ": ctx_mask does not match");
        const auto& wq = weight(o, "wq", wmap, {-1, x.C});
        const int64_t D = wq.shape[0];
        op.heads = attr_int(o, "heads");
        if (op.heads < 1 || D % op.heads) fail(where(o) + ": the width is not divisible by the heads");
        op.D = D;
        op.scale = float(attr_num(o, "scale"));
        op.w = {pack(wq.data), pack(weight(o, "wk", wmap, {D, ctx.C}).data),
                pack(weight(o, "wv", wmap, {D, ctx.C}).data), pack(weight(o, "wo", wmap, {x.C, D}).data)};
        out.size = x.C;
        break;
      }
      case OpKind::Linear: {
        const TensorInfo& x = in(0);
        const auto& b = weight(o, "b", wmap, {-1});
        const auto& W = weight(o, "W", wmap, {b.shape[0], x.size});
        op.O = b.shape[0];
        op.w = {pack(W.data), pack(b.data)};
        out.size = op.O;
        break;
      }
      case OpKind::Fuse: {
        op.how = attr_text(o, "how");
        if (op.how != "sum" && op.how != "single" && op.how != "noisy_or" && op.how != "mean")
          fail(where(o) + ": unknown fusion '" + op.how + "'");
        for (size_t k = 0; k < op.ins.size(); ++k)
          if (in(k).size != in(0).size) fail(where(o) + ": the logits differ in size");
        out.size = in(0).size;
        break;
      }
    }
    if (!head) op.rate = out.rate;
    op.out = add(out, frames);
    is_mask.push_back(mask);
    (head ? head_ops_ : seq_ops_).push_back(std::move(op));
  }
  receptive_field_ = rf_final;
  for (const auto& [name, tensor] : spec.outputs) {
    auto it = id.find(tensor);
    if (it == id.end()) fail("output '" + name + "' names an unknown tensor '" + tensor + "'");
    if (tensors_[size_t(it->second)].store != Store::Head)
      fail("output '" + name + "' is not a head tensor");
    output_names_.push_back(name);
    output_tensors_.push_back(it->second);
  }
  if (head_ops_.empty()) fail("the program has no head (no collect)");
  rf_ = rf;
}

// add(a, b) folds into the GEMM op that makes a (or b) when that op has no ReLU or residual of
// its own, nothing else reads its output, and the other operand is ready when it runs: the sum
// and the add's ReLU then happen in the GEMM epilogue and the intermediate tensor disappears.
void StepProgram::fuse_adds() {
  std::vector<int> producer(tensors_.size(), -1), readers(tensors_.size(), 0);
  for (size_t i = 0; i < seq_ops_.size(); ++i) {
    producer[size_t(seq_ops_[i].out)] = int(i);
    for (int t : seq_ops_[i].ins)
      if (t >= 0) ++readers[size_t(t)];
  }
  for (const StepOp& op : head_ops_)
    for (int t : op.ins)
      if (t >= 0) ++readers[size_t(t)];
  for (const auto& t : output_tensors_) ++readers[size_t(t)];
  // when an operand's data exists: a pick reads its source's ring, ready once the source is made
  auto ready_at = [&](int t) {
    const int p = producer[size_t(t)];
    if (p >= 0 && seq_ops_[size_t(p)].kind == OpKind::TPick) return producer[size_t(seq_ops_[size_t(p)].ins[0])];
    return p;
  };
  std::vector<bool> gone(seq_ops_.size(), false);
  for (size_t i = 0; i < seq_ops_.size(); ++i) {
    StepOp& add = seq_ops_[i];
    if (add.kind != OpKind::Add) continue;
    int best = -1, other = -1;
    for (int k = 0; k < 2; ++k) {
      const int t = add.ins[size_t(k)], u = add.ins[size_t(1 - k)];
      const int g = producer[size_t(t)];
      if (g < 0 || gone[size_t(g)] || readers[size_t(t)] != 1 || t == u) continue;
      const StepOp& op = seq_ops_[size_t(g)];
      const bool gemm = op.kind == OpKind::Pw || op.kind == OpKind::TConv || op.kind == OpKind::GConv;
      if (!gemm || op.relu || (op.ins.size() > 1 && op.ins[1] >= 0)) continue;
      if (ready_at(u) >= g) continue;
      if (g > best) best = g, other = u;
    }
    if (best < 0) continue;
    StepOp& g = seq_ops_[size_t(best)];
    tensors_[size_t(g.out)].store = Store::Fused;
    g.out = add.out;
    g.relu = add.relu;
    g.ins.resize(1);
    g.ins.push_back(other);
    gone[i] = true;
  }
  std::vector<StepOp> kept;
  for (size_t i = 0; i < seq_ops_.size(); ++i)
    if (!gone[i]) kept.push_back(std::move(seq_ops_[i]));
  seq_ops_ = std::move(kept);
}

void StepProgram::plan_storage() {
  const size_t n = tensors_.size();
  std::vector<int64_t> need(n, 0);  // ring elements each tensor's readers look back over
  std::vector<int> readers(n, 0), producer(n, -1);
  for (size_t i = 0; i < seq_ops_.size(); ++i) {
    const StepOp& op = seq_ops_[i];
    producer[size_t(op.out)] = int(i);
    for (int t : op.ins)
      if (t >= 0) ++readers[size_t(t)];
    if (op.kind == OpKind::TConv || op.kind == OpKind::TMax || op.kind == OpKind::TPick)
      need[size_t(op.ins[0])] =
          std::max(need[size_t(op.ins[0])], *std::max_element(op.ages.begin(), op.ages.end()) + 1);
  }
  for (const StepOp& op : head_ops_) {
    for (int t : op.ins)
      if (t >= 0) ++readers[size_t(t)];
    if (op.kind == OpKind::Collect) {
      const TensorInfo& b = tensors_[size_t(op.out)];
      need[size_t(b.src)] = std::max(need[size_t(b.src)], (b.steps - 1) * b.spacing + 1);
    }
  }
  for (const StepOp& op : seq_ops_) {
    TensorInfo& t = tensors_[size_t(op.out)];
    if (need[size_t(op.out)] > 0) {
      t.store = Store::Ring;
    } else if (op.kind == OpKind::TPick && !op.relu) {
      t.store = Store::View, t.src = op.ins[0], t.age = op.ages[0];
    } else {
      t.store = Store::Scratch;
    }
  }
  for (size_t i = 0; i < n; ++i)
    if (need[i] > 0 && tensors_[i].store == Store::Input)
      fail("a temporal op or collect reads the program input '" + tensors_[i].name + "' directly");
  // A concat's inputs are written straight into their channel slice of its element. Reverse
  // order, so a concat's own placement is final before its inputs alias into it.
  for (size_t i = seq_ops_.size(); i-- > 0;) {
    const StepOp& op = seq_ops_[i];
    if (op.kind != OpKind::Concat) continue;
    for (size_t k = 0; k < op.ins.size(); ++k) {
      TensorInfo& x = tensors_[size_t(op.ins[k])];
      if (x.store == Store::Scratch && readers[size_t(op.ins[k])] == 1)
        x.store = Store::Alias, x.root = op.out, x.off = op.ages[k];
    }
  }
  for (TensorInfo& x : tensors_) {
    if (x.store != Store::Alias) continue;
    while (tensors_[size_t(x.root)].store == Store::Alias) {
      x.off += tensors_[size_t(x.root)].off;
      x.root = tensors_[size_t(x.root)].root;
    }
  }
  for (TensorInfo& x : tensors_) {
    if (x.store == Store::Ring || x.store == Store::Scratch || x.store == Store::Input) x.ld = x.C;
  }
  for (TensorInfo& x : tensors_) {
    if (x.store == Store::Alias) x.ld = tensors_[size_t(x.root)].ld;
    if (x.store == Store::View) x.ld = tensors_[size_t(x.src)].ld;
  }
  int64_t off = 0;
  for (size_t i = 0; i < n; ++i) {
    TensorInfo& x = tensors_[i];
    if (x.store != Store::Ring) continue;
    x.index = int(rings_.size());
    const int64_t E = x.rows() * x.ld;
    rings_.push_back({int(i), need[i], E, off, x.rate});
    off += round16(need[i] * E);
  }
  state_floats_ = off;
}

void StepProgram::allocate_workspace() {
  const size_t n = tensors_.size();
  const int nseq = int(seq_ops_.size());
  std::vector<int> first(n, nseq), last(n, -1);  // per storage holder: live op interval
  auto holder = [&](int t) { return tensors_[size_t(t)].store == Store::Alias ? tensors_[size_t(t)].root : t; };
  for (int i = 0; i < nseq; ++i) {
    const StepOp& op = seq_ops_[size_t(i)];
    const int h = holder(op.out);
    first[size_t(h)] = std::min(first[size_t(h)], i);
    last[size_t(h)] = std::max(last[size_t(h)], i);
    for (int t : op.ins)
      if (t >= 0) last[size_t(holder(t))] = std::max(last[size_t(holder(t))], i);
  }
  const size_t slots = seq_ops_.size();
  std::vector<std::vector<int>> starts(slots), ends(slots);
  for (size_t t = 0; t < n; ++t)
    if (tensors_[t].store == Store::Scratch && first[t] < nseq) {
      starts[size_t(first[t])].push_back(int(t));
      ends[size_t(last[t])].push_back(int(t));
    }
  Arena arena;
  for (int i = 0; i < nseq; ++i) {
    for (int t : starts[size_t(i)]) {
      TensorInfo& x = tensors_[size_t(t)];
      x.off = arena.alloc(x.rows() * x.ld);
    }
    StepOp& op = seq_ops_[size_t(i)];
    int64_t tmp = 0;
    if (op.kind == OpKind::GConv) tmp = tensors_[size_t(op.out)].rows() * op.K * op.Op;
    if (tmp) op.tmp = arena.alloc(tmp);
    if (tmp) arena.release(op.tmp, tmp);  // only while the op runs: no later allocation overlaps it now
    for (int t : ends[size_t(i)]) {
      const TensorInfo& x = tensors_[size_t(t)];
      arena.release(x.off, x.rows() * x.ld);
    }
  }
  // The head runs after every sequence op of its frame, so it gets its own region.
  int64_t top = arena.top();
  for (StepOp& op : head_ops_) {
    TensorInfo& x = tensors_[size_t(op.out)];
    if (x.store == Store::Head) {
      x.off = top;
      top += round16(std::max<int64_t>(x.size, 1));
    }
    if (op.kind == OpKind::PoolAttention) {
      const TensorInfo& f = tensors_[size_t(op.ins[0])];
      const TensorInfo& c = tensors_[size_t(op.ins[1])];
      op.tmp = top;
      top += round16(f.C * f.steps * f.rows()) + round16(c.C * c.steps * c.rows());
    }
    if (op.kind == OpKind::Fuse) {  // doubles for the probability fusions
      op.tmp = top;
      top += round16(2 * x.size);
    }
    if (op.kind == OpKind::Gap) {  // double sums per (instance, channel)
      const TensorInfo& b = tensors_[size_t(op.ins[0])];
      op.tmp = top;
      top += round16(2 * b.inst * b.C);
    }
  }
  ws_floats_ = top;
  // A pick that is a view of its source's ring has nothing left to do at run time.
  std::vector<StepOp> kept;
  for (StepOp& op : seq_ops_)
    if (!(op.kind == OpKind::TPick && tensors_[size_t(op.out)].store == Store::View)) kept.push_back(std::move(op));
  seq_ops_ = std::move(kept);
}

void StepProgram::compute_steady_state() {
  // After this many missing frames every ring holds elements computed from missing frames only
  // (each element depends on rf frames; a ring looks L - 1 elements further back).
  int64_t flush = head_rate_;
  for (const RingInfo& r : rings_)
    flush = std::max(flush, rf_[size_t(r.tensor)] + (r.L - 1) * r.rate + head_rate_);
  flush = (flush + head_rate_ - 1) / head_rate_ * head_rate_;
  StepState s;
  s.rings.assign(size_t(state_floats_), 0.0f);
  s.heads.assign(rings_.size(), 0);
  s.owner = this;
  std::vector<std::vector<float>> zeros;
  std::vector<const float*> frames;
  for (const auto& shape : input_shapes_) {
    zeros.emplace_back(size_t(std::accumulate(shape.begin(), shape.end(), int64_t(1), std::multiplies<int64_t>())), 0.0f);
    frames.push_back(zeros.back().data());
  }
  std::vector<std::vector<float>> outs;
  std::vector<float*> out_ptrs;
  for (size_t j = 0; j < output_tensors_.size(); ++j) {
    outs.emplace_back(size_t(output_size(j)));
    out_ptrs.push_back(outs.back().data());
  }
  for (int64_t f = 0; f < flush; ++f) step(s, frames.data(), out_ptrs.data());
  steady_ = s.rings;
  steady_heads_ = s.heads;
}

std::unique_ptr<StepState> StepProgram::new_state() const {
  auto s = std::make_unique<StepState>();
  s->owner = this;
  reset(*s);
  return s;
}

void StepProgram::reset(StepState& s) const {
  if (s.owner != this) fail("this state belongs to another step program");
  s.rings = steady_;
  s.heads = steady_heads_;
  s.frame = 0;
}

std::vector<std::pair<std::string, int64_t>> StepProgram::plan_summary() const {
  static const char* kinds[] = {"embed", "mask_seq", "gconv", "pw", "affine", "concat", "add",
                                "temporal_conv", "temporal_max", "temporal_pick"};
  static const char* stores[] = {"input", "ring", "scratch", "alias", "view", "block", "head", "fused"};
  std::map<std::string, int64_t> n;
  for (const StepOp& op : seq_ops_) {
    ++n[std::string("op.") + kinds[int(op.kind)]];
    if (op.kind != OpKind::Add && op.kind != OpKind::Concat && op.ins.size() > 1 && op.ins[1] >= 0)
      ++n["op.residual_in_epilogue"];
  }
  for (const TensorInfo& t : tensors_) ++n[std::string("tensor.") + stores[int(t.store)]];
  return {n.begin(), n.end()};
}

size_t StepProgram::state_bytes() const {
  return size_t(state_floats_) * sizeof(float) + rings_.size() * sizeof(int64_t) + sizeof(int64_t);
}

}  // namespace bharnet::runtime
