"""Exports of one trust's assessment, for members of that trust only.

- the workbook (XLSX): scores, the anonymous rating spread, consensus, evidence, benchmarks, the
  action plan and the framework version (`workbook.py`);
- the consensus ratings (CSV), the framework version on every row (`csv_export.py`);
- the board report (PDF, A4), ready for a board pack (`pdf.py`).

What they share lives in `subject.py`: the assessment with its trust, cycle and framework version
(`Subject`), the file names, and the parts other features own (the action plan, the BAF risk).
docs/exports.md describes what each export holds.
"""
