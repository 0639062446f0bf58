#!/usr/bin/env python3
"""Writes Tests/GraphIOTests/Fixtures/tokenizers/ (run from the repo root after Tools/fetch_assets.sh):

  cases.json      {"strings": [...],                       ~300 varied strings (fixed seed)
                   "bert": [[ids with [CLS]/[SEP]]...],     HF `tokenizers` with MiniLM's tokenizer.json
                                                            (bert-base-uncased vocab), truncation/padding off
                   "bert_decoded": [...],                   tokenizer.decode(ids) (skip special tokens)
                   "bert_slow_disagreements": [...],        indices where transformers' slow BertTokenizer differs
                   "gpt2": [[ids]...],                      HF ByteLevelBPETokenizer(encoder.json, vocab.bpe)
                   "gpt2_decoded": [...],
                   "tiny_bpe": [[ids]...],                  the tiny byte-level BPE below
                   "smollm2": [[ids]...]}                   SmolLM2-135M's GGUF vocabulary and merges in HF `tokenizers`
                                                            with SmolLM2's pre-tokenizer (Digits(individual) +
                                                            ByteLevel) and its 17 control tokens as special tokens;
                                                            only when the GGUF asset is present (needs `gguf`)
  tiny_bpe.tokenizer.json  a byte-level BPE with 400 tokens trained here by HF `tokenizers` (small enough to commit)
  tiny_bpe.gguf            the same vocabulary and merges as GGUF tokenizer metadata (written by hand below)

Needs: pip install tokenizers transformers (venv outside the repo). Assets dir: $GRAPHC_ASSETS or .assets.
"""
import json, os, random, struct
from tokenizers import Tokenizer, ByteLevelBPETokenizer
from transformers import BertTokenizer

ASSETS = os.environ.get("GRAPHC_ASSETS", ".assets")
OUT = "Tests/GraphIOTests/Fixtures/tokenizers"

HAND = [
    "a photo of a cat", "Hello world", " Hello world", "Hello, World!", "HELLO   world", "  leading and trailing  ",
    "", " ", "   ", "\t\n", "tabs\tand\nnewlines\r\nhere", "multiple     spaces  between", "end with space ",
    "Café crème brûlée", "naïve façade coöperate", "Ångström résumé Über", "Ｆｕｌｌｗｉｄｔｈ ｌｅｔｔｅｒｓ",
    "İstanbul ǅemal ß straße", "ﬁnancial ﬂow", "e\u0301 combining accent", "Zürich, Genève & Bâle",
    "北京欢迎你", "日本語のテキストです", "한국어 텍스트", "中文mixed英文text", "我爱NLP和深度学习。",
    "emoji 😀 smile", "👍🏽 thumbs", "family 👨‍👩‍👧‍👦 zwj", "flags 🇫🇷🇩🇪", "❤️ heart ♥", "🤖🚀✨",
    "numbers 12345 and 3.14159", "1,000,000 dollars", "phone +1-555-0100", "2026-11-29T09:30:00Z",
    "0x1F 0b1010 1e-9", "version v1.2.3-beta", "¼ ½ ¾ ² ³ ١٢٣ ४५६",
    "don't can't won't I'm you're they've he'll she'd it's", "DON'T SHOUT'S", "'quoted' \"double\" `back`",
    "punctuation!!! ??? ... ,,, ;;; :::", "(parens) [brackets] {braces} <angles>", "a-b_c.d/e\\f|g",
    "email@example.com http://example.org/path?q=1&x=2#frag", "#hashtag @mention $money %percent ^caret *star",
    "~tilde +plus =equals", "— en–dash “curly” ‘quotes’ «guillemets» …", "¿Qué? ¡Sí!",
    "supercalifragilisticexpialidocious", "antidisestablishmentarianism", "pneumonoultramicroscopicsilicovolcanoconiosis",
    "x" * 120, "ab" * 60, "unbelievably unhappily disestablishing", "The quick brown fox jumps over the lazy dog.",
    "a man riding a horse on a beach", "two dogs playing in the snow", "A LARGE RED CIRCLE LEFT OF A SMALL BLUE SQUARE",
    "control\u0000char\u0007bell\u001bescape", "zero\u200bwidth\u200cjoiner\u200d", "soft\u00adhyphen", "bom\ufeffmark",
    "nbsp\u00a0space\u2003em\u3000ideographic", "line\u2028separator", "replacement \ufffd char",
    "Ελληνικά κείμενο", "Русский текст", "עברית", "العربية", "हिन्दी", "ไทย", "Tiếng Việt có dấu",
    "mixed123numbers456letters", "CamelCaseWordsHere", "snake_case_words_here", "UPPER lower MiXeD",
    "[CLS] literal special [SEP]", "[MASK] token", "<|endoftext|> gpt end", "trailing newline\n", "\n\nleading newlines",
    "   \n   mixed whitespace run \t\t x", "a  b   c    d     e", "x\n\ny", "end.\n",
]

WORDS = ["cat", "dog", "Café", "naïve", "北京", "東京", "😀", "🎉", "123", "3.5", "don't", "it's", "Hello", "WORLD",
         "über", "straße", "ﬁ", "!!", "?", "...", "—", "“quote”", "(x)", "a-b", "e\u0301", "中文", "한국", "Ελλάδα",
         "Москва", "x1y2", "   ", "\t", "\n", "a", "the", "of", "supercalifragilistic", "résumé", "#tag", "@me",
         "50%", "$9.99", "ok", "réseau", "Ωmega", "İ", "ǅ", "½", "٣", "🇯🇵", "👍🏽"]


