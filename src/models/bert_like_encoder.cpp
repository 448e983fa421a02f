#include "bert_like_encoder.h"

#include "seq2seq_attention.h"

namespace ipfs_accel::models {

std::string BertLikeEncoder(
    GraphBuilder& g, const Dim& sequence, int64_t layers, int64_t hidden,
    const std::function<std::string()>& embeddings,
    const std::function<std::string(int64_t, const std::string&, const std::string&)>& layer) {
  const Dim batch = std::string("batch");
  for (const char* name : {"input_ids", "attention_mask", "token_type_ids"})
    g.Input(name, onnx::TensorProto::INT64, {batch, sequence});
  std::string h = embeddings();
  const std::string mask = PaddingMaskBias(g, "attention_mask");
  for (int64_t l = 0; l < layers; ++l) h = layer(l, h, mask);
  g.Output(g.Node("Identity", {h}, {}, "last_hidden_state"), onnx::TensorProto::FLOAT,
           {batch, sequence, hidden});
  return h;
}

}  // namespace ipfs_accel::models
