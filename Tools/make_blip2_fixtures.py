#!/usr/bin/env python3
"""Builds the BLIP-2 parity fixtures under Tests/BLIP2Tests/Fixtures from Hugging Face `transformers`.

Each fixture is a small random BLIP-2 model, built with a fixed seed, saved as a Hugging Face model folder
(config.json + model.safetensors) next to the inputs and the reference outputs (and gradients) that
`transformers` computes for it. CI never runs this script; it needs

    pip install torch==2.13.0 transformers safetensors numpy

(see Docs/Checkpoints.md). Run from the repository root:

    python Tools/make_blip2_fixtures.py            # writes every fixture and the README
    python Tools/make_blip2_fixtures.py --check    # regenerates in a temp dir and compares with the committed ones
    python Tools/make_blip2_fixtures.py --compare-graphc FIXTURE_DIR GRAPHC_OUTPUTS.safetensors
                                                   # loads a file written by graphc and compares it with the fixture

The comparison semantics (what the Swift parity tests check) are written into the generated README.md.
"""

import argparse
import copy
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import (
    Blip2Config,
    Blip2ForConditionalGeneration,
    Blip2ForImageTextRetrieval,
    Blip2Model,
    Blip2QFormerConfig,
    Blip2VisionConfig,
    OPTConfig,
    T5Config,
)

FORWARD_TOLERANCE = 1e-4
GRADIENT_TOLERANCE = 1e-3
# Gradients are compared relative to the tensor's largest entry, but never tighter than this absolute floor
# (times GRADIENT_TOLERANCE): the key biases of every attention get an exactly-zero gradient (softmax ignores a
# per-row shift), so both sides hold only rounding noise there (on the fixtures at most 1.2e-8 in transformers
# and 1.0e-8 in graphc).
GRADIENT_FLOOR = 1e-4

