#pragma once
// A model's inputs from real files (an image, an audio clip, video frames), made the way the
// model's Hugging Face processor makes them (preprocess/), for `ipfs-accelerate run`. The
// processor's settings come from, in order: the file or folder the caller names, the model's
// folder (preprocessor_config.json), or the model's config (a catalog model: the processor
// class's defaults at the model's sizes).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/session.h"

namespace ipfs_accel::harness {

struct MediaFiles {
  std::string image;               // an image file (PNG, JPEG)
  std::string audio;               // an audio file (WAV, FLAC, ...)
  std::vector<std::string> video;  // frame image files in order, or one folder of frames
  std::string preprocessor;        // preprocessor_config.json or a folder holding one; optional
};

// What was made, and from which processor settings (for the user to see).
struct MediaInputs {
  std::map<std::string, core::Tensor> tensors;  // named as the graph's inputs
  std::string processor;  // e.g. "ViTImageProcessor (defaults ...)"; "" when no file was given
};

// A graph with decoder_input_ids also gets [[decoder_start_token_id]] there, as HF's generate
// starts. `inputs` are the graph's (sizes a fixed graph insists on, e.g. a Whisper graph's frame
// count or a video graph's frames, are taken from them). With no file, only the decoder start
// token is made. Throws core::Error: kInvalidArgument (more than one kind of file, or a kind of
// file the model takes no input for), kUnsupported (a model whose processor this
// tool does not reproduce), and what preprocess/ throws for the files.
MediaInputs MakeMediaInputs(const models::Model& model,
                            const std::vector<runtime::TensorSpec>& inputs,
                            const MediaFiles& files);

}  // namespace ipfs_accel::harness
