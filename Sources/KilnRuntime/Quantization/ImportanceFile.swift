import Foundation
import KilnCore

/// A calibration run's per-column importance saved to a JSON file (`kiln quantize
/// --save-importance`), so one run through the model serves every scheme (`--importance`), as
/// llama.cpp's imatrix file does:
///
///     {"kiln_importance": 1, "tokens": 3570, "calibration_sha256": "…",
///      "tensors": {"blk.0.attn_q.weight": [0.31, …], …}}
///
/// Values are written with the shortest decimal that reads back to the same f32.
enum ImportanceFile {
    static func write(_ importance: [String: [Float]], tokens: Int, calibrationSHA256: String?, to path: String) throws {
        var object: [String: JSONValue] = [
            "kiln_importance": .int(1), "tokens": .int(Int64(tokens)),
            "tensors": .object(importance.mapValues { .array($0.map { .double(Double($0)) }) }),
        ]
        if let calibrationSHA256 { object["calibration_sha256"] = .string(calibrationSHA256) }
        let file = try AtomicOutputFile(path: path)
        try file.write(Array(JSONValue.object(object).serialized().utf8))
        try file.commit()
    }

    /// - Throws: ``/KilnCore/KilnError`` (`.malformed`) naming what is missing or not a number.
    static func read(_ path: String) throws -> (importance: [String: [Float]], tokens: Int, calibrationSHA256: String?) {
        let mapping = try MappedFile(path: path)
        let json = try withExtendedLifetime(mapping) { try JSONValue.parse(String(decoding: mapping.bytes, as: UTF8.self)) }
        guard json["kiln_importance"]?.intValue == 1, let tensors = json["tensors"]?.objectValue else {
            throw KilnError(.malformed, "not an importance file written by kiln quantize --save-importance", file: path)
        }
        var importance: [String: [Float]] = [:]
        for (name, values) in tensors {
            guard let array = values.arrayValue else { throw KilnError(.malformed, "\(name): expected an array of numbers", file: path) }
            importance[name] = try array.map {
                guard let value = $0.doubleValue, value >= 0 else { throw KilnError(.malformed, "\(name): expected non-negative numbers", file: path) }
                return Float(value)
            }
        }
        return (importance, json["tokens"]?.intValue ?? 0, json["calibration_sha256"]?.stringValue)
    }
}
