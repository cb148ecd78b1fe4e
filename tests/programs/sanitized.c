/* Built with -fsanitize=address or thread by tests/tests/sanitizer_children.rs and run by
 * a measured program. `sanitized N`: allocates, prints a line to stdout and one to
 * stderr, exits with N. `sanitized env`: prints what it was given of LD_PRELOAD and
 * BENCHMEM_DIR. `sanitized overflow`: writes past a heap block, which ASan reports on
 * stderr before it exits with status 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void show(const char *name) {
    const char *v = getenv(name);
    printf("%s=%s\n", name, v ? v : "(unset)");
}

int main(int argc, char **argv) {
    char *volatile p = malloc(10);
    if (argc > 1 && strcmp(argv[1], "env") == 0) {
        show("LD_PRELOAD");
        show("BENCHMEM_DIR");
    } else if (argc > 1 && strcmp(argv[1], "overflow") == 0) {
        printf("sanitized: before\n");
        fflush(stdout);
        p[argc + 12] = 1;
        printf("sanitized: after\n");
    } else {
        printf("sanitized: done\n");
        fprintf(stderr, "sanitized: own stderr\n");
    }
    free(p);
    return argc > 1 ? atoi(argv[1]) : 0;
}
