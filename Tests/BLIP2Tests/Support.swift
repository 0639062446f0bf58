import BLIP2
import GraphIR

/// Deterministic test inputs for a BLIP-2 graph: pixels in [-1, 1), right-padded text starting with [CLS]
/// (stage 1) or BOS, a padding pattern where the last row is shorter, labels equal to the ids with −100 on padding.
func sampleInputs(_ g: Graph, _ c: BLIP2Config, stage: BLIP2Stage, seed: Int = 1) -> [String: Tensor] {
    var out: [String: Tensor] = [:]
    var state = UInt64(truncatingIfNeeded: seed &* 0x9E37_79B9) | 1
    func next() -> Double {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return Double(state % 1_000_003) / 1_000_003
    }
    for (name, v) in g.inputs {
        let t = g.type(of: v)
        switch name {
        case "pixel_values":
            out[name] = Tensor(.f32, t.shape, (0..<t.count).map { _ in next() * 2 - 1 })
        case "input_ids", "attention_mask", "labels":
            let (b, len) = (t.shape[0], t.shape[1])
            let vocab = stage == .one ? c.qformer.vocabulary : c.llm.vocabulary
            let pad = stage == .one ? c.qformer.padTokenId : c.llm.padTokenId
            var ids: [Int] = [], mask: [Int] = [], labels: [Int] = []
            for r in 0..<b {
                let valid = r == b - 1 ? max(2, len - 2) : len
                for j in 0..<len {
                    let id: Int
                    if j >= valid { id = pad } else if j == 0 && stage == .one { id = c.qformer.clsTokenId % vocab } else {
                        id = 3 + Int(next() * Double(vocab - 4))
                    }
                    ids.append(id)
                    mask.append(j < valid ? 1 : 0)
                    labels.append(j < valid ? id : -100)
                }
            }
            out[name] = Tensor(ints: name == "input_ids" ? ids : name == "attention_mask" ? mask : labels, shape: t.shape)
        default:
            out[name] = Tensor(.i32, [], [Double(seed)])
        }
    }
    return out
}

/// Runs a graph on the reference interpreter with parameters from their initializers.
func runInterpreter(_ g: Graph, _ c: BLIP2Config, stage: BLIP2Stage, seed: Int = 1,
                    parameters: [String: Tensor]? = nil) throws -> [String: Tensor] {
    try Interpreter().run(g, inputs: sampleInputs(g, c, stage: stage, seed: seed),
                          parameters: parameters ?? g.initialParameters(seed: 42))
}

#if canImport(Glibc)
import Glibc
#endif
/// `BLIP2_TEST_VERBOSE=1` prints the measured losses (for reports); tests are silent otherwise.
enum ProcessInfoShim {
    static let verbose = getenv("BLIP2_TEST_VERBOSE") != nil
}
