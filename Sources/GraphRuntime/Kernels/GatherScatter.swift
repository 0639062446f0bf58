import GraphIR

// gather (embedding lookups) and scatter_add (their gradients). Indices are checked before any write, so bad
// data gives an error that names the index, never a crash.

func checkIndices(_ idx: UnsafePointer<Int32>, _ count: Int, size: Int) throws {
    for k in 0..<count where idx[k] < 0 || Int(idx[k]) >= size {
        throw RuntimeError(.badData, "index \(idx[k]) at position \(k) is out of range [0, \(size))")
    }
}

func gatherKernel(_ c: KernelContext) -> KernelSpec {
    let table = c.operandTypes[0]
    let ax = normalizeAxis(c.attributes.int("axis") ?? 0, rank: table.rank) ?? 0
    let outer = table.shape[..<ax].reduce(1, *), len = table.shape[ax], inner = table.shape[(ax + 1)...].reduce(1, *)
    let m = c.operandTypes[1].count
    let rowBytes = inner * table.dtype.byteSize
    return KernelSpec("row gather") { io in
        let idx = UnsafePointer(io.operands[1].assumingMemoryBound(to: Int32.self))
        try checkIndices(idx, m, size: len)
        let (src, dst) = (io.operands[0], io.output)
        forRows(outer &* m, inner, threads: io.threads, cost: 1) { r in
            let (o, k) = (r / Swift.max(m, 1), r % Swift.max(m, 1))
            (dst + r &* rowBytes).copyMemory(from: src + (o &* len &+ Int(idx[k])) &* rowBytes, byteCount: rowBytes)
        }
    }
}

func scatterAddKernel(_ c: KernelContext) -> KernelSpec {
    let updates = c.operandTypes[0]
    let ax = c.attributes.int("axis") ?? 0, size = c.attributes.int("size") ?? 0
    let m = c.operandTypes[1].count
    let outer = updates.shape[..<ax].reduce(1, *)
    let inner = c.type.count / Swift.max(1, outer * size)
    let d = c.type.dtype
    let bytes = c.type.byteCount
    return KernelSpec(d == .f32 ? "row scatter_add f32" : "scalar scatter_add") { io in
        let idx = UnsafePointer(io.operands[1].assumingMemoryBound(to: Int32.self))
        try checkIndices(idx, m, size: size)
        io.output.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        // Rows of one outer slice may collide, so threads split the outer dimension only.
        forRows(outer, m &* inner, threads: io.threads, cost: 1) { o in
            for k in 0..<m {
                let dstRow = (o &* size &+ Int(idx[k])) &* inner, srcRow = (o &* m &+ k) &* inner
                if d == .f32 {
                    let (u, y) = (UnsafePointer(io.f32(0)) + srcRow, io.outF32 + dstRow)
                    for i in 0..<inner { y[i] += u[i] }
                } else {
                    for i in 0..<inner {
                        storeScalar(io.output, d, dstRow &+ i, loadScalar(io.output, d, dstRow &+ i) + loadScalar(io.operands[0], d, srcRow &+ i))
                    }
                }
            }
        }
    }
}
