/*
 * The CPU's float32 multiply-add peak: each thread runs 12 independent chains of 16-lane FMAs, enough
 * to keep every FMA unit busy whatever its latency. Built with -march=native, so the vectors are the
 * widest the machine has. Prints GFLOP/s (2 per FMA per lane) over all threads.
 *   cc -O2 -march=native -pthread fma-peak.c -o fma-peak && ./fma-peak <threads>
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef float v16 __attribute__((vector_size(64)));
enum { CHAINS = 12, LANES = 16 };
static const long ROUNDS = 200000000L;

static void *run(void *out) {
  v16 acc[CHAINS], mul, add;
  for (int l = 0; l < LANES; l++) mul[l] = 1.0000001f, add[l] = 1e-7f;
  for (int i = 0; i < CHAINS; i++)
    for (int l = 0; l < LANES; l++) acc[i][l] = (float)i;
  for (long k = 0; k < ROUNDS; k++) {
#pragma GCC unroll 12 /* the chains stay in registers */
    for (int i = 0; i < CHAINS; i++) acc[i] = acc[i] * mul + add;
  }
  float sum = 0; /* used, so the loop is not optimised away */
  for (int i = 0; i < CHAINS; i++)
    for (int l = 0; l < LANES; l++) sum += acc[i][l];
  *(float *)out = sum;
  return NULL;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  pthread_t t[64];
  float sums[64];
  if (threads < 1 || threads > 64) return 2;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, run, &sums[i]);
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double seconds = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) * 1e-9;
  printf("%.1f %g\n", 2.0 * LANES * CHAINS * ROUNDS * threads / seconds / 1e9, sums[0]);
  return 0;
}
