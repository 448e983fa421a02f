#include "ipfs_accel/harness/input_generator.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <random>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/input_defaults.h"

namespace ipfs_accel::harness {

using core::Error;
using core::ErrorKind;

namespace {

bool LooksLikeSequence(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(), ::tolower);
  return name.find("seq") != std::string::npos || name.find("len") != std::string::npos ||
         name.find("token") != std::string::npos;
}

enum class DimRole { kBatch, kSequence, kPast, kTotal, kDecoderSequence, kOther };

// What an axis means: the model's own names first, else axis 0 is the batch and a
// sequence-like name is the sequence.
DimRole RoleOf(const runtime::TensorSpec& spec, size_t axis, const models::DimRoles& roles) {
  const std::string name = axis < spec.dim_names.size() ? spec.dim_names[axis] : std::string();
  if (!name.empty() && name == roles.batch) return DimRole::kBatch;
  if (!name.empty() && name == roles.sequence) return DimRole::kSequence;
  if (!name.empty() && name == roles.past_sequence) return DimRole::kPast;
  if (!name.empty() && name == roles.total_sequence) return DimRole::kTotal;
  if (!name.empty() && name == roles.decoder_sequence) return DimRole::kDecoderSequence;
  if (roles.batch.empty() && axis == 0) return DimRole::kBatch;
  if (roles.sequence.empty() && !name.empty() && LooksLikeSequence(name)) return DimRole::kSequence;
  return DimRole::kOther;
}

int64_t ResolveDim(const runtime::TensorSpec& spec, size_t axis, const models::DimRoles& roles,
                   const ShapeRequest& req) {
  const std::string name = axis < spec.dim_names.size() ? spec.dim_names[axis] : std::string();
  if (!name.empty()) {
    auto it = req.overrides.find(name);
    if (it != req.overrides.end()) {
      if (it->second.size() != 1)
        throw Error(ErrorKind::kInvalidArgument,
                    fmt::format("--shape {}=... names a dimension and takes one size", name));
      return it->second[0];
    }
  }
  switch (RoleOf(spec, axis, roles)) {
    case DimRole::kBatch:
      return req.batch_size;
    case DimRole::kSequence:
      return req.seq_len;
    case DimRole::kPast:
      return req.past_len;
    case DimRole::kTotal:
      return req.past_len + req.seq_len;
    case DimRole::kDecoderSequence:
      return req.decoder_seq_len > 0 ? req.decoder_seq_len : req.seq_len;
    case DimRole::kOther:
      break;
  }
  throw Error(ErrorKind::kInvalidArgument,
              fmt::format("input '{}' has a symbolic dimension {} at axis {} that cannot be "
                          "guessed; give it with --shape {}=<size> or --shape {}=<d0,d1,...>",
                          spec.name, name.empty() ? "(unnamed)" : "'" + name + "'", axis,
                          name.empty() ? "<dim>" : name, spec.name));
}

}  // namespace

