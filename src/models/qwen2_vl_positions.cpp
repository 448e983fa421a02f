#include "qwen2_vl_positions.h"

#include <algorithm>
#include <array>
#include <random>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

// Three planes (temporal, height, width) of one row's attended tokens.
using Planes = std::array<std::vector<int64_t>, 3>;

int64_t Largest(const Planes& p) {
  int64_t m = p[0].front();
  for (const auto& plane : p) m = std::max(m, *std::max_element(plane.begin(), plane.end()));
  return m;
}

void AppendText(Planes& out, int64_t start, int64_t count) {
  for (auto& plane : out)
    for (int64_t i = 0; i < count; ++i) plane.push_back(start + i);
}

void AppendVision(Planes& out, int64_t start, int64_t t, int64_t h, int64_t w) {
  for (int64_t i = 0; i < t * h * w; ++i) {
    out[0].push_back(start + i / (h * w));
    out[1].push_back(start + (i / w) % h);
    out[2].push_back(start + i % w);
  }
}

// The first index >= from holding `id`, or -1.
int64_t Find(const std::vector<int64_t>& tokens, int64_t id, int64_t from) {
  const auto it = std::find(tokens.begin() + from, tokens.end(), id);
  return it == tokens.end() ? -1 : static_cast<int64_t>(it - tokens.begin());
}

// One row's attended tokens in order; images and videos are taken from the grids from
// *image_index / *video_index on.
Planes RowPositions(const std::vector<int64_t>& tokens, const std::vector<Qwen2VlGrid>& images,
                    const std::vector<Qwen2VlGrid>& videos, const Qwen2VlTokens& ids,
                    size_t* image_index, size_t* video_index) {
  const auto n = static_cast<int64_t>(tokens.size());
  // Only a vision block that a <|vision_start|> announces counts.
  int64_t remain_images = 0, remain_videos = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (tokens[i] != ids.vision_start) continue;
    if (i + 1 >= n)
      throw Error(ErrorKind::kInvalidArgument,
                  "input_ids end with <|vision_start|>: nothing follows it for get_rope_index");
    remain_images += tokens[i + 1] == ids.image;
    remain_videos += tokens[i + 1] == ids.video;
  }
  const bool has_image = std::find(tokens.begin(), tokens.end(), ids.image) != tokens.end();
  const bool has_video = std::find(tokens.begin(), tokens.end(), ids.video) != tokens.end();
  Planes out;
  int64_t st = 0;
  auto next_start = [&] { return out[0].empty() ? 0 : Largest(out) + 1; };
  for (int64_t block = remain_images + remain_videos; block > 0; --block) {
    int64_t ed_image = n + 1, ed_video = n + 1;
    if (has_image && remain_images > 0) ed_image = Find(tokens, ids.image, st);
    if (has_video && remain_videos > 0) ed_video = Find(tokens, ids.video, st);
    if (ed_image < 0 || ed_video < 0)
      throw Error(ErrorKind::kInvalidArgument,
                  "input_ids announce more images or videos than they hold tokens for");
    const bool image = ed_image < ed_video;
    const std::vector<Qwen2VlGrid>& grids = image ? images : videos;
    size_t& index = image ? *image_index : *video_index;
    if (index >= grids.size())
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("input_ids hold more {} than the {} grids given",
                              image ? "images" : "videos", grids.size()));
    const Qwen2VlGrid g = grids[index++];
    (image ? remain_images : remain_videos) -= 1;
    const int64_t ed = image ? ed_image : ed_video;
    const int64_t gt = g.t, gh = g.h / ids.spatial_merge_size, gw = g.w / ids.spatial_merge_size;
    const int64_t text_len = ed - st;
    const int64_t start = next_start();
    AppendText(out, start, text_len);
    AppendVision(out, start + text_len, gt, gh, gw);
    st = ed + gt * gh * gw;
  }
  if (st < n) AppendText(out, next_start(), n - st);
  return out;
}

core::Tensor Zeros3(int64_t batch, int64_t seq) {
  return core::Tensor::Zeros(core::DType::kInt64, {3, batch, seq});
}

}  // namespace

int64_t Qwen2VlMergedTokens(const Qwen2VlGrid& grid, int64_t spatial_merge_size) {
  return grid.t * grid.h * grid.w / (spatial_merge_size * spatial_merge_size);
}

