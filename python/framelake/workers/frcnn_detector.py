"""person_bbox_area_pct from a torchvision Faster R-CNN detector, with weights from a file.

    framelake add-column DB bdd100k frcnn_person_pct \
        --udf "exec:python3 -m framelake.workers.frcnn_detector" --param weights=/models/frcnn.pt
    framelake backfill DB bdd100k frcnn_person_pct --concurrency 2

The model is built once per worker process (setup) and loaded from `weights`, a state_dict saved with
torch.save (a checkpoint dict with a "model" entry works too). The value is the area of the largest box
of class `person_label` scoring at least `score_threshold`, as a percentage of the frame; 0 without one.
Parameters (--param):
  weights=PATH                 required
  model=fasterrcnn_mobilenet_v3_large_320_fpn   or fasterrcnn_resnet50_fpn, ... (torchvision.models.detection)
  num_classes=91               classes of the saved model (COCO: 91, person = 1)
  person_label=1
  score_threshold=0.5
  threads=1                    torch threads per worker process
"""
import sys

from framelake import udf


def build_model(name, num_classes):
    import torchvision
    builder = getattr(torchvision.models.detection, name, None)
    if builder is None:
        raise ValueError("torchvision has no detection model %r" % name)
    return builder(weights=None, weights_backbone=None, num_classes=num_classes)


def person_area_pcts(model, images, person_label, score_threshold):
    """images: list of CHW float tensors in [0, 1] -> list of percentages."""
    import torch
    with torch.no_grad():
        outputs = model(images)
    out = []
    for img, o in zip(images, outputs):
        keep = (o["labels"] == person_label) & (o["scores"] >= score_threshold)
        boxes = o["boxes"][keep]
        area = 0.0
        if len(boxes):
            area = float(((boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)).max())
        out.append(100.0 * area / float(img.shape[1] * img.shape[2]))
    return out


def decode(jpeg):
    import torch
    import torchvision
    data = torch.frombuffer(bytearray(jpeg), dtype=torch.uint8)
    return torchvision.io.decode_jpeg(data, mode=torchvision.io.ImageReadMode.RGB).float() / 255.0


class FrcnnPerson(udf.UDF):
    name = "frcnn_person_area_pct"
    version = 1
    inputs = "image_bytes binary"
    output_type = "float32"
    description = "largest Faster R-CNN person box (score >= threshold) as % of the frame; 0 when none"

    def setup(self, params):
        import torch
        torch.set_num_threads(int(params.get("threads", "1")))
        path = params.get("weights")
        if not path:
            raise ValueError("--param weights=PATH is required (a state_dict saved with torch.save)")
        self.model = build_model(params.get("model", "fasterrcnn_mobilenet_v3_large_320_fpn"), int(params.get("num_classes", "91")))
        state = torch.load(path, map_location="cpu")
        if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
            state = state["model"]
        self.model.load_state_dict(state)
        self.model.eval()
        self.person_label = int(params.get("person_label", "1"))
        self.score_threshold = float(params.get("score_threshold", "0.5"))

    def __call__(self, batch):
        jpegs = batch["image_bytes"]
        present = [i for i, b in enumerate(jpegs) if b is not None]
        values = [None] * len(jpegs)
        if present:
            pcts = person_area_pcts(self.model, [decode(jpegs[i]) for i in present], self.person_label, self.score_threshold)
            for i, v in zip(present, pcts):
                values[i] = v
        return values


if __name__ == "__main__":
    sys.exit(udf.run(FrcnnPerson()))
