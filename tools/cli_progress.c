/* Progress bar / progress lines (tools/cli_progress.h). */
#include "tools/cli_progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "tools/cli_timing.h"

void cli_progress_start(cli_progress *p, const char *cmd, const char *unit, long total, int enabled) {
  p->cmd = cmd;
  p->unit = unit;
  p->total = total > 0 ? total : 0;
  p->done = 0;
  p->enabled = enabled;
  p->tty = enabled && isatty(STDERR_FILENO);
  p->drawn = 0;
  p->last_decile = 0;
  p->start_ms = p->last_ms = cli_now_ms();
}

double cli_progress_elapsed_s(const cli_progress *p) { return (cli_now_ms() - p->start_ms) / 1e3; }

static void format_duration(double s, char *out, size_t cap) {
  long t = (long)(s + 0.5);
  if (t >= 3600)
    snprintf(out, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else if (t >= 60)
    snprintf(out, cap, "%ldm%02lds", t / 60, t % 60);
  else
    snprintf(out, cap, "%lds", t);
}

/* "12/100 frames, 8.3 frames/s, ETA 11s" (no total: "12 frames, 8.3 frames/s"). */
static void status_text(const cli_progress *p, double now, char *out, size_t cap) {
  double s = (now - p->start_ms) / 1e3, rate = s > 0 ? p->done / s : 0;
  char eta[32] = "";
  if (p->total && rate > 0 && p->done < p->total) {
    char d[24];
    format_duration((p->total - p->done) / rate, d, sizeof d);
    snprintf(eta, sizeof eta, ", ETA %s", d);
  }
  if (p->total)
    snprintf(out, cap, "%ld/%ld %s, %.1f %s/s%s", p->done, p->total, p->unit, rate, p->unit, eta);
  else
    snprintf(out, cap, "%ld %s, %.1f %s/s", p->done, p->unit, rate, p->unit);
}

void cli_progress_step(cli_progress *p, long done) {
  p->done = done;
  if (!p->enabled)
    return;
  double now = cli_now_ms();
  char text[160];
  if (p->tty) {
    if (now - p->last_ms < 100 && p->drawn && done != p->total)
      return;
    p->last_ms = now;
    status_text(p, now, text, sizeof text);
    const int width = 30;
    int filled = p->total ? (int)((double)done / (double)p->total * width) : 0;
    if (filled > width)
      filled = width;
    if (p->total)
      fprintf(stderr, "\r\033[K[%.*s%*s] %s", filled, "==============================", width - filled, "", text);
    else
      fprintf(stderr, "\r\033[K%s", text);
    fflush(stderr);
    p->drawn = 1;
    return;
  }
  int decile = p->total ? (int)(10 * done / p->total) : 0;
  if (p->total ? decile > p->last_decile || now - p->last_ms >= 10e3 : now - p->last_ms >= 10e3) {
    p->last_decile = decile;
    p->last_ms = now;
    status_text(p, now, text, sizeof text);
    fprintf(stderr, "%s: %s\n", p->cmd, text);
  }
}

void cli_progress_note(cli_progress *p, const char *fmt, ...) {
  if (p->drawn)
    fputs("\r\033[K", stderr);
  p->drawn = 0;
  fprintf(stderr, "%s: ", p->cmd);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

void cli_progress_end(cli_progress *p) {
  if (p->drawn) {
    fputs("\r\033[K", stderr);
    fflush(stderr);
  }
  p->drawn = 0;
}
