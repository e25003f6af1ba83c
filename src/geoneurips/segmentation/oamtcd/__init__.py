"""OAM-TCD: tree crown delineation dataset from OpenAerialMap (Veitch-Michaelis et al.,
NeurIPS 2024 Datasets & Benchmarks)."""

from ...registry import SystemSpec, register

register(
    SystemSpec(
        id="oamtcd",
        family="segmentation",
        status="partial",
        summary=(
            "OAM-TCD COCO export reader (tree / canopy by category name), U-Net + focal loss "
            "semantic baseline, tiled GeoTIFF tree-cover segmentation"
        ),
        demo="geoneurips.segmentation.oamtcd.pipeline:demo",
        dataset="geoneurips.segmentation.oamtcd.data:OAMTCD",
        model="geoneurips.segmentation.oamtcd.model:build_model",
        commands={"tcd-segment": "geoneurips.segmentation.oamtcd.cli:tcd_segment"},
        notes=(
            "Done: reader of the published COCO export layout (holdout/{images,masks,"
            "train.json,test.json}, kfold_<k>/{train,val}.json) with category ids mapped by "
            "NAME (ids differ between files: export canopy=1/tree=2, Darwin fixture "
            "tree=0/canopy=1), labels 0 background / 1 tree / 2 canopy (tree over canopy), "
            "instance maps, pycocotools-free polygon and RLE (list and compressed string, "
            "checked on real pycocotools strings) rasterisation; on the real sample tile the "
            "48 rasterised polygons match the published binary mask PNG at IoU 0.998. "
            "Global per-class accuracy/F1/IoU/P/R cross-checked with torchmetrics; COCO-style "
            "mask AP50 (hand values only: pycocotools is not installed). Models: smp "
            "UNet-R34/50/101 and SegFormer mit-b0..b5 (random init, built offline, shapes "
            "tested, not trained here), SmallUNet tiny config; focal loss = smp multiclass "
            "focal (cross-checked with smp). `tcd-segment` streams GeoTIFFs (tiles blended, "
            "nodata 255, grid kept, atomic). Demo on synthetic COCO-layout tiles (SmallUNet): "
            "tree IoU 0.986 vs. 0.123 for an excess-green threshold (margin 0.15), about 50 s "
            "on 1 thread (quick: 0.845 vs. 0.130, about 10 s). Missing: the Mask R-CNN "
            "instance baseline, a reader for the Hugging Face parquet shards (export with the "
            "reference tools first), pretrained weights (UNet-R50 IoU 0.849 in the paper is "
            "not reproduced)."
        ),
    )
)
