// Data movement: reshape, transpose, broadcast_to, slice, pad, concat, gather, scatter_add, iota.

let shapeOps: [OpKind: OpSpec] = [
    .reshape: OpSpec(
        "reshape", arity: 1...1, attributes: [AttrSchema("shape", .ints)], fusion: .injective,
        inferType: { c in
            let s = try attr(c.attributes.ints("shape"), "shape")
            try check(s.allSatisfy { $0 >= 0 }, "negative dimension in \(s)")
            try check(s.reduce(1, *) == c.operands[0].count, "cannot reshape \(c.operands[0].shape) (\(c.operands[0].count) elements) to \(s)")
            return TensorType(c.operands[0].dtype, s)
        },
        evaluate: { a, n in a[0].reshaped(n.type.shape) },
        vjp: .rule { ctx in try ctx.cotangents { _ in try ctx.graph.reshape(ctx.cotangent, ctx.shape(0)) } },
        flops: { _, _, _ in 0 }),
    .transpose: OpSpec(
        "transpose", arity: 1...1, attributes: [AttrSchema("perm", .ints)], fusion: .injective,
        inferType: { c in
            let x = c.operands[0]
            let p = try attr(c.attributes.ints("perm"), "perm")
            try check(p.sorted() == Array(0..<x.rank), "perm \(p) is not a permutation of 0..<\(x.rank)")
            return TensorType(x.dtype, p.map { x.shape[$0] })
        },
        evaluate: { a, n in
            let x = a[0]
            let p = n.attributes.ints("perm")!
            var out = [Double](repeating: 0, count: x.count)
            for i in 0..<x.count {
                let oi = unravel(i, n.type.shape)
                var src = [Int](repeating: 0, count: p.count)
                for k in 0..<p.count { src[p[k]] = oi[k] }
                out[i] = x.scalars[ravel(src, x.shape)]
            }
            return Tensor(x.dtype, n.type.shape, out)
        },
        vjp: .rule { ctx in
            let p = ctx.attributes.ints("perm") ?? []
            var inverse = [Int](repeating: 0, count: p.count)
            for (k, d) in p.enumerated() { inverse[d] = k }
            return try ctx.cotangents { _ in try ctx.graph.transpose(ctx.cotangent, inverse) }
        },
        flops: { _, _, _ in 0 }),
    .broadcastTo: OpSpec(
        "broadcast_to", arity: 1...1, attributes: [AttrSchema("shape", .ints)], fusion: .broadcast,
        inferType: { c in
            let s = try attr(c.attributes.ints("shape"), "shape")
            try check(broadcastShapes(c.operands[0].shape, s) == s, "cannot broadcast \(c.operands[0].shape) to \(s)")
            return TensorType(c.operands[0].dtype, s)
        },
        evaluate: { a, n in broadcastMap(a, n.type) { $0[0] } },
        vjp: .rule { ctx in try ctx.cotangents { _ in try ctx.graph.unbroadcast(ctx.cotangent, to: ctx.shape(0)) } },
        flops: { _, _, _ in 0 }),
    .slice: OpSpec(
        "slice", arity: 1...1, attributes: [AttrSchema("starts", .ints), AttrSchema("limits", .ints)], fusion: .injective,
        inferType: { c in
            let x = c.operands[0]
            let s = try attr(c.attributes.ints("starts"), "starts"), l = try attr(c.attributes.ints("limits"), "limits")
            try check(s.count == x.rank && l.count == x.rank, "starts/limits need \(x.rank) entries")
            for d in 0..<x.rank {
                try check(0 <= s[d] && s[d] <= l[d] && l[d] <= x.shape[d], "slice [\(s[d]), \(l[d])) out of range for dimension \(d) of size \(x.shape[d])")
            }
            return TensorType(x.dtype, zip(s, l).map { $1 - $0 })
        },
        evaluate: { a, n in
            let x = a[0]
            let s = n.attributes.ints("starts")!
            var out = [Double](repeating: 0, count: n.type.count)
            for i in 0..<out.count {
                let oi = unravel(i, n.type.shape)
                out[i] = x.scalars[ravel(zip(oi, s).map { $0 + $1 }, x.shape)]
            }
            return Tensor(x.dtype, n.type.shape, out)
        },
        vjp: .rule { ctx in
            let starts = ctx.attributes.ints("starts") ?? [], limits = ctx.attributes.ints("limits") ?? []
            let shape = ctx.shape(0)
            return try ctx.cotangents { _ in
                try ctx.graph.pad(ctx.cotangent, low: starts, high: zip(shape, limits).map { $0 - $1 })
            }
        },
        flops: { _, _, _ in 0 }),
    .pad: OpSpec(
        "pad", arity: 1...1, attributes: [AttrSchema("low", .ints), AttrSchema("high", .ints)], fusion: .injective,
        inferType: { c in
            let x = c.operands[0]
            let lo = try attr(c.attributes.ints("low"), "low"), hi = try attr(c.attributes.ints("high"), "high")
            try check(lo.count == x.rank && hi.count == x.rank, "low/high need \(x.rank) entries")
            try check((lo + hi).allSatisfy { $0 >= 0 }, "negative padding")
            return TensorType(x.dtype, (0..<x.rank).map { x.shape[$0] + lo[$0] + hi[$0] })
        },
        evaluate: { a, n in
            let x = a[0]
            let lo = n.attributes.ints("low")!
            var out = [Double](repeating: 0, count: n.type.count)
            for i in 0..<x.count {
                let xi = unravel(i, x.shape)
                out[ravel(zip(xi, lo).map { $0 + $1 }, n.type.shape)] = x.scalars[i]
            }
            return Tensor(x.dtype, n.type.shape, out)
        },
        vjp: .rule { ctx in
            let low = ctx.attributes.ints("low") ?? []
            let shape = ctx.shape(0)
            return try ctx.cotangents { _ in
                try ctx.graph.slice(ctx.cotangent, starts: low, limits: zip(low, shape).map { $0 + $1 })
            }
        },
        flops: { _, _, _ in 0 }),
    .concat: OpSpec(
        "concat", arity: 1...Int.max, attributes: [AttrSchema("axis", .int)], fusion: .injective,
        inferType: { c in
            let first = c.operands[0]
            let d = try sameDType(c.operands)
            guard let ax = normalizeAxis(try attr(c.attributes.int("axis"), "axis"), rank: first.rank) else {
                throw ShapeError("axis out of range for rank \(first.rank)")
            }
            var total = 0
            for t in c.operands {
                try check(t.rank == first.rank, "ranks differ: \(c.operands.map(\.shape))")
                for k in 0..<t.rank where k != ax {
                    try check(t.shape[k] == first.shape[k], "shapes \(c.operands.map(\.shape)) differ outside axis \(ax)")
                }
                total += t.shape[ax]
            }
            var s = first.shape
            s[ax] = total
            return TensorType(d, s)
        },
        evaluate: { a, n in
            let ax = normalizeAxis(n.attributes.int("axis")!, rank: n.type.rank)!
            var out = [Double](repeating: 0, count: n.type.count)
            var offset = 0
            for x in a {
                for i in 0..<x.count {
                    var idx = unravel(i, x.shape)
                    idx[ax] += offset
                    out[ravel(idx, n.type.shape)] = x.scalars[i]
                }
                offset += x.shape[ax]
            }
            return Tensor(n.type.dtype, n.type.shape, out)
        },
        vjp: .rule { ctx in
            let rank = ctx.node.type.rank
            let axis = normalizeAxis(ctx.attributes.int("axis") ?? 0, rank: rank) ?? 0
            let offsets = ctx.operands.indices.map { i in (0..<i).reduce(0) { $0 + ctx.shape($1)[axis] } }
            return try ctx.cotangents { i in
                try ctx.graph.slice(ctx.cotangent, axis: axis, offsets[i]..<(offsets[i] + ctx.shape(i)[axis]))
            }
        },
        flops: { _, _, _ in 0 }),
    .gather: OpSpec(
        "gather", arity: 2...2, attributes: [AttrSchema("axis", .int)], fusion: .injective,
        inferType: { c in
            let (t, idx) = (c.operands[0], c.operands[1])
            try check(idx.dtype == .i32, "indices must be i32, got \(idx.dtype.rawValue)")
            guard let ax = normalizeAxis(try attr(c.attributes.int("axis"), "axis"), rank: t.rank) else {
                throw ShapeError("axis out of range for rank \(t.rank)")
            }
            return TensorType(t.dtype, Array(t.shape[..<ax]) + idx.shape + Array(t.shape[(ax + 1)...]))
        },
        evaluate: { a, n in
            let (t, idx) = (a[0], a[1])
            let ax = normalizeAxis(n.attributes.int("axis")!, rank: t.shape.count)!
            let (outer, len, inner) = splitAround(t.shape, ax)
            var out: [Double] = []
            out.reserveCapacity(n.type.count)
            for o in 0..<outer {
                for k in idx.scalars {
                    let j = Int(k)
                    guard j >= 0 && j < len else {
                        throw GraphError(.evaluate, "gather: index \(j) out of range [0, \(len))")
                    }
                    for i in 0..<inner { out.append(t.scalars[(o * len + j) * inner + i]) }
                }
            }
            return Tensor(t.dtype, n.type.shape, out)
        },
        vjp: .rule { ctx in
            let shape = ctx.shape(0)
            let axis = normalizeAxis(ctx.attributes.int("axis") ?? 0, rank: shape.count) ?? 0
            return try ctx.cotangents { i in
                i == 0 ? try ctx.graph.scatterAdd(ctx.cotangent, ctx.operands[1], axis: axis, size: shape[axis]) : nil
            }
        },
        flops: { _, _, _ in 0 }),
    .scatterAdd: OpSpec(
        "scatter_add", arity: 2...2, attributes: [AttrSchema("axis", .int), AttrSchema("size", .int)], fusion: .opaque,
        inferType: { c in
            let (u, idx) = (c.operands[0], c.operands[1])
            try check(idx.dtype == .i32, "indices must be i32, got \(idx.dtype.rawValue)")
            let size = try attr(c.attributes.int("size"), "size")
            let ax = try attr(c.attributes.int("axis"), "axis")
            try check(ax >= 0 && ax + idx.rank <= u.rank, "axis \(ax) with index rank \(idx.rank) does not fit updates of rank \(u.rank)")
            try check(Array(u.shape[ax..<(ax + idx.rank)]) == idx.shape, "updates \(u.shape) do not match indices \(idx.shape) at axis \(ax)")
            return TensorType(u.dtype, Array(u.shape[..<ax]) + [size] + Array(u.shape[(ax + idx.rank)...]))
        },
        evaluate: { a, n in
            let (u, idx) = (a[0], a[1])
            let ax = n.attributes.int("axis")!, size = n.attributes.int("size")!
            let outer = u.shape[..<ax].reduce(1, *), m = idx.count, inner = n.type.count / max(1, outer * size)
            var out = [Double](repeating: 0, count: n.type.count)
            for o in 0..<outer {
                for (k, jd) in idx.scalars.enumerated() {
                    let j = Int(jd)
                    guard j >= 0 && j < size else { throw GraphError(.evaluate, "scatter_add: index \(j) out of range [0, \(size))") }
                    for i in 0..<inner { out[(o * size + j) * inner + i] += u.scalars[(o * m + k) * inner + i] }
                }
            }
            return Tensor(u.dtype, n.type.shape, out)
        },
        vjp: .rule { ctx in
            let axis = ctx.attributes.int("axis") ?? 0
            return try ctx.cotangents { i in i == 0 ? try ctx.graph.gather(ctx.cotangent, ctx.operands[1], axis: axis) : nil }
        },
        flops: { ops, _, _ in ops[0].count }),
    .iota: OpSpec(
        "iota", arity: 0...0, attributes: [AttrSchema("axis", .int)], fusion: .injective, declaresType: true,
        inferType: { c in
            let t = try attr(c.declared, "result type")
            try check(t.dtype != .bool, "iota cannot be bool")
            guard normalizeAxis(try attr(c.attributes.int("axis"), "axis"), rank: t.rank) != nil else {
                throw ShapeError("axis out of range for rank \(t.rank)")
            }
            return t
        },
        evaluate: { _, n in
            let ax = normalizeAxis(n.attributes.int("axis")!, rank: n.type.rank)!
            return Tensor(n.type.dtype, n.type.shape, (0..<n.type.count).map { Double(unravel($0, n.type.shape)[ax]) })
        },
        vjp: .notDifferentiable("no operands"),
        flops: { _, _, _ in 0 }),
]
