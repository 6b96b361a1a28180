// OpenCV shim: the only C++ in nala. Every entry point is extern "C", wraps its body in
// NALA_SHIM_TRY/NALA_SHIM_CATCH so no exception unwinds into C, and names the file at fault.
//
// Images are read from a memory copy of the file with cv::imdecode (not cv::imread) so that
// (1) open/read failures carry errno, (2) the pixel limit is checked from the PNG/JPEG header
// before any decoding, and (3) a truncated JPEG is refused (libjpeg only warns and pads grey).
#include "nala/image_io.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#define NALA_SHIM_TRY try {
#define NALA_SHIM_CATCH(err_, action_, name_)                                                                   \
  }                                                                                                        \
  catch (const cv::Exception &e) {                                                                         \
    return nala_fail(err_, NALA_E_BACKEND, "%s: %s: OpenCV error: %s", name_, action_, e.what());               \
  }                                                                                                        \
  catch (const std::bad_alloc &) {                                                                         \
    return nala_fail(err_, NALA_E_NOMEM, "%s: %s: out of memory", name_, action_);                              \
  }                                                                                                        \
  catch (const std::exception &e) {                                                                        \
    return nala_fail(err_, NALA_E_BACKEND, "%s: %s: %s", name_, action_, e.what());                             \
  }                                                                                                        \
  catch (...) {                                                                                            \
    return nala_fail(err_, NALA_E_BACKEND, "%s: %s: unknown C++ exception", name_, action_);                    \
  }

namespace {

// Reads a whole file; distinguishes missing/unreadable (E_IO) from empty (E_FORMAT).
nala_status read_file_bytes(const char *path, std::vector<uchar> &bytes, nala_err *err) {
  FILE *f = std::fopen(path, "rb");
  if (!f)
    return nala_fail(err, NALA_E_IO, "%s: cannot open: %s", path, std::strerror(errno));
  struct stat info;
  if (fstat(fileno(f), &info) == 0 && !S_ISREG(info.st_mode)) {
    std::fclose(f);
    return nala_fail(err, NALA_E_IO, "%s: not a regular file (a directory?)", path);
  }
  uchar chunk[1 << 16];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof chunk, f)) > 0)
    bytes.insert(bytes.end(), chunk, chunk + got);
  int failed = std::ferror(f);
  std::fclose(f);
  if (failed)
    return nala_fail(err, NALA_E_IO, "%s: read error", path);
  if (bytes.empty())
    return nala_fail(err, NALA_E_FORMAT, "%s: empty file (0 bytes), not an image", path);
  return NALA_OK;
}

uint32_t be32(const uchar *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
uint32_t be16(const uchar *p) { return (uint32_t)p[0] << 8 | p[1]; }

bool is_png(const std::vector<uchar> &b) {
  static const uchar sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  return b.size() >= 8 && std::memcmp(b.data(), sig, 8) == 0;
}
bool is_jpeg(const std::vector<uchar> &b) { return b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF; }

// Width/height from the PNG IHDR or the first JPEG SOFn marker; false when not found (other
// formats, or a header too damaged to tell; the decoder then reports the damage).
bool header_size(const std::vector<uchar> &b, uint32_t *w, uint32_t *h) {
  if (is_png(b)) {
    if (b.size() < 24 || std::memcmp(b.data() + 12, "IHDR", 4) != 0)
      return false;
    *w = be32(b.data() + 16);
    *h = be32(b.data() + 20);
    return true;
  }
  if (!is_jpeg(b))
    return false;
  size_t i = 2;
  while (i + 9 < b.size()) {
    if (b[i] != 0xFF)
      return false;
    uchar marker = b[i + 1];
    if (marker == 0xFF) { // fill byte
      i++;
      continue;
    }
    bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) {
      *h = be16(b.data() + i + 5);
      *w = be16(b.data() + i + 7);
      return true;
    }
    if (marker == 0xDA || marker == 0xD9)
      return false;
    i += 2 + be16(b.data() + i + 2);
  }
  return false;
}

// A complete JPEG ends its last scan with EOI (FF D9). Entropy-coded data cannot contain FF D9 or
// FF DA (0xFF is byte-stuffed), so the last EOI must come after the last SOS; an EXIF thumbnail's
// EOI sits before the main image's SOS and does not count.
bool jpeg_complete(const std::vector<uchar> &b) {
  size_t last_sos = 0, last_eoi = 0;
  for (size_t i = 0; i + 1 < b.size(); i++)
    if (b[i] == 0xFF) {
      if (b[i + 1] == 0xDA)
        last_sos = i;
      else if (b[i + 1] == 0xD9)
        last_eoi = i;
    }
  return last_sos > 0 && last_eoi > last_sos;
}

