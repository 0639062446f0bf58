import BLIP2
import GraphIR
import GraphNN

/// The forward pass of Hugging Face `Blip2ForImageTextRetrieval` as one graph, built from the BLIP-2 model code
/// (ViT, Q-Former) with the checkpoint's parameter names.
///
/// Inputs: `pixel_values` f32[B, 3, S, S]; `input_ids`, `attention_mask` i32[B, T] (text only, right-padded).
/// Outputs: `vision_last_hidden_state`; `qformer_last_hidden_state` (query-only pass); `itm_logits` [B, 2]
/// (`use_image_text_matching_head=True`: image b with text b, mean over queries of `itm_head`);
/// `logits_per_image` [B, B] (ITC: cosine of every image's query embeddings with every text's `[CLS]` embedding,
/// max over queries, no temperature — HF checkpoints carry none).
public enum RetrievalGraph {
    public static func build(config c: BLIP2Config, batch b: Int, textLength t: Int) throws -> Graph {
        try c.validate()
        let g = Graph(name: "blip2_\(c.name)_retrieval")
        let trainable = Layers(g, role: .trainable)
        let frozen = Layers(g, role: .frozen)
        let v = c.vision, q = c.qformer.numQueryTokens
        let pixels = try g.input("pixel_values", [b, v.channels, v.imageSize, v.imageSize])
        let ids = try g.input("input_ids", [b, t], .i32)
        let mask = try g.input("attention_mask", [b, t], .i32)
        let image = try VisionEncoder.build(pixels, config: v, encoder: frozen, trainable: trainable)
        g.output("vision_last_hidden_state", image)
        let queries = try QFormer.queryTokens(trainable, c.qformer, batch: b)
        let textLens = try g.reduceSum(mask, axes: [1])

        // ITM: [queries ; text] bidirectional with key padding, cross-attention for the query rows.
        let itm = try trainable.pass("itm") { nn -> Value in
            let lens = try g.add(textLens, g.constant(Double(q), shape: [], .i32))
            let hidden = try QFormer.run(nn, c.qformer, QFormerPass(queries: queries, textIds: ids, lens: lens, image: image))
            let perQuery = try nn.linear(g.slice(hidden, axis: 1, 0..<q), outFeatures: 2, name: "itm_head")
            return try g.reduceMean(perQuery, axes: [1])
        }
        g.output("itm_logits", itm)

        // ITC: a query-only pass for the image, a text-only pass (query_length 0, text FFN) for the text.
        let z = try trainable.pass("itc_image") { nn in
            try QFormer.run(nn, c.qformer, QFormerPass(queries: queries, textIds: nil, image: image))
        }
        g.output("qformer_last_hidden_state", z)
        let itc = try trainable.pass("itc") { nn -> Value in
            let text = try QFormer.run(nn, c.qformer, QFormerPass(queries: nil, textIds: ids, lens: textLens, image: nil))
            let cls = try g.reshape(g.slice(text, axis: 1, 0..<1), [b, c.qformer.hidden])
            let e = c.qformer.embedDim
            let imageEmbeds = try Stage1.l2Normalize(g, nn.linear(z, outFeatures: e, name: "vision_projection"))
            let textEmbeds = try Stage1.l2Normalize(g, nn.linear(cls, outFeatures: e, name: "text_projection"))
            let perQuery = try g.matmul(g.reshape(imageEmbeds, [b * q, e]), textEmbeds, transposeB: true)
            return try g.reduceMax(g.reshape(perQuery, [b, q, b]), axes: [1])
        }
        g.output("logits_per_image", itc)
        return g
    }
}
