import ConvLabKit
import Foundation
import Testing
@testable import RunnerKit
import TextKit
import TestSupport

@Suite("Spec validation: every problem with its JSON path, line and a way to fix it")
struct SpecValidationTests {
    @Test("a valid spec resolves with every default filled in")
    func resolvesDefaults() throws {
        let plan = try SpecLoader.plan(text: smokeSpec(), file: "t.json")
        #expect(plan.runs.count == 1)
        let run = try #require(plan.runs.first)
        #expect(run.param("training.shuffle") == "true")
        #expect(run.param("model.activation") == "relu")
        #expect(run.param("model.pooling") == "max")
        #expect(run.param("model.layers[2].pool.mode") == "max")     // inherited from model.pooling
        #expect(run.param("model.layers[1].activation.function") == "relu")
        #expect(run.param("optimizer") == "sgd")
        #expect(run.param("optimizer.momentum") == "0")
        #expect(run.params.first { $0.key == "optimizer.learning_rate" }?.real == 0.1)
        #expect(run.classes == 3 && run.inputShape.description == "1×8×8")
    }

    @Test("an unknown key is an error with a suggestion, its path and its line")
    func unknownKey() {
        let text = smokeSpec { $0["training"] = ["epochs": 1, "batch_sise": 8] }
        let issues = planIssues(text)
        let issue = issues.first { $0.path == "training.batch_sise" }
        #expect(issue != nil)
        #expect(issue?.message.contains("did you mean \"batch_size\"?") == true)
        let line = text.components(separatedBy: "\n").firstIndex { $0.contains("batch_sise") }.map { $0 + 1 }
        #expect(issue?.line == line)
    }

