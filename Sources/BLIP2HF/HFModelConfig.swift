import BLIP2
import GraphIO

extension HFBlip2Config {
    /// The graph-building config with the same sizes, or an error naming the field graphc cannot honour.
    ///
    /// Everything `HFBlip2Config.parse` accepts maps one to one except T5 variants that BLIP-2 never uses
    /// (`gelu_new` or ungated FFNs); those are refused here rather than built with a different activation.
    public func blip2Config(name: String = "hf") throws -> BLIP2Config {
        let vision = VisionConfig(imageSize: self.vision.imageSize, patchSize: self.vision.patchSize, hidden: self.vision.hiddenSize,
                                  intermediate: self.vision.intermediateSize, layers: self.vision.numHiddenLayers,
                                  heads: self.vision.numAttentionHeads, eps: self.vision.layerNormEps)
        var qformer = QFormerConfig(hidden: self.qformer.hiddenSize, layers: self.qformer.numHiddenLayers,
                                    heads: self.qformer.numAttentionHeads, intermediate: self.qformer.intermediateSize,
                                    crossAttentionFrequency: self.qformer.crossAttentionFrequency, numQueryTokens: numQueryTokens,
                                    vocabulary: self.qformer.vocabSize, maxPositions: self.qformer.maxPositionEmbeddings,
                                    hiddenDropout: self.qformer.hiddenDropoutProb, embedDim: imageTextHiddenSize)
        qformer.eps = self.qformer.layerNormEps
        qformer.padTokenId = self.qformer.padTokenId
        let llm: LLMConfig
        switch text {
        case .opt(let c):
            llm = LLMConfig(kind: .opt, vocabulary: c.vocabSize, hidden: c.hiddenSize, layers: c.numHiddenLayers,
                            heads: c.numAttentionHeads, intermediate: c.ffnDim, maxPositions: c.maxPositionEmbeddings,
                            eps: c.layerNormEps, tieWordEmbeddings: true, padTokenId: c.padTokenId, bosTokenId: c.bosTokenId,
                            eosTokenId: c.eosTokenId)
        case .t5(let c):
            guard c.isGatedAct, c.denseActFn == "gelu" else {
                throw GraphIOError(.json, "text_config: feed_forward_proj '\(c.feedForwardProj)' with dense_act_fn '\(c.denseActFn)' is not supported; graphc's T5 is BLIP-2's FlanT5 (gated-gelu with exact \"gelu\")")
            }
            var t5 = LLMConfig(kind: .t5, vocabulary: c.vocabSize, hidden: c.dModel, layers: c.numDecoderLayers,
                               encoderLayers: c.numLayers, heads: c.numHeads, headDim: c.dKv, intermediate: c.dFf,
                               eps: c.layerNormEpsilon, tieWordEmbeddings: c.scaleDecoderOutputs, padTokenId: c.padTokenId,
                               bosTokenId: c.bosTokenId ?? c.eosTokenId, eosTokenId: c.eosTokenId)
            t5.decoderStartTokenId = c.decoderStartTokenId
            t5.relativeBuckets = c.relativeAttentionNumBuckets
            t5.relativeMaxDistance = c.relativeAttentionMaxDistance
            llm = t5
        }
        let config = BLIP2Config(name: name, vision: vision, qformer: qformer, llm: llm)
        try config.validate()
        return config
    }
}
