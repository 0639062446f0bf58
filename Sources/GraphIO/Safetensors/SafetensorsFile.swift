import Foundation
import GraphIR

/// One tensor entry of a safetensors header, after validation.
public struct SafetensorsTensorInfo: Hashable, Sendable {
    public var name: String
    public var dtype: SafetensorsDType
    public var shape: [Int]
    /// Byte range relative to the start of the data section (the header's `data_offsets`).
    public var dataOffsets: Range<Int>
    public var count: Int { shape.reduce(1, *) }
}

/// A memory-mapped safetensors file (https://github.com/huggingface/safetensors): an 8-byte little-endian
/// header length N, N bytes of JSON header, then the data section.
///
/// Opening validates the whole header before any tensor is touched: JSON syntax, dtype names, shapes,
/// `shape × dtype size = byte range`, every range inside the data section, no overlaps and no holes
/// (as the reference implementation requires), a sane header length, and `__metadata__` as a string map.
/// Every error names the file, the tensor and the offset. Tensor data is read lazily from the map;
/// `F32` tensors whose bytes are 4-byte aligned in memory are exposed without copying.
/// Data is little-endian, as the format specifies (this code assumes a little-endian host).
public final class SafetensorsFile: @unchecked Sendable {
    /// The reference implementation's limit on the header size (100 MB).
    public static let maxHeaderLength = 100_000_000

    public let path: String
    /// Tensors in data order.
    public let tensors: [SafetensorsTensorInfo]
    /// The `__metadata__` string map (empty when absent).
    public let metadata: [String: String]
    let file: MappedFile
    let dataStart: Int
    let index: [String: Int]

