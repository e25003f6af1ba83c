"""VRSBench: a versatile vision-language benchmark for remote sensing image understanding
(Li et al., NeurIPS 2024 Datasets and Benchmarks, arXiv 2406.12384)."""

from ...registry import SystemSpec, register

register(
    SystemSpec(
        id="vrsbench",
        family="vision_language",
        status="partial",
        summary=(
            "per-image annotation, EVAL (caption/referring/VQA) and LLaVA-style training "
            "JSON readers, the EVAL builder with the published filters; the published "
            "scorers (pycocoevalcap captioning + Avg_L, +1-convention grounding Acc@0.5/0.7, "
            "per-type VQA with the shortcut rules); OpenAI-compatible runner and judges"
        ),
        demo="geoneurips.vision_language.vrsbench.pipeline:demo",
        dataset="geoneurips.vision_language.vrsbench.data:VRSBench",
        model="geoneurips.vision_language.vrsbench.model:SmallVLM",
        commands={
            "vrsbench-eval": "geoneurips.vision_language.vrsbench.cli:vrsbench_eval",
            "vrsbench-run": "geoneurips.vision_language.vrsbench.cli:vrsbench_run",
        },
        notes="work in progress",
    )
)
