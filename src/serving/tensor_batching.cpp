#include "tensor_batching.h"

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::serving::detail {

using core::Error;
using core::ErrorKind;

int64_t RowsOf(const TensorMap& inputs) {
  if (inputs.empty()) throw Error(ErrorKind::kInvalidArgument, "the request has no inputs");
  int64_t rows = -1;
  std::string first;
  for (const auto& [name, t] : inputs) {
    if (t.shape.empty())
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("input '{}' is a scalar; batched inputs need a batch axis", name));
    if (rows >= 0 && t.shape[0] != rows)
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("inputs '{}' and '{}' disagree on the batch size ({} and {} rows)",
                              first, name, rows, t.shape[0]));
    if (rows < 0) first = name;
    rows = t.shape[0];
  }
  return rows;
}

std::string BatchKey(const TensorMap& inputs) {
  std::string key;
  for (const auto& [name, t] : inputs) {
    const core::Shape rest(t.shape.begin() + (t.shape.empty() ? 0 : 1), t.shape.end());
    key += fmt::format("{}:{}:{};", name, core::DTypeName(t.dtype), core::ShapeToString(rest));
  }
  return key;
}

TensorMap ConcatRows(const std::vector<const TensorMap*>& parts) {
  if (parts.empty()) throw Error(ErrorKind::kInternal, "ConcatRows of no parts");
  TensorMap out;
  for (const auto& [name, first] : *parts.front()) {
    core::Tensor& t = out[name];
    t.dtype = first.dtype;
    t.shape = first.shape;
    t.shape[0] = 0;
    for (const TensorMap* part : parts) {
      const core::Tensor& p = part->at(name);
      t.shape[0] += p.shape[0];
      t.bytes.insert(t.bytes.end(), p.bytes.begin(), p.bytes.end());
    }
  }
  return out;
}

std::vector<TensorMap> SplitRows(const TensorMap& whole, const std::vector<int64_t>& rows) {
  int64_t total = 0;
  for (int64_t r : rows) total += r;
  std::vector<TensorMap> out(rows.size());
  for (const auto& [name, t] : whole) {
    if (t.shape.empty() || t.shape[0] != total)
      throw Error(ErrorKind::kRuntime,
                  fmt::format("output '{}' has shape {}, not {} rows along axis 0 as the batch "
                              "had: this model's outputs cannot be split per request; serve it "
                              "with a maximum batch of 1",
                              name, core::ShapeToString(t.shape), total));
    const size_t row_bytes = total == 0 ? 0 : t.bytes.size() / static_cast<size_t>(total);
    size_t offset = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
      core::Tensor& piece = out[i][name];
      piece.dtype = t.dtype;
      piece.shape = t.shape;
      piece.shape[0] = rows[i];
      const size_t n = row_bytes * static_cast<size_t>(rows[i]);
      piece.bytes.assign(t.bytes.begin() + offset, t.bytes.begin() + offset + n);
      offset += n;
    }
  }
  return out;
}

}  // namespace ipfs_accel::serving::detail
