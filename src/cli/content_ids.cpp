#include "cli/content_ids.h"

#include "ipfs_accel/content/cid.h"
#include "ipfs_accel/content/unixfs.h"
#include "ipfs_accel/core/mapped_file.h"

namespace ipfs_accel::cli {

std::optional<std::string> ModelContentCid(const models::ModelInfo& info) {
  if (info.source_path.empty()) return std::nullopt;
  return PathContentCid(info.source_path);
}

std::string PathContentCid(const std::string& path) {
  return content::ImportPath(path, {.cid_version = 1}).root.cid.ToString();
}

std::string GraphCid(const models::Model& model) {
  if (!model.onnx_bytes.empty() || model.onnx_path.empty())
    return content::Cid::Of(1, content::kRaw, model.onnx_bytes).ToString();
  const core::MappedFile file(model.onnx_path);
  return content::Cid::Of(1, content::kRaw, file.text()).ToString();
}

}  // namespace ipfs_accel::cli
