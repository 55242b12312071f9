/// The convolution exactly as the derivation writes it, one plain loop per formula, with the
/// padding, the dilation by the stride and the 180° kernel rotation made explicit. Slow on
/// purpose: it is the reference the fast path (im2col + GEMM) is held equal to.
enum Conv2DReference {
    /// A single (rows × cols) map, row-major.
    struct Map<T: EngineScalar> {
        var rows: Int, cols: Int
        var values: [T]
        init(rows: Int, cols: Int) { self.rows = rows; self.cols = cols; values = Array(repeating: 0, count: rows * cols) }
        subscript(r: Int, c: Int) -> T {
            get { values[r * cols + c] }
            set { values[r * cols + c] = newValue }
        }
    }

    /// Copies `map` into a larger zero map with `top`/`left` rows/columns before and `bottom`/`right` after.
    static func pad<T>(_ map: Map<T>, top: Int, left: Int, bottom: Int, right: Int) -> Map<T> {
        var out = Map<T>(rows: map.rows + top + bottom, cols: map.cols + left + right)
        for r in 0..<map.rows { for c in 0..<map.cols { out[r + top, c + left] = map[r, c] } }
        return out
    }

    /// Inserts s−1 zeros between neighbouring entries: the error of a strided convolution
    /// placed back on the stride-1 grid.
    static func dilate<T>(_ map: Map<T>, strideY: Int, strideX: Int) -> Map<T> {
        var out = Map<T>(rows: (map.rows - 1) * strideY + 1, cols: (map.cols - 1) * strideX + 1)
        for r in 0..<map.rows { for c in 0..<map.cols { out[r * strideY, c * strideX] = map[r, c] } }
        return out
    }

    /// rot180(W)[a, b] = W[kh−1−a, kw−1−b]
    static func rotate180<T>(_ map: Map<T>) -> Map<T> {
        var out = Map<T>(rows: map.rows, cols: map.cols)
        for a in 0..<map.rows { for b in 0..<map.cols { out[a, b] = map[map.rows - 1 - a, map.cols - 1 - b] } }
        return out
    }

    /// valid_corr(x, k)[i, j] = Σ_a Σ_b x[i·s + a, j·s + b] · k[a, b], for an output of the given size.
    static func correlate<T>(_ x: Map<T>, _ k: Map<T>, strideY: Int = 1, strideX: Int = 1,
                             outRows: Int, outCols: Int, accumulateInto out: inout Map<T>) {
        for i in 0..<outRows {
            for j in 0..<outCols {
                var sum: T = 0
                for a in 0..<k.rows { for b in 0..<k.cols { sum += x[i * strideY + a, j * strideX + b] * k[a, b] } }
                out[i, j] += sum
            }
        }
    }

    static func map<T>(_ buffer: UnsafeBufferPointer<T>, offset: Int, rows: Int, cols: Int) -> Map<T> {
        var m = Map<T>(rows: rows, cols: cols)
        for i in 0..<(rows * cols) { m.values[i] = buffer[offset + i] }
        return m
    }

    static func kernel<T: EngineScalar>(_ g: ConvolutionGeometry, _ weight: UnsafeBufferPointer<T>, o: Int, c: Int) -> Map<T> {
        map(weight, offset: (o * g.channels + c) * g.kernelHeight * g.kernelWidth, rows: g.kernelHeight, cols: g.kernelWidth)
    }

