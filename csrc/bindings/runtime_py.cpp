// Python face of the native step runtime (csrc/runtime): bharnet._C.StepProgram and StepState.
// The program is parsed in Python (bharnet.program.Program) and handed over as plain values;
// the GIL is released while a frame runs, so tracks step in parallel from Python threads.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/seg_gemm.h"
#include "runtime/step_program.h"

namespace py = pybind11;
namespace rt = bharnet::runtime;

namespace bharnet::bindings {
namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

rt::Attr to_attr(py::handle v, const std::string& where) {
  rt::Attr a;
  if (py::isinstance<py::str>(v)) {
    a.is_text = true;
    a.text = v.cast<std::string>();
  } else if (py::isinstance<py::list>(v) || py::isinstance<py::tuple>(v)) {
    for (py::handle e : v) a.nums.push_back(e.cast<double>());
  } else {
    try {
      a.nums.push_back(v.cast<double>());
    } catch (const py::cast_error&) {
      throw std::invalid_argument(where + ": attribute value " + std::string(py::repr(v)) + " is not a number, list or text");
    }
  }
  return a;
}

std::shared_ptr<rt::StepProgram> make_program(py::list inputs, py::list ops, py::list outputs, py::dict weights) {
  rt::ProgramSpec spec;
  for (py::handle item : inputs) {
    auto t = item.cast<py::tuple>();
    spec.inputs.push_back({t[0].cast<std::string>(), t[1].cast<std::vector<int64_t>>()});
  }
  for (py::handle item : ops) {
    auto t = item.cast<py::tuple>();
    if (t.size() != 5) throw std::invalid_argument("each op must be (op, ins, out, attrs, weights)");
    rt::OpSpec o;
    o.op = t[0].cast<std::string>();
    o.ins = t[1].cast<std::vector<std::string>>();
    o.out = t[2].cast<std::string>();
    for (auto kv : t[3].cast<py::dict>())
      o.attrs[kv.first.cast<std::string>()] = to_attr(kv.second, o.op + " -> " + o.out);
    o.weights = t[4].cast<std::map<std::string, std::string>>();
    spec.ops.push_back(std::move(o));
  }
  for (py::handle item : outputs) {
    auto t = item.cast<py::tuple>();
    spec.outputs.push_back({t[0].cast<std::string>(), t[1].cast<std::string>()});
  }
  rt::WeightMap wmap;
  for (auto kv : weights) {
    auto a = FloatArray::ensure(kv.second);
    const std::string name = kv.first.cast<std::string>();
    if (!a) throw std::invalid_argument("weight '" + name + "' is not a float array");
    rt::WeightArray w;
    w.shape.assign(a.shape(), a.shape() + a.ndim());
    w.data.assign(a.data(), a.data() + a.size());
    wmap.emplace(name, std::move(w));
  }
  py::gil_scoped_release nogil;  // the steady state is computed here
  return std::make_shared<rt::StepProgram>(spec, wmap);
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "(";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + (s.size() == 1 ? ",)" : ")");
}

// One frame's inputs {name: array} as the program's pointers (the arrays stay alive in `keep`).
void frame_inputs(const rt::StepProgram& p, py::dict frames, std::vector<FloatArray>& keep,
                  std::vector<const float*>& in) {
  const auto& names = p.input_names();
  for (size_t i = 0; i < names.size(); ++i) {
    if (!frames.contains(names[i])) throw py::key_error("the frame has no input '" + names[i] + "'");
    auto a = FloatArray::ensure(frames[py::str(names[i])]);
    if (!a) throw std::invalid_argument("input '" + names[i] + "' is not a float array");
    const auto& want = p.input_shapes()[i];
    std::vector<int64_t> have(a.shape(), a.shape() + a.ndim());
    if (have != want)
      throw std::invalid_argument("input '" + names[i] + "' has shape " + shape_str(have) + ", expected " +
                                  shape_str(want) + " (one frame: no batch or time axis)");
    in.push_back(a.data());
    keep.push_back(std::move(a));
  }
}

// Output arrays for a state that predicts on its next frame (none otherwise).
void frame_outputs(const rt::StepProgram& p, bool predicts, std::vector<py::array_t<float>>& outs,
                   std::vector<float*>& out) {
  if (!predicts) return;
  for (size_t j = 0; j < p.output_names().size(); ++j) {
    outs.emplace_back(std::vector<py::ssize_t>{1, py::ssize_t(p.output_size(j))});
    out.push_back(outs.back().mutable_data());
  }
}

py::object frame_result(const rt::StepProgram& p, bool made, bool predicts, const std::vector<py::array_t<float>>& outs) {
  if (made != predicts) throw std::logic_error("step runtime: prediction schedule out of step");
  if (!made) return py::none();
  py::dict result;
  for (size_t j = 0; j < outs.size(); ++j) result[py::str(p.output_names()[j])] = outs[j];
  return result;
}

py::object step(const rt::StepProgram& p, rt::StepState& s, py::dict frames) {
  std::vector<FloatArray> keep;
  std::vector<const float*> in;
  frame_inputs(p, frames, keep, in);
  const bool predicts = p.predicts_next(s);
  std::vector<py::array_t<float>> outs;
  std::vector<float*> out;
  frame_outputs(p, predicts, outs, out);
  bool made;
  {
    py::gil_scoped_release nogil;
    made = p.step(s, in.data(), out.data());
  }
  return frame_result(p, made, predicts, outs);
}

// step() on several distinct states at once (StepProgram::step_many): a list of step() results.
py::list step_many(const rt::StepProgram& p, std::vector<rt::StepState*> states, py::list frames) {
  const size_t n = states.size();
  if (size_t(py::len(frames)) != n) throw std::invalid_argument("step_many needs one frame per state");
  const size_t ni = p.input_names().size();
  std::vector<FloatArray> keep;
  std::vector<const float*> in;
  std::vector<std::vector<py::array_t<float>>> outs(n);
  std::vector<std::vector<float*>> out(n);
  std::vector<const float* const*> ins(n);
  std::vector<float* const*> outp(n);
  std::vector<bool> predicts(n);
  for (size_t b = 0; b < n; ++b) frame_inputs(p, frames[b].cast<py::dict>(), keep, in);
  for (size_t b = 0; b < n; ++b) {
    predicts[b] = p.predicts_next(*states[b]);
    frame_outputs(p, predicts[b], outs[b], out[b]);
    ins[b] = in.data() + b * ni;
    outp[b] = out[b].data();
  }
  std::unique_ptr<bool[]> made(new bool[n]);
  {
    py::gil_scoped_release nogil;
    p.step_many(states.data(), ins.data(), outp.data(), int64_t(n), made.get());
  }
  py::list result;
  for (size_t b = 0; b < n; ++b) result.append(frame_result(p, made[b], predicts[b], outs[b]));
  return result;
}

}  // namespace

