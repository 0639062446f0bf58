// BLIP2 module: see Docs/Architecture.md
