// faiss_bench.cpp — the FAISS side of the vector-index benchmark (bench/vector.sh, bench/README.md "Vector
// search"), against Debian's libfaiss-dev (1.7.3).
//
//   faiss_bench BASE.f32 QUERIES.f32 N DIM NQ "NPROBES..." "REFINES..." REPS WARMUP PARTITIONS M TRAIN_N SEED BUILD_THREADS
//
// Builds IndexIVFPQ(IndexFlatL2 quantizer, DIM, PARTITIONS, M sub-quantizers, 8 bits) wrapped in an
// IndexRefineFlat (which keeps the raw vectors for re-ranking): train on TRAIN_N base rows sampled without
// replacement (seeded; framelake's sample size), then add all N rows; train and add are timed with
// BUILD_THREADS OpenMP threads. Queries then run on one OpenMP thread, one query at a time (search with
// n = 1, k = 10), starting 2 s after the build (its threads stop spinning): refine 0 searches the
// IndexIVFPQ itself, refine r > 0 the IndexRefineFlat with k_factor = r. For each (nprobes, refine):
// WARMUP untimed queries, then REPS timed passes over the NQ queries. Output as vector_bench's: "load",
// "build<TAB>wall s<TAB>cpu s<TAB>train s<TAB>add s", then "q<TAB>nprobes<TAB>refine<TAB>query<TAB>ms,...<TAB>id,...",
// "cpu<TAB>nprobes<TAB>refine<TAB>cpu s<TAB>wall s" and "scan<TAB>nprobes<TAB>refine<TAB>codes scanned per
// query" (faiss::indexIVF_stats.ndis) of the timed passes.
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexRefine.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using idx_t = faiss::Index::idx_t;

static double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