std::map<std::string, core::Shape> ResolveShapes(const std::vector<runtime::TensorSpec>& inputs,
                                                 const models::DimRoles& roles,
                                                 const ShapeRequest& request) {
  // A default length (not asked for) longer than the model's positions becomes the longest
  // the model takes (CLIP's 77), rather than an error the user never caused.
  ShapeRequest req = request;
  if (!req.seq_len_explicit && roles.max_sequence > 0 && req.seq_len > roles.max_sequence)
    req.seq_len = roles.max_sequence;
  // Likewise a default too short for what the model needs (an image's tokens) grows to it.
  if (!req.seq_len_explicit && req.past_len == 0 && roles.min_sequence > req.seq_len)
    req.seq_len = roles.min_sequence;
  if (!req.seq_len_explicit && req.decoder_seq_len == 0 && roles.max_decoder_sequence > 0 &&
      req.seq_len > roles.max_decoder_sequence)
    req.decoder_seq_len = roles.max_decoder_sequence;
  if (req.batch_size <= 0 || req.seq_len <= 0)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("batch size {} and sequence length {} must be positive", req.batch_size,
                            req.seq_len));
  for (const auto& [name, dims] : req.overrides) {
    bool known = false;
    for (const auto& spec : inputs) {
      known = known || spec.name == name;
      known = known ||
              std::find(spec.dim_names.begin(), spec.dim_names.end(), name) != spec.dim_names.end();
    }
    if (!known) {
      std::vector<std::string> names;
      for (const auto& s : inputs) names.push_back(s.name);
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("--shape {}: the model has no input or symbolic dimension of that "
                              "name (inputs: {})",
                              name, fmt::join(names, ", ")));
    }
  }
  std::map<std::string, core::Shape> shapes;
  for (const auto& spec : inputs) {
    core::Shape shape(spec.shape.size());
    auto whole = req.overrides.find(spec.name);
    if (whole != req.overrides.end()) {
      if (whole->second.size() != spec.shape.size())
        throw Error(
            ErrorKind::kInvalidArgument,
            fmt::format("--shape {} gives {} dimensions, but the input has rank {} ({})", spec.name,
                        whole->second.size(), spec.shape.size(), core::ShapeToString(spec.shape)));
      shape = whole->second;
    } else {
      for (size_t a = 0; a < spec.shape.size(); ++a)
        shape[a] = spec.shape[a] >= 0 ? spec.shape[a] : ResolveDim(spec, a, roles, req);
    }
    for (size_t a = 0; a < shape.size(); ++a) {
      if (spec.shape[a] >= 0 && shape[a] != spec.shape[a])
        throw Error(ErrorKind::kInvalidArgument,
                    fmt::format("input '{}' axis {} is fixed at {} in the graph, not {}", spec.name,
                                a, spec.shape[a], shape[a]));
      // A fixed batch or sequence axis cannot honour an explicit --batch-sizes / --seq-len.
      const DimRole role = RoleOf(spec, a, roles);
      if (spec.shape[a] >= 0 && whole == req.overrides.end()) {
        if (role == DimRole::kBatch && req.batch_explicit && spec.shape[a] != req.batch_size)
          throw Error(ErrorKind::kInvalidArgument,
                      fmt::format("input '{}' has a fixed batch of {} (axis {}), so batch size {} "
                                  "cannot be run; re-export the model with a dynamic batch axis",
                                  spec.name, spec.shape[a], a, req.batch_size));
        if (role == DimRole::kSequence && req.seq_len_explicit && spec.shape[a] != req.seq_len)
          throw Error(ErrorKind::kInvalidArgument,
                      fmt::format("input '{}' has a fixed sequence length of {} (axis {}), so "
                                  "--seq-len {} cannot be run",
                                  spec.name, spec.shape[a], a, req.seq_len));
      }
      if (shape[a] < 0 || (shape[a] == 0 && RoleOf(spec, a, roles) != DimRole::kPast))
        throw Error(ErrorKind::kInvalidArgument,
                    fmt::format("input '{}' axis {} would be {}; sizes must be positive", spec.name,
                                a, shape[a]));
      if (roles.max_sequence > 0 && a < spec.dim_names.size() &&
          spec.dim_names[a] == roles.sequence && shape[a] > roles.max_sequence)
        throw Error(ErrorKind::kInvalidArgument,
                    fmt::format("sequence length {} exceeds the model's {} positions; use "
                                "--seq-len {} or less",
                                shape[a], roles.max_sequence, roles.max_sequence));
      if (roles.min_sequence > 0 && req.past_len == 0 && a < spec.dim_names.size() &&
          spec.dim_names[a] == roles.sequence && shape[a] < roles.min_sequence)
        throw Error(ErrorKind::kInvalidArgument,
                    fmt::format("sequence length {} cannot hold the model's prompt, which needs "
                                "at least {} positions (its image tokens); use --seq-len {} or "
                                "more",
                                shape[a], roles.min_sequence, roles.min_sequence));
      if (roles.max_decoder_sequence > 0 && a < spec.dim_names.size() &&
          !roles.decoder_sequence.empty() && spec.dim_names[a] == roles.decoder_sequence &&
          shape[a] > roles.max_decoder_sequence)
        throw Error(ErrorKind::kInvalidArgument,
                    fmt::format("decoder length {} exceeds the model's {} decoder positions; use "
                                "--shape {}={} or less",
                                shape[a], roles.max_decoder_sequence, roles.decoder_sequence,
                                roles.max_decoder_sequence));
    }
    shapes[spec.name] = std::move(shape);
  }
  return shapes;
}

