// Test driver for csrc/trt against the MOCK TensorRT header (tests/trt_mock/NvInfer.h).
// The CUDA launchers are replaced by stubs that record their arguments, so this checks the plugin
// glue (creators, attribute parsing, output shapes, dims and pointer order handed to the kernels,
// serialisation, clone) on a machine without TensorRT or a GPU. Prints "OK" on success.
#include <NvInfer.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "kernels/graph_conv.h"
#include "kernels/pool_attention.h"

using namespace nvinfer1;
namespace k = bharnet::kernels;

// ---- stub launchers -------------------------------------------------------------------------
static k::GraphConvDims g_gc{};
static k::PoolAttentionDims g_pa{};
static void const* g_ptrs[12];
static bool g_relu = false;

namespace bharnet::kernels {
size_t graph_conv_forward_workspace_bytes(const GraphConvDims& d, size_t elem) { return size_t(d.N) * elem; }
size_t pool_attention_workspace_bytes(const PoolAttentionDims& d, size_t elem) { return size_t(d.N) * elem; }
template <>
int graph_conv_forward_cuda<float>(const GraphConvDims& d, const float* x, const float* A, const float* W,
                                   const float* b, const float* residual, bool relu, float* y, void*, cudaStream_t) {
  g_gc = d;
  g_relu = relu;
  void const* p[] = {x, A, W, b, residual, y};
  std::memcpy(g_ptrs, p, sizeof(p));
  return 0;
}
template <>
int pool_attention_forward_cuda<float>(const PoolAttentionDims& d, const float* x, const float* ctx,
                                       const float* xm, const float* cm, const float* wq, const float* wk,
                                       const float* wv, const float* wo, float* out, void*, cudaStream_t) {
  g_pa = d;
  void const* p[] = {x, ctx, xm, cm, wq, wk, wv, wo, out};
  std::memcpy(g_ptrs, p, sizeof(p));
  return 0;
}
}  // namespace bharnet::kernels

extern "C" IPluginCreatorInterface* const* getCreators(int32_t& nbCreators);

// ---- a constant-only expression builder -----------------------------------------------------
struct Expr : IDimensionExpr {
  int64_t v;
  explicit Expr(int64_t x) : v(x) {}
  bool isConstant() const noexcept override { return true; }
  int64_t getConstantValue() const noexcept override { return v; }
};
struct Builder : IExprBuilder {
  IDimensionExpr const* constant(int64_t value) noexcept override { return new Expr(value); }
  IDimensionExpr const* operation(DimensionOperation, IDimensionExpr const&, IDimensionExpr const&) noexcept override {
    return nullptr;
  }
};

#define CHECK(c)                                               \
  do {                                                         \
    if (!(c)) {                                                \
      std::printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); \
      std::exit(1);                                            \
    }                                                          \
  } while (0)

static DimsExprs exprs(Builder& b, std::initializer_list<int64_t> dims) {
  DimsExprs e{};
  e.nbDims = int32_t(dims.size());
  int i = 0;
  for (int64_t d : dims) e.d[i++] = b.constant(d);
  return e;
}
static PluginTensorDesc desc(std::initializer_list<int64_t> dims) {
  PluginTensorDesc t{};
  t.dims.nbDims = int32_t(dims.size());
  int i = 0;
  for (int64_t d : dims) t.dims.d[i++] = d;
  t.type = DataType::kFLOAT;
  t.format = TensorFormat::kLINEAR;
  return t;
}

static IPluginCreatorV3One* find(char const* name) {
  int32_t n = 0;
  auto creators = getCreators(n);
  CHECK(n == 2);
  for (int i = 0; i < n; ++i) {
    auto* c = static_cast<IPluginCreatorV3One*>(creators[i]);
    CHECK(std::strcmp(c->getPluginNamespace(), "bharnet") == 0 && std::strcmp(c->getPluginVersion(), "1") == 0);
    if (std::strcmp(c->getPluginName(), name) == 0) return c;
  }
  CHECK(false);
  return nullptr;
}

