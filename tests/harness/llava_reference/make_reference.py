"""How the reference data in this folder was made: Hugging Face transformers 5.17.0 and torch 2.11
on CPU, float32 (run once on a machine that has them; the output is committed). Each folder holds
a tiny model's config.json and model.safetensors as save_pretrained wrote them (random init plus
N(0, 0.05) on every parameter, unseeded) and io.safetensors with the inputs fed and the logits
returned. Afterwards "graph_image_size" (ipfs-accelerate's key, ignored by HF) was added to the
llava_next configs: the image_sizes passed here, which the graph is built for.
Run: OUT=<dir> python3 make_reference.py"""

import os
import tarfile

import torch as T
from safetensors.torch import save_file as S
from transformers import LlavaConfig as LC
from transformers import LlavaForConditionalGeneration as LM
from transformers import LlavaNextConfig as NC
from transformers import LlavaNextForConditionalGeneration as NM

R = "/tmp/r"


def mk(n, c, cfg, ps, sz, t, k):
    """Model `n` of class `c`; pixel_values of shape `ps`, image_sizes `sz`; rows of
    [BOS, k image tokens `t`, 4 text tokens]."""
    m = c(cfg).eval()
    d = R + "/" + n
    with T.no_grad():
        for p in m.parameters():
            p.add_(T.randn_like(p) * 0.05)
        m.save_pretrained(d)
        pv = T.randn(ps)
        kw = dict(pixel_values=pv)
        if sz:
            kw["image_sizes"] = T.tensor(sz)
        i = T.tensor([[1] + [t] * k + [5 + j, 6, 7, 8] for j in range(ps[0])])
        a = T.ones_like(i)
        lo = m(input_ids=i, attention_mask=a, **kw).logits
    S({"input.input_ids": i, "input.attention_mask": a, "input.pixel_values": pv,
       "output.logits": lo}, d + "/io.safetensors")
    print(n, sum(p.numel() for p in m.parameters()))


V = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
         image_size=16, patch_size=4)
C = dict(V, model_type="clip_vision_model")
G = dict(V, model_type="siglip_vision_model", num_hidden_layers=3)
X = dict(hidden_size=48, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
         intermediate_size=64, vocab_size=100)
L = dict(X, model_type="llama")
Q = dict(X, model_type="qwen2", tie_word_embeddings=True)
for a in [
    # CLIP tower, "default", a 30x40 image in 2x2 tiles (rows unpadded), two images: 70 tokens each.
    ("next_clip", NM,
     lambda: NC(vision_config=C, text_config=L, image_token_index=99,
                image_grid_pinpoints=[[16, 32], [32, 16], [32, 32]]),
     (2, 5, 3, 16, 16), [[30, 40]] * 2, 99, 70),
    # SigLIP tower, "full", two feature layers, no projector bias, tanh GELU, a 47x10 image in 3x1
    # tiles (columns unpadded): 52 tokens; Qwen2 whose own config ties (LlavaNextConfig does not).
    ("next_siglip", NM,
     lambda: NC(vision_config=dict(G, vision_use_head=False), text_config=Q,
                image_token_index=98, image_grid_pinpoints=[[16, 32], [48, 16], [32, 32], [16, 16]],
                vision_feature_layer=[-1, -3], vision_feature_select_strategy="full",
                multimodal_projector_bias=False, projector_hidden_act="gelu_pytorch_tanh"),
     (1, 4, 3, 16, 16), [[47, 10]], 98, 52),
    # LLaVA with a SigLIP tower (its unused head built), "full", layers [-2, 0], two images, and a
    # tied Qwen2 (LlavaConfig takes text_config's tying).
    ("llava_siglip", LM,
     lambda: LC(vision_config=G, text_config=Q, image_token_index=97, vision_feature_layer=[-2, 0],
                vision_feature_select_strategy="full"),
     (2, 3, 16, 16), None, 97, 16),
]:
    try:
        mk(a[0], a[1], a[2](), *a[3:])
    except Exception as e:
        print(a[0], e)
with tarfile.open(os.environ["OUT"] + "/r.tar", "w") as z:
    z.add(R, "r")
