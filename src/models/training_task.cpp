// The task a benchmark trains a built graph on (gradient.h's DefaultTrainingTask).

#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include "graph_builder.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/gradient.h"

namespace ipfs_accel::models {

namespace {

bool HasGraphOutput(const onnx::GraphProto& g, const std::string& name) {
  for (const auto& o : g.output())
    if (o.name() == name) return true;
  return false;
}

bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// A 2-D parameter that embeds tokens, by the names Hugging Face gives it; "" when none.
std::string TokenEmbeddingTable(const onnx::GraphProto& g) {
  for (const auto& t : g.initializer())
    if (t.doc_string() == kParameterDoc && t.dims_size() == 2 &&
        (EndsWith(t.name(), "word_embeddings.weight") || EndsWith(t.name(), "embed_tokens.weight")))
      return t.name();
  return "";
}

}  // namespace

TrainingOptions DefaultTrainingTask(const Model& forward, std::string* description) {
  if (forward.onnx_bytes.empty())
    throw core::Error(core::ErrorKind::kUnsupported,
                      "training graphs are built from graphs held in memory, not from .onnx "
                      "files or graphs over 2 GB");
  onnx::ModelProto model;
  if (!model.ParseFromString(forward.onnx_bytes))
    throw core::Error(core::ErrorKind::kCorrupt,
                      fmt::format("the graph of '{}' does not parse", forward.info.name));
  const onnx::GraphProto& g = model.graph();
  TrainingOptions o;
  const std::string table = TokenEmbeddingTable(g);
  if (HasGraphOutput(g, "logits")) {
    o.output = "logits";
    *description = "cross-entropy on logits";
  } else if (HasGraphOutput(g, "last_hidden_state") && !table.empty()) {
    o.output = "last_hidden_state";
    o.tied_head = table;
    *description = "cross-entropy through a head tied to " + table;
  } else if (HasGraphOutput(g, "pooler_output")) {
    o.output = "pooler_output";
    o.classes = 2;
    *description = "cross-entropy through a new 2-class head on pooler_output";
  } else {
    if (g.output_size() == 0)
      throw core::Error(
          core::ErrorKind::kInvalidArgument,
          fmt::format("the graph of '{}' has no outputs to train", forward.info.name));
    o.output = g.output(0).name();
    o.loss = LossKind::kMse;
    *description = "mse on " + o.output;
  }
  return o;
}

}  // namespace ipfs_accel::models