# Every fixture differs from the others in as many configuration fields as possible: widths of the three
# towers, depths, heads (and head widths that are not powers of two), FFN sizes, image and patch sizes,
# number of queries, cross-attention frequency 1, 2 and 3, layer-norm epsilons, padding side, batch size.
FIXTURES = [
    {
        "name": "opt-a",
        "model": "conditional-generation",
        "seed": 1001,
        "vision": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                       image_size=32, patch_size=8),
        "qformer": dict(hidden_size=24, intermediate_size=40, num_hidden_layers=3, num_attention_heads=4,
                        cross_attention_frequency=2),
        "text": ("opt", dict(hidden_size=40, ffn_dim=72, num_hidden_layers=2, num_attention_heads=5,
                             vocab_size=96, max_position_embeddings=64, word_embed_proj_dim=40,
                             pad_token_id=1, bos_token_id=2, eos_token_id=50)),
        "num_query_tokens": 6,
        "image_token_index": 95,
        "batch": 2,
        "text_lengths": [7, 5],  # real tokens per row incl. BOS; rows are right-padded to the longest
        "padding_side": "right",
        "prompt_lengths": [0, 2],  # label positions masked with -100 after the image tokens (BOS + prompt)
    },
    {
        "name": "opt-b",
        "model": "conditional-generation",
        "seed": 1002,
        "vision": dict(hidden_size=24, intermediate_size=40, num_hidden_layers=3, num_attention_heads=3,
                       image_size=30, patch_size=10, layer_norm_eps=1e-5),
        "qformer": dict(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=2,
                        cross_attention_frequency=1),
        "text": ("opt", dict(hidden_size=16, ffn_dim=20, num_hidden_layers=3, num_attention_heads=2,
                             vocab_size=70, max_position_embeddings=40, word_embed_proj_dim=16,
                             pad_token_id=1, bos_token_id=2, eos_token_id=7)),
        "num_query_tokens": 3,
        "image_token_index": 66,
        "batch": 3,
        "text_lengths": [5, 3, 4],
        # Right padding, as in training: with left padding HF predicts the first text label from a padded
        # position (an artefact no training setup relies on), and graphc's key-length masks need right padding.
        "padding_side": "right",
        "prompt_lengths": [1, 0, 2],
        # Saved as shards with model.safetensors.index.json, like the released checkpoints.
        "max_shard_size": "100KB",
    },
    {
        "name": "t5",
        "model": "conditional-generation",
        "seed": 1003,
        "vision": dict(hidden_size=20, intermediate_size=28, num_hidden_layers=2, num_attention_heads=5,
                       image_size=24, patch_size=12),
        "qformer": dict(hidden_size=16, intermediate_size=24, num_hidden_layers=4, num_attention_heads=2,
                        cross_attention_frequency=3),
        # FlanT5 as BLIP-2 uses it: gated FFN with exact GELU (dense_act_fn "gelu", not T5's gelu_new),
        # untied lm_head, no output rescaling; heads * d_kv (20) differs from d_model (24) on purpose.
        "text": ("t5", dict(d_model=24, d_kv=5, num_heads=4, d_ff=36, num_layers=2, num_decoder_layers=3,
                            relative_attention_num_buckets=8, relative_attention_max_distance=20,
                            vocab_size=60, feed_forward_proj="gated-gelu", dense_act_fn="gelu",
                            tie_word_embeddings=False, pad_token_id=0, eos_token_id=1, bos_token_id=1,
                            decoder_start_token_id=0, layer_norm_epsilon=1e-6)),
        "num_query_tokens": 5,
        "image_token_index": 58,
        "batch": 2,
        "text_lengths": [6, 4],  # encoder prompt tokens incl. the trailing </s>
        "label_lengths": [5, 3],  # decoder targets incl. </s>; padded with -100
        "padding_side": "right",
    },
    {
        "name": "retrieval",
        "model": "retrieval",
        "seed": 1004,
        "vision": dict(hidden_size=28, intermediate_size=44, num_hidden_layers=2, num_attention_heads=4,
                       image_size=28, patch_size=7),
        "qformer": dict(hidden_size=20, intermediate_size=36, num_hidden_layers=3, num_attention_heads=4,
                        cross_attention_frequency=2, use_qformer_text_input=True, vocab_size=40,
                        max_position_embeddings=24, pad_token_id=0),
        "text": ("opt", dict(hidden_size=16, ffn_dim=16, num_hidden_layers=1, num_attention_heads=2,
                             vocab_size=32, max_position_embeddings=16, word_embed_proj_dim=16)),
        "num_query_tokens": 4,
        "image_text_hidden_size": 12,
        "image_token_index": 39,
        "batch": 3,
        "text_lengths": [6, 4, 5],  # [CLS]-like first token, ..., [SEP]-like last token; right-padded with 0
        "padding_side": "right",
    },
    {
        # A retrieval checkpoint from before image placeholders: no image_token_index, so input_ids are text
        # only; HF's ITM pass then prepends the query part of the mask itself.
        "name": "retrieval-legacy",
        "model": "retrieval",
        "seed": 1005,
        "vision": dict(hidden_size=16, intermediate_size=24, num_hidden_layers=1, num_attention_heads=2,
                       image_size=16, patch_size=4),
        "qformer": dict(hidden_size=12, intermediate_size=20, num_hidden_layers=2, num_attention_heads=3,
                        cross_attention_frequency=1, use_qformer_text_input=True, vocab_size=30,
                        max_position_embeddings=10, pad_token_id=0),
        "text": ("opt", dict(hidden_size=16, ffn_dim=16, num_hidden_layers=1, num_attention_heads=2,
                             vocab_size=32, max_position_embeddings=16, word_embed_proj_dim=16)),
        "num_query_tokens": 2,
        "image_text_hidden_size": 8,
        "image_token_index": None,
        "batch": 2,
        "text_lengths": [5, 3],
        "padding_side": "right",
    },
]

OPT_PAD, OPT_BOS = 1, 2
T5_PAD, T5_EOS = 0, 1
QFORMER_PAD, QFORMER_CLS, QFORMER_SEP = 0, 1, 2


