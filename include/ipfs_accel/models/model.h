#pragma once
// Turns what a user names into a runnable ONNX model:
//   - a catalog name ("bert-base-uncased", "bert-tiny"): the architecture's graph at
//     that size with seeded random weights;
//   - a Hugging Face folder (config.json + model.safetensors or sharded safetensors
//     with model.safetensors.index.json): the graph with the checkpoint's weights;
//   - an .onnx file, used as it is;
//   - a catalog name or folder with ":component", a part of a composite model built alone as HF
//     defines it ("clip-vit-base-patch32:vision_model" is its CLIPVisionModel, with the
//     composite's weights for that part).
// Built graphs pass onnx::checker and strict shape inference before they are returned.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// What generated inputs must respect for one graph input.
struct InputHint {
  enum class Kind { kAny, kIndexRange, kOnes, kZeros, kIndexRangeWithRun, kComputed };
  Kind kind = Kind::kAny;
  int64_t low = 0, high = 0;  // kIndexRange, kIndexRangeWithRun: integers in [low, high)
  // kIndexRangeWithRun: token ids holding one image's placeholder tokens where a processor puts
  // them: each row (along the last axis) is `first` (e.g. BOS; -1: none), then `run_length`
  // copies of `run_value`, then ids from [low, high); no other element equals run_value.
  int64_t run_value = 0, run_length = 0, first = -1;
  // kComputed: the model makes the values for the resolved shape and the run's seed, for
  // inputs that must agree with each other (a multimodal model's image tokens in input_ids and
  // the 3-D positions they imply). It returns the input's dtype and shape, and throws
  // core::Error(kInvalidArgument) for a shape it cannot fill (a sequence too short for an image).
  std::function<core::Tensor(const core::Shape& shape, uint64_t seed)> compute = {};
  // Hugging Face's default for this input when a caller leaves it out, where it is made from
  // the other inputs (BART's decoder_input_ids: input_ids shifted right), in the graph input's
  // dtype; nullopt when the inputs it needs are absent. Defaults that depend on nothing else
  // (zeros, ones, positions) are harness/input_defaults.h's table, by input name.
  std::function<std::optional<core::Tensor>(const std::map<std::string, core::Tensor>& inputs,
                                            core::DType dtype)>
      hf_default = {};
  std::string hf_default_name = {};  // how the user is told, e.g. "input_ids shifted right"
};

// Which symbolic dimension names mean batch and sequence, when the model says.
struct DimRoles {
  std::string batch = {};     // e.g. "batch"
  std::string sequence = {};  // e.g. "sequence"
  int64_t max_sequence = 0;   // 0: no known bound
  // Decoders with a KV cache: the cached length ("past_sequence") and cached + new
  // ("total_sequence"), e.g. past_key_values.N.key [batch, kv_heads, past_sequence, head_dim].
  std::string past_sequence = {};
  std::string total_sequence = {};
  // Encoder-decoders: the decoder's token axis (decoder_input_ids [batch, decoder_sequence]).
  std::string decoder_sequence = {};
  int64_t max_decoder_sequence = 0;  // 0: no known bound
  // The shortest prompt (no past) the inputs fit, e.g. a multimodal model's image tokens; 0: none.
  int64_t min_sequence = 0;
};

struct ModelInfo {
  std::string name = {};          // catalog name, folder name, or file name
  std::string architecture = {};  // HF model_type, or "onnx"
  std::string modality = {};      // "text", "vision", "audio", "multimodal", "unknown"
  std::string source = {};        // "catalog", "hf-folder", "onnx-file"
  std::string source_path = {};   // absolute path for folders and files
  int64_t parameters = 0;
  std::string content_hash =
      {};  // "sha256:<hex>" of weights/.onnx, or "seed:<n>" for random weights
  // "sha256:<hex>" of the config the graph was built from, serialised with sorted keys; empty
  // for an .onnx file (its graph is its structure, and content_hash covers it).
  std::string config_hash = {};
  // The model family of the system we rebuild ("embedding", "text_generation", "vision",
  // "audio", "multimodal"); empty for an .onnx file, whose family nobody said.
  std::string family = {};
  // The architecture template the graph was built from (templates.h) and its version; empty
  // and 0 for an .onnx file.
  std::string template_name = {};
  int64_t template_version = 0;
};

// Weight precision of a built graph (see precision.h for what each means).
enum class Precision { kFp32, kFp16, kInt8, kInt4 };

struct Model {
  ModelInfo info;
  // Exactly one of these is set: serialized ModelProto, or a path for ORT to load
  // (an .onnx file, which may have external data beside it).
  std::string onnx_bytes;
  std::string onnx_path;
  std::map<std::string, InputHint> input_hints;
  DimRoles dim_roles;
  bool fused = false;  // built with ONNX Runtime contrib operators (LoadOptions::fused)
  Precision precision = Precision::kFp32;
  // Keeps files the model needs alive (a built graph over 2 GB lives in a temporary
  // folder as model.onnx + weights.bin); the last copy's destruction removes them.
  std::shared_ptr<void> files_owner;
};

struct LoadOptions {
  uint64_t seed = 42;  // for random weights
  // Build the fused variant: ONNX Runtime contrib operators where the architecture has
  // them (see GraphBuilder::fused); ignored for .onnx files, which are used as they are.
  bool fused = false;
  // Rewrite the graph at this precision while it is built, so a model whose fp32 graph
  // is over 2 GB can still be held in memory at int8/int4.
  Precision precision = Precision::kFp32;
  // When > 0: a model whose fp32 weights (its parameter count, from the graph's structure
  // alone) need more bytes than this is refused before any weight is made or read.
  int64_t max_weight_bytes = 0;
};

// Throws core::Error: kNotFound (no such model/file), kCorrupt (unreadable config,
// weights, or .onnx), kUnsupported (architecture or option this build lacks).
Model LoadModel(const std::string& spec, const LoadOptions& options = {});

// The graph of `config` with seeded random weights (LoadOptions::seed), named `name`, source
// "template": e.g. a template's TinyConfig. Throws like LoadModel.
Model LoadConfig(const HfConfig& config, const std::string& name, const LoadOptions& options = {});

// Builds the graph of a HF config folder (used by LoadModel and verify).
Model LoadHfFolder(const std::string& dir, const LoadOptions& options = {});

// The parts `spec` + ":PART" can name (CLIP: text_model, vision_model); empty for a model without
// parts and for .onnx files. Throws like LoadModel for a spec that names nothing.
std::vector<std::string> ComponentsOf(const std::string& spec);

// The parameter count of a catalog name or HF folder's architecture, from the graph's
// structure alone (no weights are made or read): cheap at any size.
int64_t CountParameters(const std::string& spec);
// The same for a config (and optionally one of its components): the architecture's builder
// run on shapes alone. Throws core::Error for a config it cannot build.
int64_t CountParameters(const HfConfig& config, const std::string& component = "");

}  // namespace ipfs_accel::models
