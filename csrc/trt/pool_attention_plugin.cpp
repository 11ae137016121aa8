// TensorRT plugin "PoolAttention" (namespace bharnet, version 1) over the CUDA pooling-attention
// kernel. Inputs x [N,C,T,V,I], ctx [N,Cc,T2,V2,I2], x_mask [N,I], ctx_mask [N,I2], wq [D,C],
// wk [D,Cc], wv [D,Cc], wo [C,D]; output [N,C]; attribute num_heads.
// UNVERIFIED against a real TensorRT (see plugin_base.h).
#include "kernels/pool_attention.h"
#include "plugin_base.h"

namespace bharnet::trt {
namespace {

kernels::PoolAttentionDims dims_of(nvinfer1::Dims const& x, nvinfer1::Dims const& ctx, nvinfer1::Dims const& wq,
                                   int32_t heads) {
  return kernels::PoolAttentionDims{x.d[0],   x.d[1],   x.d[2], x.d[3], x.d[4], ctx.d[1],
                                    ctx.d[2], ctx.d[3], ctx.d[4], wq.d[0], heads};
}

}  // namespace

class PoolAttentionPlugin final : public PluginBase {
 public:
  static constexpr char const* kName = "PoolAttention";

  explicit PoolAttentionPlugin(nvinfer1::PluginFieldCollection const* fc)
      : heads_(int_field(fc, "num_heads", 1)) {}

  static nvinfer1::PluginFieldCollection const* field_names() {
    static nvinfer1::PluginField fields[] = {
        nvinfer1::PluginField("num_heads", nullptr, nvinfer1::PluginFieldType::kINT32, 1)};
    static nvinfer1::PluginFieldCollection fc{1, fields};
    return &fc;
  }

  char const* getPluginName() const noexcept override { return kName; }
  nvinfer1::IPluginV3* clone() noexcept override {
    try {
      return new PoolAttentionPlugin(*this);
    } catch (...) {
      return nullptr;
    }
  }

  int32_t getOutputShapes(nvinfer1::DimsExprs const* in, int32_t nbInputs, nvinfer1::DimsExprs const*,
                          int32_t, nvinfer1::DimsExprs* out, int32_t nbOutputs,
                          nvinfer1::IExprBuilder&) noexcept override {
    if (nbInputs != 8 || nbOutputs != 1 || in[0].nbDims != 5 || in[1].nbDims != 5) return 1;
    out[0].nbDims = 2;
    out[0].d[0] = in[0].d[0];  // N
    out[0].d[1] = in[0].d[1];  // C
    return 0;
  }

  size_t getWorkspaceSize(nvinfer1::DynamicPluginTensorDesc const* in, int32_t, nvinfer1::DynamicPluginTensorDesc const*,
                          int32_t) const noexcept override {
    return kernels::pool_attention_workspace_bytes(dims_of(in[0].max, in[1].max, in[4].max, heads_), sizeof(float));
  }

  int32_t enqueue(nvinfer1::PluginTensorDesc const* in, nvinfer1::PluginTensorDesc const*, void const* const* inputs,
                  void* const* outputs, void* workspace, cudaStream_t stream) noexcept override {
    auto const d = dims_of(in[0].dims, in[1].dims, in[4].dims, heads_);
    if (heads_ < 1 || d.D % heads_ != 0) return 1;
    auto f = [&](int i) { return static_cast<float const*>(inputs[i]); };
    int const err = kernels::pool_attention_forward_cuda<float>(d, f(0), f(1), f(2), f(3), f(4), f(5), f(6), f(7),
                                                                static_cast<float*>(outputs[0]), workspace, stream);
    return err == 0 ? 0 : 1;
  }

  nvinfer1::PluginFieldCollection const* getFieldsToSerialize() noexcept override {
    return serialize_int("num_heads", &heads_);
  }

 private:
  int32_t heads_;
};

nvinfer1::IPluginCreatorV3One* pool_attention_creator() {
  static Creator<PoolAttentionPlugin> creator;
  return &creator;
}

}  // namespace bharnet::trt