def build_config(spec):
    vision = Blip2VisionConfig(**spec["vision"]).to_dict()
    qformer = Blip2QFormerConfig(**spec["qformer"]).to_dict()
    kind, text_kwargs = spec["text"]
    text = (OPTConfig if kind == "opt" else T5Config)(**text_kwargs).to_dict()
    extra = {}
    if "image_text_hidden_size" in spec:
        extra["image_text_hidden_size"] = spec["image_text_hidden_size"]
    return Blip2Config(
        vision_config=vision,
        qformer_config=qformer,
        text_config=text,
        num_query_tokens=spec["num_query_tokens"],
        image_token_index=spec["image_token_index"],
        **extra,
    )


def reinitialize(model, generator):
    """Replaces every parameter by seeded random values of a useful scale.

    HF's own init is useless for parity: the vision tower uses std 1e-10, `query_tokens` start at zero and
    biases at zero, so many code paths would be multiplied by ~0 and a wrong implementation could still match.
    """
    for name, param in model.named_parameters():
        shape = tuple(param.shape)
        leaf = name.rsplit(".", 1)[-1]
        with torch.no_grad():
            if "layer_norm" in name.lower() or "layernorm" in name.lower():
                if leaf == "weight":
                    values = 1.0 + 0.2 * torch.randn(shape, generator=generator)
                else:
                    values = 0.2 * torch.randn(shape, generator=generator)
            elif "embed_tokens" in name:
                # Tied with the LM head: keep logits O(1) so the loss is not dominated by saturated softmaxes.
                values = 2.0 * torch.randn(shape, generator=generator) / np.sqrt(shape[1])
            elif leaf == "bias":
                values = 0.2 * torch.randn(shape, generator=generator)
            elif any(k in name for k in ("embed", "query_tokens", "shared", "relative_attention_bias",
                                         "class_embedding", "position_embedding")) and "patch" not in name:
                values = 0.7 * torch.randn(shape, generator=generator)
            else:
                fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
                values = torch.randn(shape, generator=generator) / np.sqrt(fan_in)
            param.copy_(values)


def untie_lm_head(model, generator):
    """FlanT5 inside BLIP-2 has a separate lm_head; transformers 5.x builds T5 tied, so give it its own tensor."""
    lm = model.language_model
    hidden = lm.config.d_model
    weight = torch.randn(tuple(lm.lm_head.weight.shape), generator=generator) / np.sqrt(hidden)
    lm.lm_head.weight = torch.nn.Parameter(weight)


def make_inputs(spec, config, generator):
    batch = spec["batch"]
    q = spec["num_query_tokens"]
    image = config.vision_config.image_size
    pixel_values = torch.randn((batch, 3, image, image), generator=generator)
    kind = spec["text"][0] if spec["model"] == "conditional-generation" else "qformer"
    lengths = spec["text_lengths"]
    width = max(lengths)
    image_id = spec["image_token_index"]
    if kind == "qformer":
        vocab, pad = config.qformer_config.vocab_size, QFORMER_PAD
    else:
        vocab, pad = config.text_config.vocab_size, (OPT_PAD if kind == "opt" else T5_PAD)
    ids = torch.full((batch, width), pad, dtype=torch.long)
    mask = torch.zeros((batch, width), dtype=torch.long)
    for row, length in enumerate(lengths):
        # Ordinary tokens avoid the special ids (0..2) and the image placeholder.
        tokens = torch.randint(3, vocab, (length,), generator=generator)
        if image_id is not None:
            tokens[tokens == image_id] = 3
        if kind == "opt":
            tokens[0] = OPT_BOS
        elif kind == "t5":
            tokens[-1] = T5_EOS
        else:
            tokens[0], tokens[-1] = QFORMER_CLS, QFORMER_SEP
        start = 0 if spec["padding_side"] == "right" else width - length
        ids[row, start:start + length] = tokens
        mask[row, start:start + length] = 1
    # Processor layout (HF >= Nov 2024): num_query_tokens image placeholders before the (padded) text,
    # with attention-mask ones; the model scatters the projected query outputs into those positions.
    if image_id is not None:
        ids = torch.cat([torch.full((batch, q), image_id, dtype=torch.long), ids], dim=1)
        mask = torch.cat([torch.ones((batch, q), dtype=torch.long), mask], dim=1)
    inputs = {"pixel_values": pixel_values, "input_ids": ids, "attention_mask": mask}
    if kind == "opt":
        labels = ids.clone()
        labels[mask == 0] = -100
        labels[:, :q] = -100
        for row, prompt in enumerate(spec["prompt_lengths"]):
            first = int(torch.nonzero(mask[row, q:])[0]) + q
            labels[row, first:first + prompt] = -100
        inputs["labels"] = labels
    elif kind == "t5":
        label_lengths = spec["label_lengths"]
        labels = torch.full((batch, max(label_lengths)), -100, dtype=torch.long)
        for row, length in enumerate(label_lengths):
            tokens = torch.randint(3, vocab, (length,), generator=generator)
            tokens[tokens == image_id] = 3
            tokens[-1] = T5_EOS
            labels[row, :length] = tokens
        inputs["labels"] = labels
    return inputs


