"""The metrics package stays light: importing it never imports torch."""

from __future__ import annotations

import subprocess
import sys


def test_metrics_import_without_torch() -> None:
    code = (
        "import sys\n"
        "import geoneurips.metrics as m\n"
        "from geoneurips.metrics import confusion, geodesic, image, ranking, regression\n"
        "assert m.__doc__ and 'ranking' in m.__doc__\n"
        "heavy = [k for k in ('torch', 'torchmetrics', 'sklearn', 'skimage') if k in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