Qwen2VlRopeIndex ComputeQwen2VlRopeIndex(const core::Tensor& input_ids,
                                         const core::Tensor* attention_mask,
                                         const std::vector<Qwen2VlGrid>& image_grids,
                                         const std::vector<Qwen2VlGrid>& video_grids,
                                         const Qwen2VlTokens& tokens) {
  if (input_ids.shape.size() != 2 ||
      (attention_mask != nullptr && attention_mask->shape != input_ids.shape))
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("get_rope_index takes input_ids [batch, sequence] and a mask of the "
                            "same shape, not {}",
                            core::ShapeToString(input_ids.shape)));
  const int64_t batch = input_ids.shape[0], seq = input_ids.shape[1];
  const auto ids = input_ids.values<int64_t>();
  auto attended = [&](int64_t b, int64_t s) {
    return attention_mask == nullptr || attention_mask->values<int64_t>()[b * seq + s] == 1;
  };
  Qwen2VlRopeIndex r{Zeros3(batch, seq), core::Tensor::Zeros(core::DType::kInt64, {batch, 1})};
  auto pos = r.position_ids.values<int64_t>();
  auto deltas = r.deltas.values<int64_t>();
  if (image_grids.empty() && video_grids.empty()) {
    // HF's text-only branch: the mask's running count, padding at 1.
    for (int64_t b = 0; b < batch; ++b) {
      int64_t count = 0, largest = 0;
      for (int64_t s = 0; s < seq; ++s) {
        int64_t p = s;
        if (attention_mask != nullptr) p = attended(b, s) ? count++ : 1;
        largest = std::max(largest, p);
        for (int plane = 0; plane < 3; ++plane) pos[(plane * batch + b) * seq + s] = p;
      }
      deltas[b] = attention_mask == nullptr ? 0 : largest + 1 - seq;
    }
    return r;
  }
  std::fill(pos.begin(), pos.end(), 1);  // padding keeps HF's initial ones
  size_t image_index = 0, video_index = 0;
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<int64_t> row;
    for (int64_t s = 0; s < seq; ++s)
      if (attended(b, s)) row.push_back(ids[b * seq + s]);
    if (row.empty())
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("row {} of the attention mask attends to no token", b));
    const Planes p =
        RowPositions(row, image_grids, video_grids, tokens, &image_index, &video_index);
    if (p[0].size() != row.size())
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("row {}: its image or video tokens do not fill their grids ({} "
                              "positions for {} tokens)",
                              b, p[0].size(), row.size()));
    size_t k = 0;
    for (int64_t s = 0; s < seq; ++s) {
      if (!attended(b, s)) continue;
      for (int plane = 0; plane < 3; ++plane) pos[(plane * batch + b) * seq + s] = p[plane][k];
      ++k;
    }
    deltas[b] = Largest(p) + 1 - seq;
  }
  return r;
}

core::Tensor Qwen2VlCachedPositions(const core::Tensor& deltas, int64_t past_length,
                                    int64_t sequence) {
  const int64_t batch = deltas.shape.empty() ? 0 : deltas.shape[0];
  core::Tensor out = Zeros3(batch, sequence);
  auto pos = out.values<int64_t>();
  const auto d = deltas.values<int64_t>();
  for (int plane = 0; plane < 3; ++plane)
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t s = 0; s < sequence; ++s)
        pos[(plane * batch + b) * sequence + s] = past_length + s + d[b];
  return out;
}

namespace {

// Where the vision block starts in a row of `seq` tokens; throws when it does not fit.
int64_t BlockStart(const Qwen2VlPrompt& p, int64_t seq) {
  const int64_t block = Qwen2VlMergedTokens(p.grid, p.tokens.spatial_merge_size) + 2;
  if (seq < block)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("a sequence of {} tokens cannot hold the image's {} tokens with "
                            "<|vision_start|> and <|vision_end|>; use --seq-len {} or more",
                            seq, block - 2, block));
  return (seq - block) / 2;
}

}  // namespace

core::Tensor Qwen2VlPromptIds(const Qwen2VlPrompt& p, const core::Shape& shape, uint64_t seed) {
  if (shape.size() != 2 || p.text_high <= 0)
    throw Error(ErrorKind::kInternal, "Qwen2VlPromptIds takes [batch, sequence] and text ids");
  const int64_t batch = shape[0], seq = shape[1];
  const int64_t start = BlockStart(p, seq);
  const int64_t image_tokens = Qwen2VlMergedTokens(p.grid, p.tokens.spatial_merge_size);
  core::Tensor t = core::Tensor::Zeros(core::DType::kInt64, shape);
  auto ids = t.values<int64_t>();
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> text(0, p.text_high - 1);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t s = 0; s < seq; ++s) {
      int64_t id = text(rng);
      if (s == start) id = p.tokens.vision_start;
      if (s > start && s <= start + image_tokens) id = p.tokens.image;
      if (s == start + image_tokens + 1) id = p.tokens.vision_end;
      ids[b * seq + s] = id;
    }
  }
  return t;
}

core::Tensor Qwen2VlPromptPositions(const Qwen2VlPrompt& p, const core::Shape& shape) {
  if (shape.size() != 3 || shape[0] != 3)
    throw Error(ErrorKind::kInternal, "Qwen2VlPromptPositions takes [3, batch, sequence]");
  // Positions depend on where the block is, not on the text ids around it.
  Qwen2VlPrompt layout = p;
  layout.text_high = 1;
  const core::Tensor ids = Qwen2VlPromptIds(layout, {shape[1], shape[2]}, 0);
  return ComputeQwen2VlRopeIndex(ids, nullptr,
                                 std::vector<Qwen2VlGrid>(static_cast<size_t>(shape[1]), p.grid),
                                 {}, p.tokens)
      .position_ids;
}

}  // namespace ipfs_accel::models
