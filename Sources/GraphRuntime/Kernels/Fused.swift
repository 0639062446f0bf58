import GraphIR

// Fused kernels made by the `fuse` pass: fused_elementwise, fused_reduce, fused_matmul, add_layer_norm. The
// expressions run as tile programs (FusedTiles.swift); a fused reduction reduces each tile as it is computed, so
// the mapped values never go to memory.

func parseExpression(_ c: KernelContext) throws -> FusedExpression {
    do { return try FusedExpression.parse(c.attributes.string("expr") ?? "") } catch let e as ShapeError {
        throw c.unsupported(e.message)
    }
}

func fusedElementwiseKernel(_ c: KernelContext) throws -> KernelSpec {
    let map = try fusedMap(c, try parseExpression(c), operands: c.operandTypes, output: c.type)
    let inPlace = c.operandTypes.indices.filter { c.operandTypes[$0].dtype.byteSize == c.type.dtype.byteSize }
    return KernelSpec("\(tileKernelName(map)) \(map.expression)", inPlace: inPlace) { io in
        map.run(io.operands, io.output, threads: io.threads)
    }
}

func fusedMap(_ c: KernelContext, _ e: FusedExpression, operands: [TensorType], output: TensorType) throws -> FusedMap {
    do { return try FusedMap(e, operands: operands, output: output) } catch let error as ShapeError { throw c.unsupported(error.message) }
}

/// The plan's name of a tile-program kernel.
func tileKernelName(_ map: FusedMap) -> String { map.kernelDType == .f64 ? "tiles f64" : "tiles \(cKernelISA)" }

/// Reduced over one contiguous block of axes, tiles are reduced as they are computed (`FusedReduction`); other
/// axis sets map into scratch and run the ordinary reduction kernel.
func fusedReduceKernel(_ c: KernelContext) throws -> KernelSpec {
    let e = try parseExpression(c)
    var shape: [Int] = []
    for t in c.operandTypes { shape = broadcastShapes(shape, t.shape) ?? shape }
    let mappedType = TensorType(c.type.dtype, shape)
    let map = try fusedMap(c, e, operands: c.operandTypes, output: mappedType)
    let reduceName = c.attributes.symbol("reduce") ?? "sum"
    let axes = (c.attributes.ints("axes") ?? []).compactMap { normalizeAxis($0, rank: shape.count) }.sorted()
    if let first = axes.first, let last = axes.last, last - first + 1 == axes.count, c.type.dtype == map.kernelDType {
        let reduction = FusedReduction(map: map, outer: shape[..<first].reduce(1, *), reduced: shape[first...last].reduce(1, *),
                                       inner: shape[(last + 1)...].reduce(1, *), kind: reduceName)
        return KernelSpec("\(tileKernelName(map)) \(e) reduced (\(reduceName))") { io in
            reduction.run(io.operands, io.output, threads: io.threads)
        }
    }
    let kind: OpKind = reduceName == "max" ? .reduceMax : reduceName == "mean" ? .reduceMean : .reduceSum
    var node = c.node
    node.op = kind
    node.attributes = c.attributes.filter { $0.key == "axes" || $0.key == "keep_dims" }
    let reduce = try reductionKernel(KernelContext(node: node, operandTypes: [mappedType], threads: c.threads))
    let mappedBytes = alignUp(mappedType.byteCount)
    return KernelSpec("\(tileKernelName(map)) \(e) then \(reduce.name)", scratchBytes: mappedBytes + reduce.scratchBytes) { io in
        let mapped = io.scratch!
        map.run(io.operands, mapped, threads: io.threads)
        try reduce.run(KernelIO(operands: [mapped], output: io.output, scratch: reduce.scratchBytes > 0 ? mapped + mappedBytes : nil,
                                threads: io.threads))
    }
}

/// A fused expression reduced over a contiguous block of axes: the mapped tensor is (outer, reduced, inner), and
/// each tile of it is folded into the output as soon as it is computed.
struct FusedReduction {
    let map: FusedMap
    let outer: Int
    let reduced: Int
    let inner: Int
    /// sum, mean or max.
    let kind: String

    /// True when rows (inner = 1) are at most a tile and line up with tiles the C runs loop can step through: the
    /// mapped values are one run of same-shape (or scalar) operands, or the broadcast runs are exactly the rows.
    var rowsInOneCall: Bool {
        let loop = map.loop
        guard inner == 1, reduced >= 16, reduced <= map.tileElements, outer > 1 else { return false }
        if loop.runCount == 1 { return !map.access.contains(.broadcast) }
        return loop.runLength == reduced && loop.runCount == outer && map.runsInOneCall
    }

    func run(_ operands: [UnsafeMutableRawPointer], _ out: UnsafeMutableRawPointer, threads: Int) {
        if map.kernelDType == .f64 { run(Double.self, operands, out, threads: threads) } else { run(Float.self, operands, out, threads: threads) }
    }

