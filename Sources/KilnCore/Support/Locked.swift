import Foundation

// Small lock-protected helpers for work spread over threads.

/// A shared tally: the next work item to take, bytes done, differences found.
package final class LockedCounter: @unchecked Sendable {
    // Sendable: `count` is guarded by `lock`.
    private let lock = NSLock()
    private var count = 0

    package init() {}

    /// Adds `amount` and returns the new total.
    @discardableResult
    package func add(_ amount: Int) -> Int {
        lock.lock(); defer { lock.unlock() }
        count += amount
        return count
    }

    package var value: Int {
        lock.lock(); defer { lock.unlock() }
        return count
    }
}

final class LockedArray<Element>: @unchecked Sendable {
    // Sendable: `storage` is guarded by `lock`.
    private let lock = NSLock()
    private var storage: [Element] = []
    func append(_ element: Element) {
        lock.lock(); defer { lock.unlock() }
        storage.append(element)
    }
    var values: [Element] {
        lock.lock(); defer { lock.unlock() }
        return storage
    }
}
