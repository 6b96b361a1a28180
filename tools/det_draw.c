/* Drawing detections (tools/det_draw.h). */
#include "tools/det_draw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


const char *const det_coco_classes[80] = {
    "person",        "bicycle",      "car",           "motorcycle",    "airplane",     "bus",
    "train",         "truck",        "boat",          "traffic light", "fire hydrant", "stop sign",
    "parking meter", "bench",        "bird",          "cat",           "dog",          "horse",
    "sheep",         "cow",          "elephant",      "bear",          "zebra",        "giraffe",
    "backpack",      "umbrella",     "handbag",       "tie",           "suitcase",     "frisbee",
    "skis",          "snowboard",    "sports ball",   "kite",          "baseball bat", "baseball glove",
    "skateboard",    "surfboard",    "tennis racket", "bottle",        "wine glass",   "cup",
    "fork",          "knife",        "spoon",         "bowl",          "banana",       "apple",
    "sandwich",      "orange",       "broccoli",      "carrot",        "hot dog",      "pizza",
    "donut",         "cake",         "chair",         "couch",         "potted plant", "bed",
    "dining table",  "toilet",       "tv",            "laptop",        "mouse",        "remote",
    "keyboard",      "cell phone",   "microwave",     "oven",          "toaster",      "sink",
    "refrigerator",  "book",         "clock",         "vase",          "scissors",     "teddy bear",
    "hair drier",    "toothbrush"};

const int det_coco_category_ids[80] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 13, 14, 15, 16, 17,
                                       18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31, 32, 33, 34, 35, 36,
                                       37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53,
                                       54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73,
                                       74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90};

/* 20 well-separated colours (RGB), the first ones of mmdet's COCO palette. */
static const uint8_t palette_rgb[20][3] = {
    {220, 20, 60}, {119, 11, 32},  {0, 0, 142},    {0, 0, 230},    {106, 0, 228},  {0, 60, 100},  {0, 80, 100},
    {0, 0, 70},    {0, 0, 192},    {250, 170, 30}, {100, 170, 30}, {220, 220, 0},  {175, 116, 175}, {250, 0, 30},
    {165, 42, 42}, {255, 77, 255}, {0, 226, 252},  {182, 182, 255}, {0, 82, 0},    {120, 166, 157}};

void det_class_color(int label, uint8_t bgr[3]) {
  int k = label < 0 ? 0 : label % 20;
  bgr[0] = palette_rgb[k][2], bgr[1] = palette_rgb[k][1], bgr[2] = palette_rgb[k][0];
}

void det_color_for(const nala_image *img, const uint8_t bgr[3], uint8_t out[3]) {
  int rgb = img->order == NALA_RGB;
  out[0] = rgb ? bgr[2] : bgr[0], out[1] = bgr[1], out[2] = rgb ? bgr[0] : bgr[2];
}

static void fill_rect(nala_image *img, int x0, int y0, int x1, int y1, const uint8_t c[3]) {
  if (x0 < 0)
    x0 = 0;
  if (y0 < 0)
    y0 = 0;
  if (x1 > img->w)
    x1 = img->w;
  if (y1 > img->h)
    y1 = img->h;
  for (int y = y0; y < y1; y++) {
    uint8_t *p = img->data + (size_t)y * img->stride + (size_t)x0 * 3;
    for (int x = x0; x < x1; x++, p += 3)
      p[0] = c[0], p[1] = c[1], p[2] = c[2];
  }
}

/* A box coordinate as a pixel index, saturated far outside the image (boxes may be NaN-free but huge). */
static int pix(float v, int lo, int hi) {
  if (!(v >= (float)lo)) /* also NaN */
    return lo;
  if (v > (float)hi)
    return hi;
  return (int)floorf(v);
}

void det_draw_box(nala_image *img, float x1, float y1, float x2, float y2, const uint8_t bgr[3], int t) {
  if (img->c != 3 || t < 1)
    return;
  uint8_t c[3];
  det_color_for(img, bgr, c);
  int a = pix(x1, -1, img->w), b = pix(y1, -1, img->h);
  int r = pix(x2, -1, img->w), d = pix(y2, -1, img->h); /* last covered pixel is ceil(x2) - 1 */
  if (x2 > floorf(x2) && r < img->w)
    r++;
  if (y2 > floorf(y2) && d < img->h)
    d++;
  if (r <= a)
    r = a + 1;
  if (d <= b)
    d = b + 1;
  fill_rect(img, a, b, r, b + t, c);     /* top */
  fill_rect(img, a, d - t, r, d, c);     /* bottom */
  fill_rect(img, a, b, a + t, d, c);     /* left */
  fill_rect(img, r - t, b, r, d, c);     /* right */
}

void det_draw_mask(nala_image *img, const uint8_t *mask, const uint8_t bgr[3], float alpha) {
  if (img->c != 3)
    return;
  uint8_t c[3];
  det_color_for(img, bgr, c);
  for (int y = 0; y < img->h; y++) {
    uint8_t *p = img->data + (size_t)y * img->stride;
    const uint8_t *m = mask + (size_t)y * img->w;
    for (int x = 0; x < img->w; x++, p += 3)
      if (m[x])
        for (int k = 0; k < 3; k++)
          p[k] = (uint8_t)lrintf((1.f - alpha) * p[k] + alpha * c[k]);
  }
}

