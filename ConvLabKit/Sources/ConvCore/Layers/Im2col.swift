/// The data movement behind the fast convolution: unrolling receptive fields into columns and
/// folding column gradients back onto the input, plus the layout changes between `(N, M, P)`
/// and `(M, N·P)`. No arithmetic beyond copies and sums happens here.

/// The output columns `ow` whose input column `ow·s − p + kj` lies inside `0..<width`, a
/// sub-range of `0..<outputSize` (empty when the whole row lies in the padding).
@inline(__always)
func validOutputRange(kernelOffset kj: Int, stride s: Int, pad p: Int, inputSize width: Int, outputSize: Int) -> Range<Int> {
    // ow·s − p + kj ≥ 0  ⇔  ow ≥ ⌈(p − kj)/s⌉;   ow·s − p + kj ≤ width − 1  ⇔  ow ≤ ⌊(width − 1 + p − kj)/s⌋
    // ⌈(p − kj)/s⌉ exceeds the output width when a wide kernel's offset kj sits in the left
    // padding for every output column: clamp, or the zero-fill before the range runs off the row.
    let lowNumerator = p - kj
    let low = lowNumerator <= 0 ? 0 : min(outputSize, (lowNumerator + s - 1) / s)
    let highNumerator = width - 1 + p - kj
    let high = highNumerator < 0 ? 0 : min(outputSize, highNumerator / s + 1)
    return low..<max(low, high)
}

/// cols[(c, a, b), n·P + i·Wo + j] = pad_p(x)[n, c, i·s + a, j·s + b]
@inline(never) @_specialize(where T == Float) @_specialize(where T == Double)
func im2col<T: EngineScalar>(_ g: ConvolutionGeometry, input: UnsafeBufferPointer<T>, batch: Int,
                             columns: UnsafeMutableBufferPointer<T>) {
    let (height, width, outH, outW) = (g.height, g.width, g.outputHeight, g.outputWidth)
    let plane = outH * outW
    let rowLength = batch * plane
    let x = input.baseAddress!
    let cols = columns.baseAddress!
    for c in 0..<g.channels {
        for a in 0..<g.kernelHeight {
            for b in 0..<g.kernelWidth {
                let row = cols + ((c * g.kernelHeight + a) * g.kernelWidth + b) * rowLength
                let valid = validOutputRange(kernelOffset: b, stride: g.strideX, pad: g.padX, inputSize: width, outputSize: outW)
                for n in 0..<batch {
                    let source = x + (n * g.channels + c) * height * width
                    let destination = row + n * plane
                    for i in 0..<outH {
                        let out = destination + i * outW
                        let inputRow = i * g.strideY - g.padY + a
                        guard inputRow >= 0, inputRow < height else {
                            for j in 0..<outW { out[j] = 0 }
                            continue
                        }
                        let line = source + inputRow * width - g.padX + b
                        for j in 0..<valid.lowerBound { out[j] = 0 }
                        if g.strideX == 1 {
                            // Rows are short (10–28 values in LeNet): inline, not a memmove call each.
                            copyRow(from: line + valid.lowerBound, to: out + valid.lowerBound, count: valid.count)
                        } else {
                            for j in valid { out[j] = line[j * g.strideX] }
                        }
                        for j in valid.upperBound..<outW { out[j] = 0 }
                    }
                }
            }
        }
    }
}

/// to[0..<count] = from[0..<count], eight at a time.
@inline(__always)
func copyRow<T: EngineScalar>(from: UnsafePointer<T>, to: UnsafeMutablePointer<T>, count: Int) {
    var k = 0
    while k + 8 <= count {
        UnsafeMutableRawPointer(to + k).storeBytes(of: UnsafeRawPointer(from + k).loadUnaligned(as: SIMD8<T>.self), as: SIMD8<T>.self)
        k += 8
    }
    while k < count { to[k] = from[k]; k += 1 }
}

