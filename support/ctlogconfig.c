/* ctlogconfig.c: command line tool for the CT log configuration database.
 * Placeholder until the CT issue lands. */
#include <stdio.h>

int main(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "usage: %s DB COMMAND [ARGS...]\n", argv[0]);
    return 1;
}
