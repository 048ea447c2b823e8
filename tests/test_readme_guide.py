"""README's set-up block and 10-minute guide: the test command CI runs is there, every guide command
parses with the real command line, and every repository file a command names exists. (The guide's
commands were run as written when it was written; the bring-your-own section is run by
tests/test_readme_byo.py.)"""
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def guide_commands():
    text = README.read_text()
    sec = text[text.index("## A 10-minute guide"):text.index("## Bring your own model and data")]
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", sec, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.strip().startswith("#"):
                lines.append(shlex.split(line, comments=True))
    return lines


def test_readme_opens_with_the_two_setup_commands():
    first = re.search(r"```bash\n(.*?)```", README.read_text(), re.S).group(1).splitlines()
    assert [ln.rsplit("#", 1)[1].strip() for ln in first] == ["main job", "tests"]
    assert first[0].split("#")[0].rstrip().endswith("&& optics4f")
    assert "python -m pytest" in first[1]


def test_guide_has_every_step():
    verbs = [argv[1] for argv in guide_commands()]
    for verb in ("simulate", "export", "inspect", "calibrate", "tolerance"):
        assert verb in verbs, verb


@pytest.mark.parametrize("argv", guide_commands(), ids=lambda a: " ".join(a[1:4]))
def test_guide_command_parses(argv, capsys):
    from nets.cli import build_parser

    assert argv[0] == "optics4f"
    args = build_parser().parse_args(argv[1:])  # a renamed flag or command exits 2 here
    assert args.command == argv[1]
    for word in argv[2:]:
        if word.startswith(("nets/", "examples/")):
            assert (ROOT / word).is_file(), word
