#!/usr/bin/env python3
"""Reference fixtures for architecture templates, made by Hugging Face transformers itself.

For each template (data/templates/*/*.json, not abstract) whose model_type transformers knows:
take the template's tiny config overrides (its `tiny`, resolved through `inherits`), build the
HF class the template's graph is (AutoModelForCausalLM for parameters_class "causal_lm", else
AutoModel) with seeded random weights, run it in float32 eager on CPU on seeded inputs, and
write OUT/<model_type>/ as ../shared/fixtures/hf-tiny does: config.json and model.safetensors
(save_pretrained), io.safetensors (input.* and output.* tensors), fixture.json. A fixture over
--max-kb is skipped and said so. Only text models' inputs are made here (input_ids,
attention_mask); other modalities are listed as skipped until their inputs are written.

Runs where torch and transformers 5.17 are installed (the GPU machine's /opt/torch/.venv):
  python scripts/make_template_fixtures.py --out fixtures/templates [--only llama,mistral]
Then `ipfs-accelerate verify --model-dir fixtures/templates/<type>` checks a template, and a
template whose fixture passes may name it in `reference` (exact).
"""
import argparse
import glob
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_templates():
    files = {}
    for path in glob.glob(os.path.join(ROOT, "data/templates/*/*.json")):
        data = json.load(open(path))
        if isinstance(data, dict) and "model_type" in data:
            files[data["model_type"]] = data
    return files


def resolved(files, model_type, field):
    """The field merged along inherits (objects key by key, the child winning)."""
    chain = []
    t = files.get(model_type)
    while t is not None:
        chain.append(t)
        t = files.get(t.get("inherits")) if t.get("inherits") else None
    out = {}
    for t in reversed(chain):
        value = t.get(field)
        if isinstance(value, dict):
            out.update(value)
        elif value is not None:
            out = value
    return out


def text_inputs(torch, vocab, seed):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (2, 8), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 4:] = 0  # the second row padded in its second half, as hf-tiny's are
    return {"input_ids": ids, "attention_mask": mask}


def make(files, model_type, out_dir, max_kb, seed):
    import torch
    from safetensors.torch import save_file
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

    t = files[model_type]
    if t.get("abstract"):
        return "abstract"
    if resolved(files, model_type, "modality") not in ("", "text", {}):
        return "skipped: only text inputs are made so far"
    tiny = resolved(files, model_type, "tiny")
    try:
        config = AutoConfig.for_model(model_type, **tiny)
    except (KeyError, ValueError) as e:
        return f"skipped: transformers does not know it ({e})"
    config._attn_implementation = "eager"
    causal = resolved(files, model_type, "parameters_class") == "causal_lm"
    torch.manual_seed(seed)
    model = (AutoModelForCausalLM if causal else AutoModel).from_config(config).float().eval()
    inputs = text_inputs(torch, config.vocab_size, seed)
    with torch.no_grad():
        outputs = model(**inputs, use_cache=False) if causal else model(**inputs)
    tensors = {f"input.{k}": v.contiguous() for k, v in inputs.items()}
    for name in ("logits", "last_hidden_state", "pooler_output"):
        value = getattr(outputs, name, None)
        if value is not None:
            tensors[f"output.{name}"] = value.float().contiguous()
    folder = os.path.join(out_dir, model_type)
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    save_file(tensors, os.path.join(folder, "io.safetensors"))
    json.dump({"class": type(model).__name__,
               "parameters": sum(p.numel() for p in model.parameters()),
               "tensors": {k: [list(v.shape), str(v.dtype)] for k, v in tensors.items()}},
              open(os.path.join(folder, "fixture.json"), "w"), indent=1)
    kb = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)) / 1024
    if kb > max_kb:
        return f"written but {kb:.0f} KB, over --max-kb {max_kb}: shrink its tiny config"
    return f"ok ({kb:.0f} KB)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="folder for <model_type>/ fixtures")
    parser.add_argument("--only", default="", help="comma-separated model types")
    parser.add_argument("--max-kb", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    files = load_templates()
    types = args.only.split(",") if args.only else sorted(files)
    failures = 0
    for model_type in types:
        try:
            outcome = make(files, model_type, args.out, args.max_kb, args.seed)
        except Exception as e:  # one type's failure must not stop the batch
            outcome = f"failed: {type(e).__name__}: {e}"
            failures += 1
        print(f"{model_type}: {outcome}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
