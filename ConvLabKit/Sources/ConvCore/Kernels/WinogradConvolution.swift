import ConvKernels

/// 3×3, stride-1 convolutions in Float32 with Winograd's minimal filtering F(2×2, 3×3)
/// (Lavin & Gray, 2016; the kernels are in ConvKernels/WinogradBody.h). Per 2×2 output tile and
/// pair of channels it multiplies 16 times where the direct formula multiplies 36, and all three
/// passes of the derivation (docs/DESIGN.md §2) take that form:
///
///     forward:        Y = Aᵀ·[Σ_c U[k,c] ⊙ V[c]]·A,   U = G·W·Gᵀ,  V = Bᵀ·d·B   (d: a 4×4 input tile)
///     input error:    the forward pass on δ with rot180(W), channels and filters swapped, padding 2 − p
///     weight grad.:   dW[k,c] = Gᵀ·[Σ_tiles (A·δ·Aᵀ) ⊙ V[c]]·G                   (δ: a 2×2 error tile)
///
/// The kernels exist for AVX-512, AVX2 + FMA and plain x86-64; `KernelISA` picks one at run time.
enum WinogradConvolution {
    /// Whether a convolution can run here: 3×3, stride 1, padding at most 2 on both sides.
    static func applies(to g: ConvolutionGeometry) -> Bool {
        g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideY == 1 && g.strideX == 1
            && g.padY == g.padX && (0...2).contains(g.padY) && g.outputHeight > 0 && g.outputWidth > 0
    }

    static func geometry(_ g: ConvolutionGeometry) -> convlab_winograd_geometry {
        convlab_winograd_geometry(channels: Int32(g.channels), height: Int32(g.height), width: Int32(g.width),
                                  filters: Int32(g.filters), pad: Int32(g.padY))
    }

    /// The input-error pass as a forward pass: δ (N, K, Ho, Wo) in, (N, C, H, W) out.
    static func backwardGeometry(_ g: ConvolutionGeometry) -> convlab_winograd_geometry {
        convlab_winograd_geometry(channels: Int32(g.filters), height: Int32(g.outputHeight), width: Int32(g.outputWidth),
                                  filters: Int32(g.channels), pad: Int32(2 - g.padY))
    }
}

/// The instruction set the engine's C kernels run with.
public enum KernelISA: Int, Sendable, CaseIterable, Comparable {
    case generic = 0, avx2 = 1, avx512 = 2

    /// The CPU's best, or the lower one `CONVLAB_KERNELS` (`avx512`, `avx2`, `generic`) names.
    public static var selected: KernelISA { KernelISA(rawValue: Int(convlab_kernel_isa().rawValue)) ?? .generic }
    /// The best this CPU runs.
    public static var best: KernelISA { KernelISA(rawValue: Int(convlab_cpu_isa().rawValue)) ?? .generic }
    /// Every instruction set this CPU runs, so tests can cover each path.
    public static var available: [KernelISA] { allCases.filter { $0 <= best } }

    public var name: String {
        switch self {
        case .generic: "x86-64"
        case .avx2: "AVX2"
        case .avx512: "AVX-512"
        }
    }

    /// The value of `CONVLAB_KERNELS` that chooses this set.
    public var variableValue: String {
        switch self {
        case .generic: "generic"
        case .avx2: "avx2"
        case .avx512: "avx512"
        }
    }

    var c: convlab_isa { convlab_isa(rawValue: UInt32(rawValue)) }

    /// One core's arithmetic peak with this instruction set's vectors, measured: independent
    /// fused multiply-adds for about `seconds` (2 FLOPs per lane and FMA).
    public func peakGFLOPs(seconds: Double = 0.3) -> Double { convlab_peak_gflops(c, seconds) }

    public static func < (a: KernelISA, b: KernelISA) -> Bool { a.rawValue < b.rawValue }
}