EffectiveDims EffectiveBatchAndSequence(const std::vector<runtime::TensorSpec>& inputs,
                                        const models::DimRoles& roles,
                                        const std::map<std::string, core::Shape>& shapes) {
  EffectiveDims d{0, 0};
  for (const auto& spec : inputs) {
    const core::Shape& shape = shapes.at(spec.name);
    for (size_t a = 0; a < shape.size(); ++a) {
      const DimRole role = RoleOf(spec, a, roles);
      if (role == DimRole::kBatch && d.batch_size == 0) d.batch_size = shape[a];
      if (role == DimRole::kSequence && d.seq_len == 0) d.seq_len = shape[a];
    }
  }
  if (d.batch_size == 0) d.batch_size = 1;  // no batch axis: one item per run
  return d;
}

namespace {

// The sizes the given inputs fix: their batch, sequence and decoder sequence axes.
ShapeRequest RequestFromGiven(const std::vector<runtime::TensorSpec>& inputs,
                              const models::DimRoles& roles,
                              const std::map<std::string, core::Tensor>& given) {
  ShapeRequest req;
  for (const auto& spec : inputs) {
    auto it = given.find(spec.name);
    if (it == given.end()) continue;
    for (size_t a = 0; a < spec.shape.size() && a < it->second.shape.size(); ++a) {
      const DimRole role = RoleOf(spec, a, roles);
      if (role == DimRole::kBatch) req.batch_size = it->second.shape[a];
      if (role == DimRole::kSequence) req.seq_len = it->second.shape[a];
      if (role == DimRole::kDecoderSequence) req.decoder_seq_len = it->second.shape[a];
    }
  }
  return req;
}

// HF's default for the input, unless the model computes the input itself.
std::optional<HfDefault> DefaultToUse(const runtime::TensorSpec& spec, const models::Model& model) {
  const auto hint = model.input_hints.find(spec.name);
  if (hint != model.input_hints.end() && hint->second.kind == models::InputHint::Kind::kComputed)
    return std::nullopt;
  return HfDefaultFor(spec.name);
}

// Inputs whose HF default is made from the others (every other input is there by now); one
// whose inputs are missing too is generated.
void FillFromOthers(const std::vector<runtime::TensorSpec>& specs, const models::Model& model,
                    const std::map<std::string, core::Shape>& shapes, uint64_t seed,
                    std::map<std::string, core::Tensor>& inputs, FilledInputs& filled) {
  for (const auto& spec : specs) {
    const models::InputHint& hint = model.input_hints.at(spec.name);
    if (auto made = hint.hf_default(inputs, spec.dtype)) {
      inputs.emplace(spec.name, std::move(*made));
      filled.defaulted[spec.name] = hint.hf_default_name;
      continue;
    }
    for (auto& [name, tensor] : GenerateInputs({spec}, shapes, model.input_hints, seed))
      inputs.emplace(name, std::move(tensor));
    filled.generated.push_back(spec.name);
  }
}

// Given tensors in Hugging Face's layout where the graph's differs, in the graph's.
void ToGraphLayout(const models::Model& model, std::map<std::string, core::Tensor>& given) {
  for (const auto& [name, hint] : model.input_hints)
    if (auto it = given.find(name); it != given.end() && hint.from_hf_layout)
      it->second = hint.from_hf_layout(it->second, given);
}

}  // namespace

