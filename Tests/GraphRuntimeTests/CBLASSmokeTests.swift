import CBLAS
import Testing

@Suite struct CBLASSmokeTests {
    @Test func sgemmMultipliesTwoByTwo() {
        let a: [Float] = [1, 2, 3, 4], b: [Float] = [5, 6, 7, 8]
        var c = [Float](repeating: 0, count: 4)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2, 2, 2, 1, a, 2, b, 2, 0, &c, 2)
        #expect(c == [19, 22, 43, 50])
    }

    @Test func lapackeSolvesALinearSystem() {
        // [[2, 1], [1, 3]] x = [3, 5]  →  x = [0.8, 1.4]
        var a: [Float] = [2, 1, 1, 3], x: [Float] = [3, 5]
        var pivots = [Int32](repeating: 0, count: 2)
        let info = LAPACKE_sgesv(LAPACK_ROW_MAJOR, 2, 1, &a, 2, &pivots, &x, 1)
        #expect(info == 0)
        #expect(abs(x[0] - 0.8) < 1e-6 && abs(x[1] - 1.4) < 1e-6)
    }
}
