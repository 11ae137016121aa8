// Entry points TensorRT looks up when the library is loaded with
// IPluginRegistry::loadLibrary / trt.get_plugin_registry().load_library (TensorRT 10 plugin API).
// UNVERIFIED against a real TensorRT (see plugin_base.h).
#include "plugin_base.h"

namespace bharnet::trt {
nvinfer1::IPluginCreatorV3One* graph_conv_creator();
nvinfer1::IPluginCreatorV3One* pool_attention_creator();
}  // namespace bharnet::trt

extern "C" {

// The V3 creators of this library.
nvinfer1::IPluginCreatorInterface* const* getCreators(int32_t& nbCreators) {
  static nvinfer1::IPluginCreatorInterface* const creators[] = {bharnet::trt::graph_conv_creator(),
                                                                 bharnet::trt::pool_attention_creator()};
  nbCreators = 2;
  return creators;
}

// The plugins log nothing through TensorRT's logger, so the finder is not kept.
void setLoggerFinder(nvinfer1::ILoggerFinder*) {}

}  // extern "C"
