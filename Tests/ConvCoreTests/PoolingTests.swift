import Testing
@testable import ConvCore

@Suite("Pooling backward is the derivation's upsample")
struct PoolingTests {
    // Maxima (9) placed top-left, bottom-right, top-right, bottom-left in the four 2×2 windows.
    let x: [Double] = [9, 1, 1, 1,
                       1, 1, 1, 9,
                       1, 9, 1, 1,
                       1, 1, 9, 1]
    let delta: [Double] = [2, 8, 4, 6]
    let shape = Shape(channels: 1, height: 4, width: 4)

    @Test("max: each error goes to its recorded argmax (DESIGN §2 worked example)")
    func maxWorkedExample() throws {
        let (_, y, dx) = try runLayer(Pool2DConfiguration(mode: .max, size: (2, 2)), input: shape, batch: 1, x: x, outputGradient: delta)
        #expect(y == [9, 9, 9, 9])
        #expect(dx == [2, 0, 0, 0,
                       0, 0, 0, 8,
                       0, 4, 0, 0,
                       0, 0, 6, 0])
    }

    @Test("avg: each error spread evenly over its window (DESIGN §2 worked example)")
    func averageWorkedExample() throws {
        let (_, _, dx) = try runLayer(Pool2DConfiguration(mode: .avg, size: (2, 2)), input: shape, batch: 1, x: x, outputGradient: delta)
        #expect(dx == [0.5, 0.5, 2, 2,
                       0.5, 0.5, 2, 2,
                       1, 1, 1.5, 1.5,
                       1, 1, 1.5, 1.5])
    }

    @Test("max ties go to the first maximum in scan order")
    func tiesGoToFirst() throws {
        let (_, _, dx) = try runLayer(Pool2DConfiguration(mode: .max, size: (2, 2)), input: Shape(channels: 1, height: 2, width: 2),
                                      batch: 1, x: [5.0, 5, 5, 5], outputGradient: [1])
        #expect(dx == [1, 0, 0, 0])
    }

    /// The general (not 2×2/2) path scans the same way: overlapping 2×2 windows, stride 1, on a
    /// constant map; each window's error goes to its top-left cell.
    @Test("max ties go to the first maximum on the general path too")
    func tiesGoToFirstGeneral() throws {
        let (_, _, dx) = try runLayer(Pool2DConfiguration(mode: .max, size: (2, 2), stride: (1, 1)), input: Shape(channels: 1, height: 3, width: 3),
                                      batch: 1, x: [Double](repeating: 5, count: 9), outputGradient: [1, 10, 100, 1000])
        #expect(dx == [1, 10, 0,
                       100, 1000, 0,
                       0, 0, 0])
    }

    @Test("padded cells never win, even when every real cell is negative")
    func paddingNeverWins() throws {
        let (_, y, dx) = try runLayer(Pool2DConfiguration(mode: .max, size: (2, 2), stride: (2, 2), padding: (1, 1)),
                                      input: Shape(channels: 1, height: 2, width: 2), batch: 1,
                                      x: [-4.0, -3, -2, -1], outputGradient: [1, 1, 1, 1])
        #expect(y == [-4, -3, -2, -1])
        #expect(dx == [1, 1, 1, 1])
    }

    @Test("average with padding divides by the cells inside the input, in forward and backward alike")
    func averageDivisorExcludesPadding() throws {
        let (_, y, dx) = try runLayer(Pool2DConfiguration(mode: .avg, size: (3, 3), stride: (1, 1), padding: (1, 1)),
                                      input: Shape(channels: 1, height: 2, width: 2), batch: 1,
                                      x: [1.0, 2, 3, 4], outputGradient: [4, 0, 0, 0])
        // Every 3×3 window centred on a 2×2 map holds all four cells: the mean is 2.5.
        #expect(y == [2.5, 2.5, 2.5, 2.5])
        #expect(dx == [1, 1, 1, 1])
    }

    @Test("overlapping windows accumulate their errors")
    func overlappingWindowsAccumulate() throws {
        // 1×3 input, window 1×2, stride 1: the middle cell is the max of both windows.
        let (_, _, dx) = try runLayer(Pool2DConfiguration(mode: .max, size: (1, 2), stride: (1, 1)),
                                      input: Shape(channels: 1, height: 1, width: 3), batch: 1,
                                      x: [0.0, 5, 1], outputGradient: [2, 3])
        #expect(dx == [0, 5, 0])
    }
}
