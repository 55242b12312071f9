/// Any `PoolingRule`, a window at a time: each window's cells inside the input are gathered into
/// a Double scratch, handed to the rule, and its routed error is added back (`+=`: overlapping
/// windows accumulate). Slower than the fused max/avg kernels, and exact for any rule.
enum WindowPooling {
    /// y[plane, i, j] = rule.pool(window(i, j))
    @_specialize(where T == Float) @_specialize(where T == Double)
    static func forward<T: EngineScalar>(_ rule: any PoolingRule, _ g: PoolingGeometry, input: UnsafeBufferPointer<T>, planes: Int,
                                         output: UnsafeMutableBufferPointer<T>) {
        withWindows(g, input: input, planes: planes) { window, outputIndex, _ in
            output[outputIndex] = T(rule.pool(window))
        }
    }

    /// δ_prev[cell] += rule.route(window, y, δ)[cell] for every window; δ_prev is zeroed first.
    @_specialize(where T == Float) @_specialize(where T == Double)
    static func backward<T: EngineScalar>(_ rule: any PoolingRule, _ g: PoolingGeometry, input: UnsafeBufferPointer<T>,
                                          output: UnsafeBufferPointer<T>, outputGradient: UnsafeBufferPointer<T>, planes: Int,
                                          inputGradient: UnsafeMutableBufferPointer<T>) {
        inputGradient.update(repeating: 0)
        let routed = UnsafeMutableBufferPointer<Double>.allocate(capacity: g.windowHeight * g.windowWidth)
        defer { routed.deallocate() }
        withWindows(g, input: input, planes: planes) { window, outputIndex, cells in
            let part = UnsafeMutableBufferPointer(rebasing: routed[0..<window.count])
            part.update(repeating: 0)
            rule.route(window, output: Double(output[outputIndex]), outputGradient: Double(outputGradient[outputIndex]), into: part)
            for (k, cell) in cells.enumerated() { inputGradient[cell] += T(part[k]) }
        }
    }

    /// Each window's branch (see `PoolingRule.branch`), or nil when the rule is smooth.
    static func branches<T: EngineScalar>(_ rule: any PoolingRule, _ g: PoolingGeometry, input: UnsafeBufferPointer<T>,
                                          planes: Int) -> [Int32]? {
        guard input.count >= planes * g.height * g.width, planes > 0 else { return nil }
        var result: [Int32] = []
        var smooth = false
        withWindows(g, input: input, planes: planes) { window, _, _ in
            guard let branch = rule.branch(window) else { smooth = true; return }
            result.append(branch)
        }
        return smooth ? nil : result
    }

    /// Calls `body` with each window (its cells inside the input, row by row, as Double), the
    /// window's index in the output, and the cells' indices in the input.
    private static func withWindows<T: EngineScalar>(
        _ g: PoolingGeometry, input: UnsafeBufferPointer<T>, planes: Int,
        _ body: (UnsafeBufferPointer<Double>, Int, UnsafeBufferPointer<Int>) -> Void
    ) {
        let capacity = g.windowHeight * g.windowWidth
        let values = UnsafeMutableBufferPointer<Double>.allocate(capacity: capacity)
        let cells = UnsafeMutableBufferPointer<Int>.allocate(capacity: capacity)
        defer { values.deallocate(); cells.deallocate() }
        let (outHeight, outWidth) = (g.outputHeight, g.outputWidth)
        let inPlane = g.height * g.width
        for plane in 0..<planes {
            for i in 0..<outHeight {
                let rows = g.span(i, stride: g.strideY, pad: g.padY, window: g.windowHeight, size: g.height)
                for j in 0..<outWidth {
                    let columns = g.span(j, stride: g.strideX, pad: g.padX, window: g.windowWidth, size: g.width)
                    var n = 0
                    for y in rows {
                        for x in columns {
                            let cell = plane * inPlane + y * g.width + x
                            values[n] = Double(input[cell])
                            cells[n] = cell
                            n += 1
                        }
                    }
                    body(UnsafeBufferPointer(rebasing: values[0..<n]), (plane * outHeight + i) * outWidth + j,
                         UnsafeBufferPointer(rebasing: cells[0..<n]))
                }
            }
        }
    }
}