static double cpu_now() {
    timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static std::vector<float> read_f32(const char *path, size_t n) {
    std::vector<float> x(n);
    FILE *f = fopen(path, "rb");
    if (!f || fread(x.data(), sizeof(float), n, f) != n) {
        fprintf(stderr, "faiss_bench: cannot read %zu floats from %s\n", n, path);
        exit(1);
    }
    fclose(f);
    return x;
}

static std::vector<int> parse_list(const char *s) {
    std::vector<int> v;
    std::string t(s);
    for (char &c : t)
        if (c == ',') c = ' ';
    std::istringstream in(t);
    int x;
    while (in >> x) v.push_back(x);
    return v;
}

int main(int argc, char **argv) {
    if (argc != 15) {
        fprintf(stderr, "usage: faiss_bench BASE QUERIES N DIM NQ NPROBES REFINES REPS WARMUP PARTITIONS M TRAIN_N SEED BUILD_THREADS\n");
        return 2;
    }
    size_t n = strtoull(argv[3], nullptr, 10);
    int dim = atoi(argv[4]), nq = atoi(argv[5]);
    std::vector<int> nprobes = parse_list(argv[6]), refines = parse_list(argv[7]);
    int reps = atoi(argv[8]), warmup = atoi(argv[9]), partitions = atoi(argv[10]), m = atoi(argv[11]);
    size_t train_n = strtoull(argv[12], nullptr, 10);
    unsigned seed = (unsigned)atoi(argv[13]);
    int build_threads = atoi(argv[14]);

    double t0 = now();
    std::vector<float> base = read_f32(argv[1], n * dim), queries = read_f32(argv[2], (size_t)nq * dim);
    printf("load\t%.4f\t0\n", now() - t0);

    // the training sample: train_n distinct rows, in row order
    if (train_n > n) train_n = n;
    std::vector<size_t> rows(n);
    for (size_t i = 0; i < n; i++) rows[i] = i;
    std::mt19937_64 rng(seed);
    std::shuffle(rows.begin(), rows.end(), rng);
    rows.resize(train_n);
    std::sort(rows.begin(), rows.end());
    std::vector<float> train(train_n * dim);
    for (size_t i = 0; i < train_n; i++) std::copy_n(&base[rows[i] * dim], dim, &train[i * dim]);

    omp_set_num_threads(build_threads);
    faiss::IndexFlatL2 quantizer(dim);
    faiss::IndexIVFPQ ivfpq(&quantizer, dim, partitions, m, 8);
    double c0 = cpu_now();
    t0 = now();
    ivfpq.train((idx_t)train_n, train.data());
    double train_s = now() - t0;
    faiss::IndexRefineFlat refine(&ivfpq);  // must wrap the index before anything is added
    double a0 = now();
    refine.add((idx_t)n, base.data());
    double add_s = now() - a0, build_s = now() - t0, build_cpu = cpu_now() - c0;
    printf("build\t%.4f\t%.4f\t%.4f\t%.4f\n", build_s, build_cpu, train_s, add_s);
    size_t min_list = SIZE_MAX, max_list = 0;
    for (int p = 0; p < partitions; p++) {
        size_t len = ivfpq.invlists->list_size(p);
        min_list = std::min(min_list, len);
        max_list = std::max(max_list, len);
    }
    fflush(stdout);
    fprintf(stderr, "faiss_bench: IVF%d,PQ%dx8 trained on %zu in %.1f s, %zu added in %.1f s (%d threads; cpu %.1f s); use_precomputed_table %d, "
            "lists min / mean / max %zu / %.0f / %zu, imbalance %.2f\n", partitions, m, train_n, train_s, n, add_s, build_threads, build_cpu,
            ivfpq.use_precomputed_table, min_list, (double)n / partitions, max_list, ivfpq.invlists->imbalance_factor());

    omp_set_num_threads(1);
    // the build's OpenMP and OpenBLAS threads spin for a while after their last task: let them sleep first
    std::this_thread::sleep_for(std::chrono::seconds(2));
    const int k = 10;
    std::vector<float> dist(k);
    std::vector<idx_t> labels(k), first((size_t)nq * k);
    std::vector<std::vector<double>> lat(nq, std::vector<double>(reps));
    for (int np : nprobes)
        for (int r : refines) {
            ivfpq.nprobe = np;
            refine.k_factor = (float)(r > 0 ? r : 1);
            faiss::Index *index = r > 0 ? (faiss::Index *)&refine : (faiss::Index *)&ivfpq;
            double c1 = now();
            double cpu1 = 0, w1 = 0;
            for (int w = 0; w < warmup; w++) index->search(1, &queries[(size_t)(w % nq) * dim], k, dist.data(), labels.data());
            faiss::indexIVF_stats.reset();
            cpu1 = cpu_now(), w1 = now();
            for (int rep = 0; rep < reps; rep++)
                for (int q = 0; q < nq; q++) {
                    double s0 = now();
                    index->search(1, &queries[(size_t)q * dim], k, dist.data(), labels.data());
                    lat[q][rep] = (now() - s0) * 1e3;
                    if (!rep) std::copy(labels.begin(), labels.end(), first.begin() + (size_t)q * k);
                }
            for (int q = 0; q < nq; q++) {
                printf("q\t%d\t%d\t%d\t", np, r, q);
                for (int rep = 0; rep < reps; rep++) printf("%s%.4f", rep ? "," : "", lat[q][rep]);
                printf("\t");
                bool any = false;
                for (int i = 0; i < k; i++) {
                    idx_t id = first[(size_t)q * k + i];
                    if (id < 0) continue;  // fewer than k results
                    printf("%s%lld", any ? "," : "", (long long)id);
                    any = true;
                }
                printf("\n");
            }
            printf("cpu\t%d\t%d\t%.4f\t%.4f\n", np, r, cpu_now() - cpu1, now() - w1);
            printf("scan\t%d\t%d\t%.1f\n", np, r, (double)faiss::indexIVF_stats.ndis / ((double)nq * reps));
            fflush(stdout);
            fprintf(stderr, "faiss_bench: nprobes %d refine %d: %.1f s\n", np, r, now() - c1);
        }
    return 0;
}
