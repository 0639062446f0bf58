#!/usr/bin/env python3
"""Builds the stage-1 parity fixture Tests/BLIP2Tests/Fixtures/stage1 from a plain PyTorch reference.

`transformers` has no BLIP-2 stage-1 training objective, so this script computes ITC + ITM + ITG itself, with
the semantics of LAVIS `Blip2Qformer.forward` (blip2-spec §4), on top of `transformers`' BLIP-2 modules:
`Blip2VisionModel` (ViT + post_layernorm), `Blip2QFormerModel` (the ITC query-only pass, the ITC text-only pass
and the joint ITM pass, exactly as `Blip2ForImageTextRetrieval` calls it) and `Blip2TextEmbeddings`. Ported here,
since no `transformers` class has them: the temperature, the hard-negative pairs, the ITG decoder pass (LAVIS
structure: the text-only pass attends to the per-layer keys/values the query-only ITC pass computed, i.e.
LAVIS' `past_key_values`) and the BERT LM head `cls.predictions` (tied decoder + own bias).

The hard negatives are fixed indices (an input of the fixture) instead of a multinomial draw, so the numbers are
deterministic; graphc's `BLIP2Model.build(..., negatives: .given)` takes the same indices.

The model is graphc's `BLIP2Config.test()` (mirrored by hand below; the Swift test fails to load the weights if
a size drifts). Weights are random, of a useful scale, saved under graphc's parameter names (= HF names plus
`temp` and `cls.predictions.*`). CI never runs this; it needs torch 2.13.0 + transformers 5.24 (Docs/Checkpoints.md).
Run from the repository root:

    /work/venv/bin/python Tools/make_stage1_fixture.py           # writes Tests/BLIP2Tests/Fixtures/stage1
    /work/venv/bin/python Tools/make_stage1_fixture.py --check   # recomputes and compares with the committed files
"""

import argparse
import math
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
import transformers
from safetensors.torch import load_file, save_file
from transformers import Blip2QFormerConfig, Blip2QFormerModel, Blip2VisionConfig, Blip2VisionModel
from transformers.models.blip_2.modeling_blip_2 import Blip2TextEmbeddings

SEED = 2001
LABEL_SMOOTHING = 0.1
# BLIP2Config.test(): vision 24 wide, 2 blocks, 2 heads, MLP 40, 16 px images in 4 px patches; Q-Former 32 wide,
# 3 layers, 4 heads, FFN 48, cross-attention every 2nd layer, 6 queries, vocabulary 99 ([DEC] = 98), 64 positions,
# ITC/ITM embedding 16.
VISION = dict(hidden_size=24, intermediate_size=40, num_hidden_layers=2, num_attention_heads=2, image_size=16,
              patch_size=4, layer_norm_eps=1e-6, qkv_bias=True)
QFORMER = dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=48,
               cross_attention_frequency=2, encoder_hidden_size=24, vocab_size=99, max_position_embeddings=64,
               use_qformer_text_input=True, pad_token_id=0, layer_norm_eps=1e-12,
               hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
NUM_QUERIES = 6
EMBED_DIM = 16
PAD, CLS, SEP, DEC = 0, 1, 2, 98
# Inputs: a batch of 4, texts of 7 slots, right-padded (the last rows shorter); fixed negatives that never pick the
# positive, one index used twice (as a multinomial draw may do).
TEXT_LENGTHS = [7, 5, 6, 3]
NEGATIVE_IMAGES = [2, 0, 0, 1]  # for text b: the image paired with it as a negative
NEGATIVE_TEXTS = [3, 2, 1, 0]   # for image b: the text paired with it as a negative