    private func run<T: TileScalar>(_: T.Type, _ operands: [UnsafeMutableRawPointer], _ out: UnsafeMutableRawPointer, threads: Int) {
        let o = out.assumingMemoryBound(to: T.self)
        let isMax = kind == "max"
        let (outer, r, inner, width) = (self.outer, reduced, self.inner, map.tileElements)
        let cost = r &* inner &* Swift.max(1, map.expression.opCount)
        // Threads split the outer index; a single outer block with wide rows splits its columns instead.
        let byColumns = outer < threads && inner >= 2 &* width
        let chunks = byColumns ? chunkCount(items: inner / width, costPerItem: cost / Swift.max(1, inner / width), threads: threads)
                               : chunkCount(items: outer, costPerItem: cost, threads: threads)
        parallelChunks(chunks, threads: threads) { c in
            let outerRange = byColumns ? 0..<outer : chunkRange(c, chunks, outer)
            let columns = byColumns ? chunkRange(c, chunks, inner / width) : 0..<1
            let lo = byColumns ? columns.lowerBound &* width : 0
            let hi = byColumns ? (c == chunks - 1 ? inner : columns.upperBound &* width) : inner
            map.withTileRegisters(T.self, operands) { tile, runs in
                if inner == 1 && rowsInOneCall {
                    // Each row one tile, whole stretches of rows per C call, each row's total straight into the output.
                    let block = map.loop.runCount == 1 ? outer : map.loop.outerDims.last!
                    var first = outerRange.lowerBound
                    while first < outerRange.upperBound {
                        let last = Swift.min(outerRange.upperBound, (first / block + 1) &* block)
                        runs(first, last &- first, r, nil, o + first, isMax)
                        first = last
                    }
                    if kind == "mean" { for i in outerRange { o[i] /= T(r) } }
                    return
                }
                for oi in outerRange {
                    let row = o + oi &* inner
                    for i in lo..<hi { row[i] = isMax ? -.infinity : 0 }
                    if inner == 1 {
                        // Rows: each tile is a piece of one row, folded into one value.
                        var acc: T = isMax ? -.infinity : 0
                        var j = 0
                        while j < r {
                            let n = Swift.min(width, r &- j)
                            let p = tile(oi &* r &+ j, n, nil)
                            let t = T.total(p, n, max: isMax)
                            if isMax { if t >= acc { acc = t } } else { acc += t }
                            j &+= n
                        }
                        row[0] = acc
                    } else if hi &- lo >= width / 2 {
                        // Wide rows: tiles of one reduced row's columns.
                        for j in 0..<r {
                            var i0 = lo
                            while i0 < hi {
                                let n = Swift.min(width, hi &- i0)
                                T.fold(tile((oi &* r &+ j) &* inner &+ i0, n, nil), into: row + i0, n, max: isMax)
                                i0 &+= n
                            }
                        }
                    } else {
                        // Narrow rows: a tile holds several whole reduced rows.
                        let rowsPerTile = Swift.max(1, width / inner)
                        var j = 0
                        while j < r {
                            let rows = Swift.min(rowsPerTile, r &- j)
                            let p = tile((oi &* r &+ j) &* inner, rows &* inner, nil)
                            for q in 0..<rows { T.fold(p + q &* inner, into: row, inner, max: isMax) }
                            j &+= rows
                        }
                    }
                    if kind == "mean" { for i in lo..<hi { row[i] /= T(r) } }
                }
            }
        }
    }
}

/// GEMM into the output (or scratch when the epilogue changes dtype), then the epilogue in place.
func fusedMatmulKernel(_ c: KernelContext) throws -> KernelSpec {
    let e = try parseExpression(c)
    var node = c.node
    node.op = .matmul
    node.attributes = c.attributes.filter { $0.key != "expr" }
    let productType = TensorType(c.operandTypes[0].dtype, c.type.shape)
    node.type = productType
    let gemm = try matmulKernel(KernelContext(node: node, operandTypes: Array(c.operandTypes.prefix(2)), threads: c.threads))
    let map = try fusedMap(c, e, operands: [productType] + c.operandTypes.dropFirst(2), output: c.type)
    let separate = productType.dtype != c.type.dtype
    return KernelSpec("\(gemm.name) + epilogue \(e)", scratchBytes: separate ? productType.byteCount : 0, usesBLAS: gemm.usesBLAS) { io in
        let product = separate ? io.scratch! : io.output
        try gemm.run(KernelIO(operands: Array(io.operands.prefix(2)), output: product, scratch: nil, threads: io.threads))
        // A tiled epilogue after the GEMM returned: OpenBLAS is idle by then, so the two never overlap.
        map.run([product] + io.operands.dropFirst(2), io.output, threads: io.threads)
    }
}

/// layer_norm(x + r): the sum goes to the output, then rows are normalized in place.
func addLayerNormKernel(_ c: KernelContext) throws -> KernelSpec {
    var addNode = c.node
    addNode.op = .add
    addNode.attributes = [:]
    let add = try broadcastingKernel(KernelContext(node: addNode, operandTypes: Array(c.operandTypes.prefix(2)), threads: c.threads))
    var normNode = c.node
    normNode.op = .layerNorm
    let norm = normKernel(KernelContext(node: normNode, operandTypes: [c.type] + c.operandTypes.dropFirst(2), threads: c.threads))
    let aligned = c.operandTypes[0].shape == c.type.shape && c.operandTypes[1].shape == c.type.shape
    return KernelSpec("\(add.name) + \(norm.name)", inPlace: aligned ? [0, 1] : []) { io in
        try add.run(KernelIO(operands: Array(io.operands.prefix(2)), output: io.output, scratch: nil, threads: io.threads))
        try norm.run(KernelIO(operands: [io.output] + io.operands.dropFirst(2), output: io.output, scratch: nil, threads: io.threads))
    }
}
