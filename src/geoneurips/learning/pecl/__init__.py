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
        notes="work in progress",
    )
)