def stage2_trainable(name):
    return (name.startswith("qformer.") or name == "query_tokens"
            or name.startswith("vision_model.post_layernorm.") or name.startswith("language_projection."))


class Recorder:
    """Forward hooks that keep the outputs of a few modules for layer-by-layer debugging."""

    def __init__(self):
        self.values = {}
        self.handles = []

    def watch(self, module, name):
        def hook(_module, _args, output):
            tensor = output[0] if isinstance(output, (tuple, list)) else output
            if hasattr(tensor, "last_hidden_state"):
                tensor = tensor.last_hidden_state
            self.values.setdefault(name, tensor.detach().clone())
        self.handles.append(module.register_forward_hook(hook))

    def close(self):
        for handle in self.handles:
            handle.remove()


def run_conditional_generation(model, inputs, with_grads):
    for name, param in model.named_parameters():
        param.requires_grad_(with_grads and stage2_trainable(name))
    recorder = Recorder()
    recorder.watch(model.vision_model.embeddings, "vision_embeddings")
    recorder.watch(model.vision_model.encoder.layers[0], "vision_layer0")
    recorder.watch(model.vision_model.encoder, "vision_encoder_output")
    recorder.watch(model.qformer.layernorm, "qformer_embedding_layernorm")
    recorder.watch(model.qformer.encoder.layer[0], "qformer_layer0")
    recorder.watch(model.qformer.encoder.layer[0].attention, "qformer_layer0_self_attention")
    recorder.watch(model.qformer.encoder.layer[0].crossattention, "qformer_layer0_cross_attention")
    if model.config.use_decoder_only_language_model:
        decoder = model.language_model.model.decoder
        recorder.watch(decoder.layers[0], "llm_layer0")
        recorder.watch(decoder.embed_positions, "llm_position_embeddings")
    else:
        recorder.watch(model.language_model.encoder, "llm_encoder_output")
        recorder.watch(model.language_model.encoder.block[0], "llm_encoder_block0")
        recorder.watch(model.language_model.decoder, "llm_decoder_output")
    with torch.set_grad_enabled(with_grads):
        out = model(**inputs, return_dict=True)
    recorder.close()
    outputs = {
        "vision_last_hidden_state": out.vision_outputs.last_hidden_state,
        "qformer_last_hidden_state": out.qformer_outputs.last_hidden_state,
        "language_projection_output": model.language_projection(out.qformer_outputs.last_hidden_state),
        "logits": out.logits,
        "loss": out.loss,
    }
    grads = {}
    if with_grads:
        out.loss.backward()
        for name, param in model.named_parameters():
            if param.requires_grad:
                if param.grad is None:
                    raise RuntimeError(f"no gradient reached trainable parameter {name}")
                grads["grad." + name] = param.grad.detach().clone()
                param.grad = None
            elif param.grad is not None:
                raise RuntimeError(f"frozen parameter {name} received a gradient")
    outputs = {k: v.detach().clone() for k, v in outputs.items()}
    return outputs, grads, recorder.values


