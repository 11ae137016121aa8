// Python face of the native frame path (csrc/runtime/frame_runtime.h): bharnet._C.FrameRuntime
// and FrameTrack. The plan comes from Python (bharnet.backends.native_frame.frame_plan) as a dict
// of plain values; inputs are validated there before they reach this code, and checked again
// here only as far as memory safety needs. The GIL is released while frames run.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/frame_runtime.h"

namespace py = pybind11;
namespace rt = bharnet::runtime;

namespace bharnet::bindings {
namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

template <class T>
T get(const py::dict& d, const char* key) {
  if (!d.contains(key)) throw std::invalid_argument(std::string("frame plan: missing '") + key + "'");
  return d[key].cast<T>();
}

rt::FramePlan to_plan(const py::dict& d) {
  rt::FramePlan p;
  p.src_joints = get<int64_t>(d, "src_joints");
  p.persons = get<int64_t>(d, "persons");
  p.coords = get<int64_t>(d, "coords");
  p.score_threshold = get<float>(d, "score_threshold");
  p.coord_limit = get<float>(d, "coord_limit");
  p.eps = get<float>(d, "eps");
  p.horizon = get<int64_t>(d, "horizon");
  p.window = get<int64_t>(d, "window");
  p.stream = rt::StreamKind(get<int>(d, "stream"));
  p.with_score = get<bool>(d, "with_score");
  p.gather = get<std::vector<int32_t>>(d, "gather");
  p.valid = get<std::vector<uint8_t>>(d, "valid");
  p.has_body = get<bool>(d, "has_body");
  p.has_hands = get<bool>(d, "has_hands");
  p.unified = get<bool>(d, "unified");
  p.body.V = get<int64_t>(d, "body_joints");
  p.body.centre_joint = get<std::vector<uint8_t>>(d, "centre_joint");
  p.body.scale_child = get<std::vector<int32_t>>(d, "scale_child");
  p.body.scale_parent = get<std::vector<int32_t>>(d, "scale_parent");
  p.body.bone_child = get<std::vector<int32_t>>(d, "bone_child");
  p.body.bone_parent = get<std::vector<int32_t>>(d, "bone_parent");
  p.hand_child = get<std::vector<int32_t>>(d, "hand_child");
  p.hand_parent = get<std::vector<int32_t>>(d, "hand_parent");
  p.mcp = get<std::vector<int32_t>>(d, "mcp");
  p.hand_min_joints = get<int64_t>(d, "hand_min_joints");
  p.presence_joints = get<std::vector<int32_t>>(d, "presence_joints");
  p.presence_need = get<int64_t>(d, "presence_need");
  p.no_score_lo = get<int64_t>(d, "no_score_lo");
  p.no_score_hi = get<int64_t>(d, "no_score_hi");
  if (int(p.stream) < 0 || int(p.stream) > 3) throw std::invalid_argument("frame plan: stream must be 0..3");
  return p;
}

// A raw frame [V, cols] or [M, V, cols] of the plan's source layout (the array stays alive in `keep`).
rt::RawFrame raw_frame(const rt::FrameRuntime& r, py::handle rows, int64_t score_col, std::vector<FloatArray>& keep) {
  auto a = FloatArray::ensure(rows);
  if (!a) throw std::invalid_argument("frame runtime: a frame must be a float array");
  const int64_t nd = a.ndim();
  if (nd != 2 && nd != 3) throw std::invalid_argument("frame runtime: a frame must be [V, C] or [M, V, C]");
  const int64_t V = a.shape(nd - 2), cols = a.shape(nd - 1);
  if (V != r.plan().src_joints)
    throw std::invalid_argument("frame runtime: a frame of " + std::to_string(V) + " joints, the layout has " +
                                std::to_string(r.plan().src_joints));
  if (cols < r.plan().coords || score_col >= cols)
    throw std::invalid_argument("frame runtime: a frame of " + std::to_string(cols) + " columns");
  rt::RawFrame f;
  f.rows = a.data();
  f.persons = nd == 3 ? a.shape(0) : 1;
  f.cols = cols;
  f.score_col = score_col;
  keep.push_back(std::move(a));
  return f;
}

// On prediction frames: ({output: softmax probabilities as a list}, body presence, (left, right)
// hand presence, start_ts, end_ts, frames); else None. The softmax is the reference's
// (sdk/recognizer._softmax: float64, max subtracted) so Python only picks classes.
py::object result(const rt::FrameRuntime& r, const rt::FrameTrack& t, const rt::FrameResult& res) {
  if (!res.predicted) return py::none();
  py::dict probs;
  const auto& names = r.program().output_names();
  std::vector<double> p;
  for (size_t j = 0; j < names.size(); ++j) {
    const int64_t n = r.program().output_size(j);
    p.resize(size_t(n));
    rt::softmax(t.out.data() + r.output_offset(j), n, p.data());
    py::list l(n);
    for (int64_t k = 0; k < n; ++k) l[size_t(k)] = py::float_(p[size_t(k)]);
    probs[py::str(names[j])] = l;
  }
  return py::make_tuple(probs, res.body_presence, py::make_tuple(res.hand_left, res.hand_right), res.start_ts,
                        res.end_ts, res.frames);
}

}  // namespace

// A FramePrep of its own plan (no model): what tests compare with bharnet.data.causal.
struct PrepProbe {
  rt::FramePlan plan;
  rt::FramePrep prep;
  explicit PrepProbe(rt::FramePlan p) : plan(std::move(p)), prep((plan.check(), plan)) {}
};

