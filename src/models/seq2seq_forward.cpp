#include "seq2seq_forward.h"

#include "seq2seq_embedding.h"

namespace ipfs_accel::models {

void BuildSeq2SeqForward(GraphBuilder& g, int64_t vocab, int64_t d_model, const EncodeStack& encode,
                         const DecodeStack& decode) {
  const std::string batch = "batch", sequence = "sequence", decoder_sequence = "decoder_sequence";
  g.Input("input_ids", onnx::TensorProto::INT64, {batch, sequence});
  g.Input("attention_mask", onnx::TensorProto::INT64, {batch, sequence});
  g.Input("decoder_input_ids", onnx::TensorProto::INT64, {batch, decoder_sequence});

  const std::string embedding = SharedTokenEmbedding(g, vocab, d_model);
  const std::string encoder_hidden = encode(embedding);
  g.Node("Identity", {encoder_hidden}, {}, "encoder_last_hidden_state");
  g.Node("Identity", {decode(embedding, encoder_hidden)}, {}, "last_hidden_state");

  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {batch, decoder_sequence, d_model});
  g.Output("encoder_last_hidden_state", onnx::TensorProto::FLOAT, {batch, sequence, d_model});
}

}  // namespace ipfs_accel::models
