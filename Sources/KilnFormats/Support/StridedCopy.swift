import KilnCore

/// Copies a strided window of elements into C order in memory Kiln owns: PyTorch's
/// non-contiguous tensors, NumPy's Fortran-order arrays, and (with `byteSwap`) big-endian data.
/// Callers have checked that the window lies inside `source` and that `byteCount` is the
/// element count of `shape` times `itemSize`.
enum StridedCopy {
    static func gather(_ source: UnsafeRawBufferPointer, itemSize: Int, offset: Int, shape: [Int], strides: [Int],
                       byteSwap: Bool, byteCount: Int) throws -> OwnedBytes {
        let output = try OwnedBytes(count: byteCount)
        let count = byteCount / itemSize
        guard count > 0, let from = source.baseAddress else { return output }
        var index = [Int](repeating: 0, count: shape.count)
        var element = offset
        let to = output.pointer
        for o in 0..<count {
            let src = from + element * itemSize, dst = to + o * itemSize
            if byteSwap {
                for b in 0..<itemSize {
                    dst.storeBytes(of: src.load(fromByteOffset: itemSize - 1 - b, as: UInt8.self), toByteOffset: b, as: UInt8.self)
                }
            } else {
                dst.copyMemory(from: src, byteCount: itemSize)
            }
            // Advance the multi-index, last dimension fastest.
            var d = shape.count - 1
            while d >= 0 {
                index[d] += 1
                element += strides[d]
                if index[d] < shape[d] { break }
                element -= strides[d] * shape[d]
                index[d] = 0
                d -= 1
            }
        }
        return output
    }

    /// Strides (in elements) of a C-order array of `shape`.
    static func cOrderStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var step = 1
        for d in shape.indices.reversed() {
            strides[d] = step
            step &*= shape[d]
        }
        return strides
    }

    /// Strides (in elements) of a Fortran-order array of `shape`: first dimension fastest.
    static func fortranOrderStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var step = 1
        for d in shape.indices {
            strides[d] = step
            step &*= shape[d]
        }
        return strides
    }
}
