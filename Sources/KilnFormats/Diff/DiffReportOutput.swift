import Foundation
import KilnCore

/// The two ways `kiln diff` prints a report: a table for people, JSON for scripts.
extension DiffReport {
    // MARK: Text

    /// The tensor table (worst first), tensors on one side only, metadata differences, notes and
    /// a one-line summary. `onlyChanged` leaves identical tensors out.
    public func text(onlyChanged: Bool = false, failOn: FailOn = .changed) -> String {
        var lines: [String] = []
        for (label, side) in [("A", a), ("B", b)] {
            let origin = side.origin != side.format ? ", from \(side.origin)" : ""
            lines.append("\(label): \(side.path) (\(side.format)\(origin), \(side.architecture ?? "unknown architecture"), \(side.tensorCount) tensors)")
        }
        if tolerance != .exact {
            lines.append("tolerance: |a - b| <= \(Self.number(tolerance.absolute)) + \(Self.number(tolerance.relative)) * |b|")
        }
        let shown = tensors.filter { !onlyChanged || $0.status != .identical }
        if !shown.isEmpty {
            lines.append("")
            lines += Self.table(shown)
        }
        if !onlyInA.isEmpty || !onlyInB.isEmpty { lines.append("") }
        for entry in onlyInA { lines.append("only in A: \(entry.name)  \(entry.type.name) \(Self.shape(entry.shape))") }
        for entry in onlyInB { lines.append("only in B: \(entry.name)  \(entry.type.name) \(Self.shape(entry.shape))") }
        if !metadata.isEmpty {
            lines.append("")
            lines.append("metadata:")
            for difference in metadata { lines += Self.describe(difference) }
        }
        if !notes.isEmpty { lines.append("") }
        for note in notes { lines.append("note: \(note)") }
        lines.append("")
        lines.append(summary(failOn: failOn))
        return lines.joined(separator: "\n")
    }

    /// `17 identical, 1 within tolerance, 3 changed, 1 only in A, 1 only in B; …: different`
    public func summary(failOn: FailOn = .changed) -> String {
        var parts = ["\(identicalCount) identical"]
        if withinToleranceCount > 0 { parts.append("\(withinToleranceCount) within tolerance") }
        parts += ["\(changedCount) changed", "\(onlyInA.count) only in A", "\(onlyInB.count) only in B"]
        var extra: [String] = []
        if typeChangeCount > 0 { extra.append("\(typeChangeCount) type change\(typeChangeCount == 1 ? "" : "s")") }
        extra.append("\(metadata.count) metadata difference\(metadata.count == 1 ? "" : "s")")
        if checksumShortcuts > 0 { extra.append("\(checksumShortcuts) by checksum") }
        let verdict = isDifferent(failOn: failOn) ? "different" : "equal"
        let speed = bytesCompared > 0 ? String(format: ", %.2f GB/s", gigabytesPerSecond) : ""
        return "summary: " + parts.joined(separator: ", ") + "; " + extra.joined(separator: ", ")
            + String(format: " (%.2f s", seconds) + speed + "): " + verdict
    }

