import Dispatch

/// Runs `body(0..<count)` across the machine's cores and returns when all are done.
/// The body may capture raw pointers: callers guarantee each index touches disjoint memory.
package func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    withoutActuallyEscaping(body) { escapable in
        let box = UncheckedSendable(escapable)
        DispatchQueue.concurrentPerform(iterations: count) { box.value($0) }
    }
}

package struct UncheckedSendable<Value>: @unchecked Sendable {
    package let value: Value
    package init(_ value: Value) { self.value = value }
}
