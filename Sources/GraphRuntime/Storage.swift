import GraphIR

/// Alignment of every buffer: one cache line, so SIMD loads never straddle one needlessly and threads
/// writing neighbouring buffers never share a line.
let bufferAlignment = 64

func alignUp(_ n: Int, _ a: Int = bufferAlignment) -> Int { (n + a - 1) / a * a }

/// An owned, aligned, zeroed block of raw memory.
final class RawBlock {
    let pointer: UnsafeMutableRawPointer
    let byteCount: Int

    init(byteCount: Int) {
        self.byteCount = byteCount
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, bufferAlignment), alignment: bufferAlignment)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, bufferAlignment))
    }

    deinit { pointer.deallocate() }
}

// Scalar access by dtype, used by the generic (non-hot) kernels and for moving host tensors in and out.
// Storage formats: f32 = Float, f64 = Double, i32 = Int32, bool = UInt8 (0 or 1).

@inline(__always) func loadScalar(_ p: UnsafeRawPointer, _ d: DType, _ i: Int) -> Double {
    switch d {
    case .f32: return Double(p.assumingMemoryBound(to: Float.self)[i])
    case .f64: return p.assumingMemoryBound(to: Double.self)[i]
    case .i32: return Double(p.assumingMemoryBound(to: Int32.self)[i])
    case .bool: return p.assumingMemoryBound(to: UInt8.self)[i] != 0 ? 1 : 0
    }
}

/// Stores with the interpreter's conversion rules: f32 rounds, i32 truncates toward zero and wraps
/// (non-finite gives 0), bool is `x != 0`.
@inline(__always) func storeScalar(_ p: UnsafeMutableRawPointer, _ d: DType, _ i: Int, _ x: Double) {
    switch d {
    case .f32: p.assumingMemoryBound(to: Float.self)[i] = Float(x)
    case .f64: p.assumingMemoryBound(to: Double.self)[i] = x
    case .i32: p.assumingMemoryBound(to: Int32.self)[i] = int32Wrapping(x)
    case .bool: p.assumingMemoryBound(to: UInt8.self)[i] = x != 0 ? 1 : 0
    }
}

@inline(__always) func int32Wrapping(_ x: Double) -> Int32 {
    guard x.isFinite else { return 0 }
    let t = x.rounded(.towardZero)
    // Beyond Int64 the wrap is meaningless; clamp instead of trapping.
    guard Swift.abs(t) < 9.0e18 else { return 0 }
    return Int32(truncatingIfNeeded: Int64(t))
}

/// Writes a host tensor's scalars into raw storage of its dtype.
func write(_ t: Tensor, to p: UnsafeMutableRawPointer) {
    let d = t.dtype
    t.scalars.withUnsafeBufferPointer { s in
        switch d {
        case .f32:
            let o = p.assumingMemoryBound(to: Float.self)
            for i in 0..<s.count { o[i] = Float(s[i]) }
        case .f64:
            let o = p.assumingMemoryBound(to: Double.self)
            for i in 0..<s.count { o[i] = s[i] }
        default:
            for i in 0..<s.count { storeScalar(p, d, i, s[i]) }
        }
    }
}

/// Reads raw storage into a host tensor.
func readTensor(_ p: UnsafeRawPointer, _ type: TensorType) -> Tensor {
    var xs = [Double](repeating: 0, count: type.count)
    for i in 0..<xs.count { xs[i] = loadScalar(p, type.dtype, i) }
    return Tensor(type.dtype, type.shape, xs)
}
