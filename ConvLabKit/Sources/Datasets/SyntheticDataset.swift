import ConvCore

/// A small, learnable image task generated from a seed, for tests and for trying the tool
/// without data files: each class is a stroke direction (horizontal, vertical, diagonal,
/// anti-diagonal, cross, …) drawn at a random place and brightness on a noisy background.
public enum SyntheticDataset {
    public static let maximumClasses = 6

    public static func make(seed: UInt64, trainCount: Int, testCount: Int, classes: Int = 4, size: Int = 16,
                            noise: Double = 0.15) -> DatasetSplit {
        precondition((2...maximumClasses).contains(classes) && size >= 6)
        var rng = Xoshiro256(seed: seed, stream: 0x5E7)
        func generate(_ count: Int) -> LabeledImages {
            let shape = Shape(channels: 1, height: size, width: size)
            var images = [Float](repeating: 0, count: count * shape.count)
            var labels = [Int32](repeating: 0, count: count)
            for n in 0..<count {
                let label = rng.nextInt(below: classes)
                labels[n] = Int32(label)
                let base = n * shape.count
                for i in 0..<shape.count { images[base + i] = Float(rng.nextUnit() * noise) }
                let length = size / 2 + rng.nextInt(below: size / 3)
                let brightness = Float(0.6 + 0.4 * rng.nextUnit())
                let row = rng.nextInt(below: size - length + 1), column = rng.nextInt(below: size - length + 1)
                func plot(_ r: Int, _ c: Int) { images[base + r * size + c] = brightness }
                for t in 0..<length {
                    switch label {
                    case 0: plot(row + length / 2, column + t)                  // horizontal
                    case 1: plot(row + t, column + length / 2)                  // vertical
                    case 2: plot(row + t, column + t)                           // diagonal
                    case 3: plot(row + t, column + length - 1 - t)              // anti-diagonal
                    case 4: plot(row + length / 2, column + t); plot(row + t, column + length / 2)  // cross
                    default:                                                    // hollow square
                        plot(row, column + t); plot(row + length - 1, column + t)
                        plot(row + t, column); plot(row + t, column + length - 1)
                    }
                }
            }
            return LabeledImages(sampleShape: shape, images: images, labels: labels, classes: classes)
        }
        return DatasetSplit(train: generate(trainCount), test: generate(testCount))
    }
}
