#include "core/file_mode.h"

#include <stdio.h>
#include <sys/stat.h>

/* The umask is read from /proc (Linux >= 4.7) because umask() can only be queried by setting it,
 * a process-wide race with other threads creating files; 022 when /proc is not there. */
void nala_file_mode_default(int fd) {
  mode_t mask = 022;
  FILE *status = fopen("/proc/self/status", "r");
  if (status) {
    char line[128];
    unsigned int value;
    while (fgets(line, sizeof line, status))
      if (sscanf(line, "Umask: %o", &value) == 1) {
        mask = (mode_t)value;
        break;
      }
    fclose(status);
  }
  (void)fchmod(fd, 0666 & ~mask);
}
