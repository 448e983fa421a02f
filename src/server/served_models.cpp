// ServedModels (inference.h): the registry plus each model's tokenizer.json.

#include <filesystem>

#include "ipfs_accel/server/inference.h"

namespace ipfs_accel::server {

namespace {

namespace fs = std::filesystem;

// The path part of a spec: "folder:encoder" names the folder's encoder.
fs::path SpecPath(const std::string& spec) {
  std::error_code ec;
  if (fs::exists(spec, ec)) return spec;
  const size_t colon = spec.rfind(':');
  if (colon != std::string::npos && fs::exists(spec.substr(0, colon), ec))
    return spec.substr(0, colon);
  return {};
}

// The tokenizer.json a model's files come with, if any.
std::optional<fs::path> TokenizerFile(const std::string& spec) {
  const fs::path path = SpecPath(spec);
  if (path.empty()) return std::nullopt;
  std::error_code ec;
  const fs::path file = (fs::is_directory(path, ec) ? path : path.parent_path()) / "tokenizer.json";
  if (!fs::is_regular_file(file, ec)) return std::nullopt;
  return file;
}

}  // namespace

std::string DefaultModelName(const std::string& spec) {
  const fs::path path = SpecPath(spec);
  if (path.empty()) return spec;
  fs::path p = fs::path(spec).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();  // "folder/"
  return p.extension() == ".onnx" ? p.stem().string() : p.filename().string();
}

serving::ModelSource ServedModels::Add(serving::ModelSource source) {
  if (source.name.empty()) source.name = DefaultModelName(source.spec);
  std::shared_ptr<const serving::Tokenizer> tokenizer;
  if (const auto file = TokenizerFile(source.spec))
    tokenizer =
        std::make_shared<const serving::Tokenizer>(serving::Tokenizer::FromFile(file->string()));
  serving::ModelSource added = registry_.Register(std::move(source));
  std::lock_guard lock(mutex_);
  tokenizers_[added.name] = std::move(tokenizer);
  return added;
}

std::shared_ptr<const serving::Tokenizer> ServedModels::TokenizerOf(const std::string& name) const {
  std::lock_guard lock(mutex_);
  const auto it = tokenizers_.find(name);
  return it == tokenizers_.end() ? nullptr : it->second;
}

}  // namespace ipfs_accel::server