def run_retrieval(model, inputs):
    for param in model.parameters():
        param.requires_grad_(False)
    recorder = Recorder()
    recorder.watch(model.vision_model.embeddings, "vision_embeddings")
    recorder.watch(model.vision_model.encoder.layers[0], "vision_layer0")
    recorder.watch(model.qformer.encoder.layer[0], "qformer_layer0")
    recorder.watch(model.embeddings, "qformer_text_embeddings")
    args = {k: inputs[k] for k in ("pixel_values", "input_ids", "attention_mask")}
    itm = model(**args, use_image_text_matching_head=True, return_dict=True)
    itc = model(**args, use_image_text_matching_head=False, return_dict=True)
    recorder.close()
    outputs = {
        "vision_last_hidden_state": itm.vision_model_output.last_hidden_state,
        "qformer_last_hidden_state": model.qformer(
            query_embeds=model.query_tokens.expand(args["pixel_values"].shape[0], -1, -1),
            encoder_hidden_states=itm.vision_model_output.last_hidden_state,
        ).last_hidden_state,
        "itm_logits": itm.logits_per_image,
        "logits_per_image": itc.logits_per_image,
    }
    intermediates = dict(recorder.values)
    intermediates["itm_qformer_last_hidden_state"] = itm.text_model_output.last_hidden_state
    intermediates["itc_image_embeds"] = itc.image_embeds
    intermediates["itc_text_embeds"] = itc.text_embeds
    return outputs, {}, intermediates


def to_numpy_dict(tensors):
    """safetensors needs contiguous tensors; integer inputs are stored as int64 exactly as HF takes them."""
    return {k: v.detach().contiguous() for k, v in tensors.items()}


def rewrite_t5_config_like_the_hub(folder):
    """transformers 5.x writes T5 sub-configs with `tie_word_embeddings: true` plus `scale_decoder_outputs: false`.

    The hub's Salesforce/blip2-flan-t5-* configs (written by 4.47) say `tie_word_embeddings: false` and have no
    `scale_decoder_outputs`. The fixture uses the hub form, which is what users load; generate() reloads the
    folder afterwards to prove both forms mean the same model.
    """
    path = os.path.join(folder, "config.json")
    with open(path) as f:
        config = json.load(f)
    text = config["text_config"]
    text.pop("scale_decoder_outputs", None)
    text["tie_word_embeddings"] = False
    with open(path, "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")


def saved_checkpoint_keys(folder):
    """Keys of model.safetensors, or of every shard listed in model.safetensors.index.json."""
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            return set(json.load(f)["weight_map"].keys())
    return set(load_file(os.path.join(folder, "model.safetensors")).keys())


