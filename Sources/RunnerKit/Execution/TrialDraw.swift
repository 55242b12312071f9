import ConvCore
import ConvLabKit
import Foundation
import RunStore
import TextKit

/// Turns a claimed trial run into the run that trains it: draws the trial's values under the
/// store's write lock if no run of the trial has them yet (the sampler shown every other drawn
/// trial of the store, with the trial's own generator), or takes the values drawn before.
struct TrialDraw {
    let search: SearchPlan
    let store: RunStore
    let claimant: String

    enum Failure: Error {
        /// The values cannot make a run (a sampler outside its space, a network that cannot be built).
        case unusable(String)
        case store(StoreError)
        /// The claim was lost before the values were drawn.
        case notHeld
    }

    func run(for placeholder: RunPlan, claimed: StoredRun) -> Result<RunPlan, Failure> {
        let trial = search.trial(ofRun: placeholder.index)
        var built: Result<RunPlan, Failure>?
        let outcome: RunStore.TrialDrawOutcome
        do throws(StoreError) {
            outcome = try store.drawTrial(run: claimed.id, metric: search.metric, claimant: claimant) { number, runs, history in
                let shown = TrialHistory.records(history, search: search).filter { $0.number != number }
                var random = search.generator(trial: number)
                let sampled = search.sampler.sample(SampleRequest(trial: number, space: search.space, direction: search.direction, history: shown),
                                                    random: &random)
                if let problem = outsideSpace(sampled.values) {
                    built = .failure(.unusable("the \(search.samplerName) sampler drew trial \(number) outside its space: \(problem)"))
                    return nil
                }
                let state = searchState(trial: number, seen: shown.map(\.number), sampled: sampled.state)
                var assignments: [TrialAssignment] = []
                for run in runs {
                    let plan: RunPlan
                    do throws(SpecError) { plan = try search.run(trial: number, seedPosition: (run.runIndex - 1) % search.seedsPerTrial, values: sampled.values) } catch {
                        built = .failure(.unusable("trial \(number)'s values cannot make a run: \(error.issues.map(\.description).joined(separator: "; "))"))
                        return nil
                    }
                    if run.runID == claimed.id { built = .success(plan) }
                    assignments.append(TrialAssignment(runID: run.runID, variant: JSONWriter.write(plan.variant.json, pretty: false),
                                                       variantLabel: plan.variant.label, specJSON: plan.resolvedJSON, specHash: plan.specHash,
                                                       params: plan.params, searchState: state))
                }
                return assignments
            }
        } catch {
            return .failure(.store(error))
        }
        switch outcome {
        case .drawn, .abandoned:
            return built ?? .failure(.notHeld)
        case .notHeld:
            return .failure(.notHeld)
        case .alreadyDrawn(let variant):
            guard let values = search.values(fromVariant: variant) else {
                return .failure(.unusable("trial \(trial)'s stored values \(variant) do not match search.space"))
            }
            do throws(SpecError) { return .success(try search.run(trial: trial, seedPosition: (placeholder.index - 1) % search.seedsPerTrial, values: values)) } catch {
                return .failure(.unusable("trial \(trial)'s values cannot make a run: \(error.issues.map(\.description).joined(separator: "; "))"))
            }
        }
    }

    /// `{"sampler": "tpe", "seed": 0, "trial": 3, "seen": [1, 2], ...the sampler's own members}`.
    func searchState(trial: Int, seen: [Int], sampled: JSONValue) -> String {
        var members: [(String, JSONValue)] = [("sampler", .string(search.samplerName)), ("seed", .number(Double(search.seed))),
                                              ("trial", .int(trial)), ("seen", .arr(seen.map { .int($0) }))]
        if case .object(let own) = sampled {
            for member in own where !members.contains(where: { $0.0 == member.key }) { members.append((member.key, member.node.value)) }
        }
        return JSONWriter.write(.obj(members), pretty: false)
    }

    /// Why sampled values do not fit the space, or nil when they do.
    func outsideSpace(_ values: [JSONValue]) -> String? {
        guard values.count == search.space.dimensions.count else {
            return "\(values.count) values for \(search.space.dimensions.count) keys"
        }
        for (dimension, value) in zip(search.space.dimensions, values) {
            let fits: Bool
            switch (dimension.domain, value) {
            case let (.uniform(low, high), .number(n)), let (.logUniform(low, high), .number(n)): fits = n >= low && n <= high
            case let (.integer(low, high), .number(n)): fits = n == n.rounded() && n >= Double(low) && n <= Double(high)
            case let (.choice(options), _): fits = options.contains(value)
            default: fits = false
            }
            if !fits { return "\(dimension.key) = \(JSONWriter.write(value, pretty: false))" }
        }
        return nil
    }
}
