#include "tests/support/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

char *nala_read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  char *text = NULL;
  long n = -1;
  if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
      (text = malloc((size_t)n + 1)) != NULL) {
    size_t got = fread(text, 1, (size_t)n, f);
    text[got] = '\0';
  }
  fclose(f);
  return text;
}

int nala_run_cli(const char *args, char **out, char **err) {
  char dir[] = "/tmp/nala_cli_XXXXXX";
  if (!mkdtemp(dir))
    return -1;
  char out_path[64], err_path[64], cmd[8192];
  snprintf(out_path, sizeof out_path, "%s/out", dir);
  snprintf(err_path, sizeof err_path, "%s/err", dir);
  snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>'%s'", NALA_CLI, args, out_path, err_path);
  int status = system(cmd);
  if (out)
    *out = nala_read_text(out_path);
  if (err)
    *err = nala_read_text(err_path);
  unlink(out_path);
  unlink(err_path);
  rmdir(dir);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
