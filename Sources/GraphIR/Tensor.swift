/// A host tensor for the reference interpreter and for moving data in and out of programs.
/// Scalars are stored as `Double` whatever the dtype; `f32` values are rounded to `Float` on creation,
/// `i32` and `bool` hold exact integers (bool: 0 or 1).
public struct Tensor: Hashable, Sendable, CustomStringConvertible {
    public private(set) var type: TensorType
    public private(set) var scalars: [Double]

    public init(_ dtype: DType, _ shape: [Int], _ scalars: [Double]) {
        precondition(scalars.count == shape.reduce(1, *), "Tensor: \(scalars.count) scalars for shape \(shape)")
        self.type = TensorType(dtype, shape)
        self.scalars = Tensor.rounded(scalars, to: dtype)
    }

    public init(_ dtype: DType, _ shape: [Int], repeating v: Double) {
        self.init(dtype, shape, [Double](repeating: v, count: shape.reduce(1, *)))
    }

    public init(floats: [Float], shape: [Int]) {
        self.init(.f32, shape, floats.map(Double.init))
    }

    public init(ints: [Int], shape: [Int]) {
        self.init(.i32, shape, ints.map(Double.init))
    }

    public init(scalar: Double, dtype: DType = .f32) { self.init(dtype, [], [scalar]) }

    public var dtype: DType { type.dtype }
    public var shape: [Int] { type.shape }
    public var count: Int { scalars.count }
    public var floats: [Float] { scalars.map(Float.init) }
    public var ints: [Int] { scalars.map { Int($0) } }
    public var scalar: Double { scalars[0] }

    /// The same data as another dtype. Float → int truncates toward zero and saturates at the i32 range
    /// (NaN gives 0), as XLA's convert and Rust's `as` do, so an out-of-range value is defined rather than
    /// C's undefined behaviour.
    public func cast(to dtype: DType) -> Tensor {
        switch dtype {
        case .i32:
            return Tensor(.i32, shape, scalars.map { $0.isNaN ? 0 : Swift.min(Swift.max($0.rounded(.towardZero), -2147483648), 2147483647) })
        case .bool: return Tensor(.bool, shape, scalars.map { $0 != 0 ? 1 : 0 })
        default: return Tensor(dtype, shape, scalars)
        }
    }

    public func reshaped(_ shape: [Int]) -> Tensor { Tensor(dtype, shape, scalars) }

    static func rounded(_ xs: [Double], to dtype: DType) -> [Double] {
        switch dtype {
        case .f32: return xs.map { Double(Float($0)) }
        case .f64: return xs
        case .i32:
            // Wraps like i32 arithmetic; values beyond Int64 (which `Int(_:)` would trap on) saturate instead.
            return xs.map { x in
                guard x.isFinite else { return 0 }
                if x >= 0x1p63 { return Double(Int32.max) }
                if x <= -0x1p63 { return Double(Int32.min) }
                return Double(Int32(truncatingIfNeeded: Int(x)))
            }
        case .bool: return xs.map { $0 != 0 ? 1 : 0 }
        }
    }

    public var description: String {
        let shown = scalars.prefix(8).map { dtype.isFloat ? String(format6($0)) : String(Int($0)) }
        return "\(type)(\(shown.joined(separator: ", "))\(scalars.count > 8 ? ", …" : ""))"
    }
}

func format6(_ x: Double) -> String {
    if x == x.rounded() && abs(x) < 1e15 { return String(Int(x)) + ".0" }
    return String(x)
}

/// Largest absolute difference between two tensors of the same shape (for tests and checks).
public func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Double {
    precondition(a.shape == b.shape, "shapes differ: \(a.shape) vs \(b.shape)")
    var m = 0.0
    for i in 0..<a.count {
        let d = Swift.abs(a.scalars[i] - b.scalars[i])
        if d.isNaN { return .infinity }
        m = Swift.max(m, d)
    }
    return m
}
