#pragma once
// Input values the user gives instead of generated ones: `run --ids NAME=v1,v2,...`,
// `benchmark --input NAME=v1,v2,...` and `benchmark --inputs FILE.safetensors`. A VAD model's
// sample rate or a prompt's token ids mean something; a random value may send the graph down
// another branch.
//
// Shapes: the values fill the input's shape at the configuration's batch and sequence length in
// row-major order. Values for one item (the element count divided by the first axis, the batch)
// are repeated for every item of the batch.

#include <map>
#include <string>
#include <vector>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/session.h"

namespace ipfs_accel::harness {

struct GivenInput {
  std::string name;
  std::vector<double> values;  // row-major; integers exact up to 2^53
  std::string source;          // "--input", or the file it came from
};

// Parses `NAME=v1,v2,...`; `option` ("--ids", "--input") names the flag in errors. Throws
// core::Error(kInvalidArgument) for a missing name or '=', no values, or a value that is not a
// number.
GivenInput ParseGivenInput(const std::string& spec, const std::string& option);

// Every tensor of a safetensors file, named NAME or input.NAME (an io.safetensors). Throws like
// models::SafetensorsFile::Open, and kInvalidArgument for a file that holds no tensor.
std::vector<GivenInput> LoadGivenInputs(const std::string& path);

// The input's values at `shape` (resolved) in the graph input's dtype, broadcast along the batch
// as the top of this file says. Throws core::Error(kInvalidArgument), one line naming the input
// and the shape it takes, for a count that fits neither, and for a fraction given to an integer
// input.
core::Tensor ShapeGivenInput(const GivenInput& given, const runtime::TensorSpec& spec,
                             const core::Shape& shape);

// Replaces `tensors`' entries for every given input. Throws core::Error(kInvalidArgument) naming
// the graph's inputs for a name that is not one of them, and like ShapeGivenInput.
void ApplyGivenInputs(const std::vector<GivenInput>& given,
                      const std::vector<runtime::TensorSpec>& inputs,
                      const std::map<std::string, core::Shape>& shapes,
                      std::map<std::string, core::Tensor>& tensors);

// The given inputs that fix a graph's structure (models::StructureInputNames(), e.g.
// image_grid_thw), for models::LoadOptions::structure_inputs. Throws
// core::Error(kInvalidArgument) for a fraction among them.
std::map<std::string, std::vector<int64_t>> StructureInputsOf(const std::vector<GivenInput>& given);
// `given` less the inputs `model` was built for (Model::structure_inputs): those the graph takes.
std::vector<GivenInput> GraphInputsOf(const std::vector<GivenInput>& given,
                                      const models::Model& model);

}  // namespace ipfs_accel::harness
