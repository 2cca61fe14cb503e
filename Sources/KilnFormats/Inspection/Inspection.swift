import Foundation
import KilnCore

/// What `kiln inspect` shows about a checkpoint of any format: format, architecture,
/// parameter count, bytes by element type, metadata (long arrays summarised) and the tensor table.
public struct Inspection: Sendable {
    /// Totals for one element type.
    public struct TypeTotal: Sendable {
        /// Tensors of this type.
        public var tensors = 0
        /// Their values, summed.
        public var parameters = 0
        /// Their bytes (uncompressed), summed.
        public var bytes = 0
    }

    /// One line of the tensor table.
    public struct Row: Sendable {
        /// The tensor's name as the file spells it.
        public var name: String
        /// The element type's name.
        public var type: String
        /// Outermost dimension first.
        public var shape: [Int]
        /// The tensor's byte length (uncompressed).
        public var bytes: Int
        /// For `.kiln` files: offset, stored bytes and compression.
        public var offset: Int?
        /// For `.kiln` files: the bytes stored in the file (compressed length when compressed).
        public var storedBytes: Int?
        /// For `.kiln` files: `none`, `zstd` or `zstd+shuffle`.
        public var compression: String?
    }

    /// The checkpoint's first file.
    public var path: String
    /// The format's short name (`gguf`, `safetensors`, …).
    public var format: String
    /// The format version, where the reader reports one (`1.0` for `.kiln`).
    public var formatVersion: String?
    /// `general.architecture` from the metadata, or a guess from the tensor names.
    public var architecture: String?
    /// The features the mapped architecture needs beyond the plain decoder (empty when there are
    /// none or the architecture is not recognised).
    public var features: [String] = []
    /// Why Kiln's runtime refuses the model (a feature it lacks), or nil.
    public var notRunnable: String?
    /// The size of all the checkpoint's files together, in bytes.
    public var fileBytes: Int
    /// The number of values in all tensors.
    public var parameters: Int
    /// Totals by element type name.
    public var byType: [String: TypeTotal]
    /// The checkpoint's own metadata, verbatim.
    public var metadata: [String: MetadataValue]
    /// Every tensor, in stored order.
    public var tensors: [Row]

    /// Summarises an open checkpoint. Reads its header only, never tensor data.
    public init(_ reader: any CheckpointReader) {
        path = reader.paths.first ?? ""
        format = reader.formatName
        metadata = reader.metadata
        let sources = reader.sourceTensors
        parameters = sources.reduce(0) { $0 + $1.elementCount }
        var totals: [String: TypeTotal] = [:]
        for tensor in sources {
            totals[tensor.type.name, default: TypeTotal()].tensors += 1
            totals[tensor.type.name, default: TypeTotal()].parameters += tensor.elementCount
            totals[tensor.type.name, default: TypeTotal()].bytes += tensor.byteCount
        }
        byType = totals
        architecture = metadata["general.architecture"]?.stringValue ?? Self.guessArchitecture(sources.map(\.name))
        // The canonical mapping names the architecture (a Hugging Face config's model_type) and
        // its features; it reads headers and config files, and at most a few small tensors.
        if let config = (try? CanonicalModel(reader: reader))?.config {
            architecture = config.architecture
            features = config.features.sorted().map(\.rawValue)
            do {
                try ArchitectureDescriptor.checkRunnable(config.architecture, config.features)
            } catch let error as KilnError {
                notRunnable = error.message
            } catch {}
        }
        fileBytes = reader.paths.reduce(0) { total, path in total + ((try? MappedFile(path: path).count) ?? 0) }
        if let kiln = reader as? KilnFile {
            formatVersion = "\(kiln.majorVersion).\(kiln.minorVersion)"
            tensors = kiln.tensors.map {
                Row(name: $0.name, type: $0.type.name, shape: $0.shape, bytes: $0.length, offset: $0.offset,
                    storedBytes: $0.storedLength, compression: Self.compressionName($0))
            }
        } else {
            tensors = sources.map { Row(name: $0.name, type: $0.type.name, shape: $0.shape, bytes: $0.byteCount) }
        }
    }

    static func compressionName(_ info: TensorInfo) -> String {
        switch (info.compression, info.filter) {
        case (.none, _): return "none"
        case (.zstd, .none): return "zstd"
        case (.zstd, .byteShuffle): return "zstd+shuffle"
        }
    }

    /// Recognises the common layouts by their tensor names when the file does not say.
    static func guessArchitecture(_ names: [String]) -> String? {
        let set = Set(names)
        func has(_ suffix: String) -> Bool { set.contains { $0.hasSuffix(suffix) } }
        if has("attn.c_attn.weight") { return "gpt2" }
        if has("self_attn.q_proj.weight") || has("attn_q.weight") || has("attention.wq.weight") { return "llama" }
        return nil
    }

    // MARK: JSON