class Stage1Reference(torch.nn.Module):
    """The stage-1 model; parameter names are graphc's (`vision_model.*`, `qformer.*`, `embeddings.*`, ...)."""

    def __init__(self):
        super().__init__()
        vision_config = Blip2VisionConfig(**VISION)
        qformer_config = Blip2QFormerConfig(**QFORMER)
        vision_config._attn_implementation = "eager"
        qformer_config._attn_implementation = "eager"
        self.vision_model = Blip2VisionModel(vision_config)
        self.qformer = Blip2QFormerModel(qformer_config)
        self.embeddings = Blip2TextEmbeddings(qformer_config)
        hidden = QFORMER["hidden_size"]
        self.query_tokens = torch.nn.Parameter(torch.zeros(1, NUM_QUERIES, hidden))
        self.vision_projection = torch.nn.Linear(hidden, EMBED_DIM)
        self.text_projection = torch.nn.Linear(hidden, EMBED_DIM)
        self.itm_head = torch.nn.Linear(hidden, 2)
        self.temp = torch.nn.Parameter(torch.tensor(0.07))
        # LAVIS BertLMPredictionHead (`Qformer.cls.predictions`): transform dense + GELU + LN, decoder tied to the
        # word embeddings, separate bias.
        self.cls = torch.nn.Module()
        self.cls.predictions = torch.nn.Module()
        self.cls.predictions.transform = torch.nn.Module()
        self.cls.predictions.transform.dense = torch.nn.Linear(hidden, hidden)
        self.cls.predictions.transform.LayerNorm = torch.nn.LayerNorm(hidden, eps=QFORMER["layer_norm_eps"])
        self.cls.predictions.bias = torch.nn.Parameter(torch.zeros(QFORMER["vocab_size"]))

    def lm_head(self, h):
        p = self.cls.predictions
        t = p.transform.LayerNorm(F.gelu(p.transform.dense(h)))
        return t @ self.embeddings.word_embeddings.weight.t() + p.bias

    def query_pass_with_cache(self, queries, image):
        """LAVIS `Qformer.bert(query_embeds=..., use_cache=True)`: the query-only pass and, per layer, the
        self-attention keys/values of the queries (LAVIS' `past_key_values`, before the head split)."""
        cache = []
        handles = []
        for layer in self.qformer.encoder.layer:
            slot = {}
            cache.append(slot)
            attention = layer.attention.attention
            handles.append(attention.key.register_forward_hook(lambda _m, _a, out, s=slot: s.__setitem__("k", out)))
            handles.append(attention.value.register_forward_hook(lambda _m, _a, out, s=slot: s.__setitem__("v", out)))
        try:
            hidden = self.qformer(query_embeds=queries, encoder_hidden_states=image).last_hidden_state
        finally:
            for handle in handles:
                handle.remove()
        return hidden, [(slot["k"], slot["v"]) for slot in cache]

    def decoder_pass(self, ids, text_mask, cache):
        """LAVIS `Qformer(decoder_ids, attention_mask=[ones(Q) ; text mask], past_key_values=cache)`: text-only,
        causal over the text, every cached query visible, key padding; no cross-attention, text FFN; positions
        from 0. The extended mask is LAVIS' additive (1 - m) * -10000."""
        b, t = ids.shape
        q = cache[0][0].shape[1]
        causal = torch.tril(torch.ones(t, t))
        visible = torch.cat([torch.ones(t, q), causal], dim=1)[None]  # [1, T, Q+T]
        keys = torch.cat([torch.ones(b, q), text_mask.float()], dim=1)[:, None, :]  # [B, 1, Q+T]
        additive = ((1.0 - visible * keys) * -10000.0)[:, None]  # [B, 1, T, Q+T]
        h = self.qformer.layernorm(self.embeddings(input_ids=ids))
        for layer, (cached_k, cached_v) in zip(self.qformer.encoder.layer, cache):
            attention = layer.attention.attention
            heads, width = attention.num_attention_heads, attention.attention_head_size

            def split(x):
                return x.view(b, -1, heads, width).transpose(1, 2)

            query = split(attention.query(h))
            key = split(torch.cat([cached_k, attention.key(h)], dim=1))
            value = split(torch.cat([cached_v, attention.value(h)], dim=1))
            scores = query @ key.transpose(-1, -2) / math.sqrt(width) + additive
            context = (scores.softmax(dim=-1) @ value).transpose(1, 2).reshape(b, t, heads * width)
            h = layer.feed_forward_chunk(layer.attention.output(context, h))
        return h

    def forward(self, pixel_values, input_ids, attention_mask, negative_images, negative_texts):
        b = input_ids.shape[0]
        image = self.vision_model(pixel_values=pixel_values).last_hidden_state  # after post_layernorm
        queries = self.query_tokens.expand(b, -1, -1)

        # ITC: query-only pass (kept for ITG's cache) and text-only pass; max over queries of the cosine / temp.
        query_output, cache = self.query_pass_with_cache(queries, image)
        image_feats = F.normalize(self.vision_projection(query_output), dim=-1)
        text_output = self.qformer(query_embeds=self.embeddings(input_ids=input_ids), query_length=0,
                                   attention_mask=attention_mask).last_hidden_state
        text_feat = F.normalize(self.text_projection(text_output[:, 0, :]), dim=-1)
        sim_i2t = torch.einsum("iqd,jd->ijq", image_feats, text_feat).max(dim=-1).values / self.temp
        sim_t2i = torch.einsum("id,jqd->ijq", text_feat, image_feats).max(dim=-1).values / self.temp
        targets = torch.arange(b)
        loss_itc = (F.cross_entropy(sim_i2t, targets, label_smoothing=LABEL_SMOOTHING)
                    + F.cross_entropy(sim_t2i, targets, label_smoothing=LABEL_SMOOTHING)) / 2

        # ITM: (text b, image b) positive, (text b, negative image of text b), (negative text of image b, image b).
        ids_all = torch.cat([input_ids, input_ids, input_ids[negative_texts]], dim=0)
        text_mask_all = torch.cat([attention_mask, attention_mask, attention_mask[negative_texts]], dim=0)
        image_all = torch.cat([image, image[negative_images], image], dim=0)
        queries_itm = self.query_tokens.expand(3 * b, -1, -1)
        mask_all = torch.cat([torch.ones(3 * b, NUM_QUERIES, dtype=attention_mask.dtype), text_mask_all], dim=1)
        itm_hidden = self.qformer(query_embeds=self.embeddings(input_ids=ids_all, query_embeds=queries_itm),
                                  query_length=NUM_QUERIES, attention_mask=mask_all,
                                  encoder_hidden_states=image_all).last_hidden_state
        itm_logits = self.itm_head(itm_hidden[:, :NUM_QUERIES, :]).mean(dim=1)
        itm_labels = torch.cat([torch.ones(b, dtype=torch.long), torch.zeros(2 * b, dtype=torch.long)])
        loss_itm = F.cross_entropy(itm_logits, itm_labels)

        # ITG: [DEC] replaces [CLS]; labels = ids with [PAD] -> -100; position j scores label j+1.
        decoder_ids = input_ids.clone()
        decoder_ids[:, 0] = DEC
        labels = decoder_ids.masked_fill(decoder_ids == PAD, -100)
        itg_logits = self.lm_head(self.decoder_pass(decoder_ids, attention_mask, cache))
        vocab = itg_logits.shape[-1]
        loss_itg = F.cross_entropy(itg_logits[:, :-1, :].reshape(-1, vocab), labels[:, 1:].reshape(-1),
                                   ignore_index=-100, label_smoothing=LABEL_SMOOTHING)

        loss = loss_itc + loss_itm + loss_itg
        return {
            "loss": loss, "loss_itc": loss_itc, "loss_itm": loss_itm, "loss_itg": loss_itg,
            "sim_i2t": sim_i2t, "itm_logits": itm_logits, "itg_logits": itg_logits, "image_feats": image_feats,
            "qformer_last_hidden_state": query_output, "vision_last_hidden_state": image,
        }


