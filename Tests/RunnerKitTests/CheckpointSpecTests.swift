import Foundation
import Testing
@testable import RunnerKit
import TextKit

@Suite("Spec section checkpoint")
struct CheckpointSpecTests {
    static func plan(_ checkpoint: Any?) throws -> RunPlan {
        let text = smokeSpec { spec in if let checkpoint { spec["checkpoint"] = checkpoint } }
        return try #require(try SpecLoader.plan(text: text, file: "t.json").runs.first)
    }

    @Test("left out, it checkpoints every epoch and keeps the last; given, the plan carries it")
    func defaultsAndValues() throws {
        let defaults = try Self.plan(nil)
        #expect(defaults.checkpoint == CheckpointSettings(everyEpochs: 1, keep: .last))
        #expect(defaults.param("checkpoint.every_epochs") == "1" && defaults.param("checkpoint.keep") == "last")
        #expect(defaults.resolvedJSON.contains("\"checkpoint\""))
        #expect(try Self.plan(["every_epochs": 3, "keep": "all"]).checkpoint == CheckpointSettings(everyEpochs: 3, keep: .all))
        #expect(try Self.plan(["every_epochs": 0]).checkpoint == CheckpointSettings(everyEpochs: 0, keep: .last))
        #expect(try Self.plan(["keep": "all"]).checkpoint == CheckpointSettings(everyEpochs: 1, keep: .all))
    }

    /// Saving more or less often computes the same run: the spec hash stays, so a sweep can be
    /// resumed after the setting changed; anything else changes it.
    @Test("the spec hash ignores the checkpoint section and nothing else")
    func hash() throws {
        let base = try Self.plan(nil).specHash
        #expect(try Self.plan(["every_epochs": 5, "keep": "all"]).specHash == base)
        #expect(try Self.plan([:]).specHash == base)
        let otherSeed = try #require(try SpecLoader.plan(text: smokeSpec { $0["seed"] = 4 }, file: "t.json").runs.first)
        #expect(otherSeed.specHash != base)
    }

    @Test("when a checkpoint is written: every n epochs and after the last, never with 0")
    func schedule() {
        #expect((1...5).filter { CheckpointSettings(everyEpochs: 1, keep: .last).writes(afterEpoch: $0, of: 5) } == [1, 2, 3, 4, 5])
        #expect((1...7).filter { CheckpointSettings(everyEpochs: 3, keep: .last).writes(afterEpoch: $0, of: 7) } == [3, 6, 7])
        #expect((1...5).filter { CheckpointSettings(everyEpochs: 0, keep: .last).writes(afterEpoch: $0, of: 5) }.isEmpty)
    }

    @Test("bad values are reported at their path and line with what was expected", arguments: [
        (#"{"checkpoint": {"every_epochs": -1}}"#, "checkpoint.every_epochs", "an integer ≥ 0"),
        (#"{"checkpoint": {"every_epochs": 1.5}}"#, "checkpoint.every_epochs", "an integer"),
        (#"{"checkpoint": {"every_epochs": "1"}}"#, "checkpoint.every_epochs", "got \"1\""),
        (#"{"checkpoint": {"keep": "some"}}"#, "checkpoint.keep", "\"last\""),
        (#"{"checkpoint": {"keep": 1}}"#, "checkpoint.keep", "\"all\""),
        (#"{"checkpoint": {"evry_epochs": 2}}"#, "checkpoint.evry_epochs", "did you mean \"every_epochs\"?"),
        (#"{"checkpoint": true}"#, "checkpoint", "object"),
        (#"{"checkpoints": {}}"#, "checkpoints", "did you mean \"checkpoint\"?"),
    ])
    func badValues(patch: String, path: String, fragment: String) throws {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(patch.utf8)) as? [String: Any])
        let text = smokeSpec { spec in for (k, v) in object { spec[k] = v } }
        let issues = planIssues(text)
        let issue = issues.first { $0.path == path }
        #expect(issue?.message.contains(fragment) == true, "\(issues)")
        let key = path.split(separator: ".").last.map(String.init) ?? path
        let line = text.components(separatedBy: "\n").firstIndex { $0.contains("\"\(key)\"") }.map { $0 + 1 }
        #expect(issue?.line == line, "\(issues)")
    }

    @Test("the JSON Schema declares the section with its defaults and choices")
    func schema() throws {
        let text = SchemaGenerator.text()
        let root = try JSONParser.parse(text)
        let checkpoint = try #require(root.value["properties"]?.value["checkpoint"]?.value)
        let properties = try #require(checkpoint["properties"]?.value)
        #expect(properties["every_epochs"]?.value["minimum"]?.value == .number(0))
        #expect(properties["every_epochs"]?.value["default"]?.value == .number(1))
        #expect(properties["keep"]?.value["enum"].map { JSONWriter.write($0.value, pretty: false) } == #"["last","all"]"#)
        #expect(checkpoint["additionalProperties"]?.value == .bool(false))
    }
}

@Suite("Matrix and the checkpoint section")
struct CheckpointMatrixTests {
    /// Variants that differ only in checkpointing would compute the same run under one spec hash.
    @Test("a matrix cannot set checkpoint keys, and says why")
    func matrixRefusesCheckpoint() {
        let issues = planIssues(smokeSpec { $0["matrix"] = ["checkpoint.every_epochs": [1, 2]] })
        #expect(issues.contains {
            $0.message.contains("\"checkpoint\" cannot be set by the matrix (how often a run saves its state does not change what it computes")
                && $0.message.contains("sections it can set: description, seed, dataset, model, loss, optimizer, training, evaluation, probes")
        }, "\(issues)")
    }
}
