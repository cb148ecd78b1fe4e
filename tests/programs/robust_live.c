/* Holds N live 24-byte allocations at once (under glibc the size where benchmem's 8-byte
 * record costs most: every chunk grows from 32 to 48 bytes) (region "held"), then frees them
 * all, and writes to the file given "<its peak RSS (VmHWM, kB) while holding them>
 * <allocations benchmem_region_end reported in-process (0 when not profiled)>". */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "benchmem.h"

static long hwm_kb(void) {
    char buf[8192];
    int fd = open("/proc/self/status", O_RDONLY);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *p = strstr(buf, "VmHWM:");
    return p ? atol(p + 6) : -1;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    long n = atol(argv[1]);
    void **v = malloc(n * sizeof *v);
    int id = benchmem_region_begin("held");
    for (long i = 0; i < n; i++) v[i] = malloc(24);
    long hwm = hwm_kb();
    for (long i = 0; i < n; i++) free(v[i]);
    benchmem_stats s;
    benchmem_region_end(id, &s);
    free(v);
    char line[64];
    int k = snprintf(line, sizeof line, "%ld %llu\n", hwm, (unsigned long long)s.allocations);
    int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (write(fd, line, k) != k) return 3;
    close(fd);
    printf("ok %ld\n", n);
    return 0;
}