nala_status check_pixels(const char *path, uint64_t w, uint64_t h, size_t max_pixels, const char *when,
                         nala_err *err) {
  if (w == 0 || h == 0)
    return nala_fail(err, NALA_E_FORMAT, "%s: zero-sized image (%llux%llu, WxH)", path, (unsigned long long)w,
                     (unsigned long long)h);
  if (max_pixels && w * h > max_pixels)
    return nala_fail(err, NALA_E_ARG, "%s: %llux%llu (WxH) = %llu pixels exceeds the limit of %zu (%s)", path,
                     (unsigned long long)w, (unsigned long long)h, (unsigned long long)(w * h), max_pixels,
                     when);
  return NALA_OK;
}

// Moves a decoded Mat into an owned nala_image (one copy into malloc'd memory that nala_image_free
// releases with free(); the Mat's buffer is reference-counted by OpenCV and cannot be adopted).
nala_status mat_to_image(const cv::Mat &m, nala_channel_order order, nala_image *out, nala_err *err) {
  nala_status st = nala_image_alloc(m.rows, m.cols, m.channels(), order, out, err);
  if (st != NALA_OK)
    return st;
  size_t row_bytes = (size_t)m.cols * m.channels();
  for (int r = 0; r < m.rows; r++)
    std::memcpy(out->data + (size_t)r * out->stride, m.ptr(r), row_bytes);
  return NALA_OK;
}

// Borrowed Mat header over a nala_image (no copy).
cv::Mat wrap(const nala_image *img) {
  return cv::Mat(img->h, img->w, CV_8UC(img->c), (void *)img->data, img->stride);
}

nala_status check_image(const nala_image *img, const char *what, nala_err *err) {
  if (!img || !img->data)
    return nala_fail(err, NALA_E_ARG, "%s: image is NULL or has no pixels", what);
  if (img->h <= 0 || img->w <= 0 || (img->c != 1 && img->c != 3))
    return nala_fail(err, NALA_E_ARG, "%s: bad image shape h=%d w=%d c=%d (need h,w > 0, c = 1 or 3)", what,
                     img->h, img->w, img->c);
  if (img->stride < (size_t)img->w * img->c)
    return nala_fail(err, NALA_E_ARG, "%s: stride %zu < w*c = %zu", what, img->stride, (size_t)img->w * img->c);
  return NALA_OK;
}

nala_status decode(const char *path, int flags, size_t max_pixels, cv::Mat &m, nala_err *err) {
  std::vector<uchar> bytes;
  nala_status st = read_file_bytes(path, bytes, err);
  if (st != NALA_OK)
    return st;
  uint32_t w = 0, h = 0;
  if (header_size(bytes, &w, &h)) {
    st = check_pixels(path, w, h, max_pixels, "from the header, before decoding", err);
    if (st != NALA_OK)
      return st;
  }
  if (is_jpeg(bytes) && !jpeg_complete(bytes))
    return nala_fail(err, NALA_E_FORMAT, "%s: truncated or corrupt JPEG (no end-of-image marker after the last scan)",
                     path);
  m = cv::imdecode(bytes, flags);
  if (m.empty())
    return nala_fail(err, NALA_E_FORMAT, "%s: cannot decode image (%zu bytes): corrupt, truncated or unknown format",
                     path, bytes.size());
  // Formats without a header parser above (BMP, TIFF...) are only checked after decoding.
  return check_pixels(path, (uint64_t)m.cols, (uint64_t)m.rows, max_pixels, "after decoding", err);
}

// Writes bytes to path atomically: a temp file in the same directory, then rename.
nala_status write_atomic(const char *path, const std::vector<uchar> &bytes, nala_err *err) {
  std::string tmpl = std::string(path) + ".tmp.XXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  int fd = mkstemp(name.data());
  if (fd < 0)
    return nala_fail(err, NALA_E_IO, "%s: cannot create temp file: %s", path, std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      int e = errno;
      ::close(fd);
      ::unlink(name.data());
      return nala_fail(err, NALA_E_IO, "%s: write failed: %s", path, std::strerror(e));
    }
    done += (size_t)n;
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int e = errno;
    ::unlink(name.data());
    return nala_fail(err, NALA_E_IO, "%s: cannot flush: %s", path, std::strerror(e));
  }
  if (std::rename(name.data(), path) != 0) {
    int e = errno;
    ::unlink(name.data());
    return nala_fail(err, NALA_E_IO, "%s: cannot rename temp file into place: %s", path, std::strerror(e));
  }
  return NALA_OK;
}

