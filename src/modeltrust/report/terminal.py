"""The report a person reads in a terminal: a findings table, a per-file summary, a verdict."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from modeltrust.findings import ScanResult, Severity
from modeltrust.report.interface import GROUP_EXAMPLES, grouped, human_size, more

STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def _findings_table(result: ScanResult) -> Table:
    table = Table(title="Findings", title_justify="left", expand=True, show_lines=False)
    table.add_column("Severity", no_wrap=True)
    table.add_column("Rule", no_wrap=True)
    table.add_column("Where", overflow="fold", ratio=2)
    table.add_column("What", overflow="fold", ratio=4)
    ordered = sorted(result.findings, key=lambda f: (-f.severity, f.location.display_path))
    for group in grouped(ordered, key=lambda f: (f.severity, f.rule_id)):
        f = group[0]
        if len(group) == 1:
            where, what = escape(str(f.location)), Text.assemble((f.title, "bold"), "\n", f.message)
        else:
            # 10,000 unknown .bin files are one row, not 10,000: a count and a few examples.
            examples = [escape(str(g.location)) for g in group[:GROUP_EXAMPLES]]
            where = "\n".join([*examples, more(len(examples), len(group))]).rstrip()
            what = Text.assemble(
                (f"{f.title} ({len(group):,} findings)", "bold"),
                "\n",
                f"e.g. {f.message}",
                ("\nEvery one is listed by -f json and -f sarif.", "dim"),
            )
        table.add_row(
            Text(f.severity.label.upper(), style=STYLE[f.severity]), f.rule_id, where, what
        )
    return table


def _summary(result: ScanResult, fail_on: Severity) -> RenderableType:
    counts = result.severity_counts()
    parts = [Text(f"{n} {s.label}", style=STYLE[s] if n else "dim") for s, n in counts.items()]
    line = Text(", ").join(parts)
    failed = result.at_or_above(fail_on)
    files = len(result.files)
    scanned = f"{files} file{'s' if files != 1 else ''} scanned in {result.duration_s:.2f} s"
    code = sum("python" in f.formats for f in result.files)
    notes = []
    if code:
        notes.append(
            Text(
                f"{code} Python file{'s' if code != 1 else ''}: code that runs if imported "
                "(analysed statically; review before trust_remote_code=True)",
                style="yellow",
            )
        )
    if failed:
        verdict = Text(
            f"FAIL: {len(failed)} finding(s) at or above {fail_on.label}", style="bold red"
        )
    elif result.findings:
        verdict = Text(f"PASS: nothing at or above {fail_on.label}", style="bold green")
    else:
        verdict = Text("PASS: no findings; every file was fully analysed", style="bold green")
    return Panel(Group(Text(scanned), line, *notes, verdict), title="modeltrust scan", expand=True)


def render_terminal(result: ScanResult, console: Console, *, fail_on: Severity) -> None:
    if result.findings:
        console.print(_findings_table(result))
    files = Table(title="Files", title_justify="left", expand=True)
    files.add_column("File", overflow="fold", ratio=4)
    files.add_column("Format", ratio=2)
    files.add_column("Size", justify="right")
    files.add_column("Worst", no_wrap=True)
    worst: dict[str, Severity] = {}
    for f in result.findings:
        path = f.location.path
        worst[path] = max(worst.get(path, f.severity), f.severity)
    for scanned in result.files:
        sev = worst.get(scanned.path)
        files.add_row(
            escape(scanned.path),
            ", ".join(scanned.formats) or "-",
            human_size(scanned.size),
            Text(sev.label if sev is not None else "clean", style=STYLE[sev] if sev else "green"),
        )
    if len(result.files) <= 50:
        console.print(files)
    console.print(_summary(result, fail_on))
