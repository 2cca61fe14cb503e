import KilnCore

/// What `ModelDiff.compare` found between two models A and B (A is the reference).
///
/// A matched tensor is:
/// - `identical` when, with the same element type on both sides, its canonical bytes are equal
///   bit for bit (so −0 vs +0 or two different NaN payloads are *not* identical); with different
///   types (f32 vs f16, f16 vs q8_0, …), when every dequantised value is equal (−0 equals +0,
///   NaN equals NaN at the same position).
/// - `withinTolerance` when it is not identical but no element is beyond the tolerance
///   (`TensorComparison`): with the default exact tolerance, only sign-of-zero or NaN-payload
///   differences end up here.
/// - `changed` when some element is beyond the tolerance.
/// - `shapeChanged` when the shapes differ (no statistics then).
public struct DiffReport: Sendable {
    /// What was compared on one side.
    public struct Side: Sendable {
        /// The path as given.
        public var path: String
        /// The format the file was read as (`gguf`, `kiln`, …).
        public var format: String
        /// The format the model was first read from: a `.kiln` file's `source.format`, else `format`.
        public var origin: String
        /// The model's architecture (`llama`, `gpt2`), when recognised.
        public var architecture: String?
        /// Canonical tensors considered (after `--tensors` filtering).
        public var tensorCount: Int
        /// What the reader noticed while mapping the model to canonical form (unknown
        /// tensors kept as they are, missing tokenizer, …).
        public var warnings: [String]
    }

    /// A tensor on one side, by canonical name.
    public struct TensorEntry: Sendable, Equatable {
        /// The canonical name (llama.cpp's, such as `blk.0.attn_q.weight`).
        public var name: String
        /// The element type on this side.
        public var type: ElementType
        /// The canonical shape, outermost dimension first.
        public var shape: [Int]
    }

    /// The verdict on one tensor present on both sides.
    public struct TensorDifference: Sendable {
        /// The verdict (the type's notes say exactly when each applies); raw values are the
        /// JSON report's spelling.
        public enum Status: String, Sendable {
            /// The same bytes, or the same values across element types.
            case identical
            /// Not identical, but no element beyond the tolerance.
            case withinTolerance = "within_tolerance"
            /// Some element beyond the tolerance.
            case changed
            /// The shapes differ, so values were not compared.
            case shapeChanged = "shape_changed"
        }

        /// How the verdict was reached.
        public enum Method: String, Sendable {
            /// Both sides are `.kiln` tensors of one type with equal checksums: no data was read.
            case checksum
            /// Canonical bytes compared equal.
            case bytes
            /// Values decoded and compared, with statistics.
            case values
            /// Not compared (shapes differ).
            case none
        }

        /// The tensor in A.
        public var a: TensorEntry
        /// The tensor in B.
        public var b: TensorEntry
        /// The verdict.
        public var status: Status
        /// How the verdict was reached.
        public var method: Method
        /// nil when the shapes differ.
        public var comparison: TensorComparison?

        /// The canonical name, the same on both sides.
        public var name: String { a.name }
        /// Whether the element type differs (f16 in A, q8_0 in B, …), whatever the values did.
        public var typeChanged: Bool { a.type != b.type }
    }

    /// What makes two models count as different for the exit status.
    public enum FailOn: String, Sendable, CaseIterable {
        /// A matched tensor beyond tolerance or of another shape, or a metadata difference.
        case changed
        /// Also a tensor present on one side only.
        case any
    }

    /// The reference model.
    public var a: Side
    /// The model compared with it.
    public var b: Side
    /// The tolerance the comparison used.
    public var tolerance: TensorComparison.Tolerance
    /// Matched tensors, worst first (see `sortWorstFirst`).
    public var tensors: [TensorDifference]
    /// Tensors only A has.
    public var onlyInA: [TensorEntry]
    /// Tensors only B has.
    public var onlyInB: [TensorEntry]
    /// Differences in config, tokenizer and other metadata (ignored keys left out).
    public var metadata: [MetadataDifference]
    /// Things the reader should know about what was and was not compared.
    public var notes: [String]
    /// Tensors found identical by `.kiln` checksums alone, without reading their data.
    public var checksumShortcuts: Int
    /// Bytes of tensor data compared (A's and B's canonical bytes, each tensor counted once).
    public var bytesCompared: Int
    /// Wall-clock time of the comparison, in seconds.
    public var seconds: Double

