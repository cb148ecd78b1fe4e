/* Built as sanitizer and 32-bit variants by tests/tests/builds.rs. Region "known" is one
 * malloc(1000) and its free; a line goes to stdout and one to stderr; exits with argv[1].
 * With a second argument it overflows a signed int, which UBSan reports on stderr. */
#include <limits.h>
#include <stdio.h>
#include "common.h"
int main(int argc, char **argv) {
    work("known", 1000);
    if (argc > 2) {
        volatile int big = INT_MAX;
        big = big + argc;
    }
    printf("known_exit: done\n");
    fprintf(stderr, "known_exit: own stderr\n");
    return argc > 1 ? atoi(argv[1]) : 0;
}
