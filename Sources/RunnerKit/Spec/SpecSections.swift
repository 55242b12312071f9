import ConvLabKit
import TextKit

/// The keys of an experiment spec outside the plugins: the same declarations validate specs,
/// print in `runner plugins`, and generate `Schemas/experiment.schema.json`.
public enum SpecSections {
    public static let model: [ParameterDeclaration] = [
        .init("input", .shape, default: .optional, "sample shape [C, H, W] (default: the data set's); checked against the data"),
        .init("activation", .plugin(.activation), default: .string("relu"), "default for activation layers that name none"),
        .init("pooling", .plugin(.pooling), default: .string("max"), "default for pool layers that name no mode"),
        .init("init", .plugin(.initializer), default: .string("he_uniform"), "weight initialiser"),
        .init("layers", .layers, default: .required, "the layers, in order; the last one's output size must equal the number of classes"),
    ]

    public static let training: [ParameterDeclaration] = [
        .init("epochs", .integer(minimum: 1, maximum: 100_000), default: .int(1), "passes over the training set"),
        .init("batch_size", .integer(minimum: 1, maximum: 65_536), default: .int(64), "images per optimisation step"),
        .init("shuffle", .boolean, default: .bool(true), "reshuffle the training set every epoch (from the seed)"),
        .init("replicas", .integer(minimum: 1, maximum: 64), default: .int(2),
              "data-parallel slices of each batch, one per core; part of the computation, so results do not depend on the machine"),
    ]

    public static let evaluation: [ParameterDeclaration] = [
        .init("test", .boolean, default: .bool(true), "evaluate the test set after every epoch"),
        .init("validation_split", .number(minimum: 0, maximum: 0.9), default: .number(0), "fraction of the training set held out and evaluated every epoch"),
        .init("batch_size", .integer(minimum: 1, maximum: 65_536), default: .int(1000), "images per evaluation batch"),
    ]

    public static let checkpoint: [ParameterDeclaration] = [
        .init("every_epochs", .integer(minimum: 0, maximum: 100_000), default: .int(1),
              "write the whole training state every this many epochs (and after the last); 0: no checkpoints, so a stopped run starts again"),
        .init("keep", .choice(["last", "all"]), default: .string("last"),
              "keep only the newest checkpoint of a run, or every one"),
    ]

    public static let topLevel: [ParameterDeclaration] = [
        .init("$schema", .string, default: .optional, "path or URL of the JSON Schema, for editors"),
        .init("name", .string, default: .inherited("the file name"), "experiment name"),
        .init("description", .string, default: .optional, "free text"),
        .init("plugins", .stringList, default: .optional, "plugin libraries to load (.so files built against ConvLabKit), relative to the spec file"),
        .init("seed", .integer(minimum: 0), default: .int(0), "seeds weights, shuffling, dropout and synthetic data"),
        .init("dataset", .plugin(.dataset), default: .string("idx"), "where images come from"),
        .init("model", .section(model), default: .required, "the network"),
        .init("loss", .plugin(.loss), default: .string("softmax_cross_entropy"), "training loss"),
        .init("optimizer", .plugin(.optimizer), default: .string("sgd"), "optimizer, learning rate and schedule"),
        .init("training", .section(training), default: .value(.object([])), "epochs, batch size, shuffling, parallelism"),
        .init("evaluation", .section(evaluation), default: .value(.object([])), "test and validation evaluation"),
        .init("checkpoint", .section(checkpoint), default: .value(.object([])), "how often the training state is saved, so a stopped run resumes"),
        .init("probes", .probes, default: .value(.object([])), "what to record while training (default: every probe with its defaults)"),
        .init("matrix", .matrix, default: .optional, "runs to expand: { \"model.pooling\": [\"max\", \"avg\"], \"seeds\": [1, 2] }"),
        .init("search", .section(SearchSection.declarations), default: .optional,
              "trials to sample instead of a matrix: { \"space\": {...}, \"sampler\": \"tpe\", \"pruner\": \"none\", \"trials\": 20 }"),
    ]
}
