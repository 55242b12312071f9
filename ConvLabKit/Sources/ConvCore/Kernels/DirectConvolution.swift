/// Direct convolution kernels for stride 1 in Float32, for convolutions with few input channels
/// (LeNet-5's and deep.json's first layers: one channel), where im2col + GEMM multiplies
/// matrices with 6 or 16 rows and a short inner dimension, which BLAS runs at a fraction of its speed.
///
/// The same three formulas as the reference (DESIGN §2), with stride 1:
///
///     forward:        z[n,o,i,j]  = b[o] + Σ_c Σ_a Σ_b W[o,c,a,b] · pad_p(x)[n,c,i+a,j+b]
///     input error:    δ_prev      = full_corr(pad(δ, k−1−p), rot180(W) with o and c swapped)
///                                 — the forward kernel again, on δ, with the rotated weights
///     weight grad.:   dW[o,c,a,b] = Σ_n Σ_i Σ_j δ[n,o,i,j] · pad_p(x)[n,c,i+a,j+b]
///
/// Vectors run along the output row (8 floats: AVX2 width, so the kernels run on every x86-64
/// the release build targets); each sample's planes are first copied into a zero-bordered
/// scratch block, so no loop tests for the padding. Forward keeps 4 filters × 2 output rows of
/// accumulators in registers (8 of the 16 ymm registers): each input vector loaded serves 4
/// filters, each weight broadcast 2 rows.
enum DirectConvolution {
    typealias Vector = SIMD8<Float>
    static let lanes = 8
    /// Filters whose accumulators one pass of the forward kernel keeps.
    static let filterGroup = 4

    struct Geometry {
        var channels, height, width: Int
        var filters: Int
        var kernelHeight, kernelWidth: Int
        var padY, padX: Int
        var outputHeight: Int { height + 2 * padY - kernelHeight + 1 }
        var outputWidth: Int { width + 2 * padX - kernelWidth + 1 }
        /// Output row rounded up to whole vectors.
        var roundedWidth: Int { (outputWidth + DirectConvolution.lanes - 1) / DirectConvolution.lanes * DirectConvolution.lanes }
        /// A padded input row: room for the last vector's reads (and 4 more, for the weight
        /// gradient's blocks of 5 kernel columns).
        var paddedWidth: Int { roundedWidth + kernelWidth - 1 + 4 }
        /// Padded rows, plus one row of zeros for the forward kernel's second row when the
        /// output height is odd.
        var paddedHeight: Int { height + 2 * padY + 1 }
        var paddedPlane: Int { paddedHeight * paddedWidth }
        var groups: Int { (filters + DirectConvolution.filterGroup - 1) / DirectConvolution.filterGroup }
        /// Packed weights: (group, c, a, b, 4 filters), zeros for the filters past the last.
        var packedCount: Int { groups * channels * kernelHeight * kernelWidth * DirectConvolution.filterGroup }
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> Vector { UnsafeRawPointer(p).loadUnaligned(as: Vector.self) }

    /// Packs `weight(o, c, a, b)` for the forward kernel.
    static func pack(_ g: Geometry, into packed: UnsafeMutablePointer<Float>, weight: (Int, Int, Int, Int) -> Float) {
        let (kh, kw, group) = (g.kernelHeight, g.kernelWidth, filterGroup)
        for gi in 0..<g.groups {
            for c in 0..<g.channels {
                for a in 0..<kh {
                    for b in 0..<kw {
                        let base = packed + (((gi * g.channels + c) * kh + a) * kw + b) * group
                        for k in 0..<group {
                            let o = gi * group + k
                            base[k] = o < g.filters ? weight(o, c, a, b) : 0
                        }
                    }
                }
            }
        }
    }

    /// Copies sample planes (C, H, W) into the interior of zero-bordered padded planes; the
    /// borders are zeroed by the caller once per call.
    @inline(__always)
    static func padInto(_ g: Geometry, source: UnsafePointer<Float>, planes: Int, target: UnsafeMutablePointer<Float>) {
        for plane in 0..<planes {
            let from = source + plane * g.height * g.width
            let to = target + plane * g.paddedPlane + g.padY * g.paddedWidth + g.padX
            for y in 0..<g.height {
                let row = from + y * g.width, out = to + y * g.paddedWidth
                var x = 0
                while x + lanes <= g.width {
                    UnsafeMutableRawPointer(out + x).storeBytes(of: load(row + x), as: Vector.self)
                    x += lanes
                }
                while x < g.width { out[x] = row[x]; x += 1 }
            }
        }
    }