def generate(spec, root):
    torch.manual_seed(spec["seed"])
    generator = torch.Generator().manual_seed(spec["seed"])
    config = build_config(spec)
    config._attn_implementation = "eager"
    model_class = Blip2ForImageTextRetrieval if spec["model"] == "retrieval" else Blip2ForConditionalGeneration
    model = model_class(config).float().eval()
    reinitialize(model, generator)
    is_t5 = spec["text"][0] == "t5" and spec["model"] == "conditional-generation"
    if is_t5:
        untie_lm_head(model, generator)

    folder = os.path.join(root, spec["name"])
    if os.path.exists(folder):
        shutil.rmtree(folder)
    model.save_pretrained(folder, safe_serialization=True, max_shard_size=spec.get("max_shard_size", "50GB"))
    if is_t5:
        rewrite_t5_config_like_the_hub(folder)
    for extra in ("generation_config.json",):
        if os.path.exists(os.path.join(folder, extra)):
            os.remove(os.path.join(folder, extra))

    # Everything below runs on the model as loaded back from the folder, so the fixture describes the files.
    loaded = model_class.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
    saved_keys = saved_checkpoint_keys(folder)
    if spec.get("max_shard_size") and not os.path.exists(os.path.join(folder, "model.safetensors.index.json")):
        raise RuntimeError(f"{spec['name']}: expected a sharded checkpoint")
    original_state = model.state_dict()
    for key, value in loaded.state_dict().items():
        if not torch.equal(value, original_state[key]):
            raise RuntimeError(f"{spec['name']}: {key} changed in the save/load round trip")
    if is_t5 and torch.equal(loaded.language_model.lm_head.weight, loaded.language_model.shared.weight):
        raise RuntimeError("t5: lm_head got tied to shared on load")

    inputs = make_inputs(spec, config, generator)
    if spec["model"] == "retrieval":
        outputs, grads, intermediates = run_retrieval(loaded, inputs)
    else:
        outputs, grads, intermediates = run_conditional_generation(loaded, inputs, with_grads=True)
        check_outputs, _, _ = run_conditional_generation(model, inputs, with_grads=False)
        for key, value in check_outputs.items():
            if not torch.allclose(value, outputs[key], atol=1e-6, rtol=1e-6):
                raise RuntimeError(f"{spec['name']}: {key} differs between the saved and the reloaded model")
    outputs = {k: (v.reshape(()) if k == "loss" else v) for k, v in outputs.items()}
    save_file(to_numpy_dict(inputs), os.path.join(folder, "inputs.safetensors"))
    save_file(to_numpy_dict({**outputs, **grads}), os.path.join(folder, "outputs.safetensors"),
              metadata={"transformers": transformers.__version__, "torch": torch.__version__})
    save_file(to_numpy_dict(intermediates), os.path.join(folder, "intermediates.safetensors"))

    manifest = {
        "model": spec["model"],
        "architecture": type(model).__name__,
        "seed": spec["seed"],
        "checkpoint_keys": sorted(saved_keys),
        "parameter_keys_not_in_checkpoint": sorted(set(original_state) - saved_keys),
        "inputs": {k: list(v.shape) for k, v in inputs.items()},
        "outputs": {k: list(v.shape) for k, v in outputs.items()},
        "grads": sorted(grads),
        "intermediates": {k: list(v.shape) for k, v in intermediates.items()},
    }
    if spec["model"] == "conditional-generation":
        # Blip2Model holds the same parameters under the same names; recorded so the Swift key mapping can
        # claim Blip2Model checkpoints from this evidence rather than from assumption.
        plain = Blip2Model(config)
        manifest["blip2model_keys_equal"] = sorted(plain.state_dict().keys()) == sorted(original_state.keys())
        if not manifest["blip2model_keys_equal"]:
            raise RuntimeError(f"{spec['name']}: Blip2Model and Blip2ForConditionalGeneration keys differ")
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    return manifest, {k: float(v.abs().max()) for k, v in outputs.items()}


