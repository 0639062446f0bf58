// GraphAutodiff module: see Docs/Architecture.md
