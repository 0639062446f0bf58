#!/usr/bin/env python3
"""Graphviz picture of the nodes under one scope of a graph dumped as JSON by `graphc dump ... --format json`.

Usage: graphc dump blip2 --config test --stage 1 --format json \
         | python3 Tools/blip2_layer_dot.py stage1.itg.qformer.encoder.layer.0 | dot -Tsvg > Docs/images/qformer-layer.svg

Ops inside the scope are boxes (attention shows its mask), parameters they read are green (trainable) or blue
(frozen) ellipses named relative to the scope, values from outside the scope are grey "from %id" ellipses.
Sub-scopes (attention, crossattention, intermediate_query, ...) become clusters.
"""
import json
import sys

prefix = sys.argv[1]
g = json.load(sys.stdin)
nodes = {n["id"]: n for n in g["nodes"]}
inside = [n for n in g["nodes"] if n["scope"] == prefix or n["scope"].startswith(prefix + ".")]
inside_ids = {n["id"] for n in inside}


def shape(n):
    return "x".join(str(s) for s in n["type"]["shape"]) or "scalar"


def label(n):
    op = n["op"]
    if op == "attention":
        mask = n["attributes"].get("mask", {})
        text = mask.get("pattern", "?") if isinstance(mask, dict) else str(mask)
        extra = [str(v) for k, v in mask.items() if k not in ("pattern", "key_padding")] if isinstance(mask, dict) else []
        if extra:
            text += "(" + ", ".join(extra) + ")"
        if isinstance(mask, dict) and mask.get("key_padding"):
            text += " & padding"
        return f"attention\\n{text}\\n{shape(n)}"
    return f"{op}\\n{shape(n)}"


lines = ["digraph qformer_layer {", "  rankdir=TB; node [fontname=Helvetica fontsize=10]; edge [color=gray40];"]
clusters = {}
for n in inside:
    rest = n["scope"][len(prefix):].lstrip(".")
    key = rest.split(".")[0] if rest else ""
    clusters.setdefault(key, []).append(n)
for key, members in clusters.items():
    if key:
        lines.append(f'  subgraph "cluster_{key}" {{ label="{key}"; style=rounded; color=gray60;')
    for n in members:
        lines.append(f'    n{n["id"]} [shape=box label="{label(n)}"];')
    if key:
        lines.append("  }")
external = set()
for n in inside:
    for o in n["operands"]:
        src = nodes[o]
        if o in inside_ids:
            lines.append(f"  n{o} -> n{n['id']};")
            continue
        if src["op"] == "parameter":
            name = src["attributes"]["name"]
            short = name
            parts = prefix.split(".")
            for k in range(len(parts)):
                scope = ".".join(parts[k:])
                if name.startswith(scope + "."):
                    short = name[len(scope) + 1:]
                    break
            role = src["attributes"].get("role", "trainable")
            colour = "palegreen" if role == "trainable" else "lightblue"
            if o not in external:
                lines.append(f'  n{o} [shape=ellipse style=filled fillcolor={colour} label="{short}\\n{shape(src)}"];')
        elif src["op"] == "constant":
            if o not in external:
                lines.append(f'  n{o} [shape=plaintext label="const {shape(src)}"];')
        elif o not in external:
            lines.append(f'  n{o} [shape=ellipse style=filled fillcolor=gray90 label="from %{o}\\n{src["op"]} {shape(src)}\\n{src["scope"]}"];')
        external.add(o)
        lines.append(f"  n{o} -> n{n['id']};")
lines.append("}")
print("\n".join(lines))
