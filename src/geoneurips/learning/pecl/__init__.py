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
            "the demo ties with its strongest baseline instead of beating it by the margin "
            "(0.02): full demo, 5 % labels, VOC07 mAP@0.5 on 32 unseen scenes, final seeds "
            "0/1/2: PECL 0.849/0.860/0.908 vs conformal threshold a=0.3 0.868/0.817/0.870, "
            "a=0.6 0.845/0.853/0.846, sparse-only 0.761/0.733/0.757, fixed threshold "
            "0.749/0.751/0.757 (PECL minus strongest -0.019/+0.007/+0.038); development "
            "seeds 10/11/12: +0.019/-0.024/+0.019; confirmation seeds 3/4: 0.896/0.838 vs "
            "0.896/0.828 (+0.000/+0.010). Fixed this session (every "
            "pseudo-labelling arm alike): calibration by cross-fitting -- two fold detectors "
            "score each other's held-out half of the sparse labels, and the candidates come "
            "from the detector trained on all sparse labels (before, PECL and the conformal "
            "baseline explored with a detector that saw half of them; seeds 0-2: conformal "
            "threshold +0.06-0.11 mAP, PECL +0.10-0.14 with the value change below); PECL: the value estimate is anchored on the detector score with the "
            "candidate's own clues (entropy, margin, prototype similarity), kept only when "
            "they raise the held-out positive-unlabelled AUC across folds: it now ranks new "
            "candidates about as well as or better than the score alone (AUC seeds 0-4 "
            "0.961/0.933/0.935/0.937/0.915 vs 0.953/0.921/0.928/0.928/0.919; before "
            "0.81-0.86 vs 0.87-0.89). Measured "
            "reasons it does not win: the clues add little beyond the score even with "
            "oracle labels (+0.01-0.02 AUC), context and class cannot enter the value "
            "because the protocol's at-least-one-per-image-and-class rule makes labelling "
            "propensity depend on crowding (they raised the held-out PU AUC while the true "
            "ranking fell to 0.80-0.90), so PECL's selection is close to a calibrated score "
            "threshold, and the explorer adds nothing over thresholding its value (ablation "
            "value_only 0.866/0.875/0.843); a second progressive round did not help on the "
            "development seeds. The explorer/evaluator/reward formulas are our reading (the "
            "paper's equations were not retrievable; the public repo has no explorer code); "
            "the detector is a CPU CenterNet-style stand-in for ReDet/S2A-Net (horizontal "
            "boxes); the 1024/200 crop step of cut.py is not re-implemented"
        ),
    )
)
