/* Exits with the status given, or kills itself with the signal given (argv[2]). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "benchmem.h"
int main(int argc, char **argv) {
    int id = benchmem_region_begin("doomed");
    void *p = malloc(4096);
    (void)p;
    (void)id;
    if (argc > 2 && strcmp(argv[1], "signal") == 0) raise(atoi(argv[2]));
    return argc > 1 ? atoi(argv[1]) : 0;
}
