#pragma once
// Training graphs built from our forward graphs by reverse-mode differentiation
// (src/models/gradient_graph.h): forward + head + loss + backward [+ optimizer update], as one
// ONNX graph that any inference runtime runs. The state a step changes (parameters, optimizer
// states, the step count) is graph inputs and outputs, so a step is repeated by feeding each
// `carry` output back as its input.
//
// Graph inputs: the forward graph's own (input_ids, attention_mask, ...), `labels`, every
// trained parameter by its weight name, and the optimizer's state:
//   sgd-momentum: optimizer.momentum_buffer.<p>;  adamw: optimizer.exp_avg.<p>,
//   optimizer.exp_avg_sq.<p>, optimizer.step (int64 scalar, the number of this step, from 1);
//   both: optimizer.lr (scalar of the parameters' type).
//   With accumulation_steps A > 1: accumulated.grad.<p>, the sum of the earlier micro-batches'
//   gradients (zeros at the first micro-batch of an optimizer step).
// Graph outputs: `loss` (scalar), grad.<p> for each parameter (with A > 1: this micro-batch's
// gradient plus accumulated.grad.<p>, the running sum), and updated.<input> for each carried
// input (parameters, states, step).

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/models/model.h"

namespace ipfs_accel::models {

enum class LossKind {
  // Mean over labels != -100 of -log softmax(logits)[label]; logits [..., classes], labels int64
  // [...] (as torch's cross_entropy with ignore_index -100). Causal LM labels are given already
  // shifted: labels[t] is the token after position t.
  kCrossEntropy,
  kMse,  // mean((output - labels)^2), labels of the output's shape and type
};

enum class OptimizerKind {
  kNone,         // gradients only (no update, no state)
  kSgdMomentum,  // torch.optim.SGD(momentum, weight_decay), dampening 0, not Nesterov
  kAdamW,        // torch.optim.AdamW: decoupled weight decay, bias correction, amsgrad off
};

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::kAdamW;
  double lr = 1e-3;  // the initial optimizer.lr state; the input may change per step
  double momentum = 0.9;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.01;
};

struct TrainingOptions {
  std::string output;  // the forward output the head or loss reads; "": the first output
  LossKind loss = LossKind::kCrossEntropy;
  // A language-model head tied to an embedding table [vocab, hidden] (an initializer's name,
  // e.g. BERT's "embeddings.word_embeddings.weight"): logits = output @ table^T. "": none.
  std::string tied_head;
  // A classification head of this many classes on the output [..., hidden]: new parameters
  // classifier.weight [hidden, classes] (uniform +-1/sqrt(hidden), from `seed`) and
  // classifier.bias (zeros). 0: none.
  int64_t classes = 0;
  uint64_t seed = 42;
  // The parameters to train; empty: every weight the builder marked as a parameter (not
  // buffers such as rope.inv_freq, frozen tables or constants) that the loss depends on.
  // Others stay initializers (frozen).
  std::vector<std::string> parameters;
  OptimizerOptions optimizer;
  // Gradient accumulation over this many micro-batches: > 1 adds the accumulated.grad.<p>
  // inputs; the update (if any) then reads grad.<p> / A, the mean of the micro-batches'
  // gradients (torch's loss / A per micro-batch). A gradients-only graph (kNone) of the same A
  // runs the first A - 1 micro-batches, a graph with the optimizer the last.
  int64_t accumulation_steps = 1;
  // false: no grad.<p> outputs where an optimizer updates (a benchmark's step needs only the
  // loss and updated.*; each output is a parameter-sized buffer the runtime must hand over).
  bool gradient_outputs = true;
};

struct TrainingGraph {
  Model model;                          // the training graph (onnx_bytes)
  std::vector<std::string> parameters;  // trained, in graph order
  // {output, input}: after a step, feed `output` as `input` of the next one.
  std::vector<std::pair<std::string, std::string>> carry;
  // The first step's value of every carried input and of optimizer.lr: parameters as the
  // forward graph holds them, optimizer states zero, optimizer.step 1.
  std::map<std::string, core::Tensor> state;
  // Cross-entropy: the number of classes `labels` index (the head's or the output's last
  // axis; -1 where the graph leaves it symbolic). MSE: 0.
  int64_t classes = 0;
};

// Builds the training step of `forward` (a built graph held in memory: Model::onnx_bytes).
// Throws core::Error: kUnsupported (a graph held as a file, an operator without a gradient
// rule, named), kInvalidArgument (an output, table or parameter the graph lacks; a loss that
// does not fit the output's shape).
TrainingGraph BuildTrainingStep(const Model& forward, const TrainingOptions& options);

// The task `benchmark --mode training` trains a built graph on, from its outputs and weights
// (the optimizer left at its defaults; `description` says which, e.g. "cross-entropy on logits"):
//   an output `logits`: cross-entropy over it (a causal LM's next token, an image's class);
//   else `last_hidden_state` and a token embedding table among the parameters (a name ending in
//   word_embeddings.weight or embed_tokens.weight): cross-entropy through a head tied to it;
//   else `pooler_output`: cross-entropy through a new 2-class head;
//   else MSE on the first output (labels of its shape).
// Throws core::Error(kUnsupported) for a graph held as a file, kCorrupt when it does not parse.
TrainingOptions DefaultTrainingTask(const Model& forward, std::string* description);

// The operators reverse-mode differentiation has a rule for (sorted).
std::vector<std::string> DifferentiableOperators();

}  // namespace ipfs_accel::models
