import Foundation
import GraphIR
#if canImport(Glibc)
import Glibc
#endif

/// One tensor to write: name, safetensors dtype, shape and its little-endian bytes.
public struct SafetensorsEntry: Sendable {
    public var name: String
    public var dtype: SafetensorsDType
    public var shape: [Int]
    public var bytes: [UInt8]

    /// Raw little-endian bytes; their count must equal shape × dtype size (checked when encoding).
    public init(name: String, dtype: SafetensorsDType, shape: [Int], bytes: [UInt8]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// An `F32` entry from floats.
    public init(name: String, floats: [Float], shape: [Int]) {
        self.init(name: name, dtype: .F32, shape: shape, bytes: floats.withUnsafeBytes { Array($0) })
    }

    /// Floats stored as `F32`, `F64`, `F16` (IEEE rounding) or `BF16` (round to nearest even, as PyTorch).
    public init(name: String, floats: [Float], shape: [Int], storeAs dtype: SafetensorsDType) {
        var bytes: [UInt8]
        switch dtype {
        case .F64: bytes = floats.map(Double.init).withUnsafeBytes { Array($0) }
        case .F16: bytes = floats.map { Float16($0).bitPattern.littleEndian }.withUnsafeBytes { Array($0) }
        case .BF16: bytes = floats.map { bfloat16Bits($0).littleEndian }.withUnsafeBytes { Array($0) }
        default:
            precondition(dtype == .F32, "SafetensorsEntry: floats can be stored as F32, F64, F16 or BF16, not \(dtype)")
            bytes = floats.withUnsafeBytes { Array($0) }
        }
        self.init(name: name, dtype: dtype, shape: shape, bytes: bytes)
    }

    /// An entry from a host tensor, stored in the safetensors dtype matching its IR dtype.
    public init(name: String, tensor: Tensor) {
        let dt = SafetensorsDType(tensor.dtype)
        var bytes: [UInt8]
        switch tensor.dtype {
        case .f32: bytes = tensor.floats.withUnsafeBytes { Array($0) }
        case .f64: bytes = tensor.scalars.withUnsafeBytes { Array($0) }
        case .i32: bytes = tensor.scalars.map { Int32($0) }.withUnsafeBytes { Array($0) }
        case .bool: bytes = tensor.scalars.map { $0 != 0 ? 1 : 0 }
        }
        self.init(name: name, dtype: dt, shape: tensor.shape, bytes: bytes)
    }
}

/// bfloat16 bits of a float: round to nearest, ties to even; NaN stays a (quiet) NaN.
func bfloat16Bits(_ x: Float) -> UInt16 {
    if x.isNaN { return 0x7FC0 }
    let bits = x.bitPattern
    return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
}

/// Writes safetensors files atomically: the bytes go to a temporary file in the destination directory,
/// which is flushed (`fsync`) and renamed over the destination, so a reader never sees half a file.
public enum SafetensorsWriter {
    /// The complete file contents: header padded with spaces to a multiple of 8 bytes (so data that
    /// starts 8-aligned keeps `F32`/`F64` aligned in a memory map), then the data in the given order.
    public static func encode(_ entries: [SafetensorsEntry], metadata: [String: String] = [:]) throws -> [UInt8] {
        var parts: [String] = []
        if !metadata.isEmpty {
            let m = metadata.keys.sorted().map { "\(jsonQuoted($0)):\(jsonQuoted(metadata[$0]!))" }
            parts.append("\"__metadata__\":{\(m.joined(separator: ","))}")
        }
        var seen = Set<String>()
        var offset = 0
        for e in entries {
            guard e.name != "__metadata__", seen.insert(e.name).inserted else {
                throw GraphIOError(.safetensors, "cannot write tensor name '\(e.name)' (duplicate or reserved)")
            }
            let needed = e.shape.reduce(1, *) * e.dtype.byteSize
            guard e.shape.allSatisfy({ $0 >= 0 }), needed == e.bytes.count else {
                throw GraphIOError(.safetensors, "tensor '\(e.name)': shape \(e.shape) of \(e.dtype.rawValue) needs \(needed) bytes, got \(e.bytes.count)")
            }
            let shape = e.shape.map(String.init).joined(separator: ",")
            parts.append("\(jsonQuoted(e.name)):{\"dtype\":\"\(e.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + needed)]}")
            offset += needed
        }
        var header = Array(("{" + parts.joined(separator: ",") + "}").utf8)
        while (8 + header.count) % 8 != 0 { header.append(0x20) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for e in entries { out.append(contentsOf: e.bytes) }
        return out
    }

    /// Encodes and writes atomically to `path`.
    public static func write(_ entries: [SafetensorsEntry], metadata: [String: String] = [:], to path: String) throws {
        try writeAtomically(encode(entries, metadata: metadata), to: path)
    }

    /// Writes host tensors (sorted by name) atomically to `path`.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to path: String) throws {
        try write(tensors.keys.sorted().map { SafetensorsEntry(name: $0, tensor: tensors[$0]!) }, metadata: metadata, to: path)
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory, fsync and rename, so the
/// destination holds either the old or the complete new contents.
public func writeAtomically(_ bytes: [UInt8], to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let dir = url.deletingLastPathComponent().path
    let tmp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    func fail(_ what: String) -> GraphIOError {
        GraphIOError(.file, "\(path): \(what) (\(String(cString: strerror(errno))))")
    }
    let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o644)
    guard fd >= 0 else { throw fail("cannot create temporary file \(tmp)") }
    var ok = false
    defer {
        if !ok { unlink(tmp) }
    }
    var written = 0
    let failure: GraphIOError? = bytes.withUnsafeBytes { buf -> GraphIOError? in
        while written < buf.count {
            let n = Glibc.write(fd, buf.baseAddress! + written, buf.count - written)
            if n < 0 {
                if errno == EINTR { continue }
                return fail("write failed after \(written) bytes")
            }
            written += n
        }
        return nil
    }
    if let failure {
        close(fd)
        throw failure
    }
    guard fsync(fd) == 0 else {
        close(fd)
        throw fail("fsync failed")
    }
    close(fd)
    guard rename(tmp, path) == 0 else { throw fail("rename from \(tmp) failed") }
    ok = true
    // Flush the directory entry too, so the rename itself survives a crash.
    let dfd = open(dir, O_RDONLY)
    if dfd >= 0 {
        fsync(dfd)
        close(dfd)
    }
}
