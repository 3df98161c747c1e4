/* Benchmark ballast for scripts/bench.sh: maps MAPPED MiB of private anonymous memory and
 * writes TOUCHED MiB of it (spread evenly, one page in every MAPPED/TOUCHED) with random-ish
 * non-zero data, plants a needle every 64 MiB, prints "ready PID", then sleeps until killed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NEEDLE "BALLAST-NEEDLE-7f3a9c"

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: ballast MAPPED_MIB TOUCHED_MIB\n"); return 2; }
    size_t mapped = strtoull(argv[1], NULL, 10) << 20, touched = strtoull(argv[2], NULL, 10) << 20;
    if (!mapped || !touched || touched > mapped) { fprintf(stderr, "bad sizes\n"); return 2; }
    char *p = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    size_t page = 4096, stride = (mapped / touched) * page; /* touch one page per stride */
    unsigned long x = 0x9E3779B97F4A7C15UL;
    size_t n = 0;
    for (size_t off = 0; off + page <= mapped && n < touched; off += stride, n += page) {
        for (size_t i = 0; i < page; i += 8) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            *(unsigned long *)(p + off + i) = x | 0x0101010101010101UL;
        }
        if (off % (64UL << 20) == 0) memcpy(p + off + 100, NEEDLE, sizeof NEEDLE - 1);
    }
    printf("ready %d\n", getpid());
    fflush(stdout);
    for (;;) pause();
}
