"""What an import did: rows in, rows kept, rows written per model, time per step."""

from dataclasses import dataclass, field


def _counts(counts: dict[str, int]) -> str:
    if not counts:
        return "none"
    return ", ".join(f"{label} {count}" for label, count in counts.items())


@dataclass
class ImportReport:
    """The outcome of one run of an import command.

    The command prints it at the end and keeps it as ``command.report``, so
    that tests and scripts can read the numbers instead of parsing output.
    Model counts are keyed by ``Model._meta.label`` (``"app.Model"``).
    ``created``, ``updated`` and ``unchanged`` count the model's own rows;
    ``deleted`` and ``to_delete`` include rows removed by cascades. In a dry
    run of a sync, the counts are the plan's: what a real run would write.

    Examples:
        >>> command = ImportUsersCommand()  # doctest: +SKIP
        >>> call_command(command, dry_run=True)  # doctest: +SKIP
        >>> command.report.created  # doctest: +SKIP
        {'auth.User': 120, 'users.Profile': 120}
    """

    dry_run: bool = False
    rows_read: int = 0
    rows_kept: int = 0
    created: dict[str, int] = field(default_factory=dict)
    #: Rows whose compared fields changed and were written (with keys).
    updated: dict[str, int] = field(default_factory=dict)
    #: Rows found equal to the data and left untouched (with keys).
    unchanged: dict[str, int] = field(default_factory=dict)
    #: ``{label: {field name: rows that change it}}`` (with keys).
    field_changes: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Given rows that were saved already and not written (without keys).
    already_saved: dict[str, int] = field(default_factory=dict)
    #: What ``--delete`` planned to remove, cascades included.
    to_delete: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    #: Rows not in the imported data but in the source (dropped by the
    #: cleaning): ``--delete`` keeps them.
    kept_broken: dict[str, int] = field(default_factory=dict)
    deletion_skipped: bool = False
    deletion_refused: bool = False
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def rows_dropped(self) -> int:
        """Rows the cleaning removed (empty, duplicate or filtered out)."""
        return self.rows_read - self.rows_kept

    def lines(self) -> list[str]:
        """The report as printable lines.

        Examples:
            >>> ImportReport(rows_read=3, rows_kept=2).lines()[1]
            '  rows read: 3, kept after cleaning: 2'
        """
        title = "Import report"
        if self.dry_run:
            title += " (dry run: nothing was saved)"
        lines = [
            title,
            f"  rows read: {self.rows_read}, kept after cleaning: {self.rows_kept}",
            f"  created: {_counts(self.created)}",
        ]
        if any(self.updated.values()) or any(self.unchanged.values()):
            lines.append(f"  updated: {_counts(self.updated)}")
            lines.append(f"  unchanged: {_counts(self.unchanged)}")
        for label, changes in self.field_changes.items():
            lines.append(f"  changed fields of {label}: {_counts(changes)}")
        if any(self.already_saved.values()):
            lines.append(f"  already saved, left as is: {_counts(self.already_saved)}")
        if self.dry_run and self.to_delete and not self.deleted:
            lines.append(f"  would delete: {_counts(self.to_delete)}")
        if self.deleted:
            lines.append(f"  deleted: {_counts(self.deleted)}")
        kept = {label: n for label, n in self.kept_broken.items() if n}
        if kept:
            lines.append(
                "  kept (in the source but dropped by the cleaning, so not "
                f"deleted): {_counts(kept)}"
            )
        if self.deletion_skipped:
            lines.append("  deletion skipped: not confirmed")
        timings = ", ".join(f"{step} {secs:.3f}" for step, secs in self.seconds.items())
        lines.append(f"  seconds: {timings or 'none'}")
        return lines
