#pragma once
// Pieces of the LLaMA-like decoder layer that only some templates name (docs/templates.md,
// "Decoder pieces"): tanh soft-capping (Gemma 2, NanoChat), LLaMA 4's position-dependent query
// scale (Ministral 3), and the per-layer attention types HF derives from `layer_types` or a
// repeating pattern (OLMo 3, Gemma 2/3, EXAONE 4, CWM), with the layers that skip rotary
// embeddings (SmolLM3, EXAONE 4).

#include <cstdint>
#include <string>
#include <vector>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// The RMSNorm scale `prefix`.weight; Gemma stores the offset from 1 (initialised to zeros), so
// with `plus_one` the scale is weight + 1 (a node ONNX Runtime folds when it loads the graph).
std::string RmsScale(GraphBuilder& g, const std::string& prefix, int64_t size, bool plus_one);
// x / sqrt(mean(x^2) + eps) over the last axis, without a scale.
std::string RmsNormalized(GraphBuilder& g, const std::string& x, double eps);
// RmsNormalized times RmsScale: LLaMA's RMSNorm (Gemma's with `plus_one`).
std::string RmsNorm(GraphBuilder& g, const std::string& x, const std::string& prefix, int64_t size,
                    double eps, bool plus_one);

// A tied LM head: x [batch, sequence, in] times the transposed embedding table [vocab, in],
// giving [batch, sequence, vocab].
std::string TiedLmHead(GraphBuilder& g, const std::string& x, const std::string& table, int64_t in,
                       int64_t vocab);

// cap * tanh(x / cap).
std::string SoftCap(GraphBuilder& g, const std::string& x, float cap);

// 1 + beta * log(1 + floor(position / original_max)) for int64 positions [1, S], as float32
// [1, 1, S, 1] to multiply queries [batch, heads, S, head_dim].
std::string Llama4QueryScale(GraphBuilder& g, const std::string& positions, double beta,
                             double original_max);

// Which layers use sliding-window attention: the config's `layer_types` ("full_attention" /
// "sliding_attention") when it has one, else every layer but one in each `full_every`, the full
// one being the first of each group (`full_first`) or the last; with `from_last` the groups are
// counted back from the last layer, which is full (MuseGlimmer). full_every <= 0: none slide.
// Throws core::Error: kCorrupt (a list of another length), kUnsupported (another layer type).
std::vector<bool> SlidingLayers(const HfConfig& c, int64_t layers, int64_t full_every,
                                bool full_first, bool from_last = false);

// Which layers rotate q and k: SmolLM3's `no_rope_layers` (1 = rotary) when set, else all but
// every `no_rope_layer_interval`-th layer. Throws core::Error(kCorrupt) for a list shorter than
// the layers.
std::vector<bool> NoRopeLayers(const HfConfig& c, int64_t layers);

}  // namespace ipfs_accel::models
