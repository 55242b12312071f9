// libFuzzer entry point for the JSON parser and spec validation; built and run by scripts/fuzz
// (not part of the package: libFuzzer brings its own main).
import RunnerKit

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let problems = SpecFuzzing.check(Array(UnsafeBufferPointer(start: data, count: size)))
    if !problems.isEmpty { fatalError(problems.joined(separator: "\n")) }
    return 0
}