README = """# BLIP-2 parity fixtures

Generated by `Tools/make_blip2_fixtures.py` (do not edit by hand) with transformers {transformers},
torch {torch}, safetensors {safetensors}, numpy {numpy}; float32, `model.eval()` (no dropout), eager attention,
CPU. Each folder is a Hugging Face model folder plus reference data:

| file | content |
|---|---|
| `config.json`, `model.safetensors` | written by `save_pretrained` (tied weights are absent from the file, as on the hub) |
| `inputs.safetensors` | `pixel_values` f32 [B,3,S,S]; `input_ids`, `attention_mask` (and `labels` for generation) as int64 |
| `outputs.safetensors` | the reference outputs and, for generation models, `grad.<HF parameter name>` |
| `intermediates.safetensors` | debugging only: outputs of single modules (ViT embeddings, first ViT layer, first Q-Former layer, ...) |
| `manifest.json` | checkpoint keys, parameters absent from the file (tied), shapes of every tensor above |

## Fixtures

{table}

## Inputs exactly as they are

- Processor layout of current HF (>= Nov 2024 hub update): `input_ids` = `num_query_tokens` copies of
  `image_token_index`, then the (padded) text; `attention_mask` has ones at those positions. The model scatters the
  `language_projection` outputs into the embeddings at the image-token positions (row-major, `masked_scatter`).
- OPT rows: `BOS`(2) + random tokens, pad id 1, right padding, `labels` = `input_ids` with
  -100 on the image positions, on padding and on the first `prompt_length` text positions (BOS + prompt).
  OPT position ids follow HF: `cumsum(mask) * mask - 1`, then `+2` into `embed_positions` (padded positions use
  row 1). Logits at padded positions (attention_mask 0) depend on that rule; they never reach a valid position or
  the loss, and graphc follows the same rule, so they are compared like every other value.
  Loss: HF slices logits to the last `labels.shape[1]` positions (all of them here), shifts by one, mean CE
  over labels != -100.
- T5 rows: random tokens + `</s>`(1), pad 0, right padding; `labels` [B, Ld] = targets ending in `</s>`, padded with
  -100; the decoder input is `labels` shifted right with `decoder_start_token_id` 0 (-100 -> pad 0). No
  `decoder_attention_mask` is given (HF default: causal only). Loss = mean CE over labels != -100.
  The text config is in the hub form (`tie_word_embeddings: false`, `dense_act_fn: "gelu"`,
  `feed_forward_proj: "gated-gelu"`): separate `lm_head`, no `d_model**-0.5` output scaling, exact-erf GELU.
  transformers 5.x itself would write `tie_word_embeddings: true` + `scale_decoder_outputs: false`; both mean this.
- Retrieval rows: `input_ids` [B, Q+T] = Q image placeholders + (`[CLS]`=1, random, `[SEP]`=2, pad 0).
  Because `image_token_index` is set, HF drops the first Q ids; ITM keeps the whole [B, Q+T] attention mask (its
  first Q ones are the query part of the [queries ; text] mask), ITC drops the first Q mask entries too and runs a
  text-only pass (query_length 0, text FFN).

## Outputs

| name | meaning |
|---|---|
| `vision_last_hidden_state` | ViT output after `post_layernorm`, [B, Nv, Dv], Nv = (S/P)^2 + 1 |
| `qformer_last_hidden_state` | query-only Q-Former pass (cross-attention to the image), [B, Q, Dq] |
| `language_projection_output` | `language_projection(qformer_last_hidden_state)`, [B, Q, D_llm] |
| `logits` | OPT: [B, Q+T, V] over the whole sequence; T5: decoder logits [B, Ld, V] |
| `loss` | scalar (rank-0 tensor) |
| `grad.<name>` | d loss / d parameter for every parameter trainable in stage 2: `qformer.*`, `query_tokens`, `vision_model.post_layernorm.*`, `language_projection.*` (ViT and LLM frozen) |
| `itm_logits` | retrieval: `use_image_text_matching_head=True`, mean over queries of `itm_head`, [B, 2] |
| `logits_per_image` | retrieval: ITC, max over queries of cosine(image query embeds, text [CLS] embed), [B_img, B_txt], no temperature |

## Comparison semantics (what the Swift parity tests check)

- Forward values and loss: for each element, |graphc - reference| <= {fwd} * max(1, |reference|)
  (absolute {fwd} for values of magnitude <= 1, relative {fwd} above).
- Labels shorter than the sequence (HF scores the last `labels.shape[1]` positions) are not in the fixtures:
  transformers 5.24 raises for them when the batch is larger than 1 (`logits.view` on the non-contiguous slice in
  `ForCausalLMLoss`).
- Gradients: per tensor, max|graphc - reference| <= {grad} * max(max|reference|, {floor}) (relative to the tensor's
  largest entry; an element-wise relative test is meaningless for entries near zero; the floor covers the key-bias
  gradients, which are exactly zero in exact arithmetic and rounding noise in both implementations).
- The integer inputs are int64 here; a reader may narrow them to i32 (all values are small).
"""


def write_readme(root, rows):
    import safetensors
    lines = ["| fixture | model | vision (hidden/layers/heads/FFN, image/patch, eps) | Q-Former (hidden/layers/heads/FFN, "
             "cross freq) | queries | LLM | batch | max abs output |", "|---|---|---|---|---|---|---|---|"]
    for spec, magnitudes in rows:
        v, q = spec["vision"], spec["qformer"]
        kind, t = spec["text"]
        if spec["model"] == "retrieval":
            llm = f"none (ITM/ITC; qformer vocab {q['vocab_size']}, text input on, proj {spec['image_text_hidden_size']})"
        elif kind == "opt":
            llm = (f"OPT {t['hidden_size']}/{t['num_hidden_layers']}/{t['num_attention_heads']}/{t['ffn_dim']}, "
                   f"vocab {t['vocab_size']}, {spec['padding_side']} padding")
        else:
            llm = (f"T5 d{t['d_model']} kv{t['d_kv']}x{t['num_heads']} ff{t['d_ff']} "
                   f"enc{t['num_layers']}/dec{t['num_decoder_layers']}, buckets {t['relative_attention_num_buckets']}"
                   f"/{t['relative_attention_max_distance']}, vocab {t['vocab_size']}")
        biggest = ", ".join(f"{k} {m:.3g}" for k, m in magnitudes.items())
        lines.append(
            f"| {spec['name']} | {spec['model']} | {v['hidden_size']}/{v['num_hidden_layers']}/"
            f"{v['num_attention_heads']}/{v['intermediate_size']}, {v['image_size']}/{v['patch_size']}, "
            f"{v.get('layer_norm_eps', 1e-6)} | {q['hidden_size']}/{q['num_hidden_layers']}/"
            f"{q['num_attention_heads']}/{q['intermediate_size']}, {q['cross_attention_frequency']} | "
            f"{spec['num_query_tokens']} | {llm} | {spec['batch']} | {biggest} |")
    text = README.format(transformers=transformers.__version__, torch=torch.__version__,
                         safetensors=safetensors.__version__, numpy=np.__version__, table="\n".join(lines),
                         fwd=FORWARD_TOLERANCE, grad=GRADIENT_TOLERANCE, floor=GRADIENT_FLOOR)
    with open(os.path.join(root, "README.md"), "w") as f:
        f.write(text)


