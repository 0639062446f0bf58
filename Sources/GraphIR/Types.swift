/// Element types of IR values. `bf16`/`f16` are reserved for later (storage-only formats).
public enum DType: String, CaseIterable, Hashable, Sendable, Codable {
    case f32, f64, i32, bool

    public var isFloat: Bool { self == .f32 || self == .f64 }
    /// Bytes per element in the runtime's buffers.
    public var byteSize: Int {
        switch self {
        case .f32, .i32: return 4
        case .f64: return 8
        case .bool: return 1
        }
    }
}

/// A static tensor type: dtype and concrete shape (rank 0 is a scalar).
public struct TensorType: Hashable, Sendable, CustomStringConvertible {
    public var dtype: DType
    public var shape: [Int]

    public init(_ dtype: DType, _ shape: [Int]) {
        self.dtype = dtype
        self.shape = shape
    }

    public var rank: Int { shape.count }
    public var count: Int { shape.reduce(1, *) }
    public var byteCount: Int { count * dtype.byteSize }
    /// Text form, e.g. `f32[2, 3]`, `i32[]`.
    public var description: String { "\(dtype.rawValue)[\(shape.map(String.init).joined(separator: ", "))]" }
}

/// Where a builder call was made in model code (for errors and dumps).
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }
    public static let unknown = SourceLocation(file: "", line: 0)
    public var description: String { file.isEmpty ? "<unknown>" : "\(file):\(line)" }
}

/// Row-major strides of a shape.
public func stridesOf(_ shape: [Int]) -> [Int] {
    var s = [Int](repeating: 1, count: shape.count)
    var acc = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        s[i] = acc
        acc *= shape[i]
    }
    return s
}

/// Numpy broadcasting of two shapes; nil when incompatible.
public func broadcastShapes(_ a: [Int], _ b: [Int]) -> [Int]? {
    let n = max(a.count, b.count)
    var out = [Int](repeating: 1, count: n)
    for i in 0..<n {
        let da = i < n - a.count ? 1 : a[i - (n - a.count)]
        let db = i < n - b.count ? 1 : b[i - (n - b.count)]
        if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
    }
    return out
}

/// Normalizes a possibly negative axis against a rank; nil when out of range.
public func normalizeAxis(_ axis: Int, rank: Int) -> Int? {
    let a = axis < 0 ? axis + rank : axis
    return (a >= 0 && a < rank) ? a : nil
}
