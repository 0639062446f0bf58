import Testing
@testable import TrainingKit

@Suite struct RecipeTests {
    @Test func textLengthsFitTheLongestCaption() {
        let captions = ["a red circle", "a small orange square left of a small red cross", "a cross"]
        var recipe = TinyRecipe(tokenizer: WordTokenizer(corpus: captions))
        let lengths = recipe.fitTextLengths(to: captions)
        // 10 words plus [CLS]/[SEP] (Q-Former) or BOS/EOS (LM).
        #expect(lengths.qformer == 12 && lengths.lm == 12)
        #expect(recipe.qformerTextLength == 12 && recipe.lmTextLength == 12)
        let text = recipe.qformerText([captions[1]])
        #expect(text.mask.scalars.allSatisfy { $0 == 1 })
        #expect(recipe.config.llm.maxPositions >= recipe.config.qformer.numQueryTokens + 12)
        // A cap truncates: longer captions lose their tail, keeping the closing token.
        let capped = recipe.fitTextLengths(to: captions, cap: 6)
        #expect(capped.qformer == 6 && capped.lm == 6)
        #expect(Int(recipe.lmText([captions[1]]).ids.scalars.last!) == recipe.tokenizer.eos)
    }
}
