#if KILN_LIBFUZZER
import Foundation

// libFuzzer's hooks, compiled only in the fuzzing build (Tools/fuzz.sh passes -DKILN_LIBFUZZER
// with -sanitize=fuzzer,address), where the replay `@main` is left out. One binary serves every
// target; KILN_FUZZ_TARGET names the one to run.

nonisolated(unsafe) private var selected: FuzzTargets.Body?

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    let name = ProcessInfo.processInfo.environment["KILN_FUZZ_TARGET"] ?? ""
    guard let body = FuzzTargets.all[name] else {
        FileHandle.standardError.write(Data("kiln-fuzz: set KILN_FUZZ_TARGET to one of: \(FuzzTargets.all.keys.sorted().joined(separator: ", "))\n".utf8))
        exit(2)
    }
    selected = body
    _ = FuzzTargets.scratchDirectory
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    do { try selected!(bytes) } catch {}
    return 0
}
#endif

#if KILN_LIBFUZZER
// SwiftPM links debug executables with `main` renamed to `<target>_main` (so tests can link
// them); with no `@main` here, that name is given to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
private func runDriver(_ argc: UnsafeMutablePointer<Int32>,
                       _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                       _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

@_cdecl("kiln_fuzz_main")
public func kilnFuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return runDriver(&count, &arguments) { data, size in fuzzerTestOneInput(data, size) }
}
#endif