CompletedInputs FillMissingInputs(const std::vector<runtime::TensorSpec>& inputs,
                                  const models::Model& model,
                                  std::map<std::string, core::Tensor> given, uint64_t seed) {
  CompletedInputs out;
  out.filled.seed = seed;
  ToGraphLayout(model, given);
  std::vector<runtime::TensorSpec> missing, to_generate;
  for (const auto& spec : inputs)
    if (!given.count(spec.name)) missing.push_back(spec);
  if (!missing.empty()) {
    const auto shapes =
        ResolveShapes(missing, model.dim_roles, RequestFromGiven(inputs, model.dim_roles, given));
    std::vector<runtime::TensorSpec> made_from_others;
    for (const auto& spec : missing) {
      if (const auto hint = model.input_hints.find(spec.name);
          hint != model.input_hints.end() && hint->second.hf_default) {
        made_from_others.push_back(spec);
      } else if (const auto d = DefaultToUse(spec, model)) {
        given.emplace(spec.name, MakeHfDefault(*d, spec.dtype, shapes.at(spec.name)));
        out.filled.defaulted[spec.name] = HfDefaultName(*d);
      } else {
        to_generate.push_back(spec);
        out.filled.generated.push_back(spec.name);
      }
    }
    for (auto& [name, tensor] : GenerateInputs(to_generate, shapes, model.input_hints, seed))
      given.emplace(name, std::move(tensor));
    FillFromOthers(made_from_others, model, shapes, seed, given, out.filled);
  }
  // What fixed the graph's structure (an image grid) is no graph input.
  for (const std::string& name : model.structure_inputs) given.erase(name);
  out.tensors = std::move(given);
  return out;
}

std::vector<std::string> DescribeFilledInputs(const FilledInputs& filled) {
  std::vector<std::string> lines, defaulted;
  for (const auto& [name, value] : filled.defaulted)
    defaulted.push_back(fmt::format("{} ({})", name, value));
  if (!defaulted.empty())
    lines.push_back(
        fmt::format("not given, Hugging Face's default used: {}", fmt::join(defaulted, ", ")));
  if (!filled.generated.empty())
    lines.push_back(fmt::format("not given and without a default, generated (seed {}): {}",
                                filled.seed, fmt::join(filled.generated, ", ")));
  return lines;
}

std::map<std::string, core::Tensor> CompleteInputs(const std::vector<runtime::TensorSpec>& inputs,
                                                   const models::Model& model,
                                                   std::map<std::string, core::Tensor> given,
                                                   uint64_t seed) {
  return FillMissingInputs(inputs, model, std::move(given), seed).tensors;
}

