/*
 * The eigenvalues of one n×n Gram matrix by the routes LAPACK offers, against ?syevd (what numpy's
 * eigvalsh(driver='evd') and our one-stage solver call): issue 23's question whether the Gram part
 * can beat numpy by 10% at n = 2048. Built and run by bench/tridiagonal.bench.ts.
 *
 *   - dsyevd('N'):               dlansy, dsytrd (nb = 32 from ilaenv), dsterf — the baseline;
 *   - dsytrd + dsterf:           the same calls without dsyevd's wrapper, blocked by hand with
 *                                nb = 16 … 128 (dlatrd + dsyr2k, then dsytd2, as dsytrd does);
 *   - dsytrd_sy2sb + dsytrd_sb2st (one thread) + dsterf with band widths kd = 8 … 64: the two-stage
 *                                reduction of ?syevd_2stage with the band chosen by hand.
 * Each is the best of `reps` runs on the same matrix (AᵀA of A uniform in [−0.5, 0.5), fixed seed),
 * printed with its ratio to dsyevd and its largest eigenvalue difference relative to λmax.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern void dsyevd_(const char*, const char*, const int*, double*, const int*, double*, double*, const int*, int*, const int*, int*, size_t,
                    size_t);
extern void dlatrd_(const char*, const int*, const int*, double*, const int*, double*, double*, double*, const int*, size_t);
extern void dsyr2k_(const char*, const char*, const int*, const int*, const double*, const double*, const int*, const double*, const int*,
                    const double*, double*, const int*, size_t, size_t);
extern void dsytd2_(const char*, const int*, double*, const int*, double*, double*, double*, int*, size_t);
extern void dsterf_(const int*, double*, double*, int*);
extern void dsytrd_sy2sb_(const char*, const int*, const int*, double*, const int*, double*, const int*, double*, double*, const int*, int*,
                          size_t);
extern void dsytrd_sb2st_(const char*, const char*, const char*, const int*, const int*, double*, const int*, double*, double*, double*,
                          const int*, double*, const int*, int*, size_t, size_t, size_t);
extern void openblas_set_num_threads(int);

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#define A(r, c) a[((r)-1) + (size_t)((c)-1) * (size_t)lda]
/* dsytrd (upper) with block size nb, as LAPACK 3.11 writes it. */
static void blockedTridiagonal(int n, double* a, int lda, double* d, double* e, double* tau, int nb, double* w) {
  int info, ldw = n;
  const int kk = n - ((n - nb + nb - 1) / nb) * nb;
  const double mone = -1, one = 1;
  for (int i = n - nb + 1; i >= kk + 1; i -= nb) {
    int m1 = i + nb - 1, im1 = i - 1;
    dlatrd_("U", &m1, &nb, a, &lda, e, tau, w, &ldw, 1);
    dsyr2k_("U", "N", &im1, &nb, &mone, &A(1, i), &lda, w, &ldw, &one, a, &lda, 1, 1);
    for (int j = i; j <= i + nb - 1; j++) {
      A(j - 1, j) = e[j - 2];
      d[j - 1] = A(j, j);
    }
  }
  dsytd2_("U", &kk, a, &lda, d, e, tau, &info, 1);
}

static double maxRelDiff(const double* x, const double* ref, int n) {
  double m = 0;
  for (int i = 0; i < n; i++) m = fmax(m, fabs(x[i] - ref[i]) / ref[n - 1]);
  return m;
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: tridiagonal N THREADS REPS\n");
    return 2;
  }
  const int n = atoi(argv[1]), threads = atoi(argv[2]), reps = atoi(argv[3]);
  openblas_set_num_threads(threads);
  const size_t nn = (size_t)n * n;
  double *x = malloc(sizeof(double) * nn), *g = malloc(sizeof(double) * nn), *a = malloc(sizeof(double) * nn);
  double *ref = malloc(sizeof(double) * n), *d = malloc(sizeof(double) * n), *e = malloc(sizeof(double) * n), *tau = malloc(sizeof(double) * n);
  unsigned s = 1;
  for (size_t i = 0; i < nn; i++) {
    s = s * 1664525u + 1013904223u;
    x[i] = (double)s / 4294967296.0 - 0.5;
  }
  cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, n, n, 1.0, x, n, 0.0, g, n);
  int info, lwork = -1, liwork = -1, iq;
  double q;
  dsyevd_("N", "U", &n, a, &n, ref, &q, &lwork, &iq, &liwork, &info, 1, 1);
  lwork = (int)q;
  liwork = iq;
  double* work = malloc(sizeof(double) * ((size_t)lwork + (size_t)n * 128));
  int* iwork = malloc(sizeof(int) * ((size_t)liwork + 1));
  double base = 1e30;
  for (int r = 0; r < reps; r++) {
    memcpy(a, g, sizeof(double) * nn);
    const double t0 = now();
    dsyevd_("N", "U", &n, a, &n, ref, work, &lwork, iwork, &liwork, &info, 1, 1);
    base = fmin(base, now() - t0);
  }
  printf("n=%d threads=%d dsyevd %.3f s\n", n, threads, base);
  const int nbs[] = {16, 32, 64, 128};
  for (int k = 0; k < 4; k++) {
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
      memcpy(a, g, sizeof(double) * nn);
      const double t0 = now();
      blockedTridiagonal(n, a, n, d, e, tau, nbs[k], work);
      dsterf_(&n, d, e, &info);
      best = fmin(best, now() - t0);
    }
    printf("dsytrd nb=%d + dsterf %.3f s %.3f %.1e\n", nbs[k], best, best / base, maxRelDiff(d, ref, n));
  }
  const int kds[] = {8, 16, 32, 64};
  for (int k = 0; k < 4; k++) {
    int kd = kds[k], ldab = kd + 1, lw = -1, lh = -1, lw2 = -1;
    double* ab = malloc(sizeof(double) * (size_t)ldab * n);
    double q2, hq;
    dsytrd_sy2sb_("U", &n, &kd, a, &n, ab, &ldab, tau, &q, &lw, &info, 1);
    lw = (int)q;
    dsytrd_sb2st_("Y", "N", "U", &n, &kd, ab, &ldab, d, e, &hq, &lh, &q2, &lw2, &info, 1, 1, 1);
    lh = (int)hq;
    lw2 = (int)q2;
    double *w1 = malloc(sizeof(double) * ((size_t)lw + 1)), *hous = malloc(sizeof(double) * ((size_t)lh + 1)),
           *w2 = malloc(sizeof(double) * ((size_t)lw2 + 1));
    double best = 1e30, band = 0;
    for (int r = 0; r < reps; r++) {
      memcpy(a, g, sizeof(double) * nn);
      const double t0 = now();
      dsytrd_sy2sb_("U", &n, &kd, a, &n, ab, &ldab, tau, w1, &lw, &info, 1);
      const double t1 = now();
      openblas_set_num_threads(1);
      dsytrd_sb2st_("Y", "N", "U", &n, &kd, ab, &ldab, d, e, hous, &lh, w2, &lw2, &info, 1, 1, 1);
      dsterf_(&n, d, e, &info);
      openblas_set_num_threads(threads);
      const double t = now() - t0;
      if (t < best) {
        best = t;
        band = t1 - t0;
      }
    }
    printf("two-stage kd=%d %.3f s %.3f %.1e (full->band %.3f s)\n", kd, best, best / base, maxRelDiff(d, ref, n), band);
    free(ab);
    free(w1);
    free(hous);
    free(w2);
  }
  return 0;
}