/// The adjoint of im2col: dx[n, c, i·s − p + a, j·s − p + b] += dcols[(c, a, b), n·P + i·Wo + j].
/// Entries that land in the padding are dropped (the crop_p of the derivation).
@inline(never) @_specialize(where T == Float) @_specialize(where T == Double)
func col2im<T: EngineScalar>(_ g: ConvolutionGeometry, columns: UnsafeBufferPointer<T>, batch: Int,
                             inputGradient: UnsafeMutableBufferPointer<T>) {
    let (height, width, outH, outW) = (g.height, g.width, g.outputHeight, g.outputWidth)
    let plane = outH * outW
    let rowLength = batch * plane
    let dx = inputGradient.baseAddress!
    let cols = columns.baseAddress!
    inputGradient.update(repeating: 0)
    for c in 0..<g.channels {
        for a in 0..<g.kernelHeight {
            for b in 0..<g.kernelWidth {
                let row = cols + ((c * g.kernelHeight + a) * g.kernelWidth + b) * rowLength
                let valid = validOutputRange(kernelOffset: b, stride: g.strideX, pad: g.padX, inputSize: width, outputSize: outW)
                for n in 0..<batch {
                    let target = dx + (n * g.channels + c) * height * width
                    let source = row + n * plane
                    for i in 0..<outH {
                        let inputRow = i * g.strideY - g.padY + a
                        guard inputRow >= 0, inputRow < height else { continue }
                        let line = target + inputRow * width - g.padX + b
                        let column = source + i * outW
                        if g.strideX == 1 {
                            for j in valid { line[j] += column[j] }
                        } else {
                            for j in valid { line[j * g.strideX] += column[j] }
                        }
                    }
                }
            }
        }
    }
}

/// (M, N·P) → (N, M, P), adding bias[m] on the way.
@inline(never) @_specialize(where T == Float) @_specialize(where T == Double)
func channelMajorToBatchMajor<T: EngineScalar>(_ source: UnsafeBufferPointer<T>, bias: UnsafeBufferPointer<T>?,
                                               batch: Int, channels: Int, plane: Int,
                                               into destination: UnsafeMutableBufferPointer<T>) {
    let src = source.baseAddress!, dst = destination.baseAddress!
    let rowLength = batch * plane
    for n in 0..<batch {
        for m in 0..<channels {
            let from = src + m * rowLength + n * plane
            let to = dst + (n * channels + m) * plane
            let shift = bias?[m] ?? 0
            for p in 0..<plane { to[p] = from[p] + shift }
        }
    }
}

/// (N, M, P) → (M, N·P).
@inline(never) @_specialize(where T == Float) @_specialize(where T == Double)
func batchMajorToChannelMajor<T: EngineScalar>(_ source: UnsafeBufferPointer<T>, batch: Int, channels: Int, plane: Int,
                                               into destination: UnsafeMutableBufferPointer<T>) {
    let src = source.baseAddress!, dst = destination.baseAddress!
    let rowLength = batch * plane
    for n in 0..<batch {
        for m in 0..<channels {
            copyRow(from: src + (n * channels + m) * plane, to: dst + m * rowLength + n * plane, count: plane)
        }
    }
}

/// out[r] = Σ_c m[r, c], eight partial sums at a time.
@inline(never) @_specialize(where T == Float) @_specialize(where T == Double)
func sumRows<T: EngineScalar>(_ matrix: UnsafeBufferPointer<T>, rows: Int, columns: Int,
                              into out: UnsafeMutableBufferPointer<T>) {
    let m = matrix.baseAddress!
    let vectorColumns = columns & ~7
    for r in 0..<rows {
        let row = m + r * columns
        var lanes = SIMD8<T>(repeating: 0)
        var c = 0
        while c < vectorColumns {
            lanes += UnsafeRawPointer(row + c).loadUnaligned(as: SIMD8<T>.self)
            c += 8
        }
        var total = lanes.sum()
        while c < columns { total += row[c]; c += 1 }
        out[r] = total
    }
}

/// target += source, element-wise.
@inline(never) @_specialize(where T == Float) @_specialize(where T == Double)
func addInPlace<T: EngineScalar>(_ target: UnsafeMutableBufferPointer<T>, _ source: UnsafeBufferPointer<T>) {
    for i in 0..<target.count { target[i] += source[i] }
}
