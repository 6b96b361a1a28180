/* libFuzzer harness: config files with _base_ includes and --cfg-options (nala_config_parse, the
 * loader of nala_config_load_with, over an in-memory resolver).
 * Input: sections separated by a line "@@": the first is configs/top.json, the next up to four are
 * configs/b1.json .. configs/b4.json (what "_base_": "b1.json" finds), and a section starting with
 * "opts\n" holds one --cfg-options assignment per line. Oracles: an accepted config has a valid
 * backbone, prints, and its printed form loads again (no resolver) and prints the same; every
 * refusal carries a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nala/config.h"
#include "tests/fuzz/fuzz_check.h"

#define MAX_FILES 4
#define MAX_OPTS 8

typedef struct fuzz_fs {
  const char *text[MAX_FILES];
  size_t len[MAX_FILES];
  int n;
} fuzz_fs;

static nala_status fs_read(void *user, const char *name, char **text, size_t *len, char **id, nala_err *err) {
  const fuzz_fs *fs = user;
  for (int i = 0; i < fs->n; i++) {
    char want[32];
    snprintf(want, sizeof want, "configs/b%d.json", i + 1);
    if (strcmp(name, want))
      continue;
    *text = malloc(fs->len[i] + 1);
    *id = strdup(name);
    if (!*text || !*id) {
      free(*text);
      free(*id);
      return nala_fail(err, NALA_E_NOMEM, "out of memory");
    }
    memcpy(*text, fs->text[i], fs->len[i]);
    (*text)[fs->len[i]] = '\0';
    *len = fs->len[i];
    return NALA_OK;
  }
  return nala_fail(err, NALA_E_IO, "cannot open: no such file");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *p = (const char *)data, *end = p + size;
  const char *sec[1 + MAX_FILES + 1];
  size_t sec_len[1 + MAX_FILES + 1];
  int n_sec = 0;
  while (n_sec < (int)(sizeof sec / sizeof sec[0])) {
    const char *cut = NULL;
    for (const char *q = p; q + 4 <= end; q++)
      if (q[0] == '\n' && q[1] == '@' && q[2] == '@' && q[3] == '\n') {
        cut = q;
        break;
      }
    sec[n_sec] = p;
    sec_len[n_sec++] = (size_t)((cut ? cut : end) - p);
    if (!cut)
      break;
    p = cut + 4;
  }
  fuzz_fs fs = {.n = 0};
  char *opt_copy = NULL;
  const char *opts[MAX_OPTS];
  int n_opts = 0;
  for (int i = 1; i < n_sec; i++) {
    if (sec_len[i] >= 5 && !memcmp(sec[i], "opts\n", 5) && !opt_copy) {
      opt_copy = malloc(sec_len[i] - 4);
      if (!opt_copy)
        return 0;
      memcpy(opt_copy, sec[i] + 5, sec_len[i] - 5);
      opt_copy[sec_len[i] - 5] = '\0';
      for (char *line = opt_copy; line && n_opts < MAX_OPTS;) {
        char *nl = strchr(line, '\n');
        if (nl)
          *nl = '\0';
        if (*line)
          opts[n_opts++] = line;
        line = nl ? nl + 1 : NULL;
      }
    } else if (fs.n < MAX_FILES) {
      fs.text[fs.n] = sec[i];
      fs.len[fs.n++] = sec_len[i];
    }
  }
  nala_config_resolver resolver = {fs_read, &fs};
  nala_config *cfg = NULL;
  nala_err err;
  nala_err_clear(&err);
  nala_status st = nala_config_parse("configs/top.json", sec[0], sec_len[0], &resolver, opts, n_opts, &cfg, &err);
  if (st != NALA_OK) {
    FUZZ_ASSERT(cfg == NULL && err.msg[0], "status %d without a message", st);
    free(opt_copy);
    return 0;
  }
  const nala_model_cfg *model = nala_config_model(cfg);
  if (model && model->backbone.variant[0])
    FUZZ_ASSERT(nala_backbone_cfg_validate(&model->backbone, &err) == NALA_OK, "accepted backbone: %s", err.msg);
  char *printed = nala_config_to_json(cfg);
  if (printed) {
    nala_config *again = NULL;
    st = nala_config_parse("printed.json", printed, strlen(printed), NULL, NULL, 0, &again, &err);
    FUZZ_ASSERT(st == NALA_OK, "printed config does not load: %s\n%s", err.msg, printed);
    char *reprinted = nala_config_to_json(again);
    FUZZ_ASSERT(!reprinted || !strcmp(printed, reprinted), "print differs after a reload:\n%s\n----\n%s", printed,
                reprinted);
    free(reprinted);
    nala_config_free(again);
    free(printed);
  }
  nala_config_free(cfg);
  free(opt_copy);
  return 0;
}
