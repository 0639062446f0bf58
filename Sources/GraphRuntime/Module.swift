// GraphRuntime module: see Docs/Architecture.md
