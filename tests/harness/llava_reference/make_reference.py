"""Makes the LLaVA / LLaVA-NeXT reference data in this folder with Hugging Face transformers
(5.17, float32, CPU): tiny models with seeded random weights saved by save_pretrained, the inputs
fed and the logits returned (io.safetensors), and HF's any-resolution arithmetic for many image
sizes (anyres.json). Run: OUT=<dir> python3 make_reference.py; it writes OUT/llava_reference.tar.
graph_image_size in each llava_next config.json is ipfs-accelerate's key (the image size the
graph is built for); HF ignores it and takes image_sizes at run time instead."""

import json
import os
import random
import tarfile
import traceback

import torch
from safetensors.torch import save_file
from transformers import (LlavaConfig, LlavaForConditionalGeneration, LlavaNextConfig,
                          LlavaNextForConditionalGeneration)
from transformers.image_processing_utils import select_best_resolution
from transformers.models.llava_next.modeling_llava_next import (get_anyres_image_grid_shape,
                                                                image_size_to_num_patches,
                                                                unpad_image)

OUT = os.environ["OUT"]
ROOT = os.path.join(OUT, "llava_reference")
os.makedirs(ROOT, exist_ok=True)


def image_token_counts(model, pixel_values, image_sizes):
    with torch.no_grad():
        kwargs = {"pixel_values": pixel_values}
        if image_sizes is not None:
            kwargs["image_sizes"] = image_sizes
        feats = model.model.get_image_features(**kwargs)
    if hasattr(feats, "pooler_output") and feats.pooler_output is not None:
        feats = feats.pooler_output
    if isinstance(feats, (list, tuple)):
        return [int(f.shape[0]) for f in feats]
    if feats.dim() == 3:
        return [int(feats.shape[1])] * int(feats.shape[0])
    if feats.dim() == 2:
        images = int(pixel_values.shape[0])
        return [int(feats.shape[0]) // images] * images
    raise RuntimeError(f"unexpected image features {type(feats)} {getattr(feats, 'shape', None)}")


def make(name, cls, config, pixel_shape, image_sizes, image_token, bos, graph_image_size=None):
    torch.manual_seed(0)
    model = cls(config).eval()
    with torch.no_grad():  # no parameter left at exactly 0 or 1
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    folder = os.path.join(ROOT, name)
    model.save_pretrained(folder)
    if graph_image_size is not None:
        with open(os.path.join(folder, "config.json")) as f:
            cfg = json.load(f)
        cfg["graph_image_size"] = graph_image_size
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
    pixel_values = torch.randn(pixel_shape)
    sizes = None if image_sizes is None else torch.tensor(image_sizes)
    counts = image_token_counts(model, pixel_values, sizes)
    rows = []
    for i, n in enumerate(counts):
        rows.append([bos] + [image_token] * n + [5 + i, 6, 7, 8])
    ids = torch.tensor(rows, dtype=torch.long)
    mask = torch.ones_like(ids)
    kwargs = {"input_ids": ids, "attention_mask": mask, "pixel_values": pixel_values}
    if sizes is not None:
        kwargs["image_sizes"] = sizes
    with torch.no_grad():
        logits = model(**kwargs).logits
    save_file({"input.input_ids": ids, "input.attention_mask": mask,
               "input.pixel_values": pixel_values.contiguous(),
               "output.logits": logits.contiguous()}, os.path.join(folder, "io.safetensors"))
    params = sum(p.numel() for p in model.parameters())
    with open(os.path.join(folder, "fixture.json"), "w") as f:
        json.dump({"class": cls.__name__, "params": params, "image_tokens": counts}, f)
    print(name, "image tokens", counts, "params", params, "logits", tuple(logits.shape))


CLIP = {"model_type": "clip_vision_model", "hidden_size": 32, "num_hidden_layers": 2,
        "num_attention_heads": 2, "intermediate_size": 64, "image_size": 16, "patch_size": 4}
SIGLIP = {"model_type": "siglip_vision_model", "hidden_size": 32, "num_hidden_layers": 3,
          "num_attention_heads": 2, "intermediate_size": 64, "image_size": 16, "patch_size": 4}
LLAMA = {"model_type": "llama", "hidden_size": 48, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 64,
         "vocab_size": 100, "bos_token_id": 1, "tie_word_embeddings": False}
QWEN2 = {"model_type": "qwen2", "hidden_size": 48, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 64,
         "vocab_size": 100, "bos_token_id": 1, "tie_word_embeddings": True}

cases = [
    # CLIP tower, "default", tiles 2x2 of a 30x40 image (rows unpadded), two images.
    ("next_clip", LlavaNextForConditionalGeneration,
     lambda: LlavaNextConfig(vision_config=dict(CLIP), text_config=dict(LLAMA),
                             image_token_index=99,
                             image_grid_pinpoints=[[16, 32], [32, 16], [32, 32]],
                             vision_feature_layer=-2, vision_feature_select_strategy="default"),
     (2, 5, 3, 16, 16), [[30, 40], [30, 40]], 99, 1, [30, 40]),
    # SigLIP tower, "full", two feature layers, no projector bias, a tall image (columns unpadded),
    # 3x1 tiles, Qwen2 with a tied head.
    ("next_siglip", LlavaNextForConditionalGeneration,
     lambda: LlavaNextConfig(vision_config=dict(SIGLIP, vision_use_head=False),
                             text_config=dict(QWEN2), image_token_index=98,
                             image_grid_pinpoints=[[16, 32], [48, 16], [32, 32], [16, 16]],
                             vision_feature_layer=[-1, -3], vision_feature_select_strategy="full",
                             multimodal_projector_bias=False,
                             projector_hidden_act="gelu_pytorch_tanh"),
     (1, 4, 3, 16, 16), [[47, 10]], 98, 1, [47, 10]),
    # LLaVA with a SigLIP tower (its unused head built), "full", two layers, two images.
    ("llava_siglip", LlavaForConditionalGeneration,
     lambda: LlavaConfig(vision_config=dict(SIGLIP), text_config=dict(QWEN2),
                         image_token_index=97, vision_feature_layer=[-2, 0],
                         vision_feature_select_strategy="full"),
     (2, 3, 16, 16), None, 97, 1, None),
]
for name, cls, config, shape, sizes, token, bos, graph_size in cases:
    try:
        make(name, cls, config(), shape, sizes, token, bos, graph_size)
    except Exception:
        traceback.print_exc()

# HF's any-resolution arithmetic for LLaVA-v1.6's pinpoints, 336-pixel tiles of 24x24 features.
pins = [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]]
random.seed(0)
sizes = [(h, w) for h in (100, 224, 336, 480, 672, 1000, 1080) for w in (100, 300, 640, 1920)]
sizes += [(110, 352), (328, 205), (352, 748), (376, 799)]
sizes += [(random.randint(20, 2500), random.randint(20, 2500)) for _ in range(400)]
table = []
for h, w in sizes:
    best = select_best_resolution((h, w), pins)
    grid = get_anyres_image_grid_shape((h, w), pins, 336)
    patches = image_size_to_num_patches((h, w), pins, 336)
    unpadded = unpad_image(torch.zeros(1, grid[0] * 24, grid[1] * 24), (h, w)).shape
    table.append({"size": [h, w], "best": list(best), "grid": list(grid), "num_patches": patches,
                  "rows": int(unpadded[1]), "cols": int(unpadded[2])})
with open(os.path.join(ROOT, "anyres.json"), "w") as f:
    json.dump(table, f)
print("anyres entries", len(table))

with tarfile.open(os.path.join(OUT, "llava_reference.tar"), "w") as tar:
    tar.add(ROOT, arcname="llava_reference")
print("done")
