"""Errors of the import: the file as a whole, or the mapping, cannot be used.

None of these is raised for a bad row: a bad row is reported in the run's report
with its line number, and the other rows go on.

ImportProblem
 ├── UnreadableFile   the file cannot be read in the chosen format (``reason``)
 ├── InvalidMapping   the column mapping cannot produce a company or a person
 └── NoSuchImport     an upload, a run or a preset that is not there (or not yours)
"""

from __future__ import annotations


class ImportProblem(Exception):
    code = "import_error"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnreadableFile(ImportProblem):
    code = "unreadable_file"


class InvalidMapping(ImportProblem):
    code = "invalid_mapping"


class NoSuchImport(ImportProblem):
    code = "no_such_import"
