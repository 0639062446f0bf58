import GraphIR
import Testing
@testable import GraphPasses

@Suite struct FreezeTests {
    @Test func foldsFrozenWeightWorkIntoDerivedParameters() throws {
        let m = try TestModels.frozenEncoder()
        let frozen = try freeze(m.graph, parameterValues: m.parameters)
        // transpose(enc.weight_t) and 2 * enc.scale become frozen parameters; trainable work stays.
        #expect(Set(frozen.derived.keys) == ["enc.weight_t.transpose", "enc.scale.mul"])
        #expect(!frozen.graph.nodes.contains { $0.op == .transpose })
        #expect(frozen.graph.nodes.filter { $0.op == .matmul }.count == 4)
        let params = m.parameters.merging(frozen.derived) { a, _ in a }
        #expect(try maxOutputDifference(m.graph, frozen.graph, inputs: m.inputs, parameters: params) == 0)
        // The derived transpose holds the transposed values.
        let wt = m.parameters["enc.weight_t"]!, folded = frozen.derived["enc.weight_t.transpose"]!
        #expect(folded.shape == [6, 4] && folded.scalars[1 * 4 + 2] == wt.scalars[2 * 6 + 1])
    }

    @Test func leavesTrainableAndDownstreamFrozenWorkAlone() throws {
        let m = try TestModels.frozenEncoder()
        let frozen = try freeze(m.graph, parameterValues: m.parameters)
        // The frozen output layer reads the trainable head: it stays a matmul on the frozen weight.
        let outWeight = try #require(frozen.graph.parameters.first { $0.name == "out.weight" })
        #expect(frozen.graph.nodes.contains { $0.op == .matmul && $0.operands.contains(outWeight.value) })
        // Without values nothing frozen folds.
        #expect(try freeze(m.graph).derived.isEmpty)
    }

    @Test func badValueIsAClearError() throws {
        let m = try TestModels.frozenEncoder()
        var params = m.parameters
        params["enc.scale"] = Tensor(.f32, [5], repeating: 1)
        #expect { try freeze(m.graph, parameterValues: params) } throws: { e in
            (e as? GraphError)?.message.contains("enc.scale") == true
        }
    }

    @Test func splitsTheFrozenPrefixAndRecombinesExactly() throws {
        let m = try TestModels.frozenEncoder()
        let split = splitFrozenPrefix(m.graph)
        #expect(split.boundary == ["encoder/%12"])
        #expect(split.prefix.inputs.map(\.name) == ["image"])
        #expect(Set(split.prefix.parameters.map(\.name)) == ["enc.weight", "enc.weight_t", "enc.scale"])
        // The rest takes the features as an input, and no longer reads the image or the encoder weights.
        #expect(Set(split.rest.inputs.map(\.name)) == ["text", "encoder/%12"])
        #expect(Set(split.rest.parameters.map(\.name)) == ["head.weight", "head.bias", "out.weight"])
        let features = try Interpreter().run(split.prefix, inputs: m.inputs, parameters: m.parameters)
        let direct = try Interpreter().run(m.graph, inputs: m.inputs, parameters: m.parameters)
        let viaSplit = try Interpreter().run(split.rest, inputs: m.inputs.merging(features) { a, _ in a }, parameters: m.parameters)
        for (k, t) in direct { #expect(viaSplit[k] == t, "\(k)") }
    }

    @Test func cacheRunsThePrefixOncePerExampleAndPersists() throws {
        let m = try TestModels.frozenEncoder()
        let split = splitFrozenPrefix(m.graph)
        var disk: [String: [String: Tensor]] = [:]
        var stores = 0
        let storage = PrefixCacheStorage(load: { disk[$0] }, store: { disk[$0] = $1; stores += 1 })
        let cache = FrozenPrefixCache(prefix: split.prefix, parameters: m.parameters, storage: storage)
        let a = try cache.outputs(for: m.inputs)
        let b = try cache.outputs(for: m.inputs)
        #expect(a == b && cache.misses == 1 && cache.hits == 1 && stores == 1)
        // Another example misses; the text input does not feed the prefix, so it is not part of the key.
        var other = m.inputs
        other["image"] = Tensor(.f32, [2, 6], repeating: 0.25)
        _ = try cache.outputs(for: other)
        #expect(cache.misses == 2)
        var textOnly = m.inputs
        textOnly["text"] = Tensor(.f32, [2, 4], repeating: 9)
        #expect(cache.key(for: textOnly) == cache.key(for: m.inputs))
        // A fresh cache over the same storage reads from it; new weights change the key.
        let again = FrozenPrefixCache(prefix: split.prefix, parameters: m.parameters, storage: storage)
        #expect(try again.outputs(for: m.inputs) == a && again.misses == 0)
        var newWeights = m.parameters
        newWeights["enc.scale"] = Tensor(.f32, [4], repeating: 3)
        let retrained = FrozenPrefixCache(prefix: split.prefix, parameters: newWeights)
        #expect(retrained.key(for: m.inputs) != cache.key(for: m.inputs))
    }
}
