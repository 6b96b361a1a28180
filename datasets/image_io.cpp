// OpenCV shim: the only C++ in nala and the only file that includes OpenCV (images, video, text on
// images). It is built as its own shared library, libnala_cv.so, which the C side loads with dlopen on
// the first image/video call (datasets/cv_load.c, datasets/image_io.c): nothing else links OpenCV, so a
// program that only runs models never maps it or the ~240 libraries Debian's OpenCV pulls in. The one
// exported symbol is nala_cv_api_v1 (the table of datasets/cv_api.h). Every entry point wraps its body
// in NALA_SHIM_TRY/NALA_SHIM_CATCH so no exception unwinds into C, and names the file at fault.
//
// Images are read from a memory copy of the file with cv::imdecode (not cv::imread) so that
// (1) open/read failures carry errno, (2) the format is known and the pixel limit checked from the
// header before any codec runs (datasets/image_check.c), and (3) a truncated JPEG is refused (libjpeg
// only warns and pads grey). Label maps do not come through OpenCV: see datasets/label_png.c.
#include "datasets/cv_api.h"
#include "nala/image_io.h"
#include "nala/image_draw.h"
#include "core/file_mode.h"
#include "core/file_read.h"
#include "datasets/image_sniff.h"
#include "nala/atomic_write.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <cctype>
#include <cmath>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define NALA_SHIM_TRY try {
// Closes a NALA_SHIM_TRY block: runs cleanup_, then returns a status naming name_ and the action.
#define NALA_SHIM_CATCH_CLEANUP(err_, action_, name_, cleanup_)                                   \
  }                                                                                               \
  catch (const cv::Exception &e) {                                                                \
    cleanup_;                                                                                     \
    return nala_fail(err_, NALA_E_BACKEND, "%s: %s: OpenCV error: %s", name_, action_, e.what()); \
  }                                                                                               \
  catch (const std::bad_alloc &) {                                                                \
    cleanup_;                                                                                     \
    return nala_fail(err_, NALA_E_NOMEM, "%s: %s: out of memory", name_, action_);                \
  }                                                                                               \
  catch (const std::exception &e) {                                                               \
    cleanup_;                                                                                     \
    return nala_fail(err_, NALA_E_BACKEND, "%s: %s: %s", name_, action_, e.what());               \
  }                                                                                               \
  catch (...) {                                                                                   \
    cleanup_;                                                                                     \
    return nala_fail(err_, NALA_E_BACKEND, "%s: %s: unknown C++ exception", name_, action_);      \
  }
#define NALA_SHIM_CATCH(err_, action_, name_) NALA_SHIM_CATCH_CLEANUP(err_, action_, name_, (void)0)

