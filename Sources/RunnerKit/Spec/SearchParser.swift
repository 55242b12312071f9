import ConvLabKit
import TextKit

/// Reads and checks a spec's `search` section as strictly as the rest of the spec: every problem
/// with its JSON path and position, did-you-mean for keys, domains and plugin names, and each
/// domain's values put into the spec and validated there, so a range the key's type does not
/// allow is refused at load, naming both.
struct SearchParser {
    let registry: PluginRegistry
    let defaultName: String
    let file: String
    private(set) var issues: [SpecIssue] = []

    init(registry: PluginRegistry, defaultName: String, file: String) {
        self.registry = registry
        self.defaultName = defaultName
        self.file = file
    }

    private mutating func report(_ path: String, _ node: JSONNode, _ message: String) {
        let issue = SpecIssue(path: path, line: node.line, column: node.column, message: message)
        if !issues.contains(issue) { issues.append(issue) }
    }

    /// The search of a spec that has one, or nil with `issues` filled.
    mutating func parse(_ root: JSONNode) -> SearchPlan? {
        guard case .object(let members) = root.value, let section = members.first(where: { $0.key == "search" })?.node else { return nil }
        if let matrix = members.first(where: { $0.key == "matrix" })?.node {
            report("matrix", matrix, "a spec has \"matrix\" or \"search\", not both: a search samples its own runs; "
                   + "move the matrix's keys into search.space (as {\"choice\": [...]}) or split the spec in two")
            return nil
        }
        let base = JSONNode(.object(members.filter { $0.key != "search" }), line: root.line, column: root.column)
        var validator = SpecValidator(registry: registry, defaultName: defaultName)
        let resolved = validator.resolveSection(section, SearchSection.declarations, path: "search")
        issues += validator.issues

        let seeds = resolved.value["seeds"].map { $0.value.elements.compactMap { node -> UInt64? in
            if case .number(let n) = node.value { UInt64(n) } else { nil }
        } }
        let trials = Int(resolved.value["trials"]?.value.numberValue ?? 1)
        if let seeds, trials * seeds.count > MatrixExpansion.maximumRuns, let node = section.value["seeds"] {
            report("search.seeds", node, "\(trials) trials × \(seeds.count) seeds is \(trials * seeds.count) runs, more than the limit of \(MatrixExpansion.maximumRuns); use fewer trials or seeds")
        }
        guard let spaceNode = section.value["space"], let space = parseSpace(spaceNode, base: base) else { return nil }

        let builder = TrialRunBuilder(registry: registry, defaultName: defaultName, file: file)
        // The spec without its search must be a valid run on its own.
        let placeholder: RunPlan
        do { placeholder = try builder.build(MatrixVariant(assignments: [], seed: seeds?.first, document: base), index: 1, search: .null) } catch {
            issues += error.issues
            return nil
        }
        checkDomains(space, spaceNode: spaceNode, base: base, builder: builder)

        guard let (samplerName, samplerParameters) = ResolvedParameters(resolved.value.members).plugin("sampler"),
              let (prunerName, prunerParameters) = ResolvedParameters(resolved.value.members).plugin("pruner"),
              let samplerNode = resolved.value["sampler"], let prunerNode = resolved.value["pruner"] else { return nil }
        var sampler: (any Sampler)?
        var pruner: (any Pruner)?
        do throws(PluginError) {
            if case .sampler(let make)? = registry.plugin(.sampler, samplerName)?.factory { sampler = try make(samplerParameters) }
        } catch {
            report("search.sampler" + (error.parameter.map { ".\($0)" } ?? ""), section.value["sampler"] ?? section, error.message)
        }
        do throws(PluginError) {
            if case .pruner(let make)? = registry.plugin(.pruner, prunerName)?.factory { pruner = try make(prunerParameters) }
        } catch {
            report("search.pruner" + (error.parameter.map { ".\($0)" } ?? ""), section.value["pruner"] ?? section, error.message)
        }

        // The objective: a metric every trial records once per epoch.
        let objectiveNode = section.value["objective"] ?? section
        let given = resolved.value["objective"]?.value
        let evaluation = placeholder.evaluation
        let metric = given?["metric"]?.value.stringValue
            ?? (evaluation.validationSplit > 0 ? MetricName.validationAccuracy.rawValue : MetricName.testAccuracy.rawValue)
        if metric.hasPrefix("validation_"), evaluation.validationSplit <= 0 {
            report("search.objective.metric", objectiveNode.value["metric"] ?? objectiveNode,
                   "\(metric) is never recorded: evaluation.validation_split is 0; set it above 0 (e.g. 0.1) or optimise test_accuracy")
        }
        if metric.hasPrefix("test_"), !evaluation.test {
            report("search.objective.metric", objectiveNode.value["metric"] ?? objectiveNode,
                   "\(metric) is never recorded: evaluation.test is false; set it to true or optimise a validation metric")
        }
        let direction = given?["direction"]?.value.stringValue.flatMap(ObjectiveDirection.init(rawValue:))
            ?? (metric.hasSuffix("_loss") ? .minimize : .maximize)
        guard issues.isEmpty, let sampler, let pruner else { return nil }

        var canonical: [(String, JSONValue)] = [
            ("space", JSONValue.obj(space.dimensions.map { ($0.key, Self.json($0.domain)) })),
            ("sampler", samplerNode.value), ("pruner", prunerNode.value),
            ("objective", .obj([("metric", .string(metric)), ("direction", .string(direction.rawValue))])),
            ("trials", .int(trials)), ("seed", resolved.value["seed"]?.value ?? .int(0)),
        ]
        if let seeds { canonical.append(("seeds", .arr(seeds.map { .number(Double($0)) }))) }
        return SearchPlan(space: space, samplerName: samplerName, sampler: sampler, prunerName: prunerName, pruner: pruner,
                          metric: metric, direction: direction, trials: trials,
                          seed: UInt64(resolved.value["seed"]?.value.numberValue ?? 0), seeds: seeds,
                          resolved: .obj(canonical), base: base, builder: builder)
    }

