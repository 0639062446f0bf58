import Foundation
import Testing
import GraphIR
@testable import GraphIO

/// Builds a safetensors byte image from a header text and data, optionally lying about the header length.
func safetensorsBytes(_ header: String, _ data: [UInt8], length: UInt64? = nil) -> [UInt8] {
    let h = Array(header.utf8)
    var out: [UInt8] = []
    withUnsafeBytes(of: (length ?? UInt64(h.count)).littleEndian) { out.append(contentsOf: $0) }
    return out + h + data
}

@Suite struct SafetensorsTests {
    @Test func readsPythonWrittenFixture() throws {
        let f = try SafetensorsFile(path: fixturePath("safetensors/python_written.safetensors"))
        #expect(f.metadata == ["format": "pt", "writer": "python-safetensors"])
        let a = (0..<12).map { Double($0) * 0.25 - 1 }
        for name in ["f32", "f16", "bf16"] {
            let t = try f.tensor(name)
            #expect(t.dtype == .f32 && t.shape == [3, 4] && t.scalars == a, "\(name)")
        }
        #expect(try f.tensor("f64").scalars == (0..<6).map { Double($0) / 3 })
        #expect(try f.tensor("i64").scalars == [-3, 0, 2147483647, -2147483648])
        #expect(try f.tensor("i32").scalars == [1, -2, 3, -4])
        #expect(try f.tensor("i8").scalars == [-128, -1, 0, 127])
        #expect(try f.tensor("u8").scalars == [0, 1, 128, 255])
        let b = try f.tensor("bool")
        #expect(b.dtype == .bool && b.scalars == [1, 0, 1])
        #expect(try f.tensor("scalar").shape == [] && f.tensor("scalar").scalar == 7.5)
        #expect(try f.tensor("empty").shape == [0, 3])
        #expect(try f.floats("empty").isEmpty && f.withFloats("empty") { $0.count } == 0)
        #expect(try f.floats("f16") == a.map(Float.init))
    }

    @Test func zeroCopyForAlignedF32() throws {
        let dir = temporaryDirectory()
        let path = dir + "/w.safetensors"
        let values: [Float] = (0..<1000).map { Float($0) * 0.001 }
        try SafetensorsWriter.write([SafetensorsEntry(name: "b", dtype: .U8, shape: [3], bytes: [1, 2, 3]),
                                     SafetensorsEntry(name: "w", floats: values, shape: [10, 100])], to: path)
        let f = try SafetensorsFile(path: path)
        let raw = try f.rawBytes("w")
        // "w" starts 3 bytes after an 8-aligned data section: not aligned, so it is copied.
        #expect(try !f.isZeroCopy("w"))
        #expect(try f.floats("w") == values)
        let path2 = dir + "/a.safetensors"
        try SafetensorsWriter.write([SafetensorsEntry(name: "w", floats: values, shape: [10, 100])], to: path2)
        let g = try SafetensorsFile(path: path2)
        #expect(try g.isZeroCopy("w"))
        let same = try g.withFloats("w") { buf in
            (UnsafeRawPointer(buf.baseAddress!) == (try? g.rawBytes("w").baseAddress) ?? nil, Array(buf))
        }
        #expect(same.0 && same.1 == values)
        #expect(raw.count == 4000)
    }

    @Test func writeThenReadRoundTripsEveryIRDtype() throws {
        let dir = temporaryDirectory()
        let path = dir + "/t.safetensors"
        let ts: [String: Tensor] = [
            "a.f32": Tensor(floats: [1.5, -2, 3.25, 0], shape: [2, 2]),
            "b.f64": Tensor(.f64, [3], [1.0 / 3, 2e-300, -7]),
            "c.i32": Tensor(ints: [-5, 0, 2_000_000_000], shape: [3]),
            "d.bool": Tensor(.bool, [2, 1], [1, 0]),
            "e.scalar": Tensor(scalar: 4),
        ]
        try SafetensorsWriter.write(ts, metadata: ["k": "v \"quoted\""], to: path)
        let f = try SafetensorsFile(path: path)
        #expect(f.metadata == ["k": "v \"quoted\""])
        #expect(try f.allTensors() == ts)
        // Overwriting is atomic and leaves no temporary files behind.
        try SafetensorsWriter.write(["x": Tensor(scalar: 1)], to: path)
        #expect(try SafetensorsFile(path: path).names == ["x"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["t.safetensors"])
    }

