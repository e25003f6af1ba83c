"""debLoRA (arXiv 2410.04546): de-biased LoRA for long-tailed remote-sensing recognition."""

from geoneurips.registry import SystemSpec, register

register(
    SystemSpec(
        id="deblora",
        family="learning",
        status="partial",
        summary=(
            "DOTA object-crop and FUSRS SAR-ship readers, LoRA (peft) on a timm backbone, "
            "K-means (K=32) de-biased tail centres, feature calibration, the debLoRA module, "
            "linear probe and head/middle/tail macro-F1"
        ),
        demo="geoneurips.learning.deblora.pipeline:demo",
        dataset="geoneurips.learning.deblora.data:DOTAObjectCrops",
        model="geoneurips.learning.deblora.model:DebLoRAModel",
        commands={
            "deblora-fit": "geoneurips.learning.deblora.cli:deblora_fit",
            "deblora-classify": "geoneurips.learning.deblora.cli:deblora_classify",
        },
        notes="work in progress",
    )
)
