/// The structural pattern of an attention mask. Only true data masks are tensors; these are attributes.
///
/// Positions: query row `i` of `Lq` has absolute position `p = Lk - Lq + i` (bottom-right alignment, so a
/// KV-cached decode step with `Lq = 1` sees every earlier key).
public enum MaskPattern: Hashable, Sendable {
    /// Every query sees every key.
    case none
    /// Key `j` is visible to position `p` iff `j <= p`.
    case causal
    /// UniLM / prefix-LM: positions `< n` see keys `< n`; positions `>= n` see keys `< n` and keys `j <= p`.
    case prefixCausal(Int)
    /// Block-diagonal: the sequence is cut into consecutive blocks of these sizes; a position sees its own block only.
    case block([Int])
}

/// The mask attribute of `attention`: a structural pattern, optionally combined (AND) with key padding
/// (`padding(%lens)`: an `i32[B]` operand of valid key counts).
public struct AttentionMask: Hashable, Sendable {
    public var pattern: MaskPattern
    public var keyPadding: Bool

    public init(_ pattern: MaskPattern = .none, keyPadding: Bool = false) {
        self.pattern = pattern
        self.keyPadding = keyPadding
    }

    /// Whether key `j` is visible to query row `i` (before padding), for `lq` queries and `lk` keys.
    public func allows(query i: Int, key j: Int, lq: Int, lk: Int) -> Bool {
        let p = lk - lq + i
        switch pattern {
        case .none: return true
        case .causal: return j <= p
        case .prefixCausal(let n): return p < n ? j < n : (j < n || j <= p)
        case .block(let sizes):
            var start = 0
            for s in sizes {
                if p >= start && p < start + s { return j >= start && j < start + s }
                start += s
            }
            return false
        }
    }
}

/// Parameter initializers (used when a parameter's storage is materialized from a seed).
public enum Initializer: Hashable, Sendable {
    case zeros
    case ones
    case constant(Double)
    case normal(std: Double)
    case truncatedNormal(std: Double)
    case uniform(low: Double, high: Double)
}

/// Persistent leaves: trained, frozen, or optimizer state (updated by the step but not differentiated).
public enum ParameterRole: String, Hashable, Sendable, CaseIterable {
    case trainable, frozen, state
}

/// An attribute value. The text form is shared by all ops (see Docs/IR.md).
public enum AttrValue: Hashable, Sendable {
    case int(Int)
    case float(Double)
    case bool(Bool)
    case ints([Int])
    case floats([Double])
    case string(String)
    /// A bare identifier from a closed set (e.g. `tanh`, `trainable`).
    case symbol(String)
    case dtype(DType)
    case mask(AttentionMask)
    case initializer(Initializer)
}

/// An op's attributes, keyed by name. Printed sorted by key.
public typealias Attributes = [String: AttrValue]

extension Dictionary where Key == String, Value == AttrValue {
    public func int(_ k: String) -> Int? { if case .int(let v)? = self[k] { return v }; return nil }
    public func float(_ k: String) -> Double? {
        switch self[k] {
        case .float(let v)?: return v
        case .int(let v)?: return Double(v)
        default: return nil
        }
    }
    public func bool(_ k: String) -> Bool? { if case .bool(let v)? = self[k] { return v }; return nil }
    public func ints(_ k: String) -> [Int]? { if case .ints(let v)? = self[k] { return v }; return nil }
    public func floats(_ k: String) -> [Double]? { if case .floats(let v)? = self[k] { return v }; return nil }
    public func string(_ k: String) -> String? { if case .string(let v)? = self[k] { return v }; return nil }
    public func symbol(_ k: String) -> String? { if case .symbol(let v)? = self[k] { return v }; return nil }
    public func dtype(_ k: String) -> DType? { if case .dtype(let v)? = self[k] { return v }; return nil }
    public func mask(_ k: String) -> AttentionMask? { if case .mask(let v)? = self[k] { return v }; return nil }
    public func initializer(_ k: String) -> Initializer? { if case .initializer(let v)? = self[k] { return v }; return nil }
}
