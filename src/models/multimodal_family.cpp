// Multimodal architectures.

#include "architectures.h"
#include "audio_llm_builder.h"
#include "llava_builder.h"
#include "qwen2_vl_builder.h"

namespace ipfs_accel::models {

void AddMultimodalArchitectures(std::vector<Architecture>& out) {
  AddAudioLlmArchitectures(out);
  AddLlavaArchitectures(out);
  AddQwen2VlArchitectures(out);
}

}  // namespace ipfs_accel::models