def strings():
    rng = random.Random(1234)
    out = list(HAND)
    while len(out) < 320:
        n = rng.randint(1, 9)
        seps = [" ", " ", " ", "", "  ", "\t", "\n", ", ", "-"]
        s = ""
        for i in range(n):
            s += rng.choice(WORDS) + (rng.choice(seps) if i < n - 1 else "")
        if rng.random() < 0.2:
            s = " " + s
        if rng.random() < 0.2:
            s = s + rng.choice([" ", ".", "!", "\n"])
        out.append(s)
    return out


def gguf_string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def write_gguf(path, tokens, merges):
    kv = []
    def add(key, vtype, payload):
        kv.append(gguf_string(key) + struct.pack("<I", vtype) + payload)
    add("general.architecture", 8, gguf_string("llama"))
    add("tokenizer.ggml.model", 8, gguf_string("gpt2"))
    add("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, len(tokens)) + b"".join(gguf_string(t) for t in tokens))
    add("tokenizer.ggml.merges", 9, struct.pack("<IQ", 8, len(merges)) + b"".join(gguf_string(m) for m in merges))
    add("tokenizer.ggml.token_type", 9, struct.pack("<IQ", 5, len(tokens)) + b"".join(struct.pack("<i", 3 if t == "<|endoftext|>" else 1) for t in tokens))
    add("tokenizer.ggml.bos_token_id", 4, struct.pack("<I", 0))
    add("tokenizer.ggml.eos_token_id", 4, struct.pack("<I", 0))
    add("general.alignment", 4, struct.pack("<I", 32))
    with open(path, "wb") as f:
        f.write(b"GGUF" + struct.pack("<IQQ", 3, 0, len(kv)) + b"".join(kv))


def smollm2_tokenizer():
    path = f"{ASSETS}/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    if not os.path.exists(path):
        return None
    from gguf import GGUFReader
    from tokenizers import Tokenizer, AddedToken, pre_tokenizers, decoders
    from tokenizers.models import BPE
    f = GGUFReader(path).fields
    strs = lambda k: [bytes(f[k].parts[i]).decode("utf-8") for i in f[k].data]
    tokens, merges = strs("tokenizer.ggml.tokens"), strs("tokenizer.ggml.merges")
    types = [int(f["tokenizer.ggml.token_type"].parts[i][0]) for i in f["tokenizer.ggml.token_type"].data]
    tok = Tokenizer(BPE({t: i for i, t in enumerate(tokens)}, [tuple(m.split(" ")) for m in merges]))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types) if ty == 3])
    prompt = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
    # The ids llama.cpp produced for this prompt (../shared/reference/assets.md).
    assert tok.encode(prompt).ids == [1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1, 520, 9531, 198]
    return tok


def main():
    os.makedirs(OUT, exist_ok=True)
    ss = strings()
    bert = Tokenizer.from_file(f"{ASSETS}/minilm/tokenizer.json")
    bert.no_truncation()
    bert.no_padding()
    bert_ids = [bert.encode(s).ids for s in ss]
    bert_dec = [bert.decode(ids) for ids in bert_ids]
    slow = BertTokenizer(f"{ASSETS}/minilm/vocab.txt", do_lower_case=True)
    disagree = [i for i, s in enumerate(ss) if slow.encode(s) != bert_ids[i]]
    gpt2 = ByteLevelBPETokenizer(f"{ASSETS}/gpt2/encoder.json", f"{ASSETS}/gpt2/vocab.bpe")
    gpt2_ids = [gpt2.encode(s).ids for s in ss]
    gpt2_dec = [gpt2.decode(ids) for ids in gpt2_ids]

    tiny = ByteLevelBPETokenizer()
    tiny.train_from_iterator(ss * 3, vocab_size=400, min_frequency=2, special_tokens=["<|endoftext|>"], show_progress=False)
    tiny.save(f"{OUT}/tiny_bpe.tokenizer.json")
    tiny_ids = [tiny.encode(s).ids for s in ss]
    tj = json.load(open(f"{OUT}/tiny_bpe.tokenizer.json"))
    vocab = tj["model"]["vocab"]
    tokens = [None] * len(vocab)
    for t, i in vocab.items():
        tokens[i] = t
    merges = [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]]
    write_gguf(f"{OUT}/tiny_bpe.gguf", tokens, merges)

    cases = {"strings": ss, "bert": bert_ids, "bert_decoded": bert_dec, "bert_slow_disagreements": disagree,
             "gpt2": gpt2_ids, "gpt2_decoded": gpt2_dec, "tiny_bpe": tiny_ids}
    smol = smollm2_tokenizer()
    if smol is not None:
        cases["smollm2"] = [smol.encode(s).ids for s in ss]
    with open(f"{OUT}/cases.json", "w") as f:
        json.dump(cases, f, ensure_ascii=False)
    print(f"{len(ss)} strings; slow BertTokenizer disagrees with the fast one on {len(disagree)}: {disagree[:10]}")


if __name__ == "__main__":
    main()
