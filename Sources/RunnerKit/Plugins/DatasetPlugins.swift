import ConvLabKit
import ConvCore
import Datasets

/// Where training data comes from.
enum DatasetPlugins {
    static let idx = Plugin(.dataset, "idx", "MNIST-format IDX files, gzip or raw (default: Debian's Fashion-MNIST)", parameters: [
        .init("path", .string, default: .string(IDXDataset.defaultPath), "folder holding train-/t10k- images and labels"),
        .init("train_limit", .integer(minimum: 1), default: .optional, "use only the first N training images"),
        .init("test_limit", .integer(minimum: 1), default: .optional, "use only the first N test images"),
        .init("normalization", .choice(Normalization.allCases.map(\.rawValue)), default: .string("scale"),
              "none (0…255), scale (0…1) or standardize (zero mean, unit variance of the training set)"),
    ], factory: .dataset(DatasetPlugin(
        describe: { p throws(DatasetError) in
            let (shape, classes) = try IDXDataset.describe(directory: p.string("path"))
            return .init(sampleShape: shape, classes: classes)
        },
        load: { p, _ throws(DatasetError) in
            try IDXDataset.load(directory: p.string("path"), trainLimit: p.optionalInt("train_limit"),
                                testLimit: p.optionalInt("test_limit"),
                                normalization: Normalization(rawValue: p.string("normalization")) ?? .scale)
        })))

    static let synthetic = Plugin(.dataset, "synthetic", "strokes of several directions on noise, generated from the seed", parameters: [
        .init("train_size", .integer(minimum: 1, maximum: 1_000_000), default: .int(2000), "training images"),
        .init("test_size", .integer(minimum: 1, maximum: 1_000_000), default: .int(500), "test images"),
        .init("classes", .integer(minimum: 2, maximum: SyntheticDataset.maximumClasses), default: .int(4), "number of stroke kinds"),
        .init("size", .integer(minimum: 6, maximum: 64), default: .int(16), "image height and width"),
        .init("noise", .number(minimum: 0, maximum: 1), default: .number(0.15), "background noise amplitude"),
    ], factory: .dataset(DatasetPlugin(
        usesSeed: true,
        describe: { p throws(DatasetError) in
            .init(sampleShape: Shape(channels: 1, height: p.int("size", default: 16), width: p.int("size", default: 16)),
                  classes: p.int("classes", default: 4))
        },
        load: { p, seed throws(DatasetError) in
            SyntheticDataset.make(seed: seed, trainCount: p.int("train_size", default: 2000), testCount: p.int("test_size", default: 500),
                                  classes: p.int("classes", default: 4), size: p.int("size", default: 16),
                                  noise: p.double("noise", default: 0.15))
        })))

    static let all = [idx, synthetic]
}
