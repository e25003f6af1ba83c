"""PECL (Lu et al., NeurIPS 2024): progressive exploration-conformal learning for sparsely
annotated object detection in aerial images."""

from geoneurips.registry import SystemSpec, register

register(
    SystemSpec(
        id="pecl",
        family="learning",
        status="partial",
        summary=(
            "DOTA label reader (devkit and TorchGeo layouts), the public code's sparse-"
            "annotation protocol and COCO export, DOTA-devkit VOC AP@0.5 on oriented and "
            "horizontal boxes, a CPU centre-heatmap detector, the explorer / evaluator / "
            "progressive pseudo-label loop"
        ),
        demo="geoneurips.learning.pecl.pipeline:demo",
        dataset="geoneurips.learning.pecl.data:DOTADetection",
        model="geoneurips.learning.pecl.explorer:Explorer",
        commands={"pecl-detect": "geoneurips.learning.pecl.cli:pecl_detect"},
        notes=(
            "the demo does not beat its strongest baseline: full demo, 5 % labels, VOC07 "
            "mAP@0.5 on unseen scenes, seeds 0/1/2: PECL 0.485/0.438/0.513 vs sparse-only "
            "0.524/0.483/0.542, fixed-threshold 0.538/0.467/0.496, conformal threshold "
            "(a=0.6) 0.521/0.458/0.502; the explorer's pseudo-labels are only 20-40 % "
            "correct because the positive-unlabelled value estimate rests on ~25-30 "
            "calibration objects among the candidates. The explorer/evaluator/reward "
            "formulas are our reading (the paper's equations were not available and the "
            "public repo has no explorer code); the detector is a CPU CenterNet-style "
            "stand-in for ReDet/S2A-Net (horizontal boxes); the 1024/200 crop step of "
            "cut.py is not re-implemented"
        ),
    )
)
