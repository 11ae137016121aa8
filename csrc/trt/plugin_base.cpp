// Shared plugin scaffolding (see plugin_base.h). UNVERIFIED against a real TensorRT.
#include "plugin_base.h"

#include <cstring>

namespace bharnet::trt {

int32_t int_field(nvinfer1::PluginFieldCollection const* fc, char const* name, int32_t fallback) {
  if (fc == nullptr) return fallback;
  for (int32_t i = 0; i < fc->nbFields; ++i) {
    nvinfer1::PluginField const& f = fc->fields[i];
    if (f.name == nullptr || std::strcmp(f.name, name) != 0 || f.data == nullptr || f.length < 1) continue;
    if (f.type == nvinfer1::PluginFieldType::kINT32) return *static_cast<int32_t const*>(f.data);
    if (f.type == nvinfer1::PluginFieldType::kINT16) return *static_cast<int16_t const*>(f.data);
    if (f.type == nvinfer1::PluginFieldType::kINT8) return *static_cast<int8_t const*>(f.data);
  }
  return fallback;
}

nvinfer1::IPluginCapability* PluginBase::getCapabilityInterface(nvinfer1::PluginCapabilityType type) noexcept {
  switch (type) {
    case nvinfer1::PluginCapabilityType::kCORE:
      return static_cast<nvinfer1::IPluginV3OneCore*>(this);
    case nvinfer1::PluginCapabilityType::kBUILD:
      return static_cast<nvinfer1::IPluginV3OneBuild*>(this);
    case nvinfer1::PluginCapabilityType::kRUNTIME:
      return static_cast<nvinfer1::IPluginV3OneRuntime*>(this);
  }
  return nullptr;
}

int32_t PluginBase::getOutputDataTypes(nvinfer1::DataType* outputTypes, int32_t nbOutputs,
                                       nvinfer1::DataType const*, int32_t) const noexcept {
  for (int32_t i = 0; i < nbOutputs; ++i) outputTypes[i] = nvinfer1::DataType::kFLOAT;
  return 0;
}

bool PluginBase::supportsFormatCombination(int32_t pos, nvinfer1::DynamicPluginTensorDesc const* inOut,
                                           int32_t nbInputs, int32_t nbOutputs) noexcept {
  if (pos < 0 || pos >= nbInputs + nbOutputs) return false;
  nvinfer1::PluginTensorDesc const& d = inOut[pos].desc;
  return d.type == nvinfer1::DataType::kFLOAT && d.format == nvinfer1::TensorFormat::kLINEAR;
}

nvinfer1::PluginFieldCollection const* PluginBase::serialize_int(char const* name, int32_t const* value) noexcept {
  fields_.assign(1, nvinfer1::PluginField(name, value, nvinfer1::PluginFieldType::kINT32, 1));
  collection_.nbFields = static_cast<int32_t>(fields_.size());
  collection_.fields = fields_.data();
  return &collection_;
}

}  // namespace bharnet::trt