/* Same scale as before the masks: 0.4 reads at 640x480 and stays small at 1080p. */
#define LABEL_SCALE 0.4

nala_status det_labels_init(det_labels *l, const char *const *names, int n_names, int n_classes, nala_err *err) {
  memset(l, 0, sizeof *l);
  if (n_classes <= 0)
    return nala_fail(err, NALA_E_ARG, "det_labels_init: %d classes", n_classes);
  l->names = calloc((size_t)n_classes, sizeof *l->names);
  if (!l->names)
    return nala_fail(err, NALA_E_NOMEM, "det_labels_init: out of memory for %d class labels", n_classes);
  l->n_classes = n_classes;
  /* Two passes over the same texts: measure every mask, one block for all of them, render. */
  nala_status st = NALA_OK;
  for (int pass = 0; pass < 2 && st == NALA_OK; pass++) {
    size_t at = 0;
    for (int k = 0; k < n_classes + 101 && st == NALA_OK; k++) {
      char text[96];
      nala_text_mask *m = k < n_classes ? &l->names[k] : &l->scores[k - n_classes];
      if (k >= n_classes)
        snprintf(text, sizeof text, "%.2f", (k - n_classes) / 100.0);
      else if (names && k < n_names)
        snprintf(text, sizeof text, "%s ", names[k]);
      else
        snprintf(text, sizeof text, "class %d ", k);
      if (pass == 0) {
        st = nala_text_mask_measure(text, LABEL_SCALE, m, err);
      } else {
        m->alpha = l->pixels + at;
        st = nala_text_mask_render(text, LABEL_SCALE, m, err);
      }
      at += (size_t)m->w * m->h;
    }
    if (st == NALA_OK && pass == 0 && !(l->pixels = malloc(at)))
      st = nala_fail(err, NALA_E_NOMEM, "det_labels_init: out of memory for %zu bytes of label masks", at);
  }
  if (st != NALA_OK)
    det_labels_free(l);
  return st;
}

void det_labels_free(det_labels *l) {
  free(l->names);
  free(l->pixels);
  memset(l, 0, sizeof *l);
}

/* The score's mask: the text "%.2f" prints (so the label reads as it did with snprintf), as an index. */
static int score_index(float score) {
  if (!(score > 0.f))
    return 0;
  if (score >= 1.f)
    return 100;
  char t[16];
  snprintf(t, sizeof t, "%.2f", score); /* "0.xy" or "1.00" */
  return (t[0] - '0') * 100 + (t[2] - '0') * 10 + (t[3] - '0');
}

nala_status det_draw_label(nala_image *img, const det_labels *l, int x, int y, int label, float score,
                           const uint8_t bgr[3], nala_err *err) {
  if (label < 0 || label >= l->n_classes)
    return nala_fail(err, NALA_E_ARG, "det_draw_label: label %d outside the model's %d classes", label, l->n_classes);
  const nala_text_mask *name = &l->names[label], *num = &l->scores[score_index(score)];
  /* The name's width less the stroke thickness (1) is its advance, the score's pen position. */
  int pen = name->text_w - 1;
  int tw = pen + num->text_w, th = name->text_h, base = name->baseline;
  int w = tw + 4, h = th + base + 4;
  if (x + w > img->w)
    x = img->w - w;
  if (x < 0)
    x = 0;
  if (y - h < 0) /* no room above the box: put the tag inside it */
    y = h;
  if (y > img->h)
    y = img->h;
  uint8_t c[3];
  det_color_for(img, bgr, c);
  fill_rect(img, x, y - h, x + w, y, c);
  const uint8_t white[3] = {255, 255, 255};
  nala_text_mask_blend(img, name, x + 2, y - base - 2, white);
  nala_text_mask_blend(img, num, x + 2 + pen, y - base - 2, white);
  return NALA_OK;
}

nala_status det_draw_detections(nala_image *img, const det_labels *l, const nala_detection *dets, int n, float thr,
                                nala_err *err) {
  if (img->c != 3)
    return nala_fail(err, NALA_E_ARG, "det_draw_detections: need a 3-channel image");
  int t = img->h + img->w >= 1200 ? 2 : 1;
  for (int i = 0; i < n; i++) {
    const nala_detection *d = &dets[i];
    if (!(d->score >= thr))
      continue;
    uint8_t c[3];
    det_class_color(d->label, c);
    det_draw_box(img, d->x1, d->y1, d->x2, d->y2, c, t);
  }
  for (int i = 0; i < n; i++) {
    const nala_detection *d = &dets[i];
    if (!(d->score >= thr))
      continue;
    uint8_t c[3];
    det_class_color(d->label, c);
    NALA_CHECK(det_draw_label(img, l, pix(d->x1, 0, img->w), pix(d->y1, 0, img->h), d->label, d->score, c, err));
  }
  return NALA_OK;
}