    /// z[n, o] = Σ_c valid_corr_s(pad_p(x[n, c]), W[o, c]) + b[o]
    static func forward<T: EngineScalar>(_ g: ConvolutionGeometry, input: UnsafeBufferPointer<T>, weight: UnsafeBufferPointer<T>,
                           bias: UnsafeBufferPointer<T>?, batch: Int, output: UnsafeMutableBufferPointer<T>) {
        let (outH, outW) = (g.outputHeight, g.outputWidth)
        for n in 0..<batch {
            let padded = (0..<g.channels).map { c in
                pad(map(input, offset: (n * g.channels + c) * g.height * g.width, rows: g.height, cols: g.width),
                    top: g.padY, left: g.padX, bottom: g.padY, right: g.padX)
            }
            for o in 0..<g.filters {
                var z = Map<T>(rows: outH, cols: outW)
                for c in 0..<g.channels {
                    correlate(padded[c], kernel(g, weight, o: o, c: c), strideY: g.strideY, strideX: g.strideX,
                              outRows: outH, outCols: outW, accumulateInto: &z)
                }
                let base = (n * g.filters + o) * outH * outW
                for i in 0..<(outH * outW) { output[base + i] = z.values[i] + (bias?[o] ?? 0) }
            }
        }
    }

    /// dW[o, c] = Σ_n valid_corr(pad_p(x[n, c]), dilate_s(δ[n, o])) trimmed to kh×kw
    /// db[o]    = Σ_n Σ δ[n, o]
    /// δ_prev[n, c] = crop_p( Σ_o valid_corr( pad(dilate_s(δ[n, o]), k−1 before, k−1+r after), rot180(W[o, c]) ) )
    ///   with r = (H + 2p − k) mod s: the rows the forward stride never reached.
    static func backward<T: EngineScalar>(_ g: ConvolutionGeometry, input: UnsafeBufferPointer<T>, weight: UnsafeBufferPointer<T>,
                            outputGradient: UnsafeBufferPointer<T>, batch: Int,
                            weightGradient: UnsafeMutableBufferPointer<T>, biasGradient: UnsafeMutableBufferPointer<T>?,
                            inputGradient: UnsafeMutableBufferPointer<T>?) {
        let (outH, outW, kh, kw) = (g.outputHeight, g.outputWidth, g.kernelHeight, g.kernelWidth)
        let paddedH = g.height + 2 * g.padY, paddedW = g.width + 2 * g.padX
        let remainderY = (paddedH - kh) % g.strideY, remainderX = (paddedW - kw) % g.strideX
        weightGradient.update(repeating: 0)
        biasGradient?.update(repeating: 0)
        inputGradient?.update(repeating: 0)

        for n in 0..<batch {
            let dilated = (0..<g.filters).map { o in
                dilate(map(outputGradient, offset: (n * g.filters + o) * outH * outW, rows: outH, cols: outW),
                       strideY: g.strideY, strideX: g.strideX)
            }
            for o in 0..<g.filters {
                if let biasGradient { biasGradient[o] += dilated[o].values.reduce(0, +) }
            }
            for c in 0..<g.channels {
                let paddedInput = pad(map(input, offset: (n * g.channels + c) * g.height * g.width, rows: g.height, cols: g.width),
                                      top: g.padY, left: g.padX, bottom: g.padY, right: g.padX)
                for o in 0..<g.filters {
                    // Weight gradient: the error, dilated, slides over the padded input.
                    var dW = Map<T>(rows: kh, cols: kw)
                    correlate(paddedInput, dilated[o], outRows: kh, outCols: kw, accumulateInto: &dW)
                    let base = (o * g.channels + c) * kh * kw
                    for i in 0..<(kh * kw) { weightGradient[base + i] += dW.values[i] }
                }
                guard let inputGradient else { continue }
                // Input error: full correlation of the padded, dilated error with the rotated kernel.
                var full = Map<T>(rows: paddedH, cols: paddedW)
                for o in 0..<g.filters {
                    let framed = pad(dilated[o], top: kh - 1, left: kw - 1, bottom: kh - 1 + remainderY, right: kw - 1 + remainderX)
                    correlate(framed, rotate180(kernel(g, weight, o: o, c: c)), outRows: paddedH, outCols: paddedW,
                              accumulateInto: &full)
                }
                let base = (n * g.channels + c) * g.height * g.width
                for y in 0..<g.height {
                    for x in 0..<g.width { inputGradient[base + y * g.width + x] = full[y + g.padY, x + g.padX] }   // crop_p
                }
            }
        }
    }
}