void register_frame(py::module_& m) {
  py::class_<PrepProbe>(m, "FramePrep", "The frame path's preparation alone (for tests): push(rows, score_col) -> "
                                       "({body|joints, hand, hand_mask: one prepared frame}, body seen)")
      .def(py::init([](py::dict plan) { return new PrepProbe(to_plan(plan)); }), py::arg("plan"))
      .def("reset", [](PrepProbe& p) { p.prep.reset(); })
      .def(
          "push",
          [](PrepProbe& p, FloatArray rows, int64_t score_col) {
            const int64_t nd = rows.ndim();
            if ((nd != 2 && nd != 3) || rows.shape(nd - 2) != p.plan.src_joints || rows.shape(nd - 1) < p.plan.coords ||
                score_col >= rows.shape(nd - 1))
              throw std::invalid_argument("FramePrep.push: rows of another shape than the plan's");
            rt::RawFrame f{rows.data(), nd == 3 ? rows.shape(0) : 1, rows.shape(nd - 1), score_col};
            const bool seen = p.prep.push(p.plan, f);
            const int64_t C = p.plan.channels(), M = p.plan.persons;
            py::dict out;
            auto arr = [](const std::vector<float>& v, std::vector<py::ssize_t> shape) {
              py::array_t<float> a(shape);
              std::copy(v.begin(), v.end(), a.mutable_data());
              return a;
            };
            if (p.plan.has_body || p.plan.unified)
              out[p.plan.unified ? "joints" : "body"] = arr(p.prep.body_in, {C, p.plan.body.V, M});
            if (p.plan.has_hands) {
              out["hand"] = arr(p.prep.hand_in, {C, 21, 2 * M});
              out["hand_mask"] = arr(p.prep.mask_in, {2 * M});
            }
            return py::make_tuple(out, seen);
          },
          py::arg("rows"), py::arg("score_col"));

  py::class_<rt::FrameTrack, std::unique_ptr<rt::FrameTrack>>(
      m, "FrameTrack", "One track's native frame-path state: preparation, step state, window rings.")
      .def_property_readonly("nbytes", &rt::FrameTrack::nbytes)
      .def_property_readonly("count", [](const rt::FrameTrack& t) { return t.count; });

  py::class_<rt::FrameRuntime, std::shared_ptr<rt::FrameRuntime>>(
      m, "FrameRuntime", "The continual frame path: raw keypoint rows -> model outputs in one call per frame.")
      .def(py::init([](std::shared_ptr<rt::StepProgram> program, py::dict plan) {
             return std::make_shared<rt::FrameRuntime>(std::move(program), to_plan(plan));
           }),
           py::arg("program"), py::arg("plan"))
      .def("new_track", &rt::FrameRuntime::new_track, "A track at the start of a stream (the lead stepped).")
      .def("reset", &rt::FrameRuntime::reset, py::arg("track"), py::call_guard<py::gil_scoped_release>())
      .def(
          "push",
          [](const rt::FrameRuntime& r, rt::FrameTrack& t, py::handle rows, double ts, int64_t score_col) {
            std::vector<FloatArray> keep;
            const rt::RawFrame f = raw_frame(r, rows, score_col, keep);
            rt::FrameResult res;
            {
              py::gil_scoped_release nogil;
              res = r.push(t, f, ts);
            }
            return result(r, t, res);
          },
          py::arg("track"), py::arg("rows"), py::arg("ts"), py::arg("score_col"),
          "One frame; None, or on prediction frames ({output: softmax probabilities}, body_presence, "
          "(left, right) hand presence, start_ts, end_ts, frames).")
      .def(
          "push_many",
          [](const rt::FrameRuntime& r, std::vector<rt::FrameTrack*> tracks, py::list rows, std::vector<double> ts,
             std::vector<int64_t> score_cols) {
            const size_t n = tracks.size();
            if (size_t(py::len(rows)) != n || ts.size() != n || score_cols.size() != n)
              throw std::invalid_argument("frame runtime: push_many needs one frame, timestamp and score column per track");
            for (size_t i = 0; i < n; ++i)
              for (size_t j = 0; j < i; ++j)
                if (tracks[i] == tracks[j]) throw std::invalid_argument("frame runtime: push_many got one track twice");
            std::vector<FloatArray> keep;
            std::vector<rt::RawFrame> frames;
            for (size_t i = 0; i < n; ++i) frames.push_back(raw_frame(r, rows[i], score_cols[i], keep));
            std::vector<rt::FrameResult> res(n);
            {
              py::gil_scoped_release nogil;
              r.push_many(tracks.data(), frames.data(), ts.data(), int64_t(n), res.data());
            }
            py::list out;
            for (size_t i = 0; i < n; ++i) out.append(result(r, *tracks[i], res[i]));
            return out;
          },
          py::arg("tracks"), py::arg("rows"), py::arg("ts"), py::arg("score_cols"),
          "Frames of several distinct tracks in one call: a list of push() results.")
      .def("set_batching", &rt::FrameRuntime::set_batching, py::arg("batch_min"), py::arg("batch"),
           "push_many steps its tracks together from batch_min tracks on, batch tracks per step")
      .def_property_readonly("batch_min", &rt::FrameRuntime::batch_min)
      .def_property_readonly("batch", &rt::FrameRuntime::batch)
      .def_property_readonly("lead", &rt::FrameRuntime::lead)
      .def_property_readonly("frames_per_prediction",
                             [](const rt::FrameRuntime& r) { return r.program().frames_per_prediction(); });
}

}  // namespace bharnet::bindings
