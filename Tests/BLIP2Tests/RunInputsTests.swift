import BLIP2HF
import GraphIO
import GraphIR
import Testing

@Suite("graphc blip2 run: input files")
struct RunInputsTests {
    static func fixtureTensors(_ name: String) throws -> [String: Tensor] {
        try SafetensorsFile(path: FixtureFolders.path(name) + "/inputs.safetensors").allTensors()
    }

    static func error(_ name: String, model: RunModel = .conditionalGeneration, _ edit: (inout [String: Tensor]) -> Void) throws -> String {
        let config = try HFBlip2Config.load(path: FixtureFolders.path(name))
        var tensors = try fixtureTensors(name)
        edit(&tensors)
        do {
            _ = try RunInputs(tensors: tensors, config: config, model: model)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test("fixture inputs split into image, text and labels as HF uses them")
    func fixtureInputs() throws {
        let a = try RunInputs.load(path: FixtureFolders.path("opt-a") + "/inputs.safetensors",
                                   config: try HFBlip2Config.load(path: FixtureFolders.path("opt-a")), model: .conditionalGeneration)
        #expect(a.pixelValues.shape == [2, 3, 32, 32] && a.batch == 2 && a.textLength == 7)
        #expect(a.textIds[0][0] == 2 && a.textMask[1] == [1, 1, 1, 1, 1, 0, 0])
        let labels = try #require(try a.textLabels(queryCount: 6))
        // Row 1 masks BOS and one prompt token and its two padded positions.
        #expect(labels[1][0] == -100 && labels[1][1] == -100 && labels[1][2] == a.textIds[1][2] && labels[1][5...] == [-100, -100])
        #expect(labels[0][0] == 2)

        let t5 = try RunInputs(tensors: try Self.fixtureTensors("t5"), config: try HFBlip2Config.load(path: FixtureFolders.path("t5")),
                               model: .conditionalGeneration)
        #expect(t5.labels?.count == 2 && t5.labels?[0].count == 5 && t5.textIds[0].last == 1)

        let r = try RunInputs(tensors: try Self.fixtureTensors("retrieval"),
                              config: try HFBlip2Config.load(path: FixtureFolders.path("retrieval")), model: .retrieval)
        #expect(r.batch == 3 && r.textLength == 6 && r.labels == nil && r.textMask[1] == [1, 1, 1, 1, 0, 0])
    }

    @Test("bad inputs give an error naming the tensor and the problem")
    func badInputs() throws {
        #expect(try Self.error("opt-a") { $0["pixel_values"] = Tensor(.f32, [2, 3, 30, 30], repeating: 0) }
            .contains("'pixel_values' has shape [2, 3, 30, 30]; expected [batch, 3, 32, 32]"))
        #expect(try Self.error("opt-a") { $0["token_type_ids"] = Tensor(ints: [0], shape: [1]) }.contains("unknown input 'token_type_ids'"))
        #expect(try Self.error("opt-a") { $0["input_ids"] = nil }.contains("missing 'input_ids'"))
        #expect(try Self.error("opt-a") { t in
            var ids = t["input_ids"]!.ints
            ids[0] = 5
            t["input_ids"] = Tensor(ints: ids, shape: [2, 13])
        }.contains("'input_ids' row 0 must start with 6 image placeholders (image_token_index 95)"))
        #expect(try Self.error("opt-a") { t in
            var ids = t["input_ids"]!.ints
            ids[8] = 400
            t["input_ids"] = Tensor(ints: ids, shape: [2, 13])
        }.contains("'input_ids' row 0 position 8 is 400, outside the vocabulary of 96"))
        #expect(try Self.error("opt-a") { t in
            var mask = t["attention_mask"]!.ints
            mask[6] = 0  // first text position of row 0 padded while later ones are not: left padding
            t["attention_mask"] = Tensor(ints: mask, shape: [2, 13])
        }.contains("row 0 has padding before text (position 6); graphc takes right-padded rows"))
        #expect(try Self.error("opt-a") { $0["attention_mask"] = Tensor(ints: [Int](repeating: 2, count: 26), shape: [2, 13]) }
            .contains("'attention_mask' element 0 is 2.0; expected 0 or 1"))
        #expect(try Self.error("opt-a") { $0["labels"] = Tensor(ints: [Int](repeating: 3, count: 28), shape: [2, 14]) }
            .contains("'labels' has 14 positions but the sequence has 13"))
        #expect(try Self.error("retrieval", model: .retrieval) { $0["labels"] = Tensor(ints: [1], shape: [1, 1]) }
            .contains("'labels' is only an input of the conditional-generation model"))
        #expect(try Self.error("opt-a") { $0["labels"] = Tensor(ints: [Int](repeating: 500, count: 26), shape: [2, 13]) }
            .contains("'labels' element 0 is 500"))
    }

    @Test("labels on a visual prompt position are refused rather than silently dropped")
    func labelOnQueryPosition() throws {
        let config = try HFBlip2Config.load(path: FixtureFolders.path("opt-a"))
        var tensors = try Self.fixtureTensors("opt-a")
        var labels = tensors["labels"]!.ints
        labels[13 + 5] = 7
        tensors["labels"] = Tensor(ints: labels, shape: [2, 13])
        let inputs = try RunInputs(tensors: tensors, config: config, model: .conditionalGeneration)
        #expect(throws: GraphIOError.self) { try inputs.textLabels(queryCount: 6) }
    }
}
