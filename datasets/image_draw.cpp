// Text through OpenCV's Hershey fonts (include/nala/image_draw.h); no exception leaves this file.
#include "nala/image_draw.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <exception>

extern "C" nala_status nala_image_text_size(const char *text, double scale, int *w, int *h, int *baseline,
                                            nala_err *err) {
  if (!text || !w || !h || !baseline || !(scale > 0))
    return nala_fail(err, NALA_E_ARG, "nala_image_text_size: NULL argument or scale <= 0");
  try {
    int base = 0;
    cv::Size s = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &base);
    *w = s.width, *h = s.height, *baseline = base;
    return NALA_OK;
  } catch (const std::exception &e) {
    return nala_fail(err, NALA_E_BACKEND, "nala_image_text_size: OpenCV error: %s", e.what());
  } catch (...) {
    return nala_fail(err, NALA_E_BACKEND, "nala_image_text_size: unknown C++ exception");
  }
}

extern "C" nala_status nala_image_draw_text(nala_image *img, const char *text, int x, int y, double scale,
                                            const uint8_t color[3], nala_err *err) {
  if (!img || !img->data || !text || !color || !(scale > 0))
    return nala_fail(err, NALA_E_ARG, "nala_image_draw_text: NULL argument or scale <= 0");
  if (img->c != 3 || img->h <= 0 || img->w <= 0 || img->stride < (size_t)img->w * 3)
    return nala_fail(err, NALA_E_ARG, "nala_image_draw_text: need a 3-channel image, got %dx%dx%d", img->h, img->w,
                     img->c);
  try {
    cv::Mat m(img->h, img->w, CV_8UC3, img->data, img->stride);
    cv::putText(m, text, cv::Point(x, y), cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(color[0], color[1], color[2]),
                1, cv::LINE_AA);
    return NALA_OK;
  } catch (const std::exception &e) {
    return nala_fail(err, NALA_E_BACKEND, "nala_image_draw_text: OpenCV error: %s", e.what());
  } catch (...) {
    return nala_fail(err, NALA_E_BACKEND, "nala_image_draw_text: unknown C++ exception");
  }
}
