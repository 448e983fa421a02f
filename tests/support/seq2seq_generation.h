#pragma once
// Test helper: an encoder-decoder's generation graphs (models/seq2seq_graphs.h) opened on ONNX
// Runtime, and decoding in chunks with the KV cache fed back, for checking the cached graphs
// against a full forward pass (T5, BART, Whisper).

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/models/hf_config.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "models/seq2seq_graphs.h"
#include "models/weights.h"
#include "support/tensors.h"

namespace ipfs_accel::testing {

using TensorMap = std::map<std::string, core::Tensor>;

struct GenerationGraph {
  models::Model model;
  std::unique_ptr<runtime::Session> session;
};

// One of the seq2seq graphs of a checkpoint folder, opened on ONNX Runtime.
inline GenerationGraph OpenGraph(const std::string& dir, const std::vector<std::string>& prefixes,
                                 models::Seq2SeqGraph which) {
  const models::HfConfig config = models::HfConfig::Load(dir);
  models::SafetensorsWeights weights(dir, prefixes);
  GenerationGraph g;
  g.model.onnx_bytes = models::BuildSeq2SeqGraph(config, weights, which);
  g.model.info.name = dir;
  g.model.info.parameters = weights.parameter_count();
  g.session = runtime::OpenOnnxRuntimeSession(g.model, {});
  return g;
}

struct ChunkedDecoding {
  core::Tensor encoder_hidden;
  std::vector<core::Tensor> steps;  // the decoder's `output` for each chunk
};

// Runs the encoder graph on `encoder_inputs`, then the decoder-with-past graph over
// `decoder_ids` [batch, seq] in chunks of `chunks` tokens: every step gets `step_inputs` (e.g.
// the encoder mask) and the encoder's present.{i}.encoder.* as its cross-attention cache, and
// feeds its present.{i}.decoder.* back as the next step's past.
inline ChunkedDecoding DecodeInChunks(GenerationGraph& encoder, GenerationGraph& decoder,
                                      const TensorMap& encoder_inputs, TensorMap step_inputs,
                                      const core::Tensor& decoder_ids,
                                      const std::vector<int64_t>& chunks,
                                      const std::string& output) {
  const TensorMap encoded = encoder.session->Run(encoder_inputs);
  TensorMap& step = step_inputs;
  const std::string past = "past_key_values.", present = "present.";
  for (const auto& spec : decoder.session->inputs()) {
    const std::string& name = spec.name;
    if (name.rfind(past, 0) != 0) continue;
    if (name.find(".encoder.") != std::string::npos)
      step[name] = encoded.at(present + name.substr(past.size()));
    else  // an empty self-attention cache: [batch, heads, 0, head_dim]
      step[name] = core::Tensor::Zeros(core::DType::kFloat32,
                                       {decoder_ids.shape[0], spec.shape[1], 0, spec.shape[3]});
  }
  ChunkedDecoding d{encoded.at("last_hidden_state"), {}};
  int64_t done = 0;
  for (const int64_t n : chunks) {
    step["input_ids"] = SliceAxis1(decoder_ids, done, done + n);
    TensorMap out = decoder.session->Run(step);
    done += n;
    for (auto& [name, tensor] : out) {
      if (name.rfind(present, 0) != 0) continue;
      EXPECT_EQ(tensor.shape[2], done) << name;  // the cache grows by the tokens given
      step[past + name.substr(present.size())] = std::move(tensor);
    }
    d.steps.push_back(out.at(output));
  }
  EXPECT_EQ(done, decoder_ids.shape[1]);
  return d;
}

}  // namespace ipfs_accel::testing