    /// Stores the first `count` lanes of `v` at `p`.
    @inline(__always)
    static func store(_ v: Vector, _ p: UnsafeMutablePointer<Float>, count: Int) {
        if count >= lanes {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector.self)
        } else {
            for k in 0..<count { p[k] = v[k] }
        }
    }

    /// z[n,o,i,j] = bias[o] + Σ_c Σ_a Σ_b W[o,c,a,b] · pad_p(x)[n,c,i+a,j+b] for `batch` samples.
    /// `scratch` holds `g.channels · g.paddedPlane` floats.
    @inline(never)
    static func forward(_ g: Geometry, input: UnsafePointer<Float>, batch: Int, packed: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let (kh, kw, C) = (g.kernelHeight, g.kernelWidth, g.channels)
        let (outH, outW, pw) = (g.outputHeight, g.outputWidth, g.paddedWidth)
        let plane = outH * outW
        scratch.update(repeating: 0, count: C * g.paddedPlane)
        for n in 0..<batch {
            padInto(g, source: input + n * C * g.height * g.width, planes: C, target: scratch)
            for gi in 0..<g.groups {
                let weights = packed + gi * C * kh * kw * filterGroup
                let first = gi * filterGroup
                let count = min(filterGroup, g.filters - first)
                var b0: Float = 0, b1: Float = 0, b2: Float = 0, b3: Float = 0
                if let bias {
                    b0 = bias[first]
                    if count > 1 { b1 = bias[first + 1] }
                    if count > 2 { b2 = bias[first + 2] }
                    if count > 3 { b3 = bias[first + 3] }
                }
                let out = output + (n * g.filters + first) * plane
                var i = 0
                while i < outH {
                    var j = 0
                    while j < outW {
                        var s00 = Vector(repeating: b0), s01 = Vector(repeating: b1), s02 = Vector(repeating: b2), s03 = Vector(repeating: b3)
                        var s10 = s00, s11 = s01, s12 = s02, s13 = s03
                        for c in 0..<C {
                            for a in 0..<kh {
                                let row0 = UnsafePointer(scratch + c * g.paddedPlane + (i + a) * pw + j)
                                let row1 = row0 + pw
                                var w = weights + ((c * kh + a) * kw) * filterGroup
                                for b in 0..<kw {
                                    let x0 = load(row0 + b), x1 = load(row1 + b)
                                    let w0 = Vector(repeating: w[0]), w1 = Vector(repeating: w[1])
                                    let w2 = Vector(repeating: w[2]), w3 = Vector(repeating: w[3])
                                    s00.addProduct(x0, w0); s01.addProduct(x0, w1); s02.addProduct(x0, w2); s03.addProduct(x0, w3)
                                    s10.addProduct(x1, w0); s11.addProduct(x1, w1); s12.addProduct(x1, w2); s13.addProduct(x1, w3)
                                    w += filterGroup
                                }
                            }
                        }
                        let width = outW - j
                        let p0 = out + i * outW + j
                        store(s00, p0, count: width)
                        if count > 1 { store(s01, p0 + plane, count: width) }
                        if count > 2 { store(s02, p0 + 2 * plane, count: width) }
                        if count > 3 { store(s03, p0 + 3 * plane, count: width) }
                        if i + 1 < outH {
                            let p1 = p0 + outW
                            store(s10, p1, count: width)
                            if count > 1 { store(s11, p1 + plane, count: width) }
                            if count > 2 { store(s12, p1 + 2 * plane, count: width) }
                            if count > 3 { store(s13, p1 + 3 * plane, count: width) }
                        }
                        j += lanes
                    }
                    i += 2
                }
            }
        }
    }

