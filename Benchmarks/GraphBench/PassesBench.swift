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

/// Fused kernels against the same chains unfused, alternating in one process (1 thread): the layer-norm-backward
/// chain with [B, L, 1] statistics broadcast against [B, L, D], bias + GELU, the GELU backward chain, and two
/// fused reductions (row dot products; a sum over the leading axes as in bias gradients).
func runFusedKernelBenchmark() throws {
    let pairs = quick ? 5 : 25
    let (b, l, d) = quick ? (4, 32, 128) : (8, 128, 256)
    let chains: [(String, [(String, [Int])], (Graph, [Value]) throws -> Value)] = [
        ("layer-norm backward mul($0, sub(sub($1, $2), mul($3, $4))), [\(b), \(l), 1] statistics",
         [("rstd", [b, l, 1]), ("dxhat", [b, l, d]), ("mean1", [b, l, 1]), ("xhat", [b, l, d]), ("mean2", [b, l, 1])],
         { g, p in try g.mul(p[0], try g.sub(try g.sub(p[1], p[2]), try g.mul(p[3], p[4]))) }),
        ("bias + gelu erf [\(b), \(l), \(4 * d)]", [("x", [b, l, 4 * d]), ("bias", [4 * d])], { g, p in try g.gelu(try g.add(p[0], p[1])) }),
        ("gelu erf backward [\(b), \(l), \(4 * d)]", [("x", [b, l, 4 * d]), ("dy", [b, l, 4 * d])], { g, p in
            let cdf = try g.mul(try g.add(try g.unary(.erf, try g.mul(p[0], try g.constant(0.70710678))), try g.constant(1)), try g.constant(0.5))
            let pdf = try g.mul(try g.mul(p[0], try g.constant(0.39894228)),
                                try g.exp(try g.mul(try g.mul(p[0], p[0]), try g.constant(-0.5))))
            return try g.mul(p[1], try g.add(cdf, pdf))
        }),
        ("row dot reduce_sum(mul($0, $1), -1) [\(b), \(l), \(d)]", [("a", [b, l, d]), ("c", [b, l, d])], { g, p in
            try g.reduceSum(try g.mul(p[0], p[1]), axes: [2], keepDims: true)
        }),
        ("leading-axes reduce_sum(mul($0, $1), [0, 1]) [\(b), \(l), \(d)]", [("a", [b, l, d]), ("c", [b, l, d])], { g, p in
            try g.reduceSum(try g.mul(p[0], p[1]), axes: [0, 1])
        }),
    ]
    for (label, parameters, chain) in chains {
        func build(_ fused: Bool) throws -> Graph {
            let g = Graph(name: fused ? "fused" : "unfused")
            g.output("y", try chain(g, try parameters.map { try g.parameter($0.0, $0.1) }))
            return fused ? try fuse(g) : g
        }
        let store = ParameterStore()
        let options = RuntimeOptions(threads: 1, initSeed: 3)
        let plainGraph = try build(false), fusedGraph = try build(true)
        let plain = try Executable(plainGraph, parameters: store, options: options)
        let fusedExe = try Executable(fusedGraph, parameters: store, options: options)
        let a = try plain.run([:]).tensor("y").scalars, f = try fusedExe.run([:]).tensor("y").scalars
        let maxRel = zip(a, f).map { abs($0 - $1) / max(1, abs($0)) }.max() ?? 0
        let (tPlain, tFused) = try bestOfPairs(pairs, { _ = try plain.run([:]) }, { _ = try fusedExe.run([:]) })
        emit([("bench", "fused kernel: \(label)"), ("unfused_us", tPlain * 1e6), ("fused_us", tFused * 1e6), ("speedup", tPlain / tFused),
              ("kernels_unfused", GraphStats(plainGraph).kernels), ("kernels_fused", GraphStats(fusedGraph).kernels),
              ("max_rel_diff", maxRel), ("load_average_1min", loadAverage())])
    }
}
