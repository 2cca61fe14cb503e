import Dispatch
import Foundation
import KilnCore

/// Converts a tensor's elements to f32, f16 or bf16: float types are rounded to nearest even,
/// quantised blocks are dequantised with the same decoders the reader uses (bit-exact with
/// gguf-py). Works in cache-sized chunks, so no full-size f32 copy is made on the way to a
/// 16-bit type, and splits large tensors across cores.
enum TypeConversion {
    /// Elements decoded at a time: a multiple of every block size, 64 KiB of f32.
    static let chunkElements = 16_384
    /// Tensors smaller than this are converted on one thread (spawning costs more).
    static let parallelThreshold = 1 << 20

    static func convert(_ source: UnsafeRawBufferPointer, from: ElementType, to: ElementType, elements: Int) throws -> TensorData {
        guard let outWidth = to.scalarBytes, to.category == .float, to == .f32 || to == .f16 || to == .bf16 else {
            throw KilnError(.unsupported, "cannot convert to \(to.name); the targets are f32, f16 and bf16")
        }
        guard from.category == .float || from.category == .quantized else {
            throw KilnError(.unsupported, "\(from.name) values are not converted to \(to.name)")
        }
        let blocks = elements / from.blockElements
        guard elements % from.blockElements == 0, try Checked.multiply(blocks, from.blockBytes, "tensor bytes") == source.count else {
            throw KilnError(.malformed, "\(source.count) bytes do not hold \(elements) values of type \(from.name)")
        }
        let output = try OwnedBytes(count: try Checked.multiply(elements, outWidth, "converted tensor bytes"))
        guard elements > 0, let input = source.baseAddress else { return TensorData(output) }

        let blocksPerChunk = max(1, chunkElements / from.blockElements)
        let chunks = (blocks + blocksPerChunk - 1) / blocksPerChunk
        let parts = elements >= parallelThreshold ? min(ProcessInfo.processInfo.activeProcessorCount, chunks) : 1
        let destination = UnsafeSendable(output.pointer)
        let sourceBase = UnsafeSendable(UnsafeMutableRawPointer(mutating: input))
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let firstChunk = chunks * part / parts, endChunk = chunks * (part + 1) / parts
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: blocksPerChunk * from.blockElements)
            defer { scratch.deallocate() }
            for chunk in firstChunk..<endChunk {
                let firstBlock = chunk * blocksPerChunk
                let count = min(blocksPerChunk, blocks - firstBlock)
                let values = count * from.blockElements
                let firstValue = firstBlock * from.blockElements
                let src = UnsafeRawPointer(sourceBase.value) + firstBlock * from.blockBytes
                if to == .f32 {
                    let out = (destination.value + firstValue * 4).assumingMemoryBound(to: Float.self)
                    from.decodeBlocks(src, blocks: count, into: out)
                    continue
                }
                from.decodeBlocks(src, blocks: count, into: scratch)
                let out = (destination.value + firstValue * 2).assumingMemoryBound(to: UInt16.self)
                if to == .f16 {
                    for i in 0..<values { out[i] = HalfPrecision.halfFromFloat(scratch[i]) }
                } else {
                    for i in 0..<values { out[i] = HalfPrecision.bfloatFromFloat(scratch[i]) }
                }
            }
        }
        return TensorData(output)
    }
}

/// A pointer handed to worker threads that write disjoint parts of one buffer.
struct UnsafeSendable: @unchecked Sendable {
    let value: UnsafeMutableRawPointer
    init(_ value: UnsafeMutableRawPointer) { self.value = value }
}
