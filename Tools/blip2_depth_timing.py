#!/usr/bin/env python3
"""Times BLIP-2 (blip2-opt-2.7b widths) at reduced depth, to estimate the full model's cost per layer.

Writes a random Blip2ForConditionalGeneration folder with the released model's widths (ViT-g 1408, Q-Former
768 with 32 queries, OPT-2.7B 2560 with the 50304-token vocabulary) but only the requested numbers of ViT,
Q-Former and OPT layers, plus an inputs file (one 224-px image, 32 placeholders + TEXT tokens), and times the
transformers forward pass (float32, CPU, eval). The same folder then runs through graphc:

    python Tools/blip2_depth_timing.py --vit 1 --qformer 2 --opt 1 --out /tmp/blip2-depth
    .build/release/graphc blip2 run --checkpoint /tmp/blip2-depth --model conditional-generation \\
        --inputs /tmp/blip2-depth/inputs.safetensors --outputs /tmp/blip2-depth/out.safetensors

Differences between runs at two depths give the cost of one layer; Docs/Checkpoints.md extrapolates from them.
"""

import argparse
import os
import time

import torch
from safetensors.torch import save_file
from transformers import Blip2Config, Blip2ForConditionalGeneration


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vit", type=int, default=1)
    parser.add_argument("--qformer", type=int, default=2)
    parser.add_argument("--opt", type=int, default=1)
    parser.add_argument("--text", type=int, default=16, help="text tokens after the 32 image placeholders")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    config = Blip2Config(
        vision_config=dict(num_hidden_layers=args.vit),
        qformer_config=dict(num_hidden_layers=args.qformer),
        text_config=dict(model_type="opt", hidden_size=2560, ffn_dim=10240, num_hidden_layers=args.opt,
                         num_attention_heads=32, vocab_size=50304, word_embed_proj_dim=2560, eos_token_id=50118),
        num_query_tokens=32, image_token_index=50265)
    model = Blip2ForConditionalGeneration(config).float().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.02)
    os.makedirs(args.out, exist_ok=True)
    model.save_pretrained(args.out, safe_serialization=True)
    ids = torch.cat([torch.full((1, 32), 50265), torch.tensor([[2]]), torch.randint(3, 50000, (1, args.text - 1))], dim=1)
    inputs = {"pixel_values": torch.randn(1, 3, 224, 224), "input_ids": ids, "attention_mask": torch.ones_like(ids)}
    labels = ids.clone()
    labels[:, :32] = -100
    inputs["labels"] = labels
    save_file({k: v.contiguous() for k, v in inputs.items()}, os.path.join(args.out, "inputs.safetensors"))
    params = sum(p.numel() for p in model.parameters())
    times, cpu = [], []
    with torch.no_grad():
        for _ in range(args.repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            out = model(**inputs)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        projection = model.language_projection(out.qformer_outputs.last_hidden_state)
    # The reference for `make_blip2_fixtures.py --compare-graphc OUT graphc-outputs.safetensors`.
    save_file({"vision_last_hidden_state": out.vision_outputs.last_hidden_state.contiguous(),
               "qformer_last_hidden_state": out.qformer_outputs.last_hidden_state.contiguous(),
               "language_projection_output": projection.contiguous(), "logits": out.logits.contiguous(),
               "loss": out.loss.reshape(())}, os.path.join(args.out, "outputs.safetensors"))
    print(f"vit {args.vit} qformer {args.qformer} opt {args.opt}: {params / 1e6:.1f} M parameters; "
          f"transformers forward best of {args.repeat}: {min(times):.3f} s wall, {min(cpu):.3f} s CPU "
          f"({args.threads} threads), loss {out.loss.item():.6f}")


if __name__ == "__main__":
    main()