    /// A domain as the resolved spec records it.
    static func json(_ domain: SearchDimension.Domain) -> JSONValue {
        switch domain {
        case let .uniform(low, high): .obj([("uniform", .arr([.number(low), .number(high)]))])
        case let .logUniform(low, high): .obj([("log_uniform", .arr([.number(low), .number(high)]))])
        case let .integer(low, high): .obj([("int", .arr([.int(low), .int(high)]))])
        case .choice(let options): .obj([("choice", .arr(options))])
        }
    }

    /// "model.layers.0.conv.filters" and "model.layers[0].conv.filters" alike: a number after a
    /// dot indexes a list when the spec has a list there.
    static func segments(_ key: String, in document: JSONNode) -> [MatrixExpansion.Segment]? {
        guard let parsed = MatrixExpansion.parse(key) else { return nil }
        var segments: [MatrixExpansion.Segment] = []
        var node: JSONValue? = document.value
        for segment in parsed {
            var segment = segment
            if case .key(let name) = segment, case .array? = node, let index = Int(name), index >= 0, name.allSatisfy(\.isNumber) {
                segment = .index(index)
            }
            switch segment {
            case .key(let name):
                node = node?[name]?.value
            case .index(let index):
                if case .array(let items)? = node, index < items.count { node = items[index].value } else { node = nil }
            }
            segments.append(segment)
        }
        return segments
    }

    /// "model.layers[0].conv.filters": the path validation reports the key's problems at.
    static func path(_ segments: [MatrixExpansion.Segment]) -> String {
        var text = ""
        for segment in segments {
            switch segment {
            case .key(let name): text += text.isEmpty ? name : ".\(name)"
            case .index(let index): text += "[\(index)]"
            }
        }
        return text
    }

    private mutating func parseSpace(_ node: JSONNode, base: JSONNode) -> SearchSpace? {
        guard case .object(let entries) = node.value, !entries.isEmpty else {
            report("search.space", node, "must be a non-empty object of dotted keys to domains, e.g. {\"optimizer.learning_rate\": {\"log_uniform\": [0.0001, 1]}}")
            return nil
        }
        let settable = MatrixExpansion.settable.filter { $0 != "search" }
        var dimensions: [SearchDimension] = []
        for entry in entries {
            let path = "search.space.\(entry.key)"
            guard let segments = Self.segments(entry.key, in: base) else {
                report(path, entry.node, "\"\(entry.key)\" is not a dotted key such as \"optimizer.learning_rate\" or \"model.layers[0].conv.filters\"")
                continue
            }
            guard segments.count <= MatrixExpansion.maximumKeyParts else {
                report(path, entry.node, "has \(segments.count) parts; a key has at most \(MatrixExpansion.maximumKeyParts)")
                continue
            }
            guard case .key(let section) = segments[0], settable.contains(section) else {
                if case .key(let section) = segments[0], let why = MatrixExpansion.unsettable[section] ?? (section == "search" ? "a search cannot search itself" : nil) {
                    report(path, entry.node, "\"\(section)\" cannot be searched (\(why)); sections a search can set: \(settable.joined(separator: ", "))")
                } else {
                    let hint = { if case .key(let s) = segments[0], let close = closestMatch(to: s, among: settable) { "did you mean \"\(close)\"? " } else { "" } }()
                    report(path, entry.node, "\"\(entry.key)\" does not start with a spec section; \(hint)sections: \(settable.joined(separator: ", "))")
                }
                continue
            }
            if dimensions.contains(where: { Self.path(Self.segments($0.key, in: base) ?? []) == Self.path(segments) }) {
                report(path, entry.node, "the key is in search.space twice (as \"\(Self.path(segments))\"); keep one")
                continue
            }
            if let domain = parseDomain(entry.node, path: path) { dimensions.append(SearchDimension(key: entry.key, domain: domain)) }
        }
        // The keys that parsed are checked on: every problem is reported at once.
        return SearchSpace(dimensions)
    }