    @Test func halfPrecisionWritingRoundsLikePyTorch() throws {
        let path = temporaryDirectory() + "/h.safetensors"
        let xs: [Float] = [1, -2.5, 0.1, 65504, 1e-8, 3.14159, Float(bitPattern: 0x3F80_8000), Float(bitPattern: 0x3F81_8000)]
        try SafetensorsWriter.write([SafetensorsEntry(name: "h", floats: xs, shape: [8], storeAs: .F16),
                                     SafetensorsEntry(name: "b", floats: xs, shape: [8], storeAs: .BF16),
                                     SafetensorsEntry(name: "d", floats: xs, shape: [8], storeAs: .F64)], to: path)
        let f = try SafetensorsFile(path: path)
        #expect(try f.floats("h") == xs.map { Float(Float16($0)) })
        #expect(try f.floats("d") == xs)
        let b = try f.floats("b")
        #expect(b[0] == 1 && b[1] == -2.5 && b[5] == 3.140625)
        // Ties go to even: 1 + 2^-8 rounds down to 1, 1 + 3·2^-8 rounds up to 1 + 2^-6.
        #expect(b[6] == 1 && b[7] == Float(bitPattern: 0x3F82_0000))
        #expect(b.enumerated().allSatisfy { i, v in abs(v - xs[i]) <= abs(xs[i]) / 128 })
    }

    @Test func writerRejectsBadEntries() throws {
        let path = temporaryDirectory() + "/x.safetensors"
        expectIOError(["'w'", "needs 8 bytes"]) {
            try SafetensorsWriter.write([SafetensorsEntry(name: "w", dtype: .F32, shape: [2], bytes: [0])], to: path)
        }
        expectIOError(["'__metadata__'"]) {
            try SafetensorsWriter.write([SafetensorsEntry(name: "__metadata__", floats: [1], shape: [1])], to: path)
        }
        expectIOError(["cannot create temporary file"]) {
            try SafetensorsWriter.write([SafetensorsEntry(name: "w", floats: [1], shape: [1])], to: "/nonexistent-dir/x.safetensors")
        }
    }

    /// The corrupted-file corpus: each case must fail on open (or on conversion) with a message naming the place.
    @Test(arguments: corruptCases)
    func corruptFileGivesClearError(_ c: CorruptCase) throws {
        let path = temporaryDirectory() + "/\(c.name).safetensors"
        writeBytes(c.bytes, path)
        let message = expectIOError(c.fragments + [path]) {
            let f = try SafetensorsFile(path: path)
            _ = try f.allTensors()
        }
        #expect(!message.isEmpty)
    }

