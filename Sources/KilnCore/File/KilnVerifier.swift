import Dispatch
import Foundation

/// The result of checking every tensor of a `.kiln` file against its checksum.
public struct VerificationReport: Sendable {
    /// One tensor that failed its check.
    public struct Failure: Sendable {
        /// The tensor's name.
        public let tensor: String
        /// What was wrong: a checksum mismatch (`.checksum`) or a compressed stream that does
        /// not decode (`.malformed`), with the tensor's offset.
        public let error: KilnError
    }

    /// Tensors checked: all of them.
    public var tensorsChecked: Int
    /// Bytes read as stored (compressed lengths for compressed tensors).
    public var bytesChecked: Int
    /// The tensors that failed, in file order.
    public var failures: [Failure]
    /// Whether every tensor matched its checksum.
    public var isSound: Bool { failures.isEmpty }
}

extension KilnFile {
    /// Checks every tensor: decompresses compressed ones (without keeping them) and compares
    /// the XXH64 of each tensor's bytes with the one in the table. The header was already
    /// verified on open. Work is spread over `threads` threads; `progress` receives bytes done.
    public func verify(threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                       progress: (@Sendable (Int) -> Void)? = nil) -> VerificationReport {
        mapping.advise(.sequential)
        let order = tensors.indices.sorted { tensors[$0].offset < tensors[$1].offset }
        let failures = LockedArray<VerificationReport.Failure>()
        let done = LockedCounter()
        let next = LockedCounter()
        DispatchQueue.concurrentPerform(iterations: max(1, min(threads, order.count))) { _ in
            while true {
                let slot = next.add(1) - 1
                guard slot < order.count else { return }
                let info = tensors[order[slot]]
                if let error = check(info) {
                    failures.append(.init(tensor: info.name, error: error))
                }
                let total = done.add(info.storedLength)
                progress?(total)
            }
        }
        let sorted = failures.values.sorted { tensor(named: $0.tensor)!.offset < tensor(named: $1.tensor)!.offset }
        return VerificationReport(
            tensorsChecked: tensors.count, bytesChecked: tensors.reduce(0) { $0 + $1.storedLength }, failures: sorted)
    }

    private func check(_ info: TensorInfo) -> KilnError? {
        let actual: UInt64
        if info.compression == .none {
            actual = XXH64.hash(storedBytes(info))
        } else {
            do {
                // Decompressed into memory that is dropped afterwards, not into the cache.
                let scratch = try decompress(info)
                actual = scratch.withBytes { XXH64.hash($0) }
            } catch let error as KilnError {
                return error
            } catch {
                return KilnError(.io, "\(error)", file: path, location: "tensor '\(info.name)'")
            }
        }
        guard actual == info.checksum else {
            return KilnError(.checksum,
                "checksum mismatch: table says \(hex64(info.checksum)), data hashes to \(hex64(actual))",
                file: path, location: "tensor '\(info.name)'", offset: UInt64(info.offset))
        }
        return nil
    }
}
