#pragma once
// The pieces of a training step (ipfs_accel/models/gradient.h): head and loss, optimizer update,
// and the graph-input plumbing they share.

#include <map>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "gradient_emit.h"
#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/models/gradient.h"

namespace ipfs_accel::models {

// Declares a graph input or output `name` of `elem` and the dims of `like`.
void DeclareInput(onnx::GraphProto* g, const std::string& name, int32_t elem,
                  const std::vector<DimInfo>& dims);
void DeclareOutput(onnx::GraphProto* g, const std::string& name, int32_t elem,
                   const std::vector<DimInfo>& dims);
// An initializer's values as a core::Tensor (raw_data or the typed fields).
core::Tensor TensorOf(const onnx::TensorProto& t);
// A core::Tensor as an initializer named `name`.
onnx::TensorProto ProtoOf(const std::string& name, const core::Tensor& t);

// Appends the head and the loss on options.output, declares input "labels", and returns the
// loss tensor's name; a classification head's new parameters are added as initializers and
// their names appended to `new_parameters`; `classes` gets TrainingGraph::classes. Throws
// core::Error(kInvalidArgument) for an output or table the graph lacks, or shapes that do not fit.
std::string AddHeadAndLoss(onnx::ModelProto& model, const TrainingOptions& options,
                           std::vector<std::string>* new_parameters, int64_t* classes);

// Appends the update of `parameters` (graph inputs of element type `elem`) from `grads`,
// declares the state inputs and every updated.* output, and fills out.carry and out.state
// (the parameters' own initial values are the caller's).
void AddOptimizer(GradEmitter& e, const OptimizerOptions& options,
                  const std::vector<std::string>& parameters,
                  const std::map<std::string, std::string>& grads,
                  const std::map<std::string, TensorInfo>& info, int32_t elem, TrainingGraph& out);

}  // namespace ipfs_accel::models