void register_runtime(py::module_& m) {
  py::class_<rt::StepState, std::unique_ptr<rt::StepState>>(m, "StepState",
                                                            "One track's step state: rings, heads, frame count.")
      .def_property_readonly("nbytes", &rt::StepState::nbytes)
      .def_property_readonly("frame", [](const rt::StepState& s) { return s.frame; });

  py::class_<rt::StepProgram, std::shared_ptr<rt::StepProgram>>(
      m, "StepProgram", "A streaming layer program run frame by frame (csrc/runtime/step_program.h).")
      .def(py::init(&make_program), py::arg("inputs"), py::arg("ops"), py::arg("outputs"), py::arg("weights"),
           "inputs: [(name, per-sample shape)], ops: [(op, ins, out, attrs, weights)], outputs: [(name, "
           "tensor)], weights: {name: float32 array}")
      .def("new_state", &rt::StepProgram::new_state, "A state at the steady state of missing frames.")
      .def("reset", &rt::StepProgram::reset, py::arg("state"), "Back to the steady state of missing frames.")
      .def("step", &step, py::arg("state"), py::arg("frame"),
           "One frame {input: array without batch/time axes}; returns {output: [1, K]} on prediction "
           "frames, else None. Mutates the state.")
      .def("step_many", &step_many, py::arg("states"), py::arg("frames"),
           "step() on several distinct states at once, the model's GEMMs batched across them: a list of "
           "step() results.")
      .def_property_readonly("input_names", &rt::StepProgram::input_names)
      .def_property_readonly("output_names", &rt::StepProgram::output_names)
      .def_property_readonly("frames_per_prediction", &rt::StepProgram::frames_per_prediction)
      .def_property_readonly("receptive_field", &rt::StepProgram::receptive_field)
      .def_property_readonly("state_bytes", &rt::StepProgram::state_bytes)
      .def_property_readonly("plan_summary",
                             [](const rt::StepProgram& p) {
                               py::dict d;
                               for (const auto& [k, v] : p.plan_summary()) d[py::str(k)] = v;
                               return d;
                             })
      .def_property_readonly("workspace_bytes",
                             [](const rt::StepProgram& p) { return p.workspace_floats() * int64_t(sizeof(float)); })
      .def_property_readonly_static("isa", [](py::object) { return std::string(rt::seg_gemm_isa()); });
}

}  // namespace bharnet::bindings
