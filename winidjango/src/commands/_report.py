"""What an import did: rows in, rows kept, objects written, time per step."""

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
    Model counts are keyed by ``Model._meta.label`` (``"app.Model"``); deleted
    counts include rows removed by cascades.

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
    already_saved: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    deletion_skipped: bool = False
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
        if any(self.already_saved.values()):
            lines.append(f"  already saved, left as is: {_counts(self.already_saved)}")
        if self.deleted:
            lines.append(f"  deleted: {_counts(self.deleted)}")
        if self.deletion_skipped:
            lines.append("  deletion skipped: not confirmed")
        timings = ", ".join(f"{step} {secs:.3f}" for step, secs in self.seconds.items())
        lines.append(f"  seconds: {timings or 'none'}")
        return lines
