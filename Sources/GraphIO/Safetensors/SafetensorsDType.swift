import GraphIR

/// The element types the safetensors format names in its header.
public enum SafetensorsDType: String, CaseIterable, Sendable {
    case F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL

    public var byteSize: Int {
        switch self {
        case .F64, .I64, .U64: return 8
        case .F32, .I32, .U32: return 4
        case .F16, .BF16, .I16, .U16: return 2
        case .I8, .U8, .BOOL: return 1
        }
    }

    public var isFloat: Bool { self == .F64 || self == .F32 || self == .F16 || self == .BF16 }

    /// The IR dtype a tensor of this type converts to: floats below 64 bits widen or stay `f32`,
    /// integers become `i32` (range-checked), `BOOL` stays `bool`.
    public var irType: DType {
        switch self {
        case .F64: return .f64
        case .F32, .F16, .BF16: return .f32
        case .BOOL: return .bool
        default: return .i32
        }
    }

    /// The safetensors dtype that stores an IR dtype without loss.
    public init(_ d: DType) {
        switch d {
        case .f32: self = .F32
        case .f64: self = .F64
        case .i32: self = .I32
        case .bool: self = .BOOL
        }
    }

    /// Reads element `i` of a little-endian buffer of this type as a Double (exact for every integer type
    /// up to 2^53, and for every float type).
    @inline(__always)
    func load(_ p: UnsafeRawBufferPointer, _ i: Int) -> Double {
        let o = i * byteSize
        switch self {
        case .F64: return p.loadUnaligned(fromByteOffset: o, as: Double.self)
        case .F32: return Double(p.loadUnaligned(fromByteOffset: o, as: Float.self))
        case .F16: return Double(Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: o, as: UInt16.self))))
        case .BF16: return Double(Float(bitPattern: UInt32(p.loadUnaligned(fromByteOffset: o, as: UInt16.self)) << 16))
        case .I64: return Double(p.loadUnaligned(fromByteOffset: o, as: Int64.self))
        case .I32: return Double(p.loadUnaligned(fromByteOffset: o, as: Int32.self))
        case .I16: return Double(p.loadUnaligned(fromByteOffset: o, as: Int16.self))
        case .I8: return Double(p.loadUnaligned(fromByteOffset: o, as: Int8.self))
        case .U64: return Double(p.loadUnaligned(fromByteOffset: o, as: UInt64.self))
        case .U32: return Double(p.loadUnaligned(fromByteOffset: o, as: UInt32.self))
        case .U16: return Double(p.loadUnaligned(fromByteOffset: o, as: UInt16.self))
        case .U8: return Double(p[o])
        case .BOOL: return p[o] != 0 ? 1 : 0
        }
    }
}