def is_trainable(name):
    """Stage 1 trains everything except the ViT blocks and embeddings (post_layernorm = LAVIS `ln_vision` trains)."""
    return not name.startswith("vision_model.") or name.startswith("vision_model.post_layernorm.")


def reinitialize(model, generator):
    """Seeded random values of a useful scale (as in make_blip2_fixtures.py): zero biases, zero queries or unit
    norms would multiply whole code paths by ~0, and a wrong implementation could still match."""
    for name, param in model.named_parameters():
        shape = tuple(param.shape)
        leaf = name.rsplit(".", 1)[-1]
        with torch.no_grad():
            if name == "temp":
                values = torch.tensor(0.1)  # divisor; not the 0.07 init so a hard-coded constant cannot match
            elif "layernorm" in name.lower() or "layer_norm" in name.lower():
                values = (1.0 if leaf == "weight" else 0.0) + 0.2 * torch.randn(shape, generator=generator)
            elif name == "embeddings.word_embeddings.weight":
                # Also the LM decoder: keep logits O(1).
                values = 2.0 * torch.randn(shape, generator=generator) / np.sqrt(shape[1])
            elif leaf == "bias":
                values = 0.2 * torch.randn(shape, generator=generator)
            elif name in ("query_tokens", "embeddings.position_embeddings.weight", "vision_model.embeddings.class_embedding",
                          "vision_model.embeddings.position_embedding"):
                values = 0.7 * torch.randn(shape, generator=generator)
            else:
                fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
                values = torch.randn(shape, generator=generator) / np.sqrt(fan_in)
            param.copy_(values)


