/* Regions and a process whose names try to take over whoever reads benchmem's output:
 * terminal escape sequences and a bell, a newline followed by a GitHub Actions workflow
 * command, a bidi override, a spreadsheet formula, Markdown link and table syntax, a C1
 * control. The child process is this program again, exec'd under a hostile argv[0] (its
 * process row is named after it). */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <string.h>
#include "common.h"

static const char *const names[] = {
    "\x1b[31mred\x1b[0m\x1b]0;title\x07",
    "ok\n::error::pwned",
    "\xe2\x80\xae" "gnp.exe",            /* U+202E RIGHT-TO-LEFT OVERRIDE */
    "=cmd|' /C calc'!A0",
    "[x](http://e)|y",
    "c1\xc2\x9b" "31m\ttab\rcr",         /* U+009B CSI */
};

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "child") == 0) {
        sink = malloc(100);
        free(sink);
        return 0;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) work(names[i], 1000 * (i + 1));
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char *const args[] = {"\x1b[2Jproc\n::error::argv0", "child", NULL};
        execv("/proc/self/exe", args);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    printf("done %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}
