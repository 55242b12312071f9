import CBLAS
import RealModule

/// The scalar types the engine runs in: `Float` for training, `Double` for gradient checks.
///
/// Every layer is written once, generic over its scalar; the only per-type code is the BLAS
/// entry point each type dispatches to.
public protocol EngineScalar: Real, BinaryFloatingPoint, SIMDScalar, Sendable, Codable
where RawSignificand: FixedWidthInteger {
    /// C ← α·op(A)·op(B) + β·C on row-major matrices (op = transpose when the flag is set).
    static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Self, a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
}

@inline(__always)
private func cblasTranspose(_ flag: Bool) -> CBLAS_TRANSPOSE { flag ? CblasTrans : CblasNoTrans }

extension Float: EngineScalar {
    @inline(__always)
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(CblasRowMajor, cblasTranspose(transposeA), cblasTranspose(transposeB),
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                    beta, c, blasint(ldc))
    }
}

extension Double: EngineScalar {
    @inline(__always)
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Double, a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        cblas_dgemm(CblasRowMajor, cblasTranspose(transposeA), cblasTranspose(transposeB),
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                    beta, c, blasint(ldc))
    }
}

/// Sets how many threads OpenBLAS may use. The data-parallel trainer sets 1: it already runs
/// one replica per core, and a second level of threads only adds contention. Changing it while
/// another thread is inside OpenBLAS corrupts OpenBLAS's memory, so it is changed only when it
/// differs (the runner and the tests start with OPENBLAS_NUM_THREADS=1, where it never does).
public func setBLASThreads(_ count: Int) {
    let wanted = Int32(max(1, count))
    guard openblas_get_num_threads() != wanted else { return }
    openblas_set_num_threads(wanted)
}

/// What OpenBLAS chose for this CPU.
public enum BLASRuntime {
    /// The kernel family OpenBLAS picked at load time, e.g. `Haswell` or `Prescott`.
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// Whether this build's engine uses AVX2/FMA instructions that this CPU lacks (it would stop
    /// with an illegal instruction at the first batch).
    public static var cpuLacksBuildTarget: Bool {
        #if CONVLAB_TARGETS_AVX2
        convlab_cpu_has_avx2_fma() == 0
        #else
        false
        #endif
    }

    /// The `OPENBLAS_CORETYPE` that would give this process its fast kernels; nil when OpenBLAS's
    /// choice is already right. OpenBLAS reads the variable once, when it is loaded, so a process
    /// has to be restarted with it set.
    /// - `Haswell` where OpenBLAS fell back to its SSE3 (`Prescott`) kernels on a CPU with AVX2/FMA;
    /// - `SkylakeX` where it chose AVX2 kernels on a CPU with AVX-512 F/BW/DQ/VL (OpenBLAS 0.3.21
    ///   gives AMD's Zen 4 and Zen 5 the Haswell kernels): on a 2-core Zen 5, LeNet-5 trains
    ///   about 1.45 times as fast with them (47.2k against 32.5k images/s, `runner bench`).
    public static var suggestedCoreType: String? {
        let name = coreName.lowercased()
        if name == "prescott", convlab_cpu_has_avx2_fma() != 0 {
            return convlab_cpu_has_avx512_skx() != 0 ? "SkylakeX" : "Haswell"
        }
        if ["haswell", "zen", "excavator", "sandybridge"].contains(name), convlab_cpu_has_avx512_skx() != 0 { return "SkylakeX" }
        return nil
    }
}
