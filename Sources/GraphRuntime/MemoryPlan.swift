import GraphIR

/// Where a buffer lives.
public enum BufferRegion: Hashable, Sendable, CustomStringConvertible {
    /// The step arena: inputs, intermediates and kernel scratch; reused across lifetimes.
    case arena
    /// The program's constant pool (written once when the executable is made).
    case constant
    /// A persistent parameter buffer (any role), owned by the parameter store.
    case parameter(String)

    public var description: String {
        switch self {
        case .arena: return "arena"
        case .constant: return "const"
        case .parameter(let n): return "param '\(n)'"
        }
    }
}

/// One buffer of the plan. Times are node indices of the graph: a buffer is live from the step that writes
/// it (`firstUse`, -1 for inputs, which are written before the first kernel) through its last reader
/// (`lastUse`; outputs and updates are read at `endOfStep`). Both ends are inclusive.
public struct PlannedBuffer: Sendable {
    public var id: Int
    public var region: BufferRegion
    public var bytes: Int
    public var firstUse: Int
    public var lastUse: Int
    /// Byte offset in its region (arena or constant pool); 0 for parameters.
    public var offset: Int
    /// The values stored here (a value, its views, and the results of kernels that ran in place on it),
    /// or empty for kernel scratch.
    public var values: [Int]
    /// Kernel scratch rather than a value.
    public var isScratch: Bool

    func overlapsInTime(_ o: PlannedBuffer) -> Bool { firstUse <= o.lastUse && o.firstUse <= lastUse }
    func overlapsInSpace(_ o: PlannedBuffer) -> Bool { offset < o.offset + o.bytes && o.offset < offset + bytes }
}

/// The static memory plan: every value's buffer, one arena laid out from liveness, and the proof that no two
/// simultaneously live arena buffers overlap.
public struct MemoryPlan: Sendable {
    public var buffers: [PlannedBuffer]
    /// Arena size: the peak bytes of step-local memory.
    public var arenaBytes: Int
    public var constantBytes: Int
    /// What allocating every value and scratch separately (no reuse, no views, no in-place) would take.
    public var unplannedBytes: Int
    public var endOfStep: Int

    /// Bytes the plan saves against allocating every step-local value separately.
    public var savedBytes: Int { unplannedBytes - arenaBytes }

    /// Lays out arena buffers: largest first, each at the lowest aligned offset that no time-overlapping,
    /// already placed buffer occupies. Constants are packed one after another.
    static func layout(_ buffers: inout [PlannedBuffer]) -> (arena: Int, constants: Int) {
        var constantTop = 0
        for i in buffers.indices where buffers[i].region == .constant {
            buffers[i].offset = constantTop
            constantTop += alignUp(buffers[i].bytes)
        }
        let order = buffers.indices.filter { buffers[$0].region == .arena }.sorted {
            let (a, b) = (buffers[$0], buffers[$1])
            return a.bytes != b.bytes ? a.bytes > b.bytes : a.firstUse < b.firstUse
        }
        var placed: [Int] = []
        var top = 0
        for i in order {
            var taken: [(Int, Int)] = []
            for j in placed where buffers[j].overlapsInTime(buffers[i]) {
                taken.append((buffers[j].offset, buffers[j].offset + alignUp(buffers[j].bytes)))
            }
            taken.sort { $0.0 < $1.0 }
            var candidate = 0
            let need = alignUp(buffers[i].bytes)
            for (lo, hi) in taken {
                if candidate + need <= lo { break }
                candidate = Swift.max(candidate, hi)
            }
            buffers[i].offset = candidate
            top = Swift.max(top, candidate + need)
            placed.append(i)
        }
        return (top, constantTop)
    }

    /// Proves the plan sound: every arena buffer is aligned and inside the arena, and no two arena buffers
    /// that are live at the same time share a byte. Sweeps buffers by start time against the live set.
    public func check() throws {
        let arena = buffers.filter { $0.region == .arena }.sorted { $0.firstUse < $1.firstUse }
        var live: [PlannedBuffer] = []
        for b in arena {
            guard b.offset % bufferAlignment == 0, b.offset >= 0, b.offset + b.bytes <= arenaBytes else {
                throw RuntimeError(.lowering, "plan check: buffer b\(b.id) at \(b.offset)+\(b.bytes) is misaligned or outside the arena (\(arenaBytes) B)")
            }
            guard b.firstUse <= b.lastUse else {
                throw RuntimeError(.lowering, "plan check: buffer b\(b.id) has an empty lifetime \(b.firstUse)...\(b.lastUse)")
            }
            live.removeAll { $0.lastUse < b.firstUse }
            for o in live where o.overlapsInSpace(b) && b.bytes > 0 && o.bytes > 0 {
                throw RuntimeError(.lowering, "plan check: buffers b\(o.id) [\(o.offset), +\(o.bytes)) live \(o.firstUse)...\(o.lastUse) and b\(b.id) [\(b.offset), +\(b.bytes)) live \(b.firstUse)...\(b.lastUse) overlap")
            }
            live.append(b)
        }
        var seen = Set<Int>()
        for b in buffers { for v in b.values where !seen.insert(v).inserted {
            throw RuntimeError(.lowering, "plan check: value %\(v) is stored in two buffers")
        } }
    }
}
