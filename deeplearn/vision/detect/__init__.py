"""Object detection (issue 16): data sets, box operations, the VOC/COCO metrics, drawing, the HOG + linear SVM
detector (the pre-deep baseline) and the deep detectors (CenterNet, Faster R-CNN).

Conventions: an image is a float tensor [3, H, W] in [0, 1]; boxes are float [N, 4] (x1, y1, x2, y2) in pixels
of that image (exclusive corners: a box's area is (x2 - x1) * (y2 - y1)); labels are long [N] in 0..C-1 with no
background class; a target is {"boxes", "labels", "difficult"}; a prediction is {"boxes", "scores", "labels"}.
"""
