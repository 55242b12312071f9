import Foundation
import Testing
@testable import RunnerKit
import TextKit
import TestSupport

/// Every file of a folder under Fuzz/, by name.
func fuzzInputs(_ folder: String) -> [(name: String, bytes: [UInt8])] {
    let directory = packageRoot + "/Fuzz/" + folder
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    return names.compactMap { name in
        FileManager.default.contents(atPath: directory + "/" + name).map { (name, [UInt8]($0)) }
    }
}

@Suite("The fuzz corpus replays: every input the fuzzer kept ends in a value or a positioned error")
struct FuzzCorpusTests {
    @Test("the seeds, the committed corpus and every finding hold the fuzzer's invariants")
    func replay() {
        let seeds = fuzzInputs("seeds")
        let corpus = fuzzInputs("corpus")
        let findings = fuzzInputs("crashes")
        #expect(seeds.count >= 30 && seeds.contains { $0.name == "seed-surrogate-high" })
        #expect(corpus.count >= 100, "the fuzzer's corpus is committed")
        for input in seeds + corpus + findings {
            let problems = SpecFuzzing.check(input.bytes)
            #expect(problems.isEmpty, "\(input.name): \(problems)")
        }
    }

    @Test("the invariants can fail: a writer that loses a value or an unpositioned error is caught")
    func invariantsHaveTeeth() {
        #expect(SpecFuzzing.positionProblems([SpecIssue(path: "x", line: -1, column: 0, message: "m")]).count == 1)
        #expect(SpecFuzzing.positionProblems([SpecIssue(path: "x", line: 1, column: 1, message: "")]).count == 1)
        #expect(SpecFuzzing.positionProblems([SpecIssue(path: "x", line: 0, column: 0, message: "cannot be read")]).isEmpty)
        // A seed that used to trap is now an ordinary syntax error: no problems.
        #expect(SpecFuzzing.check(Array(#"{"name": "\uD800\u0041"}"#.utf8)).isEmpty)
    }
}