    /// Maps `path` and validates its whole header (see the type's documentation).
    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    init(file: MappedFile) throws {
        self.file = file
        self.path = file.path
        let path = file.path
        func fail(_ what: String) -> GraphIOError { GraphIOError(.safetensors, "\(path): \(what)") }
        guard file.count >= 8 else {
            throw fail("file is \(file.count) bytes, shorter than the 8-byte header length field")
        }
        let n64 = file.bytes(0..<8).loadUnaligned(as: UInt64.self).littleEndian
        guard n64 > 0, n64 <= UInt64(SafetensorsFile.maxHeaderLength) else {
            throw fail("header length \(n64) at offset 0 is outside 1...\(SafetensorsFile.maxHeaderLength)")
        }
        let n = Int(n64)
        guard 8 + n <= file.count else {
            throw fail("header length \(n) at offset 0 runs past the end of the file (\(file.count) bytes; truncated or lying header length)")
        }
        dataStart = 8 + n
        let dataSize = file.count - dataStart
        let headerBytes = file.bytes(8..<(8 + n))
        guard headerBytes.first == UInt8(ascii: "{") else {
            throw fail("header at offset 8 does not start with '{' (not a safetensors file?)")
        }
        let root: JSONValue
        do {
            root = try JSONParser.parse(headerBytes, context: "\(path): header")
        } catch let e as GraphIOError {
            throw GraphIOError(.safetensors, e.message + " (header starts at file offset 8)")
        }
        guard let obj = root.objectValue else { throw fail("header is not a JSON object") }

        var meta: [String: String] = [:]
        var infos: [SafetensorsTensorInfo] = []
        for key in obj.keys {
            let v = obj[key]!
            if key == "__metadata__" {
                guard let m = v.objectValue else { throw fail("__metadata__ is \(v.kindName), expected an object of strings") }
                for mk in m.keys {
                    guard let s = m[mk]!.stringValue else {
                        throw fail("__metadata__[\"\(mk)\"] is \(m[mk]!.kindName), expected a string")
                    }
                    meta[mk] = s
                }
                continue
            }
            infos.append(try SafetensorsFile.entry(key, v, dataSize: dataSize, fail: fail))
        }
        infos.sort { ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound) }
        var end = 0
        var previous: String?
        for t in infos {
            if t.dataOffsets.lowerBound < end {
                throw fail("tensor '\(t.name)' data \(t.dataOffsets.lowerBound)..<\(t.dataOffsets.upperBound) overlaps tensor '\(previous ?? "")' (ends at \(end))")
            }
            if t.dataOffsets.lowerBound > end {
                throw fail("hole in the data section: bytes \(end)..<\(t.dataOffsets.lowerBound) before tensor '\(t.name)' belong to no tensor")
            }
            end = t.dataOffsets.upperBound
            previous = t.name
        }
        if end != dataSize {
            throw fail("data section is \(dataSize) bytes but the tensors cover only \(end) (trailing bytes at file offset \(dataStart + end))")
        }
        tensors = infos
        metadata = meta
        var idx: [String: Int] = [:]
        for (i, t) in infos.enumerated() { idx[t.name] = i }
        index = idx
    }

    /// Validates one header entry.
    static func entry(_ name: String, _ v: JSONValue, dataSize: Int,
                      fail: (String) -> GraphIOError) throws -> SafetensorsTensorInfo {
        guard let o = v.objectValue else { throw fail("tensor '\(name)': entry is \(v.kindName), expected an object") }
        for k in o.keys where !["dtype", "shape", "data_offsets"].contains(k) {
            throw fail("tensor '\(name)': unexpected field \"\(k)\"")
        }
        guard let dtName = o["dtype"]?.stringValue else { throw fail("tensor '\(name)': missing or non-string \"dtype\"") }
        guard let dtype = SafetensorsDType(rawValue: dtName) else {
            throw fail("tensor '\(name)': unknown or unsupported dtype \"\(dtName)\" (supported: \(SafetensorsDType.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard let shapeArr = o["shape"]?.arrayValue else { throw fail("tensor '\(name)': missing or non-array \"shape\"") }
        var shape: [Int] = []
        var count = 1
        for (i, d) in shapeArr.enumerated() {
            guard let n = d.intValue, n >= 0 else { throw fail("tensor '\(name)': shape[\(i)] is not a non-negative integer") }
            let (c, overflow) = count.multipliedReportingOverflow(by: n)
            guard !overflow else { throw fail("tensor '\(name)': shape \(shapeArr.map { $0.intValue ?? -1 }) overflows the element count") }
            count = c
            shape.append(n)
        }
        guard let offs = o["data_offsets"]?.arrayValue, offs.count == 2,
              let begin = offs[0].intValue, let end = offs[1].intValue else {
            throw fail("tensor '\(name)': \"data_offsets\" must be an array of two integers")
        }
        guard begin >= 0, begin <= end else { throw fail("tensor '\(name)': data_offsets [\(begin), \(end)] are not ordered non-negative offsets") }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw fail("tensor '\(name)': shape \(shape) × \(dtype.byteSize) bytes overflows") }
        guard end - begin == bytes else {
            throw fail("tensor '\(name)': shape \(shape) of \(dtype.rawValue) needs \(bytes) bytes but data_offsets [\(begin), \(end)] hold \(end - begin)")
        }
        guard end <= dataSize else {
            throw fail("tensor '\(name)': data_offsets [\(begin), \(end)] run past the data section (\(dataSize) bytes; file truncated?)")
        }
        return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }

    public var names: [String] { tensors.map(\.name) }
    public func contains(_ name: String) -> Bool { index[name] != nil }

    /// The validated header entry of a tensor; unknown names are an error naming the file.
    public func info(_ name: String) throws -> SafetensorsTensorInfo {
        guard let i = index[name] else { throw GraphIOError(.safetensors, "\(path): no tensor named '\(name)'") }
        return tensors[i]
    }

    /// The raw little-endian bytes of a tensor, valid while this object is alive.
    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        let t = try info(name)
        return file.bytes((dataStart + t.dataOffsets.lowerBound)..<(dataStart + t.dataOffsets.upperBound))
    }

    /// True when `withFloats` hands out the mapped bytes themselves (an `F32` tensor, 4-byte aligned).
    public func isZeroCopy(_ name: String) throws -> Bool {
        let t = try info(name)
        guard t.dtype == .F32 else { return false }
        return Int(bitPattern: try rawBytes(name).baseAddress) % MemoryLayout<Float>.alignment == 0
    }

    /// Calls `body` with the tensor's values as `Float`s: the mapped memory itself for aligned `F32`,
    /// otherwise a converted copy. The buffer must not escape `body`.
    public func withFloats<R>(_ name: String, _ body: (UnsafeBufferPointer<Float>) throws -> R) throws -> R {
        let t = try info(name)
        let raw = try rawBytes(name)
        if try isZeroCopy(name) {
            return try body(UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: Float.self), count: t.count))
        }
        let copy = try floats(name)
        return try copy.withUnsafeBufferPointer { try body($0) }
    }

    /// The tensor's values converted to `Float` (any dtype; integers convert exactly up to 2^24).
    public func floats(_ name: String) throws -> [Float] {
        let t = try info(name)
        let raw = try rawBytes(name)
        if t.count == 0 { return [] }
        if t.dtype == .F32 {
            return [Float](unsafeUninitializedCapacity: t.count) { buf, n in
                _ = memcpy(buf.baseAddress!, raw.baseAddress!, t.count * 4)
                n = t.count
            }
        }
        return (0..<t.count).map { Float(t.dtype.load(raw, $0)) }
    }

    /// The tensor as a host `Tensor` of dtype `dtype.irType`. 64-bit and unsigned integers must fit in `i32`;
    /// the error names the tensor and the element that does not.
    public func tensor(_ name: String) throws -> Tensor {
        let t = try info(name)
        let raw = try rawBytes(name)
        var values = [Double](repeating: 0, count: t.count)
        for i in 0..<t.count { values[i] = t.dtype.load(raw, i) }
        if t.dtype.irType == .i32, t.dtype.byteSize >= 4 {
            for (i, v) in values.enumerated() where v < Double(Int32.min) || v > Double(Int32.max) {
                throw GraphIOError(.safetensors, "\(path): tensor '\(name)' element \(i) = \(v) does not fit in i32 (file offset \(dataStart + t.dataOffsets.lowerBound + i * t.dtype.byteSize))")
            }
        }
        return Tensor(t.dtype.irType, t.shape, values)
    }

    /// Every tensor converted with `tensor(_:)`.
    public func allTensors() throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for t in tensors { out[t.name] = try tensor(t.name) }
        return out
    }
}