    /// dW[o,c,a,b] = Σ_n Σ_i Σ_j δ[n,o,i,j] · pad_p(x)[n,c,i+a,j+b] (overwritten), and
    /// db[o] = Σ δ[n,o] when `biasGradient` is given. `paddedInput` holds
    /// `batch · C · g.paddedPlane` floats, `paddedDelta` `batch · M · outH · roundedWidth`.
    @inline(never)
    static func weightGradient(_ g: Geometry, input: UnsafePointer<Float>, outputGradient delta: UnsafePointer<Float>, batch: Int,
                               weightGradient: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>?,
                               paddedInput: UnsafeMutablePointer<Float>, paddedDelta: UnsafeMutablePointer<Float>) {
        let (kh, kw, C, M) = (g.kernelHeight, g.kernelWidth, g.channels, g.filters)
        let (outH, outW, rw, pw) = (g.outputHeight, g.outputWidth, g.roundedWidth, g.paddedWidth)
        let plane = outH * outW, roundedPlane = outH * rw
        paddedInput.update(repeating: 0, count: batch * C * g.paddedPlane)
        padInto(g, source: input, planes: batch * C, target: paddedInput)
        // δ with each row padded to whole vectors by zeros (they add nothing to any sum).
        for p in 0..<(batch * M) {
            let from = delta + p * plane, to = paddedDelta + p * roundedPlane
            for i in 0..<outH {
                let row = from + i * outW, out = to + i * rw
                for j in 0..<outW { out[j] = row[j] }
                for j in outW..<rw { out[j] = 0 }
            }
        }
        if let biasGradient {
            for o in 0..<M {
                var sum = Vector(repeating: 0)
                for n in 0..<batch {
                    let d = UnsafePointer(paddedDelta + (n * M + o) * roundedPlane)
                    var k = 0
                    while k < roundedPlane { sum += load(d + k); k += lanes }
                }
                biasGradient[o] = sum.sum()
            }
        }
        // Two filters × five kernel columns of accumulators.
        for c in 0..<C {
            for a in 0..<kh {
                var o = 0
                while o < M {
                    let pair = o + 1 < M
                    var b = 0
                    while b < kw {
                        var s00 = Vector(repeating: 0), s01 = s00, s02 = s00, s03 = s00, s04 = s00
                        var s10 = s00, s11 = s00, s12 = s00, s13 = s00, s14 = s00
                        for n in 0..<batch {
                            let d0 = UnsafePointer(paddedDelta + (n * M + o) * roundedPlane)
                            let d1 = pair ? d0 + roundedPlane : d0
                            let x = UnsafePointer(paddedInput + (n * C + c) * g.paddedPlane + a * pw + b)
                            for i in 0..<outH {
                                let xr = x + i * pw, dr0 = d0 + i * rw, dr1 = d1 + i * rw
                                var j = 0
                                while j < rw {
                                    let e0 = load(dr0 + j), e1 = load(dr1 + j)
                                    let x0 = load(xr + j), x1 = load(xr + j + 1), x2 = load(xr + j + 2)
                                    let x3 = load(xr + j + 3), x4 = load(xr + j + 4)
                                    s00.addProduct(e0, x0); s01.addProduct(e0, x1); s02.addProduct(e0, x2); s03.addProduct(e0, x3); s04.addProduct(e0, x4)
                                    s10.addProduct(e1, x0); s11.addProduct(e1, x1); s12.addProduct(e1, x2); s13.addProduct(e1, x3); s14.addProduct(e1, x4)
                                    j += lanes
                                }
                            }
                        }
                        let row0 = weightGradient + ((o * C + c) * kh + a) * kw + b
                        let row1 = row0 + C * kh * kw
                        let columns = min(5, kw - b)
                        row0[0] = s00.sum()
                        if columns > 1 { row0[1] = s01.sum() }
                        if columns > 2 { row0[2] = s02.sum() }
                        if columns > 3 { row0[3] = s03.sum() }
                        if columns > 4 { row0[4] = s04.sum() }
                        if pair {
                            row1[0] = s10.sum()
                            if columns > 1 { row1[1] = s11.sum() }
                            if columns > 2 { row1[2] = s12.sum() }
                            if columns > 3 { row1[3] = s13.sum() }
                            if columns > 4 { row1[4] = s14.sum() }
                        }
                        b += 5
                    }
                    o += 2
                }
            }
        }
    }
}

extension SIMD8 where Scalar == Float {
    /// self += a · b, fused.
    @inline(__always)
    mutating func addProduct(_ a: Self, _ b: Self) { self = self.addingProduct(a, b) }
}
