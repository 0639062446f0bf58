import GraphIR

// Data movement: transpose, slice, pad, concat, iota. All copies go through one strided-copy engine that
// merges dimensions contiguous in both source and destination, so the common cases (head split/merge
// transposes that keep the last axis, slices of rows) become memcpy runs.

/// Copies a `dims`-shaped box of elements from `src + srcBase` (element strides `srcStrides`) to
/// `dst + dstBase` (`dstStrides`).
struct StridedCopy {
    let dims: [Int]
    let srcStrides: [Int]
    let dstStrides: [Int]
    let srcBase: Int
    let dstBase: Int
    let elementSize: Int

    init(dims rawDims: [Int], srcStrides rawSrc: [Int], dstStrides rawDst: [Int], srcBase: Int, dstBase: Int, elementSize: Int) {
        var dims: [Int] = [], src: [Int] = [], dst: [Int] = []
        for d in rawDims.indices where rawDims[d] != 1 {
            if let last = dims.indices.last, src[last] == rawSrc[d] * rawDims[d], dst[last] == rawDst[d] * rawDims[d] {
                dims[last] *= rawDims[d]
                src[last] = rawSrc[d]
                dst[last] = rawDst[d]
            } else {
                dims.append(rawDims[d]); src.append(rawSrc[d]); dst.append(rawDst[d])
            }
        }
        if dims.isEmpty { dims = [rawDims.reduce(1, *)]; src = [1]; dst = [1] }
        self.dims = dims
        srcStrides = src
        dstStrides = dst
        self.srcBase = srcBase
        self.dstBase = dstBase
        self.elementSize = elementSize
    }

    var count: Int { dims.reduce(1, *) }

    func run(_ srcPointer: UnsafeRawPointer, _ dstPointer: UnsafeMutableRawPointer, threads: Int) {
        let inner = dims.last!, rows = count / Swift.max(inner, 1)
        if inner == 0 || rows == 0 { return }
        let (si, di) = (srcStrides.last!, dstStrides.last!)
        let e = elementSize
        let chunks = chunkCount(items: rows, costPerItem: inner, threads: threads)
        parallelChunks(chunks, threads: threads) { ch in
            for r in chunkRange(ch, chunks, rows) {
                var rem = r, so = srcBase, dOff = dstBase
                var d = dims.count - 2
                while d >= 0 {
                    let i = rem % dims[d]
                    rem /= dims[d]
                    so = so &+ i &* srcStrides[d]
                    dOff = dOff &+ i &* dstStrides[d]
                    d -= 1
                }
                let s = srcPointer + so &* e, t = dstPointer + dOff &* e
                if si == 1 && di == 1 {
                    t.copyMemory(from: s, byteCount: inner &* e)
                } else {
                    switch e {
                    case 4:
                        let (sp, tp) = (s.assumingMemoryBound(to: UInt32.self), t.assumingMemoryBound(to: UInt32.self))
                        for j in 0..<inner { tp[j &* di] = sp[j &* si] }
                    case 8:
                        let (sp, tp) = (s.assumingMemoryBound(to: UInt64.self), t.assumingMemoryBound(to: UInt64.self))
                        for j in 0..<inner { tp[j &* di] = sp[j &* si] }
                    default:
                        let (sp, tp) = (s.assumingMemoryBound(to: UInt8.self), t.assumingMemoryBound(to: UInt8.self))
                        for j in 0..<inner { tp[j &* di] = sp[j &* si] }
                    }
                }
            }
        }
    }
}

func transposeKernel(_ c: KernelContext) -> KernelSpec {
    let x = c.operandTypes[0]
    let perm = c.attributes.ints("perm") ?? Array(0..<x.rank)
    let inStrides = stridesOf(x.shape)
    let copy = StridedCopy(dims: c.type.shape, srcStrides: perm.map { inStrides[$0] }, dstStrides: stridesOf(c.type.shape),
                           srcBase: 0, dstBase: 0, elementSize: x.dtype.byteSize)
    return KernelSpec(copy.srcStrides.last == 1 ? "transpose (row copies)" : "transpose (strided)") { io in
        copy.run(io.operands[0], io.output, threads: io.threads)
    }
}

func sliceKernel(_ c: KernelContext) -> KernelSpec {
    let x = c.operandTypes[0]
    let starts = c.attributes.ints("starts") ?? []
    let inStrides = stridesOf(x.shape)
    let base = zip(starts, inStrides).reduce(0) { $0 + $1.0 * $1.1 }
    let copy = StridedCopy(dims: c.type.shape, srcStrides: inStrides, dstStrides: stridesOf(c.type.shape),
                           srcBase: base, dstBase: 0, elementSize: x.dtype.byteSize)
    return KernelSpec("slice copy") { io in copy.run(io.operands[0], io.output, threads: io.threads) }
}

func padKernel(_ c: KernelContext) -> KernelSpec {
    let x = c.operandTypes[0]
    let low = c.attributes.ints("low") ?? []
    let outStrides = stridesOf(c.type.shape)
    let base = zip(low, outStrides).reduce(0) { $0 + $1.0 * $1.1 }
    let copy = StridedCopy(dims: x.shape, srcStrides: stridesOf(x.shape), dstStrides: outStrides,
                           srcBase: 0, dstBase: base, elementSize: x.dtype.byteSize)
    let bytes = c.type.byteCount
    return KernelSpec("zero + copy") { io in
        io.output.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        copy.run(io.operands[0], io.output, threads: io.threads)
    }
}

func concatKernel(_ c: KernelContext) -> KernelSpec {
    let ax = normalizeAxis(c.attributes.int("axis") ?? 0, rank: c.type.rank) ?? 0
    let outStrides = stridesOf(c.type.shape)
    var offset = 0
    var copies: [StridedCopy] = []
    for t in c.operandTypes {
        copies.append(StridedCopy(dims: t.shape, srcStrides: stridesOf(t.shape), dstStrides: outStrides,
                                  srcBase: 0, dstBase: offset * outStrides[ax], elementSize: t.dtype.byteSize))
        offset += t.shape[ax]
    }
    return KernelSpec("copy \(copies.count) parts") { io in
        for (k, copy) in copies.enumerated() { copy.run(io.operands[k], io.output, threads: io.threads) }
    }
}

func iotaKernel(_ c: KernelContext) -> KernelSpec {
    let t = c.type
    let ax = normalizeAxis(c.attributes.int("axis") ?? 0, rank: t.rank) ?? 0
    let n = t.shape[ax], inner = t.shape[(ax + 1)...].reduce(1, *)
    return KernelSpec("iota") { io in
        for i in 0..<t.count { storeScalar(io.output, t.dtype, i, Double((i / inner) % n)) }
    }
}
