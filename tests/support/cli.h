/* Running the built `nala` tool from a test, with its output captured. */
#ifndef NALA_TEST_CLI_H
#define NALA_TEST_CLI_H

/* Whole file as a NUL-terminated string (malloc'd), or NULL when it cannot be read. */
char *nala_read_text(const char *path);

/* Runs `nala <args>` (args go through the shell, quote paths) with stdout and stderr captured into
 * malloc'd strings (out/err may be NULL); returns the exit code, -1 when it did not exit. */
int nala_run_cli(const char *args, char **out, char **err);

#endif
