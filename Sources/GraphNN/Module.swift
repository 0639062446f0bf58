// GraphNN module: see Docs/Architecture.md
