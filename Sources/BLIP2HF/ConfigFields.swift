import GraphIO

/// Typed access to one JSON object of a `config.json`, with the Hugging Face default for every absent field.
/// Errors name the file and the dotted field path (`config.json: text_config.hidden_size must be an integer,
/// found a string`), so a hand-edited config never crashes the loader.
struct ConfigFields {
    let object: JSONObject
    /// Dotted path of this object inside the file, e.g. `text_config`; empty at the top level.
    let path: String
    let file: String

    init(_ object: JSONObject, path: String, file: String) {
        self.object = object
        self.path = path
        self.file = file
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func error(_ key: String, _ what: String) -> GraphIOError {
        GraphIOError(.json, "\(file): \(name(key)) \(what)")
    }

    /// JSON `null` counts as absent, as in `transformers` (e.g. `word_embed_proj_dim: null`).
    private func present(_ key: String) -> JSONValue? {
        guard let value = object[key], value != .null else { return nil }
        return value
    }

    func int(_ key: String, default fallback: Int) throws -> Int {
        try optionalInt(key) ?? fallback
    }

    func optionalInt(_ key: String) throws -> Int? {
        guard let value = present(key) else { return nil }
        if let i = value.intValue { return i }
        if let d = value.doubleValue, d == d.rounded(), abs(d) < 1e15 { return Int(d) }
        throw error(key, "must be an integer, found \(value.kindName)")
    }

    /// A positive size (`hidden_size`, `num_attention_heads`, ...); zero or negative sizes are config errors.
    func size(_ key: String, default fallback: Int) throws -> Int {
        let value = try int(key, default: fallback)
        guard value > 0 else { throw error(key, "must be positive, found \(value)") }
        return value
    }

    func double(_ key: String, default fallback: Double) throws -> Double {
        guard let value = present(key) else { return fallback }
        guard let d = value.doubleValue else { throw error(key, "must be a number, found \(value.kindName)") }
        return d
    }

    func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let value = present(key) else { return fallback }
        guard case .bool(let b) = value else { throw error(key, "must be true or false, found \(value.kindName)") }
        return b
    }

    func optionalBool(_ key: String) throws -> Bool? {
        guard present(key) != nil else { return nil }
        return try bool(key, default: false)
    }

    func string(_ key: String, default fallback: String) throws -> String {
        try optionalString(key) ?? fallback
    }

    func optionalString(_ key: String) throws -> String? {
        guard let value = present(key) else { return nil }
        guard let s = value.stringValue else { throw error(key, "must be a string, found \(value.kindName)") }
        return s
    }

    /// `eos_token_id` may be one id or a list of ids; the first is the one generation stops on.
    func tokenId(_ key: String, default fallback: Int?) throws -> Int? {
        guard let value = present(key) else { return fallback }
        if let list = value.arrayValue {
            guard let first = list.first?.intValue else { throw error(key, "must be an integer or a list of integers") }
            return first
        }
        return try optionalInt(key)
    }

    /// A nested object (`vision_config`); absent or null gives an empty object, so every field takes its default.
    func child(_ key: String) throws -> ConfigFields {
        guard let value = present(key) else { return ConfigFields(JSONObject(), path: name(key), file: file) }
        guard let object = value.objectValue else { throw error(key, "must be an object, found \(value.kindName)") }
        return ConfigFields(object, path: name(key), file: file)
    }

    /// `image_size` / `patch_size` may be one integer or a [height, width] pair; BLIP-2 needs square images.
    func squareSize(_ key: String, default fallback: Int) throws -> Int {
        guard let value = present(key) else { return fallback }
        if let pair = value.arrayValue {
            guard pair.count == 2, let h = pair[0].intValue, let w = pair[1].intValue else {
                throw error(key, "must be an integer or a [height, width] pair of integers")
            }
            guard h == w else { throw error(key, "is \(h)x\(w); only square sizes are supported") }
            guard h > 0 else { throw error(key, "must be positive, found \(h)") }
            return h
        }
        return try size(key, default: fallback)
    }
}