namespace {

// The file's bytes (core/file_read.c, memory-mapped), released when it goes out of scope.
struct file_bytes {
  nala_file_bytes f{};
  file_bytes() = default;
  file_bytes(const file_bytes &) = delete;
  file_bytes &operator=(const file_bytes &) = delete;
  ~file_bytes() { nala_file_bytes_release(&f); }
  const uchar *data() const { return (const uchar *)f.data; }
  size_t size() const { return f.len; }
};

// Reads a whole file; distinguishes missing/unreadable (E_IO) from empty (E_FORMAT).
nala_status read_file_bytes(const char *path, file_bytes &bytes, nala_err *err) {
  // cv::Mat sizes are int: no image file comes near 2 GB.
  NALA_CHECK(nala_file_read(path, INT32_MAX, &bytes.f, err));
  if (bytes.size() == 0)
    return nala_fail(err, NALA_E_FORMAT, "%s: empty file (0 bytes), not an image", path);
  return NALA_OK;
}

// The argument checks nala_image_read_exif makes before opening the file and nala_image_decode makes too.
nala_status check_read_args(const char *name, nala_channel_order order, nala_exif_mode exif, nala_err *err) {
  if (order != NALA_BGR && order != NALA_RGB)
    return nala_fail(err, NALA_E_ARG, "%s: nala_image_read: order must be NALA_BGR or NALA_RGB", name);
  if (exif != NALA_EXIF_IGNORE && exif != NALA_EXIF_APPLY)
    return nala_fail(err, NALA_E_ARG, "%s: unknown EXIF mode %d", name, (int)exif);
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

// BGR <-> RGB of a 3-channel image, src and dst may be the same. Plain C rather than cv::cvtColor,
// which clones its input when called in place (a heap buffer per frame).
void swap_red_blue(const nala_image *src, nala_image *dst) {
  for (int y = 0; y < src->h; y++) {
    const uint8_t *in = src->data + (size_t)y * src->stride;
    uint8_t *out = dst->data + (size_t)y * dst->stride;
    for (int x = 0; x < src->w; x++) {
      uint8_t b = in[3 * x], g = in[3 * x + 1], r = in[3 * x + 2];
      out[3 * x] = r, out[3 * x + 1] = g, out[3 * x + 2] = b;
    }
  }
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

// Gives cv::imdecode's output Mat the nala_image's buffer (once, when the size matches), so pixels land
// in the caller's image without a copy: copying a decoded cv::Mat costs a second buffer whose page faults
// alone took longer than decoding a 640x480 JPEG here. Unlike decoding into a ready-made Mat header, a
// codec that fails in readHeader (a PNG with a bad IHDR CRC, a BMP with a bad bit count) leaves the Mat
// empty instead of handing back the uninitialised buffer as if decoded. Later allocations (EXIF
// rotation) go to OpenCV's own allocator.
class into_buffer final : public cv::MatAllocator {
public:
  into_buffer(uchar *buffer, size_t bytes) : buffer_(buffer), bytes_(bytes) {}
  cv::UMatData *allocate(int dims, const int *sizes, int type, void *data0, size_t *step, cv::AccessFlag access,
                         cv::UMatUsageFlags usage) const override {
    size_t total = CV_ELEM_SIZE(type);
    for (int i = 0; i < dims; i++)
      total *= (size_t)sizes[i];
    if (data0 || used_ || total != bytes_ || !step)
      return cv::Mat::getStdAllocator()->allocate(dims, sizes, type, data0, step, access, usage);
    for (int i = dims - 1, inner = CV_ELEM_SIZE(type); i >= 0; i--)
      step[i] = (size_t)inner, inner *= sizes[i];
    used_ = true;
    cv::UMatData *u = new cv::UMatData(this);
    u->data = u->origdata = buffer_;
    u->size = total;
    u->flags |= cv::UMatData::USER_ALLOCATED; // the nala_image owns it
    return u;
  }
  bool allocate(cv::UMatData *u, cv::AccessFlag, cv::UMatUsageFlags) const override { return u != nullptr; }
  void deallocate(cv::UMatData *u) const override { delete u; }

private:
  uchar *buffer_;
  size_t bytes_;
  mutable bool used_ = false;
};

// Decodes a whole file held in memory into 3 channels. The bytes pass nala_sniff_check first: only the
// formats named there reach OpenCV, and the header's size is known. Pixels go straight into *out; when
// OpenCV produces another buffer (EXIF rotation) *out is freed and m holds the result.
nala_status decode(const uchar *data, size_t n, const char *name, int flags, size_t max_pixels, nala_image *out,
                   cv::Mat &m, nala_err *err) {
  nala_sniff_info info;
  NALA_CHECK(nala_sniff_check(data, n, name, max_pixels, &info, err));
  if (n > INT32_MAX || info.w > INT32_MAX || info.h > INT32_MAX)
    return nala_fail(err, NALA_E_FORMAT, "%s: %zu bytes, %ux%u (WxH) pixels: too large for OpenCV's decoder", name, n,
                     info.w, info.h);
  nala_status alloc_st = nala_image_alloc((int)info.h, (int)info.w, 3, NALA_BGR, out, err);
  if (alloc_st != NALA_OK) {
    if (err)
      nala_err_prefix(err, "%s: ", name);
    return alloc_st;
  }
  cv::Mat bytes(1, (int)n, CV_8U, (void *)data); // a header over the caller's bytes, no copy
  into_buffer allocator(out->data, out->stride * (size_t)out->h);
  try {
    m.allocator = &allocator;
    cv::imdecode(bytes, flags, &m);
    bool in_place = !m.empty() && m.data == out->data;
    if (in_place)
      m.release(); // while the allocator lives; the pixels stay in *out
    m.allocator = nullptr;
    if (in_place)
      return NALA_OK;
  } catch (...) {
    m.release();
    m.allocator = nullptr;
    nala_image_free(out);
    throw;
  }
  nala_image_free(out); // OpenCV produced another size or type: keep its Mat
  if (m.empty())
    return nala_fail(err, NALA_E_FORMAT, "%s: cannot decode %s image (%zu bytes): corrupt or truncated", name,
                     info.name, n);
  // IMREAD_COLOR promises 8-bit BGR; a decoder that ignores the flag (OpenCV's PFM reader gave 1 channel)
  // must not hand a caller fewer channels than the API promises.
  if (m.type() != CV_8UC3)
    return nala_fail(err, NALA_E_FORMAT, "%s: the %s decoder returned %d channel(s) of OpenCV depth %d instead of "
                     "8-bit BGR", name, info.name, m.channels(), m.depth());
  // The pixel limit was applied to the header's size: the decoder must have produced that size (turned
  // by the EXIF orientation at most), or the header walk and the codec disagree about the file.
  uint32_t cols = (uint32_t)m.cols, rows = (uint32_t)m.rows;
  bool turned = !(flags & cv::IMREAD_IGNORE_ORIENTATION) && cols == info.h && rows == info.w;
  if (!(cols == info.w && rows == info.h) && !turned)
    return nala_fail(err, NALA_E_FORMAT, "%s: the %s decoder produced %ux%u (WxH) but the header says %ux%u: corrupt "
                     "file", name, info.name, cols, rows, info.w, info.h);
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

namespace {

nala_status shim_image_decode(const uint8_t *bytes, size_t n, const char *name, nala_channel_order order,
                              size_t max_pixels, nala_exif_mode exif, nala_image *out, nala_err *err);

nala_status shim_image_read_exif(const char *path, nala_channel_order order, size_t max_pixels, nala_exif_mode exif,
                                 nala_image *out, nala_err *err) {
  if (out)
    std::memset(out, 0, sizeof *out);
  if (!path || !out)
    return nala_fail(err, NALA_E_ARG, "nala_image_read: path or out is NULL");
  NALA_CHECK(check_read_args(path, order, exif, err));
  NALA_SHIM_TRY
  file_bytes bytes;
  NALA_CHECK(read_file_bytes(path, bytes, err));
  return shim_image_decode(bytes.data(), bytes.size(), path, order, max_pixels, exif, out, err);
  NALA_SHIM_CATCH(err, "reading image", path)
}

nala_status shim_image_decode(const uint8_t *bytes, size_t n, const char *name, nala_channel_order order,
                              size_t max_pixels, nala_exif_mode exif, nala_image *out, nala_err *err) {
  if (out)
    std::memset(out, 0, sizeof *out);
  if (!name)
    name = "<memory>";
  if ((!bytes && n) || !out)
    return nala_fail(err, NALA_E_ARG, "%s: nala_image_decode: bytes or out is NULL", name);
  NALA_CHECK(check_read_args(name, order, exif, err));
  NALA_SHIM_TRY
  cv::Mat m;
  // Always 3 channels (grey files replicated), as cv2.IMREAD_COLOR gives.
  int flags = cv::IMREAD_COLOR | (exif == NALA_EXIF_IGNORE ? cv::IMREAD_IGNORE_ORIENTATION : 0);
  NALA_CHECK(decode(bytes, n, name, flags, max_pixels, out, m, err));
  if (!out->data)
    NALA_CHECK(mat_to_image(m, order, out, err));
  out->order = order;
  if (order == NALA_RGB)
    swap_red_blue(out, out);
  return NALA_OK;
  NALA_SHIM_CATCH_CLEANUP(err, "decoding image", name, nala_image_free(out))
}

nala_status shim_image_write(const char *path, const nala_image *img, nala_err *err) {
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
  return nala_write_atomic(path, bytes.data(), bytes.size(), err);
  NALA_SHIM_CATCH(err, "writing image", path)
}

} // namespace

// ---- resize and colour conversion ----------------------------------------------------------

static nala_status shim_image_resize(const nala_image *src, nala_image *dst, nala_interp interp, nala_err *err) {
  NALA_CHECK(check_image(src, "nala_image_resize: src", err));
  NALA_CHECK(check_image(dst, "nala_image_resize: dst", err));
  if (src->c != dst->c)
    return nala_fail(err, NALA_E_SHAPE, "nala_image_resize: src has %d channels, dst %d", src->c, dst->c);
  if (interp != NALA_INTERP_BILINEAR && interp != NALA_INTERP_NEAREST && interp != NALA_INTERP_AREA)
    return nala_fail(err, NALA_E_ARG, "nala_image_resize: unknown interpolation %d", (int)interp);
  NALA_SHIM_TRY
  cv::Mat out = wrap(dst);
  cv::resize(wrap(src), out, cv::Size(dst->w, dst->h), 0, 0,
             interp == NALA_INTERP_BILINEAR  ? cv::INTER_LINEAR
             : interp == NALA_INTERP_NEAREST ? cv::INTER_NEAREST
                                             : cv::INTER_AREA);
  // resize() only reallocates when size or type differ, which the checks above exclude.
  if (out.data != dst->data)
    return nala_fail(err, NALA_E_BACKEND, "nala_image_resize: OpenCV reallocated the destination");
  dst->order = src->order;
  return NALA_OK;
  NALA_SHIM_CATCH(err, "resizing", "nala_image_resize")
}

static nala_status shim_image_convert(const nala_image *src, nala_image *dst, nala_err *err) {
  NALA_CHECK(check_image(src, "nala_image_convert: src", err));
  NALA_CHECK(check_image(dst, "nala_image_convert: dst", err));
  if (src->h != dst->h || src->w != dst->w)
    return nala_fail(err, NALA_E_SHAPE, "nala_image_convert: src is %dx%d, dst %dx%d (HxW)", src->h, src->w, dst->h,
                     dst->w);
  if (dst->c == 3 && dst->order != NALA_BGR && dst->order != NALA_RGB)
    return nala_fail(err, NALA_E_ARG, "nala_image_convert: a 3-channel dst needs order NALA_BGR or NALA_RGB");
  NALA_SHIM_TRY
  cv::Mat in = wrap(src), out = wrap(dst);
  bool src_rgb = src->order == NALA_RGB, dst_rgb = dst->order == NALA_RGB;
  if (src->c == dst->c && (src->c == 1 || src_rgb == dst_rgb))
    in.copyTo(out);
  else if (src->c == 3 && dst->c == 3)
    cv::cvtColor(in, out, cv::COLOR_BGR2RGB); // the same swap serves both directions
  else if (src->c == 3)
    cv::cvtColor(in, out, src_rgb ? cv::COLOR_RGB2GRAY : cv::COLOR_BGR2GRAY);
  else
    cv::cvtColor(in, out, dst_rgb ? cv::COLOR_GRAY2RGB : cv::COLOR_GRAY2BGR);
  if (out.data != dst->data)
    return nala_fail(err, NALA_E_BACKEND, "nala_image_convert: OpenCV reallocated the destination");
  if (dst->c == 1)
    dst->order = NALA_GRAY;
  return NALA_OK;
  NALA_SHIM_CATCH(err, "converting colours", "nala_image_convert")
}

// ---- text (include/nala/image_draw.h) -------------------------------------------------------
// Glyphs are the one drawing job that needs OpenCV (its Hershey fonts); boxes, masks and overlays are
// plain C in the tools.

static nala_status shim_image_text_size(const char *text, double scale, int *w, int *h, int *baseline,
                                            nala_err *err) {
  if (!text || !w || !h || !baseline || !(scale > 0))
    return nala_fail(err, NALA_E_ARG, "nala_image_text_size: NULL argument or scale <= 0");
  NALA_SHIM_TRY
  int base = 0;
  cv::Size s = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &base);
  *w = s.width, *h = s.height, *baseline = base;
  return NALA_OK;
  NALA_SHIM_CATCH(err, "measuring text", "nala_image_text_size")
}

static nala_status shim_image_draw_text(nala_image *img, const char *text, int x, int y, double scale,
                                            const uint8_t color[3], nala_err *err) {
  if (!img || !img->data || !text || !color || !(scale > 0))
    return nala_fail(err, NALA_E_ARG, "nala_image_draw_text: NULL argument or scale <= 0");
  if (img->c != 3 || img->h <= 0 || img->w <= 0 || img->stride < (size_t)img->w * 3)
    return nala_fail(err, NALA_E_ARG, "nala_image_draw_text: need a 3-channel image, got %dx%dx%d", img->h, img->w,
                     img->c);
  NALA_SHIM_TRY
  cv::Mat m = wrap(img);
  cv::putText(m, text, cv::Point(x, y), cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(color[0], color[1], color[2]), 1,
              cv::LINE_AA);
  return NALA_OK;
  NALA_SHIM_CATCH(err, "drawing text", "nala_image_draw_text")
}

static nala_status shim_text_mask_render(const char *text, double scale, nala_text_mask *m, nala_err *err) {
  if (!text || !m || !m->alpha || m->w <= 0 || m->h <= 0 || !(scale > 0))
    return nala_fail(err, NALA_E_ARG, "nala_text_mask_render: NULL argument, unmeasured mask or scale <= 0");
  NALA_SHIM_TRY
  cv::Mat a(m->h, m->w, CV_8UC1, (void *)m->alpha);
  a.setTo(cv::Scalar(0));
  cv::putText(a, text, cv::Point(m->org_x, m->org_y), cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(255), 1,
              cv::LINE_AA);
  return NALA_OK;
  NALA_SHIM_CATCH(err, "rendering text", "nala_text_mask_render")
}

// ---- video ------------------------------------------------------------------------------------

struct nala_video_reader {
  cv::VideoCapture cap;
  std::string name; // path or "camera N", for messages
  nala_video_info info;
  long frames_read;
};

struct nala_video_writer {
  cv::VideoWriter out;
  std::string path, tmp_path;
  int w, h;
  std::vector<uint8_t> bgr; // an RGB frame's BGR copy, sized once at the first RGB frame
};

namespace {

nala_status reader_finish_open(nala_video_reader *r, nala_video_reader **out, nala_err *err) {
  if (!r->cap.isOpened())
    return nala_fail(err, NALA_E_FORMAT, "%s: cannot open video (corrupt, truncated or unsupported format)",
                     r->name.c_str());
  r->info.w = (int)r->cap.get(cv::CAP_PROP_FRAME_WIDTH);
  r->info.h = (int)r->cap.get(cv::CAP_PROP_FRAME_HEIGHT);
  double fps = r->cap.get(cv::CAP_PROP_FPS);
  double count = r->cap.get(cv::CAP_PROP_FRAME_COUNT);
  r->info.fps = fps > 0 ? fps : 0;
  r->info.frame_count = count > 0 ? (long)count : 0;
  if (r->info.w <= 0 || r->info.h <= 0)
    return nala_fail(err, NALA_E_FORMAT, "%s: video reports a zero frame size (%dx%d, WxH)", r->name.c_str(),
                     r->info.w, r->info.h);
  *out = r;
  return NALA_OK;
}

} // namespace

static nala_status shim_video_open(const char *path, nala_video_reader **out, nala_err *err) {
  if (!path || !out)
    return nala_fail(err, NALA_E_ARG, "nala_video_open: path or out is NULL");
  *out = nullptr;
  struct stat info;
  if (::stat(path, &info) != 0)
    return nala_fail(err, NALA_E_IO, "%s: cannot open video: %s", path, std::strerror(errno));
  if (!S_ISREG(info.st_mode))
    return nala_fail(err, NALA_E_IO, "%s: not a regular file", path);
  if (info.st_size == 0)
    return nala_fail(err, NALA_E_FORMAT, "%s: empty file (0 bytes), not a video", path);
  nala_video_reader *r = nullptr;
  NALA_SHIM_TRY
  r = new nala_video_reader();
  r->name = path;
  // FFmpeg only: CAP_ANY would let the image-sequence backend treat a bad file as a pattern.
  r->cap.open(path, cv::CAP_FFMPEG);
  nala_status st = reader_finish_open(r, out, err);
  if (st != NALA_OK)
    delete r;
  return st;
  NALA_SHIM_CATCH_CLEANUP(err, "opening video", path, delete r)
}

static nala_status shim_video_open_camera(int index, nala_video_reader **out, nala_err *err) {
  if (!out || index < 0)
    return nala_fail(err, NALA_E_ARG, "nala_video_open_camera: out is NULL or index %d < 0", index);
  *out = nullptr;
#ifdef __linux__
  // OpenCV reports a missing or busy camera only as a log line and isOpened() == false; checking the
  // device node first gives the user the device, the reason, and no backend warnings.
  char device[32];
  std::snprintf(device, sizeof device, "/dev/video%d", index);
  int fd = ::open(device, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT || e == ENXIO || e == ENODEV)
      return nala_fail(err, NALA_E_IO, "camera %d (%s): no such device: %s (no camera at this index; the cameras "
                       "present are the /dev/video* nodes)", index, device, std::strerror(e));
    return nala_fail(err, NALA_E_IO, "camera %d (%s): cannot open the device: %s%s", index, device,
                     std::strerror(e), e == EACCES ? " (is the user in the 'video' group?)" : "");
  }
  ::close(fd);
  const int api = cv::CAP_V4L2; // the device node just checked; CAP_ANY would try GStreamer first
#else
  char device[32];
  std::snprintf(device, sizeof device, "index %d", index);
  const int api = cv::CAP_ANY;
#endif
  nala_video_reader *r = nullptr;
  NALA_SHIM_TRY
  r = new nala_video_reader();
  r->name = "camera " + std::to_string(index) + " (" + device + ")";
  r->cap.open(index, api);
  if (!r->cap.isOpened()) {
    delete r;
    return nala_fail(err, NALA_E_IO, "camera %d (%s): the device exists but OpenCV cannot capture from it (busy, "
                     "not a capture device, or an unsupported pixel format)", index, device);
  }
  nala_status st = reader_finish_open(r, out, err);
  if (st != NALA_OK)
    delete r;
  return st;
  NALA_SHIM_CATCH_CLEANUP(err, "opening camera", "nala_video_open_camera", delete r)
}

static nala_video_info shim_video_get_info(const nala_video_reader *reader) {
  nala_video_info none = {0, 0, 0.0, 0};
  return reader ? reader->info : none;
}

static nala_status shim_video_read(nala_video_reader *reader, nala_channel_order order, nala_image *frame, int *got,
                                       nala_err *err) {
  if (got)
    *got = 0;
  if (!reader || !frame || !got)
    return nala_fail(err, NALA_E_ARG, "nala_video_read: reader, frame or got is NULL");
  if (order != NALA_BGR && order != NALA_RGB)
    return nala_fail(err, NALA_E_ARG, "%s: nala_video_read: order must be NALA_BGR or NALA_RGB", reader->name.c_str());
  NALA_SHIM_TRY
  // Decode straight into the caller's frame when it has the stream's size (OpenCV copies the
  // FFmpeg frame into an existing Mat of the right size and type), so a loop allocates nothing.
  const nala_video_info &info = reader->info;
  if (!frame->data || frame->h != info.h || frame->w != info.w || frame->c != 3) {
    nala_image_free(frame);
    NALA_CHECK(nala_image_alloc(info.h, info.w, 3, NALA_BGR, frame, err));
  }
  cv::Mat decoded = wrap(frame);
  if (!reader->cap.read(decoded) || decoded.empty()) {
    // OpenCV does not tell a clean end from a decode failure; a stream that stops well short of the
    // frame count its container announces is truncated (the slack covers duration-based estimates).
    long announced = info.frame_count, slack = 1 + announced / 100;
    if (announced > 0 && reader->frames_read + slack < announced)
      return nala_fail(err, NALA_E_FORMAT, "%s: stream ended after %ld frames, the container announces %ld: "
                       "truncated or corrupt video", reader->name.c_str(), reader->frames_read, announced);
    return NALA_OK;
  }
  if (decoded.data != frame->data) { // the stream changed size mid-way: OpenCV gave its own Mat
    if (decoded.type() != CV_8UC3)
      return nala_fail(err, NALA_E_FORMAT, "%s: frame %ld is not 8-bit 3-channel (OpenCV type %d)",
                       reader->name.c_str(), reader->frames_read, decoded.type());
    nala_image_free(frame);
    NALA_CHECK(mat_to_image(decoded, NALA_BGR, frame, err));
  }
  if (order == NALA_RGB)
    swap_red_blue(frame, frame);
  frame->order = order;
  reader->frames_read++;
  *got = 1;
  return NALA_OK;
  NALA_SHIM_CATCH(err, "reading a frame", reader->name.c_str())
}

static void shim_video_close(nala_video_reader *reader) {
  try {
    delete reader;
  } catch (...) { // a destructor that throws must still not unwind into C
  }
}

static nala_status shim_video_writer_open(const char *path, int w, int h, double fps, const char *fourcc,
                                              nala_video_writer **out, nala_err *err) {
  if (!path || !out)
    return nala_fail(err, NALA_E_ARG, "nala_video_writer_open: path or out is NULL");
  *out = nullptr;
  if (w <= 0 || h <= 0 || !(fps > 0))
    return nala_fail(err, NALA_E_ARG, "%s: bad video size %dx%d (WxH) or fps %g", path, w, h, fps);
  if (fourcc && std::strlen(fourcc) != 4)
    return nala_fail(err, NALA_E_ARG, "%s: fourcc '%s' must have 4 characters", path, fourcc);
  std::string ext = extension_of(path);
  if (ext.empty())
    return nala_fail(err, NALA_E_ARG, "%s: video path needs an extension (.mp4, .avi) to pick the container", path);
  nala_video_writer *v = nullptr;
  NALA_SHIM_TRY
  v = new nala_video_writer();
  v->path = path;
  v->w = w;
  v->h = h;
  // The temp name keeps the extension: FFmpeg picks the container from it.
  std::string tmpl = v->path + ".tmp.XXXXXX" + ext;
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  int fd = mkstemps(name.data(), (int)ext.size());
  if (fd < 0) {
    delete v;
    return nala_fail(err, NALA_E_IO, "%s: cannot create temp file: %s", path, std::strerror(errno));
  }
  nala_file_mode_default(fd);
  ::close(fd);
  v->tmp_path = name.data();
  const char *tries[2] = {fourcc ? fourcc : "avc1", fourcc ? nullptr : "mp4v"};
  for (const char *cc : tries)
    if (cc && !v->out.isOpened())
      v->out.open(v->tmp_path, cv::CAP_FFMPEG, cv::VideoWriter::fourcc(cc[0], cc[1], cc[2], cc[3]), fps,
                  cv::Size(w, h), true);
  if (!v->out.isOpened()) {
    ::unlink(v->tmp_path.c_str());
    delete v;
    return nala_fail(err, NALA_E_UNSUPPORTED, "%s: OpenCV/FFmpeg cannot write codec %s into a '%s' file", path,
                     fourcc ? fourcc : "avc1 or mp4v", ext.c_str());
  }
  *out = v;
  return NALA_OK;
  NALA_SHIM_CATCH_CLEANUP(err, "opening video writer", path, delete v)
}

static nala_status shim_video_write(nala_video_writer *writer, const nala_image *frame, nala_err *err) {
  if (!writer)
    return nala_fail(err, NALA_E_ARG, "nala_video_write: writer is NULL");
  NALA_CHECK(check_image(frame, writer->path.c_str(), err));
  if (frame->c != 3 || frame->w != writer->w || frame->h != writer->h)
    return nala_fail(err, NALA_E_SHAPE, "%s: frame is %dx%dx%d (HxWxC), the video is %dx%dx3", writer->path.c_str(),
                     frame->h, frame->w, frame->c, writer->h, writer->w);
  NALA_SHIM_TRY
  if (frame->order == NALA_RGB) {
    writer->bgr.resize((size_t)frame->w * 3 * (size_t)frame->h); // a no-op after the first frame
    nala_image bgr = {frame->h, frame->w, 3, (size_t)frame->w * 3, writer->bgr.data(), NALA_BGR};
    swap_red_blue(frame, &bgr);
    writer->out.write(wrap(&bgr));
  } else {
    writer->out.write(wrap(frame));
  }
  return NALA_OK;
  NALA_SHIM_CATCH(err, "writing a frame", writer->path.c_str())
}

static void shim_video_writer_abort(nala_video_writer *writer) {
  if (!writer)
    return;
  try {
    writer->out.release();
  } catch (...) {
  }
  ::unlink(writer->tmp_path.c_str());
  delete writer;
}

static nala_status shim_video_writer_close(nala_video_writer *writer, nala_err *err) {
  if (!writer)
    return nala_fail(err, NALA_E_ARG, "nala_video_writer_close: writer is NULL");
  nala_status st = NALA_OK;
  try {
    writer->out.release();
    struct stat info;
    if (::stat(writer->tmp_path.c_str(), &info) != 0 || info.st_size == 0)
      st = nala_fail(err, NALA_E_IO, "%s: the encoder wrote nothing", writer->path.c_str());
    else if (std::rename(writer->tmp_path.c_str(), writer->path.c_str()) != 0)
      st = nala_fail(err, NALA_E_IO, "%s: cannot rename temp file into place: %s", writer->path.c_str(),
                     std::strerror(errno));
  } catch (const std::exception &e) {
    st = nala_fail(err, NALA_E_BACKEND, "%s: finishing video: %s", writer->path.c_str(), e.what());
  } catch (...) {
    st = nala_fail(err, NALA_E_BACKEND, "%s: finishing video: unknown C++ exception", writer->path.c_str());
  }
  if (st != NALA_OK)
    ::unlink(writer->tmp_path.c_str());
  delete writer;
  return st;
}

// ---- the table the C side loads (datasets/cv_api.h) -------------------------------------------

namespace {
const nala_cv_api shim_api = {
    NALA_CV_API_VERSION,   sizeof(nala_cv_api),    shim_image_read_exif,   shim_image_decode,
    shim_image_write,      shim_image_resize,      shim_image_convert,     shim_image_text_size,
    shim_image_draw_text,  shim_text_mask_render,  shim_video_open,        shim_video_open_camera,
    shim_video_get_info,   shim_video_read,        shim_video_close,       shim_video_writer_open,
    shim_video_write,      shim_video_writer_close, shim_video_writer_abort,
};
} // namespace

// The only symbol libnala_cv.so exports (the build hides the rest, the C helpers linked in included).
extern "C" __attribute__((visibility("default"))) const nala_cv_api *nala_cv_api_v1(void) { return &shim_api; }
