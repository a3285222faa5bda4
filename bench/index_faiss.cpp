// FAISS (Debian libfaiss-dev 1.7.3) on the same task as `geoloc bench index`:
// n random unit vectors of width 2048, k = 50, single queries and a batch of
// 64: a flat index (float32, BLAS for batches) and scalar-quantised ones (fp16,
// 8 bit), inner product. Built and run by bench/index.sh when FAISS is there.
//   index_faiss N [flat|sq8|fp16]
#include <faiss/IndexFlat.h>
#include <faiss/IndexScalarQuantizer.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

static double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main(int argc, char **argv) {
    const long n = argc > 1 ? atol(argv[1]) : 100000;
    const char *kind = argc > 2 ? argv[2] : "flat";
    const int d = 2048, k = 50, batch = 64, singles = n >= 1000000 ? 10 : n >= 100000 ? 20 : 200;
    std::unique_ptr<faiss::Index> index;
    if (!strcmp(kind, "flat")) index.reset(new faiss::IndexFlatIP(d));
    else index.reset(new faiss::IndexScalarQuantizer(d, !strcmp(kind, "sq8") ? faiss::ScalarQuantizer::QT_8bit
                                                                             : faiss::ScalarQuantizer::QT_fp16,
                                                     faiss::METRIC_INNER_PRODUCT));
    std::mt19937_64 rng(1);
    std::normal_distribution<float> g;
    const long chunk = 10000;
    std::vector<float> x(chunk * d);
    double t0 = now();
    for (long done = 0; done < n; done += chunk) {
        long m = std::min(chunk, n - done);
        for (long i = 0; i < m; i++) {
            double s = 0;
            for (int j = 0; j < d; j++) s += (double)(x[i * d + j] = g(rng)) * x[i * d + j];
            for (int j = 0; j < d; j++) x[i * d + j] /= (float)std::sqrt(s);
        }
        if (done == 0 && !index->is_trained) index->train(m, x.data());
        index->add(m, x.data());
    }
    double filled = now() - t0;
    std::vector<float> q((size_t)batch * d), dist((size_t)batch * k);
    std::vector<faiss::Index::idx_t> lab((size_t)batch * k);
    for (auto &v : q) v = g(rng);
    t0 = now();
    for (int i = 0; i < singles; i++) index->search(1, q.data() + (size_t)(i % batch) * d, k, dist.data(), lab.data());
    double single = singles / (now() - t0);
    t0 = now();
    index->search(batch, q.data(), k, dist.data(), lab.data());
    double batched = batch / (now() - t0);
    printf("faiss %-4s n %ld  dim %d  k %d  single: %.1f queries/s (%.2f ms)  batch of %d: %.1f queries/s  (filled in %.1f s)\n",
           kind, n, d, k, single, 1000 / single, batch, batched, filled);
    return 0;
}