std::map<std::string, core::Tensor> GenerateInputs(
    const std::vector<runtime::TensorSpec>& inputs,
    const std::map<std::string, core::Shape>& shapes,
    const std::map<std::string, models::InputHint>& hints, uint64_t seed) {
  std::map<std::string, core::Tensor> out;
  std::mt19937_64 rng(seed);
  for (const auto& spec : inputs) {
    models::InputHint hint;
    if (auto it = hints.find(spec.name); it != hints.end()) hint = it->second;
    if (hint.kind == models::InputHint::Kind::kComputed && hint.compute) {
      core::Tensor made = hint.compute(shapes.at(spec.name), seed);
      if (made.dtype != spec.dtype || made.shape != shapes.at(spec.name))
        throw Error(
            ErrorKind::kInternal,
            fmt::format("input '{}': the model made {} {} where the graph takes {} {}", spec.name,
                        core::DTypeName(made.dtype), core::ShapeToString(made.shape),
                        core::DTypeName(spec.dtype), core::ShapeToString(shapes.at(spec.name))));
      out.emplace(spec.name, std::move(made));
      continue;
    }
    core::Tensor t = core::Tensor::Zeros(spec.dtype, shapes.at(spec.name));
    const size_t n = static_cast<size_t>(t.element_count());
    auto fill_ints = [&](auto span) {
      using T = typename decltype(span)::value_type;
      if (hint.kind == models::InputHint::Kind::kOnes) {
        std::fill(span.begin(), span.end(), T{1});
      } else if (hint.kind == models::InputHint::Kind::kIndexRange) {
        std::uniform_int_distribution<int64_t> dist(hint.low, hint.high - 1);
        for (auto& x : span) x = static_cast<T>(dist(rng));
      } else if (hint.kind == models::InputHint::Kind::kIndexRangeWithRun) {
        const int64_t row = t.shape.empty() ? 1 : t.shape.back();
        const int64_t head = (hint.first >= 0 ? 1 : 0) + hint.run_length;
        // The other ids skip run_value: drawn from one value fewer and shifted past it.
        const bool skip = hint.run_value >= hint.low && hint.run_value < hint.high;
        const int64_t choices = hint.high - hint.low - (skip ? 1 : 0);
        if (row < head)
          throw Error(ErrorKind::kInvalidArgument,
                      fmt::format("input '{}' needs at least {} positions per row for its {} "
                                  "image tokens, but has {}; use --seq-len {} or more",
                                  spec.name, head, hint.run_length, row, head));
        if (row > head && choices <= 0)
          throw Error(ErrorKind::kInvalidArgument,
                      fmt::format("input '{}' has no id in [{}, {}) besides its image token {} to "
                                  "fill the rest of a row with; use --seq-len {}",
                                  spec.name, hint.low, hint.high, hint.run_value, head));
        std::uniform_int_distribution<int64_t> dist(hint.low, hint.low + choices - 1);
        for (size_t i = 0; i < span.size(); ++i) {
          const int64_t col = static_cast<int64_t>(i) % row;
          int64_t v = hint.run_value;
          if (hint.first >= 0 && col == 0) {
            v = hint.first;
          } else if (col >= head) {
            v = dist(rng);
            if (skip && v >= hint.run_value) ++v;
          }
          span[i] = static_cast<T>(v);
        }
      }  // kAny / kZeros: zeros are inside every index range a graph can have
    };
    switch (spec.dtype) {
      case core::DType::kInt64:
        fill_ints(t.values<int64_t>());
        break;
      case core::DType::kInt32:
        fill_ints(t.values<int32_t>());
        break;
      case core::DType::kInt16:
        fill_ints(t.values<int16_t>());
        break;
      case core::DType::kInt8:
        fill_ints(t.values<int8_t>());
        break;
      case core::DType::kUInt8:
      case core::DType::kBool:
        fill_ints(t.values<uint8_t>());
        break;
      case core::DType::kFloat32: {
        std::normal_distribution<float> dist(0.0f, 1.0f);
        for (auto& x : t.values<float>()) x = dist(rng);
        break;
      }
      case core::DType::kFloat64: {
        std::normal_distribution<double> dist(0.0, 1.0);
        for (auto& x : t.values<double>()) x = dist(rng);
        break;
      }
      case core::DType::kFloat16:
      case core::DType::kBFloat16: {
        // Uniform in [-1, 1) on a coarse grid that both formats represent exactly.
        std::uniform_int_distribution<int> dist(-64, 63);
        auto v = t.values<uint16_t>();
        for (size_t i = 0; i < n; ++i) {
          const float f = static_cast<float>(dist(rng)) / 64.0f;
          uint32_t bits;
          std::memcpy(&bits, &f, 4);
          if (spec.dtype == core::DType::kBFloat16) {
            v[i] = static_cast<uint16_t>(bits >> 16);
          } else {  // exact: |f| >= 2^-6 or 0, 6 mantissa bits
            const uint32_t sign = (bits >> 16) & 0x8000;
            const int exp = static_cast<int>((bits >> 23) & 0xff) - 127 + 15;
            v[i] = f == 0.0f ? 0
                             : static_cast<uint16_t>(sign | (static_cast<uint32_t>(exp) << 10) |
                                                     ((bits >> 13) & 0x3ff));
          }
        }
        break;
      }
    }
    out.emplace(spec.name, std::move(t));
  }
  return out;
}

}  // namespace ipfs_accel::harness
