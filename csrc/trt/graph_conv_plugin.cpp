// TensorRT plugin "GraphConv" (namespace bharnet, version 1) over the CUDA graph-conv kernel.
// Inputs x [N,C,T,V], A [K,V,V], W [K,O,C], b [O]; output y [N,O,T,V]; attribute relu (0/1).
// UNVERIFIED against a real TensorRT (see plugin_base.h).
#include "kernels/graph_conv.h"
#include "plugin_base.h"

namespace bharnet::trt {
namespace {

kernels::GraphConvDims dims_of(nvinfer1::Dims const& x, nvinfer1::Dims const& A, nvinfer1::Dims const& W) {
  return kernels::GraphConvDims{x.d[0], x.d[1], x.d[2], x.d[3], A.d[0], W.d[1]};
}

}  // namespace

class GraphConvPlugin final : public PluginBase {
 public:
  static constexpr char const* kName = "GraphConv";

  explicit GraphConvPlugin(nvinfer1::PluginFieldCollection const* fc) : relu_(int_field(fc, "relu", 0)) {}

  static nvinfer1::PluginFieldCollection const* field_names() {
    static nvinfer1::PluginField fields[] = {
        nvinfer1::PluginField("relu", nullptr, nvinfer1::PluginFieldType::kINT32, 1)};
    static nvinfer1::PluginFieldCollection fc{1, fields};
    return &fc;
  }

  char const* getPluginName() const noexcept override { return kName; }
  nvinfer1::IPluginV3* clone() noexcept override {
    try {
      return new GraphConvPlugin(*this);
    } catch (...) {
      return nullptr;
    }
  }

  int32_t getOutputShapes(nvinfer1::DimsExprs const* in, int32_t nbInputs, nvinfer1::DimsExprs const*,
                          int32_t, nvinfer1::DimsExprs* out, int32_t nbOutputs,
                          nvinfer1::IExprBuilder&) noexcept override {
    if (nbInputs != 4 || nbOutputs != 1 || in[0].nbDims != 4 || in[2].nbDims != 3) return 1;
    out[0].nbDims = 4;
    out[0].d[0] = in[0].d[0];  // N
    out[0].d[1] = in[2].d[1];  // O
    out[0].d[2] = in[0].d[2];  // T
    out[0].d[3] = in[0].d[3];  // V
    return 0;
  }

  size_t getWorkspaceSize(nvinfer1::DynamicPluginTensorDesc const* in, int32_t, nvinfer1::DynamicPluginTensorDesc const*,
                          int32_t) const noexcept override {
    return kernels::graph_conv_forward_workspace_bytes(dims_of(in[0].max, in[1].max, in[2].max), sizeof(float));
  }

  int32_t enqueue(nvinfer1::PluginTensorDesc const* in, nvinfer1::PluginTensorDesc const*, void const* const* inputs,
                  void* const* outputs, void* workspace, cudaStream_t stream) noexcept override {
    auto const d = dims_of(in[0].dims, in[1].dims, in[2].dims);
    auto f = [&](int i) { return static_cast<float const*>(inputs[i]); };
    int const err = kernels::graph_conv_forward_cuda<float>(d, f(0), f(1), f(2), f(3), nullptr, relu_ != 0,
                                                            static_cast<float*>(outputs[0]), workspace, stream);
    return err == 0 ? 0 : 1;
  }

  nvinfer1::PluginFieldCollection const* getFieldsToSerialize() noexcept override {
    return serialize_int("relu", &relu_);
  }

 private:
  int32_t relu_;
};

nvinfer1::IPluginCreatorV3One* graph_conv_creator() {
  static Creator<GraphConvPlugin> creator;
  return &creator;
}

}  // namespace bharnet::trt