    @Test func shardedCheckpointLoads() throws {
        let dir = temporaryDirectory()
        try SafetensorsWriter.write(["a": Tensor(floats: [1, 2], shape: [2])], to: dir + "/model-00001-of-00002.safetensors")
        try SafetensorsWriter.write(["b": Tensor(ints: [7], shape: [1]), "c": Tensor(scalar: 3)],
                                    to: dir + "/model-00002-of-00002.safetensors")
        let index = """
        {"metadata": {"total_size": 16}, "weight_map": {"a": "model-00001-of-00002.safetensors",
         "b": "model-00002-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}}
        """
        writeBytes(Array(index.utf8), dir + "/model.safetensors.index.json")
        let ck = try SafetensorsCheckpoint(path: dir)
        #expect(ck.names == ["a", "b", "c"])
        #expect(try ck.tensor("b").scalars == [7])
        #expect(try ck.floats("a") == [1, 2])
        expectIOError(["no tensor named 'zz'"]) { _ = try ck.tensor("zz") }

        // An index that points at the wrong shard names the tensor and the shard.
        writeBytes(Array(index.replacingOccurrences(of: "\"a\": \"model-00001", with: "\"a\": \"model-00002").utf8),
                   dir + "/model.safetensors.index.json")
        expectIOError(["'a'", "model-00002-of-00002.safetensors"]) { _ = try SafetensorsCheckpoint(path: dir) }
        // A missing shard names the file.
        writeBytes(Array(#"{"weight_map": {"a": "missing.safetensors"}}"#.utf8), dir + "/model.safetensors.index.json")
        expectIOError(["missing.safetensors"]) { _ = try SafetensorsCheckpoint(path: dir) }
        // A single-file folder.
        let one = temporaryDirectory()
        try SafetensorsWriter.write(["z": Tensor(scalar: 2)], to: one + "/model.safetensors")
        #expect(try SafetensorsCheckpoint(path: one).tensor("z").scalar == 2)
    }
}

/// Writes a file for tools/check_safetensors_interop.py (which then loads it with Python's safetensors),
/// and checks it reads back here.
@Suite struct SafetensorsInteropTests {
    @Test func swiftWrittenFileForPython() throws {
        let path = ProcessInfo.processInfo.environment["GRAPHC_INTEROP_OUT"] ?? (temporaryDirectory() + "/swift_written.safetensors")
        let ts: [String: Tensor] = [
            "weight": Tensor(floats: (0..<6).map { Float($0) * 0.5 - 1 }, shape: [2, 3]),
            "ids": Tensor(ints: [101, 7592, 102], shape: [1, 3]),
            "mask": Tensor(.bool, [2], [1, 0]),
            "f64": Tensor(.f64, [2], [1.0 / 3, -2.5]),
        ]
        let half = SafetensorsEntry(name: "half", floats: [0.5, -1.25, 3], shape: [3], storeAs: .F16)
        try SafetensorsWriter.write(ts.keys.sorted().map { SafetensorsEntry(name: $0, tensor: ts[$0]!) } + [half],
                                    metadata: ["writer": "graphc"], to: path)
        let f = try SafetensorsFile(path: path)
        #expect(try ts.keys.allSatisfy { try f.tensor($0) == ts[$0]! })
        #expect(try f.floats("half") == [0.5, -1.25, 3])
    }
}

struct CorruptCase: CustomStringConvertible, Sendable {
    var name: String
    var bytes: [UInt8]
    var fragments: [String]
    var description: String { name }
}

let goodHeader = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
let eightBytes: [UInt8] = [0, 0, 128, 63, 0, 0, 0, 64]

let corruptCases: [CorruptCase] = [
    CorruptCase(name: "empty", bytes: [], fragments: ["0 bytes"]),
    CorruptCase(name: "truncated-length", bytes: [5, 0, 0], fragments: ["3 bytes", "8-byte header length"]),
    CorruptCase(name: "length-past-end", bytes: safetensorsBytes(goodHeader, eightBytes, length: 4096),
                fragments: ["header length 4096", "past the end"]),
    CorruptCase(name: "length-zero", bytes: safetensorsBytes("", eightBytes, length: 0), fragments: ["header length 0"]),
    CorruptCase(name: "length-huge", bytes: safetensorsBytes(goodHeader, eightBytes, length: UInt64(1) << 62),
                fragments: ["header length 4611686018427387904"]),
    CorruptCase(name: "length-short", bytes: safetensorsBytes(goodHeader, eightBytes, length: 20),
                fragments: ["header", "byte 20", "unexpected end"]),
    CorruptCase(name: "truncated-data", bytes: Array(safetensorsBytes(goodHeader, eightBytes).dropLast(3)),
                fragments: ["'w'", "data_offsets [0, 8]", "past the data section (5 bytes"]),
    CorruptCase(name: "not-json", bytes: safetensorsBytes("{not json}", []), fragments: ["byte 1", "expected a string key"]),
    CorruptCase(name: "not-object", bytes: safetensorsBytes("[1, 2]", []), fragments: ["does not start with '{'"]),
    CorruptCase(name: "trailing-garbage", bytes: safetensorsBytes(goodHeader + "}", eightBytes), fragments: ["after the JSON value"]),
    CorruptCase(name: "bad-utf8", bytes: safetensorsBytes("{\"w\u{1}\":1}", []), fragments: ["control character"]),
    CorruptCase(name: "unknown-dtype", bytes: safetensorsBytes(goodHeader.replacingOccurrences(of: "F32", with: "F8_E9"), eightBytes),
                fragments: ["'w'", "unknown or unsupported dtype \"F8_E9\""]),
    CorruptCase(name: "dtype-not-string", bytes: safetensorsBytes(goodHeader.replacingOccurrences(of: "\"F32\"", with: "4"), eightBytes),
                fragments: ["'w'", "dtype"]),
    CorruptCase(name: "wrong-dtype-size", bytes: safetensorsBytes(goodHeader.replacingOccurrences(of: "F32", with: "F64"), eightBytes),
                fragments: ["'w'", "needs 16 bytes", "hold 8"]),
    CorruptCase(name: "shape-mismatch", bytes: safetensorsBytes(goodHeader.replacingOccurrences(of: "[2]", with: "[3]"), eightBytes),
                fragments: ["'w'", "needs 12 bytes"]),
    CorruptCase(name: "negative-dim", bytes: safetensorsBytes(goodHeader.replacingOccurrences(of: "[2]", with: "[-2]"), eightBytes),
                fragments: ["'w'", "shape[0]"]),
    CorruptCase(name: "huge-shape-overflow", bytes: safetensorsBytes(
        goodHeader.replacingOccurrences(of: "[2]", with: "[4294967296,4294967296,4]"), eightBytes),
                fragments: ["'w'", "overflows"]),
    CorruptCase(name: "huge-shape-bytes-overflow", bytes: safetensorsBytes(
        goodHeader.replacingOccurrences(of: "[2]", with: "[4611686018427387904]"), eightBytes),
                fragments: ["'w'", "overflows"]),
    CorruptCase(name: "huge-shape-in-range", bytes: safetensorsBytes(
        #"{"w":{"dtype":"U8","shape":[1000000000000],"data_offsets":[0,1000000000000]}}"#, eightBytes),
                fragments: ["'w'", "past the data section"]),
    CorruptCase(name: "offset-not-integer", bytes: safetensorsBytes(goodHeader.replacingOccurrences(of: "[0,8]", with: "[0,8.5]"), eightBytes),
                fragments: ["'w'", "two integers"]),
    CorruptCase(name: "offsets-reversed", bytes: safetensorsBytes(goodHeader.replacingOccurrences(of: "[0,8]", with: "[8,0]"), eightBytes),
                fragments: ["'w'", "[8, 0]"]),
    CorruptCase(name: "out-of-range", bytes: safetensorsBytes(goodHeader.replacingOccurrences(of: "[0,8]", with: "[8,16]"), eightBytes),
                fragments: ["'w'", "[8, 16]", "past the data section"]),
    CorruptCase(name: "overlap", bytes: safetensorsBytes(
        #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, eightBytes),
                fragments: ["'b'", "4..<8", "overlaps tensor 'a'"]),
    CorruptCase(name: "hole", bytes: safetensorsBytes(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, eightBytes),
                fragments: ["hole", "0..<4", "'a'"]),
    CorruptCase(name: "trailing-bytes", bytes: safetensorsBytes(goodHeader, eightBytes + [1, 2]),
                fragments: ["10 bytes", "cover only 8"]),
    CorruptCase(name: "metadata-not-strings", bytes: safetensorsBytes(#"{"__metadata__":{"format":1}}"#, []),
                fragments: ["__metadata__[\"format\"]", "expected a string"]),
    CorruptCase(name: "duplicate-name", bytes: safetensorsBytes(
        #"{"w":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"w":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}}"#, eightBytes),
                fragments: ["duplicate key \"w\""]),
    CorruptCase(name: "unknown-field", bytes: safetensorsBytes(
        #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}}"#, eightBytes),
                fragments: ["'w'", "unexpected field \"extra\""]),
    CorruptCase(name: "deep-nesting", bytes: safetensorsBytes("{\"w\":" + String(repeating: "[", count: 100_000), []),
                fragments: ["nesting deeper than 256"]),
    CorruptCase(name: "i64-out-of-i32-range", bytes: safetensorsBytes(
        #"{"n":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, [0, 0, 0, 0, 1, 0, 0, 0]),
                fragments: ["'n'", "element 0", "does not fit in i32"]),
]

/// The real MiniLM-L6 checkpoint (91 MB, fetched by Tools/fetch_assets.sh). Skipped when absent.
@Suite struct SafetensorsRealCheckpointTests {
    static let path = assetPath("minilm/model.safetensors")

    @Test(.enabled(if: path != nil, "MiniLM checkpoint absent: run Tools/fetch_assets.sh"))
    func readsMiniLMCheckpoint() throws {
        let f = try SafetensorsFile(path: Self.path!)
        #expect(f.tensors.count == 104)
        #expect(f.tensors.filter { $0.dtype == .F32 }.count == 103)
        #expect(try f.info("embeddings.position_ids").dtype == .I64)
        #expect(try f.info("embeddings.word_embeddings.weight").shape == [30522, 384])
        #expect(f.metadata == ["format": "pt"])
        #expect(try f.isZeroCopy("encoder.layer.0.attention.self.query.weight"))
        let ids = try f.tensor("embeddings.position_ids")
        #expect(ids.scalars == (0..<512).map(Double.init))
        let norm = try f.withFloats("embeddings.LayerNorm.weight") { Array($0) }
        #expect(norm.count == 384 && norm.allSatisfy { $0.isFinite && $0 != 0 })
    }
}
