/* Allocates 4096 bytes, then is killed: its stack stream never closes. */
#include <signal.h>

#include "common.h"

int main(void) {
    sink = malloc(4096);
    raise(SIGKILL);
    return 0;
}