// Lower-case extension including the dot (".png"), or "" when there is none.
std::string extension_of(const char *path) {
  const char *dot = std::strrchr(path, '.');
  const char *slash = std::strrchr(path, '/');
  if (!dot || (slash && dot < slash))
    return "";
  std::string ext(dot);
  for (char &ch : ext)
    ch = (char)std::tolower((unsigned char)ch);
  return ext;
}

} // namespace

extern "C" {

nala_status nala_image_alloc(int h, int w, int c, nala_channel_order order, nala_image *out, nala_err *err) {
  if (!out)
    return nala_fail(err, NALA_E_ARG, "nala_image_alloc: out is NULL");
  std::memset(out, 0, sizeof *out);
  if (h <= 0 || w <= 0 || (c != 1 && c != 3))
    return nala_fail(err, NALA_E_ARG, "nala_image_alloc: bad shape h=%d w=%d c=%d", h, w, c);
  size_t stride = (size_t)w * c;
  uint8_t *data = (uint8_t *)std::malloc(stride * (size_t)h);
  if (!data)
    return nala_fail(err, NALA_E_NOMEM, "nala_image_alloc: cannot allocate %dx%dx%d bytes", h, w, c);
  out->h = h;
  out->w = w;
  out->c = c;
  out->stride = stride;
  out->data = data;
  out->order = c == 1 ? NALA_GRAY : order;
  return NALA_OK;
}

void nala_image_free(nala_image *img) {
  if (!img)
    return;
  std::free(img->data);
  std::memset(img, 0, sizeof *img);
}

nala_status nala_image_read(const char *path, nala_channel_order order, size_t max_pixels, nala_image *out,
                            nala_err *err) {
  if (out)
    std::memset(out, 0, sizeof *out);
  if (!path || !out)
    return nala_fail(err, NALA_E_ARG, "nala_image_read: path or out is NULL");
  if (order != NALA_BGR && order != NALA_RGB)
    return nala_fail(err, NALA_E_ARG, "%s: nala_image_read: order must be NALA_BGR or NALA_RGB", path);
  NALA_SHIM_TRY
  cv::Mat m;
  // mmcv's 'color' flag: always 3 channels, EXIF orientation not applied.
  nala_status st = decode(path, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION, max_pixels, m, err);
  if (st != NALA_OK)
    return st;
  if (order == NALA_RGB)
    cv::cvtColor(m, m, cv::COLOR_BGR2RGB);
  return mat_to_image(m, order, out, err);
  NALA_SHIM_CATCH(err, "reading image", path)
}

nala_status nala_image_read_labels(const char *path, nala_image *out, nala_err *err) {
  if (out)
    std::memset(out, 0, sizeof *out);
  if (!path || !out)
    return nala_fail(err, NALA_E_ARG, "nala_image_read_labels: path or out is NULL");
  NALA_SHIM_TRY
  cv::Mat m;
  nala_status st = decode(path, cv::IMREAD_UNCHANGED, 0, m, err);
  if (st != NALA_OK)
    return st;
  if (m.type() != CV_8UC1)
    return nala_fail(err, NALA_E_FORMAT,
                     "%s: label map must be single-channel 8-bit, got %d channel(s) of %d-bit depth "
                     "(palette PNGs decode to 3 channels in OpenCV)",
                     path, m.channels(), m.depth() <= CV_8S ? 8 : m.depth() <= CV_16S ? 16 : 32);
  return mat_to_image(m, NALA_GRAY, out, err);
  NALA_SHIM_CATCH(err, "reading label map", path)
}

nala_status nala_image_write(const char *path, const nala_image *img, nala_err *err) {
  if (!path)
    return nala_fail(err, NALA_E_ARG, "nala_image_write: path is NULL");
  nala_status st = check_image(img, path, err);
  if (st != NALA_OK)
    return st;
  std::string ext = extension_of(path);
  if (ext != ".png" && ext != ".jpg" && ext != ".jpeg")
    return nala_fail(err, NALA_E_ARG, "%s: unsupported extension '%s' (use .png, .jpg or .jpeg)", path, ext.c_str());
  NALA_SHIM_TRY
  cv::Mat m = wrap(img);
  cv::Mat bgr;
  if (img->c == 3 && img->order == NALA_RGB) {
    cv::cvtColor(m, bgr, cv::COLOR_RGB2BGR);
    m = bgr;
  }
  std::vector<uchar> bytes;
  if (!cv::imencode(ext, m, bytes) || bytes.empty())
    return nala_fail(err, NALA_E_BACKEND, "%s: OpenCV could not encode %dx%dx%d as %s", path, img->h, img->w,
                     img->c, ext.c_str());
  return write_atomic(path, bytes, err);
  NALA_SHIM_CATCH(err, "writing image", path)
}

} // extern "C"
