#include "seq2seq_graphs.h"

#include <fmt/format.h>
#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include "architectures.h"
#include "bart_builder.h"
#include "graph_builder.h"
#include "ipfs_accel/core/error.h"
#include "t5_builder.h"
#include "whisper_builder.h"

namespace ipfs_accel::models {

namespace {

using Builder = void (*)(const HfConfig&, GraphBuilder&);

Builder FindBuilder(const HfConfig& config, Seq2SeqGraph graph) {
  struct Builders {
    const char* model_type;
    Builder full_forward, encoder, decoder_with_past;
  };
  static constexpr Builders kBuilders[] = {
      {"t5", BuildT5, BuildT5Encoder, BuildT5DecoderWithPast},
      {"bart", BuildBart, BuildBartEncoder, BuildBartDecoderWithPast},
      {"whisper", BuildWhisper, BuildWhisperEncoder, BuildWhisperDecoderWithPast},
  };
  const std::string type = config.ModelType();
  const Builders* found = nullptr;
  for (const Builders& b : kBuilders)
    if (type == b.model_type) found = &b;
  if (found == nullptr)
    throw core::Error(core::ErrorKind::kUnsupported,
                      fmt::format("'{}' names architecture '{}', which has no encoder-decoder "
                                  "generation graphs (known: t5, bart, whisper)",
                                  config.origin(), type));
  switch (graph) {
    case Seq2SeqGraph::kFullForward:
      return found->full_forward;
    case Seq2SeqGraph::kEncoder:
      return found->encoder;
    case Seq2SeqGraph::kDecoderWithPast:
      return found->decoder_with_past;
  }
  throw core::Error(core::ErrorKind::kInternal, "unknown Seq2SeqGraph");
}

const char* GraphName(Seq2SeqGraph graph) {
  switch (graph) {
    case Seq2SeqGraph::kFullForward:
      return "model";
    case Seq2SeqGraph::kEncoder:
      return "encoder_model";
    case Seq2SeqGraph::kDecoderWithPast:
      return "decoder_with_past_model";
  }
  return "model";
}

}  // namespace

std::string BuildSeq2SeqGraph(const HfConfig& config, WeightProvider& weights, Seq2SeqGraph graph) {
  const Builder build = FindBuilder(config, graph);
  onnx::ModelProto proto;
  proto.set_ir_version(onnx::IR_VERSION);
  proto.set_producer_name("ipfs-accelerate");
  auto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpsetVersion);
  proto.mutable_graph()->set_name(GraphName(graph));
  GraphBuilder builder(proto.mutable_graph(), &weights);
  build(config, builder);
  try {
    onnx::checker::check_model(proto);
    onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(true, 1, false));
  } catch (const std::exception& e) {
    throw core::Error(core::ErrorKind::kInternal,
                      fmt::format("the {} {} graph built from '{}' fails ONNX checks: {}",
                                  config.ModelType(), GraphName(graph), config.origin(), e.what()));
  }
  std::string bytes;
  if (!proto.SerializeToString(&bytes))
    throw core::Error(core::ErrorKind::kInternal,
                      fmt::format("the {} {} graph is too large to serialize (over 2 GB)",
                                  config.ModelType(), GraphName(graph)));
  return bytes;
}

DimRoles Seq2SeqDecoderDimRoles() { return DecoderDimRoles(0); }

}  // namespace ipfs_accel::models
