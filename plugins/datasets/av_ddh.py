"""``av_ddh``: radiographs with the acetabular index measured on each hip and no landmarks (the AV-DDH layout:
``data.xlsx`` beside ``raw/<File Number>.jpg|png``); measure-level truth for ``test_datasets:``. Detected by a
``data.xlsx``; reads no single annotation file and is not written."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from hipbench.data.formats import DatasetFormat
from hipbench.data.measure_truth import MeasureDataset, read_measure_table


class AvDdh(DatasetFormat):
    name = "av_ddh"
    expects = "a data.xlsx measure table"

    def load(self, root: str | Path, table: str = "data.xlsx", images: str = "raw", sides: str = "patient",
             columns: Mapping[str, Any] | None = None, sheet: int | str = 0, patient_regex: str | None = None,
             on_error: str = "fail", name: str = "av_ddh") -> MeasureDataset:
        """The images of ``root/images`` with their per-hip measured values from ``root/table``.

        The source's ``Rt``/``Lt`` columns are the patient's sides (``sides: patient``, the default): the right
        hip's value goes to the image-left hip. ``sides: image`` reads them as image sides. ``columns`` names the
        columns when their headers are not the AV-DDH ones: ``{id: COLUMN, ddh: COLUMN, ai: {right: COLUMN, left:
        COLUMN}}``, and any other continuous measure the same way. Reading ``.xlsx`` needs openpyxl (``pip install
        "hipbench[xlsx]"``); a ``.csv`` table needs nothing more. See :mod:`hipbench.data.measure_truth`.

        Examples:
            >>> import tempfile
            >>> from PIL import Image
            >>> root = Path(tempfile.mkdtemp()); (root / "raw").mkdir()
            >>> Image.new("L", (40, 30)).save(root / "raw" / "1001.png")
            >>> _ = (root / "data.csv").write_text("File Number,Rt Acetabular Index in Degrees,"
            ...                                    "Lt Acetabular Index in Degrees,DDH\\n1001,31.5,22,right ddh\\n")
            >>> ds = av_ddh(root, table="data.csv")
            >>> ds[0].meta["measured"], ds[0].meta["ddh_image_sides"], ds.schema.num_keypoints
            ({'ai': [31.5, 22.0]}, ['left'], 0)
        """
        return read_measure_table(root, table=table, images=images, sides=sides, columns=columns, sheet=sheet,
                                  patient_regex=patient_regex, on_error=on_error, name=name)

    def detect(self, root: Path) -> float:
        return 60.0 if (root / "data.xlsx").is_file() else 0.0


av_ddh = AvDdh()
