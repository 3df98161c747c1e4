/* Freeze sampler for scripts/bench.sh: `freeze-sampler PID` polls /proc/PID/stat every 1 ms and
 * adds up the time the process spends stopped (state `t`, traced, or `T`). It writes "r\n" to
 * fd 3 once it samples (the script waits for it), and on SIGTERM prints "TOTAL_MS MAX_MS": the
 * time seen stopped and the longest stretch. Every tool is measured the same way, from outside. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t done;
static void on_term(int s) { (void)s; done = 1; }
static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}
static int stopped(const char *path) {
    char buf[512];
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    return p && p[1] == ' ' && (p[2] == 't' || p[2] == 'T');
}
int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: freeze-sampler PID\n"); return 2; }
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/stat", argv[1]);
    signal(SIGTERM, on_term);
    double total = 0, run = 0, max = 0, prev = now_ms();
    int was = stopped(path);
    if (write(3, "r\n", 2) == 2) close(3);
    struct timespec tick = {0, 1000000};
    while (!done) {
        nanosleep(&tick, NULL);
        double t = now_ms();
        int is = stopped(path);
        /* Each interval counts as stopped when it began stopped (sampling error: one tick). */
        if (was) { total += t - prev; run += t - prev; if (run > max) max = run; }
        if (!is) run = 0;
        was = is; prev = t;
    }
    printf("%.0f %.0f\n", total, max);
    return 0;
}
