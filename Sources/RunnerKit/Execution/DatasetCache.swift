import ConvLabKit
import Datasets
import TextKit

/// The data set of the sweep's last run, kept for the next run that uses the same one (one data
/// set in memory at a time), each held to what it described when the spec was checked.
final class DatasetCache {
    private var cached: [String: DatasetSplit] = [:]

    func split(for run: RunPlan, reporter: any ProgressReporter) throws(DatasetError) -> DatasetSplit {
        let key = run.datasetName + JSONWriter.write(run.datasetParameters.json, pretty: false)
            + (run.datasetPlugin.usesSeed ? "#\(run.seed)" : "")
        if let split = cached[key] { return split }
        reporter.note("loading \(run.datasetName) data set…")
        let split = try run.datasetPlugin.load(run.datasetParameters, run.seed)
        try Self.check(split, of: run)
        cached = [key: split]
        return split
    }

    /// What a data set loaded must match: what it described when the spec was checked (the
    /// network was built for that shape and class count), and labels inside the classes, which
    /// the losses index with. A plugin's data set is held to it like the built-in ones.
    static func check(_ split: DatasetSplit, of run: RunPlan) throws(DatasetError) {
        let source = "the \(run.datasetName) data set"
        for (name, part) in [("training", split.train), ("test", split.test)] {
            guard part.sampleShape == run.inputShape else {
                throw DatasetError(file: source, problem: "its \(name) images are \(part.sampleShape), but it described \(run.inputShape) when the spec was checked")
            }
            guard part.classes == run.classes else {
                throw DatasetError(file: source, problem: "its \(name) part has \(part.classes) classes, but it described \(run.classes)")
            }
            if let bad = part.labels.firstIndex(where: { $0 < 0 || Int($0) >= run.classes }) {
                throw DatasetError(file: source, problem: "\(name) label \(bad) is \(part.labels[bad]), outside the \(run.classes) classes 0…\(run.classes - 1)")
            }
        }
    }
}
