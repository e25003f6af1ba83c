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
        quick_decides=False,  # measured: 8 or 12 epochs leave the captioner behind retrieval
        dataset="geoneurips.vision_language.vrsbench.data:VRSBench",
        model="geoneurips.vision_language.vrsbench.model:SmallVLM",
        commands={
            "vrsbench-eval": "geoneurips.vision_language.vrsbench.cli:vrsbench_eval",
            "vrsbench-run": "geoneurips.vision_language.vrsbench.cli:vrsbench_run",
        },
        notes=(
            "PARTIAL since 2026-12-08: against the learned cheap baseline 'pixel linear' "
            "(the strongest on full seeds 0-4) the model leads the score by 16-25 points "
            "(margin 10) but its VQA All falls below it on seed 4 (74.9 vs 76.4), so seed "
            "4 decides False; details below. "
            "No real VRSBench file offline: readers checked on our fixture, hand-built "
            "records and TorchGeo's DOTA and DIOR fixtures (DOTA -> VRSBench objects match "
            "TorchGeo's polygons; DIOR -> VRSBench objects, formats.dior, match TorchGeo's "
            "boxes, DIOR-R oriented boxes not read). The benchmarked 7B VLMs (LoRA r64, 5 epochs) are not implemented: "
            "any model plugs in through vrsbench-run --endpoint (OpenAI-compatible); the "
            "training JSON's exact prompt wording is inferred. Captioning scores equal the "
            "published caption-eval route (pycocoevalcap, corpus-level CIDEr; SPICE not "
            "run) on the five published examples; no published scorer numbers exist for "
            "them. The GPT VQA judge and CLAIR run through an endpoint; the offline "
            "default is a MiniLM stand-in, not comparable to the paper. Demo (synthetic "
            "scenes, 8 of the 26 classes, score = mean of BLEU-4, Acc@0.5, VQA All; the "
            "small model trained with Lightning, 600 scenes, 40 epochs; the full demo "
            "decides, quick_decides False). 2026-12-08: a learned cheap baseline, 'pixel "
            "linear' (logistic regressions per question text and ridge box regressions per "
            "size+position phrase on downsampled pixels and 3x3-region colour histograms, "
            "consensus k-NN captions; C, alpha, k and poolings chosen per seed on a "
            "validation split of the training scenes; about 11 s CPU) is the strongest "
            "baseline on full seeds 0-4: "
            "61.2/62.9/64.9/64.8/67.7 (pixel retrieval 57.0/56.3/57.6/59.5/58.8). The "
            "model (unchanged, 86.3/82.3/81.2/86.4/84.0) leads it by "
            "25.0/19.4/16.2/21.5/16.3 (margin 10), but on seed 4 its VQA All 74.9 is below "
            "the linear arm's 76.4, an unexplained regression, so seed 4 decides False: "
            "status partial (margin not lowered, model not tuned). Seeds 0-3 decide True "
            "with no regression. VQA All model vs linear 77.6/78.3/75.5/76.4/74.9 vs "
            "72.3/73.2/74.3/73.5/76.4; the model is behind the linear arm on object "
            "existence on all five seeds (58-68 vs 75-81 %) and on object position on "
            "three (seeds 0/2/4)."
            " Diagnosis of that gap (2026-12-08; no defect found, the model is unchanged): "
            "no question, referring sentence or caption is truncated and none has an "
            "<unk> (tested), answers map both ways, existence answers are balanced (yes "
            "55 of 100 on seed 4's evaluation scenes), and colour, size and scene are "
            "93-100 % on evaluation scenes (seeds 0, 4). Existence is underfitted, not overfitted: at "
            "40 epochs the model gets 71.7/67.0 % on its own training scenes (seeds 4/0; "
            "evaluation 68/65). The question code is an MLP on the mean of the word "
            "embeddings, the class word 1 of 8 tokens: the 8 existence questions' codes "
            "have cosine 0.92-1.00, their attention keys group by colour (0.97-0.99 "
            "within a colour; each colour is shared by 2-3 of the 8 demo classes, told "
            "apart only by shape) and the attention stays nearly flat (largest weight "
            "0.09 vs 0.51 for position questions; 33 % of its mass on the asked class's "
            "boxes, which cover 11 % of the map). Diagnostic runs, not adopted "
            "(existence train/evaluation): the mean code times 8, 91.7/90.0 (seed 4) and "
            "89.3/83.0 (seed 0); the sum instead of the mean, 95.5/94.0; the VQA loss "
            "alone, 88.5/83.0 with colour, size and position falling; 80 epochs, "
            "95.2/88.0. So the question pathway learns too slowly for the 40-epoch "
            "budget: a design limit of this small model (the scale of its text code), "
            "not a bug. Object position is overfitted instead: 60.9 vs 40.4 % (seed 4; "
            "69.1 vs 56.0 seed 0; 95.4 vs 46.8 at 80 epochs), its attention sharp but "
            "only 40-47 % on the asked object; the linear arm's 3x3-region colour "
            "histograms line up with the nine named regions."
            " The quick demo trains 8 of the 40 epochs and reports without deciding (about "
            "26-29 s CPU with the linear arm, 19 s before; all 40 epochs took 55-67 s): "
            "seeds 0-4 55.1/53.1/50.9/58.4/46.3 vs pixel linear 61.9/63.0/68.3/65.8/68.0 "
            "(pixel retrieval 58.7/56.8/58.9/61.4/59.1; its captioner is still behind caption "
            "retrieval); 12 epochs did not decide either on development seeds 10/11 "
            "(63.0/63.1 vs 57.3/59.0 before the linear arm: leads under the margin, BLEU-4 "
            "and CIDEr regressions), nor did half the training scenes earlier (BLEU-4 below "
            "the text prior on seed 2)."
            " Budget audit (2026-12-07, full demo, every trained arm trained 2x longer, one "
            "thread): seed 0 score 87.0 vs pixel retrieval 57.0 (1x 86.3; the baselines "
            "then were all untrained), no regressions."
        ),
    )
)
