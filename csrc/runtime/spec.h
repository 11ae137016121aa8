// What a step runtime is built from: the layer program (bharnet/program.py) as plain values,
// parsed on the Python side, and its float32 weights. No pybind11 types, so a C++ SDK can build
// a StepProgram too.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace bharnet::runtime {

// One attribute value: numbers (a bool, int or float is one number; a list is several) or text.
struct Attr {
  std::vector<double> nums;
  std::string text;
  bool is_text = false;
};

struct OpSpec {
  std::string op;
  std::vector<std::string> ins;  // "" for an absent optional input
  std::string out;
  std::map<std::string, Attr> attrs;
  std::map<std::string, std::string> weights;  // role -> weight name
};

struct InputSpec {
  std::string name;
  std::vector<int64_t> shape;  // per sample, as Program.inputs: [C, T, V, I], or [T, I] (hand_mask)
};

struct ProgramSpec {
  std::vector<InputSpec> inputs;
  std::vector<OpSpec> ops;
  std::vector<std::pair<std::string, std::string>> outputs;  // output name -> tensor
};

struct WeightArray {
  std::vector<int64_t> shape;
  std::vector<float> data;
};
using WeightMap = std::map<std::string, WeightArray>;

}  // namespace bharnet::runtime
