"""The catalog: the 26 papers of the collection, with our summaries and headline numbers.

Titles, authors and links are those of the collection file (``GeoAI in NeurIPS 2024``,
parsed by :mod:`geoneurips.catalog.parser`; ``tests/test_catalog.py`` checks that they still
agree). ``code_available`` says whether the *collection* gives a code link; some repositories
appeared later and are not reflected here. Summaries, tasks and datasets are written by us.
Headline numbers come from the project's research notes, each with the table or figure it
was read from; a paper without a number the notes could confirm has no headline.

Only the standard library is imported here, so ``geoneurips list/papers/info`` start fast.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from ..errors import UnknownSystemError

__all__ = ["PAPERS", "Headline", "Paper", "paper", "search"]


@dataclass(frozen=True)
class Headline:
    """One published number.

    Attributes:
        metric: what is measured, with its unit where it has one, e.g. ``"mIoU (%)"``.
        value: the number as published.
        dataset: the dataset or split it was measured on.
        source: where it was read, e.g. ``"Table 2"``, ``"README table"``, ``"abstract"``.
        note: the method or setting behind the number, and any caveat.
    """

    metric: str
    value: float
    dataset: str
    source: str
    note: str = ""


@dataclass(frozen=True)
class Paper:
    """One paper of the collection.

    Attributes:
        id: the system id (a key of :data:`geoneurips.registry.SYSTEM_FAMILIES`).
        title: the title exactly as the collection writes it.
        authors: the authors as the collection lists them.
        paper_url: the ``Paper`` link of the collection, ``None`` where it says ``Null``.
        code_url: the code link of the collection, ``None`` where it has none.
        data_url: the dataset link of the collection, ``None`` where it has none.
        code_available: whether the collection gives a code link.
        tags: e.g. ``("Spotlight",)``.
        family: the family folder of the system (``location``, ``change``, ...).
        tasks: the tasks the paper addresses.
        datasets: the datasets it introduces or evaluates on.
        summary: two or three sentences of our own.
        headlines: published numbers, see :class:`Headline`.
    """

    id: str
    title: str
    authors: tuple[str, ...]
    paper_url: str | None
    code_url: str | None
    data_url: str | None
    code_available: bool
    tags: tuple[str, ...]
    family: str
    tasks: tuple[str, ...]
    datasets: tuple[str, ...]
    summary: str
    headlines: tuple[Headline, ...] = ()

    @property
    def spotlight(self) -> bool:
        """Whether the collection marks the paper as a spotlight."""
        return "Spotlight" in self.tags

    def searchable_text(self) -> str:
        """The lower-cased text that :func:`search` looks in."""
        parts = [self.id, self.title, *self.authors, self.summary, *self.tasks, *self.datasets]
        return "\n".join(parts).lower()


#: The 26 papers, in the order of the collection.
PAPERS: tuple[Paper, ...] = (
    Paper(
        id="fusu",
        title=(
            "FUSU: A Multi-temporal-source Land Use Change Segmentation Dataset for Fine-grained "
            "Urban Semantic Understanding"
        ),
        authors=(
            "Shuai Yuan",
            "Guancong Lin",
            "Lixian Zhang",
            "Runmin Dong",
            "Jinxiao Zhang",
            "Shuang Chen",
            "Juepeng Zheng",
            "Jie Wang",
            "Haohuan Fu",
        ),
        paper_url="https://arxiv.org/pdf/2405.19055",
        code_url="https://github.com/yuanshuai0914/FUSU",
        data_url="https://github.com/yuanshuai0914/FUSU",
        code_available=True,
        tags=(),
        family="change",
        tasks=("semantic change detection", "land-use segmentation"),
        datasets=("FUSU",),
        summary=(
            "FUSU is a land-use change dataset over five Chinese cities: pairs of 0.2-0.5 m "
            "images with 17-class land-use labels for both dates, plus monthly Sentinel-1/2 time "
            "series of the same places. The authors also propose a network that joins a Siamese "
            "high-resolution branch with a satellite time-series branch, so one model predicts "
            "both land-use maps and the change between them."
        ),
        headlines=(),
    ),
    Paper(
        id="synrs3d",
        title=(
            "SynRS3D: A Synthetic Dataset for Global 3D Semantic Understanding from Monocular "
            "Remote Sensing Imagery"
        ),
        authors=(
            "Jian Song",
            "Hongruixuan Chen",
            "Weihao Xuan",
            "Junshi Xia",
            "Naoto YOKOYA",
        ),
        paper_url="https://arxiv.org/abs/2406.18151v1",
        code_url="https://github.com/JTRNEO/SynRS3D",
        data_url="https://github.com/JTRNEO/SynRS3D",
        code_available=True,
        tags=("Spotlight",),
        family="segmentation",
        tasks=(
            "monocular height estimation",
            "land-cover segmentation",
            "unsupervised domain adaptation",
        ),
        datasets=("SynRS3D", "DFC18", "DFC19", "GeoNRW", "OGC", "OpenEarthMap"),
        summary=(
            "SynRS3D is a large synthetic remote-sensing dataset of rendered cities with "
            "land-cover labels, height maps and building-change masks for every image. Its "
            "companion method RS3DAda adapts a multi-task model trained on these synthetic images "
            "to real imagery (mean teacher, class mixing, pseudo-label weighting and a feature "
            "constraint), for monocular height estimation and land-cover mapping."
        ),
        headlines=(
            Headline(
                metric="MAE whole (m)",
                value=2.534,
                dataset="mean of 7 real target sets",
                source="README table",
                note="RS3DAda; source-only 3.103",
            ),
            Headline(
                metric="RMSE whole (m)",
                value=4.122,
                dataset="mean of 7 real target sets",
                source="README table",
                note="RS3DAda; source-only 5.040",
            ),
            Headline(
                metric="F1^HE (delta<1.25)",
                value=0.467,
                dataset="mean of 7 real target sets",
                source="README table",
                note="RS3DAda; source-only 0.408",
            ),
            Headline(
                metric="land-cover mIoU",
                value=47.85,
                dataset="OpenEarthMap",
                source="README table",
                note="RS3DAda; source-only 40.70",
            ),
        ),
    ),
    Paper(
        id="anychange",
        title="Segment Any Change",
        authors=("Zhuo Zheng", "Yanfei Zhong", "Liangpei Zhang", "Stefano Ermon"),
        paper_url="https://arxiv.org/abs/2402.01188",
        code_url="https://github.com/Z-Zheng/pytorch-change-models",
        data_url=None,
        code_available=True,
        tags=(),
        family="change",
        tasks=("zero-shot change detection", "change instance proposal"),
        datasets=("LEVIR-CD", "S2Looking", "xView2", "SECOND"),
        summary=(
            "AnyChange makes the Segment Anything Model detect changes between two dates without "
            "any training. Masks proposed on either image are compared through their SAM "
            "embeddings on both dates, and a large angle between the two embeddings marks a "
            "change; a point-query mode keeps only changes of objects like a clicked example."
        ),
        headlines=(
            Headline(
                metric="F1 gain over previous unsupervised best (points)",
                value=4.4,
                dataset="SECOND",
                source="abstract",
                note="unsupervised change detection",
            ),
        ),
    ),
    Paper(
        id="ssdiff",
        title=(
            "SSDiff: Spatial-spectral Integrated Diffusion Model for Remote Sensing Pansharpening"
        ),
        authors=("Yu Zhong", "Xiao Wu", "Liang-Jian Deng", "ZiHan Cao", "Hong-Xia Dou"),
        paper_url="https://arxiv.org/abs/2404.11537",
        code_url=None,
        data_url=None,
        code_available=False,
        tags=(),
        family="restoration",
        tasks=("pansharpening",),
        datasets=("WorldView-3", "WorldView-2", "GaoFen-2", "QuickBird"),
        summary=(
            "SSDiff treats pansharpening as conditional diffusion with a denoiser split into a "
            "spatial branch, fed with the panchromatic image, and a spectral branch, fed with the "
            "upsampled multispectral image. An attention module fuses spatial and spectral "
            "self-similarity between the branches, a frequency modulation rebalances them, and a "
            "final stage fine-tunes one branch at a time."
        ),
        headlines=(
            Headline(
                metric="Q8",
                value=0.915,
                dataset="WorldView-3 reduced resolution",
                source="SALAD-Pan README table",
                note="third-party re-tabulation, mean over 20 test images",
            ),
            Headline(
                metric="SAM (deg)",
                value=2.843,
                dataset="WorldView-3 reduced resolution",
                source="SALAD-Pan README table",
                note="third-party re-tabulation",
            ),
            Headline(
                metric="ERGAS",
                value=2.106,
                dataset="WorldView-3 reduced resolution",
                source="SALAD-Pan README table",
                note="third-party re-tabulation",
            ),
            Headline(
                metric="HQNR",
                value=0.956,
                dataset="WorldView-3 full resolution",
                source="SALAD-Pan README table",
                note="third-party re-tabulation",
            ),
        ),
    ),
    Paper(
        id="feinfn",
        title=(
            "Fourier-enhanced Implicit Neural Fusion Network for Multispectral and Hyperspectral "
            "Image Fusion"
        ),
        authors=(
            "YuJie Liang",
            "ZiHan Cao",
            "Shangqi Deng",
            "Hong-Xia Dou",
            "Liang-Jian Deng",
        ),
        paper_url="https://arxiv.org/abs/2404.15174",
        code_url=None,
        data_url=None,
        code_available=False,
        tags=(),
        family="restoration",
        tasks=(
            "hyperspectral and multispectral image fusion",
            "hyperspectral super-resolution",
        ),
        datasets=("CAVE", "Harvard"),
        summary=(
            "FeINFN fuses a low-resolution hyperspectral image with a high-resolution RGB or "
            "multispectral image through an implicit neural function that can be queried at any "
            "pixel coordinate. Latent codes are processed both in space and in the Fourier domain "
            "(amplitude and phase separately), and a decoder with complex Gabor wavelet "
            "activations predicts the residual over the upsampled hyperspectral image."
        ),
        headlines=(
            Headline(
                metric="PSNR (dB)",
                value=52.47,
                dataset="CAVE x4",
                source="third-party table",
                note="notes mark it 'verify'",
            ),
            Headline(
                metric="SAM (deg)",
                value=1.91,
                dataset="CAVE x4",
                source="third-party table",
                note="notes mark it 'verify'",
            ),
            Headline(
                metric="ERGAS",
                value=0.98,
                dataset="CAVE x4",
                source="third-party table",
                note="notes mark it 'verify'",
            ),
            Headline(
                metric="SSIM",
                value=0.998,
                dataset="CAVE x4",
                source="third-party table",
                note="notes mark it 'verify'",
            ),
        ),
    ),
    Paper(
        id="torchspatial",
        title=(
            "TorchSpatial: A Location Encoding Framework and Benchmark for Spatial Representation "
            "Learning"
        ),
        authors=(
            "Nemin Wu",
            "Qian Cao",
            "Zhangyu Wang",
            "Zeping Liu",
            "Yanlin Qi",
            "Jielu Zhang",
            "Joshua Ni",
            "X. Yao",
            "Hongxu Ma",
            "Lan Mu",
            "Stefano Ermon",
            "Tanuja Ganu",
            "Akshay Nambi",
            "Ni Lao",
            "Gengchen Mai",
        ),
        paper_url="https://arxiv.org/abs/2406.15658",
        code_url="https://github.com/seai-lab/TorchSpatial",
        data_url=None,
        code_available=True,
        tags=(),
        family="location",
        tasks=(
            "location encoding",
            "geo-aware image classification",
            "geo-aware regression",
            "geographic bias",
        ),
        datasets=(
            "LocBench",
            "BirdSnap",
            "NABirds",
            "iNat2017",
            "iNat2018",
            "YFCC",
            "fMoW",
            "MOSAIKS",
            "SustainBench",
        ),
        summary=(
            "TorchSpatial puts 15 location encoders (grid, spherical, random-feature, tile and "
            "other position encodings) behind one interface and compares them as location priors "
            "on LocBench, 7 geo-aware classification and 4 regression datasets. It also "
            "introduces the Geo-Bias Score, which measures how unevenly a model's performance is "
            "spread over space."
        ),
        headlines=(
            Headline(
                metric="top-1 accuracy (%)",
                value=80.9,
                dataset="BirdSnap†",
                source="README figure",
                note="Sphere2Vec-sphereC+; no prior 70.07",
            ),
            Headline(
                metric="top-1 accuracy (%)",
                value=73.52,
                dataset="iNat2018",
                source="README figure",
                note="Space2Vec-theory; no prior 60.20",
            ),
            Headline(
                metric="R^2",
                value=0.82,
                dataset="MOSAIKS elevation",
                source="README figure",
                note="Sphere2Vec sphereC/C+/M; no prior 0.27",
            ),
            Headline(
                metric="Geo-Bias Score (marked)",
                value=42.98,
                dataset="BirdSnap",
                source="README figure",
                note="Space2Vec-theory, the highest; no prior 33.11",
            ),
        ),
    ),
    Paper(
        id="opensatmap",
        title=(
            "OpenSatMap: A Fine-grained High-resolution Satellite Dataset for Large-scale Map "
            "Construction"
        ),
        authors=(
            "Hongbo Zhao",
            "Lue Fan",
            "Yuntao Chen",
            "Haochen Wang",
            "yuran Yang",
            "Xiaojuan Jin",
            "YIXIN ZHANG",
            "GAOFENG MENG",
            "ZHAO-XIANG ZHANG",
        ),
        paper_url=None,
        code_url=None,
        data_url="https://opensatmap.github.io/",
        code_available=False,
        tags=(),
        family="segmentation",
        tasks=(
            "road-marking instance segmentation",
            "semantic segmentation",
            "map construction",
        ),
        datasets=("OpenSatMap",),
        summary=(
            "OpenSatMap offers very high resolution satellite images (map zoom levels 19 and 20, "
            "down to 0.15 m) of many cities, annotated with instance-level polylines of lane "
            "lines, curbs and virtual lines and their attributes. Parts of it are aligned with "
            "nuScenes and Argoverse 2, tying satellite map construction to autonomous driving."
        ),
        headlines=(),
    ),
    Paper(
        id="allclear",
        title=(
            "AllClear: A Comprehensive Dataset and Benchmark for Cloud Removal in Satellite Imagery"
        ),
        authors=(
            "Hangyu Zhou",
            "Chia-Hsiang Kao",
            "Cheng Perng Phoo",
            "Utkarsh Mall",
            "Bharath Hariharan",
            "Kavita Bala",
        ),
        paper_url=None,
        code_url=None,
        data_url="https://allclear.cs.cornell.edu/",
        code_available=False,
        tags=(),
        family="restoration",
        tasks=("cloud removal", "multi-temporal reconstruction"),
        datasets=("AllClear",),
        summary=(
            "AllClear is a cloud-removal benchmark of 23,742 regions followed through 2022 with "
            "Sentinel-2, Sentinel-1 and Landsat 8/9, together with cloud and shadow masks and "
            "land-cover maps. Scores are computed only on clear target pixels, and the benchmark "
            "shows cloud-removal quality still improving as training data grows."
        ),
        headlines=(
            Headline(
                metric="PSNR (dB)",
                value=33.87,
                dataset="AllClear test",
                source="abstract",
                note="UnCRtainTS trained on all of AllClear; 28.47 with 30x less data",
            ),
        ),
    ),
    Paper(
        id="kurosiwo",
        title=(
            "Kuro Siwo: 33 billion $m^2$ under the water. A global multi-temporal satellite "
            "dataset for rapid flood mapping"
        ),
        authors=(
            "Nikolaos Bountos",
            "Maria Sdraka",
            "Angelos Zavras",
            "Andreas Karavias",
            "Ilektra Karasante",
            "Themistocles Herekakis",
            "Angeliki Thanasou",
            "Dimitrios Michail",
            "Ioannis Papoutsis",
        ),
        paper_url="https://arxiv.org/abs/2311.12056",
        code_url="https://github.com/Orion-AI-Lab/KuroSiwo",
        data_url=None,
        code_available=True,
        tags=(),
        family="segmentation",
        tasks=("flood mapping", "SAR semantic segmentation", "change detection"),
        datasets=("Kuro Siwo",),
        summary=(
            "Kuro Siwo is a hand-labelled flood-mapping dataset built from Sentinel-1 radar over "
            "43 flood events worldwide; each sample pairs one post-event with two pre-event "
            "acquisitions and marks permanent water and flooded land. A large unlabelled archive "
            "and benchmarks of segmentation and change-detection models come with it."
        ),
        headlines=(
            Headline(
                metric="flood F1 (%)",
                value=85.0,
                dataset="Kuro Siwo",
                source="arXiv v1 abstract",
                note="approximate (about 85%)",
            ),
            Headline(
                metric="water F1 (%)",
                value=87.0,
                dataset="Kuro Siwo",
                source="arXiv v1 abstract",
                note="approximate (about 87%)",
            ),
        ),
    ),
    Paper(
        id="vrsbench",
        title=(
            "VRSBench: A Versatile Vision-Language Benchmark Dataset for Remote Sensing Image "
            "Understanding"
        ),
        authors=("Xiang Li", "Jian Ding", "Mohamed Elhoseiny"),
        paper_url="https://arxiv.org/pdf/2406.12384",
        code_url="https://github.com/lx709/VRSBench",
        data_url="https://github.com/lx709/VRSBench",
        code_available=True,
        tags=(),
        family="vision_language",
        tasks=("image captioning", "visual grounding", "visual question answering"),
        datasets=("VRSBench", "DOTA-v2", "DIOR"),
        summary=(
            "VRSBench is a vision-language benchmark of 29,614 remote-sensing images with "
            "human-checked detailed captions, object referring expressions with boxes, and "
            "question-answer pairs. It scores three abilities (describing a scene, locating the "
            "object a sentence refers to, and answering questions about the image) and reports "
            "both fine-tuned and zero-shot large vision-language models."
        ),
        headlines=(
            Headline(
                metric="CIDEr",
                value=33.9,
                dataset="VRSBench captioning",
                source="README table",
                note="LLaVA-1.5 fine-tuned",
            ),
            Headline(
                metric="Acc@0.5 (%)",
                value=49.8,
                dataset="VRSBench grounding",
                source="README table",
                note="GeoChat fine-tuned",
            ),
            Headline(
                metric="VQA accuracy, all types (%)",
                value=77.8,
                dataset="VRSBench VQA",
                source="README table",
                note="Mini-Gemini fine-tuned; unweighted mean over 10 question types",
            ),
        ),
    ),
    Paper(
        id="garner",
        title="Road Network Representation Learning with the Third Law of Geography",
        authors=(
            "Haicang Zhou",
            "Weiming Huang",
            "Yile Chen",
            "Tiantian He",
            "Gao Cong",
            "Yew Soon Ong",
        ),
        paper_url="https://arxiv.org/abs/2406.04038",
        code_url=None,
        data_url=None,
        code_available=False,
        tags=(),
        family="graphs",
        tasks=(
            "road network representation learning",
            "road function classification",
            "traffic speed regression",
        ),
        datasets=("Singapore road network", "New York City road network"),
        summary=(
            "Garner learns embeddings of road segments by contrastive learning built on two "
            "geographic laws: nearby roads are alike (first law), and roads in similar "
            "surroundings, as seen in street-view images, are alike (third law). The third law "
            "enters through a similarity graph on street-view features with random regular graphs "
            "as negatives, and the embeddings are tested on road-function classification and "
            "speed regression."
        ),
        headlines=(),
    ),
    Paper(
        id="solarcube",
        title=(
            "SolarCube: An Integrative Benchmark Dataset Harnessing Satellite and In-situ "
            "Observations for Large-scale Solar Energy Forecasting"
        ),
        authors=(
            "Ruohan Li",
            "Yiqun Xie",
            "Xiaowei Jia",
            "Dongdong Wang",
            "Yanhua Li",
            "Yingxue Zhang",
            "Zhihao Wang",
            "Zhili Li",
        ),
        paper_url=None,
        code_url="https://github.com/Ruohan-Li/SolarCube",
        data_url="https://doi.org/10.5281/zenodo.11498739",
        code_available=True,
        tags=(),
        family="forecasting",
        tasks=("solar radiation forecasting", "spatio-temporal forecasting"),
        datasets=("SolarCube",),
        summary=(
            "SolarCube combines geostationary satellite images, satellite-derived surface solar "
            "radiation and ground-station measurements for 19 areas on four continents, at "
            "15-minute steps. It defines solar radiation forecasting at single stations and over "
            "whole areas, from 30 minutes to a day ahead, and benchmarks sequence and video "
            "forecasting models."
        ),
        headlines=(),
    ),
    Paper(
        id="g3",
        title=(
            "G3: An Effective and Adaptive Framework for Worldwide Geolocalization Using Large "
            "Multi-Modality Models"
        ),
        authors=(
            "Pengyue Jia",
            "Yiding Liu",
            "Xiaopeng Li",
            "Xiangyu Zhao",
            "Yuhao Wang",
            "Yantong Du",
            "Xiao Han",
            "Xuetao Wei",
            "Shuaiqiang Wang",
            "Dawei Yin",
        ),
        paper_url="https://arxiv.org/abs/2405.14702",
        code_url="https://anonymous.4open.science/r/G3-937C",
        data_url=None,
        code_available=True,
        tags=(),
        family="location",
        tasks=("image geolocalization", "retrieval-augmented generation"),
        datasets=("MP16-Pro", "IM2GPS3K", "YFCC4K"),
        summary=(
            "G3 geolocates a photo in three steps: it aligns image, GPS and text embeddings, asks "
            "a large multimodal model for candidate coordinates with retrieved similar and "
            "dissimilar images as context, and keeps the candidate whose location embedding best "
            "matches the image. It is scored by the share of predictions within 1 to 2,500 km of "
            "the true place."
        ),
        headlines=(
            Headline(
                metric="accuracy within 1 km (%)",
                value=16.65,
                dataset="IM2GPS3K",
                source="paper (recalled in notes)",
                note="not verified against the paper",
            ),
            Headline(
                metric="accuracy within 25 km (%)",
                value=40.94,
                dataset="IM2GPS3K",
                source="paper (recalled in notes)",
                note="not verified against the paper",
            ),
            Headline(
                metric="accuracy within 1 km (%)",
                value=23.99,
                dataset="YFCC4K",
                source="paper (recalled in notes)",
                note="not verified against the paper",
            ),
            Headline(
                metric="accuracy within 25 km (%)",
                value=35.89,
                dataset="YFCC4K",
                source="paper (recalled in notes)",
                note="not verified against the paper",
            ),
        ),
    ),
    Paper(
        id="gomaageo",
        title="GOMAA-Geo: GOal Modality Agnostic Active Geo-localization",
        authors=(
            "Anindya Sarkar",
            "Srikumar Sastry",
            "Aleksis Pirinen",
            "Chongjie Zhang",
            "Nathan Jacobs",
            "Yevgeniy Vorobeychik",
        ),
        paper_url="https://arxiv.org/abs/2406.01917",
        code_url="https://github.com/mvrl/GOMAA-Geo",
        data_url=None,
        code_available=True,
        tags=(),
        family="location",
        tasks=(
            "active geo-localization",
            "reinforcement learning",
            "cross-modal retrieval",
        ),
        datasets=("Masa", "xBD", "MM-GAG"),
        summary=(
            "GOMAA-Geo is an agent for active geo-localization: it moves across a grid of aerial "
            "patches to find a goal given as an aerial image, a ground photo or a text. Goals and "
            "observations share a CLIP-aligned embedding space, a causal transformer is "
            "pretrained to predict moves that bring it closer, and a reinforcement-learning "
            "policy on top transfers zero-shot to new goal types and areas."
        ),
        headlines=(),
    ),
    Paper(
        id="stvd",
        title="Precipitation Downscaling with Spatiotemporal Video Diffusion",
        authors=(
            "Prakhar Srivastava",
            "Ruihan Yang",
            "Gavin Kerrigan",
            "Gideon Dresdner",
            "Jeremy McGibbon",
            "Christopher S",
            "Bretherton",
            "Stephan Mandt",
        ),
        paper_url="https://arxiv.org/abs/2312.06071",
        code_url=None,
        data_url=None,
        code_available=False,
        tags=(),
        family="restoration",
        tasks=("precipitation downscaling", "video super-resolution", "diffusion"),
        datasets=("FV3GFS",),
        summary=(
            "STVD downscales coarse precipitation fields eight times in space with a video model: "
            "a deterministic network with temporal attention predicts the high-resolution field, "
            "and a conditional diffusion model adds the missing residual detail. Trained on "
            "FV3GFS climate simulations, it is judged on distributional and extreme-value metrics "
            "as well as on pixel error."
        ),
        headlines=(),
    ),
    Paper(
        id="geoplant",
        title="GeoLife: Spacial Plant Species Prediction Dataset",
        authors=(
            "Lukas Picek",
            "Christophe Botella",
            "Maximilien Servajean",
            "César Leblanc",
            "Rémi Palard",
            "Theo Larcher",
            "Benjamin Deneu",
            "Diego Marcos",
            "Pierre Bonnet",
            "alexis joly",
        ),
        paper_url="https://arxiv.org/abs/2408.13928",
        code_url=None,
        data_url="https://www.kaggle.com/datasets/picekl/geoplant",
        code_available=False,
        tags=(),
        family="location",
        tasks=("species distribution modelling", "multi-label classification"),
        datasets=("GeoPlant", "GeoLifeCLEF 2024"),
        summary=(
            "GeoPlant (the GeoLifeCLEF 2024 data) is a European dataset for species distribution "
            "models with about 5 million presence-only records and 90 thousand presence-absence "
            "surveys over more than 10,000 plant species. Each record comes with Sentinel-2 "
            "patches, Landsat and climate time series and environmental rasters, and baselines "
            "predict the set of species found at a site."
        ),
        headlines=(
            Headline(
                metric="AUC (%)",
                value=94.0,
                dataset="GeoPlant presence-absence",
                source="docs site table",
                note="multimodal ensemble climate + Landsat + Sentinel-2",
            ),
            Headline(
                metric="recall (%)",
                value=49.7,
                dataset="GeoPlant presence-absence",
                source="docs site table",
                note="multimodal ensemble climate + Landsat + Sentinel-2",
            ),
            Headline(
                metric="F1 top-25 (%)",
                value=34.1,
                dataset="GeoPlant presence-absence",
                source="docs site table",
                note="multimodal ensemble climate + Landsat + Sentinel-2",
            ),
        ),
    ),
    Paper(
        id="terra",
        title="Terra: A Multimodal Spatio-Temporal Dataset Spanning the Earth",
        authors=("Wei Chen", "Xixuan Hao", "Yuankai Wu", "Yuxuan Liang"),
        paper_url=None,
        code_url="https://anonymous.4open.science/r/Terra",
        data_url="https://anonymous.4open.science/r/Terra",
        code_available=True,
        tags=(),
        family="forecasting",
        tasks=("spatio-temporal forecasting", "spatial prediction"),
        datasets=("Terra",),
        summary=(
            "Terra is a global multimodal spatio-temporal dataset: hourly meteorological series "
            "on 6.48 million grid cells over 45 years, with geographic images and generated text "
            "describing each place. Its released tasks are regional rainfall forecasting on "
            "graphs of grid cells and spatial prediction of climate variables from location "
            "embeddings."
        ),
        headlines=(),
    ),
    Paper(
        id="deblora",
        title="Learning De-Biased Representations for Remote-Sensing Imagery",
        authors=("Zichen Tian", "Zhaozheng CHEN", "QIANRU SUN"),
        paper_url="https://arxiv.org/abs/2410.04546",
        code_url=None,
        data_url=None,
        code_available=False,
        tags=(),
        family="learning",
        tasks=(
            "long-tailed recognition",
            "parameter-efficient fine-tuning",
            "oriented object detection",
        ),
        datasets=("DOTA", "FUSRS"),
        summary=(
            "debLoRA reduces the bias toward frequent classes that appears when a pretrained "
            "model is adapted to remote sensing with LoRA. It clusters the features of all "
            "classes without labels, pulls rare-class features toward a de-biased centre made "
            "from the cluster centres, and trains an extra LoRA module to produce such features; "
            "it is tested on optical (DOTA) and SAR (FUSRS) long-tailed data."
        ),
        headlines=(
            Headline(
                metric="tail-class gain (points)",
                value=3.3,
                dataset="DOTA",
                source="abstract",
                note="natural images to optical remote sensing",
            ),
            Headline(
                metric="tail-class gain (points)",
                value=4.7,
                dataset="FUSRS",
                source="abstract",
                note="optical remote sensing to SAR",
            ),
        ),
    ),
    Paper(
        id="mmmrs",
        title=(
            "MMM-RS: A Multi-modal, Multi-GSD, Multi-scene Remote Sensing Dataset and Benchmark "
            "for Text-to-Image Generation"
        ),
        authors=(
            "jialin luo",
            "Yuanzhi Wang",
            "Ziqi Gu",
            "Yide Qiu",
            "Shuaizhen Yao",
            "Fuyun Wang",
            "Chunyan Xu",
            "Wenhua Zhang",
            "Dan Wang",
            "Zhen Cui",
        ),
        paper_url=None,
        code_url=None,
        data_url="https://anonymous.4open.science/r/MMM-RS-C73A/",
        code_available=False,
        tags=(),
        family="vision_language",
        tasks=("text-to-image generation", "cross-modal image generation"),
        datasets=("MMM-RS",),
        summary=(
            "MMM-RS is a remote-sensing text-to-image dataset of about 2.1 million image-text "
            "pairs drawn from nine public datasets, covering RGB, SAR and near-infrared images, "
            "many ground sample distances and synthesised weather. Images are standardised to "
            "512x512 and prompts state resolution, weather, a generated caption and the sensor; a "
            "fine-tuned Stable Diffusion is the benchmark model."
        ),
        headlines=(
            Headline(
                metric="FID",
                value=92.33,
                dataset="MMM-RS",
                source="BenchmarkCards summary",
                note="unverified",
            ),
            Headline(
                metric="IS",
                value=7.21,
                dataset="MMM-RS",
                source="BenchmarkCards summary",
                note="unverified",
            ),
        ),
    ),
    Paper(
        id="cosmic",
        title="COSMIC: Compress Satellite Image Efficiently via Diffusion Compensation",
        authors=(
            "Ziyuan Zhang",
            "Han Qiu",
            "Zhang Maosen",
            "Jun Liu",
            "Bin Chen",
            "Tianwei Zhang",
            "Hewu Li",
        ),
        paper_url=None,
        code_url=None,
        data_url=None,
        code_available=False,
        tags=(),
        family="restoration",
        tasks=("learned image compression", "conditional diffusion"),
        datasets=("fMoW",),
        summary=(
            "COSMIC compresses satellite images with a light encoder meant to run on board, and "
            "restores detail on the ground with a diffusion model conditioned on the decoded "
            "latent and on the image's metadata (location, time, resolution, cloud cover). It "
            "aims at better rate versus perceptual and distortion quality than learned codecs "
            "whose encoders are too heavy for satellites."
        ),
        headlines=(),
    ),
    Paper(
        id="pecl",
        title=(
            "Progressive Exploration-Conformal Learning for Sparsely Annotated Object Detection "
            "in Aerial Images"
        ),
        authors=("Zihan Lu", "Chunyan Xu", "wang chenxu", "Xiangwei Zheng", "Zhen Cui"),
        paper_url=None,
        code_url=None,
        data_url=None,
        code_available=False,
        tags=(),
        family="learning",
        tasks=(
            "sparsely annotated object detection",
            "pseudo-labelling",
            "reinforcement learning",
        ),
        datasets=("DOTA-v1.0", "HRSC2016"),
        summary=(
            "PECL addresses object detection in aerial images when only a fraction of the objects "
            "is labelled. Choosing pseudo-labels is cast as a sequential decision: an explorer "
            "accepts or rejects candidates from class probabilities, prototype similarity and a "
            "conformal confidence, an evaluator rewards the choices, and the detector is "
            "retrained progressively on the accepted labels."
        ),
        headlines=(
            Headline(
                metric="mAP (%)",
                value=63.72,
                dataset="not recorded in the notes",
                source="feature ablation table (via summary)",
                note="setting IV: probability + similarity + confidence",
            ),
        ),
    ),
    Paper(
        id="districtnet",
        title="DistrictNet: Decision-aware learning for geographical districting",
        authors=("Cheikh Ahmed", "Alexandre Forel", "Axel Parmentier", "Thibaut Vidal"),
        paper_url=None,
        code_url=None,
        data_url=None,
        code_available=False,
        tags=(),
        family="graphs",
        tasks=(
            "geographical districting",
            "decision-focused learning",
            "combinatorial optimisation",
        ),
        datasets=(
            "synthetic cities",
            "Bristol",
            "Leeds",
            "London",
            "Lyon",
            "Manchester",
            "Marseille",
            "Paris",
        ),
        summary=(
            "DistrictNet splits a territory into delivery districts by putting a capacitated "
            "minimum spanning tree solver inside a graph neural network: the network predicts "
            "edge costs and the solver turns them into a districting. It is trained end to end "
            "against optimal districtings of small cities and then applied to large real cities, "
            "where it lowers the expected routing cost."
        ),
        headlines=(
            Headline(
                metric="cost reduction (%)",
                value=10.0,
                dataset="real-world cities",
                source="abstract",
                note="average over cities, versus existing methods",
            ),
        ),
    ),
    Paper(
        id="sgnet",
        title=(
            "Toward Real Ultra Image Segmentation: Leveraging Surrounding Context to Cultivate "
            "General Segmentation Model"
        ),
        authors=("Sai Wang", "Yutian Lin", "Yu Wu", "Bo Du"),
        paper_url=None,
        code_url=None,
        data_url=None,
        code_available=False,
        tags=(),
        family="segmentation",
        tasks=("ultra-high-resolution segmentation", "semantic segmentation"),
        datasets=("DeepGlobe", "Inria Aerial", "Gleason", "Cityscapes", "Five-Billion-Pixels"),
        summary=(
            "SGNet segments ultra-high-resolution images with plain sliding-window inference, but "
            "gives each window a larger surrounding view handled by a light context branch. The "
            "context features of the window's region are merged with those of any general "
            "segmentation model, and a consistency loss on overlaps between neighbouring windows "
            "removes seams."
        ),
        headlines=(),
    ),
    Paper(
        id="idee",
        title="Identifying spatio-temporal relations between anomalies and extreme events",
        authors=("Mohamad Hakam Shams Eddin", "Jürgen Gall"),
        paper_url=None,
        code_url=None,
        data_url=None,
        code_available=False,
        tags=(),
        family="forecasting",
        tasks=("extreme event detection", "anomaly detection", "driver attribution"),
        datasets=("synthetic benchmarks", "ERA5-Land", "CERRA", "NOAA VHI"),
        summary=(
            "This work finds which anomalies in climate variables drive extreme events such as "
            "droughts, allowing for spatial spread and time lags. The network must predict the "
            "extremes only from binary anomaly masks that a one-bit quantiser produces for each "
            "variable, so the masks it learns point at the driving anomalies; synthetic "
            "benchmarks with known drivers and real reanalysis data are used for evaluation."
        ),
        headlines=(),
    ),
    Paper(
        id="seco",
        title="Connectivity-Driven Pseudo-Labeling Makes Stronger Cross-Domain Segmenters",
        authors=("Dong Zhao", "Shuang Wang", "Qi Zang", "Nicu Sebe", "Zhun Zhong"),
        paper_url=None,
        code_url=None,
        data_url=None,
        code_available=False,
        tags=(),
        family="segmentation",
        tasks=(
            "domain adaptive semantic segmentation",
            "domain generalization",
            "pseudo-labelling",
        ),
        datasets=("GTA5", "SYNTHIA", "Cityscapes", "BDD100K"),
        summary=(
            "SeCo improves pseudo-labels for cross-domain semantic segmentation by reasoning "
            "about connected regions instead of single pixels. It first grows speckled "
            "pseudo-labels into coherent regions with the help of SAM, then trains a small "
            "classifier that finds and corrects noisy connected components before self-training."
        ),
        headlines=(
            Headline(
                metric="mIoU (%)",
                value=64.6,
                dataset="GTA5 to Cityscapes",
                source="README table",
                note="source-free, DeepLab-R101; DTST alone 55.1",
            ),
            Headline(
                metric="mIoU (%)",
                value=59.2,
                dataset="SYNTHIA to Cityscapes",
                source="README table",
                note="source-free, DeepLab-R101; DTST alone 52.3",
            ),
            Headline(
                metric="mIoU (%)",
                value=44.3,
                dataset="GTA5 to BDD100K",
                source="README table",
                note="source-free, DeepLab-R101; SFOCDA alone 37.9",
            ),
        ),
    ),
    Paper(
        id="oamtcd",
        title="OAM-TCD: A globally diverse dataset of high-resolution tree cover maps",
        authors=(
            "Josh Veitch-Michaelis",
            "Andrew Cottam",
            "Daniella Schweizer",
            "Eben Broadbent",
            "David Dao",
            "Ce Zhang",
            "Angelica Almeyda Zambrano",
            "Simeon Max",
        ),
        paper_url="https://arxiv.org/abs/2407.11743",
        code_url="https://restor-foundation.github.io/tcd/dataset/",
        data_url="https://restor-foundation.github.io/tcd/dataset/",
        code_available=True,
        tags=(),
        family="segmentation",
        tasks=("tree cover segmentation", "tree instance segmentation"),
        datasets=("OAM-TCD",),
        summary=(
            "OAM-TCD is a worldwide dataset of 5,072 aerial tiles at 10 cm from OpenAerialMap "
            "with hand-checked instance masks of individual trees and tree groups. It comes with "
            "reference semantic (tree cover) and instance (single tree) segmentation models, "
            "evaluated by cross-validation and against tree inventories and canopy maps in "
            "Zurich."
        ),
        headlines=(
            Headline(
                metric="IoU",
                value=0.876,
                dataset="OAM-TCD holdout test",
                source="docs table",
                note="SegFormer-b5",
            ),
            Headline(
                metric="F1",
                value=0.902,
                dataset="OAM-TCD holdout test",
                source="docs table",
                note="SegFormer-b5",
            ),
            Headline(
                metric="mAP50",
                value=43.22,
                dataset="OAM-TCD holdout test",
                source="docs table",
                note="Mask R-CNN R50",
            ),
        ),
    ),
)

_BY_ID: dict[str, Paper] = {p.id: p for p in PAPERS}


def paper(paper_id: str) -> Paper:
    """The paper with id ``paper_id`` (case and surrounding spaces are ignored).

    Raises:
        UnknownSystemError: (a ``KeyError``) if no paper has this id; the message suggests
            the closest ids.
    """
    key = paper_id.strip().lower()
    try:
        return _BY_ID[key]
    except KeyError:
        close = difflib.get_close_matches(key, list(_BY_ID), n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        known = ", ".join(_BY_ID)
        raise UnknownSystemError(f"unknown paper {paper_id!r}.{hint} Known: {known}") from None


def search(text: str) -> list[Paper]:
    """Papers whose id, title, authors, summary, tasks or datasets contain ``text``.

    The match is case-insensitive; with several words, every word must occur (anywhere in
    those fields). An empty query returns every paper. Results keep the collection order.
    """
    words = text.lower().split()
    return [p for p in PAPERS if all(w in p.searchable_text() for w in words)]
