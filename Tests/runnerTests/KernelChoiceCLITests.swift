import Foundation
import Testing

/// `CONVLAB_KERNELS` chooses the engine kernels' instruction set; a value that names none is bad
/// input and gets one line, not a silent fallback to the CPU's best.
@Suite("CONVLAB_KERNELS")
struct KernelChoiceCLITests {
    func run(kernels: String, _ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: runnerPath)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["CONVLAB_KERNELS"] = kernels
        environment.removeValue(forKey: "CONVLAB_STORE")
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return finish((process, out, err))
    }

    @Test("an unknown name stops the runner with exit code 2 and says which names work",
          arguments: ["AVX2", "x86-64", "avx-512", "bogus", ""])
    func unknownName(value: String) throws {
        let result = try run(kernels: value, ["plugins", "--kind", "pooling"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("CONVLAB_KERNELS=\(value) is not an instruction set; use avx512, avx2 or generic"))
        #expect(result.stdout.isEmpty)
    }

    @Test("the three names are accepted", arguments: ["avx512", "avx2", "generic"])
    func knownName(value: String) throws {
        let result = try run(kernels: value, ["plugins", "--kind", "pooling"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("max"))
    }
}