static void graph_conv() {
  int32_t relu = 1;
  PluginField f("relu", &relu, PluginFieldType::kINT32, 1);
  PluginFieldCollection fc{1, &f};
  IPluginV3* p = find("GraphConv")->createPlugin("gc", &fc, TensorRTPhase::kBUILD);
  CHECK(p != nullptr);
  auto* core = static_cast<IPluginV3OneCore*>(p->getCapabilityInterface(PluginCapabilityType::kCORE));
  auto* build = static_cast<IPluginV3OneBuild*>(p->getCapabilityInterface(PluginCapabilityType::kBUILD));
  auto* run = static_cast<IPluginV3OneRuntime*>(p->getCapabilityInterface(PluginCapabilityType::kRUNTIME));
  CHECK(core && build && run && std::strcmp(core->getPluginName(), "GraphConv") == 0);
  Builder b;
  DimsExprs in[4] = {exprs(b, {6, 3, 16, 17}), exprs(b, {3, 17, 17}), exprs(b, {3, 8, 3}), exprs(b, {8})};
  DimsExprs out[1];
  CHECK(build->getOutputShapes(in, 4, nullptr, 0, out, 1, b) == 0);
  CHECK(out[0].nbDims == 4 && out[0].d[0]->getConstantValue() == 6 && out[0].d[1]->getConstantValue() == 8 &&
        out[0].d[2]->getConstantValue() == 16 && out[0].d[3]->getConstantValue() == 17);
  PluginTensorDesc d[4] = {desc({6, 3, 16, 17}), desc({3, 17, 17}), desc({3, 8, 3}), desc({8})};
  PluginTensorDesc o[1] = {desc({6, 8, 16, 17})};
  float buf[5];
  void const* ins[4] = {&buf[0], &buf[1], &buf[2], &buf[3]};
  void* outs[1] = {&buf[4]};
  CHECK(run->enqueue(d, o, ins, outs, nullptr, nullptr) == 0);
  CHECK(g_gc.N == 6 && g_gc.C == 3 && g_gc.T == 16 && g_gc.V == 17 && g_gc.K == 3 && g_gc.O == 8 && g_relu);
  CHECK(g_ptrs[0] == &buf[0] && g_ptrs[3] == &buf[3] && g_ptrs[4] == nullptr && g_ptrs[5] == &buf[4]);
  PluginFieldCollection const* ser = run->getFieldsToSerialize();
  CHECK(ser->nbFields == 1 && *static_cast<int32_t const*>(ser->fields[0].data) == 1);
  IPluginV3* copy = p->clone();
  CHECK(copy != nullptr && copy != p);
  DynamicPluginTensorDesc io[5]{};
  io[0].desc = d[0];
  io[4].desc = o[0];
  CHECK(build->supportsFormatCombination(0, io, 4, 1));
  io[0].desc.type = DataType::kHALF;
  CHECK(!build->supportsFormatCombination(0, io, 4, 1));
  delete copy;
  delete p;
}

static void pool_attention() {
  int32_t heads = 2;
  PluginField f("num_heads", &heads, PluginFieldType::kINT32, 1);
  PluginFieldCollection fc{1, &f};
  IPluginV3* p = find("PoolAttention")->createPlugin("pa", &fc, TensorRTPhase::kRUNTIME);
  CHECK(p != nullptr);
  auto* build = static_cast<IPluginV3OneBuild*>(p->getCapabilityInterface(PluginCapabilityType::kBUILD));
  auto* run = static_cast<IPluginV3OneRuntime*>(p->getCapabilityInterface(PluginCapabilityType::kRUNTIME));
  Builder b;
  DimsExprs in[8] = {exprs(b, {5, 16, 4, 17, 1}), exprs(b, {5, 32, 4, 21, 2}), exprs(b, {5, 1}), exprs(b, {5, 2}),
                     exprs(b, {8, 16}), exprs(b, {8, 32}), exprs(b, {8, 32}), exprs(b, {16, 8})};
  DimsExprs out[1];
  CHECK(build->getOutputShapes(in, 8, nullptr, 0, out, 1, b) == 0);
  CHECK(out[0].nbDims == 2 && out[0].d[0]->getConstantValue() == 5 && out[0].d[1]->getConstantValue() == 16);
  PluginTensorDesc d[8] = {desc({5, 16, 4, 17, 1}), desc({5, 32, 4, 21, 2}), desc({5, 1}), desc({5, 2}),
                           desc({8, 16}), desc({8, 32}), desc({8, 32}), desc({16, 8})};
  PluginTensorDesc o[1] = {desc({5, 16})};
  float buf[9];
  void const* ins[8];
  for (int i = 0; i < 8; ++i) ins[i] = &buf[i];
  void* outs[1] = {&buf[8]};
  CHECK(run->enqueue(d, o, ins, outs, nullptr, nullptr) == 0);
  CHECK(g_pa.N == 5 && g_pa.C == 16 && g_pa.T == 4 && g_pa.V == 17 && g_pa.I == 1 && g_pa.Cc == 32 &&
        g_pa.T2 == 4 && g_pa.V2 == 21 && g_pa.I2 == 2 && g_pa.D == 8 && g_pa.H == 2);
  for (int i = 0; i < 9; ++i) CHECK(g_ptrs[i] == &buf[i]);
  int32_t bad = 3;  // D = 8 is not divisible by 3 heads: refused at enqueue
  PluginField fb("num_heads", &bad, PluginFieldType::kINT32, 1);
  PluginFieldCollection fcb{1, &fb};
  IPluginV3* q = find("PoolAttention")->createPlugin("pa", &fcb, TensorRTPhase::kRUNTIME);
  auto* runq = static_cast<IPluginV3OneRuntime*>(q->getCapabilityInterface(PluginCapabilityType::kRUNTIME));
  CHECK(runq->enqueue(d, o, ins, outs, nullptr, nullptr) != 0);
  delete q;
  delete p;
}

int main() {
  graph_conv();
  pool_attention();
  std::printf("OK\n");
  return 0;
}
