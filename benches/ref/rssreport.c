/* rssreport: a tiny LD_PRELOAD used by `scripts/bench` to learn the peak RSS of each process
 * of a run separately (the launcher's own, and the profiled child's). When BENCH_RSS_DIR is
 * set, every process that loads it writes "<peak RSS KiB> <pid> <executable>" to
 * $BENCH_RSS_DIR/<pid> at exit. It hooks nothing and never calls malloc.
 *
 * The peak is VmHWM from /proc/self/status: the high-water mark of this program's own
 * address space. getrusage's ru_maxrss (and wait4's) would not do: the kernel carries the
 * pre-exec high-water over exec, so every child of a 17 MiB Python harness (fork/vfork)
 * would report at least 17 MiB. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char out_dir[512];

__attribute__((constructor)) static void rss_init(void) {
    const char *d = getenv("BENCH_RSS_DIR");
    if (d && strlen(d) < sizeof out_dir) strcpy(out_dir, d);
}

static char *put_num(char *p, long v) {
    char tmp[24];
    int n = 0;
    if (v < 0) v = 0;
    do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n) *p++ = tmp[--n];
    return p;
}

/* VmHWM in KiB, or -1. */
static long vm_hwm_kib(void) {
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *p = strstr(buf, "VmHWM:");
    if (!p) return -1;
    p += 6;
    while (*p == ' ' || *p == '\t') p++;
    long v = 0;
    while (*p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
    return v;
}

__attribute__((destructor)) static void rss_report(void) {
    if (!out_dir[0]) return;
    long kib = vm_hwm_kib();
    if (kib < 0) return;
    char path[600], line[700], exe[512];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    char *p = path;
    size_t dl = strlen(out_dir);
    memcpy(p, out_dir, dl); p += dl;
    *p++ = '/';
    p = put_num(p, (long)getpid());
    *p = 0;
    p = line;
    p = put_num(p, kib);
    *p++ = ' ';
    p = put_num(p, (long)getpid());
    *p++ = ' ';
    size_t el = strlen(exe);
    memcpy(p, exe, el); p += el;
    *p++ = '\n';
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    ssize_t w = write(fd, line, (size_t)(p - line));
    (void)w;
    close(fd);
}