    private static func table(_ rows: [TensorDifference]) -> [String] {
        let header = ["tensor", "status", "type", "shape", "max_abs", "mean_abs", "rmse", "rel_rmse", "cosine", "snr_db", "beyond"]
        var cells: [[String]] = [header]
        for row in rows {
            let type = row.typeChanged ? "\(row.a.type.name)→\(row.b.type.name)" : row.a.type.name
            let shape = row.a.shape == row.b.shape ? shape(row.a.shape) : "\(shape(row.a.shape))→\(shape(row.b.shape))"
            var line = [row.name, row.status.rawValue, type, shape]
            if let c = row.comparison {
                line += [number(c.maxAbs), number(c.meanAbs), number(c.rmse), number(c.relativeRMSE),
                         String(format: "%.8f", c.cosine), decibels(c.snrDB), percent(c.fractionBeyondTolerance)]
            } else {
                line += Array(repeating: "-", count: 7)
            }
            cells.append(line)
        }
        let widths = header.indices.map { column in cells.map { $0[column].count }.max() ?? 0 }
        return cells.map { line in
            line.enumerated().map { column, cell in
                // Names and words left-aligned, numbers right-aligned.
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return column < 4 ? cell + pad : pad + cell
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
    }

    private static func describe(_ d: MetadataDifference) -> [String] {
        var parts: [String] = []
        switch d.kind {
        case .changed: if d.a != nil || d.b != nil { parts.append("\(d.a ?? "none") → \(d.b ?? "none")") }
        case .onlyInA: parts.append("only in A (\(d.a ?? ""))")
        case .onlyInB: parts.append("only in B (\(d.b ?? ""))")
        }
        let counts = ["added", "removed", "changed"].compactMap { key in d.counts[key].flatMap { $0 > 0 ? "\($0) \(key)" : nil } }
        if !counts.isEmpty { parts.append(counts.joined(separator: ", ")) }
        return ["  \(d.key): " + parts.joined(separator: "; ")] + d.details.map { "      " + $0 }
    }

    static func shape(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }

    static func number(_ v: Double) -> String {
        if v == 0 { return "0" }
        if !v.isFinite { return v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf") }
        return String(format: "%.3e", v)
    }

    private static func decibels(_ v: Double) -> String {
        v.isFinite ? String(format: "%.2f", v) : (v > 0 ? "inf" : "-inf")
    }

    private static func percent(_ v: Double) -> String {
        v == 0 ? "0" : String(format: "%.3g%%", v * 100)
    }

    // MARK: JSON

    /// The report for scripts. Counts and lists as named in the CLI docs; statistics that are
    /// infinite (SNR of identical tensors) are null, as JSON has no infinity.
    public func json(onlyChanged: Bool = false, failOn: FailOn = .changed) -> JSONValue {
        func sideJSON(_ side: Side) -> JSONValue {
            .object([
                "path": .string(side.path), "format": .string(side.format), "origin": .string(side.origin),
                "architecture": side.architecture.map(JSONValue.string) ?? .null, "tensors": .int(Int64(side.tensorCount)),
                "warnings": .array(side.warnings.map(JSONValue.string)),
            ])
        }
        func entryJSON(_ e: TensorEntry) -> JSONValue {
            .object(["name": .string(e.name), "type": .string(e.type.name), "shape": .array(e.shape.map { .int(Int64($0)) })])
        }
        let rows = tensors.filter { !onlyChanged || $0.status != .identical }.map { row -> JSONValue in
            var object: [String: JSONValue] = [
                "name": .string(row.name), "status": .string(row.status.rawValue), "method": .string(row.method.rawValue),
                "type_a": .string(row.a.type.name), "type_b": .string(row.b.type.name),
                "shape_a": .array(row.a.shape.map { .int(Int64($0)) }), "shape_b": .array(row.b.shape.map { .int(Int64($0)) }),
            ]
            if let c = row.comparison { object.merge(c.json) { first, _ in first } }
            return .object(object)
        }
        // Values as `inspect --json` gives them ("smollm", 576, [1, 2]), not as the table's quoted
        // renderings; a summary that is no JSON value ("[49152 items: …]") stays a string.
        func value(_ rendering: String?) -> JSONValue {
            guard let rendering else { return .null }
            return (try? JSONValue.parse(rendering)) ?? .string(rendering)
        }
        let metadataRows = metadata.map { d -> JSONValue in
            var object: [String: JSONValue] = [
                "key": .string(d.key), "kind": .string(d.kind.rawValue), "a": value(d.a), "b": value(d.b),
            ]
            if !d.counts.isEmpty { object["counts"] = .object(d.counts.mapValues { .int(Int64($0)) }) }
            if !d.details.isEmpty { object["details"] = .array(d.details.map(JSONValue.string)) }
            return .object(object)
        }
        return .object([
            "a": sideJSON(a), "b": sideJSON(b),
            "tolerance": .object(["atol": .double(tolerance.absolute), "rtol": .double(tolerance.relative)]),
            "identical": .int(Int64(identicalCount)),
            "within_tolerance": .int(Int64(withinToleranceCount)),
            "changed": .int(Int64(changedCount)),
            "matched": .int(Int64(tensors.count)),
            "type_changes": .int(Int64(typeChangeCount)),
            "only_in_a": .array(onlyInA.map { .string($0.name) }),
            "only_in_b": .array(onlyInB.map { .string($0.name) }),
            "only_in_a_tensors": .array(onlyInA.map(entryJSON)),
            "only_in_b_tensors": .array(onlyInB.map(entryJSON)),
            "tensors": .array(rows),
            "metadata": .array(metadataRows),
            "notes": .array(notes.map(JSONValue.string)),
            "checksum_shortcuts": .int(Int64(checksumShortcuts)),
            "bytes_compared": .int(Int64(bytesCompared)),
            "seconds": .double(seconds),
            "gigabytes_per_second": .double(gigabytesPerSecond),
            "fail_on": .string(failOn.rawValue),
            "equal": .bool(!isDifferent(failOn: failOn)),
        ])
    }
}