    /// The inspection as JSON, as `kiln inspect --json` prints it; long metadata arrays are
    /// summarised unless `fullMetadata`.
    public func json(fullMetadata: Bool = false) -> JSONValue {
        var object: [String: JSONValue] = [
            "file": .string(path),
            "format": .string(format),
            "file_bytes": .int(Int64(fileBytes)),
            "parameters": .int(Int64(parameters)),
            "architecture": architecture.map(JSONValue.string) ?? .null,
            "by_type": .object(byType.mapValues {
                .object(["tensors": .int(Int64($0.tensors)), "parameters": .int(Int64($0.parameters)), "bytes": .int(Int64($0.bytes))])
            }),
            "metadata": .object(metadata.mapValues { Self.json($0, full: fullMetadata) }),
            "tensors": .array(tensors.map { row in
                var t: [String: JSONValue] = [
                    "name": .string(row.name), "type": .string(row.type),
                    "shape": .array(row.shape.map { .int(Int64($0)) }), "bytes": .int(Int64(row.bytes)),
                ]
                if let offset = row.offset { t["offset"] = .int(Int64(offset)) }
                if let stored = row.storedBytes { t["stored_bytes"] = .int(Int64(stored)) }
                if let compression = row.compression { t["compression"] = .string(compression) }
                return .object(t)
            }),
        ]
        if let formatVersion { object["format_version"] = .string(formatVersion) }
        if !features.isEmpty { object["features"] = .array(features.map(JSONValue.string)) }
        if let notRunnable { object["not_runnable"] = .string(notRunnable) }
        return .object(object)
    }

    /// Metadata as JSON; arrays longer than 16 elements are cut to their first 8 and a count.
    static func json(_ value: MetadataValue, full: Bool) -> JSONValue {
        switch value {
        case .bool(let b): return .bool(b)
        case .int(let v): return .int(v)
        case .uint(let v): return .uint(v)
        case .float(let v): return .double(v)
        case .string(let s): return .string(s)
        case .bytes(let b): return .string("0x" + b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())
        case .array(let items):
            if !full, items.count > 16 {
                return .object(["count": .int(Int64(items.count)), "first": .array(items.prefix(8).map { json($0, full: full) })])
            }
            return .array(items.map { json($0, full: full) })
        case .map(let entries): return .object(entries.mapValues { json($0, full: full) })
        }
    }

    // MARK: Text

    /// The inspection as `kiln inspect` prints it: a summary, the metadata and the tensor table.
    public func text() -> String {
        var lines: [String] = []
        lines.append("file:          \(path)")
        lines.append("format:        \(format)\(formatVersion.map { " \($0)" } ?? "")")
        lines.append("architecture:  \(architecture ?? "unknown")")
        if !features.isEmpty { lines.append("features:      \(features.joined(separator: ", "))") }
        if let notRunnable { lines.append("runnable:      no: \(notRunnable)") }
        lines.append("parameters:    \(Self.grouped(parameters)) in \(tensors.count) tensors")
        lines.append("file size:     \(Self.bytes(fileBytes))")
        lines.append("by type:")
        for (name, total) in byType.sorted(by: { $0.value.bytes > $1.value.bytes }) {
            lines.append("  \(name.padding(toLength: 6, withPad: " ", startingAt: 0)) \(String(total.tensors).leftPad(5)) tensors \(Self.grouped(total.parameters).leftPad(15)) params \(Self.bytes(total.bytes).leftPad(11))")
        }
        lines.append("metadata (\(metadata.count) keys):")
        for key in metadata.keys.sorted() {
            lines.append("  \(key) = \(Self.summary(metadata[key]!))")
        }
        // GGUF stores dimensions innermost first and gguf-dump prints them so: say which order this is.
        lines.append("tensors (shapes outermost first, [rows, columns] as numpy and PyTorch; gguf-dump prints them reversed):")
        let nameWidth = min(60, tensors.map(\.name.count).max() ?? 0)
        for row in tensors {
            var line = "  \(row.name.padding(toLength: max(nameWidth, row.name.count), withPad: " ", startingAt: 0))  \(row.type.padding(toLength: 5, withPad: " ", startingAt: 0)) \(("[" + row.shape.map(String.init).joined(separator: ", ") + "]").padding(toLength: 18, withPad: " ", startingAt: 0)) \(Self.bytes(row.bytes).leftPad(10))"
            if let compression = row.compression, compression != "none", let stored = row.storedBytes {
                line += "  \(compression) → \(Self.bytes(stored))"
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    static func summary(_ value: MetadataValue) -> String {
        switch value {
        case .string(let s):
            let oneLine = s.replacingOccurrences(of: "\n", with: "\\n")
            return oneLine.count > 100 ? "\"\(oneLine.prefix(97))…\" (\(s.count) chars)" : "\"\(oneLine)\""
        case .array(let items):
            let shown = items.prefix(4).map(summary).joined(separator: ", ")
            return items.count > 4 ? "[\(shown), …] (\(items.count) items)" : "[\(shown)]"
        case .map(let entries):
            let shown = entries.keys.sorted().prefix(6).map { "\($0): \(summary(entries[$0]!))" }.joined(separator: ", ")
            return entries.count > 6 ? "{\(shown), …} (\(entries.count) keys)" : "{\(shown)}"
        case .bytes(let b): return "<\(b.count) bytes>"
        case .bool(let b): return String(b)
        case .int(let v): return String(v)
        case .uint(let v): return String(v)
        case .float(let v): return String(v)
        }
    }

    package static func grouped(_ n: Int) -> String {
        let digits = String(n)
        var out = ""
        for (i, c) in digits.reversed().enumerated() {
            if i > 0, i % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return String(out.reversed())
    }

    package static func bytes(_ n: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(n)
        var unit = 0
        while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(n) B" : String(format: "%.2f", value) + " " + units[unit]
    }
}

private extension String {
    func leftPad(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
