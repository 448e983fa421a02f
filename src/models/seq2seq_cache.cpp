#include "seq2seq_cache.h"

#include <fmt/format.h>

namespace ipfs_accel::models {

namespace {
std::string CacheName(const char* prefix, int64_t layer, CacheKind kind, CachePart part) {
  return fmt::format("{}.{}.{}.{}", prefix, layer, kind == CacheKind::kSelf ? "decoder" : "encoder",
                     part == CachePart::kKey ? "key" : "value");
}
}  // namespace

std::string PastKeyValuesName(int64_t layer, CacheKind kind, CachePart part) {
  return CacheName("past_key_values", layer, kind, part);
}

std::string PresentName(int64_t layer, CacheKind kind, CachePart part) {
  return CacheName("present", layer, kind, part);
}

void DeclarePastInputs(GraphBuilder& g, int64_t layers, int64_t heads, int64_t head_dim) {
  for (int64_t i = 0; i < layers; ++i)
    for (const CacheKind kind : {CacheKind::kSelf, CacheKind::kCross})
      for (const CachePart part : {CachePart::kKey, CachePart::kValue})
        g.Input(PastKeyValuesName(i, kind, part), onnx::TensorProto::FLOAT,
                {std::string("batch"), heads,
                 std::string(kind == CacheKind::kSelf ? "past_sequence" : "encoder_sequence"),
                 head_dim});
}

void DeclarePresentOutputs(GraphBuilder& g, int64_t layers, CacheKind kind, int64_t heads,
                           int64_t head_dim, const std::string& length) {
  for (int64_t i = 0; i < layers; ++i)
    for (const CachePart part : {CachePart::kKey, CachePart::kValue})
      g.Output(PresentName(i, kind, part), onnx::TensorProto::FLOAT,
               {std::string("batch"), heads, length, head_dim});
}

}  // namespace ipfs_accel::models