def make_inputs(generator):
    b, t = len(TEXT_LENGTHS), max(TEXT_LENGTHS)
    size = VISION["image_size"]
    pixel_values = torch.randn((b, 3, size, size), generator=generator)
    ids = torch.full((b, t), PAD, dtype=torch.long)
    mask = torch.zeros((b, t), dtype=torch.long)
    for row, length in enumerate(TEXT_LENGTHS):
        tokens = torch.randint(3, DEC, (length,), generator=generator)  # ordinary ids: not PAD/CLS/SEP/[DEC]
        tokens[0], tokens[-1] = CLS, SEP
        ids[row, :length] = tokens
        mask[row, :length] = 1
    negatives_images = torch.tensor(NEGATIVE_IMAGES, dtype=torch.long)
    negatives_texts = torch.tensor(NEGATIVE_TEXTS, dtype=torch.long)
    assert all(n != i for i, n in enumerate(NEGATIVE_IMAGES)) and all(n != i for i, n in enumerate(NEGATIVE_TEXTS))
    return {"pixel_values": pixel_values, "input_ids": ids, "attention_mask": mask,
            "negative_images": negatives_images, "negative_texts": negatives_texts}


def compute():
    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)
    model = Stage1Reference().float().eval()
    reinitialize(model, generator)
    inputs = make_inputs(generator)
    for name, param in model.named_parameters():
        param.requires_grad_(is_trainable(name))
    outputs = model(**inputs)
    outputs["loss"].backward()
    grads = {f"grad.{name}": param.grad for name, param in model.named_parameters() if is_trainable(name)}
    missing = [name for name, g in grads.items() if g is None]
    if missing:
        raise RuntimeError(f"no gradient for {missing}")
    weights = {name: param.detach() for name, param in model.named_parameters()}
    values = {k: v.detach() for k, v in outputs.items()}
    return weights, inputs, values, grads


def to_file(tensors):
    out = {}
    for k, v in tensors.items():
        v = v.detach().contiguous()
        out[k] = (v.to(torch.int32) if v.dtype == torch.long else v.to(torch.float32)).numpy()
    return out


def write(folder):
    from safetensors.numpy import save_file as save_numpy
    os.makedirs(folder, exist_ok=True)
    weights, inputs, values, grads = compute()
    meta = {"transformers": transformers.__version__, "torch": torch.__version__}
    save_numpy(to_file(weights), os.path.join(folder, "weights.safetensors"), metadata=meta)
    save_numpy(to_file(inputs), os.path.join(folder, "inputs.safetensors"), metadata=meta)
    save_numpy(to_file({**values, **grads}), os.path.join(folder, "outputs.safetensors"), metadata=meta)
    return values, grads


