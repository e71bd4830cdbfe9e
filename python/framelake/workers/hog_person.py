"""person_bbox_area_pct for frames without labels, from OpenCV's HOG people detector.

    framelake add-column DB bdd100k hog_person_pct --udf "exec:python3 -m framelake.workers.hog_person"
    framelake backfill DB bdd100k hog_person_pct --where "split = 'test'" --concurrency 2

The value is the area of the largest detected person box as a percentage of the frame (0 when nothing is
detected), the same measure as the built-in person_bbox_area_pct computes from ground-truth boxes. The
detector is Dalal & Triggs' HOG + linear SVM whose coefficients ship with OpenCV (python3-opencv), so it
runs offline. Parameters (--param):
  max_side=640      the frame is first area-resized so that its longer side is at most this (speed)
  win_stride=8      detection window stride in pixels
  scale=1.05        pyramid scale step
  hit_threshold=0   SVM score a window needs
"""
import sys

import numpy as np

from framelake import udf


def person_area_pct(jpeg, hog, max_side, win_stride, scale, hit_threshold):
    import cv2
    img = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError("cannot decode the image (%d bytes)" % len(jpeg))
    h, w = img.shape[:2]
    f = min(1.0, max_side / float(max(h, w)))
    if f < 1.0:
        img = cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    rects, _ = hog.detectMultiScale(img, hitThreshold=hit_threshold, winStride=(win_stride, win_stride), padding=(8, 8), scale=scale)
    best = max((int(rw) * int(rh) for (_, _, rw, rh) in rects), default=0)
    return 100.0 * best / float(img.shape[0] * img.shape[1])


class HogPerson(udf.UDF):
    name = "hog_person_area_pct"
    version = 1
    inputs = "image_bytes binary"
    output_type = "float32"
    description = "largest HOG-detected person box as % of the frame; 0 when none (OpenCV people detector)"

    def setup(self, params):
        import cv2
        cv2.setNumThreads(1)  # one core per worker process: --concurrency decides the parallelism
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.max_side = int(params.get("max_side", "640"))
        self.win_stride = int(params.get("win_stride", "8"))
        self.scale = float(params.get("scale", "1.05"))
        self.hit_threshold = float(params.get("hit_threshold", "0"))
        if self.max_side < 64 or self.win_stride < 1 or self.scale <= 1.0:
            raise ValueError("max_side must be >= 64, win_stride >= 1 and scale > 1")

    def __call__(self, batch):
        return [None if b is None else person_area_pct(b, self.hog, self.max_side, self.win_stride, self.scale, self.hit_threshold)
                for b in batch["image_bytes"]]


if __name__ == "__main__":
    sys.exit(udf.run(HogPerson()))
