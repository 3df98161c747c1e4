/* Test victim for tests/dump.rs: two threads, a heap string, a PROT_NONE page between two
 * readable pages, a MADV_DONTDUMP page, an optional memfd_secret page, an optional big
 * sparse or dense mapping. Prints one "ready ..." line, then sleeps until killed. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static void *spin(void *arg) { (void)arg; for (;;) pause(); return NULL; }

int main(int argc, char **argv) {
    size_t big_mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 0;
    int dense = argc > 2 && strcmp(argv[2], "dense") == 0;
    char *heap = malloc(64);
    strcpy(heap, "heap-secret-CONFIDUMP-4242");
    long pg = sysconf(_SC_PAGESIZE);
    char *three = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    strcpy(three, "before-the-hole");
    strcpy(three + 2 * pg, "after-the-hole-AFTER");
    mprotect(three + pg, pg, PROT_NONE);
    char *dd = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    strcpy(dd, "dontdump-DDSECRET");
    madvise(dd, pg, MADV_DONTDUMP);
    char *secret = NULL;
    int sfd = syscall(447, 0);
    if (sfd >= 0 && ftruncate(sfd, pg) == 0) {
        secret = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
        if (secret == MAP_FAILED) secret = NULL; else strcpy(secret, "memfd-secret-SECRETMEM");
    }
    char *big = NULL;
    if (big_mib) {
        size_t len = big_mib << 20;
        big = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (dense) {
            unsigned long x = 88172645463325252UL;
            for (size_t i = 0; i < len; i += 8) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; *(unsigned long *)(big + i) = x | 1; }
        } else {
            for (size_t i = 0; i < 4; i++) sprintf(big + i * (len / 4) + 123, "sparse-%zu", i);
        }
    }
    pthread_t t;
    pthread_create(&t, NULL, spin, NULL);
    printf("ready heap=%p three=%p dd=%p secret=%p big=%p page=%ld\n", heap, three, dd,
           secret ? secret : (void *)0, big ? big : (void *)0, pg);
    fflush(stdout);
    for (;;) pause();
}
