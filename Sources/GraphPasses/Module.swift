// GraphPasses module: see Docs/Architecture.md
