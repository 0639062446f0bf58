// The optimization passes on a small transformer training step: the default pipelines (training, autodiff,
// training-post-ad) against autodiff alone, both run on the executor in the same process, alternating.
import GraphAutodiff
import GraphIR
import GraphNN
import GraphPasses
import GraphRuntime

/// Two BERT layers (post-LN, GELU) over x [B, L, D] with a padding mask and loss = mean(y²).
func passesBenchGraph(batch: Int, length: Int, width: Int, heads: Int, layers: Int) throws -> Graph {
    let g = Graph(name: "bench_transformer")
    let nn = Layers(g)
    var h = try g.input("x", [batch, length, width])
    let lens = try g.input("lens", [batch], .i32)
    for i in 0..<layers {
        h = try g.scope("layer.\(i)") {
            try nn.transformerLayer(h, spec: .bert(hidden: width, heads: heads, intermediate: 4 * width),
                                    options: AttentionOptions(lens: lens)).output
        }
    }
    g.output("loss", try g.reduceMean(try g.mul(h, h), axes: [0, 1, 2]))
    return g
}

/// Best times of `pairs` alternating runs of `a` and `b` after a warm-up: on a shared 2-core machine the minimum
/// over many interleaved runs is the most stable figure.
func bestOfPairs(_ pairs: Int, _ a: () throws -> Void, _ b: () throws -> Void) rethrows -> (Double, Double) {
    try a()
    try b()
    var (ta, tb) = (Double.infinity, Double.infinity)
    for _ in 0..<pairs {
        var s = now()
        try a()
        ta = min(ta, Double(now() - s) * 1e-9)
        s = now()
        try b()
        tb = min(tb, Double(now() - s) * 1e-9)
    }
    return (ta, tb)
}

func runPassesBenchmark() throws {
    let pairs = quick ? 5 : 25
    let (b, l, d, heads, layers) = quick ? (4, 32, 128, 4, 2) : (8, 128, 256, 4, 2)
    let forward = try passesBenchGraph(batch: b, length: l, width: d, heads: heads, layers: layers)
    let plain = try gradients(of: forward.output("loss")!, in: forward).graph
    let ctx = PassContext()
    let pre = try PassManager(passes: try Passes.parseList("training"), render: { _ in "" }).run(forward, context: ctx).graph
    let differentiated = try gradients(of: pre.output("loss")!, in: pre).graph
    let (optimized, records) = try PassManager(passes: try Passes.parseList("training-post-ad"), render: { _ in "" })
        .run(differentiated, context: ctx)
    let store = ParameterStore()
    let options = RuntimeOptions(threads: 1, initSeed: 7)
    let plainExe = try Executable(plain, parameters: store, options: options)
    let optimizedExe = try Executable(optimized, parameters: store, options: options)
    let inputs: [String: Tensor] = [
        "x": Tensor(floats: randomFloats(b * l * d, seed: 3), shape: [b, l, d]),
        "lens": Tensor(ints: (0..<b).map { l - ($0 * 7) % (l / 2) }, shape: [b]),
    ]
    // Same parameters, same inputs: the two steps must agree before their times mean anything.
    let a = try plainExe.run(inputs).all(), o = try optimizedExe.run(inputs).all()
    var maxRel = 0.0
    for (k, t) in a {
        guard let u = o[k] else { throw GraphError(.evaluate, "passes bench: output \(k) missing after passes") }
        for (x, y) in zip(t.scalars, u.scalars) { maxRel = max(maxRel, abs(x - y) / max(1, abs(x))) }
    }
    let (tPlain, tOpt) = try bestOfPairs(pairs, { _ = try plainExe.run(inputs) }, { _ = try optimizedExe.run(inputs) })
    let before = GraphStats(plain), after = GraphStats(optimized)
    emit([("bench", "passes: transformer training step \(layers)x BERT layer, B\(b) L\(l) D\(d) H\(heads)"),
          ("no_passes_ms", tPlain * 1e3), ("default_pipeline_ms", tOpt * 1e3), ("speedup", tPlain / tOpt),
          ("kernels_no_passes", before.kernels), ("kernels_default", after.kernels),
          ("bytes_moved_no_passes", before.bytesMoved), ("bytes_moved_default", after.bytesMoved),
          ("flops_no_passes", before.flops), ("flops_default", after.flops), ("max_rel_diff", maxRel), ("threads", 1), ("pairs", pairs)])
    for r in records { print("# " + r.summary) }
    if CommandLine.arguments.contains("--list-fused") {
        for n in optimized.nodes where [.fusedElementwise, .fusedReduce, .fusedMatmul, .addLayerNorm].contains(n.op) {
            print("# \(n.op.mnemonic) \(n.type) \(n.attributes.string("expr") ?? "") \(n.operands.map { optimized.type(of: $0).description })")
        }
    }
    // Each fuse step alone on the same differentiated graph, to see what each buys.
    let steps: [(String, FuseSteps)] = [("none", []), ("attention", .attention), ("projections", .projections),
                                         ("add_layer_norm", .addLayerNorm), ("kernels", .kernels),
                                         ("kernels+broadcast", [.kernels, .broadcastOperands]), ("reductions", .reductions),
                                         ("reductions+broadcast", [.reductions, .broadcastOperands])]
    for (name, s) in steps {
        let variant = try eliminateDeadCode(fuse(eliminateCommonSubexpressions(try canonicalize(differentiated)), steps: s))
        let exe = try Executable(variant, parameters: store, options: options)
        let (tBase, tVariant) = try bestOfPairs(pairs, { _ = try plainExe.run(inputs) }, { _ = try exe.run(inputs) })
        emit([("bench", "passes: fuse step \(name) only"), ("no_passes_ms", tBase * 1e3), ("variant_ms", tVariant * 1e3),
              ("kernels", GraphStats(variant).kernels)])
    }
}

/// One fused elementwise kernel against the same chain unfused, on the layer-norm-backward shape of the
/// benchmark above (`mul($0, sub(sub($1, $2), mul($3, $4)))` with [B, L, 1] operands broadcast against [B, L, D]).
func runFusedKernelBenchmark() throws {
    let pairs = quick ? 5 : 25
    let (b, l, d) = quick ? (4, 32, 128) : (8, 128, 256)
    func build(_ fused: Bool) throws -> Graph {
        let g = Graph(name: fused ? "fused" : "unfused")
        let rstd = try g.parameter("rstd", [b, l, 1]), dxhat = try g.parameter("dxhat", [b, l, d])
        let mean1 = try g.parameter("mean1", [b, l, 1]), xhat = try g.parameter("xhat", [b, l, d])
        let mean2 = try g.parameter("mean2", [b, l, 1])
        let chain = try g.mul(rstd, try g.sub(try g.sub(dxhat, mean1), try g.mul(xhat, mean2)))
        g.output("y", chain)
        return fused ? try fuse(g) : g
    }
    let store = ParameterStore()
    let options = RuntimeOptions(threads: 1, initSeed: 3)
    let plain = try Executable(try build(false), parameters: store, options: options)
    let fusedExe = try Executable(try build(true), parameters: store, options: options)
    let (tPlain, tFused) = try bestOfPairs(pairs, { _ = try plain.run([:]) }, { _ = try fusedExe.run([:]) })
    emit([("bench", "passes: one fused_elementwise vs 4 unfused ops, [\(b), \(l), \(d)] with [\(b), \(l), 1] operands"),
          ("unfused_us", tPlain * 1e6), ("fused_us", tFused * 1e6), ("speedup", tPlain / tFused)])
}
