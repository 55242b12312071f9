import Foundation
@testable import RunnerKit
import TextKit

/// A small valid spec on synthetic data; `patch` edits its JSON text.
func smokeSpec(_ edit: (inout [String: Any]) -> Void = { _ in }) -> String {
    var spec: [String: Any] = [
        "name": "t",
        "seed": 3,
        "dataset": ["plugin": "synthetic", "train_size": 96, "test_size": 32, "size": 8, "classes": 3],
        "model": ["layers": [
            ["conv": ["filters": 2, "kernel": 3, "padding": 1]], ["activation": [:]], ["pool": [:]],
            ["flatten": [:]], ["dense": ["units": 3]],
        ]],
        "optimizer": ["plugin": "sgd", "learning_rate": 0.1],
        "training": ["epochs": 2, "batch_size": 16],
        "probes": ["loss": ["every": 2], "grad_norms": ["every": 2], "grad_check": ["every": 4, "samples": 2, "batch": 2]],
    ]
    edit(&spec)
    let data = try! JSONSerialization.data(withJSONObject: spec, options: [.prettyPrinted, .sortedKeys])
    return String(decoding: data, as: UTF8.self)
}

func planIssues(_ text: String) -> [SpecIssue] {
    do {
        _ = try SpecLoader.plan(text: text, file: "spec.json")
        return []
    } catch {
        return error.issues
    }
}

