// Shared scaffolding of the bharnet TensorRT plugins (IPluginV3 with the V3One capabilities).
//
// UNVERIFIED against a real TensorRT: written from the documented TensorRT 10 plugin API and
// syntax-checked only against tests/trt_mock (a hand-written mock of the declarations). The CMake
// TensorRT section builds it for real wherever NvInfer.h and libnvinfer are found.
//
// Contract with the ONNX graph (export/plugin.py): node op_type == plugin name, attribute
// plugin_namespace == "bharnet", plugin_version == "1", fixed input lists, FP32 linear tensors.
#pragma once
#include <NvInfer.h>

#include <cstdint>
#include <string>
#include <vector>

namespace bharnet::trt {

constexpr char const* kNamespace = "bharnet";
constexpr char const* kVersion = "1";

// An int attribute from a field collection (the ONNX parser passes INT attributes as kINT32);
// `fallback` when the field is absent.
int32_t int_field(nvinfer1::PluginFieldCollection const* fc, char const* name, int32_t fallback);

// One object serves all three capabilities; TensorRT asks for each through
// getCapabilityInterface. Every tensor is FP32 in linear layout: the CUDA kernels are FP32/FP64,
// so in FP16 engines TensorRT inserts the casts around the plugin.
class PluginBase : public nvinfer1::IPluginV3,
                   public nvinfer1::IPluginV3OneCore,
                   public nvinfer1::IPluginV3OneBuild,
                   public nvinfer1::IPluginV3OneRuntime {
 public:
  nvinfer1::IPluginCapability* getCapabilityInterface(nvinfer1::PluginCapabilityType type) noexcept override;

  char const* getPluginNamespace() const noexcept override { return kNamespace; }
  char const* getPluginVersion() const noexcept override { return kVersion; }

  int32_t getNbOutputs() const noexcept override { return 1; }
  int32_t getOutputDataTypes(nvinfer1::DataType* outputTypes, int32_t nbOutputs,
                             nvinfer1::DataType const* inputTypes, int32_t nbInputs) const noexcept override;
  bool supportsFormatCombination(int32_t pos, nvinfer1::DynamicPluginTensorDesc const* inOut,
                                 int32_t nbInputs, int32_t nbOutputs) noexcept override;
  int32_t configurePlugin(nvinfer1::DynamicPluginTensorDesc const*, int32_t,
                          nvinfer1::DynamicPluginTensorDesc const*, int32_t) noexcept override {
    return 0;
  }
  int32_t onShapeChange(nvinfer1::PluginTensorDesc const*, int32_t, nvinfer1::PluginTensorDesc const*,
                        int32_t) noexcept override {
    return 0;  // shapes are read from the descriptors at every enqueue
  }
  nvinfer1::IPluginV3* attachToContext(nvinfer1::IPluginResourceContext*) noexcept override { return clone(); }

 protected:
  // One serialisable int attribute per plugin (relu / num_heads).
  nvinfer1::PluginFieldCollection const* serialize_int(char const* name, int32_t const* value) noexcept;

 private:
  std::vector<nvinfer1::PluginField> fields_;
  nvinfer1::PluginFieldCollection collection_{};
};

// The creator of plugin `P`: P provides kName, a constructor from a field collection and
// static field_names().
template <class P>
class Creator : public nvinfer1::IPluginCreatorV3One {
 public:
  nvinfer1::IPluginV3* createPlugin(char const*, nvinfer1::PluginFieldCollection const* fc,
                                    nvinfer1::TensorRTPhase) noexcept override {
    try {
      return new P(fc);
    } catch (...) {
      return nullptr;  // exceptions must not cross into TensorRT
    }
  }
  nvinfer1::PluginFieldCollection const* getFieldNames() noexcept override { return P::field_names(); }
  char const* getPluginName() const noexcept override { return P::kName; }
  char const* getPluginVersion() const noexcept override { return kVersion; }
  char const* getPluginNamespace() const noexcept override { return kNamespace; }
};

}  // namespace bharnet::trt
