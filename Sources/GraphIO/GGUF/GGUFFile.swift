import Foundation

/// A GGUF metadata value.
public enum GGUFValue: Equatable, Sendable {
    case uint(UInt64)
    case int(Int64)
    case float(Double)
    case bool(Bool)
    case string(String)
    case array([GGUFValue])

    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var arrayValue: [GGUFValue]? { if case .array(let a) = self { return a } else { return nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var intValue: Int? {
        switch self {
        case .uint(let u): return u <= UInt64(Int.max) ? Int(u) : nil
        case .int(let i): return Int(i)
        default: return nil
        }
    }
}

/// One tensor entry of a GGUF file (the data is not read here).
public struct GGUFTensorInfo: Equatable, Sendable {
    public var name: String
    /// GGUF order: fastest-varying dimension first.
    public var dimensions: [Int]
    /// ggml type code (0 F32, 1 F16, 2 Q4_0, 3 Q4_1, 8 Q8_0, …).
    public var type: UInt32
    /// Offset relative to the aligned start of the data section.
    public var offset: Int
}

/// Reads the header, metadata and tensor table of a GGUF file (versions 2 and 3), memory-mapped and
/// bounds-checked: every length and count is checked against the bytes that remain, so a truncated or
/// hostile file gives an error naming the key and offset, never a crash or a huge allocation.
public final class GGUFFile: @unchecked Sendable {
    public let path: String
    public let version: UInt32
    /// Metadata keys in file order.
    public let keys: [String]
    public let metadata: [String: GGUFValue]
    public let tensors: [GGUFTensorInfo]
    /// Absolute file offset of the (aligned) data section.
    public let dataOffset: Int
    let file: MappedFile

    /// Maps and parses `path`; errors name the key or tensor and the byte offset.
    public init(path: String) throws {
        let file = try MappedFile(path: path)
        self.file = file
        self.path = path
        var r = Reader(bytes: file.bytes(0..<file.count), path: path)
        guard file.count >= 4, Array(file.bytes(0..<4)) == Array("GGUF".utf8) else {
            throw GraphIOError(.gguf, "\(path): not a GGUF file (missing \"GGUF\" magic at offset 0)")
        }
        r.pos = 4
        version = try r.u32("version")
        guard version == 2 || version == 3 else { throw GraphIOError(.gguf, "\(path): unsupported GGUF version \(version)") }
        let tensorCount = try r.u64("tensor count")
        let kvCount = try r.u64("metadata count")
        guard kvCount <= UInt64(r.remaining), tensorCount <= UInt64(r.remaining) else {
            throw GraphIOError(.gguf, "\(path): header counts (\(tensorCount) tensors, \(kvCount) keys) exceed the file size")
        }
        var keys: [String] = []
        var meta: [String: GGUFValue] = [:]
        for _ in 0..<Int(kvCount) {
            let keyPos = r.pos
            let key = try r.string("metadata key")
            let type = try r.u32("type of '\(key)'")
            let v = try r.value(type: type, what: "'\(key)'", depth: 0)
            guard meta[key] == nil else { throw GraphIOError(.gguf, "\(path): offset \(keyPos): duplicate key '\(key)'") }
            keys.append(key)
            meta[key] = v
        }
        var infos: [GGUFTensorInfo] = []
        for i in 0..<Int(tensorCount) {
            let name = try r.string("tensor \(i) name")
            let nd = try r.u32("dimension count of '\(name)'")
            guard nd <= 8 else { throw GraphIOError(.gguf, "\(path): tensor '\(name)' has \(nd) dimensions (max 8)") }
            var dims: [Int] = []
            for _ in 0..<Int(nd) {
                let d = try r.u64("dimension of '\(name)'")
                guard d <= UInt64(Int32.max) else { throw GraphIOError(.gguf, "\(path): tensor '\(name)' dimension \(d) too large") }
                dims.append(Int(d))
            }
            let type = try r.u32("type of '\(name)'")
            let off = try r.u64("offset of '\(name)'")
            guard off <= UInt64(file.count) else { throw GraphIOError(.gguf, "\(path): tensor '\(name)' offset \(off) is past the end of the file") }
            infos.append(GGUFTensorInfo(name: name, dimensions: dims, type: type, offset: Int(off)))
        }
        let alignment = meta["general.alignment"]?.intValue ?? 32
        guard alignment > 0, alignment <= 1 << 16 else { throw GraphIOError(.gguf, "\(path): general.alignment \(alignment) is invalid") }
        dataOffset = (r.pos + alignment - 1) / alignment * alignment
        self.keys = keys
        metadata = meta
        tensors = infos
    }

    /// A bounds-checked little-endian cursor.
    struct Reader {
        let bytes: UnsafeRawBufferPointer
        let path: String
        var pos = 0
        var remaining: Int { bytes.count - pos }

        init(bytes: UnsafeRawBufferPointer, path: String) {
            self.bytes = bytes
            self.path = path
        }

        mutating func need(_ n: Int, _ what: String) throws {
            guard n >= 0, n <= remaining else {
                throw GraphIOError(.gguf, "\(path): offset \(pos): \(what) needs \(n) bytes but only \(remaining) remain (truncated?)")
            }
        }
        mutating func load<T: FixedWidthInteger>(_ t: T.Type, _ what: String) throws -> T {
            try need(MemoryLayout<T>.size, what)
            let v = T(littleEndian: bytes.loadUnaligned(fromByteOffset: pos, as: T.self))
            pos += MemoryLayout<T>.size
            return v
        }
        mutating func u32(_ what: String) throws -> UInt32 { try load(UInt32.self, what) }
        mutating func u64(_ what: String) throws -> UInt64 { try load(UInt64.self, what) }
        mutating func string(_ what: String) throws -> String {
            let start = pos
            let n = try u64("length of \(what)")
            guard n <= UInt64(remaining) else {
                throw GraphIOError(.gguf, "\(path): offset \(start): \(what) claims \(n) bytes but only \(remaining) remain")
            }
            let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[pos..<(pos + Int(n))]), as: UTF8.self)
            pos += Int(n)
            return s
        }
        mutating func value(type: UInt32, what: String, depth: Int) throws -> GGUFValue {
            switch type {
            case 0: return .uint(UInt64(try load(UInt8.self, what)))
            case 1: return .int(Int64(try load(Int8.self, what)))
            case 2: return .uint(UInt64(try load(UInt16.self, what)))
            case 3: return .int(Int64(try load(Int16.self, what)))
            case 4: return .uint(UInt64(try load(UInt32.self, what)))
            case 5: return .int(Int64(try load(Int32.self, what)))
            case 6: return .float(Double(Float(bitPattern: try load(UInt32.self, what))))
            case 7: return .bool(try load(UInt8.self, what) != 0)
            case 8: return .string(try string(what))
            case 9:
                guard depth < 4 else { throw GraphIOError(.gguf, "\(path): offset \(pos): \(what): arrays nested too deeply") }
                let start = pos
                let et = try u32("element type of \(what)")
                let n = try u64("length of \(what)")
                // Every element takes at least one byte, so a count above the remaining bytes is a lie.
                guard n <= UInt64(remaining) else {
                    throw GraphIOError(.gguf, "\(path): offset \(start): \(what) claims \(n) elements but only \(remaining) bytes remain")
                }
                var items: [GGUFValue] = []
                items.reserveCapacity(Int(n))
                for _ in 0..<Int(n) { items.append(try value(type: et, what: what, depth: depth + 1)) }
                return .array(items)
            case 10: return .uint(try load(UInt64.self, what))
            case 11: return .int(try load(Int64.self, what))
            case 12: return .float(Double(bitPattern: try load(UInt64.self, what)))
            default: throw GraphIOError(.gguf, "\(path): offset \(pos - 4): \(what) has unknown value type \(type)")
            }
        }
    }
}