    @Test("wrong types and out-of-range values name what was expected", arguments: [
        (#"{"training": {"epochs": 0}}"#, "training.epochs", "an integer ≥ 1"),
        (#"{"training": {"epochs": "five"}}"#, "training.epochs", "got \"five\""),
        (#"{"optimizer": {"plugin": "sgd", "learning_rate": -1}}"#, "optimizer.learning_rate", "a number > 0"),
        (#"{"optimizer": {"plugin": "sgd", "momentum": 1}}"#, "optimizer.momentum", "in [0, 1)"),
        (#"{"seed": 1.5}"#, "seed", "an integer"),
        (#"{"evaluation": {"test": "yes"}}"#, "evaluation.test", "true or false"),
    ])
    func typeErrors(patch: String, path: String, fragment: String) throws {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(patch.utf8)) as? [String: Any])
        let issues = planIssues(smokeSpec { spec in for (k, v) in object { spec[k] = v } })
        #expect(issues.contains { $0.path == path && $0.message.contains(fragment) }, "\(issues)")
    }

    @Test("an unknown plugin suggests the closest name and lists the known ones")
    func unknownPlugin() {
        let issues = planIssues(smokeSpec { $0["optimizer"] = ["plugin": "adamm"] })
        let issue = issues.first { $0.path == "optimizer" }
        #expect(issue?.message.contains("unknown optimizer \"adamm\"; did you mean \"adam\"?") == true)
    }

    @Test("layer problems point into model.layers")
    func layerProblems() {
        var issues = planIssues(smokeSpec { spec in
            spec["model"] = ["layers": [["conv": ["filters": 2, "kernel": 3, "strides": 2]], ["flatten": [:]], ["dense": ["units": 3]]]]
        })
        #expect(issues.contains { $0.path == "model.layers[0].conv.strides" && $0.message.contains("did you mean \"stride\"?") })
        issues = planIssues(smokeSpec { spec in spec["model"] = ["layers": [["convolution": ["filters": 2]], ["dense": ["units": 3]]]] })
        #expect(issues.contains { $0.path == "model.layers[0]" && $0.message.contains("unknown layer \"convolution\"; did you mean \"conv\"?") })
        issues = planIssues(smokeSpec { spec in spec["model"] = ["layers": [["conv": ["kernel": 3]], ["flatten": [:]], ["dense": ["units": 3]]]] })
        #expect(issues.contains { $0.path == "model.layers[0].conv.filters" && $0.message.contains("is required") })
    }

    @Test("every problem is reported at once")
    func collectsAllIssues() {
        let issues = planIssues(smokeSpec { spec in
            spec["seed"] = -1
            spec["training"] = ["epochs": 0, "batchsize": 3]
            spec["loss"] = "cross_entropy"
        })
        #expect(issues.count >= 4)
    }

    @Test("a kernel too large for its input is found at build time and reported at that layer's line")
    func shapeErrorAtLayer() {
        let text = smokeSpec { spec in
            spec["model"] = ["layers": [["pool": ["size": 4]], ["conv": ["filters": 2, "kernel": 5]], ["flatten": [:]], ["dense": ["units": 3]]]]
        }
        let issues = planIssues(text)
        let issue = issues.first { $0.path == "model.layers[1].conv" }
        #expect(issue?.message.contains("kernel 5×5 is larger than its padded input 2×2") == true, "\(issues)")
        let line = text.components(separatedBy: "\n").firstIndex { $0.contains("\"conv\"") }.map { $0 + 1 }
        #expect(issue?.line == line)
    }

    @Test("sizes that would exhaust memory are refused before anything is allocated")
    func hugeSizes() {
        var issues = planIssues(smokeSpec { spec in spec["model"] = ["layers": [["conv": ["filters": 2, "kernel": 1e300]], ["flatten": [:]], ["dense": ["units": 3]]]] })
        #expect(issues.contains { $0.path == "model.layers[0].conv.kernel" && $0.message.contains("an integer in [1, 4096]") })
        issues = planIssues(smokeSpec { spec in
            spec["model"] = ["layers": [["flatten": [:]], ["dense": ["units": 1_000_000]], ["dense": ["units": 1_000_000]], ["dense": ["units": 3]]]]
        })
        #expect(issues.contains { $0.path == "model.layers[2].dense" && $0.message.contains("would hold 1000000000000 weights") }, "\(issues)")
        issues = planIssues(smokeSpec { spec in
            spec["model"] = ["layers": [["conv": ["filters": 65536, "kernel": 1, "padding": 2000]], ["flatten": [:]], ["dense": ["units": 3]]]]
        })
        #expect(issues.contains { $0.path == "model.layers[0].conv" && $0.message.contains("values per image") }, "\(issues)")
    }

    @Test("the last layer must produce one output per class")
    func outputsMustMatchClasses() {
        let issues = planIssues(smokeSpec { spec in spec["model"] = ["layers": [["flatten": [:]], ["dense": ["units": 7]]]] })
        #expect(issues.contains { $0.path == "model.layers[1].dense" && $0.message.contains("7 outputs but the data set has 3 classes") })
    }

    @Test("a declared input shape must match the data")
    func inputShapeMismatch() {
        let issues = planIssues(smokeSpec { spec in
            spec["model"] = ["input": [1, 28, 28], "layers": [["flatten": [:]], ["dense": ["units": 3]]]]
        })
        #expect(issues.contains { $0.path == "model.input" && $0.message.contains("the data set's images are 1×8×8") })
    }

    @Test("a missing data folder is reported at dataset.path with how to install it")
    func missingDataset() {
        let issues = planIssues(smokeSpec { $0["dataset"] = ["plugin": "idx", "path": "/nonexistent/fashion"] })
        let issue = issues.first { $0.path == "dataset.path" }
        #expect(issue?.message.contains("/nonexistent/fashion: no such folder") == true)
        #expect(issue?.message.contains("apt-get install dataset-fashion-mnist") == true)
    }

    @Test("JSON syntax errors are spec errors with line and column")
    func syntaxError() {
        let issues = planIssues("{\n  \"name\": \"x\",\n}")
        #expect(issues.first?.message.contains("JSON syntax error: trailing comma") == true)
        #expect(issues.first?.line == 3)
    }

    @Test("files that are not specs", arguments: [
        ("", "JSON syntax error: unexpected end of file: a value is missing"),
        ("[1, 2]", "a spec must be a JSON object, got an array"),
        ("{\"name\": \"x\"} trailing", "JSON syntax error: unexpected text after the end of the JSON value"),
    ])
    func notSpecs(text: String, message: String) {
        #expect(planIssues(text).first?.message == message)
    }

    @Test("a file that is not UTF-8 text")
    func notUTF8() throws {
        let path = temporaryPath("binary.json")
        FileManager.default.createFile(atPath: path, contents: Data([0x7B, 0xFF, 0xFE, 0x7D]))
        #expect {
            _ = try SpecLoader.load(file: path)
        } throws: { error in
            "\(error)" == "\(path): is not UTF-8 text"
        }
    }

    @Test("the error text names the file, line, column and path")
    func errorText() {
        let error = SpecError(file: "Experiments/x.json", issues: [SpecIssue(path: "model.layers[3].conv.kernel", line: 12, column: 7, message: "must be …")])
        #expect(error.description == "Experiments/x.json:12:7: model.layers[3].conv.kernel: must be …")
    }
}

@Suite("Matrix expansion")
struct MatrixTests {
    @Test("axes multiply, seeds repeat, and labels say what each run sets")
    func expands() throws {
        let plan = try SpecLoader.plan(text: smokeSpec { spec in
            spec["matrix"] = ["model.pooling": ["max", "avg"], "optimizer.learning_rate": [0.1, 0.01], "seeds": [1, 2]]
        }, file: "t.json")
        #expect(plan.runs.count == 8)
        #expect(plan.runs[0].variant.label == "model.pooling=max, optimizer.learning_rate=0.1, seed=1")
        #expect(plan.runs[7].variant.label == "model.pooling=avg, optimizer.learning_rate=0.01, seed=2")
        #expect(plan.runs[7].param("model.layers[2].pool.mode") == "avg")
        #expect(plan.runs[7].learningRate == 0.01)
        #expect(plan.runs[7].seed == 2)
        #expect(Set(plan.runs.map(\.specHash)).count == 8)
    }

    @Test("a plugin with parameters reads as name(parameters) in labels")
    func pluginLabels() throws {
        let plan = try SpecLoader.plan(text: smokeSpec { $0["matrix"] = ["model.activation": ["relu", ["plugin": "leaky_relu", "slope": 0.1]]] },
                                       file: "t.json")
        #expect(plan.runs.map(\.variant.label) == ["model.activation=relu", "model.activation=leaky_relu(slope=0.1)"])
        #expect(plan.runs[1].param("model.activation") == "leaky_relu")
        #expect(plan.runs[1].param("model.layers[1].activation.function.slope") == "0.1")
    }

    @Test("a matrix key into a layer list by index")
    func indexedKey() throws {
        let plan = try SpecLoader.plan(text: smokeSpec { $0["matrix"] = ["model.layers[0].conv.filters": [2, 4]] }, file: "t.json")
        #expect(plan.runs.map { $0.param("model.layers[0].conv.filters") } == ["2", "4"])
        #expect(plan.runs[1].parameterCount > plan.runs[0].parameterCount)
    }

    @Test("bad matrix keys are errors at the matrix line", arguments: [
        ("modle.pooling", "did you mean \"model\"?"),
        ("model.layers[9].conv.filters", "index [9] is past the end"),
        ("model.layers[5].dense.units", "index [5] is past the end of a list of 5"),    // one past the last layer
        ("model..pooling", "is not a dotted key"),
    ])
    func badKeys(key: String, fragment: String) {
        let issues = planIssues(smokeSpec { $0["matrix"] = [key: [1, 2]] })
        #expect(issues.contains { $0.path == "matrix.\(key)" && $0.message.contains(fragment) }, "\(issues)")
    }

    @Test("a value the matrix sets is validated like any other, naming the run")
    func invalidMatrixValue() {
        do {
            _ = try SpecLoader.plan(text: smokeSpec { $0["matrix"] = ["model.pooling": ["max", "median"]] }, file: "t.json")
            Issue.record("expected an error")
        } catch {
            #expect(error.variant == "model.pooling=median")
            #expect(error.issues.contains { $0.path == "model.pooling" && $0.message.contains("unknown pooling \"median\"") })
        }
    }
}

@Suite("Specs on disk and the schema")
struct SpecFilesTests {
    @Test("every spec under Experiments/ validates", .enabled(if: availableOrRequiredInCI(FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist"))))
    func experimentsValidate() throws {
        let directory = packageRoot + "/Experiments"
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }
        #expect(files.count >= 4)
        for file in files {
            #expect(throws: Never.self) { _ = try SpecLoader.load(file: directory + "/" + file) }
        }
    }

    @Test("the committed JSON Schema is the one the registry generates")
    func schemaIsCurrent() throws {
        let committed = try String(contentsOfFile: packageRoot + "/Schemas/experiment.schema.json", encoding: .utf8)
        #expect(committed == SchemaGenerator.text(), "run `runner schema --output Schemas/experiment.schema.json`")
    }

    @Test("the schema lists every plugin of every kind in the place of its kind, and nothing else")
    func schemaCoversRegistry() {
        let registry = PluginRegistry.builtIn
        #expect(schemaCoverageProblems(SchemaGenerator.schema(registry: registry), registry).isEmpty)
    }

    @Test("the coverage check fails for a plugin whose name occurs in the schema only elsewhere")
    func schemaCoverageHasTeeth() {
        // Names that appear in the schema as keys or as other kinds' plugins, registered under a
        // kind the schema was not generated with: a text search finds them all, the check none.
        let text = SchemaGenerator.text()
        for (kind, name) in [(PluginKind.optimizer, "max"), (.layer, "loss"), (.probe, "relu"), (.activation, "conv"), (.dataset, "seed")] {
            var registry = PluginRegistry.builtIn
            registry.register(Plugin(kind, name, "an extra plugin", factory: .pooling { _ in PoolingMode.max }))
            #expect(text.contains("\"\(name)\""))
            let problems = schemaCoverageProblems(SchemaGenerator.schema(registry: .builtIn), registry)
            #expect(problems == ["\(kind.rawValue) \"\(name)\" is missing from the schema"], "\(problems)")
        }
        // And a schema that names a plugin the registry lacks.
        let smaller = PluginRegistry(PluginRegistry.builtIn.plugins.filter { !($0.kind == .optimizer && $0.name == "adam") })
        #expect(schemaCoverageProblems(SchemaGenerator.schema(registry: .builtIn), smaller) == ["the schema lists optimizer \"adam\", which is not registered"])
    }

    @Test("spec names resolve regardless of case and without a folder or extension")
    func locator() throws {
        let directory = temporaryPath("root")
        try FileManager.default.createDirectory(atPath: directory + "/Experiments", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: directory + "/Experiments/lenet.json", contents: Data("{}".utf8))
        #expect(try SpecLocator.locate("Experiments/lenet.json", in: directory) == "Experiments/lenet.json")
        #expect(try SpecLocator.locate("experiments/lenet.json", in: directory) == "Experiments/lenet.json")
        #expect(try SpecLocator.locate("EXPERIMENTS/LeNet.json", in: directory) == "Experiments/lenet.json")
        #expect(try SpecLocator.locate("lenet", in: directory) == "Experiments/lenet.json")
        #expect {
            _ = try SpecLocator.locate("lenett", in: directory)
        } throws: { error in
            "\(error)".contains("no such spec file; available: Experiments/lenet.json")
        }
    }
}

/// Where the schema lists each kind's plugins: layers as the single key of one `oneOf` item of
/// model.layers, probes as properties of `probes`, every other kind in `$defs/<kind>` as the
/// name `enum` and as one object form whose `plugin` is `const` that name.
func schemaCoverageProblems(_ schema: JSONValue, _ registry: PluginRegistry) -> [String] {
    func at(_ value: JSONValue?, _ keys: String...) -> JSONValue? {
        keys.reduce(value) { $0?[$1]?.value }
    }
    func strings(_ value: JSONValue?) -> [String] {
        (value?.elements ?? []).compactMap { if case .string(let s) = $0.value { s } else { nil } }
    }
    var listed: [PluginKind: [String]] = [:]
    let layerItems = at(schema, "properties", "model", "properties", "layers", "items", "oneOf")?.elements ?? []
    listed[.layer] = layerItems.compactMap { item -> String? in
        let keys = at(item.value, "properties")?.members.map(\.key) ?? []
        return keys.count == 1 && strings(at(item.value, "required")) == keys ? keys[0] : nil
    }
    listed[.probe] = at(schema, "properties", "probes", "properties")?.members.map(\.key) ?? []
    var problems: [String] = []
    for kind in PluginKind.allCases where kind != .layer && kind != .probe {
        let alternatives = at(schema, "$defs", kind.rawValue, "oneOf")?.elements ?? []
        let byName = strings(alternatives.first.flatMap { at($0.value, "enum") })
        let objectForms = alternatives.dropFirst().compactMap { item -> String? in
            if case .string(let name)? = at(item.value, "properties", "plugin", "const") { name } else { nil }
        }
        if byName != objectForms { problems.append("\(kind.rawValue): names \(byName) and object forms \(objectForms) differ") }
        listed[kind] = byName
    }
    for kind in PluginKind.allCases {
        let names = listed[kind] ?? []
        for name in registry.names(kind) where !names.contains(name) { problems.append("\(kind.rawValue) \"\(name)\" is missing from the schema") }
        for name in names where registry.plugin(kind, name) == nil { problems.append("the schema lists \(kind.rawValue) \"\(name)\", which is not registered") }
    }
    return problems
}