README = """# Stage-1 parity fixture

Generated by `Tools/make_stage1_fixture.py` (do not edit by hand) with transformers {transformers}, torch {torch};
float32, eval mode (no dropout), eager attention, CPU. A plain PyTorch reference of BLIP-2's stage-1 objectives
(LAVIS `Blip2Qformer.forward`, blip2-spec section 4) on transformers' BLIP-2 modules; config = graphc's
`BLIP2Config.test()`; batch {batch}, text length {length}.

| file | content |
|---|---|
| `weights.safetensors` | every parameter of the stage-1 graph under graphc's names (HF names plus `temp`, `cls.predictions.*`), f32 |
| `inputs.safetensors` | `pixel_values` f32 [B,3,16,16]; `input_ids`, `attention_mask` i32 [B,T] (`[CLS]`=1 ... `[SEP]`=2, pad 0, right-padded); `negative_images`, `negative_texts` i32 [B] |
| `outputs.safetensors` | `loss` = `loss_itc` + `loss_itm` + `loss_itg`, `sim_i2t` [B,B] (with temperature), `itm_logits` [3B,2], `itg_logits` [B,T,V], `image_feats`, `qformer_last_hidden_state` (ITC query pass), `vision_last_hidden_state`; `grad.<name>` = d loss / d parameter for every stage-1 trainable parameter |

Reference semantics: ITC = mean of the two label-smoothed (0.1) cross-entropies of max-over-queries cosine / `temp`
(query-only pass and text-only pass); ITM pairs (text b, image b), (text b, image `negative_images[b]`),
(text `negative_texts[b]`, image b), labels 1, 0, 0, mean over query outputs of `itm_head`, plain CE; ITG =
`[DEC]` (98) replaces `[CLS]`, text-only decoder pass over the query keys/values cached from the ITC query pass
(LAVIS `past_key_values`), causal text, label smoothing 0.1, loss on text only (pad -> -100, shifted by one).
Tolerances (Tests/BLIP2Tests/Stage1ParityTests.swift, `ParityTolerance`): forward |d| <= 1e-4 * max(1, |ref|)
element-wise; gradients max|d| <= 1e-3 * max(max|ref|, 1e-4) per tensor.
"""


def write_readme(folder):
    text = README.format(transformers=transformers.__version__, torch=torch.__version__, batch=len(TEXT_LENGTHS),
                         length=max(TEXT_LENGTHS))
    with open(os.path.join(folder, "README.md"), "w") as f:
        f.write(text)


def compare(reference_folder, candidate_folder):
    failures = []
    for file in ("weights.safetensors", "inputs.safetensors", "outputs.safetensors"):
        ref, got = load_file(os.path.join(reference_folder, file)), load_file(os.path.join(candidate_folder, file))
        if set(ref) != set(got):
            failures.append(f"{file}: keys differ: {sorted(set(ref) ^ set(got))}")
        for key in sorted(set(ref) & set(got)):
            diff = float((ref[key].double() - got[key].double()).abs().max()) if ref[key].numel() else 0.0
            scale = max(float(ref[key].double().abs().max()) if ref[key].numel() else 0.0, 1.0)
            if ref[key].shape != got[key].shape or diff > 1e-6 * scale:
                failures.append(f"{file}/{key}: differs by {diff:.3g}")
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "..", "Tests", "BLIP2Tests", "Fixtures", "stage1"))
    parser.add_argument("--check", action="store_true", help="recompute into a temporary folder and compare")
    args = parser.parse_args()
    torch.use_deterministic_algorithms(True)
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            write(tmp)
            failures = compare(os.path.abspath(args.out), tmp)
            print("\n".join(failures) if failures else "committed stage-1 fixture reproduces")
            return 1 if failures else 0
    values, grads = write(os.path.abspath(args.out))
    write_readme(os.path.abspath(args.out))
    print(", ".join(f"{k} {float(values[k]):.6f}" for k in ("loss", "loss_itc", "loss_itm", "loss_itg")))
    print(f"{len(grads)} gradients, {sum(g.numel() for g in grads.values())} values")
    return 0


if __name__ == "__main__":
    sys.exit(main())