    private mutating func parseDomain(_ node: JSONNode, path: String) -> SearchDimension.Domain? {
        let domains = SearchSection.domains
        let example = "{\"uniform\": [0, 0.99]}, {\"log_uniform\": [0.0001, 1]}, {\"int\": [4, 16]} or {\"choice\": [32, 64, 128]}"
        guard case .object(let members) = node.value, members.count == 1, let member = members.first else {
            report(path, node, "must be one domain: \(example)")
            return nil
        }
        guard domains.contains(member.key) else {
            let hint = closestMatch(to: member.key, among: domains).map { "did you mean \"\($0)\"? " } ?? ""
            report("\(path).\(member.key)", member.node, "unknown domain \"\(member.key)\"; \(hint)domains: \(domains.joined(separator: ", "))")
            return nil
        }
        let domainPath = "\(path).\(member.key)"
        if member.key == "choice" {
            guard case .array(let options) = member.node.value, !options.isEmpty else {
                report(domainPath, member.node, "must be a non-empty list of values, e.g. [32, 64, 128]")
                return nil
            }
            if options.count > MatrixExpansion.maximumRuns {
                report(domainPath, member.node, "has \(options.count) values, more than \(MatrixExpansion.maximumRuns)")
                return nil
            }
            return .choice(options.map(\.value))
        }
        guard case .array(let bounds) = member.node.value, bounds.count == 2,
              case .number(let low) = bounds[0].value, case .number(let high) = bounds[1].value else {
            report(domainPath, member.node, "must be [lo, hi], two numbers with lo < hi")
            return nil
        }
        guard low < high else {
            report(domainPath, member.node, "is an empty range: lo \(JSONWriter.number(low)) must be below hi \(JSONWriter.number(high))"
                   + (low == high ? "; to fix a key at one value, set it in the spec instead" : "; swap them"))
            return nil
        }
        switch member.key {
        case "log_uniform":
            guard low > 0 else {
                report(domainPath, bounds[0], "log_uniform needs lo > 0 (its logarithm is drawn), got \(JSONWriter.number(low)); use uniform, or a small positive lo such as 1e-6")
                return nil
            }
            return .logUniform(low: low, high: high)
        case "int":
            guard low == low.rounded(), high == high.rounded(), abs(low) < 9e15, abs(high) < 9e15 else {
                report(domainPath, member.node, "int bounds must be whole numbers, got [\(JSONWriter.number(low)), \(JSONWriter.number(high))]; use uniform for a real range")
                return nil
            }
            return .integer(low: Int(low), high: Int(high))
        default:
            return .uniform(low: low, high: high)
        }
    }

    /// Puts each domain's ends (and a value inside, and every choice) into the spec and builds
    /// the run, so a value the key's type refuses (or a network that cannot be built) is found now.
    private mutating func checkDomains(_ space: SearchSpace, spaceNode: JSONNode, base: JSONNode, builder: TrialRunBuilder) {
        for dimension in space.dimensions {
            let node = spaceNode.value[dimension.key] ?? spaceNode
            let path = "search.space.\(dimension.key)"
            guard let segments = Self.segments(dimension.key, in: base) else { continue }
            let probes: [(JSONValue, String)]
            switch dimension.domain {
            case let .uniform(low, high):
                let inside = low + (high - low) * 0.37
                probes = [(.number(low), "reaches"), (.number(high), "reaches"), (.number(inside), "draws values such as")]
            case let .logUniform(low, high):
                probes = [(.number(low), "reaches"), (.number(high), "reaches"), (.number((low * high).squareRoot()), "draws values such as")]
            case let .integer(low, high):
                probes = [(.int(low), "reaches"), (.int(high), "reaches")]
            case .choice(let options):
                probes = options.map { ($0, "lists") }
            }
            let domainText = JSONWriter.write(Self.json(dimension.domain), pretty: false)
            // A problem that every probe meets (an unknown key, say) is said once, at its first probe.
            var said: Set<String> = []
            for (value, verb) in probes {
                switch MatrixExpansion.set(base, segments[...], JSONNode(value, line: node.line, column: node.column)) {
                case .failure(let problem):
                    if said.insert(problem.message).inserted { report(path, node, problem.message) }
                case .success(let document):
                    do {
                        _ = try builder.build(MatrixVariant(assignments: [], seed: nil, document: document), index: 1, search: .null)
                    } catch {
                        for issue in error.issues where said.insert(issue.description).inserted {
                            report(path, node, "\(domainText) \(verb) \(JSONWriter.write(value, pretty: false)), but \(issue.description)")
                        }
                    }
                }
            }
        }
    }
}

extension JSONValue {
    var numberValue: Double? { if case .number(let n) = self { n } else { nil } }
    var stringValue: String? { if case .string(let s) = self { s } else { nil } }
}