    /// The number of matched tensors with this verdict.
    public func count(_ status: TensorDifference.Status) -> Int { tensors.filter { $0.status == status }.count }
    /// Matched tensors that are identical.
    public var identicalCount: Int { count(.identical) }
    /// Matched tensors within tolerance but not identical.
    public var withinToleranceCount: Int { count(.withinTolerance) }
    /// Changed beyond tolerance, including shape changes.
    public var changedCount: Int { count(.changed) + count(.shapeChanged) }
    /// Matched tensors whose element type differs.
    public var typeChangeCount: Int { tensors.filter(\.typeChanged).count }

    /// Whether the models count as different under `failOn`: the `kiln diff` exit status.
    /// Element-type changes alone do not make models different: values are what a model
    /// computes with, and a tolerance is how a user accepts, say, f16 rounding.
    public func isDifferent(failOn: FailOn) -> Bool {
        if changedCount > 0 || !metadata.isEmpty { return true }
        return failOn == .any && !(onlyInA.isEmpty && onlyInB.isEmpty)
    }

    /// Tensor data compared per second, in GB/s (10⁹ bytes).
    public var gigabytesPerSecond: Double { seconds > 0 ? Double(bytesCompared) / seconds / 1e9 : 0 }

    /// Shape changes first, then changed, within tolerance and identical; within a group, any
    /// NaN/infinity mismatch first, then by relative RMSE (scale-free), max |a − b|, and name.
    static func sortWorstFirst(_ tensors: inout [TensorDifference]) {
        func rank(_ status: TensorDifference.Status) -> Int {
            switch status {
            case .shapeChanged: return 0
            case .changed: return 1
            case .withinTolerance: return 2
            case .identical: return 3
            }
        }
        tensors.sort { x, y in
            if rank(x.status) != rank(y.status) { return rank(x.status) < rank(y.status) }
            let cx = x.comparison, cy = y.comparison
            let nx = cx?.nonFiniteMismatches ?? 0, ny = cy?.nonFiniteMismatches ?? 0
            if (nx > 0) != (ny > 0) { return nx > 0 }
            let rx = cx?.relativeRMSE ?? 0, ry = cy?.relativeRMSE ?? 0
            if rx != ry { return rx > ry }
            let mx = cx?.maxAbs ?? 0, my = cy?.maxAbs ?? 0
            if mx != my { return mx > my }
            return x.name < y.name
        }
    }
}

/// One difference in the models' descriptions: a config field, part of the tokenizer, or another
/// metadata key.
public struct MetadataDifference: Sendable, Equatable {
    /// Whether the key's value changed or is on one side only; raw values are the JSON spelling.
    public enum Kind: String, Sendable {
        /// Both sides have the key, with different values.
        case changed
        /// Only A has the key.
        case onlyInA = "only_in_a"
        /// Only B has the key.
        case onlyInB = "only_in_b"
    }

    /// `config.<field>`, `tokenizer.<part>`, or the metadata key (`general.name`,
    /// `source.metadata.<source key>`, …).
    public var key: String
    /// Changed, or on one side only.
    public var kind: Kind
    /// A short rendering of A's value (nil when A lacks the key).
    public var a: String?
    /// A short rendering of B's value (nil when B lacks the key).
    public var b: String?
    /// Counts for collections (`added`, `removed`, `changed` tokens or merges).
    public var counts: [String: Int]
    /// Examples, or a unified excerpt for texts such as the chat template; one line each.
    public var details: [String]

    package init(key: String, kind: Kind, a: String?, b: String?, counts: [String: Int] = [:], details: [String] = []) {
        self.key = key
        self.kind = kind
        self.a = a
        self.b = b
        self.counts = counts
        self.details = details
    }
}
