import CBLAS
import Testing

/// Proves the system-library target links OpenBLAS and LAPACKE and that calls round-trip through the module map.
@Suite struct CBLASSmokeTests {
    @Test func sgemmMultipliesRowMajorMatrices() {
        // [1 2 3; 4 5 6] · [7 8; 9 10; 11 12] = [58 64; 139 154]
        let a: [Float] = [1, 2, 3, 4, 5, 6]
        let b: [Float] = [7, 8, 9, 10, 11, 12]
        var c = [Float](repeating: -1, count: 4)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2, 2, 3,
                                1.0, pa.baseAddress, 3, pb.baseAddress, 2, 0.0, pc.baseAddress, 2)
                }
            }
        }
        #expect(c == [58, 64, 139, 154])
    }

    @Test func sgesvSolvesALinearSystem() {
        // 2x + y = 5, x + 3y = 10  =>  x = 1, y = 3.
        var a: [Float] = [2, 1, 1, 3]
        var b: [Float] = [5, 10]
        var pivots = [Int32](repeating: 0, count: 2)
        let info = LAPACKE_sgesv(LAPACK_ROW_MAJOR, 2, 1, &a, 2, &pivots, &b, 1)
        #expect(info == 0)
        #expect(abs(b[0] - 1) < 1e-6)
        #expect(abs(b[1] - 3) < 1e-6)
    }

    @Test func sgesvReportsASingularMatrix() {
        var a: [Float] = [1, 2, 2, 4]
        var b: [Float] = [1, 1]
        var pivots = [Int32](repeating: 0, count: 2)
        let info = LAPACKE_sgesv(LAPACK_ROW_MAJOR, 2, 1, &a, 2, &pivots, &b, 1)
        #expect(info > 0)  // U(info, info) is exactly zero
    }
}