def generate_all(root):
    os.makedirs(root, exist_ok=True)
    rows = []
    for spec in FIXTURES:
        _, magnitudes = generate(spec, root)
        rows.append((spec, magnitudes))
        print(f"wrote {spec['name']}: " + ", ".join(f"{k} max|x| {m:.3g}" for k, m in magnitudes.items()))
    write_readme(root, rows)


def within_tolerance(key, reference, candidate):
    """The fixture comparison rule; returns None when the candidate passes, else the reason."""
    ref, got = reference.double(), candidate.double()
    if tuple(got.shape) != tuple(ref.shape):
        return f"shape {tuple(got.shape)} != {tuple(ref.shape)}"
    diff = (ref - got).abs()
    if diff.numel() == 0:
        return None
    if key.startswith("grad."):
        bound = GRADIENT_TOLERANCE * max(float(ref.abs().max()), GRADIENT_FLOOR)
        return None if float(diff.max()) <= bound else f"max diff {float(diff.max()):.3g} > {bound:.3g}"
    bad = diff > FORWARD_TOLERANCE * ref.abs().clamp(min=1.0)
    return f"max diff {float(diff.max()):.3g}" if bool(bad.any()) else None


def compare_files(reference_path, candidate_path):
    """Compares two safetensors files with the fixture tolerances; returns a list of failure strings."""
    reference = load_file(reference_path)
    candidate = load_file(candidate_path)
    failures = []
    for key, ref in reference.items():
        if key not in candidate:
            failures.append(f"{key}: missing")
            continue
        reason = within_tolerance(key, ref, candidate[key])
        if reason:
            failures.append(f"{key}: {reason}")
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    default_root = os.path.join(here, "..", "Tests", "BLIP2Tests", "Fixtures")
    parser.add_argument("--out", default=default_root, help="fixture root folder")
    parser.add_argument("--check", action="store_true",
                        help="regenerate into a temporary folder and compare with --out")
    parser.add_argument("--compare-graphc", nargs=2, metavar=("FIXTURE_DIR", "OUTPUTS"),
                        help="compare a graphc-written outputs file with FIXTURE_DIR/outputs.safetensors")
    args = parser.parse_args()
    torch.use_deterministic_algorithms(True)

    if args.compare_graphc:
        folder, path = args.compare_graphc
        failures = compare_files(os.path.join(folder, "outputs.safetensors"), path)
        print("\n".join(failures) if failures else f"{path}: all outputs within tolerance")
        return 1 if failures else 0
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            generate_all(tmp)
            failures = []
            for spec in FIXTURES:
                files = sorted(f for f in os.listdir(os.path.join(tmp, spec["name"])) if f.endswith(".safetensors")
                               and f != "intermediates.safetensors")
                for file in files:
                    failures += [f"{spec['name']}/{file}: {f}" for f in compare_files(
                        os.path.join(args.out, spec["name"], file), os.path.join(tmp, spec["name"], file))]
            print("\n".join(failures) if failures else "committed fixtures reproduce")
            return 1 if failures else 0
    generate_all(os.path.abspath(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
