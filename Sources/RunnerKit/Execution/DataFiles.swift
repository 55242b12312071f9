import ConvLabKit
import Foundation

/// The files a run's data set is read from, whose SHA-256 the store records with the run.
enum DataFiles {
    static let idxNames = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]

    /// The idx data set's four files (each raw or `.gz`, as the reader picks them); none for
    /// generated data.
    static func paths(of run: RunPlan) -> [String] {
        guard run.datasetName == "idx" else { return [] }
        let folder = run.datasetParameters.string("path")
        return idxNames.map { name in
            let raw = (folder as NSString).appendingPathComponent(name)
            return FileManager.default.fileExists(atPath: raw) ? raw : raw + ".gz"
        }
    }
}
