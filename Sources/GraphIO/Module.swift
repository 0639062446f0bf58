// GraphIO module: see Docs/Architecture.md
